// Issue 15 item 3, through a real Mosquitto and the real consumer: one report published on a camera's topic with
// seq 999999999, sent and started in 2099 and another model, must not freeze the camera. Before the fix it became
// the camera's newest: every real report after it was "out of order", the camera showed the forged model and went
// "missing" while it reported every 2 s, and a restart of its agent did not help.
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type Mosquitto } from '../../test/helpers/mosquitto';
import { waitUntil } from '../../test/helpers/wait';
import type { Report } from '../../agent/src/report/types';
import { startFleet, type Fleet } from '../src/fleet';
import { metricsText } from '../src/metrics';
import { makeReport, T0 } from './fixtures';

const SERIAL = 'ACCC8E00F0F0';
const STARTED = new Date(T0 - 3_600_000).toISOString();

let m: Mosquitto;
let fleet: Fleet;
let pub: MqttClient;
const clock = { now: T0 };

beforeAll(async () => {
  m = await startMosquitto();
  fleet = await startFleet({ brokerUrl: m.url, http: null, now: () => clock.now, sweepMs: 0, alerts: { mqtt: false, reconcileMs: 0 } });
  pub = await mqtt.connectAsync(m.url, { clientId: `test-forger-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
}, 60_000);

afterAll(async () => {
  await pub?.endAsync();
  await fleet?.stop();
  await m?.stop();
});

/** A real report of the camera, seq n, sent now by the simulated clock, every 2 s. */
function real(seq: number, startedAt = STARTED): Report {
  return makeReport({ serial: SERIAL, seq, sentAt: new Date(clock.now).toISOString(), startedAt, intervalSec: 2 });
}

/** Publishes (QoS 1, as the agent) and waits until the consumer has handled that many messages. */
async function publish(body: Report, handled: number): Promise<void> {
  await pub.publishAsync(`vigil/v1/${SERIAL}/report`, JSON.stringify(body), { qos: 1 });
  await waitUntil(`message ${handled} handled`, () => fleet.consumer.counters.messages >= handled, { timeoutMs: 30_000 });
  await fleet.consumer.settled();
}

describe('a forged report on a camera topic, on Mosquitto', () => {
  it('is refused and the camera keeps its real state: its reports in order, online, its own model, not missing', { timeout: 120_000 }, async () => {
    let n = 0;
    for (let seq = 1; seq <= 3; seq++, clock.now += 2000) await publish(real(seq), ++n);
    const forged = { ...makeReport({ serial: SERIAL, seq: 999_999_999, sentAt: '2099-01-01T00:00:00.000Z', startedAt: '2099-01-01T00:00:00.000Z', model: 'FORGED-9000', intervalSec: 2 }) };
    await publish(forged, ++n);
    for (let seq = 4; seq <= 8; seq++, clock.now += 2000) await publish(real(seq), ++n);
    fleet.consumer.sweep(clock.now);
    const cam = fleet.consumer.camera(SERIAL);
    expect([cam?.model, cam?.lastSeq, cam?.status, cam?.evaluation?.integrity, cam?.outOfOrder, cam?.reports]).toEqual(['M3086-V', 8, 'online', 'ok', 0, 8]);
    expect(fleet.consumer.counters.refused).toEqual({ identity: 1 });
    const q = await fleet.store.quarantined(10);
    expect(q.map((x) => [x.serial, x.reason.split(':').slice(0, 2).join(':')])).toEqual([[SERIAL, 'forged: identity']]);
    expect(metricsText(fleet.consumer)).toContain('vigil_fleet_reports_refused_total{reason="identity"} 1');
  });

  it("raises identity-mismatch for the forged report's model, once", async () => {
    const alerts = (await fleet.store.alerts(100, SERIAL)).map((a) => JSON.parse(a.json));
    expect(alerts.filter((a) => a.kind === 'identity-mismatch').map((a) => [a.severity, a.details.claimed, a.details.known])).toEqual([
      ['high', { model: 'FORGED-9000', hardwareId: '9A1' }, { model: 'M3086-V', hardwareId: '9A1' }],
    ]);
  });

  it('refuses the same far-future report with the camera\'s own model as from the future, and a restarted agent goes on', { timeout: 120_000 }, async () => {
    let n = fleet.consumer.counters.messages;
    await publish(makeReport({ serial: SERIAL, seq: 999_999_999, reportId: 'forged-2', sentAt: '2099-01-01T00:00:00.000Z', startedAt: '2099-01-01T00:00:00.000Z', intervalSec: 2 }), ++n);
    // The agent restarts: a new start, its seq carried on from flash.
    const restarted = new Date(clock.now).toISOString();
    for (let seq = 9; seq <= 11; seq++, clock.now += 2000) await publish(real(seq, restarted), ++n);
    fleet.consumer.sweep(clock.now);
    const cam = fleet.consumer.camera(SERIAL);
    expect([cam?.lastSeq, cam?.status, cam?.outOfOrder]).toEqual([11, 'online', 0]);
    expect(fleet.consumer.counters.refused).toEqual({ identity: 1, future: 1 });
  });
});
