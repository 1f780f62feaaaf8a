/**
 * The agent: collects a report every interval, keeps an MQTT session to the broker, and delivers the
 * reports through the outbox. Everything it touches goes through the Host.
 *
 * Topics (DESIGN.md): `<prefix>/<serial>/state` retained online/offline with a per-connection session
 * counter (the will carries it too, so a consumer can tell a stale will from a live camera),
 * `report` QoS 1 and retained, `cmd/#` subscribed, `cmd-result` for replies.
 */
import type { Host, LogLevel } from './host';
import type { AgentConfig } from './config';
import { parseConfig } from './config';
import type { CollectorError, DeviceInfo, OsInfo, Report } from './report/types';
import { assembleReport, encodeReport } from './report/build';
import { MemoryOutbox, type Outbox } from './outbox';
import { MqttClient } from './mqtt/client';
import { VapixClient } from './vapix/vapix';
import type { CollectorContext } from './collectors/context';
import { collectDevice } from './collectors/device/device';
import { collectServices } from './collectors/services/services';
import { collectIntegrity } from './collectors/integrity/integrity';
import { toHex, utf8Decode, utf8Encode, toArrayBuffer } from './util/bytes';
import { errorCode, errorMessage } from './util/errors';

const STATE_FILE = 'state.json';
const CONFIG_RETRY_MS = 30_000;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_CAP_MS = 60_000;
const STOP_PUBLISH_TIMEOUT_MS = 3_000;

interface PersistedState {
  /** Connections ever made; the session counter carried by birth and will. */
  session: number;
  /** Last report sequence number used. */
  seq: number;
}

export class Agent {
  private config: AgentConfig | null = null;
  private state: PersistedState = { session: 0, seq: 0 };
  private serial: string | null = null;
  private client: MqttClient | null = null;
  private connected = false;
  private connecting = false;
  private stopping = false;
  private reconnects = 0;
  private failedAttempts = 0;
  private cycleTimer: number | null = null;
  private reconnectTimer: number | null = null;
  private cycleRunning = false;
  private flushing = false;
  private readonly outbox: Outbox = new MemoryOutbox(500, 8 << 20);
  private readonly startedAt: string;

  constructor(
    private readonly host: Host,
    private readonly version: string,
  ) {
    this.startedAt = new Date(host.clock.now()).toISOString();
  }

  start(): void {
    this.boot().catch((err) => this.log('error', 'agent', `start failed: ${errorMessage(err)}`));
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.clearTimers();
    const client = this.client;
    if (client && this.connected && this.serial && this.config) {
      // The will is not sent on a clean DISCONNECT (reference/mqtt.md): say offline ourselves first.
      await withTimeout(
        this.host,
        client.publish(this.topic('state'), this.statePayload('offline', 'shutdown'), { qos: 1, retain: true }),
        STOP_PUBLISH_TIMEOUT_MS,
      ).catch((err) => this.log('warn', 'mqtt', `could not publish offline before stopping: ${errorMessage(err)}`));
      await client.disconnect().catch(() => undefined);
    }
    this.connected = false;
    this.log('info', 'agent', 'stopped');
  }

  // ---- start-up -----------------------------------------------------------------------------------

  private async boot(): Promise<void> {
    try {
      this.config = parseConfig(this.host.config());
    } catch (err) {
      this.log('error', 'config', `${errorMessage(err)}; retrying in ${CONFIG_RETRY_MS / 1000} s`);
      this.cycleTimer = this.host.clock.setTimer(CONFIG_RETRY_MS, () => this.start());
      return;
    }
    await this.loadState();
    this.log('info', 'agent', `vigil ${this.version} on ${this.host.info.name}, report every ${this.config.intervalSec} s`);
    await this.runCycle();
  }

  private async loadState(): Promise<void> {
    const config = this.config as AgentConfig;
    try {
      const raw = await this.host.fs.readFile(`${config.dataDir}/${STATE_FILE}`, 4096);
      const parsed = JSON.parse(utf8Decode(new Uint8Array(raw))) as Partial<PersistedState>;
      if (typeof parsed.session === 'number' && typeof parsed.seq === 'number' && parsed.session >= 0 && parsed.seq >= 0) {
        this.state = { session: Math.floor(parsed.session), seq: Math.floor(parsed.seq) };
      } else {
        this.log('warn', 'agent', `${STATE_FILE} has no valid counters; starting from zero`);
      }
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') this.log('warn', 'agent', `cannot read ${STATE_FILE}: ${errorMessage(err)}; starting from zero`);
    }
  }

