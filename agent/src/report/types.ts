/**
 * The report a camera publishes on `<prefix>/<serial>/report`, version 1. The JSON Schema
 * schemas/report.schema.json describes the same shape; tests validate every produced report with ajv.
 * The fleet side imports these types. Change both together and bump REPORT_SCHEMA on a breaking change.
 */

export const REPORT_SCHEMA = 'vigil.report/1';

/** Tri-state for facts a device may not tell us: true, false, or null = unknown. */
export type Maybe<T> = T | null;

export interface CollectorError {
  /** 'device', 'services', 'integrity', 'agent'… */
  collector: string;
  code: string;
  /** Says who is speaking: `[vigil] [services] …`. */
  message: string;
}

export interface DeviceInfo {
  serial: string;
  /** ProdNbr, e.g. "Q3536-LVE". */
  model: Maybe<string>;
  /** ProdFullName, e.g. "AXIS Q3536-LVE Dome Camera". */
  fullName: Maybe<string>;
  brand: Maybe<string>;
  productType: Maybe<string>;
  hardwareId: Maybe<string>;
  soc: Maybe<string>;
  /** armv7hf, aarch64, mips… as basicdeviceinfo says. */
  architecture: Maybe<string>;
  /** Seconds since boot, from /proc/uptime. */
  uptimeSec: Maybe<number>;
}

export interface FirmwareState {
  activeVersion: Maybe<string>;
  /** null when the device keeps no inactive firmware (or says "UNKNOWN"). */
  inactiveVersion: Maybe<string>;
  /** false while an upgrade waits for commit and would roll back. null when not reported. */
  committed: Maybe<boolean>;
  pendingRollback: boolean;
  timeToRollbackSec: Maybe<number>;
  lastUpgradeAt: Maybe<string>;
}

export interface OsInfo {
  /** AXIS OS version, e.g. "12.11.77" or "9.80.3.12". */
  version: string;
  buildDate: Maybe<string>;
  firmware: Maybe<FirmwareState>;
}

export type ServiceState = 'on' | 'off' | 'unknown';

export interface ListeningSocket {
  proto: 'tcp' | 'tcp6' | 'udp' | 'udp6';
  address: string;
  port: number;
}

export interface ServiceEntry {
  /** ssh, ftp, telnet, http, https, rtsp, snmp, upnp, bonjour, ws-discovery, ntp…; or `tcp/8080` for a port no service claims. */
  name: string;
  /** What the parameters say. 'unknown' where no parameter covers the service. */
  configured: ServiceState;
  /** What /proc/net shows listening (TCP LISTEN, UDP bound) for the service's ports. */
  listening: ListeningSocket[];
}

export type Severity = 'low' | 'medium' | 'high';

export interface Finding {
  /** Stable id, e.g. "ssh-enabled", "snmp-v1-v2c", "http-without-https-only". */
  id: string;
  /** The hardening guide control, e.g. "B14", "E5", "Legacy", "Default". */
  control: string;
  severity: Severity;
  summary: string;
  /** The facts behind it: parameter values or listening sockets. */
  evidence: string[];
}

export interface ServicesReport {
  entries: ServiceEntry[];
  findings: Finding[];
  /** True totals, kept when a list had to be truncated to fit the size limit. */
  totalListening: number;
}

export type IntegrityStatus = 'baseline-created' | 'ok' | 'changed' | 'error';

export interface FileChange {
  path: string;
  change: 'changed' | 'added' | 'removed';
  /** SHA-256 before and after, where known. */
  before?: string;
  after?: string;
}

export interface AppInfo {
  name: string;
  niceName: Maybe<string>;
  vendor: Maybe<string>;
  version: Maybe<string>;
  /** Running, Stopped… as list.cgi says. */
  status: Maybe<string>;
  /** SignatureStatus (or SignedStatus) as list.cgi says; the exact values are unconfirmed, so they are passed through. */
  signatureStatus: Maybe<string>;
  /** ApplicationID: Axis's id for a registered app ('' or absent for others). Absent in reports from older agents. */
  applicationId?: Maybe<string>;
  /** License status: Valid, Invalid, Missing, Custom or None (Axis's list.cgi schema). */
  license?: Maybe<string>;
  /** VendorHomePage: the vendor's link as the package declared it. */
  vendorHomePage?: Maybe<string>;
}

export interface PlatformIntegrity {
  /** Facts known per model; VAPIX reports none of them (reference §6), so null = unknown. */
  signedOs: Maybe<boolean>;
  secureBoot: Maybe<boolean>;
  edgeVault: Maybe<boolean>;
}

export interface IntegrityReport {
  status: IntegrityStatus;
  baseline: Maybe<{ createdAt: string; files: number }>;
  changes: FileChange[];
  totalChanges: number;
  platform: PlatformIntegrity;
  apps: AppInfo[];
  /** AllowUnsigned from applications/config.cgi; null when not reported (before AXIS OS 11.2). */
  allowUnsignedApps: Maybe<boolean>;
  /** SHA-256 of the agent's own bundle as its host loaded it. */
  agentBundleSha256: Maybe<string>;
}

export interface AgentHealth {
  agentVersion: string;
  host: string;
  startedAt: string;
  heapUsedBytes: number;
  heapLimitBytes: number;
  /** Reports waiting in the outbox. */
  queueDepth: number;
  /** Reports dropped from the outbox (full) since the agent's state was created. */
  dropped: number;
  oldestQueuedAgeSec: number;
  reconnects: number;
  /** How long collecting this report took. */
  collectMs: number;
  /** Why the previous run ended, when the host restarted the agent. */
  lastExit: Maybe<string>;
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  deviceId: string;
  seq: number;
  reportId: string;
  sentAt: string;
  intervalSec: number;
  device: DeviceInfo;
  os: OsInfo;
  services: ServicesReport;
  integrity: IntegrityReport;
  health: AgentHealth;
  errors: CollectorError[];
}
