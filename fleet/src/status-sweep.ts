/**
 * A camera's status from its connection and the timing of its reports (missing after N intervals without one),
 * and the periodic sweep that re-derives every status and support verdict as time passes.
 */
import { REPORT_INTERVAL_MAX_SEC } from '../../agent/src/interval-bounds';
import { evaluate } from './evaluate';
import type { Tables } from './data';
import { cameraView, type CameraEntry, type CameraStatus, type FleetView, type Notify } from './fleet-view';
import type { FleetLog } from './log';

export interface StatusContext {
  readonly view: FleetView;
  /** Replaced as a whole on a data update (FleetConsumer.reloadTables). */
  tables: Tables;
  /** A camera is missing after this many report intervals without a report. */
  readonly missingIntervals: number;
  readonly log: FleetLog;
  readonly notify: Notify;
}

/**
 * The interval a report claims, held to the agent's own bound (agent/src/interval-bounds.ts): an older agent, or
 * a report forged on the camera's topic, that claims a day between reports still goes missing within hours.
 */
export function trustedIntervalSec(claimedSec: number): number {
  return Math.min(claimedSec, REPORT_INTERVAL_MAX_SEC);
}

export function statusOf(c: CameraEntry, nowMs: number, missingIntervals: number): CameraStatus {
  const r = c.rec;
  if (r.connection === 'offline' || r.connection === 'lost') return r.connection;
  // Intervals count from the newest sign of life: a camera that has just come back online is not missing
  // because its last report is from before it went away (that would raise a false `missing` alert).
  const online = r.connection === 'online' ? c.stateAtMs : null;
  const since = r.lastReportMs === null ? online : online === null ? r.lastReportMs : Math.max(r.lastReportMs, online);
  if (since !== null && r.intervalSec !== null && nowMs - since > missingIntervals * trustedIntervalSec(r.intervalSec) * 1000) return 'missing';
  if (r.connection === 'online') return 'online';
  // No state seen (yet): a camera whose reports keep coming is evidently there.
  return r.lastReportMs !== null ? 'online' : 'unknown';
}

/** Re-derives one camera's status; tells the listeners when it changed. */
export function restatus(ctx: StatusContext, c: CameraEntry, nowMs: number): void {
  const s = statusOf(c, nowMs, ctx.missingIntervals);
  if (s !== c.status) {
    const was = c.status;
    c.status = s;
    if (s === 'missing') ctx.log('warn', `${c.rec.serial} is missing: no report for ${ctx.missingIntervals} × ${trustedIntervalSec(c.rec.intervalSec ?? 0)}s`);
    ctx.notify('status', { serial: c.rec.serial, from: was, to: s });
    ctx.notify('camera', cameraView(c));
  }
}

/** Re-derives every camera's status (missing after N intervals) and support status; emits `camera` for each change. */
export function sweep(ctx: StatusContext, nowMs: number): void {
  for (const c of ctx.view.entries()) restatus(ctx, c, nowMs);
  for (const c of ctx.view.entries()) {
    if (c.evaluation && c.latest) {
      const e = evaluate(c.latest, ctx.tables, nowMs);
      if (e.support !== c.evaluation.support) {
        c.evaluation = e;
        ctx.notify('camera', cameraView(c));
      }
    }
  }
}