  private async saveState(): Promise<void> {
    const config = this.config as AgentConfig;
    try {
      await this.host.fs.mkdir(config.dataDir);
      await this.host.fs.writeFileAtomic(`${config.dataDir}/${STATE_FILE}`, toArrayBuffer(utf8Encode(JSON.stringify(this.state))));
    } catch (err) {
      this.log('warn', 'agent', `cannot save ${STATE_FILE}: ${errorMessage(err)}`);
    }
  }

  // ---- the report cycle ---------------------------------------------------------------------------

  private scheduleCycle(delayMs: number): void {
    if (this.stopping) return;
    if (this.cycleTimer !== null) this.host.clock.clearTimer(this.cycleTimer);
    this.cycleTimer = this.host.clock.setTimer(delayMs, () => {
      this.cycleTimer = null;
      this.runCycle().catch((err) => this.log('error', 'agent', `report cycle failed: ${errorMessage(err)}`));
    });
  }

  /** Collects and queues one report, then makes sure it is on its way. */
  async runCycle(): Promise<void> {
    if (this.stopping || this.cycleRunning) return;
    const config = this.config as AgentConfig;
    this.cycleRunning = true;
    const started = this.host.clock.monotonic();
    try {
      const report = await this.collectReport(started);
      if (report) {
        const { bytes, truncated } = encodeReport(report, config.maxReportBytes);
        if (truncated) this.log('warn', 'report', `report ${report.seq} cut to fit ${config.maxReportBytes} bytes`);
        await this.outbox.push({ reportId: report.reportId, seq: report.seq, queuedAt: this.host.clock.monotonic(), payload: bytes });
        await this.saveState();
        this.ensureConnected();
        this.flush();
      }
    } catch (err) {
      this.log('error', 'report', `cannot build report: ${errorMessage(err)}`);
    } finally {
      this.cycleRunning = false;
      this.scheduleCycle(config.intervalSec * 1000);
    }
  }

  private async collectReport(started: number): Promise<Report | null> {
    const config = this.config as AgentConfig;
    const errors: CollectorError[] = [];
    const ctx: CollectorContext = { host: this.host, config, vapix: await this.vapixClient(errors) };

    const device = await guard('device', errors, () => collectDevice(ctx));
    const deviceInfo: DeviceInfo | null = device ? device.device : null;
    const os: OsInfo = device ? device.os : { version: 'unknown', buildDate: null, firmware: null };
    const serial = (deviceInfo && deviceInfo.serial) || this.serial;
    if (!serial) {
      this.log('error', 'device', `serial number unknown, no report this cycle: ${errors.map((e) => e.message).join('; ')}`);
      return null;
    }
    if (this.serial && serial !== this.serial) {
      this.log('warn', 'device', `serial changed from ${this.serial} to ${serial}; keeping ${this.serial} for this session`);
    }
    this.serial = this.serial || serial;

    const integrity = await guard('integrity', errors, () =>
      collectIntegrity(ctx, { soc: deviceInfo ? deviceInfo.soc : null, osVersion: os.version }),
    );
    // The integrity collector already asked applications/config.cgi; services reuses the answer.
    const services = await guard('services', errors, () =>
      collectServices(ctx, integrity && integrity.allowUnsignedApps !== null ? { allowUnsignedApps: integrity.allowUnsignedApps } : undefined),
    );

    this.state.seq++;
    const memory = this.host.memory();
    const oldest = this.outbox.oldestQueuedAt();
    const now = this.host.clock.now();
    return assembleReport({
      deviceId: this.serial,
      seq: this.state.seq,
      reportId: toHex(new Uint8Array(this.host.crypto.randomBytes(8))),
      sentAt: new Date(now).toISOString(),
      intervalSec: config.intervalSec,
      device: deviceInfo || emptyDevice(this.serial),
      os,
      services: services || { entries: [], findings: [], totalListening: 0 },
      integrity: integrity || {
        status: 'error',
        baseline: null,
        changes: [],
        totalChanges: 0,
        platform: { signedOs: null, secureBoot: null, edgeVault: null },
        apps: [],
        allowUnsignedApps: null,
        agentBundleSha256: this.host.info.bundleSha256,
      },
      health: {
        agentVersion: this.version,
        host: this.host.info.name,
        startedAt: this.startedAt,
        heapUsedBytes: Math.max(0, Math.round(memory.usedBytes)),
        heapLimitBytes: Math.max(0, Math.round(memory.limitBytes)),
        queueDepth: this.outbox.depth,
        dropped: this.outbox.dropped,
        oldestQueuedAgeSec: oldest === null ? 0 : Math.max(0, Math.round((this.host.clock.monotonic() - oldest) / 1000)),
        reconnects: this.reconnects,
        collectMs: Math.max(0, Math.round(this.host.clock.monotonic() - started)),
        lastExit: this.host.info.lastExit,
      },
      errors: errors.slice(0, 64),
    });
  }

