import { VigilError } from './util/errors';
import { commandKeyBytes } from './command-signature';
import { REPORT_INTERVAL_MAX_SEC, REPORT_INTERVAL_MIN_SEC } from './interval-bounds';

/**
 * The agent's settings. On the camera they are the ACAP parameters declared in manifest.json (all strings);
 * in the simulator they come from the profile and the CLI. Names here are the parameter names.
 */
export interface AgentConfig {
  brokerConf: {
    host: string;
    port: number;
    tls: boolean;
    caFile?: string;
    certFile?: string;
    keyFile?: string;
    serverName?: string;
    /** Off only for a lab; verification is on by default. */
    tlsVerify: boolean;
    username?: string;
    password?: string;
    /** Defaults to the camera's serial once known. */
    clientId?: string;
    keepaliveSec: number;
    /** 4 = MQTT 3.1.1 (default), 5 = MQTT 5 (message expiry, content type, user properties). */
    protocolLevel: 4 | 5;
    /** Cap of the reconnect backoff after a lost connection or a failed attempt. */
    reconnectMaxSec: number;
  };
  topicPrefix: string;
  reportEverySec: number;
  vapixConf: {
    host: string;
    port: number;
    username?: string;
    password?: string;
    timeoutMs: number;
  };
  /** Where the agent keeps its state (baseline, outbox, counters): `localdata/` on the camera. */
  dataDir: string;
  /** Where the socket tables live: /proc/net on a device. */
  procNetDir: string;
  fileScan: {
    /** Files and directories (walked recursively) that make up the baseline. */
    paths: string[];
    maxFiles: number;
    /** Hash rate cap, so video is never starved; 0 = uncapped. */
    hashBytesPerSec: number;
  };
  maxReportBytes: number;
  outboxConf: {
    /** Bounds of the queue on flash; the oldest report is dropped (and counted) past either. */
    maxReports: number;
    maxBytes: number;
    /** Replay pacing after a reconnect: reports awaiting PUBACK at once, and reports per second. */
    inflight: number;
    perSec: number;
  };
  /** MQTT 5 message expiry of reports, seconds; 0 = none. */
  messageExpirySec: number;
  /**
   * The fleet's command-signing public key (P-256 SPKI DER in base64, as `vigil fleet keygen` prints it); '' = none,
   * and then commands run unsigned as before (anyone who may publish on cmd/ may run them: the broker's ACL is all).
   */
  commandKey: string;
}

export const CONFIG_DEFAULTS: Record<string, string> = {
  BrokerHost: '',
  BrokerPort: '1883',
  BrokerTls: 'no',
  BrokerTlsVerify: 'yes',
  KeepaliveSec: '60',
  TopicPrefix: 'vigil/v1',
  IntervalSec: '300',
  VapixHost: '127.0.0.12',
  VapixPort: '80',
  VapixTimeoutMs: '5000',
  DataDir: '/usr/local/packages/vigil/localdata',
  ProcNetDir: '/proc/net',
  IntegrityPaths: '/bin,/sbin,/usr/bin,/usr/sbin,/etc/init.d,/etc/passwd,/etc/shadow,/etc/group',
  IntegrityMaxFiles: '4000',
  HashBytesPerSec: '4194304',
  MaxReportBytes: '65536',
  MqttVersion: '3.1.1',
  ReconnectMaxSec: '60',
  // 30 minutes of outage at a 10 s interval is 180 reports: twice that fits.
  OutboxMaxReports: '360',
  OutboxMaxBytes: '8388608',
  ReplayInflight: '8',
  ReplayPerSec: '10',
  MessageExpirySec: '0',
  CommandKey: '',
};

/** Parses the host's string parameters; throws one error that lists every bad parameter. */
export const parseConfig = (raw: Record<string, string>): AgentConfig => {
  const { config, problems } = checkConfig(raw);
  const all = Object.values(problems);
  if (all.length > 0) throw new VigilError('config', 'EINVAL', all.join('; '));
  return config;
};

/**
 * The config and, per bad parameter, what is wrong with it (a fallback value stands in for each), so a
 * caller can keep the previous good value of just that parameter (settings.ts).
 */
