// The alert engine on an in-memory (or file) store and an injected clock, fed through the consumer's ingest:
// what raises an alert, what does not, the quiet period, restarts, a data update, retired cameras, and two
// engines sharing one store (two consumers on one database).
import { afterEach, describe, expect, it } from 'vitest';
import { conditionsOf } from '../../src/alerts/conditions';
import { loadAlertRules } from '../../src/alerts/rules';
import { AlertEngine, type Alert } from '../../src/alerts/engine';
import { FleetConsumer } from '../../src/consumer';
import { evaluate } from '../../src/evaluate';
import { loadTables, type AdvisoryData, type Tables } from '../../src/data';
import { SqliteStore } from '../../src/store/sqlite';
import { finding, makeReport, T0 } from '../fixtures';
import { alertRig, assertValidAlert, tempDb, type AlertRig } from './setup';

const MIN = 60_000;
let rig: AlertRig | null = null;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await rig?.close();
  rig = null;
  for (const c of cleanups.splice(0)) c();
});

const kinds = (alerts: Alert[]) => alerts.map((a) => `${a.serial} ${a.kind} ${a.condition}`);
const telnet = () => finding('telnet-listening', 'high', 'Legacy');

describe('alert conditions', () => {
  it('raises one alert for a high finding present from the first report, with a payload that matches the schema', async () => {
    rig = await alertRig();
    const emitted: Alert[] = [];
    rig.alerts.on('alert', (a: Alert) => emitted.push(a));
    await rig.report(makeReport({ serial: 'CAM1', findings: [telnet(), finding('ssh-enabled', 'medium')] }));
    const alerts = await rig.stored();
    expect(kinds(alerts)).toEqual(['CAM1 finding finding:telnet-listening']);
    expect(emitted).toEqual(alerts);
    assertValidAlert(alerts[0]);
    expect(alerts[0]).toMatchObject({ schema: 'vigil.alert/1', severity: 'high', raisedAt: new Date(T0).toISOString(), details: { finding: 'telnet-listening', control: 'Legacy' } });
  });

  it('raises nothing when the same report arrives again or the next report has the same finding', async () => {
    rig = await alertRig();
    const r = makeReport({ serial: 'CAM1', findings: [telnet()] });
    await rig.report(r);
    await rig.report(r);
    rig.clock.now += MIN;
    await rig.report(makeReport({ serial: 'CAM1', seq: 2, findings: [telnet()] }));
    expect(await rig.stored()).toHaveLength(1);
  });

  it('queues one pending delivery per configured sink with each alert', async () => {
    rig = await alertRig({ alerts: { webhooks: ['http://127.0.0.1:9/a', 'http://127.0.0.1:9/b'], webhookSecret: 's' } });
    await rig.report(makeReport({ serial: 'CAM1', findings: [telnet()] }));
    const [a] = await rig.stored();
    expect((await rig.store.deliveriesOf(a.id)).map((d) => [d.sink, d.status, d.attempts])).toEqual([
      ['webhook:http://127.0.0.1:9/a', 'pending', 0],
      ['webhook:http://127.0.0.1:9/b', 'pending', 0],
    ]);
  });

  it('stays quiet when a cleared condition returns within the quiet period, and alerts when it returns after it', async () => {
    rig = await alertRig({ alerts: { quietMinutes: 30 } });
    await rig.report(makeReport({ serial: 'CAM1', seq: 1, findings: [telnet()] }));
    rig.clock.now += MIN;
    await rig.report(makeReport({ serial: 'CAM1', seq: 2 }));
    rig.clock.now += 10 * MIN;
    await rig.report(makeReport({ serial: 'CAM1', seq: 3, findings: [telnet()] }));
    expect(await rig.stored()).toHaveLength(1);
    rig.clock.now += MIN;
    await rig.report(makeReport({ serial: 'CAM1', seq: 4 }));
    rig.clock.now += 31 * MIN;
    await rig.report(makeReport({ serial: 'CAM1', seq: 5, findings: [telnet()] }));
    expect(kinds(await rig.stored())).toEqual(['CAM1 finding finding:telnet-listening', 'CAM1 finding finding:telnet-listening']);
  });

  it('raises lost on the will and recovered once when the camera is back online', async () => {
    rig = await alertRig();
    await rig.state('CAM1', 'online', 1);
    await rig.report(makeReport({ serial: 'CAM1' }));
    rig.clock.now += MIN;
    await rig.state('CAM1', 'lost', 1);
    rig.clock.now += 10 * MIN;
    await rig.state('CAM1', 'online', 2);
    await rig.report(makeReport({ serial: 'CAM1', seq: 2, startedAt: new Date(rig.clock.now).toISOString(), sentAt: new Date(rig.clock.now).toISOString() }));
    const alerts = await rig.stored();
    expect(kinds(alerts)).toEqual(['CAM1 lost lost', 'CAM1 recovered lost']);
    for (const a of alerts) assertValidAlert(a);
    expect(alerts[1]).toMatchObject({ severity: 'info', details: { was: 'lost', awayMs: 10 * MIN, status: 'online' } });
  });

  it('raises neither lost nor recovered again when the camera flaps within the quiet period', async () => {
    rig = await alertRig({ alerts: { quietMinutes: 60 } });
    await rig.state('CAM1', 'online', 1);
    await rig.state('CAM1', 'lost', 1);
    rig.clock.now += MIN;
    await rig.state('CAM1', 'online', 2);
    rig.clock.now += MIN;
    await rig.state('CAM1', 'lost', 2);
    rig.clock.now += MIN;
    await rig.state('CAM1', 'online', 3);
    expect(kinds(await rig.stored())).toEqual(['CAM1 lost lost', 'CAM1 recovered lost']);
  });

  it('raises missing after N intervals without a report, and recovered with the next report', async () => {
    rig = await alertRig();
    await rig.report(makeReport({ serial: 'CAM1', intervalSec: 60 }));
    rig.clock.now += 3 * MIN + 1;
    await rig.sweep(rig.clock.now);
    await rig.sweep(rig.clock.now + MIN);
    rig.clock.now += 2 * MIN;
    await rig.report(makeReport({ serial: 'CAM1', seq: 2, intervalSec: 60 }));
    expect(kinds(await rig.stored())).toEqual(['CAM1 missing missing', 'CAM1 recovered missing']);
  });

  it('raises no missing alert for a camera that has just come back online after a long absence', async () => {
    rig = await alertRig();
    await rig.state('CAM1', 'online', 1);
    await rig.report(makeReport({ serial: 'CAM1', intervalSec: 60 }));
    await rig.state('CAM1', 'offline', 1);
    rig.clock.now += 60 * MIN;
    await rig.state('CAM1', 'online', 2);
    await rig.sweep(rig.clock.now + 1000);
    expect(await rig.stored()).toEqual([]);
  });

  it('raises AllowUnsigned once when the report also has it as the finding unsigned-apps-allowed', async () => {
    rig = await alertRig();
    await rig.report(makeReport({ serial: 'CAM1', findings: [finding('unsigned-apps-allowed', 'high', 'B8')], integrity: { allowUnsignedApps: true } }));
    expect(kinds(await rig.stored())).toEqual(['CAM1 finding finding:unsigned-apps-allowed']);
  });

  it('raises support-ended for a track past its end and for a retired active release without a track, each under a stable key', async () => {
    rig = await alertRig();
    await rig.report(makeReport({ serial: 'CAM1', version: '9.80.3.12' }));
    await rig.report(makeReport({ serial: 'CAM2', version: '11.5.64' }));
    const ended = (await rig.stored()).filter((a) => a.kind === 'support-ended');
    expect(ended.map((a) => `${a.serial} ${a.condition} ${a.severity}`)).toEqual(['CAM1 support-ended:lts2020 high', 'CAM2 support-ended:no-track high']);
  });

  it('raises support-ending within the configured days and not before', () => {
    const rules = loadAlertRules();
    const tables = loadTables();
    // LTS 2022 ends 2027-12-31: 401 days after 2026-11-25.
    const cam = (days: number) => {
      const r = makeReport({ serial: 'CAM1', version: '10.12.257' });
      const entry = { rec: { serial: 'CAM1', retiredMs: null } as never, latest: r, evaluation: evaluate(r, tables, T0), status: 'online' as const, stateAtMs: null };
      return [...conditionsOf(entry, { rules, supportEndingDays: days }).keys()].filter((k) => k.startsWith('support'));
    };
    expect(cam(400)).toEqual([]);
    expect(cam(401)).toEqual(['support-ending:lts2022']);
  });

  it('raises unsigned-app and unsigned-allowed for an unsigned app under AllowUnsigned, and integrity-changed for drift', async () => {
    rig = await alertRig();
    await rig.report(makeReport({
      serial: 'CAM1',
      integrity: { status: 'changed', totalChanges: 1, changes: [{ path: '/etc/passwd', change: 'changed' }], allowUnsignedApps: true, apps: [{ name: 'evil', niceName: null, vendor: null, version: '1', status: 'Running', signatureStatus: 'Unsigned' }] },
    }));
    expect(kinds(await rig.stored()).sort()).toEqual(['CAM1 integrity-changed integrity-changed', 'CAM1 unsigned-allowed unsigned-allowed', 'CAM1 unsigned-app unsigned-app:evil']);
    expect((await rig.stored()).find((a) => a.kind === 'integrity-changed')?.details).toMatchObject({ changes: ['changed /etc/passwd'] });
  });
});

