/**
 * A camera's retained state (online, offline, lost) with its session counter: a will from an older connection
 * must not mark a live camera offline (decided in the store: store/decide.ts).
 */
import { cameraView } from '../fleet-view';
import { restatus } from '../status-sweep';
import type { IngestOutcome, StateItem } from '../store/types';
import { describeErrors, validateState } from '../validate';
import type { IngestContext, Ingested, Message, Prepared } from './context';
import { quarantine } from './quarantine';

export function prepareState(ctx: IngestContext, { topic, serial, body, bytes, nowMs }: Message): Prepared {
  const validate = validateState();
  if (!validate(body)) return quarantine(ctx, topic, serial, 'schema', describeErrors(validate.errors), bytes, nowMs);
  const s = body as { state: 'online' | 'offline' | 'lost'; reason?: string; session: number; at: string };
  return { kind: 'state', serial, item: { kind: 'state', serial, nowMs, state: s.state, reason: s.reason ?? null, session: s.session, at: s.at } };
}

export function appliedState(ctx: IngestContext, p: Extract<Prepared, { kind: 'state' }>, outcome: IngestOutcome): Ingested {
  if (outcome.kind !== 'state') throw new Error(`[vigil] [fleet] the store answered a state with a ${outcome.kind} outcome`);
  const s = p.item as StateItem;
  ctx.counters.states++;
  if (outcome.result === 'stale') {
    ctx.counters.staleStates++;
    ctx.log('info', `${p.serial}: ignored a stale ${s.state}/${s.reason ?? '?'} from session ${s.session} (current ${outcome.camera.session})`);
    return { result: 'stale' };
  }
  const c = ctx.view.entry(p.serial, s.nowMs);
  c.rec = outcome.camera;
  c.stateAtMs = Date.parse(s.at);
  ctx.view.set(c);
  restatus(ctx, c, s.nowMs);
  ctx.notify('camera', cameraView(c));
  return { result: 'stored' };
}