export const checkConfig = (raw: Record<string, string>): { config: AgentConfig; problems: Record<string, string> } => {
  const problems: Record<string, string> = {};
  const bad = (name: string, message: string) => {
    problems[name] = problems[name] ? `${problems[name]}; ${message}` : message;
  };
  const get = (name: string): string => {
    const v = raw[name];
    return (typeof v === 'string' ? v : (CONFIG_DEFAULTS[name] ?? '')).trim();
  };
  const optional = (name: string): string | undefined => get(name) || undefined;
  const int = (name: string, min: number, max: number): number => {
    const text = get(name);
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) {
      bad(name, `${name} must be an integer from ${min} to ${max}, got "${text}"`);
      return Number(CONFIG_DEFAULTS[name] ?? min);
    }
    return n;
  };
  const bool = (name: string): boolean => {
    const text = get(name).toLowerCase();
    if (/^(yes|true|1|on)$/.test(text)) return true;
    if (/^(no|false|0|off|)$/.test(text)) return false;
    bad(name, `${name} must be yes or no, got "${text}"`);
    return false;
  };

  const brokerHost = get('BrokerHost');
  if (!brokerHost) bad('BrokerHost', 'BrokerHost is required');
  const topicPrefix = get('TopicPrefix').replace(/\/+$/, '');
  if (!topicPrefix || /[#+]/.test(topicPrefix)) bad('TopicPrefix', `TopicPrefix must be a topic without wildcards, got "${topicPrefix}"`);
  const integrityPaths = get('IntegrityPaths')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  for (const p of integrityPaths) if (p[0] !== '/') bad('IntegrityPaths', `IntegrityPaths entries must be absolute, got "${p}"`);
  const dataDir = get('DataDir').replace(/\/+$/, '');
  const mqttVersion = get('MqttVersion');
  const protocolLevel = mqttVersion === '5' || mqttVersion === '5.0' ? 5 : 4;
  if (!/^(3\.1\.1|4|5|5\.0)$/.test(mqttVersion)) bad('MqttVersion', `MqttVersion must be 3.1.1 or 5, got "${mqttVersion}"`);
  if (dataDir[0] !== '/') bad('DataDir', `DataDir must be absolute, got "${dataDir}"`);
  const commandKey = get('CommandKey').replace(/-----(BEGIN|END) PUBLIC KEY-----|\s+/g, '');
  // 91 bytes: the SPKI of an uncompressed P-256 point; the host checks the curve when it verifies.
  if (commandKey && (commandKeyBytes(commandKey) || []).length !== 91) {
    bad('CommandKey', `CommandKey must be a P-256 public key in base64 (SPKI DER, as \`vigil fleet keygen\` prints it), got "${commandKey.slice(0, 16)}…"`);
  }

  const config: AgentConfig = {
    brokerConf: {
      host: brokerHost,
      port: int('BrokerPort', 1, 65535),
      tls: bool('BrokerTls'),
      caFile: optional('BrokerCaFile'),
      certFile: optional('BrokerCertFile'),
      keyFile: optional('BrokerKeyFile'),
      serverName: optional('BrokerServerName'),
      tlsVerify: bool('BrokerTlsVerify'),
      username: optional('BrokerUsername'),
      password: optional('BrokerPassword'),
      clientId: optional('ClientId'),
      keepaliveSec: int('KeepaliveSec', 5, 3600),
      protocolLevel,
      reconnectMaxSec: int('ReconnectMaxSec', 1, 3600),
    },
    topicPrefix,
    reportEverySec: int('IntervalSec', REPORT_INTERVAL_MIN_SEC, REPORT_INTERVAL_MAX_SEC),
    vapixConf: {
      host: get('VapixHost'),
      port: int('VapixPort', 1, 65535),
      username: optional('VapixUsername'),
      password: optional('VapixPassword'),
      timeoutMs: int('VapixTimeoutMs', 100, 120000),
    },
    dataDir,
    procNetDir: get('ProcNetDir').replace(/\/+$/, ''),
    fileScan: {
      paths: integrityPaths,
      maxFiles: int('IntegrityMaxFiles', 1, 100000),
      hashBytesPerSec: int('HashBytesPerSec', 0, 1 << 30),
    },
    maxReportBytes: int('MaxReportBytes', 4096, 1 << 24),
    outboxConf: {
      maxReports: int('OutboxMaxReports', 1, 100000),
      maxBytes: int('OutboxMaxBytes', 65536, 1 << 30),
      inflight: int('ReplayInflight', 1, 100),
      perSec: int('ReplayPerSec', 1, 1000),
    },
    messageExpirySec: int('MessageExpirySec', 0, 2147483647),
    commandKey,
  };
  return { config, problems };
};
