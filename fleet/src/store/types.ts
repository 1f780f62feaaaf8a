/**
 * The fleet store: latest state per camera, history with retention, quarantine, alerts and their outbox. Two
 * implementations, SQLite (store/sqlite.ts, one consumer, embedded) and PostgreSQL (store/postgres.ts, any number
 * of consumers sharing a subscription), held to one contract (fleet/test/store-contract.ts).
 *
 * Every method is asynchronous and atomic on its own: there is no transaction left open between calls. The
 * decisions that must hold across consumers (duplicate, seq gap, out of order, stale will, alert transitions) are
 * made inside the store's transaction with the camera's row locked (store/decide.ts is the one decision code
 * both stores run), never from a process's memory.
 */
import type { RefusalReason } from './forgery';

export type Connection = 'online' | 'offline' | 'lost' | 'unknown';

/** What the store keeps of a camera, except its newest report's text. */
export interface CameraState {
  serial: string;
  /** Identity so far (model, hardwareId): kept when a report does not say; a report that disagrees is refused (forgery.ts). */
  model: string | null;
  hardwareId: string | null;
  fullName: string | null;
  osVersion: string | null;
  connection: Connection;
  session: number | null;
  stateAt: string | null;
  stateReason: string | null;
  lastReportId: string | null;
  lastSeq: number | null;
  lastSentAt: string | null;
  /** The newest report's `health.startedAt`: a lower seq with a later start is a fresh agent (seq reset). */
  lastStartedAt: string | null;
  /** When the newest report counts as received (ms): receipt time, or sentAt for a retained replay. */
  lastReportMs: number | null;
  intervalSec: number | null;
  reports: number;
  duplicates: number;
  /** Seq ranges missing now (the rows of `gaps`): a late report that fills one takes it away. */
  gaps: number;
  outOfOrder: number;
  /** Reports refused as forged (store/forgery.ts). */
  refused: number;
  /** The last identity claimed by a refused report (claimText JSON) and when: an identity-mismatch alert. */
  identityClaim: string | null;
  identityClaimMs: number | null;
  firstSeenMs: number;
  /** Decommissioned (`vigil fleet retire`): when, and why. Written only by setRetired. */
  retiredMs: number | null;
  retiredReason: string | null;
}

export interface CameraRecord extends CameraState {
  /** The newest report as received (JSON text). */
  reportJson: string | null;
}

export interface HistoryRow {
  serial: string;
  reportId: string;
  seq: number;
  sentAt: string;
  receivedMs: number;
  osVersion: string;
  findings: number;
  hardeningScore: number | null;
  integrity: string;
  support: string;
  advisories: number;
  queueDepth: number;
  heapUsedBytes: number;
  dropped: number;
}

export interface StateRow {
  serial: string;
  receivedMs: number;
  state: string;
  reason: string | null;
  session: number;
  at: string;
  /** True when the message was ignored as older than the current session. */
  stale: boolean;
}

export interface GapRow {
  serial: string;
  fromSeq: number;
  toSeq: number;
  detectedMs: number;
}

export interface EventRow {
  serial: string;
  eventId: string;
  receivedMs: number;
  kind: string;
  json: string;
}

export interface QuarantineRow {
  id?: number;
  receivedMs: number;
  topic: string;
  serial: string | null;
  reason: string;
  size: number;
  /** The first bytes of the payload, as text, for a human to look at. */
  excerpt: string;
}

/** One validated message for the store to decide on and write; a batch keeps arrival order per camera. */
export type IngestItem = ReportItem | StateItem | EventItem | QuarantineItem;

export interface ReportItem {
  kind: 'report';
  serial: string;
  nowMs: number;
  /** The history row (receivedMs already chosen: receipt, or sentAt for a retained replay). */
  history: HistoryRow;
  startedAt: string;
  model: string | null;
  hardwareId: string | null;
  fullName: string | null;
  intervalSec: number;
  /** Where it came from, for the quarantine row of a refused report (default `<serial>/report`). */
  topic?: string;
  /** The report as received: becomes the camera's reportJson when it is the newest. */
  text: string;
}

export interface StateItem {
  kind: 'state';
  serial: string;
  nowMs: number;
  state: 'online' | 'offline' | 'lost';
  reason: string | null;
  session: number;
  at: string;
}

export interface EventItem {
  kind: 'event';
  serial: string;
  nowMs: number;
  eventId: string;
  eventKind: string;
  json: string;
}

export interface QuarantineItem {
  kind: 'quarantine';
  row: QuarantineRow;
}

export type SeqGap = { fromSeq: number; toSeq: number };

/** What the store decided for one item, in the batch's order; `camera` is the camera after the item. */
export type IngestOutcome =
  | { kind: 'report'; result: 'stored'; camera: CameraState; gap: SeqGap | null; outOfOrder: boolean; becameLatest: boolean; reset: boolean }
  | { kind: 'report'; result: 'duplicate'; camera: CameraState }
  /** Refused as forged (store/forgery.ts), quarantined; camera null when it was not known before. */
  | { kind: 'report'; result: 'refused'; reason: RefusalReason; detail: string; camera: CameraState | null }
  | { kind: 'state'; result: 'stored' | 'stale'; camera: CameraState }
  | { kind: 'event'; result: 'stored' | 'duplicate' }
  | { kind: 'quarantine'; result: 'quarantined' };

