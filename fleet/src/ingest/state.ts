/**
 * A camera's retained state (online, offline, lost) with its session counter: a will from an older connection
 * must not mark a live camera offline.
 */
import { cameraView } from '../fleet-view';
import { restatus } from '../status-sweep';
import { describeErrors, validateState } from '../validate';
import type { IngestContext, Ingested, Message } from './context';
import { quarantine } from './quarantine';

export function ingestState(ctx: IngestContext, { topic, serial, body, bytes, nowMs }: Message): Ingested {
  const validate = validateState();
  if (!validate(body)) return quarantine(ctx, topic, serial, 'schema', describeErrors(validate.errors), bytes, nowMs);
  const s = body as { state: 'online' | 'offline' | 'lost'; reason?: string; session: number; at: string };
  const c = ctx.view.entry(serial, nowMs);
  const r = c.rec;
  const atMs = Date.parse(s.at);
  // A will from an older connection must not mark a live camera offline. A lower session that says
  // online and is newer means the agent's counter was reset (its state was wiped): follow it.
  let stale = r.session !== null && s.session < r.session && !(s.state === 'online' && c.stateAtMs !== null && atMs > c.stateAtMs);
  // Same session: a retained replay of what we already know changes nothing; online after offline in one session cannot happen.
  if (!stale && r.session !== null && s.session === r.session && s.state === 'online' && r.connection !== 'online' && r.connection !== 'unknown') stale = true;
  ctx.counters.states++;
  if (stale) ctx.counters.staleStates++;
  const next = { ...r };
  if (!stale) {
    // The agent's will says state "lost" (issue 3); reason "lost" is the older spelling.
    next.connection = s.state === 'online' ? 'online' : s.state === 'lost' || s.reason === 'lost' ? 'lost' : 'offline';
    next.session = s.session;
    next.stateAt = s.at;
    next.stateReason = s.reason ?? null;
  }
  const store = ctx.store;
  store.transaction(() => {
    store.insertState({ serial, receivedMs: nowMs, state: s.state, reason: s.reason ?? null, session: s.session, at: s.at, stale });
    if (!stale) store.upsertCamera(next);
  });
  if (stale) {
    ctx.log('info', `${serial}: ignored a stale ${s.state}/${s.reason ?? '?'} from session ${s.session} (current ${r.session})`);
    return { result: 'stale' };
  }
  c.rec = next;
  c.stateAtMs = atMs;
  ctx.view.set(c);
  restatus(ctx, c, nowMs);
  ctx.notify('camera', cameraView(c));
  return { result: 'stored' };
}
