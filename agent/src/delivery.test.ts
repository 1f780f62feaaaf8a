// Paced delivery's order: a replay publishes queued reports in seq order even when the host's file reads
// finish in another order (a real flash under load, the simulator's node:fs).
import { describe, expect, it } from 'vitest';
import { parseConfig } from './config';
import { createDelivery } from './delivery';
import type { MqttClient } from './mqtt/client';
import type { Outbox, OutboxEntry } from './outbox';
import { deviceTopics } from './mqtt/topics';

/** An outbox of `n` reports whose payload reads finish only when the test says so, in any order. */
const slowOutbox = (n: number) => {
  const list: OutboxEntry[] = Array.from({ length: n }, (_, i) => ({ id: `r${i + 1}`, seq: i + 1, queuedAt: 0, nBytes: 10 }));
  const reads = new Map<number, () => void>();
  const box: Outbox = {
    load: async () => {},
    push: async () => {},
    makeRoom: async () => {},
    inQueue: () => list,
    payload: (entry) => new Promise((resolve) => reads.set(entry.seq, () => resolve(new TextEncoder().encode(`{"seq":${entry.seq}}`)))),
    ack: async (id) => {
      list.splice(list.findIndex((e) => e.id === id), 1);
    },
    drop: async () => {},
    depth: n,
    nDropped: 0,
    maxSeq: n,
    busy: () => false,
    oldestQueuedAt: () => null,
  };
  return { box, finishRead: (seq: number) => (reads.get(seq) as () => void)() };
};

const noEvents = (): Outbox => ({ ...slowOutbox(0).box });

/** A connected client that records the seq of each PUBLISH in the order it was handed over. */
const recordingClient = () => {
  const published: number[] = [];
  const client = {
    state: 'open',
    brokerReceiveMaximum: 65535,
    publish: (_topic: string, payload: Uint8Array) => {
      published.push(JSON.parse(new TextDecoder().decode(payload)).seq);
      return new Promise<void>(() => {}); // no PUBACK: the window stays full
    },
  } as unknown as MqttClient;
  return { client, published };
};

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe('paced delivery', () => {
  it('publishes a replay in seq order when the payload reads finish out of order', async () => {
    const { box, finishRead } = slowOutbox(8);
    const { client, published } = recordingClient();
    const clock = { monotonic: () => 0, wall: () => 0, setTimer: () => 1, clearTimer: () => {} } as never;
    const topics = deviceTopics('ACCC8EF3A1C2');
    const d = createDelivery({
      clock,
      agentConf: parseConfig({ BrokerHost: 'broker' }),
      log: () => {},
      reportBox: box,
      eventBox: noEvents(),
      mqttLink: { client, connected: true },
      topics: () => topics,
      save: async () => {},
    });
    d.restart(0);
    d.pump();
    for (const seq of [3, 5, 4, 8, 1, 2, 7, 6]) {
      finishRead(seq);
      await settle();
    }
    expect(published).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
