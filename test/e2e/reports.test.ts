/**
 * End to end: dist/agent.js inside QuickJS-wasm, one simulated camera per bundled profile, a real broker
 * (embedded Aedes, and Debian's Mosquitto on a free port), and an MQTT.js subscriber that checks what
 * arrives against each profile's own facts.
 *
 * Glossary: "camera" = startSimCamera (agent + SimHost + simulated VAPIX); "subscriber" = MQTT.js client
 * standing in for the fleet; "profile truth" = host-sim/profiles/<name>/profile.json and its rootfs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimCamera, type SimCamera } from '../../host-sim/src/camera';
import { listProfiles, loadProfile, vapixFaults, type LoadedProfile } from '../../host-sim/src/profiles';
import { parseProcNet } from '../../host-sim/src/procnet';
import { silentLogSink } from '../../host-sim/src/sim-host';
import { BROKERS_UNDER_TEST as brokers, type BrokerUnderTest } from '../helpers/brokers-under-test';
import { Subscriber } from '../helpers/subscriber';
import { assertValidReport } from '../helpers/schemas';
import type { Report } from '../../agent/src/report/types';
import { buildAgent } from '../../build.mjs';

const BUNDLE = join(__dirname, '../../dist/agent.js');
const PROFILES = listProfiles();

/** What /proc/net in the profile's rootfs says is listening: TCP in LISTEN, UDP bound. */
function listeningInRootfs(profile: LoadedProfile): number {
  let count = 0;
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6']) {
    const file = join(profile.rootfsDir, 'proc/net', proto);
    if (!existsSync(file)) continue;
    const rows = parseProcNet(readFileSync(file, 'utf8'));
    count += rows.filter((r) => (proto.startsWith('tcp') ? r.state === 0x0a : true)).length;
  }
  return count;
}

function faultedPaths(profile: LoadedProfile): string[] {
  return vapixFaults(profile.data).flatMap((f) => f.paths ?? ['*']);
}

