/**
 * The fleet consumer: subscribes to every camera's state, report and event topics, validates each payload,
 * decides (duplicate, gap, out of order, stale will) and commits to the store, and only then lets MQTT.js
 * send the PUBACK (at-least-once; shared/reference/mqtt.md). Input never crashes it: a bad payload is
 * counted, logged once per camera, quarantined with its reason, and acknowledged (a poison pill must not be
 * redelivered forever). A store failure is the opposite: no PUBACK, so the broker redelivers.
 */
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { IPublishPacket } from 'mqtt';
import type { Report } from '../../agent/src/report/types';
import { evaluate, SUPPORT_STATUSES, type Evaluation } from './evaluate';
import type { Tables } from './data';
import { silentLog, type FleetLog } from './log';
import type { CameraRecord, Connection, FleetStore, HistoryRow } from './store/types';
import { describeErrors, validateEvent, validateReport, validateState } from './validate';

export type CameraStatus = 'online' | 'missing' | 'offline' | 'lost' | 'unknown';
export const CAMERA_STATUSES: CameraStatus[] = ['online', 'missing', 'offline', 'lost', 'unknown'];

export interface ConsumerOptions {
  brokerUrl: string;
  store: FleetStore;
  tables: Tables;
  /** Topic prefix, default `vigil/v1`. */
  prefix?: string;
  /** MQTT 5 shared-subscription group (`$share/<group>/…`); null/undefined: plain subscriptions. */
  shared?: string | null;
  clientId?: string;
  /** false keeps a persistent session so messages queued while the consumer is away are delivered. */
  clean?: boolean;
  username?: string;
  password?: string;
  /** 4 (MQTT 3.1.1, what Aedes speaks) or 5; shared subscriptions default to 5. */
  protocolVersion?: 4 | 5;
  /** Larger payloads are quarantined as oversized. Default 128 KiB (twice the agent's default limit). */
  maxPayloadBytes?: number;
  /** A camera is missing after this many report intervals without a report. Default 3. */
  missingIntervals?: number;
  /** How often the missing check runs, ms. Default 5000; 0 disables the timer (tests call sweep()). */
  sweepMs?: number;
  /**
   * Group commit: up to this many messages share one store transaction, and their PUBACKs are sent
   * together after its commit. Default 256; 1 commits every message on its own.
   */
  batchMax?: number;
  now?: () => number;
  log?: FleetLog;
}

export interface CameraView {
  serial: string;
  model: string | null;
  fullName: string | null;
  osVersion: string | null;
  status: CameraStatus;
  connection: Connection;
  session: number | null;
  lastSeq: number | null;
  lastSentAt: string | null;
  lastReportAt: string | null;
  intervalSec: number | null;
  reports: number;
  duplicates: number;
  gaps: number;
  outOfOrder: number;
  evaluation: Evaluation | null;
}

export interface Counters {
  messages: number;
  reports: number;
  states: number;
  events: number;
  duplicates: number;
  gaps: number;
  outOfOrder: number;
  staleStates: number;
  invalid: Record<string, number>;
  storeErrors: number;
}

interface Cam {
  rec: CameraRecord;
  latest: Report | null;
  evaluation: Evaluation | null;
  status: CameraStatus;
  stateAtMs: number | null;
}

const DEFAULT_MAX_PAYLOAD = 128 * 1024;
const SERIAL = /^[A-Za-z0-9_-]{1,64}$/;

export class FleetConsumer extends EventEmitter {
  readonly prefix: string;
  readonly counters: Counters = { messages: 0, reports: 0, states: 0, events: 0, duplicates: 0, gaps: 0, outOfOrder: 0, staleStates: 0, invalid: {}, storeErrors: 0 };
  private readonly cams = new Map<string, Cam>();
  private readonly loggedInvalid = new Set<string>();
  private readonly now: () => number;
  private readonly log: FleetLog;
  private readonly maxPayload: number;
  private readonly missingIntervals: number;
  private client: MqttClient | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private redeliverPending = false;
  private readonly batchMax: number;
  /** A batch transaction is open; PUBACKs wait in pendingAcks for its commit. */
  private batchOpen = false;
  private flushScheduled = false;
  private pendingAcks: Array<{ packet: unknown; generation: number }> = [];
  /** Counts connections: a PUBACK is only ever sent on the connection its message came in on. */
  private generation = 0;
  private sendPacket: ((packet: unknown) => void) | null = null;
  /** Reports ingested per second, for the last 60 seconds: [second, count]. */
  private readonly rate: Array<[number, number]> = [];

