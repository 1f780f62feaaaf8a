/**
 * The agent: collects a report every interval, queues it on flash (outbox), keeps an MQTT session to the
 * broker, and delivers the queue paced, each report leaving the outbox only on its PUBACK. Everything it
 * touches goes through the Host.
 *
 * Topics (topics.ts): `<prefix>/<serial>/state` retained: `online` after each CONNACK, `offline` published
 * by the agent before a planned stop, `lost` as the last will; each carries the per-connection session
 * counter so a consumer can tell a stale will from a live camera. `report` QoS 1 (the newest retained),
 * `cmd/+` subscribed (report-now, set-interval, rebaseline, rebirth), `cmd-result` for the replies.
 *
 * Reconnects: exponential backoff with full jitter up to ReconnectMaxSec after a lost connection or a
 * failed attempt; a refused CONNACK backs off for minutes and is logged once; a connection the broker keeps
 * closing right after accepting it (or an MQTT 5 "session taken over") is a duplicate client id, logged as
 * such and backed off for minutes instead of flapping. Keepalive notices half-open connections (client.ts).
 *
 * State (`<dataDir>/state.json`, one small atomic write per report and per new connection): the session
 * counter, the last seq, the dropped counter, the serial, and an interval set by command.
 */
import type { Host, LogLevel } from './host';
import type { AgentConfig } from './config';
import { parseConfig } from './config';
import type { CollectorError, Report } from './report/types';
import { REPORT_SCHEMA } from './report/types';
import { assembleReport, encodeReport } from './report/build';
import { FlashOutbox, type Outbox, type OutboxEntry } from './outbox';
import { MqttClient, type CloseReason } from './mqtt/client';
import type { Properties } from './mqtt/codec';
import { deviceTopics, type DeviceTopics } from './mqtt/topics';
import { VapixClient } from './vapix/vapix';
import type { CollectorContext } from './collectors/context';
import { collectDevice, noDevice } from './collectors/device/device';
import { collectServices, noServices } from './collectors/services/services';
import { collectIntegrity, failedIntegrity, rebaseline } from './collectors/integrity/integrity';
import { readText, toHex, utf8Decode, utf8Encode, writeText } from './util/bytes';
import { errorCode, errorMessage } from './util/errors';
import { COMMAND_MIN_GAP_MS, parseCommand } from './commands';
import { EVENT_SCHEMA, detectEvents, parseSnapshot, type Snapshot } from './events';

const STATE_FILE = 'state.json';
/** What the previous cycle saw, for events (events.ts); written only when it changes. */
const EVENTS_FILE = 'events.json';
const CONFIG_RETRY_MS = 30_000;
const BACKOFF_BASE_MS = 1_000;
/** After a refused CONNACK or a detected duplicate client id: minutes, not seconds. */
const LONG_BACKOFF_BASE_MS = 60_000;
const LONG_BACKOFF_CAP_MS = 15 * 60_000;
/** A session the broker ends sooner than this after CONNACK is "short"; three in a row = duplicate client id. */
const SHORT_SESSION_MS = 15_000;
const SHORT_SESSIONS_FOR_DUPLICATE = 3;
const STOP_PUBLISH_TIMEOUT_MS = 3_000;
const CONNECT_TIMEOUT_MS = 10_000;
const RECENT_COMMANDS = 16;

interface PersistedState {
  /** The last session counter reserved for a connection (the will and birth carry it). */
  session: number;
  /** Last report sequence number used. */
  seq: number;
  /** Reports dropped since the state was created. */
  dropped: number;
  serial?: string;
  /** An interval set by command, valid while the IntervalSec parameter still equals `base`. */
  interval?: { sec: number; base: number };
}

export type StateName = 'online' | 'offline' | 'lost';

interface CommandResult {
  id: string | null;
  command: string;
  ok: boolean;
  code?: string;
  error?: string;
  result?: unknown;
  at: string;
}

