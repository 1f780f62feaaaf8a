/**
 * A replay after an outage arrives in `seq` order on each broker of the matrix (Aedes, Mosquitto, RabbitMQ):
 * 50 reports queued while the broker was unreachable, then the broker back, five runs in a row per broker.
 * The agent runs on a FakeHost whose clock the test advances, bridged to the real broker; the host's reads of
 * queued reports finish out of order (a random real delay each, as node:fs or a busy flash does), so the
 * order must come from the agent, not from the reads. A consumer counts a report arriving after a later
 * one as a gap: the observer's first sight of each seq must be 1, 2, 3, … with nothing missing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentHarness, deliveryAccount } from '../helpers/agent-harness';
import { BROKER_MATRIX, type BrokerUnderTest } from '../helpers/brokers-under-test';

const QUEUED = 50;
const RUNS = [1, 2, 3, 4, 5];

/** Makes the host's reads of queued reports finish in a shuffled order: each waits 0–4 ms of real time. */
const shuffleOutboxReads = (h: AgentHarness): void => {
  const fs = h.fake.fs;
  const readFile = fs.readFile.bind(fs);
  fs.readFile = async (path: string, maxBytes: number) => {
    const data = await readFile(path, maxBytes);
    if (path.includes('/outbox/')) await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 5)));
    return data;
  };
};

/** This run's reports as the observer got them: a retained report left by an earlier run is not one. */
const live = (h: AgentHarness): Array<{ seq: number; reportId: string; health: Record<string, number> }> =>
  h.received.filter((m) => m.topic.endsWith('/report') && !m.retain).map((m) => JSON.parse(m.payload));

describe.each(BROKER_MATRIX)('a replay of 50 queued reports over $name', (kind) => {
  let broker: BrokerUnderTest;
  let h: AgentHarness | null = null;

  beforeAll(async () => {
    broker = await kind.start();
  }, kind.startTimeoutMs);

  afterEach(async () => {
    await h?.close();
    h = null;
  });

  afterAll(async () => {
    await broker?.close();
  });

  it.each(RUNS)('arrives in seq order with none missing (run %i of 5)', async () => {
    h = new AgentHarness({ config: { IntervalSec: '10' }, broker: { host: broker.host, port: broker.port } });
    shuffleOutboxReads(h);
    await h.startBroker();
    h.start();
    const harness = h;
    await harness.until('the first report', () => harness.reports().length);
    harness.brokerDown();
    await harness.run(QUEUED * 10_000, 1000);
    const queued = (await harness.fake.fs.list('/data/outbox')).length;
    expect(queued).toBeGreaterThanOrEqual(QUEUED);
    harness.brokerUp();
    await harness.until('a report built after the replay', () => live(harness).find((r) => r.seq > queued + 1 && r.health.queueDepth === 0), {
      stepMs: 100,
      maxSteps: 5000,
    });
    const seqs = live(harness).map((r) => r.seq);
    const firstSeen = seqs.filter((seq, i) => seqs.indexOf(seq) === i);
    expect(firstSeen).toEqual(firstSeen.map((_, i) => i + 1));
    expect(deliveryAccount(live(harness)).missing).toEqual([]);
  }, 180_000);
});
