/** A camera's event (integrity drift, new service, …): stored once per eventId and passed on to the listeners. */
import { describeErrors, validateEvent } from '../validate';
import type { IngestContext, Ingested, Message } from './context';
import { quarantine } from './quarantine';

export function ingestEvent(ctx: IngestContext, { topic, serial, body, bytes, text, nowMs }: Message): Ingested {
  const validate = validateEvent();
  if (!validate(body)) return quarantine(ctx, topic, serial, 'schema', describeErrors(validate.errors), bytes, nowMs);
  const e = body as { deviceId: string; eventId: string; kind: string };
  if (e.deviceId !== serial) return quarantine(ctx, topic, serial, 'serial-mismatch', `event for ${e.deviceId} on ${serial}'s topic`, bytes, nowMs);
  ctx.counters.events++;
  const inserted = ctx.store.insertEvent({ serial, eventId: e.eventId, receivedMs: nowMs, kind: e.kind, json: text });
  if (!inserted) {
    ctx.counters.duplicates++;
    return { result: 'duplicate' };
  }
  ctx.notify('event', { serial, ...(body as object) });
  return { result: 'stored' };
}
