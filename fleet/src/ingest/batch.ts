/**
 * A batch of messages: each checked (prepareMessage), all decided and written by the store in one transaction,
 * then the view, counters and listeners follow the outcomes in order. Throws only when the store fails (nothing
 * was written: the caller must not acknowledge); a fault of ours on one input quarantines that message as
 * `internal` (redelivery would only repeat it).
 */
import type { IngestOutcome } from '../store/types';
import type { IngestContext, Ingested, Prepared, RawMessage } from './context';
import { appliedEvent } from './event';
import { prepareMessage } from './message';
import { quarantine, quarantined } from './quarantine';
import { appliedReport } from './report';
import { appliedState } from './state';

export async function ingestBatch(ctx: IngestContext, messages: RawMessage[], nowMs: number): Promise<Ingested[]> {
  const prepared = messages.map((m) => prepareOrQuarantine(ctx, m, nowMs));
  const items = prepared.flatMap((p) => (p.kind === 'ignored' ? [] : [p.item]));
  const outcomes = items.length ? await ctx.store.ingest(items) : [];
  if (outcomes.length !== items.length) throw new Error(`[vigil] [fleet] the store answered ${outcomes.length} outcomes for ${items.length} messages`);
  let i = 0;
  return prepared.map((p) => (p.kind === 'ignored' ? { result: 'ignored' as const } : applied(ctx, p, outcomes[i++])));
}

function prepareOrQuarantine(ctx: IngestContext, m: RawMessage, nowMs: number): Prepared {
  try {
    return prepareMessage(ctx, m.topic, m.payload, nowMs, m.retained);
  } catch (err) {
    ctx.log('error', `cannot handle a message from ${m.topic}: ${(err as Error).stack ?? err}`);
    const bytes = Buffer.from(m.payload as Uint8Array);
    return quarantine(ctx, m.topic, null, 'internal', (err as Error).message, bytes, nowMs);
  }
}

/** Committed already: a fault here is logged and the message stays acknowledged (it is stored). */
function applied(ctx: IngestContext, p: Exclude<Prepared, { kind: 'ignored' }>, outcome: IngestOutcome): Ingested {
  try {
    if (p.kind === 'quarantine') return quarantined(ctx, p);
    if (p.kind === 'report') return appliedReport(ctx, p, outcome);
    if (p.kind === 'state') return appliedState(ctx, p, outcome);
    return appliedEvent(ctx, p, outcome);
  } catch (err) {
    ctx.log('error', `stored a message of ${p.kind === 'quarantine' ? p.topic : p.serial} but cannot show it: ${(err as Error).stack ?? err}`);
    return { result: 'stored' };
  }
}