class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Agent {
  #config: AgentConfig | null = null;
  #state: PersistedState = { session: 0, seq: 0, dropped: 0 };
  /** True while state.session is reserved but no connection has used it yet. */
  #sessionFresh = false;
  #serial: string | null = null;
  #topics: DeviceTopics | null = null;
  #client: MqttClient | null = null;
  #connected = false;
  #connecting = false;
  #stopping = false;
  #everConnected = false;
  #reconnects = 0;
  #failures = 0;
  #refusals = 0;
  #shortSessions = 0;
  #connectedAt = 0;
  #lastProblem: string | null = null;
  #duplicateLogged = false;
  #cycleTimer: number | null = null;
  #reconnectTimer: number | null = null;
  #pumpTimer: number | null = null;
  #cycleRunning = false;
  #cycleAgain = false;
  #intervalSec = 300;
  #outbox: Outbox | null = null;
  /** Events waiting for their PUBACK: a queue of their own, so they never push reports out (or back). */
  #events: Outbox | null = null;
  #snap: Snapshot | null = null;
  #snapText = '';
  /** Host.info.lastExit is reported once per start, by the first cycle. */
  #restart = true;
  readonly #inflight = new Set<string>();
  /** Published at least once, PUBACK not seen: maybe delivered, so not dropped before the others. */
  readonly #sent = new Set<string>();
  #tokens = 0;
  #tokensAt = 0;
  #lastReportBytes = 0;
  #saveFailing = false;
  readonly #commandLast: Record<string, number> = {};
  readonly #recentResults: CommandResult[] = [];
  readonly #startedAt: string;
  readonly #host: Host;
  /** host.clock, which nearly every method uses: kept apart because the bundle is size-budgeted. */
  readonly #clock: Host['clock'];
  readonly #version: string;

  constructor(host: Host, version: string) {
    this.#host = host;
    this.#clock = host.clock;
    this.#version = version;
    this.#startedAt = this.#iso();
  }

  start(): void {
    this.#boot().catch((err) => this.#log('error', 'agent', `start failed: ${errorMessage(err)}`));
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#clearTimers();
    const client = this.#client;
    if (client && this.#connected) {
      // The will is not sent on a clean DISCONNECT (reference/mqtt.md): say offline ourselves first.
      await withTimeout(this.#clock, this.#publishState(client, 'offline', 'shutdown'), STOP_PUBLISH_TIMEOUT_MS).catch((err) =>
        this.#log('warn', 'mqtt', `could not publish offline before stopping: ${errorMessage(err)}`),
      );
      await client.disconnect().catch(ignore);
    }
    this.#connected = false;
    this.#log('info', 'agent', 'stopped');
  }

  // ---- start-up -----------------------------------------------------------------------------------

