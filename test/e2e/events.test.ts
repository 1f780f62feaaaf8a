/**
 * End to end: dist/agent.js inside QuickJS-wasm on a simulated camera (a copy of the lts2024 profile, so
 * its rootfs can be changed), a real broker (embedded Aedes, Debian's Mosquitto), and the real fleet
 * consumer with its SQLite store. Changing a file under IntegrityPaths, or making Telnet listen in
 * /proc/net/tcp, must reach the store as one event of the right kind and severity.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimCamera, type SimCamera } from '../../host-sim/src/camera';
import { loadProfile } from '../../host-sim/src/profiles';
import { silentLogSink } from '../../host-sim/src/sim-host';
import { startFleet, type Fleet } from '../../fleet/src/fleet';
import { BROKERS_UNDER_TEST as brokers } from '../helpers/brokers-under-test';
import { assertValidEvent } from '../helpers/schemas';
import { buildAgent } from '../../build.mjs';
import { waitUntil } from '../helpers/wait';

const BUNDLE = join(__dirname, '../../dist/agent.js');
const PROFILE = 'lts2024';

describe.each(brokers)('events over $name into the fleet store', (brokerKind) => {
  let broker: Awaited<ReturnType<(typeof brokers)[number]['start']>>;
  let fleet: Fleet;
  let camera: SimCamera;
  const root = mkdtempSync(join(tmpdir(), 'vigil-e2e-events-'));
  const profileDir = join(root, PROFILE);
  const storedEvents = async () => (await fleet.store.events(camera.serial, 50)).map((e) => JSON.parse(e.json) as Record<string, any>);

  beforeAll(async () => {
    if (!existsSync(BUNDLE) || !readFileSync(BUNDLE, 'utf8').includes('vigil.event/1')) await buildAgent();
    cpSync(join(__dirname, '../../host-sim/profiles', PROFILE), profileDir, { recursive: true });
    broker = await brokerKind.start();
    fleet = await startFleet({ brokerUrl: broker.url, http: null, sweepMs: 0 });
    camera = await startSimCamera({
      profile: loadProfile(profileDir),
      bundlePath: BUNDLE,
      broker,
      stateDir: join(root, 'state'),
      overrides: { IntervalSec: '2' },
      log: silentLogSink,
    });
    expect(camera.started.ok).toBe(true);
    await waitUntil('two stored reports', async () => ((await fleet.store.history(camera.serial, 10)).length >= 2 ? true : null));
  }, 60_000);

  afterAll(async () => {
    await camera?.stop();
    await fleet?.stop();
    await broker?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('stores nothing while the camera does not change', async () => {
    expect(await storedEvents()).toEqual([]);
  });

  it('stores one high integrity-drift naming the file when a file in the rootfs changes', async () => {
    appendFileSync(join(profileDir, 'rootfs/etc/passwd'), 'mallory::0:0::/:/bin/sh\n');
    const e = await waitUntil('the stored event', async () => (await storedEvents()).find((x) => x.kind === 'integrity-drift'));
    assertValidEvent(e);
    expect(e).toMatchObject({ deviceId: camera.serial, kind: 'integrity-drift', severity: 'high', details: { files: { added: ['changed /etc/passwd'] } } });
    const reports = (await fleet.store.history(camera.serial, 100)).length;
    await waitUntil('two more reports', async () => (await fleet.store.history(camera.serial, 100)).length >= reports + 2);
    expect((await storedEvents()).filter((x) => x.kind === 'integrity-drift')).toHaveLength(1);
  }, 40_000);

  it('stores a high service-change with the telnet-listening finding when Telnet starts listening', async () => {
    appendFileSync(join(profileDir, 'rootfs/proc/net/tcp'), '   1: 00000000:0017 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12001 1 00000000 100 0 0 10 0\n');
    const e = await waitUntil('the stored event', async () => (await storedEvents()).find((x) => x.kind === 'service-change'));
    assertValidEvent(e);
    expect(e).toMatchObject({
      kind: 'service-change',
      severity: 'high',
      details: { listening: { added: ['tcp 0.0.0.0:23'] }, findings: { added: ['telnet-listening'] } },
    });
  }, 40_000);
});
