/**
 * Delivers stored alerts from the durable outbox (the store's alert_deliveries): each pending delivery is
 * tried when due, and after a failure again with exponential backoff, up to maxAttempts, then given up
 * (status failed, counted). The outbox is in the store, so a restarted consumer resumes where it was.
 * It only reads the outbox outside a transaction: rows written in an open ingest batch are not committed
 * yet. Delivery is asynchronous and bounded in concurrency: a failing or slow receiver never blocks ingest.
 * At least once: a receiver deduplicates by the alert id (a crash between its answer and our write resends).
 */
import type { FleetLog } from '../log';
import type { DeliveryRow, FleetStore } from '../store/types';
import type { DeliveryPolicy } from './rules';
import { redactUrl } from './webhook';

export interface AlertSink {
  /** What the outbox rows name: `webhook:<url>`, `mqtt`. */
  id: string;
  kind: 'webhook' | 'mqtt';
  /** Resolves when the receiver took it; rejects (with why) otherwise. */
  deliver(body: string, alertId: string, attempt: number): Promise<void>;
}

export interface DispatcherOptions {
  store: FleetStore;
  sinks: AlertSink[];
  policy: DeliveryPolicy;
  now: () => number;
  log: FleetLog;
  /** Deliveries in flight at most. Default 4. */
  concurrency?: number;
  /** The timer looks at the outbox at least this often while deliveries are pending (an injected clock may jump). Default 1000. */
  pollMs?: number;
}

export interface DeliveryCounters {
  delivered: Record<string, number>;
  /** Given up after maxAttempts. */
  failed: Record<string, number>;
  /** Attempts that failed (each retry counts). */
  attemptsFailed: Record<string, number>;
}

/** The delay before attempt n+1 after n failed ones: base, 2 × base, 4 × base … up to max. */
export function backoffMs(policy: DeliveryPolicy, failedAttempts: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failedAttempts - 1));
}

export const sinkLabel = (id: string): string => (id.startsWith('webhook:') ? `webhook ${redactUrl(id.slice('webhook:'.length))}` : id);

export class AlertDispatcher {
  readonly counters: DeliveryCounters = { delivered: {}, failed: {}, attemptsFailed: {} };
  private readonly sinks: Map<string, AlertSink>;
  private readonly inFlight = new Map<number, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private closed = false;

  constructor(private readonly o: DispatcherOptions) {
    this.sinks = new Map(o.sinks.map((s) => [s.id, s]));
  }

  get sinkIds(): string[] {
    return [...this.sinks.keys()];
  }

  start(): void {
    this.stopped = false;
    this.closed = false;
    this.kick();
  }

  /** Waits for the deliveries in flight; sends nothing more. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Look at the outbox soon (a new alert was stored). */
  kick(): void {
    if (this.stopped) return;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopped) return;
      this.startDue()
        .then(async (started) => {
          // Everything due is in flight: the end of each delivery looks again (no busy loop on rows already being sent).
          if (started.length === 0 && this.inFlight.size > 0) return;
          await this.scheduleNext();
        })
        .catch((err) => {
          this.o.log('error', `alerts: cannot read the outbox, will try again: ${(err as Error).message}`);
          if (!this.stopped && !this.timer) this.schedule(this.o.pollMs ?? 1000);
        });
    }, Math.max(0, delayMs));
  }

  private async scheduleNext(): Promise<void> {
    if (this.stopped || this.timer) return;
    const next = await this.o.store.nextDeliveryMs();
    if (next === null || this.stopped || this.timer) return;
    this.schedule(Math.min(Math.max(0, next - this.o.now()), this.o.pollMs ?? 1000));
  }

  /**
   * Claims the due deliveries, up to the concurrency, and starts them; a slow receiver holds one slot, not the others.
   * The claim's lease (a few delivery timeouts) keeps another consumer of the same store from sending them too.
   */
  private async startDue(): Promise<Array<Promise<void>>> {
    const free = (this.o.concurrency ?? 4) - this.inFlight.size;
    if (free <= 0) return [];
    const leaseMs = Math.max(60_000, 3 * this.o.policy.timeoutMs);
    const due = (await this.o.store.claimDeliveries(this.o.now(), free, leaseMs)).filter((d) => !this.inFlight.has(d.id));
    return due.map((d) => {
      const p = this.attempt(d).finally(() => {
        this.inFlight.delete(d.id);
        this.kick();
      });
      this.inFlight.set(d.id, p);
      return p;
    });
  }

  /** Starts every due delivery (up to the concurrency) and resolves when those have settled. Tests with an injected clock call it directly. */
  async runDue(): Promise<number> {
    if (this.closed) return 0;
    const started = await this.startDue();
    await Promise.allSettled(started);
    return started.length;
  }

  private async attempt(d: DeliveryRow & { json: string }): Promise<void> {
    const sink = this.sinks.get(d.sink);
    const attempts = d.attempts + 1;
    if (!sink) {
      this.o.log('warn', `alerts: ${sinkLabel(d.sink)} is no longer configured; delivery of alert ${d.alertId} given up`);
      await this.settle({ ...d, status: 'failed', attempts: d.attempts, lastError: 'sink no longer configured', doneMs: this.o.now() });
      return;
    }
    let error: string | null = null;
    try {
      await sink.deliver(d.json, d.alertId, attempts);
    } catch (err) {
      error = (err as Error).message || String(err);
    }
    const nowMs = this.o.now();
    const kind = sink.kind;
    if (error === null) {
      this.counters.delivered[kind] = (this.counters.delivered[kind] ?? 0) + 1;
      await this.settle({ ...d, status: 'delivered', attempts, lastError: null, doneMs: nowMs });
      return;
    }
    this.counters.attemptsFailed[kind] = (this.counters.attemptsFailed[kind] ?? 0) + 1;
    if (attempts >= this.o.policy.maxAttempts) {
      this.counters.failed[kind] = (this.counters.failed[kind] ?? 0) + 1;
      this.o.log('error', `alerts: gave up delivering alert ${d.alertId} to ${sinkLabel(d.sink)} after ${attempts} attempts: ${error}`);
      await this.settle({ ...d, status: 'failed', attempts, lastError: error, doneMs: nowMs });
      return;
    }
    const delay = backoffMs(this.o.policy, attempts);
    this.o.log(attempts === 1 ? 'warn' : 'debug', `alerts: delivery of alert ${d.alertId} to ${sinkLabel(d.sink)} failed (attempt ${attempts}): ${error}; next try in ${delay} ms`);
    await this.settle({ ...d, status: 'pending', attempts, nextMs: nowMs + delay, lastError: error.slice(0, 500), doneMs: null });
  }

  private async settle(d: Pick<DeliveryRow, 'id' | 'status' | 'attempts' | 'nextMs' | 'lastError' | 'doneMs'>): Promise<void> {
    try {
      await this.o.store.updateDelivery(d);
    } catch (err) {
      // The row stays as it was: it is tried again after its lease (at least once, never lost).
      this.o.log('error', `alerts: cannot record delivery ${d.id}: ${(err as Error).message}`);
    }
  }
}