describe.each(brokers)('reports over $name', (brokerKind) => {
  let broker: BrokerUnderTest;
  let subscriber: Subscriber;
  const cameras = new Map<string, SimCamera>();
  const stateRoot = mkdtempSync(join(tmpdir(), 'vigil-e2e-'));

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) await buildAgent();
    broker = await brokerKind.start();
    subscriber = await Subscriber.connect(broker.url, ['vigil/v1/#']);
    for (const name of PROFILES) {
      const camera = await startSimCamera({
        profile: name,
        bundlePath: BUNDLE,
        broker,
        stateDir: join(stateRoot, name),
        log: silentLogSink,
      });
      expect(camera.started.ok, `${name} started`).toBe(true);
      cameras.set(name, camera);
    }
    await subscriber.waitFor('a report from every camera', () =>
      [...cameras.values()].every((c) => subscriber.messages.some((m) => m.topic === `vigil/v1/${c.serial}/report`)),
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...cameras.values()].map((c) => c.stop()));
    await subscriber?.close();
    await broker?.close();
    rmSync(stateRoot, { recursive: true, force: true });
  });

  const firstReport = (name: string): Report => {
    const camera = cameras.get(name) as SimCamera;
    return subscriber.json(`vigil/v1/${camera.serial}/report`)[0] as Report;
  };

  describe.each(PROFILES)('profile %s', (name) => {
    const profile = loadProfile(name);
    const truth = profile.data;
    const faults = faultedPaths(profile);

    it('publishes a report that is valid against the schema', () => {
      assertValidReport(firstReport(name));
    });

    it('reports the identity and AXIS OS version of the profile', () => {
      const r = firstReport(name);
      expect(r.deviceId).toBe(truth.identity.serialNumber);
      expect(r.device.serial).toBe(truth.identity.serialNumber);
      expect(r.device.model).toBe(truth.identity.prodNbr);
      expect(r.os.version).toBe(truth.os.version);
      expect(r.device.architecture).toBe(truth.identity.architecture);
      expect(r.device.soc).toBe(truth.identity.soc);
    });

    it('counts exactly the sockets that the rootfs shows listening', () => {
      expect(firstReport(name).services.totalListening).toBe(listeningInRootfs(profile));
    });

    it('flags SSH, FTP, UPnP and Bonjour exactly when their parameters turn them on', () => {
      const ids = firstReport(name).services.findings.map((f) => f.id);
      const on = (param: string) => truth.params[param] === 'yes';
      expect(ids.includes('ssh-enabled')).toBe(on('Network.SSH.Enabled'));
      expect(ids.includes('ftp-enabled')).toBe(on('Network.FTP.Enabled'));
      expect(ids.includes('upnp-enabled')).toBe(on('Network.UPnP.Enabled'));
      expect(ids.includes('bonjour-enabled')).toBe(on('Network.Bonjour.Enabled'));
    });

    it('flags SNMP exactly when v1 or v2c is on', () => {
      const p = truth.params;
      const v1v2 = p['SNMP.Enabled'] === 'yes' && (p['SNMP.V1'] === 'yes' || p['SNMP.V2c'] === 'yes');
      expect(firstReport(name).services.findings.some((f) => f.id === 'snmp-v1-v2c')).toBe(v1v2);
    });

    it('records a new baseline on first run, or the changes a shipped baseline reveals', () => {
      const integrity = firstReport(name).integrity;
      if (profile.localdataDir) {
        expect(integrity.status).toBe('changed');
        expect(integrity.totalChanges).toBeGreaterThan(0);
      } else {
        expect(integrity.status).toBe('baseline-created');
        expect(integrity.baseline?.files).toBeGreaterThan(0);
      }
    });

    it('lists the installed apps and the AllowUnsigned switch, or says why it cannot', () => {
      const r = firstReport(name);
      if (faults.includes('/axis-cgi/applications/list.cgi')) {
        expect(r.errors.some((e) => e.collector === 'integrity')).toBe(true);
      } else {
        expect(r.integrity.apps.map((a) => a.name).sort()).toEqual(truth.applications.installed.map((a) => a.name).sort());
      }
      expect(r.integrity.allowUnsignedApps).toBe(truth.applications.allowUnsigned ?? null);
    });

    it('never contradicts the platform facts of the model (unknown is allowed)', () => {
      const platform = firstReport(name).integrity.platform;
      for (const key of ['signedOs', 'secureBoot', 'edgeVault'] as const) {
        if (platform[key] !== null) expect(platform[key], key).toBe(truth.platform[key]);
      }
    });

    it('carries the hash of the bundle its host loaded', () => {
      expect(firstReport(name).integrity.agentBundleSha256).toBe(cameras.get(name)?.bundleSha256);
    });

    it('reports collector errors exactly when the profile scripts VAPIX faults', () => {
      const errors = firstReport(name).errors;
      if (faults.length > 0) expect(errors.length).toBeGreaterThan(0);
      else expect(errors).toEqual([]);
    });
  });

  it('announces every camera online with its session counter on the retained state topic', () => {
    for (const camera of cameras.values()) {
      const states = subscriber.json(`vigil/v1/${camera.serial}/state`) as Array<{ state: string; session: number }>;
      expect(states[0]).toMatchObject({ state: 'online', session: 1 });
    }
  });

  it('keeps the newest report retained for a subscriber that starts late', async () => {
    const camera = cameras.get('hardened') as SimCamera;
    const late = await Subscriber.connect(broker.url, [`vigil/v1/${camera.serial}/report`]);
    try {
      const retained = await late.waitFor('the retained report', () => late.messages.find((m) => m.retain));
      expect(JSON.parse(retained.payload.toString()).deviceId).toBe(camera.serial);
    } finally {
      await late.close();
    }
  });

  it('turns the retained state lost through the last will when a camera is killed', async () => {
    const camera = cameras.get('exposed') as SimCamera;
    await camera.kill();
    await subscriber.waitFor('the will', () =>
      subscriber.json(`vigil/v1/${camera.serial}/state`).some((s) => (s as { state: string }).state === 'lost'),
    );
    const late = await Subscriber.connect(broker.url, [`vigil/v1/${camera.serial}/state`]);
    try {
      const retained = await late.waitFor('the retained state', () => late.messages.find((m) => m.retain));
      expect(JSON.parse(retained.payload.toString())).toMatchObject({ state: 'lost', reason: 'connection-lost', session: 1 });
    } finally {
      await late.close();
    }
  });

  it('publishes offline itself on a planned stop, since the will is not sent on a clean disconnect', async () => {
    const camera = cameras.get('lts2024') as SimCamera;
    await camera.stop();
    const late = await Subscriber.connect(broker.url, [`vigil/v1/${camera.serial}/state`]);
    try {
      const retained = await late.waitFor('the retained state', () => late.messages.find((m) => m.retain));
      expect(JSON.parse(retained.payload.toString())).toMatchObject({ state: 'offline', reason: 'shutdown', session: 1 });
    } finally {
      await late.close();
    }
  });
});
