/** A camera's event (integrity drift, new service, …): stored once per eventId and passed on to the listeners. */
import type { IngestOutcome } from '../store/types';
import { describeErrors, validateEvent } from '../validate';
import type { IngestContext, Ingested, Message, Prepared } from './context';
import { quarantine } from './quarantine';

export function prepareEvent(ctx: IngestContext, { topic, serial, body, bytes, text, nowMs }: Message): Prepared {
  const validate = validateEvent();
  if (!validate(body)) return quarantine(ctx, topic, serial, 'schema', describeErrors(validate.errors), bytes, nowMs);
  const e = body as { deviceId: string; eventId: string; kind: string };
  if (e.deviceId !== serial) return quarantine(ctx, topic, serial, 'serial-mismatch', `event for ${e.deviceId} on ${serial}'s topic`, bytes, nowMs);
  return { kind: 'event', serial, body: body as object, item: { kind: 'event', serial, nowMs, eventId: e.eventId, eventKind: e.kind, json: text } };
}

export function appliedEvent(ctx: IngestContext, p: Extract<Prepared, { kind: 'event' }>, outcome: IngestOutcome): Ingested {
  ctx.counters.events++;
  if (outcome.result === 'duplicate') {
    ctx.counters.duplicates++;
    // The alerts raise what a consumer stopped before its PUBACK may not have raised.
    ctx.notify('event-redelivered', { serial: p.serial, ...p.body });
    return { result: 'duplicate' };
  }
  ctx.notify('event', { serial: p.serial, ...p.body });
  return { result: 'stored' };
}