  constructor(private readonly options: ConsumerOptions) {
    super();
    this.prefix = (options.prefix ?? 'vigil/v1').replace(/\/+$/, '');
    this.now = options.now ?? Date.now;
    this.log = options.log ?? silentLog;
    this.maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD;
    this.missingIntervals = options.missingIntervals ?? 3;
    this.batchMax = Math.max(1, options.batchMax ?? 256);
    this.loadFromStore();
  }

  /** (Re)builds the in-memory view from the store: at start, and after a failed batch commit. */
  private loadFromStore(): void {
    const nowMs = this.now();
    this.cams.clear();
    for (const rec of this.options.store.loadCameras()) {
      const latest = rec.reportJson ? (JSON.parse(rec.reportJson) as Report) : null;
      const cam: Cam = { rec, latest, evaluation: latest ? evaluate(latest, this.options.tables, nowMs) : null, status: 'unknown', stateAtMs: rec.stateAt ? Date.parse(rec.stateAt) : null };
      cam.status = this.statusOf(cam, nowMs);
      this.cams.set(rec.serial, cam);
    }
  }

  /** The topic filters this consumer subscribes to. */
  filters(): string[] {
    const base = ['state', 'report', 'event'].map((leaf) => `${this.prefix}/+/${leaf}`);
    return this.options.shared ? base.map((f) => `$share/${this.options.shared}/${f}`) : base;
  }

