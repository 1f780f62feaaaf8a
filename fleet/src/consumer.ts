/**
 * The fleet consumer: subscribes to every camera's state, report and event topics, validates each payload,
 * has the store decide (duplicate, gap, out of order, stale will) and commit, and only then sends the PUBACK
 * (at-least-once; shared/reference/mqtt.md). Consumers sharing a subscription over one PostgreSQL keep one truth:
 * the decisions are the store's, and each consumer's view follows the others' writes (store.watch). Input never crashes it: a bad payload is counted, logged once per
 * camera, quarantined with its reason, and acknowledged (a poison pill must not be redelivered forever). A store
 * failure is the opposite: no PUBACK, so the broker redelivers.
 * This file puts the parts together: subscriber.ts (MQTT), ingest/ (the decisions), fleet-view.ts, status-sweep.ts.
 */
import { EventEmitter } from 'node:events';
import type { Report } from '../../agent/src/report/types';
import { buildWorklist, entryActions } from './actions/worklist';
import type { Action, Worklist } from './actions/types';
import type { Tables } from './data';
import { evaluate } from './evaluate';
import { cameraView, type CameraEntry, type CameraView, type FleetCounts } from './fleet-view';
import { ingestBatch } from './ingest/batch';
import type { BrokerDrops } from './broker-drops';
import { DEFAULT_MAX_PAYLOAD, ingestContext, type Counters, type IngestContext, type Ingested, type RawMessage } from './ingest/context';
import { setRetired } from './retire';
import { silentLog, type FleetLog } from './log';
import { statusOf, sweep } from './status-sweep';
import type { FleetStore, StoreChange } from './store/types';
import { FleetSubscriber } from './subscriber';
import type { BrokerTls } from './broker-flags';

export { CAMERA_STATUSES, type CameraStatus, type CameraView } from './fleet-view';
export type { Counters } from './ingest/context';

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
  /** CA, client certificate and key for mqtts:// (PEM). */
  tls?: BrokerTls;
  /** false: a broker that cannot be reached at start rejects start() at once instead of being waited for. */
  waitForBroker?: boolean;
  /** 4 (MQTT 3.1.1, what Aedes speaks) or 5; shared subscriptions default to 5. */
  protocolVersion?: 4 | 5;
  /** Larger payloads are quarantined as oversized. Default 128 KiB (twice the agent's default limit). */
  maxPayloadBytes?: number;
  /** Watch the broker's dropped-message count (Mosquitto $SYS) and warn when it rises. Default true. */
  watchBrokerDrops?: boolean;
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

/** Told of each camera change (alerts/engine.ts), before the `camera` event; a batch waits for what it returns. */
export interface CameraObserver {
  /** After a stored report or state, a status change, a retirement, another consumer's change (any `camera` notice). */
  changed(entry: CameraEntry): Promise<unknown> | void;
  /** After the view was rebuilt from the store. */
  reloaded(): void;
  /** After a camera's event was stored (by this consumer or another), or came again (`redelivered`). */
  event?(serial: string, event: Record<string, unknown>, redelivered: boolean): Promise<unknown> | void;
}

/**
 * On MQTT 5 the consumer tells the broker not to send packets past this many times --max-payload: what is a little
 * too large still arrives and is quarantined as oversized (counted, shown per camera); what is far larger (a
 * 100 MB publish) is dropped by the broker and never buffered here.
 */
export const PACKET_LIMIT_FACTOR = 8;

export class FleetConsumer extends EventEmitter {
  readonly prefix: string;
  readonly counters: Counters;
  private readonly ctx: IngestContext;
  private readonly now: () => number;
  private readonly subscriber: FleetSubscriber;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly observers: CameraObserver[] = [];
  /** What observers are doing about the changes so far (a batch waits for them before its PUBACKs). */
  private observing: Array<Promise<unknown>> = [];
  /** View updates in order: a batch's outcomes and other consumers' changes never overtake each other. */
  private viewQueue: Promise<unknown> = Promise.resolve();
  private readonly loaded: Promise<void>;

