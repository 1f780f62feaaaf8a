/**
 * Whether a report is refused as forged (issue 15 item 3), decided against the camera as stored, inside the
 * store's transaction (store/decide.ts). A refused report is not the camera's state, not its history: it is
 * quarantined with a reason `forged: <why>: …` and counted; still acknowledged (bad input, not a failure).
 *
 * - `identity`: the model or hardware id differs from what the camera has reported so far. The rest of such a
 *   report is refused with it: a report that claims to be another device describes that device (or a forger's
 *   idea of one), not this camera; taking its services or integrity would let one publish turn a tampered camera
 *   "ok". It raises an `identity-mismatch` alert (alerts/conditions.ts) so a human decides; it never overwrites
 *   the identity.
 * - `future`: `sentAt` or `health.startedAt` past the consumer's clock by more than the bound: taken as newest,
 *   such a report makes every real one "out of order" (and seq resets need a later start) until 2099.
 * - `seq-jump`: a seq further past the camera's newest than any agent gets (forgery-bounds.ts).
 *
 * A stored newest report that is itself from the future (forged before these bounds, or clock trouble) is no
 * reference for any of this: the next report within the bounds replaces it (decide.ts), identity included.
 */
import { FORGERY_BOUNDS, type ForgeryBounds } from './forgery-bounds';
import type { CameraState, ReportItem } from './types';

export type RefusalReason = 'identity' | 'future' | 'seq-jump';

export interface Refusal {
  reason: RefusalReason;
  detail: string;
}

/** A camera's identity as its reports tell it; null where a report does not say (the collector failed). */
export interface Identity {
  model: string | null;
  hardwareId: string | null;
}

/** Whether the camera's newest stored report claims a time past the bounds: then it is trusted for nothing. */
export function storedFromFuture(c: CameraState, nowMs: number, b: ForgeryBounds = FORGERY_BOUNDS): boolean {
  return [c.lastSentAt, c.lastStartedAt].some((t) => t !== null && Date.parse(t) > nowMs + b.maxFutureMs);
}

const shown = (s: string | null): string => (s === null ? 'null' : JSON.stringify(s.slice(0, 64)));

/** The identity a report claims, as a camera keeps it (identityClaim), its texts cut short. */
export function claimText(i: Identity): string {
  return JSON.stringify({ model: i.model?.slice(0, 64) ?? null, hardwareId: i.hardwareId?.slice(0, 64) ?? null });
}

/**
 * Why `item` is refused, or null. `trusted`: the stored newest report is a reference (not from the future).
 * Identity is checked first: it is the one refusal that alerts.
 */
export function refusalOf(c: CameraState, item: ReportItem, trusted: boolean, b: ForgeryBounds = FORGERY_BOUNDS): Refusal | null {
  const h = item.history;
  // PostgreSQL keeps U+0000 as U+FFFD (postgres-columns.ts pgText): compared as stored, so both stores agree.
  const same = (s: string) => s.replaceAll('\0', '\uFFFD');
  const differs = (known: string | null, claimed: string | null) => known !== null && claimed !== null && same(known) !== same(claimed);
  if (trusted && (differs(c.model, item.model) || differs(c.hardwareId, item.hardwareId))) {
    return {
      reason: 'identity',
      detail: `model ${shown(item.model)}, hardware id ${shown(item.hardwareId)} on a camera known as model ${shown(c.model)}, hardware id ${shown(c.hardwareId)}`,
    };
  }
  for (const [name, t] of [['sentAt', h.sentAt], ['health.startedAt', item.startedAt]] as const) {
    const ms = Date.parse(t);
    if (ms > item.nowMs + b.maxFutureMs) {
      return { reason: 'future', detail: `${name} ${t} is ${Math.round((ms - item.nowMs) / 60_000)} min past the consumer's clock (at most ${b.maxFutureMs / 60_000})` };
    }
  }
  if (trusted && c.lastSeq !== null) {
    const elapsedSec = c.lastSentAt === null ? 0 : Math.max(0, (Date.parse(h.sentAt) - Date.parse(c.lastSentAt)) / 1000);
    const allowed = c.lastSeq + b.maxSeqJump + Math.ceil(elapsedSec * b.maxReportsPerSec);
    if (h.seq > allowed) return { reason: 'seq-jump', detail: `seq ${h.seq} after the newest ${c.lastSeq} (at most ${allowed} by now)` };
  }
  return null;
}
