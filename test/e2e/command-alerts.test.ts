/**
 * Commands that could hide a problem raise alerts at the fleet (issue 15 item 5), end to end: dist/agent.js on
 * a simulated camera (lts2024, on its private rootfs copy), Debian's Mosquitto, the real fleet consumer with
 * its SQLite store and dashboard API, and commands published with Debian's mosquitto_pub as an operator would.
 * A file planted under /usr/bin and then absorbed by `rebaseline` must leave a high `rebaseline` alert naming
 * the file on `<prefix>/fleet/alert` and an event in the camera's history; `set-interval` an `interval-changed`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { startSimCamera, type SimCamera } from '../../host-sim/src/camera';
import { parseFaultSpec, preparePrivateRootfs, startFaultScript, type FaultScript } from '../../host-sim/src/faults';
import { loadProfile } from '../../host-sim/src/profiles';
import { silentLogSink } from '../../host-sim/src/sim-host';
import { startFleet, type Fleet } from '../../fleet/src/fleet';
import type { Alert } from '../../fleet/src/alerts/engine';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { buildAgent } from '../../build.mjs';
import { waitUntil } from '../helpers/wait';

const BUNDLE = join(__dirname, '../../dist/agent.js');
const PROFILE = loadProfile('lts2024');
const MOSQUITTO_PUB = ['/usr/bin/mosquitto_pub', '/usr/local/bin/mosquitto_pub'].find((p) => existsSync(p)) ?? 'mosquitto_pub';
// Generous: CI shares two cores between sessions.
const WAIT = { timeoutMs: 60_000, pollMs: 100 };

describe('command events into fleet alerts over Mosquitto', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-e2e-command-alerts-'));
  const stateDir = join(root, 'state');
  const scripts: FaultScript[] = [];
  const faultLogs: string[] = [];
  /** What arrived on `vigil/v1/fleet/alert` (the MQTT sink of the alert outbox). */
  const published: Alert[] = [];
  let mosquitto: Mosquitto;
  let fleet: Fleet;
  let camera: SimCamera;
  let watcher: mqtt.MqttClient;

  const pub = (command: string, payload: string) =>
    promisify(execFile)(MOSQUITTO_PUB, ['-h', mosquitto.host, '-p', String(mosquitto.port), '-q', '1', '-i', `vigil-test-operator-${command}`, '-t', `vigil/v1/${camera.serial}/cmd/${command}`, '-m', payload]);
  const alertOf = (kind: string) => published.find((a) => a.kind === kind && a.serial === camera.serial);
  const history = async () => {
    const res = await fetch(`${fleet.url}api/cameras/${camera.serial}/history`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { events: Array<{ kind: string; eventId: string; json: Record<string, any> }> }).events;
  };

  beforeAll(async () => {
    if (!existsSync(BUNDLE) || !readFileSync(BUNDLE, 'utf8').includes('interval-changed')) await buildAgent();
    mosquitto = await startMosquitto();
    watcher = await mqtt.connectAsync(mosquitto.url, { clientId: 'vigil-test-alert-watcher', clean: true, reconnectPeriod: 0 });
    watcher.on('message', (_t, payload) => void published.push(JSON.parse(payload.toString()) as Alert));
    await watcher.subscribeAsync('vigil/v1/fleet/alert', { qos: 1 });
    // missing only after 20 intervals: a late report on a busy machine must not add alerts this test is not about.
    fleet = await startFleet({ brokerUrl: mosquitto.url, dbPath: join(root, 'fleet.db'), sweepMs: 0, missingIntervals: 20, alerts: { reconcileMs: 0, pollMs: 50 } });
    preparePrivateRootfs(PROFILE, stateDir);
    camera = await startSimCamera({ profile: PROFILE, bundlePath: BUNDLE, broker: mosquitto, stateDir, overrides: { IntervalSec: '2' }, log: silentLogSink });
    expect(camera.started.ok).toBe(true);
    await waitUntil('two stored reports', async () => ((await fleet.store.history(camera.serial, 10)).length >= 2 ? true : null), WAIT);
  }, 120_000);

  afterAll(async () => {
    for (const s of scripts) s.stop();
    await camera?.stop();
    await watcher?.endAsync();
    await fleet?.stop();
    await mosquitto?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('raises a high rebaseline alert naming the planted file when rebaseline absorbs it, and shows the event in the history', async () => {
    scripts.push(startFaultScript([parseFaultSpec('file-add:/usr/bin/.implant@0')], { camera: () => camera, restart: async () => {}, log: (m) => void faultLogs.push(m) }));
    // The camera has seen the planted file (the fleet alerted on it) before the command absorbs it.
    await waitUntil(`the integrity-changed alert (faults said: ${faultLogs.join('; ')})`, () => alertOf('integrity-changed'), WAIT);
    await pub('rebaseline', '{"id":"c1"}');
    const a = await waitUntil('the rebaseline alert on vigil/v1/fleet/alert', () => alertOf('rebaseline'), WAIT);
    expect(a).toMatchObject({
      kind: 'rebaseline', severity: 'high', summary: `${camera.serial}: rebaseline by command c1: 1 file differed: added /usr/bin/.implant`,
      details: { commandId: 'c1', differedCount: 1, differed: ['added /usr/bin/.implant'] },
    });
    const events = await history();
    const e = events.find((x) => x.kind === 'rebaseline');
    expect(e?.json.details).toMatchObject({ commandId: 'c1', differed: ['added /usr/bin/.implant'] });
    expect(a.condition).toBe(`event:${e?.eventId}`);
    // The verdict went back to ok (what the command does), but the fleet still has the trace.
    await waitUntil('integrity ok again', () => fleet.consumer.camera(camera.serial)?.evaluation?.integrity === 'ok', WAIT);
    expect((await fleet.store.alerts(100, camera.serial)).filter((x) => x.kind === 'rebaseline')).toHaveLength(1);
  }, 150_000);

  it('raises a medium interval-changed alert with the old and new interval when set-interval stretches it', async () => {
    await pub('set-interval', '{"id":"si1","intervalSec":60}');
    const a = await waitUntil('the interval-changed alert on vigil/v1/fleet/alert', () => alertOf('interval-changed'), WAIT);
    expect(a).toMatchObject({ severity: 'medium', details: { commandId: 'si1', oldSec: 2, newSec: 60 } });
    expect((await history()).filter((x) => x.kind === 'interval-changed').map((x) => x.json.details)).toEqual([{ oldSec: 2, newSec: 60, commandId: 'si1' }]);
  }, 90_000);
});
