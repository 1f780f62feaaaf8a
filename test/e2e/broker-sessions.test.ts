/**
 * Broker sessions (issue 15): the documented Mosquitto queue limits keep a stopped consumer's reports, the
 * consumer says so when another client takes over its client id, and per-instance users let consumers coexist. Real Mosquitto; the queue settings are
 * parsed from docs/broker-acl.md's mosquitto.conf block so the tested config is the documented one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { FleetSubscriber } from '../../fleet/src/subscriber';
import type { LogLevel } from '../../fleet/src/log';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { passwordOf, startAclBroker } from '../helpers/documented-broker';
import { waitUntil } from '../helpers/wait';

/** The queue lines of the first code block in docs/broker-acl.md (the mosquitto.conf). */
function documentedQueueLines(): string[] {
  const doc = readFileSync(join(__dirname, '../../docs/broker-acl.md'), 'utf8');
  const conf = /```\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  return conf.split('\n').filter((l) => /^max_(queued_messages|queued_bytes|inflight_messages)\s/.test(l));
}

let broker: Mosquitto | null = null;
const clients: mqtt.MqttClient[] = [];
const subscribers: FleetSubscriber[] = [];
afterEach(async () => {
  for (const s of subscribers.splice(0)) await s.stop().catch(() => undefined);
  for (const c of clients.splice(0)) await c.endAsync(true).catch(() => undefined);
  await broker?.stop();
  broker = null;
});

async function reportsQueuedForStoppedConsumer(queueLines: string[], count: number): Promise<number> {
  // extraLines come after the helper's own max_queued_messages, so the documented value wins.
  broker = await startMosquitto({ extraLines: queueLines });
  const consumer = await mqtt.connectAsync(broker.url, { clientId: 'fleet-1', clean: false, reconnectPeriod: 0 });
  await consumer.subscribeAsync('vigil/v1/+/report', { qos: 1 });
  await consumer.endAsync();
  const camera = await mqtt.connectAsync(broker.url, { clientId: 'cam1', reconnectPeriod: 0 });
  clients.push(camera);
  // Every one of these is PUBACKed: the camera would delete it from its outbox.
  for (let i = 0; i < count; i++) await camera.publishAsync('vigil/v1/cam1/report', JSON.stringify({ seq: i }), { qos: 1 });
  let received = 0;
  const back = mqtt.connect(broker.url, { clientId: 'fleet-1', clean: false, reconnectPeriod: 0 });
  clients.push(back);
  back.on('message', () => received++);
  // Progress-driven: wait until the count stops rising (the queue is flushed on reconnect), not a time.
  await new Promise<void>((resolve) => back.once('connect', () => resolve()));
  let last = -1;
  while (received !== last && received < count) {
    last = received;
    await back.publishAsync('vigil/v1/probe', 'x', { qos: 1 }); // a broker round trip: queued messages arrive before its PUBACK
  }
  return received;
}

describe('broker sessions with the documented mosquitto.conf', () => {
  it('documents queue limits above Mosquitto\'s 1000-message default', () => {
    const lines = documentedQueueLines();
    const max = Number(/max_queued_messages\s+(\d+)/.exec(lines.join('\n'))?.[1]);
    expect(max).toBeGreaterThanOrEqual(100_000);
  });

  it('delivers all 2,000 QoS 1 reports published while the consumer was stopped', async () => {
    expect(await reportsQueuedForStoppedConsumer(documentedQueueLines(), 2000)).toBe(2000);
  });

  it('loses acknowledged reports with the default max_queued_messages 1000, and Mosquitto logs no warning by default', async () => {
    expect(await reportsQueuedForStoppedConsumer(['max_queued_messages 1000'], 2000)).toBe(1000);
  });
});

describe('session taken over', () => {
  it('logs one warning naming the cause and the fix when another client connects with the consumer\'s client id', async () => {
    broker = await startMosquitto();
    const logs: string[] = [];
    const sub = new FleetSubscriber({
      brokerUrl: broker.url, filters: ['vigil/v1/+/report'], clientId: 'fleet', clean: false, protocolVersion: 5, batchMax: 1,
      counters: {} as never, log: (level: LogLevel, m: string) => logs.push(`${level}: ${m}`), now: () => 0,
      ingest: async () => undefined, reload: async () => undefined,
    });
    await sub.start();
    try {
      // `vigil status` with the fleet's user name under use_username_as_clientid: the same client id, clean.
      const status = await mqtt.connectAsync(broker.url, { clientId: 'fleet', clean: true, protocolVersion: 5, reconnectPeriod: 0 });
      clients.push(status);
      while (!logs.some((l) => l.includes('session taken over'))) await new Promise((r) => setTimeout(r, 20));
      const warnings = logs.filter((l) => l.includes('session taken over'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^warn: .*own broker user/);
    } finally {
      await sub.stop();
    }
  });
});

/** A consumer's MQTT side as `vigil fleet` runs it (MQTT 3.1.1, persistent session), logging into `logs`. */
async function consumerAs(user: string, clientId: string, logs: string[]): Promise<{ sub: FleetSubscriber; received: () => number }> {
  let received = 0;
  const sub = new FleetSubscriber({
    brokerUrl: (broker as Mosquitto).url, filters: ['vigil/v1/+/report'], clientId, clean: false, username: user, password: passwordOf(user),
    protocolVersion: 4, batchMax: 1, counters: {} as never, log: (level: LogLevel, m: string) => logs.push(`${level}: ${m}`), now: Date.now,
    ingest: async (batch) => (received += batch.length), reload: async () => undefined,
  });
  subscribers.push(sub);
  await sub.start();
  return { sub, received: () => received };
}

describe('two consumers under use_username_as_clientid (the documented ACL)', () => {
  it('kick each other when they share one user name, and each warns once naming the fix', async () => {
    broker = await startAclBroker(['fleet']);
    const a: string[] = [];
    const b: string[] = [];
    // Different client ids, as two hosts would derive: the broker replaces both with the user name.
    await consumerAs('fleet', 'vigil-fleet-host-a', a);
    await consumerAs('fleet', 'vigil-fleet-host-b', b);
    const takeovers = (logs: string[]) => logs.filter((l) => l.includes('session taken over'));
    await waitUntil('the takeover warning from both', () => takeovers(a).length && takeovers(b).length);
    expect(takeovers(a)).toEqual([expect.stringMatching(/^warn: .*client id "vigil-fleet-host-a".*use_username_as_clientid.*own broker user \(docs\/broker-acl.md\)/)]);
    expect(takeovers(b)).toHaveLength(1);
  });

  it('coexist with a user each (fleet-1, fleet-2): both stay connected and both get every report', async () => {
    broker = await startAclBroker(['cam1']);
    const logs: string[] = [];
    const one = await consumerAs('fleet-1', 'vigil-fleet-host-a', logs);
    const two = await consumerAs('fleet-2', 'vigil-fleet-host-b', logs);
    const cam = await mqtt.connectAsync(broker.url, { username: 'cam1', password: passwordOf('cam1'), reconnectPeriod: 0 });
    clients.push(cam);
    for (let i = 0; i < 50; i++) await cam.publishAsync('vigil/v1/cam1/report', JSON.stringify({ seq: i }), { qos: 1 });
    await waitUntil('every report at both', () => one.received() >= 50 && two.received() >= 50);
    expect([one.received(), two.received()]).toEqual([50, 50]);
    expect([one.sub.connected, two.sub.connected]).toEqual([true, true]);
    expect(logs.filter((l) => /taken over|reconnecting/.test(l))).toEqual([]);
  });
});
