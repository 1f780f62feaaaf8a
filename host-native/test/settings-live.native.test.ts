// End to end: the native agent (out/agent.qjsbc) on x86_64 and under qemu-aarch64 against a simulated
// camera's VAPIX, whose app settings (root.vigil.* in param.cgi) are changed through param.cgi mid-run, as
// the camera's settings page does: the interval and the broker change without a restart. --config carries
// only what a PC needs (the simulated VAPIX's address and credentials: no D-Bus here); the broker and the
// interval come from the camera. Two real brokers: Mosquitto, then the embedded Aedes. No timing is measured:
// the reports say what they were sent under (intervalSec, health.startedAt).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadProfile } from '../../host-sim/src/profiles';
import { buildConfig } from '../../host-sim/src/sim-host';
import { AppSettings, VapixServer } from '../../host-sim/src/vapix-server';
import { startEmbeddedBroker } from '../../test/helpers/broker';
import { startMosquitto } from '../../test/helpers/mosquitto';
import { Subscriber } from '../../test/helpers/subscriber';
import type { Report } from '../../agent/src/report/types';
import { BUILD_TIMEOUT_MS, NATIVE, TARGETS, ensureBuilt, startNative, tempDir, type NativeProcess } from './helpers';

const PREFIX = 'vigil/v1';
const profile = loadProfile('active-12');
const serial = profile.data.identity.serialNumber;

/** param.cgi action=update as an admin; the camera's answer text. */
async function updateParams(vapix: VapixServer, params: Record<string, string>): Promise<string> {
  const c = profile.data.vapix.credentials;
  const query = new URLSearchParams({ action: 'update', ...Object.fromEntries(Object.entries(params).map(([k, v]) => [`root.vigil.${k}`, v])) });
  const res = await fetch(`http://${vapix.host}:${vapix.port}/axis-cgi/param.cgi?${query}`, {
    headers: { Authorization: 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64') },
  });
  return res.text();
}

describe.each(TARGETS.filter((t) => t.arch !== 'armv7hf'))('settings changed on the camera mid-run, native agent $label', (target) => {
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
  });

  async function setup() {
    const tmp = tempDir(`settings-${target.arch}`);
    cleanups.push(() => tmp.cleanup());
    const mosquitto = await startMosquitto();
    cleanups.push(() => mosquitto.stop());
    const aedes = await startEmbeddedBroker();
    cleanups.push(() => aedes.close());
    const onMosquitto = await Subscriber.connect(mosquitto.url, [`${PREFIX}/#`]);
    cleanups.push(() => onMosquitto.close());
    const onAedes = await Subscriber.connect(aedes.url, [`${PREFIX}/#`]);
    cleanups.push(() => onAedes.close());
    // The camera's settings page: the profile's values and the first broker.
    const app = new AppSettings(undefined, { ...buildConfig(profile, {}), BrokerHost: mosquitto.host, BrokerPort: String(mosquitto.port), IntervalSec: '1' });
    const vapix = new VapixServer({ profile: profile.data, app });
    await vapix.listen();
    cleanups.push(() => vapix.close());
    const c = profile.data.vapix.credentials;
    const configFile = path.join(tmp.dir, 'lab.conf');
    writeFileSync(configFile, `VapixHost=${vapix.host}\nVapixPort=${vapix.port}\nVapixUsername=${c.username}\nVapixPassword=${c.password}\n`);
    const agent: NativeProcess = startNative(target, ['--stderr', '--no-dbus', '--root', profile.rootfsDir, '--data-dir', path.join(tmp.dir, 'localdata'), '--config', configFile, path.join(NATIVE, 'out/agent.qjsbc')]);
    cleanups.push(() => {
      if (agent.process.exitCode === null) agent.process.kill('SIGKILL');
    });
    const reports = (s: Subscriber) => s.json(`${PREFIX}/${serial}/report`) as Report[];
    await onMosquitto.waitFor(`a first report on Mosquitto; the agent's log:\n${agent.stderr()}`, () => reports(onMosquitto).length >= 1, 60_000);
    return { vapix, agent, onMosquitto, onAedes, aedes, reports };
  }

  it('reports at a new IntervalSec set through param.cgi, from the same run', async () => {
    const { vapix, agent, onMosquitto, reports } = await setup();
    expect(reports(onMosquitto)[0].intervalSec).toBe(1);
    expect(await updateParams(vapix, { IntervalSec: '2' })).toBe('OK\n');
    const changed = await onMosquitto.waitFor(`a report at 2 s; the agent's log:\n${agent.stderr()}`, () => reports(onMosquitto).find((r) => r.intervalSec === 2), 60_000);
    expect(changed.health.startedAt).toBe(reports(onMosquitto)[0].health.startedAt);
    expect(agent.stderr()).toContain('[vigil] [config] settings changed: IntervalSec="2"');
  }, 120_000);

  it('moves to a new broker set through param.cgi: offline on the old one, reports on the new one, same run', async () => {
    const { vapix, agent, onMosquitto, onAedes, aedes, reports } = await setup();
    const startedAt = reports(onMosquitto)[0].health.startedAt;
    expect(await updateParams(vapix, { BrokerHost: aedes.host, BrokerPort: String(aedes.port) })).toBe('OK\n');
    await onMosquitto.waitFor('offline on the old broker', () => onMosquitto.json(`${PREFIX}/${serial}/state`).find((s: any) => s.state === 'offline' && s.reason === 'reconfigured'), 60_000);
    const moved = await onAedes.waitFor(`a report on the new broker; the agent's log:\n${agent.stderr()}`, () => reports(onAedes)[0], 60_000);
    expect(moved.health.startedAt).toBe(startedAt);
    expect(agent.process.exitCode).toBeNull();
  }, 120_000);
});
