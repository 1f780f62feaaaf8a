/**
 * The quarantine: a bad message is logged once per camera (or topic), stored with its reason and an excerpt for
 * a human in the same batch as the rest, counted once stored, and acknowledged (a poison pill must not be
 * redelivered forever).
 */
import type { IngestContext, Ingested, Prepared } from './context';

/** Topics are kept and logged up to this many characters: a broker may allow 64 KiB topics. */
export const MAX_TOPIC_KEPT = 256;
/** Cameras or topics remembered as logged; past this, bad messages are only counted (random topics cannot grow memory). */
export const MAX_LOGGED_INVALID = 10_000;

export function quarantine(ctx: IngestContext, fullTopic: string, serial: string | null, reason: string, detail: string, bytes: Buffer, nowMs: number): Prepared {
  const topic = fullTopic.length > MAX_TOPIC_KEPT ? `${fullTopic.slice(0, MAX_TOPIC_KEPT)}… (${fullTopic.length} characters)` : fullTopic;
  logOnce(ctx, serial ?? topic, `quarantined a message on ${topic} (${reason}: ${detail}); further bad messages from ${serial ?? 'this topic'} are counted, not logged`);
  const excerpt = bytes.subarray(0, 512).toString('utf8');
  const row = { receivedMs: nowMs, topic, serial, reason: `${reason}: ${detail}`.slice(0, 1000), size: bytes.length, excerpt };
  return { kind: 'quarantine', item: { kind: 'quarantine', row }, topic, serial, reason };
}

/** Logs the first bad message of a camera (or topic); the rest are only counted. */
export function logOnce(ctx: IngestContext, key: string, message: string): void {
  if (!ctx.loggedInvalid.has(key) && ctx.loggedInvalid.size < MAX_LOGGED_INVALID) {
    ctx.loggedInvalid.add(key);
    ctx.log('warn', message);
  }
}

/** After the commit: counted and told. */
export function quarantined(ctx: IngestContext, p: Extract<Prepared, { kind: 'quarantine' }>): Ingested {
  ctx.counters.invalid[p.reason] = (ctx.counters.invalid[p.reason] ?? 0) + 1;
  ctx.notify('quarantine', { topic: p.topic, serial: p.serial, reason: p.reason });
  return { result: 'quarantined', reason: p.reason };
}
