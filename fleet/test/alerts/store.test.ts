// The store's part of alerts and decommission: migration 3, retirement, the outbox, and retention.
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite';

const alert = (id: string, raisedMs: number) => ({ id, serial: 'CAM1', kind: 'lost', condition: 'lost', severity: 'high', raisedMs, json: `{"id":"${id}"}` });

describe('the alert store', () => {
  it('says false when retiring a camera it does not know', () => {
    const store = new SqliteStore(':memory:');
    expect(store.setRetired('NOPE', 1, 'x')).toBe(false);
    store.close();
  });

  it('lists due deliveries oldest first with their alert, and not before they are due', () => {
    const store = new SqliteStore(':memory:');
    store.insertAlert(alert('a', 10), ['mqtt'], 100);
    store.insertAlert(alert('b', 20), ['mqtt', 'webhook:http://x/'], 50);
    expect(store.dueDeliveries(49, 10)).toEqual([]);
    expect(store.dueDeliveries(100, 10).map((d) => [d.alertId, d.sink, d.json])).toEqual([
      ['b', 'mqtt', '{"id":"b"}'], ['b', 'webhook:http://x/', '{"id":"b"}'], ['a', 'mqtt', '{"id":"a"}'],
    ]);
    expect(store.nextDeliveryMs()).toBe(50);
    expect(store.alerts(10).map((a) => a.id)).toEqual(['b', 'a']);
    store.close();
  });

  it('prunes settled alerts and deliveries past retention but keeps an alert whose delivery is pending', () => {
    const store = new SqliteStore(':memory:');
    store.insertAlert(alert('old-done', 10), ['mqtt'], 10);
    store.insertAlert(alert('old-pending', 10), ['mqtt'], 10);
    store.insertAlert(alert('new', 1000), ['mqtt'], 1000);
    const [done] = store.deliveriesOf('old-done');
    store.updateDelivery({ ...done, status: 'delivered', attempts: 1, doneMs: 20 });
    store.prune(500);
    expect(store.alerts(10).map((a) => a.id).sort()).toEqual(['new', 'old-pending']);
    expect(store.deliveryCounts()).toEqual({ pending: 2, delivered: 0, failed: 0 });
    store.close();
  });

  it('keeps conditions as written, active and cleared', () => {
    const store = new SqliteStore(':memory:');
    store.putAlertCondition({ serial: 'CAM1', condition: 'lost', active: true, sinceMs: 1, clearedMs: null, alerted: true });
    store.putAlertCondition({ serial: 'CAM1', condition: 'missing', active: false, sinceMs: 1, clearedMs: 2, alerted: false });
    store.deleteAlertCondition('CAM1', 'nothing');
    expect(store.alertConditions()).toEqual([
      { serial: 'CAM1', condition: 'lost', active: true, sinceMs: 1, clearedMs: null, alerted: true },
      { serial: 'CAM1', condition: 'missing', active: false, sinceMs: 1, clearedMs: 2, alerted: false },
    ]);
    store.close();
  });
});
