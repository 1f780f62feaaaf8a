/**
 * The agent's MQTT session: one connection at a time to the configured broker (one MqttClient each), its
 * will and birth on `state`, reconnects with backoff, and the detection of a duplicate client id.
 *
 * `state` is retained: `online` after each CONNACK, `offline` published before a planned stop (the will is
 * not sent on a clean DISCONNECT), `lost` as the last will; each carries the per-connection session counter
 * so a consumer can tell a stale will from a live camera.
 *
 * Reconnects: exponential backoff with full jitter up to ReconnectMaxSec after a lost connection or a
 * failed attempt. A refused CONNACK (bad credentials, not authorized…) backs off longer, 30–60 s doubling up
 * to 7.5–15 min (equal jitter), and is logged once: retrying a wrong password every second only fills the
 * broker's log. A connection the broker keeps closing right after accepting it is logged once as what it may
 * be (another client with this id, or an ACL/quota) and backed off the same way; an MQTT 5 "session taken
 * over" is a duplicate client id for certain. reconnectNow() (settings changed: new credentials, broker,
 * MqttVersion) drops any wait and connects at once with the current config. Keepalive notices half-open
 * connections, and a PUBACK or SUBACK that never comes ends the session (client.ts).
 */
import type { Host } from '../host';
import type { AgentConfig } from '../config';
import { areaLog, type Log } from '../log';
import { errorCode, errorDetail, ignore } from '../util/errors';
import { isoNow } from '../util/time';
import { createMqttClient, type MqttClient, type CloseReason, type ConnackError, type MessageInfo } from './client';
import type { Properties } from './codec';
import type { DeviceTopics } from './topics';

const BACKOFF_BASE_MS = 1_000;
/** After a refused CONNACK or a detected duplicate client id: minutes, not seconds. */
const LONG_BACKOFF_BASE_MS = 60_000;
const LONG_BACKOFF_CAP_MS = 15 * 60_000;
/** A session the broker ends sooner than this after CONNACK is "short"; three in a row = duplicate client id. */
const SHORT_SESSION_MS = 15_000;
const SHORT_SESSIONS_FOR_DUPLICATE = 3;
const STOP_PUBLISH_TIMEOUT_MS = 3_000;
const CONNECT_TIMEOUT_MS = 10_000;

export type StateName = 'online' | 'offline' | 'lost';

/** What the session needs from the agent around it. */
export interface SessionDeps {
  host: Host;
  agentConf: AgentConfig;
  agentVer: string;
  log: Log;
  /** The persisted counters: a session number is reserved in `session` (and saved) before each attempt. */
  counters: { session: number };
  save(): Promise<void>;
  /** True once the agent is stopping: no new connection, no reconnect. */
  stopping(): boolean;
  /** The camera's serial and topics: null until a cycle learns the serial (no connection before). */
  serialNow(): string | null;
  topics(): DeviceTopics | null;
  /** A connection was accepted at `at` (monotonic ms); called before the birth. */
  onOpen(at: number): void;
  /** The birth is done (or failed): queued messages may go. */
  onReady(): void;
  /** The current connection ended. */
  onClose(): void;
  onMessage(client: MqttClient, topic: string, payload: Uint8Array, info: MessageInfo): void;
}

export interface MqttSession {
  /** The client of the current connection; null before the first and after a lost one. */
  readonly client: MqttClient | null;
  readonly connected: boolean;
  /** Connections accepted after the first one (the report's health.reconnects). */
  readonly reconnects: number;
  /** Connects unless connected, connecting, waiting to reconnect, stopping, or without a serial yet. */
  ensureConnected(): void;
  publishState(client: MqttClient, state: StateName, reason: string): Promise<void>;
  /** For a planned stop: says offline (bounded in time) and disconnects. */
  end(): Promise<void>;
  /**
   * The broker settings changed (settings.ts): says offline on the current connection and disconnects
   * cleanly, forgets any backoff (a refused CONNACK's minutes included) and connects with the new settings
   * at once. The offline goes out on the topics of the moment of the call.
   */
  reconnectNow(): Promise<void>;
}

