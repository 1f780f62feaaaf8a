import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cloneWithSerial, startSimFleet } from '../src/fleet';
import { listProfiles, loadProfile } from '../src/profiles';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../test/helpers/broker';
import { silentLogSink } from '../src/host/log';
import type { SimCamera } from '../src/camera';
import { Subscriber } from '../../test/helpers/subscriber';
import { buildAgent } from '../../build.mjs';

const BUNDLE = resolve(__dirname, '../../dist/agent.js');

describe('fleet serials', () => {
  it('gives every clone of every profile a distinct, valid serial with the profile vendor prefix', () => {
    const serials = new Set<string>();
    const profiles = listProfiles().map((n) => loadProfile(n));
    for (let salt = 0; salt < profiles.length; salt++) {
      for (let i = 0; i < 200; i++) {
        const clone = cloneWithSerial(profiles[salt], i, salt);
        expect(clone.data.identity.serialNumber).toMatch(/^[0-9A-F]{12}$/);
        expect(clone.data.identity.serialNumber.slice(0, 6)).toBe(profiles[salt].data.identity.serialNumber.slice(0, 6));
        serials.add(clone.data.identity.serialNumber);
      }
    }
    expect(serials.size).toBe(profiles.length * 200);
  });

  it('leaves the original profile untouched', () => {
    const profile = loadProfile('exposed');
    const before = profile.data.identity.serialNumber;
    cloneWithSerial(profile, 5, 1);
    expect(profile.data.identity.serialNumber).toBe(before);
  });
});

describe('fleet mode', () => {
  let broker: EmbeddedBroker;
  let cameras: SimCamera[] = [];
  const stateRoot = mkdtempSync(join(tmpdir(), 'vigil-fleet-'));

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) await buildAgent();
    broker = await startEmbeddedBroker();
  });

  afterAll(async () => {
    await Promise.all(cameras.map((c) => c.stop()));
    await broker.close();
    rmSync(stateRoot, { recursive: true, force: true });
  });

  it('runs forty cameras in one process, each reporting under its own serial', async () => {
    const subscriber = await Subscriber.connect(broker.url, ['vigil/v1/+/report']);
    try {
      cameras = await startSimFleet({
        profiles: ['hardened', 'exposed'].map((n) => loadProfile(n)),
        count: 40,
        bundlePath: BUNDLE,
        broker,
        stateRoot,
        log: silentLogSink,
        overrides: { IntegrityPaths: '/usr/bin' },
      });
      expect(new Set(cameras.map((c) => c.serial)).size).toBe(40);
      await subscriber.waitFor('a report from each camera', () => new Set(subscriber.messages.map((m) => m.topic)).size === 40, 60_000);
      for (const m of subscriber.messages) {
        const report = JSON.parse(m.payload.toString());
        expect(m.topic).toBe(`vigil/v1/${report.deviceId}/report`);
      }
    } finally {
      await subscriber.close();
    }
  }, 90_000);
});
