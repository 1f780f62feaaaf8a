/**
 * A camera's report: validated and evaluated here; duplicates by reportId, seq gaps (a late report fills its
 * gap), out of order (history only) and a seq reset after a fresh agent start are decided by the store
 * (store/decide.ts) inside its transaction; the view follows what the store decided.
 */
import type { Report } from '../../../agent/src/report/types';
import { evaluate } from '../evaluate';
import { cameraView } from '../fleet-view';
import { statusOf } from '../status-sweep';
import type { IngestOutcome, ReportItem } from '../store/types';
import { describeErrors, validateReport } from '../validate';
import type { IngestContext, Ingested, Message, Prepared } from './context';
import { logOnce, quarantine } from './quarantine';

export function prepareReport(ctx: IngestContext, { topic, serial, body, bytes, text, nowMs, retained }: Message): Prepared {
  const validate = validateReport();
  if (!validate(body)) return quarantine(ctx, topic, serial, 'schema', describeErrors(validate.errors), bytes, nowMs);
  const report = body as Report;
  if (report.deviceId !== serial || report.device.serial !== serial) {
    return quarantine(ctx, topic, serial, 'serial-mismatch', `report for ${report.deviceId}/${report.device.serial} on ${serial}'s topic`, bytes, nowMs);
  }
  const sentMs = Date.parse(report.sentAt);
  // A retained replay may be old: count it as received when it was sent (never later than now).
  const receivedMs = retained && Number.isFinite(sentMs) ? Math.min(sentMs, nowMs) : nowMs;
  const evaluation = evaluate(report, ctx.tables, nowMs);
  const item: ReportItem = {
    kind: 'report', serial, nowMs, startedAt: report.health.startedAt, model: report.device.model ?? null,
    hardwareId: report.device.hardwareId ?? null, fullName: report.device.fullName ?? null, intervalSec: report.intervalSec, text, topic,
    history: {
      serial, reportId: report.reportId, seq: report.seq, sentAt: report.sentAt, receivedMs, osVersion: report.os.version,
      findings: report.services.findings.length, hardeningScore: evaluation.hardeningScore, integrity: evaluation.integrity,
      support: evaluation.support, advisories: evaluation.advisories.length, queueDepth: report.health.queueDepth,
      heapUsedBytes: report.health.heapUsedBytes, dropped: report.health.dropped,
    },
  };
  return { kind: 'report', serial, report, evaluation, item };
}

/** After the commit: the view, the counters and the listeners follow the store's decision. */
export function appliedReport(ctx: IngestContext, p: Extract<Prepared, { kind: 'report' }>, outcome: IngestOutcome): Ingested {
  if (outcome.kind !== 'report') throw new Error(`[vigil] [fleet] the store answered a report with a ${outcome.kind} outcome`);
  const { serial } = p;
  const nowMs = (p.item as ReportItem).nowMs;
  if (outcome.result === 'refused') return refused(ctx, p, outcome);
  const c = ctx.view.entry(serial, nowMs);
  c.rec = outcome.camera;
  if (outcome.result === 'duplicate') {
    ctx.view.set(c);
    ctx.counters.duplicates++;
    return { result: 'duplicate' };
  }
  ctx.counters.reports++;
  const { gap, outOfOrder } = outcome;
  if (gap) {
    ctx.counters.gaps++;
    ctx.log('info', `${serial}: seq gap ${gap.fromSeq}–${gap.toSeq}`);
  }
  if (outcome.reset) ctx.log('info', `${serial}: seq went back to ${p.report.seq} with a newer agent start; following the new sequence`);
  if (outOfOrder) ctx.counters.outOfOrder++;
  ctx.rate.count(nowMs);
  if (outcome.becameLatest) {
    c.latest = p.report;
    c.evaluation = p.evaluation;
  }
  ctx.view.set(c);
  const was = c.status;
  c.status = statusOf(c, nowMs, ctx.missingIntervals);
  if (was !== c.status) ctx.notify('status', { serial, from: was, to: c.status });
  ctx.notify('camera', cameraView(c));
  return { result: 'stored', gap, outOfOrder };
}

/**
 * A report the store refused as forged: quarantined there, counted here. A known camera's record changed (its
 * refused count, an identity claim): the view follows and observers (the identity-mismatch alert) are told.
 */
function refused(ctx: IngestContext, p: Extract<Prepared, { kind: 'report' }>, outcome: Extract<IngestOutcome, { result: 'refused' }>): Ingested {
  const { serial } = p;
  ctx.counters.refused[outcome.reason] = (ctx.counters.refused[outcome.reason] ?? 0) + 1;
  ctx.counters.invalid.forged = (ctx.counters.invalid.forged ?? 0) + 1;
  logOnce(ctx, serial, `refused a report on ${serial}'s topic as forged (${outcome.reason}: ${outcome.detail}); further bad messages from ${serial} are counted, not logged`);
  ctx.notify('quarantine', { topic: (p.item as ReportItem).topic, serial, reason: `forged: ${outcome.reason}` });
  if (outcome.camera) {
    const c = ctx.view.entry(serial, (p.item as ReportItem).nowMs);
    c.rec = outcome.camera;
    ctx.view.set(c);
    ctx.notify('camera', cameraView(c));
  }
  return { result: 'refused', reason: outcome.reason };
}