  constructor(private readonly options: ConsumerOptions) {
    super();
    this.now = options.now ?? Date.now;
    const log = options.log ?? silentLog;
    this.ctx = ingestContext({
      store: options.store, tables: options.tables, prefix: options.prefix, maxPayloadBytes: options.maxPayloadBytes,
      missingIntervals: options.missingIntervals, log, notify: (notice, payload) => {
        if (notice === 'camera' && this.observers.length) {
          const entry = this.ctx.view.get((payload as CameraView).serial);
          if (entry) {
            for (const o of this.observers) {
              const p = o.changed(entry);
              if (p) this.observing.push(p);
            }
          }
        }
        if (notice === 'event' || notice === 'event-redelivered') {
          const e = payload as { serial: string } & Record<string, unknown>;
          for (const o of this.observers) {
            const p = o.event?.(e.serial, e, notice === 'event-redelivered');
            if (p) this.observing.push(p);
          }
        }
        this.emit(notice, payload);
      },
    });
    this.prefix = this.ctx.prefix;
    this.counters = this.ctx.counters;
    this.loaded = this.loadFromStore();
    this.loaded.catch(() => undefined);
    this.subscriber = new FleetSubscriber({
      brokerUrl: options.brokerUrl, filters: this.filters(), clientId: options.clientId, clean: options.clean, username: options.username,
      password: options.password, tls: options.tls, waitForBroker: options.waitForBroker, protocolVersion: options.protocolVersion ?? (options.shared ? 5 : 4), batchMax: Math.max(1, options.batchMax ?? 256),
      counters: this.counters, log, now: this.now, watchBrokerDrops: options.watchBrokerDrops,
      maxPacketBytes: (options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD) * PACKET_LIMIT_FACTOR,
      ingest: (batch) => this.ingestBatch(batch),
      reload: () => this.loadFromStore(),
    });
  }

  /** (Re)builds the in-memory view from the store: at start, and after a failed batch commit. */
  private loadFromStore(): Promise<void> {
    return this.inOrder(async () => {
      const records = await this.options.store.loadCameras();
      this.ctx.view.load(records, this.ctx.tables, this.now(), (c, nowMs) => statusOf(c, nowMs, this.ctx.missingIntervals));
      for (const o of this.observers ?? []) o.reloaded();
    });
  }