describe('alerts across a restart', () => {
  it('raises nothing again from a new engine on the same store, and recovered exactly once', async () => {
    const db = tempDb();
    cleanups.push(db.remove);
    const clock = { now: T0 };
    const first = await alertRig({ dbPath: db.path, clock });
    await first.state('CAM1', 'online', 1);
    await first.report(makeReport({ serial: 'CAM1', findings: [telnet()] }));
    await first.state('CAM1', 'lost', 1);
    expect(await first.stored()).toHaveLength(2);
    await first.close();
    clock.now += MIN;
    rig = await alertRig({ dbPath: db.path, clock });
    expect(await rig.alerts.reconcileAll()).toEqual([]);
    await rig.state('CAM1', 'lost', 1); // the retained will, delivered again
    rig.clock.now += MIN;
    await rig.state('CAM1', 'online', 2);
    await rig.state('CAM1', 'online', 2);
    expect(kinds(await rig.stored())).toEqual(['CAM1 finding finding:telnet-listening', 'CAM1 lost lost', 'CAM1 recovered lost']);
  });
});

describe('a data update', () => {
  it('raises an advisory alert for exactly the cameras the new advisory matches when every camera is checked again', async () => {
    const tables = loadTables();
    rig = await alertRig({ tables });
    await rig.report(makeReport({ serial: 'CAM1', version: '12.11.77' }));
    await rig.report(makeReport({ serial: 'CAM2', version: '12.11.77', soc: 'ARTPEC-8' }));
    await rig.report(makeReport({ serial: 'CAM3', version: '10.12.257' }));
    const before = (await rig.stored()).length;
    const added: AdvisoryData = { id: 'CVE-2099-0001', title: 'test advisory', cvss: 7.5, socs: ['CV25'], affected: [{ from: '12.0.0', lessThan: '12.12', fixed: null, fixConfirmed: false }] };
    const next: Tables = { ...tables, advisories: { ...tables.advisories, advisories: [...tables.advisories.advisories, added] } };
    // What consumer.reloadTables will do: swap the tables, evaluate every camera again; then the engine checks them all.
    (rig.consumer as unknown as { ctx: { tables: Tables } }).ctx.tables = next;
    for (const e of rig.consumer.entries()) if (e.latest) e.evaluation = evaluate(e.latest, next, rig.clock.now);
    const raised = await rig.alerts.reconcileAll();
    expect(kinds(raised)).toEqual(['CAM1 advisory advisory:CVE-2099-0001']);
    expect(raised[0]).toMatchObject({ severity: 'high', details: { advisory: 'CVE-2099-0001', cvss: 7.5 } });
    expect(await rig.stored()).toHaveLength(before + 1);
    expect(await rig.alerts.reconcileAll()).toEqual([]);
  });
});

