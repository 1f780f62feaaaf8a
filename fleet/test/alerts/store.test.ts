// The store's part of alerts and decommission: migration 3, retirement, the outbox and its leases, and retention.
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite';
import type { AlertConditionRow, AlertRow } from '../../src/store/types';

const alert = (id: string, raisedMs: number): AlertRow => ({ id, serial: 'CAM1', kind: 'lost', condition: 'lost', severity: 'high', raisedMs, json: `{"id":"${id}"}` });

/** Stores one alert with a pending delivery per sink due at nowMs, as the engine does (store.updateAlerts). */
const insertAlert = (store: SqliteStore, a: AlertRow, sinks: string[], nowMs: number) =>
  store.updateAlerts(a.serial, () => ({ puts: [], deletes: [], alerts: [a] }), sinks, nowMs);

describe('the alert store', () => {
  it('says false when retiring a camera it does not know', async () => {
    const store = new SqliteStore(':memory:');
    expect(await store.setRetired('NOPE', 1, 'x')).toBe(false);
    await store.close();
  });

  it('claims due deliveries oldest first with their alert, and not before they are due', async () => {
    const store = new SqliteStore(':memory:');
    await insertAlert(store, alert('a', 10), ['mqtt'], 100);
    await insertAlert(store, alert('b', 20), ['mqtt', 'webhook:http://x/'], 50);
    expect(await store.claimDeliveries(49, 10, 1000)).toEqual([]);
    expect(await store.nextDeliveryMs()).toBe(50);
    expect((await store.claimDeliveries(100, 10, 1000)).map((d) => [d.alertId, d.sink, d.json])).toEqual([
      ['b', 'mqtt', '{"id":"b"}'], ['b', 'webhook:http://x/', '{"id":"b"}'], ['a', 'mqtt', '{"id":"a"}'],
    ]);
    expect((await store.alerts(10)).map((a) => a.id)).toEqual(['b', 'a']);
    await store.close();
  });

  it('claims no more than the limit, and leaves the rest for the next claim', async () => {
    const store = new SqliteStore(':memory:');
    await insertAlert(store, alert('a', 10), ['mqtt', 'webhook:http://x/'], 10);
    await insertAlert(store, alert('b', 20), ['mqtt'], 20);
    expect((await store.claimDeliveries(100, 2, 1000)).map((d) => [d.alertId, d.sink])).toEqual([['a', 'mqtt'], ['a', 'webhook:http://x/']]);
    expect((await store.claimDeliveries(100, 2, 1000)).map((d) => [d.alertId, d.sink])).toEqual([['b', 'mqtt']]);
    await store.close();
  });

  it('does not claim a claimed delivery again before its lease ends, and claims it again after (a crash mid-delivery)', async () => {
    const store = new SqliteStore(':memory:');
    await insertAlert(store, alert('a', 10), ['mqtt'], 100);
    const [claimed] = await store.claimDeliveries(100, 10, 1000);
    expect(claimed).toMatchObject({ alertId: 'a', status: 'pending', attempts: 0 });
    expect(await store.claimDeliveries(100, 10, 1000)).toEqual([]);
    expect(await store.claimDeliveries(1099, 10, 1000)).toEqual([]);
    expect(await store.nextDeliveryMs()).toBe(1100);
    expect((await store.deliveriesOf('a'))[0]).toMatchObject({ status: 'pending', nextMs: 1100 });
    expect((await store.claimDeliveries(1100, 10, 1000)).map((d) => d.id)).toEqual([claimed.id]);
    await store.close();
  });

  it('does not claim a delivery that was settled while it was leased', async () => {
    const store = new SqliteStore(':memory:');
    await insertAlert(store, alert('a', 10), ['mqtt'], 100);
    const [claimed] = await store.claimDeliveries(100, 10, 1000);
    await store.updateDelivery({ ...claimed, status: 'delivered', attempts: 1, doneMs: 150 });
    expect(await store.claimDeliveries(5000, 10, 1000)).toEqual([]);
    expect(await store.nextDeliveryMs()).toBeNull();
    await store.close();
  });

  it('prunes settled alerts and deliveries past retention but keeps an alert whose delivery is pending', async () => {
    const store = new SqliteStore(':memory:');
    await insertAlert(store, alert('old-done', 10), ['mqtt'], 10);
    await insertAlert(store, alert('old-pending', 10), ['mqtt'], 10);
    await insertAlert(store, alert('new', 1000), ['mqtt'], 1000);
    const [done] = await store.deliveriesOf('old-done');
    await store.updateDelivery({ ...done, status: 'delivered', attempts: 1, doneMs: 20 });
    await store.prune(500);
    expect((await store.alerts(10)).map((a) => a.id).sort()).toEqual(['new', 'old-pending']);
    expect(await store.deliveryCounts()).toEqual({ pending: 2, delivered: 0, failed: 0 });
    await store.close();
  });

  it('keeps conditions as written, active and cleared, and hands them to the next decision', async () => {
    const store = new SqliteStore(':memory:');
    const lost: AlertConditionRow = { serial: 'CAM1', condition: 'lost', active: true, sinceMs: 1, clearedMs: null, alerted: true };
    const missing: AlertConditionRow = { serial: 'CAM1', condition: 'missing', active: false, sinceMs: 1, clearedMs: 2, alerted: false };
    await store.updateAlerts('CAM1', () => ({ puts: [lost, missing], deletes: ['nothing'], alerts: [] }), ['mqtt'], 3);
    expect(await store.alertConditions()).toEqual([lost, missing]);
    let seen: AlertConditionRow[] = [];
    expect(await store.updateAlerts('CAM1', (stored) => ((seen = stored), null), ['mqtt'], 4)).toBeNull();
    expect(seen).toEqual([lost, missing]);
    await store.close();
  });

  it('writes nothing of a change whose transaction fails: neither conditions, nor alerts, nor deliveries', async () => {
    const store = new SqliteStore(':memory:');
    await insertAlert(store, alert('a', 10), ['mqtt'], 10);
    const lost: AlertConditionRow = { serial: 'CAM1', condition: 'lost', active: true, sinceMs: 20, clearedMs: null, alerted: true };
    // The second alert reuses a stored id: its insert fails, and the whole change with it.
    await expect(store.updateAlerts('CAM1', () => ({ puts: [lost], deletes: [], alerts: [alert('b', 20), alert('a', 20)] }), ['mqtt'], 20)).rejects.toThrow();
    expect(await store.alertConditions()).toEqual([]);
    expect((await store.alerts(10)).map((a) => a.id)).toEqual(['a']);
    expect(await store.deliveriesOf('b')).toEqual([]);
    await store.close();
  });
});