  private async vapixClient(errors: CollectorError[]): Promise<VapixClient> {
    const config = this.config as AgentConfig;
    let credentials = config.vapix.username ? { username: config.vapix.username, password: config.vapix.password || '' } : undefined;
    if (this.host.vapixCredentials) {
      // Service accounts are wiped on reboot (reference §3.1): fetch them each time, keep them in memory only.
      try {
        credentials = await this.host.vapixCredentials();
      } catch (err) {
        errors.push({ collector: 'vapix', code: errorCode(err), message: `[vigil] [vapix] GetCredentials failed: ${errorMessage(err)}` });
      }
    }
    return new VapixClient(this.host, {
      host: config.vapix.host,
      port: config.vapix.port,
      timeoutMs: config.vapix.timeoutMs,
      credentials,
    });
  }

  // ---- MQTT session ---------------------------------------------------------------------------------

  private topic(leaf: string): string {
    return `${(this.config as AgentConfig).topicPrefix}/${this.serial}/${leaf}`;
  }

  private statePayload(state: 'online' | 'offline', reason: string): string {
    return JSON.stringify({
      state,
      reason,
      session: this.state.session,
      at: new Date(this.host.clock.now()).toISOString(),
      agentVersion: this.version,
    });
  }

  private ensureConnected(): void {
    if (this.stopping || this.connected || this.connecting || this.reconnectTimer !== null || !this.serial) return;
    this.connecting = true;
    this.connect()
      .catch((err) => this.onConnectFailed(err))
      .then(() => {
        this.connecting = false;
      });
  }

  private async connect(): Promise<void> {
    const config = this.config as AgentConfig;
    this.state.session++;
    await this.saveState();
    const b = config.broker;
    const client = new MqttClient(this.host, {
      host: b.host,
      port: b.port,
      tls: b.tls ? { caFile: b.caFile, certFile: b.certFile, keyFile: b.keyFile, serverName: b.serverName, verify: b.tlsVerify } : undefined,
      connectTimeoutMs: 10_000,
      clientId: b.clientId || `vigil-${this.serial}`,
      username: b.username,
      password: b.password,
      keepaliveSec: b.keepaliveSec,
      cleanSession: true,
      will: { topic: this.topic('state'), payload: this.statePayload('offline', 'lost'), qos: 1, retain: true },
    });
    client.onClose((reason) => this.onDisconnected(client, reason));
    client.onMessage((topic, payload) => this.onCommand(topic, payload));
    await client.connect();
    if (this.stopping) {
      await client.disconnect().catch(() => undefined);
      return;
    }
    this.client = client;
    this.connected = true;
    if (this.failedAttempts > 0 || this.state.session > 1) this.reconnects++;
    this.failedAttempts = 0;
    this.log('info', 'mqtt', `connected to ${b.host}:${b.port} as ${this.serial} (session ${this.state.session})`);
    await client.publish(this.topic('state'), this.statePayload('online', 'connected'), { qos: 1, retain: true });
    await client.subscribe([{ topic: this.topic('cmd/#'), qos: 1 }]);
    this.flush();
  }

  private onConnectFailed(err: unknown): void {
    this.failedAttempts++;
    const delay = backoffDelay(this.failedAttempts);
    // Log the first failure and then only occasionally: a broker down for hours must not flood syslog.
    if (this.failedAttempts === 1 || this.failedAttempts % 20 === 0) {
      this.log('warn', 'mqtt', `cannot connect (${errorCode(err)}): ${errorMessage(err)}; attempt ${this.failedAttempts}, next in ${Math.round(delay / 1000)} s`);
    }
    this.scheduleReconnect(delay);
  }