describe('retired cameras', () => {
  it('leave the counts, raise nothing while retired, and raise retired-reporting once when they report again', async () => {
    rig = await alertRig();
    await rig.state('CAM1', 'online', 1);
    await rig.report(makeReport({ serial: 'CAM1', findings: [telnet()] }));
    await rig.report(makeReport({ serial: 'CAM2' }));
    await rig.state('CAM1', 'lost', 1);
    const before = (await rig.stored()).length;
    rig.clock.now += MIN;
    const view = await rig.consumer.retire('CAM1', rig.clock.now, 'replaced by CAM2');
    expect(view).toMatchObject({ retiredAt: new Date(rig.clock.now).toISOString(), retiredReason: 'replaced by CAM2' });
    expect(rig.consumer.counts()).toMatchObject({ total: 1, retired: 1 });
    expect(rig.alerts.engine.conditionsOf('CAM1').filter((c) => c.active)).toEqual([]);
    expect(await rig.alerts.reconcileAll()).toEqual([]);
    expect(await rig.stored()).toHaveLength(before);
    rig.clock.now += MIN;
    await rig.state('CAM1', 'online', 2);
    await rig.report(makeReport({ serial: 'CAM1', seq: 2, findings: [telnet(), finding('ftp-enabled', 'high')], sentAt: new Date(rig.clock.now).toISOString(), startedAt: new Date(rig.clock.now).toISOString() }));
    rig.clock.now += MIN;
    await rig.report(makeReport({ serial: 'CAM1', seq: 3, sentAt: new Date(rig.clock.now).toISOString(), startedAt: new Date(rig.clock.now - MIN).toISOString() }));
    expect(kinds((await rig.stored()).slice(before))).toEqual(['CAM1 retired-reporting retired-reporting']);
    expect((await rig.store.history('CAM1', 10)).length).toBe(3);
  });

  it('keep their retirement across a restart of the consumer', async () => {
    const db = tempDb();
    cleanups.push(db.remove);
    const first = await alertRig({ dbPath: db.path });
    await first.report(makeReport({ serial: 'CAM1' }));
    await first.consumer.retire('CAM1', T0, null);
    await first.close();
    rig = await alertRig({ dbPath: db.path });
    expect(rig.consumer.camera('CAM1')?.retiredAt).toBe(new Date(T0).toISOString());
    expect(rig.consumer.counts()).toMatchObject({ total: 0, retired: 1 });
  });

  it('return to service and to the alerts when unretired', async () => {
    rig = await alertRig({ alerts: { quietMinutes: 0 } });
    await rig.report(makeReport({ serial: 'CAM1', findings: [telnet()] }));
    await rig.consumer.retire('CAM1', T0, null);
    rig.clock.now += MIN;
    expect(await rig.consumer.retire('CAM1', null)).toMatchObject({ retiredAt: null, retiredReason: null });
    expect(kinds(await rig.stored())).toEqual(['CAM1 finding finding:telnet-listening', 'CAM1 finding finding:telnet-listening']);
  });

  it('cannot retire a camera the fleet does not know', async () => {
    rig = await alertRig();
    expect(await rig.consumer.retire('NOPE', T0, null)).toBeNull();
  });
});

