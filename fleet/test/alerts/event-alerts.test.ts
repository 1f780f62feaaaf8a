// Alerts from a camera's command events (issue 15 item 5): a rebaseline or an interval change, fed through the
// consumer's ingest into the alert engine on an in-memory (or file) store and an injected clock.
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/engine';
import { T0 } from '../fixtures';
import { alertRig, assertValidAlert, tempDb, type AlertRig } from './setup';

const MIN = 60_000;
let rig: AlertRig | null = null;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await rig?.close();
  rig = null;
  for (const c of cleanups.splice(0)) c();
});

let n = 0;
function commandEvent(kind: string, details: Record<string, unknown>, o: { eventId?: string; severity?: string; serial?: string } = {}): Record<string, unknown> {
  return {
    schema: 'vigil.event/1', deviceId: o.serial ?? 'CAM1', eventId: o.eventId ?? `ev-cmd-${(++n).toString().padStart(4, '0')}`, seq: 3, at: new Date(T0).toISOString(),
    kind, severity: o.severity ?? 'medium', summary: `${kind} by command`, details,
  };
}
const implant = (o: { eventId?: string; severity?: string } = {}) =>
  commandEvent('rebaseline', { files: 412, differed: ['added /usr/bin/.implant'], differedCount: 1, commandId: 'c1' }, { severity: 'high', ...o });
const ingest = (r: AlertRig, e: Record<string, unknown>) => r.consumer.ingest(`vigil/v1/${String(e.deviceId)}/event`, JSON.stringify(e));
const ofKind = async (r: AlertRig, kind: string) => (await r.stored()).filter((a) => a.kind === kind);

describe('alerts from command events', () => {
  it('raises one high rebaseline alert naming the file that differed and the command, matching the alert schema', async () => {
    rig = await alertRig({ alerts: { webhooks: ['http://127.0.0.1:9/hook'], webhookSecret: 's' } });
    const e = implant();
    expect(await ingest(rig, e)).toEqual({ result: 'stored' });
    const alerts = await rig.stored();
    expect(alerts).toHaveLength(1);
    assertValidAlert(alerts[0]);
    expect(alerts[0]).toMatchObject({
      serial: 'CAM1', kind: 'rebaseline', condition: `event:${String(e.eventId)}`, severity: 'high',
      summary: 'CAM1: rebaseline by command c1: 1 file differed: added /usr/bin/.implant',
      details: { eventId: e.eventId, commandId: 'c1', files: 412, differedCount: 1, differed: ['added /usr/bin/.implant'] },
    });
    expect((await rig.store.deliveriesOf(alerts[0].id)).map((d) => [d.sink, d.status])).toEqual([['webhook:http://127.0.0.1:9/hook', 'pending']]);
  });

  it('raises a medium rebaseline alert when no file differed from the old baseline', async () => {
    rig = await alertRig();
    await ingest(rig, commandEvent('rebaseline', { files: 412, differed: [], differedCount: 0, commandId: 'c2' }));
    const [a] = await ofKind(rig, 'rebaseline');
    expect([a.severity, a.summary]).toEqual(['medium', 'CAM1: rebaseline by command c2: 0 files differed']);
  });

  it("decides the rebaseline's severity from what differed, not from the severity the device claims", async () => {
    rig = await alertRig();
    await ingest(rig, implant({ severity: 'low' }));
    expect((await ofKind(rig, 'rebaseline')).map((a) => a.severity)).toEqual(['high']);
  });

  it('takes a rebaseline without a readable count of differed files as high', async () => {
    rig = await alertRig();
    await ingest(rig, commandEvent('rebaseline', { files: 'many' }));
    const [a] = await ofKind(rig, 'rebaseline');
    expect([a.severity, a.summary, a.details.commandId]).toEqual(['high', 'CAM1: rebaseline by command: files differed: unknown', null]);
  });

  it('raises a medium interval-changed alert with the old and new interval when the interval grows', async () => {
    rig = await alertRig();
    await ingest(rig, commandEvent('interval-changed', { oldSec: 60, newSec: 3600, commandId: 'si1' }));
    const alerts = await ofKind(rig, 'interval-changed');
    expect(alerts).toHaveLength(1);
    assertValidAlert(alerts[0]);
    expect(alerts[0]).toMatchObject({
      severity: 'medium', summary: 'CAM1: report interval changed by command si1: from 60 s to 3600 s', details: { oldSec: 60, newSec: 3600, commandId: 'si1' },
    });
  });

  it('raises an info interval-changed alert when the interval shrinks', async () => {
    rig = await alertRig();
    await ingest(rig, commandEvent('interval-changed', { oldSec: 60, newSec: 10, commandId: 'si2' }));
    expect((await ofKind(rig, 'interval-changed')).map((a) => a.severity)).toEqual(['info']);
  });

  it('raises nothing for events that are not about a command', async () => {
    rig = await alertRig();
    await ingest(rig, commandEvent('integrity-drift', { files: { added: ['changed /etc/passwd'] } }));
    expect(await rig.stored()).toEqual([]);
  });

  it('raises nothing again when the broker delivers the same event again', async () => {
    rig = await alertRig();
    const e = implant();
    await ingest(rig, e);
    rig.clock.now += MIN;
    expect(await ingest(rig, e)).toEqual({ result: 'duplicate' });
    expect(await ofKind(rig, 'rebaseline')).toHaveLength(1);
  });

  it('raises the alert on redelivery when the event was stored but its alert never written (stopped before the PUBACK)', async () => {
    rig = await alertRig();
    const e = implant();
    // As a consumer that committed the event and stopped before its alert check: the event alone in the store.
    await rig.store.ingest([{ kind: 'event', serial: 'CAM1', nowMs: rig.clock.now, eventId: String(e.eventId), eventKind: 'rebaseline', json: JSON.stringify(e) }]);
    rig.clock.now += MIN;
    expect(await ingest(rig, e)).toEqual({ result: 'duplicate' });
    expect((await ofKind(rig, 'rebaseline')).map((a) => a.condition)).toEqual([`event:${String(e.eventId)}`]);
  });

  it('raises nothing on a redelivery of an event first stored longer than the quiet period ago', async () => {
    rig = await alertRig({ alerts: { quietMinutes: 60 } });
    const e = implant();
    await rig.store.ingest([{ kind: 'event', serial: 'CAM1', nowMs: rig.clock.now, eventId: String(e.eventId), eventKind: 'rebaseline', json: JSON.stringify(e) }]);
    rig.clock.now += 61 * MIN;
    await ingest(rig, e);
    expect(await rig.stored()).toEqual([]);
  });

  it('raises nothing for a redelivered event after a restart of the consumer on the same store', async () => {
    const db = tempDb();
    cleanups.push(db.remove);
    rig = await alertRig({ dbPath: db.path });
    const e = implant();
    await ingest(rig, e);
    const clock = rig.clock;
    await rig.close();
    clock.now += 5 * MIN;
    rig = await alertRig({ dbPath: db.path, clock });
    await ingest(rig, e);
    expect(await ofKind(rig, 'rebaseline')).toHaveLength(1);
  });

  it('raises one alert per event: a second rebaseline is a second alert', async () => {
    rig = await alertRig();
    await ingest(rig, implant());
    rig.clock.now += MIN;
    await ingest(rig, implant());
    const alerts: Alert[] = await ofKind(rig, 'rebaseline');
    expect(new Set(alerts.map((a) => a.condition)).size).toBe(2);
  });
});