  private onDisconnected(client: MqttClient, reason: { code: string; message: string }): void {
    if (client !== this.client) return;
    this.client = null;
    const wasConnected = this.connected;
    this.connected = false;
    if (this.stopping) return;
    if (wasConnected) this.log('warn', 'mqtt', `connection lost (${reason.code}): ${reason.message}`);
    this.scheduleReconnect(backoffDelay(Math.max(1, this.failedAttempts)));
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.stopping || this.reconnectTimer !== null) return;
    this.reconnectTimer = this.host.clock.setTimer(delayMs, () => {
      this.reconnectTimer = null;
      this.ensureConnected();
    });
  }

  /** Sends queued reports oldest first; each leaves the outbox only on its PUBACK. */
  private flush(): void {
    if (this.flushing || !this.connected || !this.client) return;
    this.flushing = true;
    const client = this.client;
    const run = async () => {
      while (this.connected && client === this.client && this.outbox.depth > 0) {
        const [entry] = this.outbox.peek(1);
        // Only the newest report is retained, so a late consumer learns the fleet's current state at once.
        const retain = this.outbox.depth === 1;
        await client.publish(this.topic('report'), entry.payload, { qos: 1, retain });
        await this.outbox.ack(entry.reportId);
      }
    };
    run()
      .catch((err) => this.log('warn', 'mqtt', `delivery paused: ${errorMessage(err)}`))
      .then(() => {
        this.flushing = false;
      });
  }

  private onCommand(topic: string, payload: Uint8Array): void {
    const name = topic.slice(this.topic('cmd/').length);
    let id: string | null = null;
    try {
      const text = utf8Decode(payload);
      const body = text.trim() ? (JSON.parse(text) as { id?: unknown }) : {};
      if (body && typeof body.id === 'string') id = body.id.slice(0, 64);
    } catch {
      this.reply(name, id, false, 'payload is not JSON');
      return;
    }
    if (name === 'report-now') {
      this.reply(name, id, true, null);
      this.runCycle().catch(() => undefined);
    } else {
      this.reply(name, id, false, `unknown command "${name.slice(0, 64)}"`);
    }
  }

  private reply(command: string, id: string | null, ok: boolean, error: string | null): void {
    const client = this.client;
    if (!client) return;
    const body = JSON.stringify({ id, command: command.slice(0, 64), ok, error, at: new Date(this.host.clock.now()).toISOString() });
    client.publish(this.topic('cmd-result'), body, { qos: 1 }).catch(() => undefined);
  }

  private clearTimers(): void {
    for (const t of [this.cycleTimer, this.reconnectTimer]) if (t !== null) this.host.clock.clearTimer(t);
    this.cycleTimer = null;
    this.reconnectTimer = null;
  }

  private log(level: LogLevel, component: string, message: string): void {
    this.host.log(level, `[vigil] [${component}] ${message}`);
  }
}

/** Exponential backoff with full jitter: uniform in [0, min(cap, base·2^n)]. */
export function backoffDelay(attempt: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * Math.pow(2, Math.min(attempt, 16)));
  return Math.round(Math.random() * ceiling);
}

function emptyDevice(serial: string): DeviceInfo {
  return { serial, model: null, fullName: null, brand: null, productType: null, hardwareId: null, soc: null, architecture: null, uptimeSec: null };
}

/** Runs a collector; anything it throws becomes an error entry, never a lost report. */
async function guard<T>(
  collector: string,
  errors: CollectorError[],
  run: () => Promise<{ value: T; errors: CollectorError[] }>,
): Promise<T | null> {
  try {
    const result = await run();
    for (const e of result.errors) errors.push(e);
    return result.value;
  } catch (err) {
    errors.push({ collector, code: errorCode(err), message: `[vigil] [${collector}] ${errorMessage(err)}` });
    return null;
  }
}

function withTimeout<T>(host: Host, promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = host.clock.setTimer(ms, () => reject(new Error(`timed out after ${ms} ms`)));
    promise.then(
      (v) => {
        host.clock.clearTimer(timer);
        resolve(v);
      },
      (e) => {
        host.clock.clearTimer(timer);
        reject(e);
      },
    );
  });
}
