/**
 * The alerts of one fleet consumer put together: the engine observes every camera change and event, the dispatcher
 * delivers from the outbox to the webhooks and to MQTT, a timer re-checks every camera as time passes.
 * startFleet makes one; `reconcileAll` re-checks every camera on demand (after a data reload).
 */
import { EventEmitter } from 'node:events';
import type { CameraObserver, FleetConsumer } from '../consumer';
import type { FleetLog } from '../log';
import type { FleetStore } from '../store/types';
import { AlertDispatcher, sinkLabel, type AlertSink } from './dispatcher';
import { AlertEngine, type Alert } from './engine';
import { mqttSink } from './mqtt-sink';
import { loadAlertRules, type AlertRules, type DeliveryPolicy } from './rules';
import { webhookSink } from './webhook';

export interface AlertOptions {
  /** Webhook URLs (http:// or https://); each gets every alert. */
  webhooks?: string[];
  /** HMAC-SHA256 key for the signature header; null/undefined: webhooks are sent unsigned (warned at start). */
  webhookSecret?: string | null;
  /** support-ending at this many days left or fewer; default alerts.json's supportEndingDays, else lifecycle.json's endingSoonDays. */
  supportEndingDays?: number;
  /** Default alerts.json's quietMinutes. */
  quietMinutes?: number;
  /** Publish alerts on `<prefix>/fleet/alert`. Default true. */
  mqtt?: boolean;
  /** Default fleet/data/alerts.json. */
  rules?: AlertRules;
  /** Over alerts.json's delivery policy (tests use small delays). */
  delivery?: Partial<DeliveryPolicy>;
  /** How often every camera is checked again, ms; default alerts.json's reconcileSec; 0: no timer. */
  reconcileMs?: number;
  /** The dispatcher's longest sleep while deliveries are pending, ms (default 1000). */
  pollMs?: number;
}

/** Emits `alert` (an Alert) for each alert raised, once stored (for live views; it commits with the ingest batch). */
export class FleetAlerts extends EventEmitter {
  readonly engine: AlertEngine;
  readonly dispatcher: AlertDispatcher;
  readonly rules: AlertRules;
  private timer: NodeJS.Timeout | null = null;
  private readonly reconcileMs: number;

  constructor(private readonly o: { consumer: FleetConsumer; store: FleetStore; now: () => number; log: FleetLog; options?: AlertOptions }) {
    super();
    const options = o.options ?? {};
    const rules = (this.rules = options.rules ?? loadAlertRules());
    const policy: DeliveryPolicy = { ...rules.delivery, ...(options.delivery ?? {}) };
    const secret = options.webhookSecret ?? null;
    const sinks: AlertSink[] = (options.webhooks ?? []).map((url) => webhookSink({ url, secret, timeoutMs: policy.timeoutMs, now: o.now }));
    if (sinks.length && secret === null) o.log('warn', 'alerts: no webhook secret (VIGIL_WEBHOOK_SECRET or --webhook-secret-file): webhooks are sent unsigned');
    if (options.mqtt ?? true) sinks.push(mqttSink({ prefix: o.consumer.prefix, publish: (t, p, ms) => o.consumer.publish(t, p, ms), timeoutMs: policy.timeoutMs }));
    this.dispatcher = new AlertDispatcher({ store: o.store, sinks, policy, now: o.now, log: o.log, pollMs: options.pollMs });
    const days = options.supportEndingDays ?? rules.supportEndingDays;
    this.engine = new AlertEngine({
      store: o.store, rules, sinks: this.dispatcher.sinkIds, log: o.log,
      supportEndingDays: () => days ?? o.consumer.tables.lifecycle.endingSoonDays,
      quietMs: (options.quietMinutes ?? rules.quietMinutes) * 60_000,
      onRaised: (a: Alert) => {
        o.log('info', `alert ${a.kind} (${a.severity}): ${a.summary}`);
        this.emit('alert', a);
      },
    });
    this.reconcileMs = options.reconcileMs ?? rules.reconcileSec * 1000;
    const observer: CameraObserver = {
      changed: async (entry) => {
        if ((await this.engine.check(entry, o.now())).length) this.dispatcher.kick();
      },
      reloaded: () => {
        this.engine.load().catch((err) => o.log('error', `alerts: cannot read the stored conditions: ${(err as Error).message}`));
      },
      event: async (serial, e, redelivered) => {
        if ((await this.engine.raiseForEvent(serial, e, o.now(), redelivered)).length) this.dispatcher.kick();
      },
    };
    o.consumer.observe(observer);
    if (sinks.length) o.log('info', `alerts go to ${sinks.map((s) => sinkLabel(s.id)).join(', ')}`);
  }

  /** Checks every camera now (at start, after a data reload); returns the alerts raised. */
  async reconcileAll(nowMs = this.o.now()): Promise<Alert[]> {
    const raised = await this.engine.reconcileAll(this.o.consumer.entries(), nowMs);
    if (raised.length) this.dispatcher.kick();
    return raised;
  }

  /** Reads the stored conditions, reconciles once, starts delivering and the periodic re-check. */
  async start(): Promise<void> {
    await this.engine.load();
    await this.reconcileAll();
    this.dispatcher.start();
    if (this.reconcileMs > 0) {
      this.timer = setInterval(() => void this.reconcileAll(), this.reconcileMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.dispatcher.stop();
  }
}