  async start(): Promise<void> {
    const o = this.options;
    const opts: IClientOptions = {
      clientId: o.clientId ?? `vigil-fleet-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      clean: o.clean ?? true,
      protocolVersion: o.protocolVersion ?? (o.shared ? 5 : 4),
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      username: o.username,
      password: o.password,
    };
    const client = mqtt.connect(o.brokerUrl, { ...opts, manualConnect: true });
    // PUBACK is sent when the callback runs: only after the store commit.
    client.handleMessage = (packet, cb) => this.onPacket(packet, cb);
    // Group commit: MQTT.js handles one packet at a time and sends its PUBACK as soon as handleMessage's
    // callback runs. To commit many messages at once, the PUBACKs of an open batch are held here and sent
    // after the commit (mqtt is pinned to 5.16.0; _sendPacket(packet, cb) is its internal send).
    const internal = client as unknown as { _sendPacket(packet: { cmd: string }, cb?: (err?: Error) => void, ...rest: unknown[]): void };
    const send = internal._sendPacket.bind(client);
    this.sendPacket = (packet) => send(packet as { cmd: string });
    internal._sendPacket = (packet, cb, ...rest) => {
      if (packet.cmd === 'puback' && this.batchOpen) {
        this.pendingAcks.push({ packet, generation: this.generation });
        cb?.();
        return;
      }
      send(packet, cb, ...rest);
    };
    client.on('connect', () => this.generation++);
    client.on('close', () => this.generation++);
    client.on('error', (err) => this.log('warn', `broker ${o.brokerUrl}: ${err.message}`));
    client.on('reconnect', () => this.log('info', `reconnecting to ${o.brokerUrl}`));
    this.client = client;
    await new Promise<void>((resolve, reject) => {
      const onConnect = () => {
        client.off('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        client.off('connect', onConnect);
        client.end(true);
        reject(new Error(`[vigil] [fleet] cannot connect to ${o.brokerUrl}: ${err.message}`));
      };
      client.once('connect', onConnect);
      client.once('error', onError);
      client.connect();
    });
    // Subscribe on every (re)connect: a clean session forgets subscriptions.
    const subscribe = async () => {
      const granted = await client.subscribeAsync(this.filters(), { qos: 1 });
      const refused = granted.filter((g) => g.qos === 128 || (g.qos as number) > 2);
      if (refused.length) this.log('error', `the broker refused ${refused.map((g) => g.topic).join(', ')}`);
      return refused;
    };
    const refused = await subscribe();
    if (refused.length) {
      await client.endAsync(true);
      throw new Error(`[vigil] [fleet] the broker refused the subscriptions ${refused.map((g) => g.topic).join(', ')}`);
    }
    client.on('connect', (ack) => {
      if (!ack.sessionPresent) subscribe().catch((err) => this.log('error', `cannot subscribe: ${(err as Error).message}`));
    });
    const sweepMs = o.sweepMs ?? 5000;
    if (sweepMs > 0) this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
    this.log('info', `consuming ${this.filters().join(', ')} from ${o.brokerUrl}`);
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.flush();
    const c = this.client;
    this.client = null;
    if (c) await c.endAsync(false).catch(() => c.end(true));
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  // ---- views -------------------------------------------------------------------------------------

  cameras(): CameraView[] {
    return [...this.cams.values()].map((c) => this.view(c)).sort((a, b) => a.serial.localeCompare(b.serial));
  }

  camera(serial: string): (CameraView & { report: Report | null }) | null {
    const c = this.cams.get(serial);
    return c ? { ...this.view(c), report: c.latest } : null;
  }

  counts(): { total: number; status: Record<CameraStatus, number>; support: Record<string, number>; integrity: Record<string, number>; withAdvisories: number } {
    const status = Object.fromEntries(CAMERA_STATUSES.map((s) => [s, 0])) as Record<CameraStatus, number>;
    const support = Object.fromEntries(SUPPORT_STATUSES.map((s) => [s, 0])) as Record<string, number>;
    const integrity: Record<string, number> = { ok: 0, 'baseline-created': 0, changed: 0, unknown: 0 };
    let withAdvisories = 0;
    for (const c of this.cams.values()) {
      status[c.status]++;
      support[c.evaluation?.support ?? 'unknown']++;
      integrity[c.evaluation?.integrity ?? 'unknown']++;
      if (c.evaluation && c.evaluation.advisories.length > 0) withAdvisories++;
    }
    return { total: this.cams.size, status, support, integrity, withAdvisories };
  }

  /** Reports ingested per second over the last 60 seconds. */
  ingestRate(): number {
    const sec = Math.floor(this.now() / 1000);
    const n = this.rate.filter(([s]) => s > sec - 60).reduce((sum, [, c]) => sum + c, 0);
    return n / 60;
  }

  private view(c: Cam): CameraView {
    const r = c.rec;
    return {
      serial: r.serial, model: r.model, fullName: r.fullName, osVersion: r.osVersion, status: c.status, connection: r.connection,
      session: r.session, lastSeq: r.lastSeq, lastSentAt: r.lastSentAt, lastReportAt: r.lastReportMs === null ? null : new Date(r.lastReportMs).toISOString(),
      intervalSec: r.intervalSec, reports: r.reports, duplicates: r.duplicates, gaps: r.gaps, outOfOrder: r.outOfOrder, evaluation: c.evaluation,
    };
  }

  private statusOf(c: Cam, nowMs: number): CameraStatus {
    const r = c.rec;
    if (r.connection === 'offline' || r.connection === 'lost') return r.connection;
    const since = r.lastReportMs ?? (r.connection === 'online' ? c.stateAtMs : null);
    if (since !== null && r.intervalSec !== null && nowMs - since > this.missingIntervals * r.intervalSec * 1000) return 'missing';
    if (r.connection === 'online') return 'online';
    // No state seen (yet): a camera whose reports keep coming is evidently there.
    return r.lastReportMs !== null ? 'online' : 'unknown';
  }

  /** Re-derives every camera's status (missing after N intervals); emits `camera` for each change. */
  sweep(nowMs = this.now()): void {
    for (const c of this.cams.values()) this.restatus(c, nowMs);
    for (const c of this.cams.values()) {
      if (c.evaluation && c.latest) {
        const e = evaluate(c.latest, this.options.tables, nowMs);
        if (e.support !== c.evaluation.support) {
          c.evaluation = e;
          this.emit('camera', this.view(c));
        }
      }
    }
  }

  private restatus(c: Cam, nowMs: number): void {
    const s = this.statusOf(c, nowMs);
    if (s !== c.status) {
      const was = c.status;
      c.status = s;
      if (s === 'missing') this.log('warn', `${c.rec.serial} is missing: no report for ${this.missingIntervals} × ${c.rec.intervalSec}s`);
      this.emit('status', { serial: c.rec.serial, from: was, to: s });
      this.emit('camera', this.view(c));
    }
  }

  // ---- ingestion ---------------------------------------------------------------------------------

  private cam(serial: string, nowMs: number): Cam {
    let c = this.cams.get(serial);
    if (!c) {
      c = {
        rec: {
          serial, model: null, fullName: null, osVersion: null, connection: 'unknown', session: null, stateAt: null, stateReason: null,
          lastReportId: null, lastSeq: null, lastSentAt: null, lastReportMs: null, intervalSec: null, reports: 0, duplicates: 0, gaps: 0,
          outOfOrder: 0, firstSeenMs: nowMs, reportJson: null, evaluationJson: null,
        },
        latest: null, evaluation: null, status: 'unknown', stateAtMs: null,
      };
    }
    return c;
  }

  /** MQTT.js's handleMessage: cb() sends the PUBACK; cb(err) withholds it so the broker redelivers. */
  private onPacket(packet: IPublishPacket, cb: (err?: Error) => void): void {
    let result: Error | undefined;
    try {
      if (this.batchMax > 1 && !this.batchOpen) {
        this.options.store.begin();
        this.batchOpen = true;
      }
      this.ingest(packet.topic, packet.payload as Buffer, packet.retain === true);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_')) {
        this.counters.storeErrors++;
        this.log('error', `cannot store a message from ${packet.topic}; not acknowledged, the broker will redeliver: ${(err as Error).message}`);
        result = err as Error;
      } else {
        // A fault of ours on this input: redelivery would only repeat it. Keep the message for a human.
        this.log('error', `cannot handle a message from ${packet.topic}: ${(err as Error).stack ?? err}`);
        try {
          const buf = Buffer.from(packet.payload as Buffer);
          this.counters.invalid.internal = (this.counters.invalid.internal ?? 0) + 1;
          this.options.store.quarantine({ receivedMs: this.now(), topic: packet.topic, serial: null, reason: `internal: ${(err as Error).message}`.slice(0, 1000), size: buf.length, excerpt: buf.subarray(0, 512).toString('utf8') });
        } catch {
          // the store is failing too; the log line above is what is left
        }
      }
    }
    cb(result);
    if (this.batchOpen) {
      // Commit when the batch is full, or once the packets already received have been handled.
      if (this.pendingAcks.length >= this.batchMax || result) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          this.flush();
        });
      }
    }
    // The broker resends an unacknowledged message only on a new connection of the same session: drop
    // this one (MQTT.js reconnects after reconnectPeriod) so a persistent session gets it redelivered.
    this.dropConnectionIf(result !== undefined);
  }

  private dropConnectionIf(condition: boolean): void {
    if (condition && !this.redeliverPending && this.client) {
      this.redeliverPending = true;
      const c = this.client;
      setImmediate(() => {
        this.redeliverPending = false;
        c.stream?.destroy();
      });
    }
  }

  /** Commits the open batch, then sends its PUBACKs. A failed commit sends none and reconnects. */
  private flush(): void {
    if (!this.batchOpen) return;
    this.batchOpen = false;
    const acks = this.pendingAcks.splice(0);
    try {
      this.options.store.commit();
    } catch (err) {
      try {
        this.options.store.rollback();
      } catch {
        // nothing more to undo
      }
      this.counters.storeErrors += acks.length;
      this.log('error', `cannot commit ${acks.length} message(s); not acknowledged, the broker will redeliver: ${(err as Error).message}`);
      this.loadFromStore();
      this.dropConnectionIf(true);
      return;
    }
    for (const a of acks) if (a.generation === this.generation && this.client?.connected) this.sendPacket?.(a.packet);
  }

  /**
   * Handles one message. Throws only when the store fails; every input problem ends in the quarantine.
   * Public so benchmarks and tests can feed messages without a broker.
   */
  ingest(topic: string, payload: Buffer | Uint8Array | string, retained = false): void {
    const nowMs = this.now();
    this.counters.messages++;
    const buf = typeof payload === 'string' ? Buffer.from(payload) : Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (!topic.startsWith(this.prefix + '/')) return;
    const rest = topic.slice(this.prefix.length + 1).split('/');
    if (rest.length !== 2) return;
    const [serial, leaf] = rest;
    if (leaf !== 'state' && leaf !== 'report' && leaf !== 'event') return;
    if (!SERIAL.test(serial)) return this.reject(topic, null, 'bad-topic', `"${serial}" is not a camera serial`, buf, nowMs);
    // An empty retained message clears the topic: nothing to ingest.
    if (buf.length === 0) return;
    if (buf.length > this.maxPayload) return this.reject(topic, serial, 'oversized', `${buf.length} bytes, limit ${this.maxPayload}`, buf, nowMs);
    let body: unknown;
    // Decoded once: a report keeps this text as its camera's latest report_json.
    const text = buf.toString('utf8');
    try {
      body = JSON.parse(text);
    } catch (err) {
      return this.reject(topic, serial, 'not-json', (err as Error).message, buf, nowMs);
    }
    if (leaf === 'state') return this.ingestState(topic, serial, body, buf, nowMs);
    if (leaf === 'event') return this.ingestEvent(topic, serial, body, buf, nowMs);
    return this.ingestReport(topic, serial, body, buf, text, nowMs, retained);
  }

  private reject(topic: string, serial: string | null, reason: string, detail: string, buf: Buffer, nowMs: number): void {
    this.counters.invalid[reason] = (this.counters.invalid[reason] ?? 0) + 1;
    const key = `${serial ?? topic}`;
    if (!this.loggedInvalid.has(key)) {
      this.loggedInvalid.add(key);
      this.log('warn', `quarantined a message on ${topic} (${reason}: ${detail}); further bad messages from ${serial ?? 'this topic'} are counted, not logged`);
    }
    const excerpt = buf.subarray(0, 512).toString('utf8');
    this.options.store.quarantine({ receivedMs: nowMs, topic, serial, reason: `${reason}: ${detail}`.slice(0, 1000), size: buf.length, excerpt });
    this.emit('quarantine', { topic, serial, reason });
  }

  private ingestState(topic: string, serial: string, body: unknown, buf: Buffer, nowMs: number): void {
    const validate = validateState();
    if (!validate(body)) return this.reject(topic, serial, 'schema', describeErrors(validate.errors), buf, nowMs);
    const s = body as { state: 'online' | 'offline' | 'lost'; reason?: string; session: number; at: string };
    const c = this.cam(serial, nowMs);
    const r = c.rec;
    const atMs = Date.parse(s.at);
    // A will from an older connection must not mark a live camera offline. A lower session that says
    // online and is newer means the agent's counter was reset (its state was wiped): follow it.
    let stale = r.session !== null && s.session < r.session && !(s.state === 'online' && c.stateAtMs !== null && atMs > c.stateAtMs);
    // Same session: a retained replay of what we already know changes nothing; online after offline in one session cannot happen.
    if (!stale && r.session !== null && s.session === r.session && s.state === 'online' && r.connection !== 'online' && r.connection !== 'unknown') stale = true;
    this.counters.states++;
    if (stale) this.counters.staleStates++;
    const next = { ...r };
    if (!stale) {
      // The agent's will says state "lost" (issue 3); reason "lost" is the older spelling.
      next.connection = s.state === 'online' ? 'online' : s.state === 'lost' || s.reason === 'lost' ? 'lost' : 'offline';
      next.session = s.session;
      next.stateAt = s.at;
      next.stateReason = s.reason ?? null;
    }
    const store = this.options.store;
    store.transaction(() => {
      store.insertState({ serial, receivedMs: nowMs, state: s.state, reason: s.reason ?? null, session: s.session, at: s.at, stale });
      if (!stale) store.upsertCamera(next);
    });
    if (stale) {
      this.log('info', `${serial}: ignored a stale ${s.state}/${s.reason ?? '?'} from session ${s.session} (current ${r.session})`);
      return;
    }
    c.rec = next;
    c.stateAtMs = atMs;
    this.cams.set(serial, c);
    this.restatus(c, nowMs);
    this.emit('camera', this.view(c));
  }

  private ingestEvent(topic: string, serial: string, body: unknown, buf: Buffer, nowMs: number): void {
    const validate = validateEvent();
    if (!validate(body)) return this.reject(topic, serial, 'schema', describeErrors(validate.errors), buf, nowMs);
    const e = body as { deviceId: string; eventId: string; kind: string };
    if (e.deviceId !== serial) return this.reject(topic, serial, 'serial-mismatch', `event for ${e.deviceId} on ${serial}'s topic`, buf, nowMs);
    this.counters.events++;
    const inserted = this.options.store.insertEvent({ serial, eventId: e.eventId, receivedMs: nowMs, kind: e.kind, json: JSON.stringify(body) });
    if (!inserted) {
      this.counters.duplicates++;
      return;
    }
    this.emit('event', { serial, ...(body as object) });
  }

  private ingestReport(topic: string, serial: string, body: unknown, buf: Buffer, text: string, nowMs: number, retained: boolean): void {
    const validate = validateReport();
    if (!validate(body)) return this.reject(topic, serial, 'schema', describeErrors(validate.errors), buf, nowMs);
    const report = body as Report;
    if (report.deviceId !== serial || report.device.serial !== serial) {
      return this.reject(topic, serial, 'serial-mismatch', `report for ${report.deviceId}/${report.device.serial} on ${serial}'s topic`, buf, nowMs);
    }
    const c = this.cam(serial, nowMs);
    const r = c.rec;
    if (r.lastReportId === report.reportId) return this.duplicate(c);
    const sentMs = Date.parse(report.sentAt);
    // A retained replay may be old: count it as received when it was sent (never later than now).
    const receivedMs = retained && Number.isFinite(sentMs) ? Math.min(sentMs, nowMs) : nowMs;
    const evaluation = evaluate(report, this.options.tables, nowMs);
    const history: HistoryRow = {
      serial, reportId: report.reportId, seq: report.seq, sentAt: report.sentAt, receivedMs, osVersion: report.os.version,
      findings: report.services.findings.length, hardeningScore: evaluation.hardeningScore, integrity: evaluation.integrity,
      support: evaluation.support, advisories: evaluation.advisories.length, queueDepth: report.health.queueDepth,
      heapUsedBytes: report.health.heapUsedBytes, dropped: report.health.dropped,
    };
    const last = r.lastSeq;
    let becomesLatest = true;
    let gap: { fromSeq: number; toSeq: number } | null = null;
    let outOfOrder = false;
    if (last !== null && c.latest) {
      if (report.seq > last + 1) gap = { fromSeq: last + 1, toSeq: report.seq - 1 };
      else if (report.seq <= last) {
        // Older than what we have: history only. Unless the agent restarted from scratch (its seq reset):
        // then it started later and sent later than our newest.
        const reset = Date.parse(report.health.startedAt) > Date.parse(c.latest.health.startedAt) && sentMs > Date.parse(c.latest.sentAt);
        becomesLatest = reset;
        outOfOrder = !reset;
        if (reset) this.log('info', `${serial}: seq went from ${last} to ${report.seq} with a newer agent start; following the new sequence`);
      }
    }
    const store = this.options.store;
    const next: CameraRecord = { ...r, reports: r.reports + 1 };
    if (becomesLatest) {
      Object.assign(next, {
        model: report.device.model, fullName: report.device.fullName, osVersion: report.os.version, lastReportId: report.reportId,
        lastSeq: report.seq, lastSentAt: report.sentAt, lastReportMs: receivedMs, intervalSec: report.intervalSec,
        reportJson: text, evaluationJson: JSON.stringify(evaluation),
      });
    }
    if (gap) next.gaps++;
    if (outOfOrder) next.outOfOrder++;
    const inserted = store.transaction(() => {
      if (!store.insertReport(history)) {
        next.reports = r.reports;
        store.upsertCamera({ ...r, duplicates: r.duplicates + 1 });
        return false;
      }
      if (gap) store.insertGap({ serial, ...gap, detectedMs: nowMs });
      if (outOfOrder) {
        // A late report may fill a recorded gap: shrink or split it.
        const g = store.gaps(serial).find((x) => x.fromSeq <= report.seq && report.seq <= x.toSeq);
        if (g) {
          store.deleteGap(serial, g.fromSeq);
          if (g.fromSeq <= report.seq - 1) store.insertGap({ ...g, toSeq: report.seq - 1 });
          if (report.seq + 1 <= g.toSeq) store.insertGap({ ...g, fromSeq: report.seq + 1 });
        }
      }
      store.upsertCamera(next);
      return true;
    });
    if (!inserted) {
      c.rec = { ...r, duplicates: r.duplicates + 1 };
      this.counters.duplicates++;
      return;
    }
    this.counters.reports++;
    if (gap) {
      this.counters.gaps++;
      this.log('info', `${serial}: seq gap ${gap.fromSeq}–${gap.toSeq}`);
    }
    if (outOfOrder) this.counters.outOfOrder++;
    this.countRate(nowMs);
    c.rec = next;
    if (becomesLatest) {
      c.latest = report;
      c.evaluation = evaluation;
    }
    this.cams.set(serial, c);
    const was = c.status;
    c.status = this.statusOf(c, nowMs);
    if (was !== c.status) this.emit('status', { serial, from: was, to: c.status });
    this.emit('camera', this.view(c));
  }

  private duplicate(c: Cam): void {
    this.counters.duplicates++;
    c.rec = { ...c.rec, duplicates: c.rec.duplicates + 1 };
    this.options.store.upsertCamera(c.rec);
  }

  private countRate(nowMs: number): void {
    const sec = Math.floor(nowMs / 1000);
    const lastBucket = this.rate[this.rate.length - 1];
    if (lastBucket && lastBucket[0] === sec) lastBucket[1]++;
    else {
      this.rate.push([sec, 1]);
      while (this.rate.length > 60) this.rate.shift();
    }
  }
}