/** One alert condition of one camera (alerts/engine.ts): active now, or cleared and remembered for the quiet period. */
export interface AlertConditionRow {
  serial: string;
  /** e.g. `lost`, `advisory:ACV-2024-0001`, `finding:telnet-listening`. */
  condition: string;
  active: boolean;
  /** When it became active (this time). */
  sinceMs: number;
  /** When it cleared; null while active. */
  clearedMs: number | null;
  /** Whether this activation raised an alert (not when it came back within the quiet period). */
  alerted: boolean;
}

export interface AlertRow {
  id: string;
  serial: string;
  kind: string;
  condition: string;
  severity: string;
  raisedMs: number;
  /** The alert payload as sent (schemas/alert.schema.json), byte for byte: webhooks sign this text. */
  json: string;
}

/** What the alert engine decided for one camera against its stored conditions. */
export interface AlertChange {
  puts: AlertConditionRow[];
  deletes: string[];
  alerts: AlertRow[];
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One alert to one sink (`webhook:<url>`, `mqtt`): the durable outbox the dispatcher works through. */
export interface DeliveryRow {
  id: number;
  alertId: string;
  sink: string;
  status: DeliveryStatus;
  attempts: number;
  /** When the next attempt is due (pending), ms. */
  nextMs: number;
  lastError: string | null;
  /** When it was delivered or given up. */
  doneMs: number | null;
}

/** Rows another process changed (PostgreSQL LISTEN/NOTIFY): what a consumer re-reads to keep its view whole. */
export interface StoreChange {
  cameras: string[];
  events: Array<{ serial: string; eventId: string }>;
}

export interface FleetStore {
  /** `sqlite` or `postgres`, for logs and /metrics. */
  readonly kind: string;
  readonly schemaVersion: number;
  /**
   * Decides and writes a batch in one transaction, each camera's row locked for its duration: a report is a
   * duplicate when its (serial, reportId) is stored, else it may open a gap, fill one (out of order), or follow
   * a seq reset; a state from an older session is stale. Returns one outcome per item, in order. Throws (nothing
   * written) when the store fails.
   */
  ingest(items: IngestItem[]): Promise<IngestOutcome[]>;
  loadCameras(): Promise<CameraRecord[]>;
  /** The given cameras as stored now (after another consumer changed them). */
  camerasOf(serials: string[]): Promise<CameraRecord[]>;
  /** Marks a camera retired (ms) or back in service (null); false when the camera is unknown. */
  setRetired(serial: string, retiredMs: number | null, reason: string | null): Promise<boolean>;
  /** Stores one quarantined message on its own (outside a batch: an internal error). */
  quarantine(q: QuarantineRow): Promise<void>;
  quarantined(limit: number): Promise<QuarantineRow[]>;
  history(serial: string, limit: number): Promise<HistoryRow[]>;
  states(serial: string, limit: number): Promise<StateRow[]>;
  gaps(serial: string): Promise<GapRow[]>;
  events(serial: string, limit: number): Promise<EventRow[]>;
  event(serial: string, eventId: string): Promise<EventRow | null>;
  /** The newest events of every camera, newest first. */
  recentEvents(limit: number): Promise<EventRow[]>;
  /** Every camera's alert conditions (active and recently cleared). */
  alertConditions(): Promise<AlertConditionRow[]>;
  /**
   * Read-decide-write of one camera's alert conditions under its row lock: `decide` gets the stored conditions and
   * returns what changes (or null); alerts are stored with one pending delivery per sink, due at nowMs. Returns
   * what was written, or null.
   */
  updateAlerts(serial: string, decide: (stored: AlertConditionRow[]) => AlertChange | null, sinks: string[], nowMs: number): Promise<AlertChange | null>;
  /** The newest alerts first; of one camera when serial is given. */
  alerts(limit: number, serial?: string): Promise<AlertRow[]>;
  deliveriesOf(alertId: string): Promise<DeliveryRow[]>;
  /**
   * Claims up to `limit` pending deliveries due at nowMs, oldest first, with their alert's JSON: each is pushed to
   * nowMs + leaseMs so no other consumer takes it meanwhile (a crash mid-delivery retries it after the lease).
   */
  claimDeliveries(nowMs: number, limit: number, leaseMs: number): Promise<Array<DeliveryRow & { json: string }>>;
  /** When the earliest pending delivery is due; null when none is pending. */
  nextDeliveryMs(): Promise<number | null>;
  updateDelivery(d: Pick<DeliveryRow, 'id' | 'status' | 'attempts' | 'nextMs' | 'lastError' | 'doneMs'>): Promise<void>;
  deliveryCounts(): Promise<Record<DeliveryStatus, number>>;
  /** Deletes history, states, events, gaps, quarantine, and settled alerts and deliveries older than cutoffMs; returns rows deleted. */
  prune(cutoffMs: number): Promise<number>;
  /**
   * Tells of what other processes wrote (PostgreSQL: LISTEN/NOTIFY). A store only one process writes (SQLite)
   * never calls the listener.
   */
  watch(listener: (change: StoreChange) => void): Promise<void>;
  close(): Promise<void>;
}
