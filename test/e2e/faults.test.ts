/**
 * Fault injection end to end: dist/agent.js in QuickJS-wasm (a simulated camera), a real broker (embedded
 * Aedes and Mosquitto), and an MQTT.js subscriber standing in for the fleet. For every fault the subscriber
 * must end up with every seq the camera produced, or a gap its dropped counter accounts for exactly; after
 * de-duplication by reportId nothing is doubled; the agent never crashes and its heap stays bounded.
 *
 * Real time, fast settings: a report every second, reconnects capped at 2 s. The camera-side switches of
 * SimHost (faults.ts) hold the camera off the broker while the broker or the subscriber is being restarted,
 * so that what the subscriber misses is only what the camera lost.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimCamera, type SimCamera, type SimCameraOptions } from '../../host-sim/src/camera';
import { memoryLogSink } from '../../host-sim/src/sim-host';
import { BROKERS_UNDER_TEST as brokers, type BrokerUnderTest as Broker } from '../helpers/brokers-under-test';
import { freePort } from '../helpers/ports';
import { Subscriber } from '../helpers/subscriber';
import { deliveryAccount } from '../helpers/agent-harness';
import { buildAgent } from '../../build.mjs';

const BUNDLE = join(__dirname, '../../dist/agent.js');
const PROFILE = 'hardened';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  if (!existsSync(BUNDLE)) await buildAgent();
});

describe.each(brokers)('faults over $name', (kind) => {
  let broker: Broker | null = null;
  let sub: Subscriber | null = null;
  let camera: SimCamera | null = null;
  let stateDir = '';
  let port = 0;
  let logs = memoryLogSink();

  afterEach(async () => {
    await camera?.stop().catch(() => undefined);
    await sub?.close().catch(() => undefined);
    await broker?.close().catch(() => undefined);
    camera = null;
    sub = null;
    broker = null;
    rmSync(stateDir, { recursive: true, force: true });
  });

  function cameraOptions(overrides: Record<string, string> = {}): SimCameraOptions {
    return {
      profile: PROFILE,
      bundlePath: BUNDLE,
      broker: { host: '127.0.0.1', port },
      stateDir,
      log: logs,
      overrides: { IntervalSec: '1', KeepaliveSec: '5', ReconnectMaxSec: '2', ReplayPerSec: '50', VapixTimeoutMs: '500', ...overrides },
    };
  }

  async function setUp(options: { brokerFirst?: boolean; overrides?: Record<string, string> } = {}): Promise<void> {
    stateDir = mkdtempSync(join(tmpdir(), 'vigil-faults-'));
    logs = memoryLogSink();
    port = await freePort();
    if (options.brokerFirst !== false) {
      broker = await kind.start(port);
      sub = await Subscriber.connect(broker.url, ['vigil/v1/+/report', 'vigil/v1/+/state']);
    }
    camera = await startSimCamera(cameraOptions(options.overrides));
    expect(camera.started.ok).toBe(true);
  }

  const reports = () => (sub ? (sub.json(`vigil/v1/${camera?.serial}/report`) as Array<{ seq: number; reportId: string; health: { dropped: number; queueDepth: number } }>) : []);

  /** Waits for a report built with an empty queue after `afterSeq`, then checks the account up to it. */
  async function expectEverySeqOrCountedGap(afterSeq: number): Promise<{ missing: number[]; dropped: number }> {
    const settled = await (sub as Subscriber).waitFor(
      `a report after seq ${afterSeq} built with an empty queue`,
      () => reports().find((r) => r.seq > afterSeq && r.health.queueDepth === 0),
      40_000,
    );
    const account = deliveryAccount(reports().filter((r) => r.seq <= settled.seq));
    expect(account.doubledSeqs).toEqual([]);
    expect(account.missing.length).toBe(settled.health.dropped);
    const c = camera as SimCamera;
    expect(c.runner.exitReason).toBeNull();
    expect(c.runner.memory().usedBytes).toBeLessThan(8 << 20);
    expect(logs.records.filter((r) => /report cycle failed|start failed/.test(r.message))).toEqual([]);
    return { missing: account.missing, dropped: settled.health.dropped };
  }

  const waitForSeq = (seq: number) => (sub as Subscriber).waitFor(`seq ${seq}`, () => reports().some((r) => r.seq >= seq), 30_000);

  /** Holds the camera off the broker, lets in-flight deliveries reach the subscriber, runs `work`, releases. */
  async function offline(work: () => Promise<void>): Promise<void> {
    const c = camera as SimCamera;
    c.host.device.brokerDown = true;
    c.host.dropBrokerConnections();
    await sleep(300);
    await work();
    c.host.device.brokerDown = false;
  }

  async function restartBroker(): Promise<void> {
    const seen = sub ? sub.messages : [];
    await sub?.close();
    await broker?.close();
    broker = await kind.start(port);
    sub = await Subscriber.connect(broker.url, ['vigil/v1/+/report', 'vigil/v1/+/state']);
    // the fleet's store keeps what it received before the restart
    sub.messages.unshift(...seen);
  }

  it('broker down at start: everything queued meanwhile arrives once it is up', async () => {
    await setUp({ brokerFirst: false });
    await sleep(3000); // real ECONNREFUSED: nothing listens yet
    await offline(async () => {
      broker = await kind.start(port);
      sub = await Subscriber.connect(broker.url, ['vigil/v1/+/report', 'vigil/v1/+/state']);
    });
    const { missing } = await expectEverySeqOrCountedGap(3);
    expect(missing).toEqual([]);
  });

  it('broker restart mid-stream: nothing is lost across it', async () => {
    await setUp();
    await waitForSeq(2);
    await offline(async () => {
      await restartBroker();
      await sleep(1500);
    });
    const { missing } = await expectEverySeqOrCountedGap(6);
    expect(missing).toEqual([]);
  });

  it('connection dropped during replay: the rest is replayed after the reconnect', async () => {
    await setUp();
    await waitForSeq(1);
    await offline(async () => void (await sleep(4000)));
    (camera as SimCamera).host.device.dropAfterPublishes = 2;
    const { missing } = await expectEverySeqOrCountedGap(6);
    expect(missing).toEqual([]);
    expect((camera as SimCamera).host.device.dropAfterPublishes).toBeNull();
  });

  it.each(['partial-tmp', 'before-rename', 'after-rename'] as const)('agent killed during an outbox write (%s): restarted on the same data dir, nothing lost or doubled', async (point) => {
    await setUp();
    await waitForSeq(1);
    const killed = new Promise<void>((resolve) => {
      (camera as SimCamera).host.device.crashOnWrite = { match: /\/outbox\//, point, onCrash: () => resolve() };
    });
    await offline(async () => {
      await killed;
      await (camera as SimCamera).kill();
      camera = await startSimCamera({ ...cameraOptions(), lastExit: `killed during an outbox write (${point})` });
      await sleep(2000);
    });
    const { missing } = await expectEverySeqOrCountedGap(5);
    expect(missing).toEqual([]);
  });

  it('data dir full (ENOSPC): reports are held in memory and delivered', async () => {
    await setUp();
    await waitForSeq(1);
    await offline(async () => {
      (camera as SimCamera).host.device.diskFull = true;
      await sleep(3000);
      (camera as SimCamera).host.device.diskFull = false;
    });
    const { missing } = await expectEverySeqOrCountedGap(5);
    expect(missing).toEqual([]);
    expect(logs.records.filter((r) => /cannot write report/.test(r.message))).toHaveLength(1);
  });

  it('wall clock jumping backwards and forwards: the schedule and the seq carry on', async () => {
    await setUp();
    await waitForSeq(1);
    (camera as SimCamera).host.device.wallOffsetMs = -3600_000;
    await sleep(2000);
    (camera as SimCamera).host.device.wallOffsetMs = 7 * 86400_000;
    const { missing } = await expectEverySeqOrCountedGap(5);
    expect(missing).toEqual([]);
  });

  it.each(['slow', 'hang', 'status500', 'garbage'] as const)('VAPIX %s for a while: reports keep coming, with collector errors', async (mode) => {
    await setUp();
    await waitForSeq(1);
    (camera as SimCamera).vapix.setFaults([{ mode, delayMs: mode === 'slow' ? 300 : undefined }]);
    await sleep(3000);
    (camera as SimCamera).vapix.setFaults([]);
    const { missing } = await expectEverySeqOrCountedGap(4);
    expect(missing).toEqual([]);
  });

  it('outbox full during a long outage: the gap is exactly the dropped count', async () => {
    await setUp({ overrides: { OutboxMaxReports: '3' } });
    await waitForSeq(1);
    await offline(async () => void (await sleep(6000)));
    const { missing, dropped } = await expectEverySeqOrCountedGap(8);
    expect(missing.length).toBeGreaterThan(0);
    expect(missing.length).toBe(dropped);
  });
});