export const createSession = (deps: SessionDeps): MqttSession => {
  const { host, agentConf: config, counters: state } = deps;
  const log = areaLog(deps.log, 'mqtt');
  const clock = host.clock;
  let client: MqttClient | null = null;
  let connected = false;
  let connecting = false;
  /** True while state.session is reserved but no connection has used it yet. */
  let sessionFresh = false;
  let everConnected = false;
  let reconnects = 0;
  let failures = 0;
  let refusals = 0;
  let shortSessions = 0;
  let connectedAt = 0;
  let lastProblem: string | null = null;
  let duplicateLogged = false;
  let reconnectTimer: number | null = null;
  /** Bumped by reconnectNow: an attempt begun before it is dropped, not counted as a failure. */
  let generation = 0;
  /** The client of the attempt under way, so reconnectNow can cut it short. */
  let attempt: MqttClient | null = null;

  const statePayload = (name: StateName, reason: string): string =>
    JSON.stringify({
      state: name,
      reason,
      session: state.session,
      at: isoNow(clock),
      agentVersion: deps.agentVer,
    });

  const publishState = (c: MqttClient, name: StateName, reason: string): Promise<void> =>
    c.publish((deps.topics() as DeviceTopics).state, statePayload(name, reason), {
      qos: 1,
      retain: true,
      props: jsonProperties(),
    });

  const ensureConnected = (): void => {
    if (deps.stopping() || connected || connecting || reconnectTimer !== null || !deps.topics()) return;
    connecting = true;
    const g = generation;
    connect(g)
      .catch((err) => g === generation && onConnectFailed(err))
      .then(() => {
        connecting = false;
        if (g !== generation) ensureConnected();
      });
  };

  const connect = async (g: number): Promise<void> => {
    const topics = deps.topics() as DeviceTopics;
    const serial = deps.serialNow() as string;
    // A session number is used up only by an accepted connection (only then can its will fire); it is
    // saved before the attempt, so a kill right after CONNACK cannot make two connections share it.
    if (!sessionFresh) {
      state.session++;
      sessionFresh = true;
      await deps.save();
    }
    const b = config.brokerConf;
    const v5 = b.protocolLevel === 5;
    const c = createMqttClient(host, {
      // host, port, username, password, keepaliveSec, protocolLevel (a copy: the client may change keepaliveSec)
      ...b,
      tls: b.tls ? { caFile: b.caFile, certFile: b.certFile, keyFile: b.keyFile, serverName: b.serverName, verify: b.tlsVerify } : undefined,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      clientId: b.clientId || serial,
      cleanSession: true,
      // MQTT 5: tell the broker what we accept; nothing the agent receives is large.
      connectProperties: v5 ? { maximumPacketSize: 256 * 1024, receiveMaximum: 16 } : undefined,
      will: {
        topic: topics.state,
        payload: statePayload('lost', 'connection-lost'),
        qos: 1,
        retain: true,
        props: v5 ? jsonProperties() : undefined,
      },
    });
    c.onClose((reason) => onDisconnected(c, reason));
    c.onMessage((topic, payload, info) => deps.onMessage(c, topic, payload, info));
    attempt = c;
    await c.connect().finally(() => (attempt = null));
    if (deps.stopping() || g !== generation) {
      await c.disconnect().catch(ignore);
      return;
    }
    sessionFresh = false;
    client = c;
    connected = true;
    connectedAt = clock.monotonic();
    if (everConnected) reconnects++;
    everConnected = true;
    const failed = failures + refusals;
    log('info', `connected to ${b.host}:${b.port} as ${serial} (session ${state.session})${failed || lastProblem ? ` after ${failed} failed attempts` : ''}`);
    failures = 0;
    refusals = 0;
    lastProblem = null;
    deps.onOpen(connectedAt);
    try {
      await publishState(c, 'online', 'connected');
      const granted = await c.subscribe([{ topic: topics.commands, qos: 1 }]);
      if (granted[0] >= 0x80) log('warn', `the broker refused the subscription to ${topics.commands}: commands will not arrive`);
    } catch (err) {
      // The session ended meanwhile: onDisconnected schedules the next attempt.
      if (c.state === 'open') log('warn', `birth failed: ${errorDetail(err)}`);
    }
    deps.onReady();
  };

  const onConnectFailed = (err: unknown): void => {
    const code = errorCode(err);
    let message = errorDetail(err);
    const rc = (err as ConnackError).returnCode;
    // A 3.1.1-only broker closes an MQTT 5 CONNECT (RabbitMQ 3.10) or refuses its version.
    // (a returnCode before the session is open is a CONNACK's: 1 and 0x84 say "unsupported protocol version")
    const version = config.brokerConf.protocolLevel === 5 && (/^E(CLOSED|CONNRESET|PROTO)$/.test(code) || rc === 1 || rc === 0x84);
    let delay: number;
    if (code === 'ECONNACK') {
      refusals++;
      delay = longBackoff(refusals);
      if (!version) message += "; check BrokerUsername, BrokerPassword and the broker's ACL";
    } else {
      delay = backoff();
      if (code === 'ETLS') message = explainTls(message, config);
    }
    if (version) message += '; a 3.1.1-only broker does that to MQTT 5: set MqttVersion 3.1.1';
    // Logged once per distinct problem (and again every 20th attempt): an outage must not flood syslog.
    const attempts = failures + refusals;
    if (message !== lastProblem || attempts % 20 === 0) {
      // `cannot connect (ECONNREFUSED) to a:1883: …`, not `cannot connect (ECONNREFUSED): cannot connect to a:1883: …`
      const what = `: ${message}`.replace(': cannot connect', '');
      log(code === 'ECONNACK' || code === 'ETLS' ? 'error' : 'warn', `cannot connect (${code})${what}; attempt ${attempts}, next in ${Math.round(delay / 1000)} s`);
    }
    lastProblem = message;
    scheduleReconnect(delay);
  };

  const onDisconnected = (c: MqttClient, reason: CloseReason): void => {
    if (c !== client) return;
    client = null;
    connected = false;
    deps.onClose();
    if (deps.stopping()) return;
    const lived = clock.monotonic() - connectedAt;
    const takenOver = reason.reasonCode === 0x8e;
    const byBroker = /^E(CLOSED|CONNRESET|DISCONNECT)$/.test(reason.code);
    shortSessions = byBroker && lived < SHORT_SESSION_MS ? shortSessions + 1 : 0;
    if (takenOver || shortSessions >= SHORT_SESSIONS_FOR_DUPLICATE) {
      const n = Math.max(1, shortSessions - SHORT_SESSIONS_FOR_DUPLICATE + 1);
      const delay = longBackoff(n);
      if (!duplicateLogged) {
        const clientId = config.brokerConf.clientId || deps.serialNow();
        // A broker closing right after CONNACK may mean a duplicate client id (Mosquitto, RabbitMQ: no reason
        // in 3.1.1) or an ACL or quota that refuses the birth or the subscription; only MQTT 5's 0x8E is sure.
        const why = takenOver
          ? `session taken over: a duplicate client id "${clientId}"`
          : `${shortSessions} connections closed after CONNACK; another client with this id ("${clientId}"), or an ACL/quota`;
        log('error', `${why}; next attempts ${Math.round(delay / 1000)} s apart`);
        duplicateLogged = true;
      }
      scheduleReconnect(delay);
      return;
    }
    if (shortSessions === 0) duplicateLogged = false;
    log('warn', `connection lost (${reason.code}): ${errorDetail(reason.message)}`);
    scheduleReconnect(backoff());
  };

  const scheduleReconnect = (delayMs: number): void => {
    if (deps.stopping() || reconnectTimer !== null) return;
    reconnectTimer = clock.setTimer(delayMs, () => {
      reconnectTimer = null;
      ensureConnected();
    });
  };

  const random = (): number => new Uint32Array(host.crypto.randomBytes(4))[0] / 4294967296;

  /** Counts one more failed or lost connection and returns the wait before the next attempt. */
  const backoff = (): number => backoffDelay(++failures, BACKOFF_BASE_MS, config.brokerConf.reconnectMaxSec * 1000, random());

  /** Minutes, with "equal jitter" (half fixed, half random) so that a long backoff is never short. */
  const longBackoff = (attempt: number): number => {
    const ceiling = Math.min(LONG_BACKOFF_CAP_MS, LONG_BACKOFF_BASE_MS * Math.pow(2, Math.min(attempt - 1, 16)));
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  };

  /** Says offline on the current connection (bounded in time) and disconnects it. */
  const leave = async (c: MqttClient | null, reason: string): Promise<void> => {
    if (reconnectTimer !== null) clock.clearTimer(reconnectTimer);
    reconnectTimer = null;
    if (c && connected) {
      let timer = -1;
      await Promise.race([
        publishState(c, 'offline', reason),
        new Promise((_, reject) => (timer = clock.setTimer(STOP_PUBLISH_TIMEOUT_MS, () => reject(new Error(`timed out after ${STOP_PUBLISH_TIMEOUT_MS} ms`))))),
      ]).catch((err) => log('warn', `could not publish offline before disconnecting: ${errorDetail(err)}`));
      clock.clearTimer(timer);
      await c.disconnect().catch(ignore);
    }
    connected = false;
  };

  const reconnectNow = async (): Promise<void> => {
    generation++;
    failures = refusals = shortSessions = 0;
    lastProblem = null;
    duplicateLogged = false;
    attempt?.disconnect().catch(ignore);
    const c = client;
    // No longer the session's: its close is not a lost connection, and delivery sends nothing more on it.
    client = null;
    if (c && connected) deps.onClose();
    await leave(c, 'reconfigured');
    ensureConnected();
  };

  return {
    get client() {
      return client;
    },
    get connected() {
      return connected;
    },
    get reconnects() {
      return reconnects;
    },
    ensureConnected,
    publishState,
    end: () => leave(client, 'shutdown'),
    reconnectNow,
  };
};

