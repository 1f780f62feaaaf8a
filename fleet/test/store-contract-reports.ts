// The store contract, reports: duplicates by reportId, seq gaps opened and filled, out of order, seq resets, and
// reports refused as forged (store/forgery.ts: far-future times, seq jumps, another identity) with the recovery
// from a stored report from the future.
import { describe, expect, it } from 'vitest';
import type { IngestOutcome } from '../src/store/types';
import type { ContractContext } from './store-contract';
import { iso, MIN, report, reportId, reports, reportText, T0 } from './store-contract-items';

const CAM = 'ACCC8E000001';
const CAM2 = 'ACCC8E000002';

type Stored = Extract<IngestOutcome, { kind: 'report'; result: 'stored' }>;
const stored = (o: IngestOutcome): Stored => {
  if (o.kind !== 'report' || o.result !== 'stored') throw new Error(`expected a stored report, got ${JSON.stringify(o)}`);
  return o;
};

export function reportContract(ctx: ContractContext): void {
  describe('reports', () => {
    it('stores a first report as the camera newest, its text byte for byte', async () => {
      const store = await ctx.open();
      const [o] = await store.ingest([report(CAM, 1)]);
      expect(stored(o)).toMatchObject({ gap: null, outOfOrder: false, becameLatest: true, reset: false });
      expect(stored(o).camera).toMatchObject({ serial: CAM, reports: 1, lastSeq: 1, lastReportId: reportId(CAM, 1), connection: 'unknown', firstSeenMs: T0 + MIN });
      const [cam] = await store.loadCameras();
      expect(cam).toMatchObject({ serial: CAM, model: 'M3086-V', osVersion: '12.11.77', lastSeq: 1, lastStartedAt: '2026-11-25T11:00:00.000Z', lastReportMs: T0 + MIN, intervalSec: 60 });
      expect(cam.reportJson).toBe(reportText(CAM, 1));
      expect(await store.history(CAM, 10)).toEqual([report(CAM, 1).history]);
    });

    it('returns one outcome per item, in the batch order', async () => {
      const store = await ctx.open();
      const out = await store.ingest([report(CAM, 1), report(CAM2, 1), report(CAM, 1), report(CAM, 2)]);
      expect(out.map((o) => (o.kind === 'report' ? `${o.result}:${o.camera?.serial}:${o.camera?.lastSeq}` : o.kind))).toEqual([
        `stored:${CAM}:1`, `stored:${CAM2}:1`, `duplicate:${CAM}:1`, `stored:${CAM}:2`,
      ]);
    });

    it('counts a report whose reportId is stored as a duplicate and stores no second row', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1)]);
      const [o] = await store.ingest([report(CAM, 1, { nowMs: T0 + 5 * MIN })]);
      expect(o).toMatchObject({ kind: 'report', result: 'duplicate', camera: { reports: 1, duplicates: 1 } });
      expect(await store.history(CAM, 10)).toHaveLength(1);
      expect((await store.loadCameras())[0]).toMatchObject({ reports: 1, duplicates: 1, lastReportMs: T0 + MIN });
    });

    it('stores a reportId repeated within one batch once and counts the repeat as a duplicate', async () => {
      const store = await ctx.open();
      const out = await store.ingest([report(CAM, 1), report(CAM, 1)]);
      expect(out.map((o) => o.kind === 'report' && o.result)).toEqual(['stored', 'duplicate']);
      expect(await store.history(CAM, 10)).toHaveLength(1);
      expect((await store.loadCameras())[0]).toMatchObject({ reports: 1, duplicates: 1, gaps: 0 });
    });

    it('finds every stored report among a batch of many cameras, stored and new mixed', async () => {
      // More keys than one lookup of the SQLite store takes (LOOKUP_CHUNK), and a number that does not divide.
      const store = await ctx.open();
      const cams = Array.from({ length: 150 }, (_, i) => `ACCC8E1${String(i).padStart(5, '0')}`);
      await store.ingest(cams.filter((_, i) => i % 3 === 0).map((c) => report(c, 1)));
      const out = await store.ingest(cams.map((c) => report(c, 1)));
      expect(out.map((o) => o.kind === 'report' && o.result)).toEqual(cams.map((_, i) => (i % 3 === 0 ? 'duplicate' : 'stored')));
      expect((await store.loadCameras()).filter((c) => c.duplicates === 1)).toHaveLength(50);
    });

    it('stores nothing again from a redelivered batch: every report of it is a duplicate', async () => {
      const store = await ctx.open();
      const batch = reports(CAM, 1, 5);
      await store.ingest(batch);
      const again = await store.ingest(batch);
      expect(again.every((o) => o.kind === 'report' && o.result === 'duplicate')).toBe(true);
      expect(await store.history(CAM, 100)).toHaveLength(5);
      expect((await store.loadCameras())[0]).toMatchObject({ reports: 5, duplicates: 5, gaps: 0, outOfOrder: 0, lastSeq: 5 });
      expect(await store.gaps(CAM)).toEqual([]);
    });

    it('opens a gap from the seq after the newest to the one before a report that skips ahead', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1)]);
      const [o] = await store.ingest([report(CAM, 5)]);
      expect(stored(o).gap).toEqual({ fromSeq: 2, toSeq: 4 });
      expect(stored(o).camera).toMatchObject({ gaps: 1, lastSeq: 5 });
      expect(await store.gaps(CAM)).toEqual([{ serial: CAM, fromSeq: 2, toSeq: 4, detectedMs: T0 + 5 * MIN }]);
    });

    it('records gaps of one camera in seq order and of each camera on its own', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1), report(CAM2, 1), report(CAM, 3), report(CAM, 6), report(CAM2, 2)]);
      expect((await store.gaps(CAM)).map((g) => [g.fromSeq, g.toSeq])).toEqual([[2, 2], [4, 5]]);
      expect(await store.gaps(CAM2)).toEqual([]);
      expect((await store.camerasOf([CAM, CAM2])).map((c) => c.gaps)).toEqual([2, 0]);
    });

    it('keeps a late report as history only: the newest stays, out of order is counted', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1), report(CAM, 3)]);
      const [o] = await store.ingest([report(CAM, 2, { nowMs: T0 + 10 * MIN })]);
      expect(stored(o)).toMatchObject({ outOfOrder: true, becameLatest: false, reset: false, gap: null });
      const [cam] = await store.loadCameras();
      expect(cam).toMatchObject({ lastSeq: 3, lastReportId: reportId(CAM, 3), reports: 3, outOfOrder: 1, lastReportMs: T0 + 3 * MIN });
      expect(cam.reportJson).toBe(reportText(CAM, 3));
      expect((await store.history(CAM, 10)).map((h) => h.seq)).toEqual([1, 3, 2]);
    });

    it('closes a one-seq gap when its report comes late', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1), report(CAM, 3)]);
      await store.ingest([report(CAM, 2)]);
      expect(await store.gaps(CAM)).toEqual([]);
    });

    it('shrinks a gap from its start when the first missing report comes late', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1), report(CAM, 6)]);
      await store.ingest([report(CAM, 2)]);
      expect((await store.gaps(CAM)).map((g) => [g.fromSeq, g.toSeq])).toEqual([[3, 5]]);
    });

    it('shrinks a gap from its end when the last missing report comes late', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1), report(CAM, 6)]);
      await store.ingest([report(CAM, 5)]);
      expect((await store.gaps(CAM)).map((g) => [g.fromSeq, g.toSeq])).toEqual([[2, 4]]);
    });

    it('splits a gap in two when a report from its middle comes late, keeping when it was detected', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1), report(CAM, 7)]);
      await store.ingest([report(CAM, 4, { nowMs: T0 + 20 * MIN })]);
      expect(await store.gaps(CAM)).toEqual([
        { serial: CAM, fromSeq: 2, toSeq: 3, detectedMs: T0 + 7 * MIN },
        { serial: CAM, fromSeq: 5, toSeq: 6, detectedMs: T0 + 7 * MIN },
      ]);
    });

    it('fills a gap within the batch that opened it', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1), report(CAM, 4), report(CAM, 2), report(CAM, 3)]);
      expect(await store.gaps(CAM)).toEqual([]);
      expect((await store.loadCameras())[0]).toMatchObject({ reports: 4, outOfOrder: 2, lastSeq: 4 });
    });

    it('follows a lower seq from an agent that started later as a seq reset, with no gap and not out of order', async () => {
      const store = await ctx.open();
      await store.ingest(reports(CAM, 1, 9));
      const later = '2026-11-25T13:00:00.000Z';
      const [o] = await store.ingest([report(CAM, 1, { reportId: `${CAM}-fresh-1`, startedAt: later, sentAt: '2026-11-25T13:00:05.000Z', nowMs: T0 + 61 * MIN })]);
      expect(stored(o)).toMatchObject({ reset: true, becameLatest: true, outOfOrder: false, gap: null });
      expect((await store.loadCameras())[0]).toMatchObject({ lastSeq: 1, lastReportId: `${CAM}-fresh-1`, lastStartedAt: later, outOfOrder: 0, gaps: 0 });
      const [next] = await store.ingest([report(CAM, 2, { reportId: `${CAM}-fresh-2`, startedAt: later, sentAt: '2026-11-25T13:01:05.000Z', nowMs: T0 + 62 * MIN })]);
      expect(stored(next)).toMatchObject({ gap: null, becameLatest: true, reset: false });
    });

    it('takes a lower seq from the same agent start as out of order, not as a reset', async () => {
      const store = await ctx.open();
      await store.ingest(reports(CAM, 1, 9));
      const [o] = await store.ingest([report(CAM, 3, { reportId: `${CAM}-again-3`, sentAt: '2026-11-25T13:00:00.000Z', nowMs: T0 + 61 * MIN })]);
      expect(stored(o)).toMatchObject({ reset: false, becameLatest: false, outOfOrder: true });
      expect((await store.loadCameras())[0].lastSeq).toBe(9);
    });

    it('keeps the newest report text when a later batch brings only an older report', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1), report(CAM, 3)]);
      await store.ingest([report(CAM, 2)]);
      expect((await store.camerasOf([CAM]))[0].reportJson).toBe(reportText(CAM, 3));
    });
  });

  describe('forged reports', () => {
    const Y2099 = '2099-01-01T00:00:00.000Z';
    /** The forged report: seq 999999999, sent and started in 2099, another model; received at T0 + 4 min. */
    const forged = (o: { model?: string; nowMs?: number } = {}) =>
      report(CAM, 999_999_999, { reportId: `${CAM}-forged`, sentAt: Y2099, startedAt: Y2099, model: o.model ?? 'M3086-V', nowMs: o.nowMs ?? T0 + 4 * MIN - 1 });
    const results = (out: IngestOutcome[]) => out.map((o) => (o.kind === 'report' && o.result === 'refused' ? `refused:${o.reason}` : o.kind === 'report' ? o.result : o.kind));

    it('refuses a report with a far-future seq and sentAt: not stored, the camera unchanged but for its refused count', async () => {
      const store = await ctx.open();
      await store.ingest(reports(CAM, 1, 3));
      const [o] = await store.ingest([forged()]);
      expect(o).toMatchObject({ kind: 'report', result: 'refused', reason: 'future', camera: { lastSeq: 3, refused: 1, reports: 3 } });
      const [cam] = await store.loadCameras();
      expect(cam).toMatchObject({ lastSeq: 3, lastReportId: reportId(CAM, 3), lastStartedAt: '2026-11-25T11:00:00.000Z', refused: 1, outOfOrder: 0 });
      expect(cam.reportJson).toBe(reportText(CAM, 3));
      expect((await store.history(CAM, 10)).map((h) => h.seq)).toEqual([1, 2, 3]);
      expect(await store.gaps(CAM)).toEqual([]);
    });

    it('quarantines a refused report with a reason starting "forged:" and its text', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1)]);
      await store.ingest([{ ...forged(), topic: `vigil/v1/${CAM}/report` }]);
      const q = await store.quarantined(10);
      expect(q).toHaveLength(1);
      expect(q[0]).toMatchObject({ topic: `vigil/v1/${CAM}/report`, serial: CAM, receivedMs: T0 + 4 * MIN - 1, excerpt: reportText(CAM, 999_999_999, `${CAM}-forged`) });
      expect(q[0].reason).toMatch(/^forged: future: sentAt 2099-01-01T00:00:00.000Z is \d+ min past the consumer's clock/);
    });

    it("keeps taking the camera's real reports in order after a forged one: newest, no out of order, no gap", async () => {
      const store = await ctx.open();
      await store.ingest(reports(CAM, 1, 3));
      await store.ingest([forged({ model: 'FORGED-1' })]);
      const out = await store.ingest(reports(CAM, 4, 6));
      expect(out.map((o) => stored(o)).map((o) => [o.becameLatest, o.outOfOrder, o.gap])).toEqual([[true, false, null], [true, false, null], [true, false, null]]);
      const [cam] = await store.loadCameras();
      expect(cam).toMatchObject({ model: 'M3086-V', lastSeq: 6, lastReportMs: T0 + 6 * MIN, reports: 6, outOfOrder: 0, gaps: 0, refused: 1 });
      expect(cam.reportJson).toBe(reportText(CAM, 6));
    });

    it('refuses a seq jump past the bound from the same agent start, sent now', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1)]);
      const [o] = await store.ingest([report(CAM, 200_000, { nowMs: T0 + 2 * MIN, sentAt: iso(T0 + 2 * MIN) })]);
      expect(o).toMatchObject({ kind: 'report', result: 'refused', reason: 'seq-jump', camera: { lastSeq: 1, refused: 1 } });
      expect((await store.quarantined(10))[0].reason).toMatch(/^forged: seq-jump: seq 200000 after the newest 1/);
    });

    it('takes a seq jump that the time the camera was away explains, as a gap', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1)]);
      // Two days away at one report a second (172,800) and the outbox dropping the oldest: beyond the 100,000 alone.
      const back = T0 + 2 * 24 * 60 * MIN;
      const [o] = await store.ingest([report(CAM, 250_000, { nowMs: back, sentAt: iso(back) })]);
      expect(stored(o)).toMatchObject({ becameLatest: true, gap: { fromSeq: 2, toSeq: 249_999 } });
    });

    it('replaces a stored newest report from the future with the next real one (forged before the bounds, or clock trouble)', async () => {
      const store = await ctx.open();
      await store.ingest(reports(CAM, 1, 3));
      // Within the bounds of a consumer whose clock said 2099 (that is how such a report was stored).
      await store.ingest([forged({ nowMs: Date.parse(Y2099) })]);
      expect((await store.loadCameras())[0]).toMatchObject({ lastSeq: 999_999_999, model: 'M3086-V' });
      const [o] = await store.ingest([report(CAM, 4)]);
      expect(stored(o)).toMatchObject({ becameLatest: true, reset: true, outOfOrder: false, gap: null });
      const out = await store.ingest(reports(CAM, 5, 6));
      expect(out.map((x) => stored(x).becameLatest)).toEqual([true, true]);
      const [cam] = await store.loadCameras();
      expect(cam).toMatchObject({ lastSeq: 6, lastStartedAt: '2026-11-25T11:00:00.000Z', lastReportMs: T0 + 6 * MIN, outOfOrder: 0 });
      expect(cam.reportJson).toBe(reportText(CAM, 6));
    });

    it('takes the identity of the real report that replaces a stored one from the future', async () => {
      const store = await ctx.open();
      await store.ingest([{ ...forged({ nowMs: Date.parse(Y2099) }), model: 'FORGED-1', hardwareId: 'FFF' }]);
      const [o] = await store.ingest([report(CAM, 4)]);
      expect(stored(o).camera).toMatchObject({ model: 'M3086-V', hardwareId: '9A1', lastSeq: 4, refused: 0 });
    });

    it("counts each refused report on its camera, and makes no camera of a serial never seen", async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1)]);
      const out = await store.ingest([forged(), report(CAM2, 999_999_999, { sentAt: Y2099, startedAt: Y2099, nowMs: T0 + 4 * MIN }), report(CAM, 2), forged()]);
      expect(results(out)).toEqual(['refused:future', 'refused:future', 'stored', 'refused:future']);
      expect(out[1]).toMatchObject({ camera: null });
      expect((await store.loadCameras()).map((c) => [c.serial, c.refused, c.reports, c.lastSeq])).toEqual([[CAM, 2, 2, 2]]);
      expect((await store.quarantined(10)).map((q) => q.serial).sort()).toEqual([CAM, CAM, CAM2]);
    });

    it('refuses a report claiming another model, keeps the identity and records the claim', async () => {
      const store = await ctx.open();
      await store.ingest(reports(CAM, 1, 2));
      const [o] = await store.ingest([report(CAM, 3, { model: 'Q6135-LE' })]);
      expect(o).toMatchObject({ kind: 'report', result: 'refused', reason: 'identity', camera: { model: 'M3086-V', hardwareId: '9A1', lastSeq: 2, refused: 1 } });
      const [cam] = await store.loadCameras();
      expect([cam.model, cam.hardwareId, cam.lastSeq, JSON.parse(cam.identityClaim ?? 'null'), cam.identityClaimMs]).toEqual([
        'M3086-V', '9A1', 2, { model: 'Q6135-LE', hardwareId: '9A1' }, T0 + 3 * MIN,
      ]);
      expect((await store.quarantined(10))[0].reason).toMatch(/^forged: identity: model "Q6135-LE"/);
      expect(await store.history(CAM, 10)).toHaveLength(2);
    });

    it('refuses a report claiming another hardware id', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1)]);
      const [o] = await store.ingest([report(CAM, 2, { hardwareId: '7B2' })]);
      expect(o).toMatchObject({ result: 'refused', reason: 'identity', camera: { hardwareId: '9A1' } });
    });

    it('takes a report that does not say its model or hardware id, keeping the known identity', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1)]);
      const [o] = await store.ingest([{ ...report(CAM, 2), model: null, hardwareId: null }]);
      expect(stored(o).camera).toMatchObject({ model: 'M3086-V', hardwareId: '9A1', lastSeq: 2, refused: 0 });
    });
  });
}
