/**
 * End to end: a camera whose param.cgi answers in ISO-8859-1 (as real ones do: `charset=ISO-8859-1`) and
 * whose basicdeviceinfo.cgi fails, so the agent reads its product name from param.cgi; the name with its
 * umlaut arrives in the report intact. dist/agent.js inside QuickJS-wasm, SimHost's codec, embedded Aedes.
 * The agent's log goes into the failure message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimCamera, type SimCamera } from '../../host-sim/src/camera';
import { loadProfile } from '../../host-sim/src/profiles';
import { memoryLogSink } from '../../host-sim/src/sim-host';
import { BROKERS_UNDER_TEST, type BrokerUnderTest } from '../helpers/brokers-under-test';
import { Subscriber } from '../helpers/subscriber';
import type { Report } from '../../agent/src/report/types';
import { buildAgent } from '../../build.mjs';

const BUNDLE = join(__dirname, '../../dist/agent.js');
const FULL_NAME = 'AXIS Q3536-LVE Kuppelkamera Haustür Fußgängerüberweg';

describe('a param.cgi answer in ISO-8859-1, end to end', () => {
  let broker: BrokerUnderTest;
  let subscriber: Subscriber;
  let camera: SimCamera;
  const logs = memoryLogSink();
  const stateDir = mkdtempSync(join(tmpdir(), 'vigil-latin1-'));

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) await buildAgent();
    broker = await BROKERS_UNDER_TEST[0].start();
    subscriber = await Subscriber.connect(broker.url, ['vigil/v1/+/report']);
    const profile = loadProfile('active-12');
    profile.data.identity.prodFullName = FULL_NAME;
    camera = await startSimCamera({
      profile,
      bundlePath: BUNDLE,
      broker,
      stateDir,
      log: logs,
      vapixFaults: [{ mode: 'status500', paths: ['/axis-cgi/basicdeviceinfo.cgi'] }],
    });
    expect(camera.started.ok).toBe(true);
  });

  afterAll(async () => {
    await camera?.stop();
    await subscriber?.close();
    await broker?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('reports the product name read from param.cgi with its umlauts', async () => {
    const topic = `vigil/v1/${camera.serial}/report`;
    const first = () => subscriber.json(topic)[0] as Report | undefined;
    const report = await subscriber.waitFor('a report', first, 20_000).catch((err: Error) => {
      throw new Error(`${err.message}\nagent log:\n${logs.records.map((r) => r.message).join('\n')}`);
    });
    expect(camera.vapix.requests.some((r) => r.path === '/axis-cgi/param.cgi')).toBe(true);
    expect(report.device.fullName).toBe(FULL_NAME);
  });
});
