/**
 * The broker's own count of messages it dropped: Mosquitto's `$SYS/broker/publish/messages/dropped` (a total
 * since the broker started, republished every sys_interval when it changed, retained with a 60 s message expiry:
 * measured, a subscriber 70 s after the last change gets nothing, so a consumer that starts later learns the
 * total only at its next change, as a total that includes what came before). Past max_queued_messages
 * Mosquitto drops a QoS 1 report it has already PUBACKed to the camera, which then deleted it from its outbox:
 * this counter is the only sign of that loss, so a rise is a warning (at most one a minute, the rest summed into
 * the next), and /metrics and /healthz show the total. Brokers without this topic (Aedes, EMQX) leave it unknown.
 */
import type { FleetLog } from './log';

export const BROKER_DROPPED_TOPIC = '$SYS/broker/publish/messages/dropped';
/** At most one drop warning this often; what is dropped meanwhile is summed into the next one. */
export const DROP_WARNING_INTERVAL_MS = 60_000;

export interface BrokerDrops {
  /** The broker's total as last reported; null until it has said (or when it never does). */
  total: number | null;
  /** Drops this consumer has seen (including what the broker had dropped when the consumer started). */
  seen: number;
}

export function dropWarning(n: number, total: number, beforeStart: boolean): string {
  return `the broker dropped ${n} message${n === 1 ? '' : 's'}${beforeStart ? ' before this consumer connected' : ''} ` +
    `(${BROKER_DROPPED_TOPIC} = ${total}): messages it had acknowledged to the cameras are lost, reports among them ` +
    'if this consumer was away or slow; raise max_queued_messages / max_inflight_messages (docs/broker-acl.md)';
}

export class BrokerDropWatch {
  private total: number | null = null;
  private seen = 0;
  /** Drops not yet in a warning, and whether they include the total found at start. */
  private unwarned = 0;
  private unwarnedAtStart = false;
  private lastWarnAt = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  private badLogged = false;
  private silence: NodeJS.Timeout | null = null;

  constructor(private readonly log: FleetLog, private readonly now: () => number) {}

  get drops(): BrokerDrops {
    return { total: this.total, seen: this.seen };
  }

  /**
   * After subscribing: Mosquitto sends the retained count at once, but grants a subscription its ACL denies and
   * then sends nothing; other brokers have no such topic. Either way, say once that drops would go unnoticed.
   */
  expectCount(withinMs: number): void {
    if (this.total !== null || this.silence) return;
    this.silence = setTimeout(() => {
      if (this.total === null) {
        this.log('info', `the broker has not published ${BROKER_DROPPED_TOPIC} (Mosquitto sends it only within 60 s of a change; or not Mosquitto, sys_interval 0, ` +
          'or the ACL does not let this user read it): drops past its queue limits show from the next change on, or go unnoticed; ' +
          'a report lost meanwhile still shows as a gap in its camera\'s seq (docs/broker-acl.md)');
      }
    }, withinMs);
    this.silence.unref();
  }

  /** One `$SYS/…/dropped` payload: a decimal count. Anything else is logged once and ignored. */
  update(payload: Buffer | Uint8Array | string): void {
    if (this.silence) clearTimeout(this.silence);
    const text = Buffer.from(payload).toString('utf8').trim();
    if (!/^\d{1,15}$/.test(text)) {
      if (!this.badLogged) this.log('warn', `ignoring ${BROKER_DROPPED_TOPIC} "${text.slice(0, 40)}": not a count`);
      this.badLogged = true;
      return;
    }
    const value = Number(text);
    const previous = this.total;
    this.total = value;
    // The first value, or a lower one (the broker restarted and counts from 0 again), is all new to this consumer.
    const rise = previous === null || value < previous ? value : value - previous;
    if (rise <= 0) return;
    this.seen += rise;
    this.unwarned += rise;
    if (previous === null) this.unwarnedAtStart = true;
    this.warnWhenDue();
  }

  stop(): void {
    if (this.silence) clearTimeout(this.silence);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private warnWhenDue(): void {
    if (this.timer) return;
    const wait = this.lastWarnAt + DROP_WARNING_INTERVAL_MS - this.now();
    if (wait <= 0) return this.warn();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.warn();
    }, wait);
    this.timer.unref();
  }

  private warn(): void {
    if (!this.unwarned || this.total === null) return;
    this.log('warn', dropWarning(this.unwarned, this.total, this.unwarnedAtStart));
    this.lastWarnAt = this.now();
    this.unwarned = 0;
    this.unwarnedAtStart = false;
  }
}
