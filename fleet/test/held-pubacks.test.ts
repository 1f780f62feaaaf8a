// PUBACK after commit: a consumer killed inside its store commit has acknowledged nothing (a real Mosquitto
// redelivers the report to its next session), and the MQTT.js behaviour the held PUBACKs rest on, pinned
// without a broker: no PUBACK for a handleMessage callback given an error, and the next message still handled.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import mqtt, { MqttClient, type IPublishPacket } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../test/helpers/broker';
import { startMosquitto } from '../../test/helpers/mosquitto';
import { waitUntil } from '../../test/helpers/wait';
import { FleetConsumer } from '../src/consumer';
import { loadTables } from '../src/data';
import { HeldPubacks, type HeldPuback } from '../src/held-pubacks';
import { SqliteStore } from '../src/store/sqlite';
import { makeReport } from './fixtures';
import { failNextIngest } from './sqlite-failure';

const KILLED_CONSUMER = fileURLToPath(new URL('./consumer-killed-in-commit.ts', import.meta.url));

describe('PUBACK after the store commit, on Mosquitto', () => {
  // Generous: the child starts through tsx, which is slow on a busy machine.
  it('acknowledges nothing before the commit: a consumer killed inside its commit gets the report again in its next session', { timeout: 120_000 }, async () => {
    const m = await startMosquitto();
    const clientId = `test-killed-${Math.random().toString(16).slice(2)}`;
    const store = new SqliteStore(':memory:');
    let next: FleetConsumer | null = null;
    const child = spawn(process.execPath, ['--import', 'tsx', KILLED_CONSUMER, m.url, clientId], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      await waitUntil('the child consumer subscribed', () => stdout.includes('ready') || child.exitCode !== null, { timeoutMs: 60_000 });
      expect(stdout, stderr).toContain('ready');

      const pub = await mqtt.connectAsync(m.url, { clientId: `test-pub-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
      await pub.publishAsync('vigil/v1/CAMKILLED/report', JSON.stringify(makeReport({ serial: 'CAMKILLED' })), { qos: 1 });
      await pub.endAsync();
      const [code, signal] = await exited;
      expect([code, signal], stderr).toEqual([null, 'SIGKILL']);

      // Same client id, persistent session: the broker still owes it the report it never saw acknowledged.
      next = new FleetConsumer({ brokerUrl: m.url, store, tables: loadTables(), clientId, clean: false, sweepMs: 0 });
      await next.start();
      await waitUntil('the redelivered report', () => next!.camera('CAMKILLED'), { timeoutMs: 40_000 });
      expect([next.counters.reports, (await store.history('CAMKILLED', 10)).map((h) => h.seq)]).toEqual([1, [1]]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await next?.stop();
      await store.close();
      await m.stop();
    }
  });
});

describe('one batch in the store at a time, on Aedes', () => {
  it('sends no PUBACK while its batch is in the store, and lets the next batch wait for that commit', { timeout: 60_000 }, async () => {
    const broker = await startEmbeddedBroker({ port: 0 });
    const store = new SqliteStore(':memory:');
    const ingest = store.ingest.bind(store);
    let inStore = 0;
    let mostInStore = 0;
    let calls = 0;
    const committed = new Set<number>();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    store.ingest = async (items) => {
      calls++;
      mostInStore = Math.max(mostInStore, ++inStore);
      try {
        await gate;
        const outcomes = await ingest(items);
        for (const i of items) if (i.kind === 'report') committed.add(i.history.seq);
        return outcomes;
      } finally {
        inStore--;
      }
    };
    const clientId = `test-one-batch-${Math.random().toString(16).slice(2)}`;
    // For each PUBACK of the consumer's, how many reports were committed by then (Aedes does not say which message
    // a clean session's PUBACK was for).
    const acks: number[] = [];
    broker.aedes.on('ack', (_packet, client) => {
      if (client?.id === clientId) acks.push(committed.size);
    });
    const consumer = new FleetConsumer({ brokerUrl: broker.url, store, tables: loadTables(), clientId, sweepMs: 0, batchMax: 1 });
    await consumer.start();
    const pub = await mqtt.connectAsync(broker.url, { clientId: `test-pub-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    try {
      for (let seq = 1; seq <= 5; seq++) await pub.publishAsync('vigil/v1/CAMONEBATCH/report', JSON.stringify(makeReport({ serial: 'CAMONEBATCH', seq })), { qos: 1 });
      await waitUntil('the first batch in the store', () => calls >= 1);
      // A round trip on the consumer's own connection: the broker has handled whatever the consumer sent before it.
      await consumer.publish('vigil/v1/test/ping', '{}');
      expect([acks, calls, await store.history('CAMONEBATCH', 10)]).toEqual([[], 1, []]);
      release();
      await waitUntil('five PUBACKs', () => acks.length === 5);
      // The n-th PUBACK never comes before the n-th commit.
      expect([acks.every((nCommitted, i) => nCommitted >= i + 1), mostInStore, calls]).toEqual([true, 1, 5]);
      expect((await store.history('CAMONEBATCH', 10)).map((h) => h.seq)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      release();
      await pub.endAsync();
      await consumer.stop();
      await store.close();
      await broker.close();
    }
  });
});

describe('after a failed batch, on Aedes', () => {
  it('stores a message redelivered while the view is reloaded, with no further message to push it', { timeout: 60_000 }, async () => {
    const broker = await startEmbeddedBroker({ port: 0 });
    const store = new SqliteStore(':memory:');
    failNextIngest(store, { table: 'reports', message: 'disk I/O error' });
    // The reload after the failed batch (the second loadCameras) waits until the redelivery is at the consumer.
    const load = store.loadCameras.bind(store);
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    store.loadCameras = async () => {
      if (++loads > 1) await gate;
      return load();
    };
    const clientId = `test-reload-${Math.random().toString(16).slice(2)}`;
    let sessions = 0;
    broker.aedes.on('clientReady', (client) => {
      if (client.id === clientId) sessions++;
    });
    const consumer = new FleetConsumer({ brokerUrl: broker.url, store, tables: loadTables(), clientId, clean: false, sweepMs: 0 });
    await consumer.start();
    const pub = await mqtt.connectAsync(broker.url, { clientId: `test-pub-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    try {
      await pub.publishAsync('vigil/v1/CAMRELOAD/report', JSON.stringify(makeReport({ serial: 'CAMRELOAD' })), { qos: 1 });
      await waitUntil('the reload after the failed batch', () => loads === 2);
      // Aedes sends a resumed session its unacknowledged messages before it calls the client ready; a round trip on
      // the consumer's connection after that means the consumer has handled the redelivered report.
      await waitUntil('the next session', () => sessions === 2 && consumer.connected);
      await consumer.publish('vigil/v1/test/ping', '{}');
      release();
      await waitUntil('the redelivered report stored', async () => (await store.history('CAMRELOAD', 10)).length === 1, { timeoutMs: 20_000 });
      expect([consumer.counters.reports, consumer.counters.storeErrors, consumer.camera('CAMRELOAD')?.lastSeq]).toEqual([1, 1, 1]);
    } finally {
      release();
      await pub.endAsync();
      await consumer.stop();
      await store.close();
      await broker.close();
    }
  });
});

/** An MqttClient on an in-memory stream: what it writes is parsed into `sent`; `deliver` hands it a packet. */
async function clientOnFakeBroker() {
  const sent: Packet[] = [];
  let stream: Duplex | null = null;
  const deliver = (p: Packet) => stream!.push(mqttPacket.generate(p));
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (p: Packet) => {
    sent.push(p);
    if (p.cmd === 'connect') deliver({ cmd: 'connack', returnCode: 0, sessionPresent: false });
  });
  const client = new MqttClient(() => {
    stream = new Duplex({
      read() {},
      write(chunk, _encoding, cb) {
        parser.parse(chunk);
        cb();
      },
    });
    return stream;
  }, { protocolVersion: 4, reconnectPeriod: 0, keepalive: 0, clientId: 'test-fake' });
  const publish = (messageId: number): Packet => ({ cmd: 'publish', topic: 'vigil/v1/CAM/report', payload: Buffer.from('{}'), qos: 1, messageId, dup: false, retain: false });
  const pubacks = () => sent.filter((p) => p.cmd === 'puback').map((p) => (p as { messageId: number }).messageId);
  return { client, sent, deliver, publish, pubacks };
}

describe('the MQTT.js behaviour held PUBACKs rely on (mqtt 5.16)', () => {
  it('sends no PUBACK for a message whose handleMessage callback gets an error, and still hands over the next one', async () => {
    const fake = await clientOnFakeBroker();
    const handled: number[] = [];
    fake.client.handleMessage = (packet, cb) => {
      const id = (packet as IPublishPacket).messageId as number;
      handled.push(id);
      cb(id === 1 ? new Error('held') : undefined);
    };
    const errors: Error[] = [];
    fake.client.on('error', (err) => errors.push(err));
    await new Promise((resolve) => fake.client.once('connect', resolve));
    fake.deliver(fake.publish(1));
    fake.deliver(fake.publish(2));
    await waitUntil('the PUBACK of message 2', () => fake.pubacks().includes(2));
    // Quietly: no error event, no disconnect, only the PUBACK missing.
    expect([handled, fake.pubacks(), errors, fake.client.connected]).toEqual([[1, 2], [2], [], true]);
    fake.client.end(true);
  });

  it('sends a held PUBACK only when told to, on the connection the message came in on', async () => {
    const fake = await clientOnFakeBroker();
    const acks = new HeldPubacks(fake.client);
    const held: HeldPuback[] = [];
    fake.client.handleMessage = (packet, cb) => {
      const h = acks.hold(packet as IPublishPacket, cb);
      if (h) held.push(h);
    };
    await new Promise((resolve) => fake.client.once('connect', resolve));
    acks.writableStream();
    fake.deliver(fake.publish(7));
    fake.deliver(fake.publish(8));
    await waitUntil('both messages held', () => held.length === 2);
    expect(fake.pubacks()).toEqual([]);
    expect(acks.send(held[0])).toBe(true);
    await waitUntil('the PUBACK of message 7', () => fake.pubacks().length === 1);
    fake.client.end(true);
    await waitUntil('the connection closed', () => !fake.client.connected);
    expect([acks.send(held[1]), fake.pubacks()]).toEqual([false, [7]]);
  });

  it('fails loudly when the client has no stream to write a PUBACK to', () => {
    const client = new MqttClient(() => new Duplex({ read() {}, write(_c, _e, cb) { cb(); } }), { manualConnect: true, protocolVersion: 4, reconnectPeriod: 0 });
    const acks = new HeldPubacks(client);
    expect(() => acks.writableStream()).toThrow('[vigil] [fleet] MQTT.js has no writable client.stream to send a held PUBACK on (was mqtt upgraded?)');
  });
});