  /** Runs fn after every view update queued before it. */
  private inOrder<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.viewQueue.then(fn, fn);
    this.viewQueue = run.catch(() => undefined);
    return run;
  }

  /** Another consumer wrote these cameras or events: the view and the listeners follow (PostgreSQL LISTEN/NOTIFY). */
  private followChange(change: StoreChange): Promise<void> {
    return this.inOrder(async () => {
      const store = this.options.store;
      const nowMs = this.now();
      const records = change.cameras.length ? await store.camerasOf(change.cameras) : [];
      for (const c of this.ctx.view.refresh(records, this.ctx.tables, nowMs, (e, t) => statusOf(e, t, this.ctx.missingIntervals))) {
        this.ctx.notify('camera', cameraView(c));
      }
      for (const k of change.events) {
        const e = await store.event(k.serial, k.eventId);
        if (e) this.ctx.notify('event', { serial: e.serial, ...(JSON.parse(e.json) as object) });
      }
      await this.settleObservers();
    });
  }

  /** Resolves once every view update queued so far and what the observers (alerts) do about it are done. */
  settled(): Promise<void> {
    return this.inOrder(() => this.settleObservers());
  }

  private async settleObservers(): Promise<void> {
    while (this.observing.length) await Promise.allSettled(this.observing.splice(0));
  }

  observe(o: CameraObserver): void {
    this.observers.push(o);
  }

  /** The view's entries (record, latest report, evaluation, status), for observers that check every camera. */
  entries(): IterableIterator<CameraEntry> {
    return this.ctx.view.entries();
  }

  /** The lifecycle, advisory and action tables in use. */
  get tables(): Tables {
    return this.ctx.tables;
  }

  /**
   * Uses new tables (a data update, already validated): every camera is evaluated again, and each whose evaluation
   * changed is announced (`camera`), so alerts and the dashboard follow without a restart.
   */
  reloadTables(tables: Tables, nowMs = this.now()): number {
    this.ctx.tables = tables;
    let changed = 0;
    for (const c of this.ctx.view.entries()) {
      if (!c.latest) continue;
      const before = JSON.stringify(c.evaluation);
      c.evaluation = evaluate(c.latest, tables, nowMs);
      if (JSON.stringify(c.evaluation) !== before) {
        changed++;
        this.ctx.notify('camera', cameraView(c));
      }
    }
    this.emit('tables', { lifecycle: tables.lifecycle.updated, advisories: tables.advisories.updated, actions: tables.actions.updated, changed });
    return changed;
  }

  /** The fleet's actions, ranked by risk, retired cameras left out (actions/worklist.ts; filters: worklist-query.ts). */
  worklist(): Worklist {
    return buildWorklist(this.ctx.view.entries(), this.ctx.tables, this.now(), (c) => c.rec.retiredMs != null);
  }

  /** One camera's actions, most urgent first; null for an unknown camera. */
  actionsFor(serial: string): Action[] | null {
    const c = this.ctx.view.get(serial);
    return c ? entryActions(c, this.ctx.tables, this.now()) : null;
  }

  /**
   * Retires a camera (ms) or puts it back in service (null): stored, in the view, and told as a `camera`
   * notice. Null when the camera is unknown.
   */
  retire(serial: string, retiredMs: number | null, reason: string | null = null): Promise<CameraView | null> {
    return this.inOrder(async () => {
      const view = await setRetired(this.ctx, serial, retiredMs, reason);
      await this.settleObservers();
      return view;
    });
  }

  /** Publishes on the consumer's own broker connection (QoS 1, not retained); the alert sink uses it. */
  publish(topic: string, payload: string, timeoutMs = 10_000): Promise<void> {
    return this.subscriber.publish(topic, payload, timeoutMs);
  }

  /** The topic filters this consumer subscribes to. */
  filters(): string[] {
    const base = ['state', 'report', 'event'].map((leaf) => `${this.prefix}/+/${leaf}`);
    return this.options.shared ? base.map((f) => `$share/${this.options.shared}/${f}`) : base;
  }

  async start(): Promise<void> {
    await this.loaded;
    await this.options.store.watch((change) => {
      this.followChange(change).catch((err) => this.options.log?.('error', `cannot follow another consumer's change: ${(err as Error).message}`));
    });
    await this.subscriber.start();
    const sweepMs = this.options.sweepMs ?? 5000;
    if (sweepMs > 0) this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    await this.subscriber.stop();
  }

  get connected(): boolean {
    return this.subscriber.connected;
  }

  /** What the broker says it dropped (Mosquitto's $SYS count; total null when it never said). */
  get brokerDrops(): BrokerDrops {
    return this.subscriber.brokerDrops;
  }

  cameras(): CameraView[] {
    return this.ctx.view.cameras();
  }

  camera(serial: string): (CameraView & { report: Report | null }) | null {
    return this.ctx.view.camera(serial);
  }

  /** The view's entries as they are (the table pages and prunes from them without copying every camera). */
  cameraEntries(): IterableIterator<CameraEntry> {
    return this.ctx.view.entries();
  }

  cameraEntry(serial: string): CameraEntry | undefined {
    return this.ctx.view.get(serial);
  }

  counts(): FleetCounts {
    return this.ctx.view.counts();
  }

  /** Reports ingested per second over the last 60 seconds. */
  ingestRate(): number {
    return this.ctx.rate.perSecond(this.now());
  }

  /** Re-derives every camera's status (missing after N intervals); emits `camera` for each change. */
  sweep(nowMs = this.now()): void {
    sweep(this.ctx, nowMs);
  }

  /**
   * Handles one message (a batch of one). Rejects only when the store fails; every input problem ends in the
   * quarantine. Public so benchmarks and tests can feed messages without a broker.
   */
  async ingest(topic: string, payload: Buffer | Uint8Array | string, retained = false): Promise<Ingested> {
    return (await this.ingestBatch([{ topic, payload, retained }]))[0];
  }

  /** Decides and stores a batch in one store transaction, then updates the view; resolves after the observers (alerts). */
  ingestBatch(batch: RawMessage[]): Promise<Ingested[]> {
    return this.inOrder(async () => {
      await this.loaded;
      const results = await ingestBatch(this.ctx, batch, this.now());
      await this.settleObservers();
      return results;
    });
  }
}
