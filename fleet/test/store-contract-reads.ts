// The store contract, cameras and retention: what loadCameras/camerasOf/history return, retirement, and what
// prune keeps.
import { describe, expect, it } from 'vitest';
import type { ContractContext } from './store-contract';
import { alert, event, MIN, quarantineRow, report, reports, state, T0 } from './store-contract-items';

const CAM = 'ACCC8E000001';
const CAM2 = 'ACCC8E000002';
const CAM3 = 'ACCC8E000003';

export function readsContract(ctx: ContractContext): void {
  describe('cameras', () => {
    it('loads every camera ordered by serial', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM3, 1), report(CAM, 1), state(CAM2, 'online', 1, T0)]);
      expect((await store.loadCameras()).map((c) => c.serial)).toEqual([CAM, CAM2, CAM3]);
    });

    it('reads only the cameras asked for, leaving out unknown ones', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM3, 1), report(CAM, 1), report(CAM2, 1)]);
      expect((await store.camerasOf([CAM3, 'NOSUCHCAMERA', CAM])).map((c) => c.serial).sort()).toEqual([CAM, CAM3]);
      expect(await store.camerasOf([])).toEqual([]);
    });

    it('returns the same camera from camerasOf as from loadCameras', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1), state(CAM, 'online', 2, T0)]);
      expect(await store.camerasOf([CAM])).toEqual(await store.loadCameras());
    });

    it('marks a known camera retired with its reason, and back in service without one', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1)]);
      expect(await store.setRetired(CAM, T0 + 5 * MIN, 'replaced')).toBe(true);
      expect((await store.loadCameras())[0]).toMatchObject({ retiredMs: T0 + 5 * MIN, retiredReason: 'replaced' });
      expect(await store.setRetired(CAM, null, 'ignored')).toBe(true);
      expect((await store.loadCameras())[0]).toMatchObject({ retiredMs: null, retiredReason: null });
    });

    it('answers false when retiring an unknown camera, and creates none', async () => {
      const store = await ctx.open();
      expect(await store.setRetired('NOSUCHCAMERA', T0, 'gone')).toBe(false);
      expect(await store.loadCameras()).toEqual([]);
    });

    it('keeps a camera retired when it reports again', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1)]);
      await store.setRetired(CAM, T0, 'stolen');
      const [o] = await store.ingest([report(CAM, 2)]);
      expect(o).toMatchObject({ camera: { retiredMs: T0, retiredReason: 'stolen' } });
      expect((await store.loadCameras())[0]).toMatchObject({ retiredMs: T0, retiredReason: 'stolen', lastSeq: 2 });
    });
  });

  describe('history', () => {
    it('returns the newest reports up to the limit, oldest of them first', async () => {
      const store = await ctx.open();
      await store.ingest(reports(CAM, 1, 6));
      expect((await store.history(CAM, 3)).map((h) => h.seq)).toEqual([4, 5, 6]);
      expect(await store.history(CAM2, 3)).toEqual([]);
    });

    it('orders reports received in the same ms by seq', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 2, { nowMs: T0 }), report(CAM, 1, { nowMs: T0 }), report(CAM, 3, { nowMs: T0 })]);
      expect((await store.history(CAM, 2)).map((h) => h.seq)).toEqual([2, 3]);
    });
  });

  describe('retention', () => {
    it('deletes history, states, events, gaps and quarantine older than the cutoff and says how many', async () => {
      const store = await ctx.open();
      const cutoff = T0 + 10 * MIN;
      // old: reports 1 and 5 (a gap 2..4 detected at 5), a state, an event, a quarantined message
      await store.ingest([report(CAM, 1), report(CAM, 5), state(CAM, 'online', 1, T0), event(CAM, 'e-old', T0)]);
      await store.quarantine(quarantineRow(T0));
      await store.ingest([report(CAM, 20), state(CAM, 'online', 2, cutoff + MIN), event(CAM, 'e-new', cutoff + MIN)]);
      await store.quarantine(quarantineRow(cutoff + MIN));
      expect(await store.prune(cutoff)).toBe(2 + 1 + 1 + 1 + 1);
      expect((await store.history(CAM, 10)).map((h) => h.seq)).toEqual([20]);
      expect((await store.states(CAM, 10)).map((s) => s.session)).toEqual([2]);
      expect((await store.events(CAM, 10)).map((e) => e.eventId)).toEqual(['e-new']);
      expect((await store.gaps(CAM)).map((g) => g.fromSeq)).toEqual([6]);
      expect(await store.quarantined(10)).toHaveLength(1);
    });

    it('keeps the camera itself, its counters and newest report, however old', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1)]);
      await store.prune(T0 + 1000 * MIN);
      const [cam] = await store.loadCameras();
      expect(cam).toMatchObject({ serial: CAM, reports: 1, lastSeq: 1 });
      expect(cam.reportJson).not.toBeNull();
    });

    it('keeps an old alert while a delivery of it is pending, and deletes settled ones with their deliveries', async () => {
      const store = await ctx.open();
      const change = (id: string) => () => ({ puts: [], deletes: [], alerts: [alert(id, CAM, T0)] });
      await store.updateAlerts(CAM, change('a-pending'), ['mqtt'], T0);
      await store.updateAlerts(CAM, change('a-done'), ['mqtt'], T0);
      await store.updateAlerts(CAM, () => ({ puts: [], deletes: [], alerts: [alert('a-new', CAM, T0 + 20 * MIN)] }), ['mqtt'], T0 + 20 * MIN);
      const [done] = await store.deliveriesOf('a-done');
      await store.updateDelivery({ id: done.id, status: 'delivered', attempts: 1, nextMs: T0, lastError: null, doneMs: T0 + MIN });
      expect(await store.prune(T0 + 10 * MIN)).toBe(2);
      expect((await store.alerts(10)).map((a) => a.id).sort()).toEqual(['a-new', 'a-pending']);
      expect(await store.deliveriesOf('a-done')).toEqual([]);
      expect(await store.deliveriesOf('a-pending')).toHaveLength(1);
    });

    it('deletes nothing before the cutoff and answers 0', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1)]);
      expect(await store.prune(T0)).toBe(0);
      expect(await store.history(CAM, 10)).toHaveLength(1);
    });
  });
}
