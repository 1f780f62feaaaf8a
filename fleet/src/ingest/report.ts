/**
 * A camera's report: duplicates by reportId, seq gaps (a late report fills its gap), out of order (history only),
 * a seq reset after a fresh agent start; evaluated, stored as history and as the camera's latest.
 */
import type { Report } from '../../../agent/src/report/types';
import { evaluate } from '../evaluate';
import { cameraView, type CameraEntry } from '../fleet-view';
import { statusOf } from '../status-sweep';
import type { CameraRecord, HistoryRow } from '../store/types';
import { describeErrors, validateReport } from '../validate';
import type { IngestContext, Ingested, Message, SeqGap } from './context';
import { quarantine } from './quarantine';

export function ingestReport(ctx: IngestContext, { topic, serial, body, bytes, text, nowMs, retained }: Message): Ingested {
  const validate = validateReport();
  if (!validate(body)) return quarantine(ctx, topic, serial, 'schema', describeErrors(validate.errors), bytes, nowMs);
  const report = body as Report;
  if (report.deviceId !== serial || report.device.serial !== serial) {
    return quarantine(ctx, topic, serial, 'serial-mismatch', `report for ${report.deviceId}/${report.device.serial} on ${serial}'s topic`, bytes, nowMs);
  }
  const c = ctx.view.entry(serial, nowMs);
  const r = c.rec;
  if (r.lastReportId === report.reportId) return duplicate(ctx, c);
  const sentMs = Date.parse(report.sentAt);
  // A retained replay may be old: count it as received when it was sent (never later than now).
  const receivedMs = retained && Number.isFinite(sentMs) ? Math.min(sentMs, nowMs) : nowMs;
  const evaluation = evaluate(report, ctx.tables, nowMs);
  const history: HistoryRow = {
    serial, reportId: report.reportId, seq: report.seq, sentAt: report.sentAt, receivedMs, osVersion: report.os.version,
    findings: report.services.findings.length, hardeningScore: evaluation.hardeningScore, integrity: evaluation.integrity,
    support: evaluation.support, advisories: evaluation.advisories.length, queueDepth: report.health.queueDepth,
    heapUsedBytes: report.health.heapUsedBytes, dropped: report.health.dropped,
  };
  const last = r.lastSeq;
  let becomesLatest = true;
  let gap: SeqGap | null = null;
  let outOfOrder = false;
  if (last !== null && c.latest) {
    if (report.seq > last + 1) gap = { fromSeq: last + 1, toSeq: report.seq - 1 };
    else if (report.seq <= last) {
      // Older than what we have: history only. Unless the agent restarted from scratch (its seq reset):
      // then it started later and sent later than our newest.
      const reset = Date.parse(report.health.startedAt) > Date.parse(c.latest.health.startedAt) && sentMs > Date.parse(c.latest.sentAt);
      becomesLatest = reset;
      outOfOrder = !reset;
      if (reset) ctx.log('info', `${serial}: seq went from ${last} to ${report.seq} with a newer agent start; following the new sequence`);
    }
  }
  const store = ctx.store;
  const next: CameraRecord = { ...r, reports: r.reports + 1 };
  if (becomesLatest) {
    Object.assign(next, {
      model: report.device.model, fullName: report.device.fullName, osVersion: report.os.version, lastReportId: report.reportId,
      lastSeq: report.seq, lastSentAt: report.sentAt, lastReportMs: receivedMs, intervalSec: report.intervalSec,
      reportJson: text, evaluationJson: JSON.stringify(evaluation),
    });
  }
  if (gap) next.gaps++;
  if (outOfOrder) next.outOfOrder++;
  const inserted = store.transaction(() => {
    if (!store.insertReport(history)) {
      next.reports = r.reports;
      store.upsertCamera({ ...r, duplicates: r.duplicates + 1 });
      return false;
    }
    if (gap) store.insertGap({ serial, ...gap, detectedMs: nowMs });
    if (outOfOrder) {
      // A late report may fill a recorded gap: shrink or split it.
      const g = store.gaps(serial).find((x) => x.fromSeq <= report.seq && report.seq <= x.toSeq);
      if (g) {
        store.deleteGap(serial, g.fromSeq);
        if (g.fromSeq <= report.seq - 1) store.insertGap({ ...g, toSeq: report.seq - 1 });
        if (report.seq + 1 <= g.toSeq) store.insertGap({ ...g, fromSeq: report.seq + 1 });
      }
    }
    store.upsertCamera(next);
    return true;
  });
  if (!inserted) {
    c.rec = { ...r, duplicates: r.duplicates + 1 };
    ctx.counters.duplicates++;
    return { result: 'duplicate' };
  }
  ctx.counters.reports++;
  if (gap) {
    ctx.counters.gaps++;
    ctx.log('info', `${serial}: seq gap ${gap.fromSeq}–${gap.toSeq}`);
  }
  if (outOfOrder) ctx.counters.outOfOrder++;
  ctx.rate.count(nowMs);
  c.rec = next;
  if (becomesLatest) {
    c.latest = report;
    c.evaluation = evaluation;
  }
  ctx.view.set(c);
  const was = c.status;
  c.status = statusOf(c, nowMs, ctx.missingIntervals);
  if (was !== c.status) ctx.notify('status', { serial, from: was, to: c.status });
  ctx.notify('camera', cameraView(c));
  return { result: 'stored', gap, outOfOrder };
}

/** The same reportId as the camera's latest: counted on the camera, nothing else stored. */
function duplicate(ctx: IngestContext, c: CameraEntry): Ingested {
  ctx.counters.duplicates++;
  c.rec = { ...c.rec, duplicates: c.rec.duplicates + 1 };
  ctx.store.upsertCamera(c.rec);
  return { result: 'duplicate' };
}
