/**
 * End to end: scripted faults (host-sim/src/faults.ts) on a camera running the bundled lts2024 profile as
 * it is (no copy made by the test), dist/agent.js inside QuickJS-wasm, embedded Aedes, and the real fleet
 * consumer with its SQLite store. A `file-change` must reach the store as an integrity-drift event, a
 * `param:Network.SSH.Enabled=yes` as a service-change with the ssh-enabled finding, and the profile's
 * own files must stay as they were: the fault changed the camera's private rootfs copy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker } from '../helpers/broker';
import { startSimCamera, type SimCamera } from '../../host-sim/src/camera';
import { parseFaultSpec, preparePrivateRootfs, startFaultScript, type FaultScript } from '../../host-sim/src/faults';
import { loadProfile } from '../../host-sim/src/profiles';
import { silentLogSink } from '../../host-sim/src/sim-host';
import { startFleet, type Fleet } from '../../fleet/src/fleet';
import { assertValidEvent } from '../helpers/schemas';
import { buildAgent } from '../../build.mjs';
import { waitUntil } from '../helpers/wait';

const BUNDLE = join(__dirname, '../../dist/agent.js');
const PROFILE = loadProfile('lts2024');

function hashTree(dir: string, out = new Map<string, string>()): Map<string, string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) hashTree(p, out);
    else if (e.isFile()) out.set(p, createHash('sha256').update(readFileSync(p)).digest('hex'));
  }
  return out;
}

describe('scripted faults into the fleet store', () => {
  const before = hashTree(PROFILE.dir);
  const root = mkdtempSync(join(tmpdir(), 'vigil-e2e-fault-events-'));
  const scripts: FaultScript[] = [];
  const logs: string[] = [];
  let broker: EmbeddedBroker;
  let fleet: Fleet;
  let camera: SimCamera;
  const storedEvents = async () => (await fleet.store.events(camera.serial, 50)).map((e) => JSON.parse(e.json) as Record<string, any>);
  const script = (spec: string) => {
    scripts.push(startFaultScript([parseFaultSpec(spec)], { camera: () => camera, restart: async () => {}, log: (m) => void logs.push(m) }));
  };

  beforeAll(async () => {
    if (!existsSync(BUNDLE) || !readFileSync(BUNDLE, 'utf8').includes('vigil.event/1')) await buildAgent();
    broker = await startEmbeddedBroker();
    fleet = await startFleet({ brokerUrl: broker.url, http: null, sweepMs: 0 });
    // As `vigil sim` and `vigil demo` do: the camera starts on its private rootfs copy, so its baseline is the copy's.
    preparePrivateRootfs(PROFILE, join(root, 'state'));
    camera = await startSimCamera({ profile: PROFILE, bundlePath: BUNDLE, broker, stateDir: join(root, 'state'), overrides: { IntervalSec: '2' }, log: silentLogSink });
    expect(camera.started.ok).toBe(true);
    await waitUntil('two stored reports', async () => ((await fleet.store.history(camera.serial, 10)).length >= 2 ? true : null));
  }, 60_000);

  afterAll(async () => {
    for (const s of scripts) s.stop();
    await camera?.stop();
    await fleet?.stop();
    await broker?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('stores a high integrity-drift naming the file when a file-change fault changes /etc/passwd', async () => {
    script('file-change:/etc/passwd@0');
    const e = await waitUntil(`the stored event (faults said: ${logs.join('; ')})`, async () => (await storedEvents()).find((x) => x.kind === 'integrity-drift'));
    assertValidEvent(e);
    expect(e).toMatchObject({ deviceId: camera.serial, kind: 'integrity-drift', severity: 'high', details: { files: { added: ['changed /etc/passwd'] } } });
  }, 40_000);

  it('stores a service-change with the ssh-enabled finding when a param fault turns SSH on', async () => {
    script('param:Network.SSH.Enabled=yes@0');
    const e = await waitUntil(`the stored event (faults said: ${logs.join('; ')})`, async () => (await storedEvents()).find((x) => x.kind === 'service-change'));
    assertValidEvent(e);
    expect(e).toMatchObject({ kind: 'service-change', severity: 'medium', details: { services: { added: ['ssh'] }, findings: { added: ['ssh-enabled'] } } });
  }, 40_000);

  it("changed the camera's private rootfs copy, leaving the bundled profile's files as they were", () => {
    expect(camera.host.device.rootfsDir.startsWith(root)).toBe(true);
    expect(readFileSync(join(camera.host.device.rootfsDir, 'etc/passwd'), 'utf8')).toContain('file-change');
    expect(hashTree(PROFILE.dir)).toEqual(before);
  });
});