/**
 * The store, with its first `callers` calls of updateAlerts held until all of them came: each engine has decided
 * from what it knows that the camera changed before either writes (the race of two consumers).
 */
function racingUpdates(store: SqliteStore, callers: number): SqliteStore {
  const held: Array<() => void> = [];
  let open = false;
  const shared = Object.create(store) as SqliteStore;
  shared.updateAlerts = async (...args) => {
    if (!open) {
      await new Promise<void>((go) => {
        held.push(go);
        if (held.length === callers) {
          open = true;
          for (const h of held) h();
        }
      });
    }
    return store.updateAlerts(...args);
  };
  return shared;
}

describe('two consumers sharing a store', () => {
  it('raise an alert once when their engines check the same camera change at the same time', async () => {
    const store = new SqliteStore(':memory:');
    cleanups.push(() => void store.close());
    const consumer = new FleetConsumer({ brokerUrl: 'mqtt://127.0.0.1:1', store, tables: loadTables(), sweepMs: 0, now: () => T0 });
    await consumer.ingest('vigil/v1/CAM1/report', JSON.stringify(makeReport({ serial: 'CAM1', findings: [telnet()] })));
    const [entry] = [...consumer.entries()];
    const shared = racingUpdates(store, 2);
    const sinks = ['mqtt', 'webhook:http://127.0.0.1:9/'];
    const told: Alert[] = [];
    const engines = [1, 2].map(() => new AlertEngine({
      store: shared, rules: loadAlertRules(), supportEndingDays: () => 0, quietMs: 30 * MIN, sinks, log: () => undefined, onRaised: (a) => told.push(a),
    }));
    for (const e of engines) await e.load();
    const raised = (await Promise.all(engines.map((e) => e.check(entry, T0)))).flat();
    expect(kinds(raised)).toEqual(['CAM1 finding finding:telnet-listening']);
    expect(told).toEqual(raised);
    const stored = await store.alerts(10);
    expect(stored.map((a) => a.id)).toEqual([raised[0].id]);
    expect((await store.deliveriesOf(raised[0].id)).map((d) => d.sink)).toEqual(sinks);
    expect((await store.alertConditions()).map((c) => [c.condition, c.active, c.alerted])).toEqual([['finding:telnet-listening', true, true]]);
    // Checked again later, the same change raises nothing from either engine.
    expect(await Promise.all(engines.map((e) => e.check(entry, T0 + MIN)))).toEqual([[], []]);
    expect(await store.alerts(10)).toHaveLength(1);
  });

  it('raise a condition again after the quiet period when the other engine cleared it in between', async () => {
    const store = new SqliteStore(':memory:');
    cleanups.push(() => void store.close());
    const consumer = new FleetConsumer({ brokerUrl: 'mqtt://127.0.0.1:1', store, tables: loadTables(), sweepMs: 0, now: () => T0 });
    const entryOf = async (seq: number, findings: ReturnType<typeof telnet>[]) => {
      await consumer.ingest('vigil/v1/CAM1/report', JSON.stringify(makeReport({ serial: 'CAM1', seq, findings })));
      return { ...[...consumer.entries()][0] };
    };
    const engine = () => new AlertEngine({ store, rules: loadAlertRules(), supportEndingDays: () => 0, quietMs: 30 * MIN, sinks: ['mqtt'], log: () => undefined });
    const [a, b] = [engine(), engine()];
    const present = await entryOf(1, [telnet()]);
    expect(kinds(await a.check(present, T0))).toEqual(['CAM1 finding finding:telnet-listening']);
    await b.load();
    // The finding goes: b clears it first; a, checking the same change, finds it cleared already.
    const gone = await entryOf(2, []);
    expect(await b.check(gone, T0 + MIN)).toEqual([]);
    expect(await a.check(gone, T0 + MIN)).toEqual([]);
    expect((await store.alertConditions()).map((c) => [c.condition, c.active])).toEqual([['finding:telnet-listening', false]]);
    // Back after the quiet period, seen by a: that is a new alert.
    const back = await entryOf(3, [telnet()]);
    expect(kinds(await a.check(back, T0 + 40 * MIN))).toEqual(['CAM1 finding finding:telnet-listening']);
    expect(await store.alerts(10)).toHaveLength(2);
  });
});
