/**
 * A huge publish is refused before the consumer buffers it (issue 15 item 8, the MQTT part), on real Mosquitto:
 * on MQTT 5 by the maximumPacketSize in the consumer's CONNECT (8 × --max-payload), for every client by the
 * documented message_size_limit. What is only a little too large still arrives and is quarantined, counted.
 */
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { FleetConsumer, PACKET_LIMIT_FACTOR } from '../../fleet/src/consumer';
import { loadTables } from '../../fleet/src/data';
import { DEFAULT_MAX_PAYLOAD } from '../../fleet/src/ingest/context';
import type { LogLevel } from '../../fleet/src/log';
import { SqliteStore } from '../../fleet/src/store/sqlite';
import { documentedConfLines } from '../helpers/documented-broker';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { waitUntil } from '../helpers/wait';

let broker: Mosquitto | null = null;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await broker?.stop();
  broker = null;
});

const MB = 1024 * 1024;

async function consumer(protocolVersion: 4 | 5, logs: string[]): Promise<FleetConsumer> {
  const store = new SqliteStore(':memory:');
  const c = new FleetConsumer({
    brokerUrl: (broker as Mosquitto).url, store, tables: loadTables(), protocolVersion, sweepMs: 0, watchBrokerDrops: false,
    log: (level: LogLevel, m: string) => logs.push(`${level}: ${m}`),
  });
  cleanups.push(async () => {
    await c.stop();
    await store.close();
  });
  await c.start();
  return c;
}

async function camera(protocolVersion: 4 | 5): Promise<mqtt.MqttClient> {
  const cam = await mqtt.connectAsync((broker as Mosquitto).url, { clientId: 'cam1', protocolVersion, reconnectPeriod: 0 });
  cleanups.push(() => cam.endAsync(true));
  return cam;
}

/** A message after the big one: once it is in, the big one would have been too (one connection, in order). */
async function sentinelArrives(c: FleetConsumer, cam: mqtt.MqttClient): Promise<void> {
  await cam.publishAsync('vigil/v1/cam1/state', 'not json', { qos: 1 });
  await waitUntil('the message after it', () => (c.counters.invalid['not-json'] ?? 0) >= 1);
}

describe('payload size limits on the way to the consumer', () => {
  it('a 100 MB publish never reaches an MQTT 5 consumer: the broker drops it, the consumer stays connected and gets the next message', async () => {
    broker = await startMosquitto();
    const logs: string[] = [];
    const c = await consumer(5, logs);
    const cam = await camera(4);
    await cam.publishAsync('vigil/v1/cam1/report', Buffer.alloc(100 * MB, 0x20), { qos: 1 });
    await sentinelArrives(c, cam);
    expect(c.counters.invalid.oversized ?? 0).toBe(0);
    expect(c.counters.messages).toBe(1);
    expect(c.connected).toBe(true);
    expect(logs.filter((l) => /reconnecting|exceeding/.test(l))).toEqual([]);
    expect(broker.log()).toMatch(/Dropping too large outgoing PUBLISH/);
  });

  it('a payload a little past --max-payload still arrives and is quarantined as oversized', async () => {
    broker = await startMosquitto();
    const c = await consumer(5, []);
    const cam = await camera(4);
    const bytes = DEFAULT_MAX_PAYLOAD * 2;
    expect(bytes).toBeLessThan(DEFAULT_MAX_PAYLOAD * PACKET_LIMIT_FACTOR);
    await cam.publishAsync('vigil/v1/cam1/report', Buffer.alloc(bytes, 0x20), { qos: 1 });
    await waitUntil('the quarantine', () => c.counters.invalid.oversized);
    expect(c.counters.invalid.oversized).toBe(1);
  });

  it('with the documented message_size_limit the broker refuses a large publish for an MQTT 3.1.1 consumer too, and the camera gets its PUBACK', async () => {
    const limits = documentedConfLines(['message_size_limit', 'max_packet_size']);
    expect(limits).toHaveLength(2);
    broker = await startMosquitto({ extraLines: limits });
    const c = await consumer(4, []);
    const cam = await camera(4);
    const limit = Number(/message_size_limit (\d+)/.exec(limits.join('\n'))?.[1]);
    // Resolves on the PUBACK: the camera can delete it from its outbox instead of resending it forever.
    await cam.publishAsync('vigil/v1/cam1/report', Buffer.alloc(limit + 1, 0x20), { qos: 1 });
    await sentinelArrives(c, cam);
    // Only the message after it: the broker never forwarded the large one (Mosquitto logs that at debug level).
    expect(c.counters.messages).toBe(1);
  });
});
