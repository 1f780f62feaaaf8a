/**
 * Decommission: a retired camera keeps its history but leaves the counts, the worklist and the alerts; if it
 * reports again, that is an alert of its own (alerts/conditions.ts). The camera row keeps when and why.
 */
import { cameraView, type CameraView } from './fleet-view';
import type { IngestContext } from './ingest/context';

export const MAX_RETIRE_REASON = 500;

export function setRetired(ctx: IngestContext, serial: string, retiredMs: number | null, reason: string | null): CameraView | null {
  const c = ctx.view.get(serial);
  if (!c) return null;
  const why = retiredMs === null ? null : (reason ?? '').slice(0, MAX_RETIRE_REASON) || null;
  if (!ctx.store.transaction(() => ctx.store.setRetired(serial, retiredMs, why))) return null;
  c.rec = { ...c.rec, retiredMs, retiredReason: why };
  ctx.log('info', retiredMs === null ? `${serial} is back in service` : `${serial} retired${why ? `: ${why}` : ''}`);
  const view = cameraView(c);
  ctx.notify('camera', view);
  return view;
}
