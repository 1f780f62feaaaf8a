// End to end: the native agent (the packaged bytecode, out/agent.qjsbc) against a simulated camera's VAPIX
// server and rootfs/ and a real Mosquitto publishes the same report, field by field, as the QuickJS-wasm
// simulator does for the same profile. Times, ids, heap and timing numbers, the host name and the bundle
// hash aside: any other difference is a bug in one of the two hosts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { startSimCamera } from '../../host-sim/src/camera';
import { loadProfile, type LoadedProfile } from '../../host-sim/src/profiles';
import { buildConfig, silentLogSink } from '../../host-sim/src/sim-host';
import { VapixServer } from '../../host-sim/src/vapix-server';
import { startMosquitto } from '../../test/helpers/mosquitto';
import { Subscriber } from '../../test/helpers/subscriber';
import { BUILD_TIMEOUT_MS, NATIVE, REPO, TARGETS, ensureBuilt, startNative, tempDir } from './helpers';

const PROFILES = ['active-12', 'exposed', 'tampered', 'lts2020-eol'];
const PREFIX = 'vigil/v1';

type Json = Record<string, unknown>;

/** The fields that differ by run or by host, blanked. */
function comparable(report: Json): Json {
  const r = JSON.parse(JSON.stringify(report)) as Json;
  for (const k of ['reportId', 'sentAt']) r[k] = '<run>';
  const health = r.health as Json;
  for (const k of ['host', 'startedAt', 'heapUsedBytes', 'collectMs', 'oldestQueuedAgeSec']) health[k] = '<run>';
  const integrity = r.integrity as Json;
  integrity.agentBundleSha256 = '<bundle>';
  if (integrity.baseline && typeof integrity.baseline === 'object') (integrity.baseline as Json).createdAt = '<run>';
  return r;
}

async function simReport(profile: LoadedProfile, dir: string): Promise<Json> {
  const broker = await startMosquitto();
  const sub = await Subscriber.connect(broker.url, [`${PREFIX}/#`]);
  const camera = await startSimCamera({
    profile,
    bundlePath: path.join(REPO, 'dist/agent.js'),
    broker: { host: broker.host, port: broker.port },
    stateDir: path.join(dir, 'sim-state'),
    log: silentLogSink,
  });
  try {
    const topic = `${PREFIX}/${camera.serial}/report`;
    await sub.waitFor('a report from the simulator', () => sub.json(topic).length > 0, 30_000);
    return sub.json(topic)[0] as Json;
  } finally {
    await camera.stop();
    await sub.close();
    await broker.stop();
  }
}

describe.each(PROFILES)('the native agent against the %s camera', (profileName) => {
  const tmp = tempDir(`e2e-${profileName}`);
  const profile = loadProfile(profileName);
  let expected: Json;

  beforeAll(async () => {
    ensureBuilt();
    expected = await simReport(profile, tmp.dir);
  }, BUILD_TIMEOUT_MS);

  afterAll(() => tmp.cleanup());

  for (const target of TARGETS) {
    it(`publishes the simulator's report ${target.label}, and offline on SIGTERM`, async () => {
      const broker = await startMosquitto();
      const sub = await Subscriber.connect(broker.url, [`${PREFIX}/#`]);
      const vapix = new VapixServer({ profile: profile.data });
      const vapixPort = await vapix.listen();
      const dir = path.join(tmp.dir, target.arch);
      const dataDir = path.join(dir, 'localdata');
      if (profile.localdataDir && existsSync(profile.localdataDir)) cpSync(profile.localdataDir, dataDir, { recursive: true });
      // The simulator's parameters for this camera; VAPIX credentials as parameters because a PC has no
      // system D-Bus (the simulator hands them over as GetCredentials on AXIS OS >= 11.9).
      const config = buildConfig(profile, { BrokerHost: broker.host, BrokerPort: String(broker.port), VapixHost: vapix.host, VapixPort: String(vapixPort) });
      config.VapixUsername = profile.data.vapix.credentials.username;
      config.VapixPassword = profile.data.vapix.credentials.password;
      const configFile = path.join(dir + '.conf');
      writeFileSync(configFile, Object.entries(config).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
      const agent = startNative(target, ['--stderr', '--no-dbus', '--root', profile.rootfsDir, '--data-dir', dataDir, '--config', configFile, path.join(NATIVE, 'out/agent.qjsbc')]);
      try {
        const topic = `${PREFIX}/${profile.data.identity.serialNumber}/report`;
        await sub.waitFor(`a report from the native agent; its log:\n${agent.stderr()}`, () => sub.json(topic).length > 0, 60_000);
        const got = sub.json(topic)[0] as Json;
        expect(comparable(got)).toEqual(comparable(expected));
        expect((got.health as Json).host).toBe('host-native');
        expect(((got.integrity as Json).agentBundleSha256 as string)).toMatch(/^[0-9a-f]{64}$/);

        agent.process.kill('SIGTERM');
        const exit = await agent.exited;
        expect(exit, `stderr:\n${agent.stderr()}`).toEqual({ code: 0, signal: null });
        // The agent's offline is PUBACKed before it exits, but the broker may still be forwarding it to us.
        const states = () => sub.messages.filter((m) => m.topic === `${PREFIX}/${profile.data.identity.serialNumber}/state`).map((m) => m.payload.toString());
        await sub.waitFor('an offline state after SIGTERM', () => states().some((s) => s.includes('offline')), 10_000);
        expect(agent.stderr()).not.toMatch(/unhandled promise rejection|interrupted/);
      } finally {
        if (agent.process.exitCode === null) agent.process.kill('SIGKILL');
        await vapix.close();
        await sub.close();
        await broker.stop();
      }
    }, 120_000);
  }
});