  async #boot(): Promise<void> {
    try {
      this.#config = parseConfig(this.#host.config());
    } catch (err) {
      this.#log('error', 'config', `${errorMessage(err)}; retrying in ${CONFIG_RETRY_MS / 1000} s`);
      this.#cycleTimer = this.#clock.setTimer(CONFIG_RETRY_MS, () => {
        this.#cycleTimer = null;
        this.start();
      });
      return;
    }
    const config = this.#config;
    await this.#loadState();
    const outbox = new FlashOutbox(this.#host, config.dataDir, config.outbox, (level, message) => this.#log(level, 'outbox', message));
    await outbox.load();
    outbox.dropped = Math.max(outbox.dropped, this.#state.dropped);
    outbox.busy = (id) => this.#inflight.has(id) || this.#sent.has(id);
    this.#outbox = outbox;
    const events = new FlashOutbox(this.#host, `${config.dataDir}/events`, { maxReports: 32, maxBytes: 1 << 18 }, (level, message) => this.#log(level, 'events', message));
    await events.load();
    events.busy = outbox.busy;
    this.#events = events;
    try {
      this.#snapText = await this.#readData(EVENTS_FILE, 1 << 17);
      this.#snap = parseSnapshot(this.#snapText);
    } catch {
      // none yet (or unreadable): the next cycle only records what it sees
    }
    // A kill between queueing a report and saving the counter leaves the report's seq only on flash.
    this.#state.seq = Math.max(this.#state.seq, outbox.maxSeq);
    const o = this.#state.interval;
    this.#intervalSec = o && o.base === config.intervalSec ? o.sec : config.intervalSec;
    if (this.#state.serial) this.#setSerial(this.#state.serial);
    this.#log('info', 'agent', `vigil ${this.#version} on ${this.#host.info.name}, report every ${this.#intervalSec} s`);
    // Reports queued by an earlier run go out while the first report is being collected.
    if (outbox.depth + events.depth > 0) this.#ensureConnected();
    await this.runCycle();
  }

  async #loadState(): Promise<void> {
    try {
      const p = JSON.parse(await this.#readData(STATE_FILE, 4096)) as Partial<PersistedState>;
      const count = (v: unknown) => (typeof v === 'number' && v >= 0 && v % 1 === 0 ? v : -1);
      if (count(p.session) >= 0 && count(p.seq) >= 0) {
        this.#state = { session: count(p.session), seq: count(p.seq), dropped: Math.max(0, count(p.dropped)) };
        if (typeof p.serial === 'string' && p.serial) this.#state.serial = p.serial;
        const i = p.interval;
        if (i && count(i.sec) >= 1 && count(i.base) >= 1) this.#state.interval = { sec: i.sec, base: i.base };
      } else {
        this.#log('warn', 'agent', `${STATE_FILE} has no valid counters; starting from zero`);
      }
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') this.#log('warn', 'agent', `cannot read ${STATE_FILE}: ${errorMessage(err)}; starting from zero`);
    }
  }

  async #saveState(): Promise<void> {
    const config = this.#config as AgentConfig;
    if (this.#outbox) this.#state.dropped = this.#outbox.dropped;
    try {
      await this.#host.fs.mkdir(config.dataDir);
      await this.#writeData(STATE_FILE, JSON.stringify(this.#state));
      if (this.#saveFailing) this.#log('info', 'agent', `${STATE_FILE} is saved again`);
      this.#saveFailing = false;
    } catch (err) {
      // Logged once per outage of the data dir, not once per report.
      if (!this.#saveFailing) this.#log('warn', 'agent', `cannot save ${STATE_FILE}: ${errorMessage(err)}`);
      this.#saveFailing = true;
    }
  }

  #setSerial(serial: string): void {
    const config = this.#config as AgentConfig;
    try {
      this.#topics = deviceTopics(serial, config.topicPrefix);
      this.#serial = serial;
      this.#state.serial = serial;
    } catch (err) {
      this.#log('error', 'device', errorMessage(err));
    }
  }

  // ---- the report cycle ---------------------------------------------------------------------------

  #scheduleCycle(delayMs: number): void {
    if (this.#stopping) return;
    if (this.#cycleTimer !== null) this.#clock.clearTimer(this.#cycleTimer);
    this.#cycleTimer = this.#clock.setTimer(delayMs, () => {
      this.#cycleTimer = null;
      this.runCycle().catch((err) => this.#log('error', 'agent', `report cycle failed: ${errorMessage(err)}`));
    });
  }

  /** Collects and queues one report, then makes sure it is on its way. */
  async runCycle(): Promise<void> {
    if (this.#stopping || !this.#config || !this.#outbox) return;
    if (this.#cycleRunning) {
      this.#cycleAgain = true;
      return;
    }
    const config = this.#config;
    const outbox = this.#outbox;
    this.#cycleRunning = true;
    const started = this.#clock.monotonic();
    try {
      // Room is made before the report is built, so the report itself carries the drops it caused.
      await outbox.makeRoom(this.#lastReportBytes);
      const report = await this.#collectReport(started);
      if (report) {
        let encoded;
        try {
          encoded = encodeReport(report, config.maxReportBytes);
        } catch (err) {
          // Never sent oversize (a poison pill for brokers); the lost seq is counted so the gap is explained.
          outbox.dropped++;
          throw err;
        }
        if (encoded.truncated) this.#log('warn', 'report', `report ${report.seq} cut to fit ${config.maxReportBytes} bytes`);
        this.#lastReportBytes = encoded.bytes.length;
        await outbox.push(report.reportId, report.seq, encoded.bytes);
        await this.#detect(report);
        await this.#saveState();
        this.#ensureConnected();
        this.#pump();
      }
    } catch (err) {
      this.#log('error', 'report', `cannot build report: ${errorMessage(err)}`);
      await this.#saveState();
    } finally {
      this.#cycleRunning = false;
      if (this.#cycleAgain) {
        this.#cycleAgain = false;
        this.#scheduleCycle(0);
      } else this.#scheduleCycle(this.#intervalSec * 1000);
    }
  }

  /** Queues the events this report reveals (events.ts), then keeps what it saw for the next cycle. */
  async #detect(report: Report): Promise<void> {
    try {
      const { events, next } = detectEvents(this.#snap, report, this.#restart ? this.#host.info.lastExit : null);
      this.#restart = false;
      const box = this.#events as Outbox;
      for (const e of events) await box.push(e.eventId, next.n, utf8Encode(JSON.stringify(e)));
      if (box.dropped) this.#log('warn', 'events', `event queue full: dropped the ${box.dropped} oldest undelivered events`);
      box.dropped = 0;
      this.#snap = next;
      const text = JSON.stringify(next);
      if (text !== this.#snapText) {
        await this.#writeData(EVENTS_FILE, text);
        this.#snapText = text;
      }
    } catch (err) {
      // A full data dir is logged once, by saveState.
      if (!this.#saveFailing) this.#log('warn', 'events', `cannot queue events or save ${EVENTS_FILE}: ${errorMessage(err)}`);
    }
  }

  async #collectReport(started: number): Promise<Report | null> {
    const outbox = this.#outbox as Outbox;
    const errors: CollectorError[] = [];
    const ctx = await this.#context(errors);

    const got = await guard('device', errors, () => collectDevice(ctx));
    const { device, os } = got || noDevice();
    const serial = device.serial || this.#serial;
    if (!serial) {
      this.#log('error', 'device', `serial number unknown, no report this cycle: ${errors.map((e) => e.message).join('; ')}`);
      return null;
    }
    if (this.#serial && serial !== this.#serial) {
      this.#log('warn', 'device', `serial changed from ${this.#serial} to ${serial}; keeping ${this.#serial} for this session`);
    }
    if (!this.#serial) this.#setSerial(serial);
    if (!this.#serial) return null;

    const integrity = await guard('integrity', errors, () =>
      collectIntegrity(ctx, { soc: device.soc, osVersion: os.version }),
    );
    // The integrity collector already asked applications/config.cgi; services reuses the answer.
    const services = await guard('services', errors, () =>
      collectServices(ctx, integrity && integrity.allowUnsignedApps !== null ? { allowUnsignedApps: integrity.allowUnsignedApps } : undefined),
    );

    this.#state.seq++;
    const memory = this.#host.memory();
    const oldest = outbox.oldestQueuedAt();
    return assembleReport({
      deviceId: this.#serial,
      seq: this.#state.seq,
      reportId: toHex(new Uint8Array(this.#host.crypto.randomBytes(8))),
      sentAt: this.#iso(),
      intervalSec: this.#intervalSec,
      device: got ? device : { ...device, serial: this.#serial },
      os,
      services: services || noServices(),
      integrity: integrity || failedIntegrity(this.#host),
      health: {
        agentVersion: this.#version,
        host: this.#host.info.name,
        startedAt: this.#startedAt,
        heapUsedBytes: whole(memory.usedBytes),
        heapLimitBytes: whole(memory.limitBytes),
        queueDepth: outbox.depth,
        dropped: outbox.dropped,
        oldestQueuedAgeSec: oldest === null ? 0 : whole((this.#clock.monotonic() - oldest) / 1000),
        reconnects: this.#reconnects,
        collectMs: whole(this.#clock.monotonic() - started),
        lastExit: this.#host.info.lastExit,
      },
      errors: errors.slice(0, 64),
    });
  }

  /** What the collectors get; a failure to fetch the VAPIX credentials is added to `errors`. */
  async #context(errors: CollectorError[]): Promise<CollectorContext> {
    const config = this.#config as AgentConfig;
    let credentials = config.vapix.username ? { username: config.vapix.username, password: config.vapix.password || '' } : undefined;
    if (this.#host.vapixCredentials) {
      // Service accounts are wiped on reboot (reference §3.1): fetch them each time, keep them in memory only.
      try {
        credentials = await this.#host.vapixCredentials();
      } catch (err) {
        errors.push({ collector: 'vapix', code: errorCode(err), message: `[vigil] [vapix] GetCredentials failed: ${errorMessage(err)}` });
      }
    }
    // host, port and timeoutMs from the config
    const vapix = new VapixClient(this.#host, { ...config.vapix, credentials });
    return { host: this.#host, config, vapix };
  }

  // ---- MQTT session ---------------------------------------------------------------------------------

  #statePayload(state: StateName, reason: string): string {
    return JSON.stringify({
      state,
      reason,
      session: this.#state.session,
      at: this.#iso(),
      agentVersion: this.#version,
    });
  }

  #publishState(client: MqttClient, state: StateName, reason: string): Promise<void> {
    return client.publish((this.#topics as DeviceTopics).state, this.#statePayload(state, reason), {
      qos: 1,
      retain: true,
      properties: jsonProperties(),
    });
  }

  #ensureConnected(): void {
    if (this.#stopping || this.#connected || this.#connecting || this.#reconnectTimer !== null || !this.#topics) return;
    this.#connecting = true;
    this.#connect()
      .catch((err) => this.#onConnectFailed(err))
      .then(() => {
        this.#connecting = false;
      });
  }

  async #connect(): Promise<void> {
    const config = this.#config as AgentConfig;
    const topics = this.#topics as DeviceTopics;
    // A session number is used up only by an accepted connection (only then can its will fire); it is
    // saved before the attempt, so a kill right after CONNACK cannot make two connections share it.
    if (!this.#sessionFresh) {
      this.#state.session++;
      this.#sessionFresh = true;
      await this.#saveState();
    }
    const b = config.broker;
    const v5 = b.protocolLevel === 5;
    const client = new MqttClient(this.#host, {
      // host, port, username, password, keepaliveSec, protocolLevel (a copy: the client may change keepaliveSec)
      ...b,
      tls: b.tls ? { caFile: b.caFile, certFile: b.certFile, keyFile: b.keyFile, serverName: b.serverName, verify: b.tlsVerify } : undefined,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      clientId: b.clientId || (this.#serial as string),
      cleanSession: true,
      // MQTT 5: tell the broker what we accept; nothing the agent receives is large.
      connectProperties: v5 ? { maximumPacketSize: 256 * 1024, receiveMaximum: 16 } : undefined,
      will: {
        topic: topics.state,
        payload: this.#statePayload('lost', 'connection-lost'),
        qos: 1,
        retain: true,
        properties: v5 ? jsonProperties() : undefined,
      },
    });
    client.onClose((reason) => this.#onDisconnected(client, reason));
    client.onMessage((topic, payload, info) => this.#onCommand(client, topic, payload, info.retain, info.properties));
    await client.connect();
    if (this.#stopping) {
      await client.disconnect().catch(ignore);
      return;
    }
    this.#sessionFresh = false;
    this.#client = client;
    this.#connected = true;
    this.#connectedAt = this.#clock.monotonic();
    if (this.#everConnected) this.#reconnects++;
    this.#everConnected = true;
    const failed = this.#failures + this.#refusals;
    this.#log('info', 'mqtt', `connected to ${b.host}:${b.port} as ${this.#serial} (session ${this.#state.session})${failed || this.#lastProblem ? ` after ${failed} failed attempts` : ''}`);
    this.#failures = 0;
    this.#refusals = 0;
    this.#lastProblem = null;
    this.#tokens = config.outbox.inflight;
    this.#tokensAt = this.#connectedAt;
    try {
      await this.#publishState(client, 'online', 'connected');
      const granted = await client.subscribe([{ topic: topics.commands, qos: 1 }]);
      if (granted[0] >= 0x80) this.#log('warn', 'mqtt', `the broker refused the subscription to ${topics.commands}: commands will not arrive`);
    } catch (err) {
      // The session ended meanwhile: onDisconnected schedules the next attempt.
      if (client.state === 'open') this.#log('warn', 'mqtt', `birth failed: ${errorMessage(err)}`);
    }
    this.#pump();
  }

  #onConnectFailed(err: unknown): void {
    const config = this.#config as AgentConfig;
    const code = errorCode(err);
    let message = errorMessage(err);
    let delay: number;
    if (code === 'ECONNACK') {
      this.#refusals++;
      delay = this.#longBackoff(this.#refusals);
      message = `${message}; check BrokerUsername, BrokerPassword and the broker's ACL`;
    } else {
      delay = this.#backoff();
      if (code === 'ETLS') message = explainTls(message, config);
    }
    // Logged once per distinct problem (and again every 20th attempt): an outage must not flood syslog.
    const attempts = this.#failures + this.#refusals;
    if (message !== this.#lastProblem || attempts % 20 === 0) {
      this.#log(code === 'ECONNACK' || code === 'ETLS' ? 'error' : 'warn', 'mqtt', `cannot connect (${code}): ${message}; attempt ${attempts}, next in ${Math.round(delay / 1000)} s`);
    }
    this.#lastProblem = message;
    this.#scheduleReconnect(delay);
  }

  #onDisconnected(client: MqttClient, reason: CloseReason): void {
    if (client !== this.#client) return;
    const config = this.#config as AgentConfig;
    this.#client = null;
    this.#connected = false;
    this.#inflight.clear();
    if (this.#pumpTimer !== null) this.#clock.clearTimer(this.#pumpTimer);
    this.#pumpTimer = null;
    if (this.#stopping) return;
    const lived = this.#clock.monotonic() - this.#connectedAt;
    const takenOver = reason.reasonCode === 0x8e;
    const byBroker = reason.code === 'ECLOSED' || reason.code === 'ECONNRESET' || reason.code === 'EDISCONNECT';
    this.#shortSessions = byBroker && lived < SHORT_SESSION_MS ? this.#shortSessions + 1 : 0;
    if (takenOver || this.#shortSessions >= SHORT_SESSIONS_FOR_DUPLICATE) {
      const n = Math.max(1, this.#shortSessions - SHORT_SESSIONS_FOR_DUPLICATE + 1);
      const delay = this.#longBackoff(n);
      if (!this.#duplicateLogged) {
        const clientId = config.broker.clientId || this.#serial;
        const why = takenOver
          ? 'the broker says another client took over the session'
          : `the broker closed ${this.#shortSessions} connections in a row within ${SHORT_SESSION_MS / 1000} s of accepting them`;
        this.#log('error', 'mqtt', `${why}: another client is probably connected with the same client id "${clientId}" (duplicate client id); backing off ${Math.round(delay / 1000)} s between attempts instead of flapping`);
        this.#duplicateLogged = true;
      }
      this.#scheduleReconnect(delay);
      return;
    }
    if (this.#shortSessions === 0) this.#duplicateLogged = false;
    this.#log('warn', 'mqtt', `connection lost (${reason.code}): ${reason.message}`);
    this.#scheduleReconnect(this.#backoff());
  }

  #scheduleReconnect(delayMs: number): void {
    if (this.#stopping || this.#reconnectTimer !== null) return;
    this.#reconnectTimer = this.#clock.setTimer(delayMs, () => {
      this.#reconnectTimer = null;
      this.#ensureConnected();
    });
  }

  #random(): number {
    const b = new Uint8Array(this.#host.crypto.randomBytes(4));
    return (((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3]) / 4294967296;
  }

  /** Counts one more failed or lost connection and returns the wait before the next attempt. */
  #backoff(): number {
    return backoffDelay(++this.#failures, BACKOFF_BASE_MS, (this.#config as AgentConfig).broker.reconnectMaxSec * 1000, this.#random());
  }

  /** Minutes, with "equal jitter" (half fixed, half random) so that a long backoff is never short. */
  #longBackoff(attempt: number): number {
    const ceiling = Math.min(LONG_BACKOFF_CAP_MS, LONG_BACKOFF_BASE_MS * Math.pow(2, Math.min(attempt - 1, 16)));
    return Math.round(ceiling / 2 + (this.#random() * ceiling) / 2);
  }

  // ---- delivery -----------------------------------------------------------------------------------

  /**
   * Sends queued reports oldest first, paced: at most ReplayInflight await their PUBACK at once (and no
   * more than the broker's Receive Maximum), at most ReplayPerSec per second (token bucket), so a replay
   * after a long outage never floods the broker's queues.
   */
  #pump(): void {
    const client = this.#client;
    const config = this.#config as AgentConfig;
    const outbox = this.#outbox;
    if (!this.#connected || !client || !outbox || this.#pumpTimer !== null) return;
    const events = this.#events as Outbox;
    if (this.#sent.size > 64) {
      const queued = new Set(outbox.entries().concat(events.entries()).map((e) => e.reportId));
      for (const id of Array.from(this.#sent)) if (!queued.has(id)) this.#sent.delete(id);
    }
    const window = Math.min(config.outbox.inflight, client.receiveMaximum);
    const rate = config.outbox.perSec;
    const now = this.#clock.monotonic();
    this.#tokens = Math.min(window, this.#tokens + ((now - this.#tokensAt) * rate) / 1000);
    this.#tokensAt = now;
    // Events first: they are few and meant to arrive at once.
    for (const entry of events.entries().concat(outbox.entries())) {
      if (this.#inflight.size >= window) return;
      if (this.#inflight.has(entry.reportId)) continue;
      if (this.#tokens < 1) {
        this.#pumpTimer = this.#clock.setTimer(Math.ceil(((1 - this.#tokens) * 1000) / rate), () => {
          this.#pumpTimer = null;
          this.#pump();
        });
        return;
      }
      this.#tokens -= 1;
      this.#inflight.add(entry.reportId);
      this.#send(client, entry).catch((err) => this.#log('error', 'mqtt', `delivery failed: ${errorMessage(err)}`));
    }
  }

  async #send(client: MqttClient, entry: OutboxEntry): Promise<void> {
    const config = this.#config as AgentConfig;
    const topics = this.#topics as DeviceTopics;
    const ev = (this.#events as Outbox).entries().indexOf(entry) >= 0;
    const outbox = (ev ? this.#events : this.#outbox) as Outbox;
    try {
      let payload: Uint8Array;
      try {
        payload = await outbox.payload(entry);
      } catch (err) {
        this.#log('error', 'outbox', `queued report ${entry.seq} is unreadable, dropped: ${errorMessage(err)}`);
        await outbox.drop(entry.reportId);
        await this.#saveState();
        return;
      }
      const all = outbox.entries();
      // Only the newest report is retained, so a late consumer learns the camera's current state at once.
      const retain = !ev && all[all.length - 1] === entry;
      const properties: Properties = {
        ...jsonProperties(),
        userProperties: ev
          ? [
              ['schema', EVENT_SCHEMA],
              ['eventId', entry.reportId],
            ]
          : [
              ['schema', REPORT_SCHEMA],
              ['seq', String(entry.seq)],
              ['reportId', entry.reportId],
            ],
      };
      if (config.messageExpirySec > 0) properties.messageExpiryInterval = config.messageExpirySec;
      try {
        this.#sent.add(entry.reportId);
        await client.publish(ev ? topics.event : topics.report, payload, { qos: 1, retain, properties });
        this.#sent.delete(entry.reportId);
        await outbox.ack(entry.reportId);
      } catch (err) {
        const code = errorCode(err);
        if (code === 'EPUBACK' || code === 'E2BIG') {
          // Re-sending would fail the same way forever: drop it, counted, so the gap is accounted for.
          this.#log('error', 'mqtt', `report ${entry.seq} dropped: ${errorMessage(err)}`);
          this.#sent.delete(entry.reportId);
          await outbox.drop(entry.reportId);
          await this.#saveState();
        }
        // ECLOSED: the report stays queued and goes again after the reconnect.
      }
    } finally {
      if (client === this.#client) {
        this.#inflight.delete(entry.reportId);
        this.#pump();
      }
    }
  }

  // ---- commands -------------------------------------------------------------------------------------

  #onCommand(client: MqttClient, topic: string, payload: Uint8Array, retained: boolean, properties?: Properties): void {
    const topics = this.#topics as DeviceTopics;
    const name = topics.commandName(topic);
    if (name === null || client !== this.#client) return;
    if (retained) {
      // A retained command would run again on every reconnect.
      this.#log('warn', 'cmd', `ignored a retained ${name.slice(0, 64)} command; publish commands without retain`);
      return;
    }
    const correlation = properties && properties.correlationData;
    const cmd = parseCommand(name, payload, correlation ? utf8Decode(correlation).slice(0, 64) : null);
    const id = cmd.id;
    const reply = (r: Omit<CommandResult, 'id' | 'command' | 'at'>, ran?: boolean) => this.#reply(client, { id, command: name.slice(0, 64), at: '', ...r }, correlation, ran);
    const fail = (code: string, error: string, ran?: boolean) => reply({ ok: false, code, error }, ran);
    if (cmd.code) return fail(cmd.code, cmd.error as string);
    // A redelivered command (same id) is answered again, not run twice.
    const seen = id !== null ? this.#recentResults.find((r) => r.id === id && r.command === name) : undefined;
    if (seen) return this.#reply(client, seen, correlation);
    const minGap = COMMAND_MIN_GAP_MS[name];
    const now = this.#clock.monotonic();
    const last = this.#commandLast[name];
    if (last !== undefined && now - last < minGap) {
      return fail('ERATE', `${name} is rate-limited to once every ${minGap / 1000} s; try again in ${Math.ceil((minGap - (now - last)) / 1000)} s`);
    }
    this.#commandLast[name] = now;
    this.#runCommand(name, cmd.intervalSec as number).then(
      (result) => reply({ ok: true, result }, true),
      (err) => fail(err instanceof CommandError ? err.code : errorCode(err), errorMessage(err), true),
    );
  }

  async #runCommand(name: string, sec: number): Promise<unknown> {
    const config = this.#config as AgentConfig;
    switch (name) {
      case 'report-now':
        this.runCycle().catch(ignore);
        return { queued: true };
      case 'set-interval': {
        this.#intervalSec = sec;
        this.#state.interval = { sec, base: config.intervalSec };
        await this.#saveState();
        this.#scheduleCycle(sec * 1000);
        this.#log('info', 'cmd', `report interval set to ${sec} s by command`);
        return { intervalSec: sec };
      }
      case 'rebaseline': {
        const made = await rebaseline(await this.#context([]));
        if (!made.value) throw new CommandError('EIO', made.errors.map((e) => e.message).join('; ') || 'no baseline was recorded');
        this.#log('info', 'cmd', `integrity baseline recorded again by command (${made.value.files} files)`);
        return { baseline: made.value };
      }
      default: {
        // rebirth: announce online again and send a full report now.
        const client = this.#client;
        if (client) await this.#publishState(client, 'online', 'rebirth');
        this.runCycle().catch(ignore);
        return { session: this.#state.session };
      }
    }
  }

  #reply(client: MqttClient, result: CommandResult, correlation?: Uint8Array, ran?: boolean): void {
    const r = { ...result, at: this.#iso() };
    // Only the results of commands that ran are kept for redeliveries: a refusal (ERATE above all) must
    // not answer the same id again once the command is allowed.
    if (ran && r.id !== null) {
      this.#recentResults.push(r);
      if (this.#recentResults.length > RECENT_COMMANDS) this.#recentResults.shift();
    }
    if (!r.ok) this.#log('warn', 'cmd', `${r.command} ${r.id ?? '(no id)'} refused: ${r.code} ${r.error}`);
    const properties = jsonProperties();
    if (correlation) properties.correlationData = correlation;
    client.publish((this.#topics as DeviceTopics).cmdResult, JSON.stringify(r), { qos: 1, properties }).catch(ignore);
  }

  #clearTimers(): void {
    for (const t of [this.#cycleTimer, this.#reconnectTimer, this.#pumpTimer]) if (t !== null) this.#clock.clearTimer(t);
    this.#cycleTimer = null;
    this.#reconnectTimer = null;
    this.#pumpTimer = null;
  }

  #log(level: LogLevel, component: string, message: string): void {
    this.#host.log(level, `[vigil] [${component}] ${message}`);
  }

  #readData(name: string, maxBytes: number): Promise<string> {
    return readText(this.#host.fs, `${(this.#config as AgentConfig).dataDir}/${name}`, maxBytes);
  }

  #writeData(name: string, text: string): Promise<void> {
    return writeText(this.#host.fs, `${(this.#config as AgentConfig).dataDir}/${name}`, text);
  }

  #iso(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}

/** For a promise whose failure is already handled (or reported) elsewhere. */
const ignore = () => undefined;

/** MQTT 5 properties of every JSON message the agent publishes; a fresh object, as callers add to it. */
const jsonProperties = (): Properties => ({ payloadFormatIndicator: 1, contentType: 'application/json' });

/** A measured amount as the report's non-negative integer. */
const whole = (n: number) => Math.max(0, Math.round(n));

/**
 * Exponential backoff with full jitter: uniform in [0, min(cap, base·2^(attempt−1))], `random` in [0, 1).
 */
export const backoffDelay = (attempt: number, baseMs: number, capMs: number, random: number): number => {
  const ceiling = Math.min(capMs, baseMs * Math.pow(2, Math.min(Math.max(attempt, 1) - 1, 20)));
  return Math.round(random * ceiling);
};

/** Says in plain words what a TLS failure usually means; the host's own message is kept. */
export const explainTls = (message: string, config: AgentConfig): string => {
  const b = config.broker;
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

/** Runs a collector; anything it throws becomes an error entry, never a lost report. */
const guard = async <T>(
  collector: string,
  errors: CollectorError[],
  run: () => Promise<{ value: T; errors: CollectorError[] }>,
): Promise<T | null> => {
  try {
    const result = await run();
    for (const e of result.errors) errors.push(e);
    return result.value;
  } catch (err) {
    errors.push({ collector, code: errorCode(err), message: `[vigil] [${collector}] ${errorMessage(err)}` });
    return null;
  }
};

const withTimeout = <T>(clock: Host['clock'], promise: Promise<T>, ms: number): Promise<T> => {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(ms, () => reject(new Error(`timed out after ${ms} ms`)));
    promise.then(
      (v) => {
        clock.clearTimer(timer);
        resolve(v);
      },
      (e) => {
        clock.clearTimer(timer);
        reject(e);
      },
    );
  });
};
