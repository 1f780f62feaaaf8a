/**
 * The agent's MQTT client against a real broker: Aedes, in process. The agent speaks through the FakeHost,
 * whose in-memory socket is bridged to a Node Duplex that Aedes handles (no network for the agent); an
 * MQTT.js client on a real loopback TCP listener of the same broker observes what the agent did.
 */
import { Aedes, type AedesOptions } from 'aedes';
import { connectAsync, type MqttClient as MqttJsClient } from 'mqtt';
import net, { type AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeHost, type FakePeer } from '../../test/fake-host';
import { utf8Decode } from '../util/text';
import { createMqttClient, type CloseReason, type MqttClientOptions } from './client';
import { deviceTopics } from './topics';

const SERIAL = 'ACCC8E000001';
const topics = deviceTopics(SERIAL);

let broker: Aedes;
let server: net.Server;
let port: number;
let fake: FakeHost;
let peers: Array<{ peer: FakePeer; stream: Duplex }>;
let observers: MqttJsClient[];

async function startBroker(options: AedesOptions = {}): Promise<void> {
  broker = await Aedes.createBroker(options);
  server = net.createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  fake = new FakeHost();
  peers = [];
  // The agent's in-memory socket, bridged to a Duplex that Aedes handles as one connection.
  fake.serve('aedes', 1883, (peer) => {
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        peer.send(new Uint8Array(chunk));
        callback();
      },
      final(callback) {
        peer.end();
        callback();
      },
    });
    peer.onData((bytes) => stream.push(Buffer.from(bytes)));
    peer.onClose(() => stream.push(null));
    stream.on('close', () => peer.end());
    peers.push({ peer, stream });
    broker.handle(stream);
  });
}

beforeEach(() => {
  observers = [];
});

afterEach(async () => {
  for (const o of observers) await o.endAsync(true);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await new Promise<void>((resolve) => broker.close(() => resolve()));
});

function agentClient(options: Partial<MqttClientOptions> = {}) {
  const client = createMqttClient(fake, {
    host: 'aedes',
    port: 1883,
    connectTimeoutMs: 5000,
    clientId: SERIAL,
    keepaliveSec: 60,
    cleanSession: true,
    will: { topic: topics.state, payload: '{"state":"offline","session":1}', qos: 1, retain: true },
    ...options,
  });
  const closes: CloseReason[] = [];
  client.onClose((r) => closes.push(r));
  return { client, closes };
}

async function observer(subscribe: string[]): Promise<MqttJsClient> {
  const o = await connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `observer-${observers.length}`, reconnectPeriod: 0 });
  observers.push(o);
  if (subscribe.length) await o.subscribeAsync(subscribe, { qos: 1 });
  return o;
}

function nextMessage(o: MqttJsClient): Promise<{ topic: string; payload: string; qos: number; retain: boolean }> {
  return new Promise((resolve) =>
    o.once('message', (topic, payload, packet) => resolve({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain })),
  );
}

