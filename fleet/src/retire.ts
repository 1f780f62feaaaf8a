/**
 * Decommission: a retired camera keeps its history but leaves the counts, the worklist and the alerts; if it
 * reports again, that is an alert of its own (alerts/conditions.ts). The camera row keeps when and why.
 */
import { cameraView, type CameraView } from './fleet-view';
import type { IngestContext } from './ingest/context';

export const MAX_RETIRE_REASON = 500;

export async function setRetired(ctx: IngestContext, serial: string, retiredMs: number | null, reason: string | null): Promise<CameraView | null> {
  const c = ctx.view.get(serial);
  if (!c) return null;
  const why = retiredMs === null ? null : (reason ?? '').slice(0, MAX_RETIRE_REASON) || null;
  if (!(await ctx.store.setRetired(serial, retiredMs, why))) return null;
  // The view may have moved on while the store wrote (an ingest batch): take the entry again.
  const now = ctx.view.get(serial) ?? c;
  now.rec = { ...now.rec, retiredMs, retiredReason: why };
  ctx.log('info', retiredMs === null ? `${serial} is back in service` : `${serial} retired${why ? `: ${why}` : ''}`);
  const view = cameraView(now);
  ctx.notify('camera', view);
  return view;
}
