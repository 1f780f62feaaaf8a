/**
 * End to end: a simulated camera whose app settings are changed through its simulated VAPIX param.cgi
 * (`action=update&root.vigil.…`, as the camera's settings page does) while the agent runs: the interval and
 * the broker change without a restart. Two real brokers: the embedded Aedes and Debian's Mosquitto.
 *
 * The simulator's clock is the machine's, so nothing here measures time: it checks what the reports say
 * (intervalSec, health.startedAt, seq) and where they arrive, with generous bounded waits.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimCamera, type SimCamera } from '../../host-sim/src/camera';
import { memoryLogSink } from '../../host-sim/src/sim-host';
import { startEmbeddedBroker } from '../helpers/broker';
import { startMosquitto } from '../helpers/mosquitto';
import { Subscriber } from '../helpers/subscriber';
import type { Report } from '../../agent/src/report/types';
import { buildAgent } from '../../build.mjs';

const BUNDLE = join(__dirname, '../../dist/agent.js');

/** param.cgi action=update as an admin: the camera's own answer text. */
async function updateParams(camera: SimCamera, params: Record<string, string>): Promise<string> {
  const c = camera.profile.data.vapix.credentials;
  const query = new URLSearchParams({ action: 'update', ...Object.fromEntries(Object.entries(params).map(([k, v]) => [`root.vigil.${k}`, v])) });
  const res = await fetch(`http://${camera.vapix.host}:${camera.vapixPort}/axis-cgi/param.cgi?${query}`, {
    headers: { Authorization: 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64') },
  });
  return res.text();
}

describe('settings changed on a simulated camera mid-run', () => {
  const cleanups: Array<() => Promise<void>> = [];
  let stateRoot = '';

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) await buildAgent();
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    if (stateRoot) rmSync(stateRoot, { recursive: true, force: true });
  });

  async function setup() {
    stateRoot = mkdtempSync(join(tmpdir(), 'vigil-settings-'));
    const aedes = await startEmbeddedBroker();
    cleanups.push(() => aedes.close());
    const mosquitto = await startMosquitto();
    cleanups.push(() => mosquitto.stop());
    const onAedes = await Subscriber.connect(aedes.url, ['vigil/v1/#']);
    cleanups.push(() => onAedes.close());
    const onMosquitto = await Subscriber.connect(mosquitto.url, ['vigil/v1/#']);
    cleanups.push(() => onMosquitto.close());
    const log = memoryLogSink();
    const camera = await startSimCamera({
      profile: 'active-12',
      bundlePath: BUNDLE,
      // no forced broker: the camera's settings page names it
      settings: { BrokerHost: aedes.host, BrokerPort: String(aedes.port), IntervalSec: '1' },
      stateDir: join(stateRoot, 'cam'),
      log,
    });
    cleanups.push(() => camera.stop());
    expect(camera.started.ok).toBe(true);
    const topic = `vigil/v1/${camera.serial}`;
    const reports = (s: Subscriber) => s.json(`${topic}/report`) as Report[];
    await onAedes.waitFor('a first report on Aedes', () => reports(onAedes).length >= 1);
    return { camera, onAedes, onMosquitto, mosquitto, log, topic, reports };
  }

  it('reports at a new IntervalSec set through param.cgi, from the same run', async () => {
    const { camera, onAedes, reports, log } = await setup();
    expect(reports(onAedes)[0].intervalSec).toBe(1);
    expect(await updateParams(camera, { IntervalSec: '2' })).toBe('OK\n');
    const changed = await onAedes.waitFor('a report at 2 s', () => reports(onAedes).find((r) => r.intervalSec === 2), 30_000);
    expect(changed.health.startedAt).toBe(reports(onAedes)[0].health.startedAt);
    expect(changed.seq).toBeGreaterThan(reports(onAedes)[0].seq);
    expect(log.records.some((r) => r.message === '[vigil] [config] settings changed: IntervalSec="2"')).toBe(true);
  });

  it('moves to a new broker set through param.cgi: offline on the old one, reports on the new one, same run', async () => {
    const { camera, onAedes, onMosquitto, mosquitto, topic, reports } = await setup();
    const startedAt = reports(onAedes)[0].health.startedAt;
    expect(await updateParams(camera, { BrokerHost: mosquitto.host, BrokerPort: String(mosquitto.port) })).toBe('OK\n');
    await onAedes.waitFor('offline on the old broker', () => onAedes.json(`${topic}/state`).find((s: any) => s.state === 'offline' && s.reason === 'reconfigured'), 30_000);
    const moved = await onMosquitto.waitFor('a report on the new broker', () => reports(onMosquitto)[0], 30_000);
    expect(moved.health.startedAt).toBe(startedAt);
    expect(onMosquitto.json(`${topic}/state`)).toContainEqual(expect.objectContaining({ state: 'online', reason: 'connected' }));
  });

  it('keeps reporting at the previous interval when param.cgi is given IntervalSec=abc', async () => {
    const { camera, onAedes, reports, log } = await setup();
    expect(await updateParams(camera, { IntervalSec: 'abc' })).toBe('OK\n');
    const n = reports(onAedes).length;
    await onAedes.waitFor('three more reports', () => reports(onAedes).length >= n + 3, 30_000);
    expect(reports(onAedes).every((r) => r.intervalSec === 1)).toBe(true);
    const lines = log.records.filter((r) => r.message.startsWith('[vigil] [config] IntervalSec must be'));
    expect(lines.map((r) => r.message)).toEqual(['[vigil] [config] IntervalSec must be an integer from 1 to 3600, got "abc"; keeping IntervalSec="1"']);
  });
});
