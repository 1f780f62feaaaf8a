// The store contract, alerts: conditions decided and written per camera, alerts with one pending delivery per
// sink, claims with a lease, the outbox's counts and next due time.
import { describe, expect, it } from 'vitest';
import type { AlertChange, AlertConditionRow, FleetStore } from '../src/store/types';
import type { ContractContext } from './store-contract';
import { alert, condition, MIN, T0 } from './store-contract-items';

const CAM = 'ACCC8E000001';
const CAM2 = 'ACCC8E000002';
const LEASE = 5 * MIN;

const raise = (store: FleetStore, id: string, raisedMs: number, sinks = ['mqtt'], serial = CAM): Promise<AlertChange | null> =>
  store.updateAlerts(serial, () => ({ puts: [], deletes: [], alerts: [alert(id, serial, raisedMs)] }), sinks, raisedMs);

export function alertsContract(ctx: ContractContext): void {
  describe('alert conditions', () => {
    it('writes nothing and answers null when the decision is no change', async () => {
      const store = await ctx.open();
      expect(await store.updateAlerts(CAM, () => null, ['mqtt'], T0)).toBeNull();
      expect(await store.alertConditions()).toEqual([]);
      expect(await store.deliveryCounts()).toEqual({ pending: 0, delivered: 0, failed: 0 });
    });

    it('gives the decision the stored conditions of that camera only', async () => {
      const store = await ctx.open();
      await store.updateAlerts(CAM, () => ({ puts: [condition(CAM, 'lost', T0), condition(CAM, 'finding:telnet', T0)], deletes: [], alerts: [] }), [], T0);
      await store.updateAlerts(CAM2, () => ({ puts: [condition(CAM2, 'lost', T0)], deletes: [], alerts: [] }), [], T0);
      let seen: AlertConditionRow[] = [];
      await store.updateAlerts(CAM, (stored) => ((seen = stored), null), [], T0);
      expect(seen.map((c) => c.condition).sort()).toEqual(['finding:telnet', 'lost']);
      expect(seen.every((c) => c.serial === CAM)).toBe(true);
    });

    it('stores conditions as put, replacing one of the same name, and lists every camera ordered', async () => {
      const store = await ctx.open();
      await store.updateAlerts(CAM2, () => ({ puts: [condition(CAM2, 'lost', T0)], deletes: [], alerts: [] }), [], T0);
      await store.updateAlerts(CAM, () => ({ puts: [condition(CAM, 'lost', T0)], deletes: [], alerts: [] }), [], T0);
      const cleared = condition(CAM, 'lost', T0, { active: false, clearedMs: T0 + MIN, alerted: false });
      const change = await store.updateAlerts(CAM, () => ({ puts: [cleared], deletes: [], alerts: [] }), [], T0 + MIN);
      expect(change).toEqual({ puts: [cleared], deletes: [], alerts: [] });
      expect(await store.alertConditions()).toEqual([cleared, condition(CAM2, 'lost', T0)]);
    });

    it('deletes the conditions named in deletes, of that camera only', async () => {
      const store = await ctx.open();
      await store.updateAlerts(CAM, () => ({ puts: [condition(CAM, 'lost', T0), condition(CAM, 'advisory:ACV-1', T0)], deletes: [], alerts: [] }), [], T0);
      await store.updateAlerts(CAM2, () => ({ puts: [condition(CAM2, 'lost', T0)], deletes: [], alerts: [] }), [], T0);
      await store.updateAlerts(CAM, () => ({ puts: [], deletes: ['lost'], alerts: [] }), [], T0 + MIN);
      expect((await store.alertConditions()).map((c) => `${c.serial}/${c.condition}`)).toEqual([`${CAM}/advisory:ACV-1`, `${CAM2}/lost`]);
    });
  });

  describe('alerts and deliveries', () => {
    it('stores an alert, its json byte for byte, with one pending delivery per sink due at now', async () => {
      const store = await ctx.open();
      await raise(store, 'a-1', T0, ['webhook:http://127.0.0.1:9/hook', 'mqtt']);
      expect(await store.alerts(10)).toEqual([alert('a-1', CAM, T0)]);
      const ds = await store.deliveriesOf('a-1');
      expect(ds.map((d) => d.sink)).toEqual(['webhook:http://127.0.0.1:9/hook', 'mqtt']);
      for (const d of ds) expect(d).toMatchObject({ alertId: 'a-1', status: 'pending', attempts: 0, nextMs: T0, lastError: null, doneMs: null });
      expect(typeof ds[0].id).toBe('number');
    });

    it('lists alerts newest first, of one camera when asked, up to the limit', async () => {
      const store = await ctx.open();
      await raise(store, 'a-1', T0);
      await raise(store, 'a-2', T0 + 2 * MIN, ['mqtt'], CAM2);
      await raise(store, 'a-3', T0 + MIN);
      await raise(store, 'a-4', T0 + MIN);
      expect((await store.alerts(3)).map((a) => a.id)).toEqual(['a-2', 'a-4', 'a-3']);
      expect((await store.alerts(10, CAM)).map((a) => a.id)).toEqual(['a-4', 'a-3', 'a-1']);
      expect(await store.alerts(10, 'NOSUCHCAMERA')).toEqual([]);
    });

    it('claims due pending deliveries oldest first, up to the limit, with their alert json', async () => {
      const store = await ctx.open();
      await raise(store, 'a-2', T0 + MIN);
      await raise(store, 'a-1', T0);
      await raise(store, 'a-3', T0 + 2 * MIN);
      await raise(store, 'a-later', T0 + 60 * MIN);
      const claimed = await store.claimDeliveries(T0 + 10 * MIN, 2, LEASE);
      expect(claimed.map((d) => d.alertId)).toEqual(['a-1', 'a-2']);
      expect(claimed[0].json).toBe(alert('a-1', CAM, T0).json);
      expect(claimed.every((d) => d.status === 'pending' && d.sink === 'mqtt')).toBe(true);
      expect((await store.claimDeliveries(T0 + 10 * MIN, 10, LEASE)).map((d) => d.alertId)).toEqual(['a-3']);
    });

    it('does not claim a claimed delivery again until its lease ends', async () => {
      const store = await ctx.open();
      await raise(store, 'a-1', T0);
      expect(await store.claimDeliveries(T0, 10, LEASE)).toHaveLength(1);
      expect(await store.claimDeliveries(T0 + LEASE - 1, 10, LEASE)).toEqual([]);
      expect(await store.nextDeliveryMs()).toBe(T0 + LEASE);
      expect((await store.claimDeliveries(T0 + LEASE, 10, LEASE)).map((d) => d.alertId)).toEqual(['a-1']);
    });

    it('never claims a delivered or failed delivery', async () => {
      const store = await ctx.open();
      await raise(store, 'a-1', T0, ['mqtt', 'webhook:http://127.0.0.1:9/x']);
      const [d1, d2] = await store.deliveriesOf('a-1');
      await store.updateDelivery({ id: d1.id, status: 'delivered', attempts: 1, nextMs: T0, lastError: null, doneMs: T0 + 1 });
      await store.updateDelivery({ id: d2.id, status: 'failed', attempts: 8, nextMs: T0, lastError: 'HTTP 500', doneMs: T0 + 2 });
      expect(await store.claimDeliveries(T0 + 100 * MIN, 10, LEASE)).toEqual([]);
      expect(await store.deliveriesOf('a-1')).toEqual([
        { ...d1, status: 'delivered', attempts: 1, nextMs: T0, lastError: null, doneMs: T0 + 1 },
        { ...d2, status: 'failed', attempts: 8, nextMs: T0, lastError: 'HTTP 500', doneMs: T0 + 2 },
      ]);
    });

    it('counts deliveries by status', async () => {
      const store = await ctx.open();
      await raise(store, 'a-1', T0, ['mqtt', 'webhook:http://127.0.0.1:9/x']);
      await raise(store, 'a-2', T0, ['mqtt']);
      const [d1] = await store.deliveriesOf('a-1');
      await store.updateDelivery({ id: d1.id, status: 'failed', attempts: 8, nextMs: T0, lastError: 'refused', doneMs: T0 + 1 });
      expect(await store.deliveryCounts()).toEqual({ pending: 2, delivered: 0, failed: 1 });
    });

    it('says when the earliest pending delivery is due, and null when none is pending', async () => {
      const store = await ctx.open();
      expect(await store.nextDeliveryMs()).toBeNull();
      await raise(store, 'a-1', T0 + 3 * MIN);
      await raise(store, 'a-2', T0 + MIN);
      expect(await store.nextDeliveryMs()).toBe(T0 + MIN);
      for (const alertId of ['a-1', 'a-2']) {
        const [d] = await store.deliveriesOf(alertId);
        await store.updateDelivery({ ...d, status: 'delivered', attempts: 1, doneMs: T0 + 4 * MIN });
      }
      expect(await store.nextDeliveryMs()).toBeNull();
    });

    it('retries a delivery at the time updateDelivery sets', async () => {
      const store = await ctx.open();
      await raise(store, 'a-1', T0);
      const [d] = await store.claimDeliveries(T0, 1, LEASE);
      await store.updateDelivery({ id: d.id, status: 'pending', attempts: 1, nextMs: T0 + 30_000, lastError: 'timeout', doneMs: null });
      expect(await store.claimDeliveries(T0 + 29_999, 10, LEASE)).toEqual([]);
      expect((await store.claimDeliveries(T0 + 30_000, 10, LEASE)).map((x) => [x.attempts, x.lastError])).toEqual([[1, 'timeout']]);
    });
  });
}