describe('against Aedes', () => {
  beforeEach(() => startBroker());

  it('connects, and a retained state it publishes reaches a subscriber that arrives later, flagged retained', async () => {
    const { client } = agentClient();
    await expect(client.connect()).resolves.toEqual({ sessionPresent: false });
    await client.publish(topics.state, '{"state":"online","session":1}', { qos: 1, retain: true });
    const o = await observer([]);
    const got = nextMessage(o);
    await o.subscribeAsync(topics.state, { qos: 1 });
    expect(await got).toEqual({ topic: topics.state, payload: '{"state":"online","session":1}', qos: 1, retain: true });
    await client.disconnect();
  });

  it('has its will published when its connection drops abruptly', async () => {
    const o = await observer([topics.state]);
    const { client, closes } = agentClient();
    await client.connect();
    const will = nextMessage(o);
    const { peer, stream } = peers[0];
    stream.destroy();
    peer.fail('ECONNRESET');
    expect(await will).toMatchObject({ topic: topics.state, payload: '{"state":"offline","session":1}', qos: 1 });
    await new Promise<void>((resolve) => client.onClose(() => resolve()));
    expect(closes.map((c) => c.code)).toEqual(['ECONNRESET']);
  });

  it('does not have its will published after a clean disconnect', async () => {
    const o = await observer([topics.state]);
    const { client, closes } = agentClient();
    await client.connect();
    await client.disconnect();
    const first = nextMessage(o);
    await o.publishAsync(topics.state, 'sentinel', { qos: 1 });
    expect((await first).payload).toBe('sentinel');
    expect(closes.map((c) => c.code)).toEqual(['ELOCAL']);
  });

  it('has a qos 1 publish acknowledged by Aedes and delivered to a qos 1 subscriber', async () => {
    const o = await observer([topics.report]);
    const { client } = agentClient();
    await client.connect();
    const got = nextMessage(o);
    const payload = JSON.stringify({ schema: 1, seq: 7, pad: 'x'.repeat(20_000) });
    await client.publish(topics.report, payload, { qos: 1 });
    expect(await got).toEqual({ topic: topics.report, payload, qos: 1, retain: false });
    await client.disconnect();
  });

  it('receives commands on its cmd/+ subscription and PUBACKs them', async () => {
    const { client } = agentClient();
    await client.connect();
    expect(await client.subscribe([{ topic: topics.commands, qos: 1 }])).toEqual([1]);
    // Aedes emits 'ack' when a subscriber's PUBACK arrives (the packet argument is undefined for a clean
    // session, as it is for MQTT.js subscribers too): the event for the agent's client id is the proof.
    const acked = new Promise<string>((resolve) => broker.on('ack', (_packet, c) => resolve(c.id)));
    const received = new Promise<{ name: string | null; payload: string; qos: number }>((resolve) =>
      client.onMessage((topic, payload, info) => resolve({ name: topics.commandName(topic), payload: utf8Decode(payload), qos: info.qos })),
    );
    const o = await observer([]);
    await o.publishAsync(topics.command('report-now'), '{"id":"c1"}', { qos: 1 });
    expect(await received).toEqual({ name: 'report-now', payload: '{"id":"c1"}', qos: 1 });
    expect(await acked).toBe(SERIAL);
    await client.disconnect();
  });
});

describe('against Aedes with authentication and authorization', () => {
  beforeEach(() =>
    startBroker({
      authenticate: (_client, username, password, done) => {
        if (username === 'cam' && password?.toString() === 'right') return done(null, true);
        done(Object.assign(new Error('bad credentials'), { returnCode: 4 as const }), false);
      },
      authorizeSubscribe: (_client, sub, callback) => callback(null, sub.topic.startsWith('vigil/') ? sub : null),
    }),
  );

  it('connects with the right user name and password', async () => {
    const { client } = agentClient({ username: 'cam', password: 'right' });
    await expect(client.connect()).resolves.toEqual({ sessionPresent: false });
    await client.disconnect();
  });

  it('is refused with ECONNACK 4 for a wrong password', async () => {
    const { client, closes } = agentClient({ username: 'cam', password: 'wrong' });
    await expect(client.connect()).rejects.toMatchObject({
      code: 'ECONNACK',
      returnCode: 4,
      message: '[vigil] [mqtt] aedes:1883 refused the connection: bad user name or password (CONNACK 4)',
    });
    expect(closes.map((c) => c.code)).toEqual(['ECONNACK']);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('learns of a refused subscription as 0x80 in the granted list', async () => {
    const { client } = agentClient({ username: 'cam', password: 'right' });
    await client.connect();
    expect(await client.subscribe([{ topic: topics.commands, qos: 1 }, { topic: 'other/#', qos: 1 }])).toEqual([1, 0x80]);
    await client.disconnect();
  });
});