/** MQTT 5 properties of every JSON message the agent publishes; a fresh object, as callers add to it. */
export const jsonProperties = (): Properties => ({ payloadFormatIndicator: 1, contentType: 'application/json' });

/**
 * Exponential backoff with full jitter: uniform in [0, min(cap, base·2^(attempt−1))], `random` in [0, 1).
 */
export const backoffDelay = (attempt: number, baseMs: number, capMs: number, random: number): number => {
  const ceiling = Math.min(capMs, baseMs * Math.pow(2, Math.min(Math.max(attempt, 1) - 1, 20)));
  return Math.round(random * ceiling);
};

/** Says in plain words what a TLS failure usually means; the host's own message is kept. */
export const explainTls = (message: string, config: AgentConfig): string => {
  const b = config.brokerConf;
  const m = message.toLowerCase();
  let hint = '';
  if (/expired|not yet valid|cert_has_expired/.test(m)) hint = "the broker's certificate has expired or is not yet valid (or the camera's clock is wrong)";
  else if (/altname|hostname|host name|ip address mismatch|does not match|wrong name/.test(m))
    hint = `the broker's certificate is not valid for "${b.serverName || b.host}" (set BrokerServerName to the name in the certificate)`;
  else if (/self.signed|unable to (get|verify)|issuer|verify failed|unknown ca|untrusted/.test(m))
    hint = `the broker's certificate is not signed by a trusted CA (${b.caFile ? `BrokerCaFile ${b.caFile}` : 'the system CA store'})`;
  else if (/certificate required|handshake failure|bad certificate|alert/.test(m)) hint = 'the broker refused the TLS handshake (does it require a client certificate? set BrokerCertFile and BrokerKeyFile)';
  else if (/cannot read/.test(m)) hint = 'a TLS file could not be read';
  return hint ? `TLS: ${hint} — ${message}` : message;
};
