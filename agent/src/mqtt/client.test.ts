import mqttPacket from 'mqtt-packet';
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeHost, hostError, type FakePeer } from '../../test/fake-host';
import type { Host } from '../host';
import { utf8Decode } from '../util/bytes';
import { MqttClient, type CloseReason, type ConnackError, type MessageInfo, type MqttClientOptions } from './client';
import {
  CONNECT,
  DISCONNECT,
  PINGREQ,
  PUBACK,
  PUBCOMP,
  PUBLISH,
  PUBREC,
  PacketParser,
  SUBSCRIBE,
  decodeAnyPacket,
  type Packet,
} from './codec';

const gen = (p: object): Uint8Array => new Uint8Array(mqttPacket.generate(p as mqttPacket.Packet));

/**
 * A broker scripted packet by packet: it decodes what the agent writes and, by default, accepts CONNECT and
 * answers PINGREQ. A test sets `onPacket` to answer anything else, or `autoConnack`/`autoPingresp` off.
 */
class ScriptedBroker {
  peer!: FakePeer;
  readonly packets: Packet[] = [];
  connections = 0;
  autoConnack: { returnCode: number; sessionPresent: boolean } | null = { returnCode: 0, sessionPresent: false };
  autoPingresp = true;
  onPacket: (p: Packet) => void = () => {};

  constructor(fake: FakeHost, host = 'broker', port = 1883) {
    fake.serve(host, port, (peer) => {
      this.peer = peer;
      this.connections++;
      const parser = new PacketParser({ decode: decodeAnyPacket, maxPacketBytes: 1 << 24 });
      peer.onData((chunk) => {
        for (const p of parser.push(chunk)) {
          this.packets.push(p);
          if (p.type === CONNECT && this.autoConnack) peer.send(gen({ cmd: 'connack', ...this.autoConnack }));
          else if (p.type === PINGREQ && this.autoPingresp) peer.send(gen({ cmd: 'pingresp' }));
          else this.onPacket(p);
        }
      });
    });
  }

  of<T extends Packet['type']>(type: T): Array<Extract<Packet, { type: T }>> {
    return this.packets.filter((p) => p.type === type) as Array<Extract<Packet, { type: T }>>;
  }

  send(p: object): void {
    this.peer.send(gen(p));
  }
}

const baseOptions: MqttClientOptions = {
  host: 'broker',
  port: 1883,
  connectTimeoutMs: 5000,
  clientId: 'ACCC8E000001',
  keepaliveSec: 10,
  cleanSession: true,
};

let fake: FakeHost;
let broker: ScriptedBroker;
/** Lets every promise chain run to its end (the host clock does not move). */
const settle = async () => {
  await fake.advance(0);
  await new Promise((resolve) => setImmediate(resolve));
};

beforeEach(() => {
  fake = new FakeHost();
  broker = new ScriptedBroker(fake);
});

/** Creates a client that records its close reasons and messages. */
function makeClient(options: Partial<MqttClientOptions> = {}) {
  const client = new MqttClient(fake, { ...baseOptions, ...options });
  const closes: CloseReason[] = [];
  const messages: Array<{ topic: string; payload: string; info: MessageInfo }> = [];
  client.onClose((r) => closes.push(r));
  client.onMessage((topic, payload, info) => messages.push({ topic, payload: utf8Decode(payload), info }));
  return { client, closes, messages };
}

async function connected(options: Partial<MqttClientOptions> = {}) {
  const c = makeClient(options);
  const p = c.client.connect();
  await settle();
  await p;
  return c;
}

/** Settles a promise's state without awaiting it forever: 'pending', 'resolved' or 'rejected'. */
function track<T>(p: Promise<T>) {
  const t = { state: 'pending' as 'pending' | 'resolved' | 'rejected', value: undefined as T | undefined, error: undefined as any };
  p.then(
    (v) => Object.assign(t, { state: 'resolved', value: v }),
    (e) => Object.assign(t, { state: 'rejected', error: e }),
  );
  return t;
}

describe('connect', () => {
  it('connects with the configured CONNECT and resolves when the broker accepts', async () => {
    const { client } = makeClient({
      username: 'cam',
      password: 'pa55',
      keepaliveSec: 30,
      will: { topic: 'vigil/v1/ACCC8E000001/state', payload: 'offline', qos: 1, retain: true },
      tls: { serverName: 'mqtt.example' },
    });
    const p = client.connect();
    await settle();
    await expect(p).resolves.toEqual({ sessionPresent: false });
    expect(client.state).toBe('open');
    expect(broker.peer.options).toMatchObject({ host: 'broker', port: 1883, timeoutMs: 5000, tls: { serverName: 'mqtt.example' } });
    const [c] = broker.of(CONNECT);
    expect(c).toMatchObject({ clientId: 'ACCC8E000001', cleanSession: true, keepaliveSec: 30, username: 'cam' });
    expect(utf8Decode(c.password as Uint8Array)).toBe('pa55');
    expect(c.will).toMatchObject({ topic: 'vigil/v1/ACCC8E000001/state', qos: 1, retain: true });
    expect(utf8Decode(c.will!.payload)).toBe('offline');
  });

  it('reports session present from the CONNACK', async () => {
    broker.autoConnack = { returnCode: 0, sessionPresent: true };
    const { client } = makeClient({ cleanSession: false });
    const p = client.connect();
    await settle();
    await expect(p).resolves.toEqual({ sessionPresent: true });
  });

  it.each([
    [1, 'unacceptable protocol version'],
    [2, 'identifier rejected'],
    [3, 'server unavailable'],
    [4, 'bad user name or password'],
    [5, 'not authorized'],
  ])('rejects a refused CONNACK %i with ECONNACK, its return code and its name', async (rc, name) => {
    broker.autoConnack = { returnCode: rc, sessionPresent: false };
    const { client, closes } = makeClient({ username: 'cam', password: 'hunter2' });
    const p = track(client.connect());
    await settle();
    expect(p.state).toBe('rejected');
    const err = p.error as ConnackError;
    expect(err.code).toBe('ECONNACK');
    expect(err.returnCode).toBe(rc);
    expect(err.message).toBe(`[vigil] [mqtt] broker:1883 refused the connection: ${name} (CONNACK ${rc})`);
    expect(closes).toEqual([{ code: 'ECONNACK', message: err.message }]);
    expect(broker.peer.closed).toBe(true);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('never puts the password into errors, close reasons or logs', async () => {
    broker.autoConnack = { returnCode: 4, sessionPresent: false };
    const { client, closes } = makeClient({ username: 'cam', password: 'hunter2' });
    const p = track(client.connect());
    await settle();
    const text = JSON.stringify([String(p.error?.message), closes, fake.logs]);
    expect(text).not.toContain('hunter2');
  });

  it('rejects with ETIMEDOUT when no CONNACK arrives within connectTimeoutMs, and leaves no timer', async () => {
    broker.autoConnack = null;
    const { client, closes } = makeClient();
    const p = track(client.connect());
    await fake.advance(4999);
    expect(p.state).toBe('pending');
    await fake.advance(1);
    expect(p.state).toBe('rejected');
    expect(p.error.code).toBe('ETIMEDOUT');
    expect(p.error.message).toBe('[vigil] [mqtt] no CONNACK from broker:1883 within 5000 ms');
    expect(closes.map((c) => c.code)).toEqual(['ETIMEDOUT']);
    expect(broker.peer.closed).toBe(true);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('rejects with the host code when the TCP connection is refused', async () => {
    const { client, closes } = makeClient({ host: 'nobody' });
    const p = track(client.connect());
    await settle();
    expect(p.error.code).toBe('ECONNREFUSED');
    expect(p.error.message).toMatch(/^\[vigil\] \[mqtt\] cannot connect to nobody:1883: ECONNREFUSED/);
    expect(closes.map((c) => c.code)).toEqual(['ECONNREFUSED']);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('rejects with the host code when the connection fails before the CONNACK', async () => {
    broker.autoConnack = null;
    broker.onPacket = () => {};
    const { client } = makeClient();
    const p = track(client.connect());
    await settle();
    broker.peer.fail('ETLS');
    await settle();
    expect(p.error.code).toBe('ETLS');
  });

  it('rejects with EPROTO when the broker answers CONNECT with something other than CONNACK', async () => {
    broker.autoConnack = null;
    broker.onPacket = (p) => p.type === CONNECT && broker.send({ cmd: 'pingresp' });
    const { client, closes } = makeClient();
    const p = track(client.connect());
    await settle();
    expect(p.error.code).toBe('EPROTO');
    expect(p.error.message).toMatch(/expected CONNACK, got PINGRESP/);
    expect(closes.map((c) => c.code)).toEqual(['EPROTO']);
  });

  it('rejects a second connect() on the same client with EINVAL', async () => {
    const { client } = await connected();
    await expect(client.connect()).rejects.toMatchObject({ code: 'EINVAL' });
    expect(client.state).toBe('open');
  });

  it('rejects options that cannot be encoded without opening a socket, and reports the close', async () => {
    const { client, closes } = makeClient({ password: 'p' });
    await expect(client.connect()).rejects.toMatchObject({ code: 'EINVAL' });
    expect(broker.connections).toBe(0);
    expect(closes.map((c) => c.code)).toEqual(['EINVAL']);
  });
});

describe('publish', () => {
  it('resolves a qos 1 publish only when its PUBACK arrives', async () => {
    const { client } = await connected();
    const p = track(client.publish('vigil/v1/x/report', '{"n":1}', { qos: 1, retain: true }));
    await settle();
    const [pub] = broker.of(PUBLISH);
    expect(pub).toMatchObject({ topic: 'vigil/v1/x/report', qos: 1, retain: true, dup: false });
    expect(utf8Decode(pub.payload)).toBe('{"n":1}');
    await fake.advance(60_000);
    expect(p.state).toBe('pending');
    broker.send({ cmd: 'puback', messageId: pub.id });
    await settle();
    expect(p.state).toBe('resolved');
  });

  it('ignores a PUBACK for an unknown packet id', async () => {
    const { client, closes } = await connected();
    const p = track(client.publish('t', 'x', { qos: 1 }));
    await settle();
    const id = broker.of(PUBLISH)[0].id as number;
    broker.send({ cmd: 'puback', messageId: id + 1 });
    await settle();
    expect(p.state).toBe('pending');
    expect(closes).toEqual([]);
    broker.send({ cmd: 'puback', messageId: id });
    await settle();
    expect(p.state).toBe('resolved');
  });

  it('ignores an UNSUBACK, which it never asks for, instead of ending the session', async () => {
    const { client, closes } = await connected();
    const p = track(client.publish('t', 'x', { qos: 1 }));
    await settle();
    const id = broker.of(PUBLISH)[0].id as number;
    broker.send({ cmd: 'unsuback', messageId: id });
    await settle();
    expect(closes).toEqual([]);
    expect(p.state).toBe('pending');
    expect(client.state).toBe('open');
  });

  it('matches each PUBACK to its own publish when several are in flight', async () => {
    const { client } = await connected();
    const ps = [1, 2, 3].map((n) => track(client.publish('t', String(n), { qos: 1 })));
    await settle();
    const ids = broker.of(PUBLISH).map((p) => p.id);
    expect(ids).toEqual([1, 2, 3]);
    broker.send({ cmd: 'puback', messageId: 2 });
    await settle();
    expect(ps.map((p) => p.state)).toEqual(['pending', 'resolved', 'pending']);
  });

  it('allocates packet ids 1..65535, skipping ids still in flight, and refuses a 65536th with EBUSY', async () => {
    const { client } = await connected({ keepaliveSec: 0 });
    for (let i = 0; i < 65535; i++) client.publish('t', '', { qos: 1 }).catch(() => {});
    await settle();
    const ids = broker.of(PUBLISH).map((p) => p.id as number);
    expect(ids.length).toBe(65535);
    expect(new Set(ids).size).toBe(65535);
    expect(Math.min(...ids)).toBe(1);
    expect(Math.max(...ids)).toBe(65535);
    await expect(client.publish('t', '', { qos: 1 })).rejects.toMatchObject({ code: 'EBUSY' });
    broker.send({ cmd: 'puback', messageId: 300 });
    await settle();
    const next = track(client.publish('t', 'again', { qos: 1 }));
    await settle();
    expect(broker.packets[broker.packets.length - 1]).toMatchObject({ type: PUBLISH, id: 300 });
    broker.send({ cmd: 'puback', messageId: 300 });
    await settle();
    expect(next.state).toBe('resolved');
  });

  it('resolves a qos 0 publish once written, with no packet id', async () => {
    const { client } = await connected();
    await client.publish('vigil/v1/x/event', new Uint8Array([1, 2, 3]), { qos: 0 });
    const [pub] = broker.of(PUBLISH);
    expect(pub).toMatchObject({ qos: 0, retain: false });
    expect(pub.id).toBeUndefined();
    expect(Array.from(pub.payload)).toEqual([1, 2, 3]);
  });

  it('rejects pending qos 1 publishes with ECLOSED when the broker closes the connection first', async () => {
    const { client, closes } = await connected();
    const a = track(client.publish('t', 'a', { qos: 1 }));
    const b = track(client.publish('t', 'b', { qos: 1 }));
    await settle();
    broker.peer.end();
    await settle();
    expect([a.state, b.state]).toEqual(['rejected', 'rejected']);
    expect(a.error.code).toBe('ECLOSED');
    expect(a.error.message).toBe('[vigil] [mqtt] connection closed before the acknowledgement (broker:1883 closed the connection)');
    expect(closes).toEqual([{ code: 'ECLOSED', message: '[vigil] [mqtt] broker:1883 closed the connection' }]);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('rejects pending publishes and reports the host code when the socket fails', async () => {
    const { client, closes } = await connected();
    const a = track(client.publish('t', 'a', { qos: 1 }));
    await settle();
    broker.peer.fail('ECONNRESET');
    await settle();
    expect(a.error.code).toBe('ECLOSED');
    expect(closes.map((c) => c.code)).toEqual(['ECONNRESET']);
    expect(closes[0].message).toMatch(/connection to broker:1883 failed: ECONNRESET/);
  });

  it('ends the session with the host code when a write fails, and rejects that publish with ECLOSED', async () => {
    let failWrites = false;
    const host: Host = Object.create(fake, {
      net: {
        value: {
          ...fake.net,
          write: (id: number, data: ArrayBuffer) => (failWrites ? Promise.reject(hostError('EIO', 'broken pipe')) : fake.net.write(id, data)),
        },
      },
    });
    const client = new MqttClient(host, baseOptions);
    const closes: CloseReason[] = [];
    client.onClose((r) => closes.push(r));
    const c = client.connect();
    await settle();
    await c;
    failWrites = true;
    const p = track(client.publish('t', 'x', { qos: 1 }));
    const q = track(client.publish('t', 'y', { qos: 0 }));
    await settle();
    expect(p.error.code).toBe('ECLOSED');
    expect(q.error.code).toBe('ECLOSED');
    expect(closes).toEqual([{ code: 'EIO', message: '[vigil] [mqtt] write to broker:1883 failed: EIO: broken pipe' }]);
    expect(broker.peer.closed).toBe(true);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('rejects a publish before connect and after close with ECLOSED', async () => {
    const { client } = makeClient();
    await expect(client.publish('t', 'x', { qos: 0 })).rejects.toMatchObject({ code: 'ECLOSED' });
    const p = client.connect();
    await settle();
    await p;
    await client.disconnect();
    await expect(client.publish('t', 'x', { qos: 1 })).rejects.toMatchObject({ code: 'ECLOSED' });
  });

  it('rejects a topic with a wildcard with EINVAL and keeps the session open', async () => {
    const { client, closes } = await connected();
    await expect(client.publish('a/+', 'x', { qos: 1 })).rejects.toMatchObject({ code: 'EINVAL' });
    expect(client.state).toBe('open');
    expect(closes).toEqual([]);
    expect(broker.of(PUBLISH)).toEqual([]);
  });
});

describe('subscribe', () => {
  it('sends SUBSCRIBE and resolves with the granted qos, 0x80 for a refusal', async () => {
    const { client } = await connected();
    const p = track(client.subscribe([{ topic: 'vigil/v1/x/cmd/+', qos: 1 }, { topic: 'forbidden/#', qos: 1 }]));
    await settle();
    const [sub] = broker.of(SUBSCRIBE);
    expect(sub.subscriptions).toEqual([
      { topic: 'vigil/v1/x/cmd/+', qos: 1 },
      { topic: 'forbidden/#', qos: 1 },
    ]);
    broker.send({ cmd: 'suback', messageId: sub.id, granted: [1, 128] });
    await settle();
    expect(p.value).toEqual([1, 0x80]);
  });

  it('rejects an invalid topic filter with EINVAL without sending anything', async () => {
    const { client } = await connected();
    await expect(client.subscribe([{ topic: 'a/#/b', qos: 1 }])).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(client.subscribe([{ topic: 'a/b+', qos: 1 }])).rejects.toMatchObject({ code: 'EINVAL' });
    expect(broker.of(SUBSCRIBE)).toEqual([]);
  });

  it('does not take a PUBACK with the id of a pending SUBSCRIBE as its acknowledgement', async () => {
    const { client } = await connected();
    const p = track(client.subscribe([{ topic: 'a', qos: 1 }]));
    await settle();
    broker.send({ cmd: 'puback', messageId: broker.of(SUBSCRIBE)[0].id });
    await settle();
    expect(p.state).toBe('pending');
  });
});

describe('incoming messages', () => {
  it('delivers a qos 0 message with its flags and sends no acknowledgement', async () => {
    const { messages } = await connected();
    broker.send({ cmd: 'publish', topic: 'vigil/v1/x/cmd/report-now', payload: Buffer.from('{}'), qos: 0, retain: true, dup: false });
    await settle();
    expect(messages).toEqual([{ topic: 'vigil/v1/x/cmd/report-now', payload: '{}', info: { qos: 0, retain: true, dup: false } }]);
    expect(broker.of(PUBACK)).toEqual([]);
  });

  it('delivers a qos 1 message and PUBACKs it after the callback ran', async () => {
    const { client } = await connected();
    const order: string[] = [];
    client.onMessage((topic, _payload, info) => {
      order.push(`message ${topic} qos ${info.qos} dup ${info.dup}`);
      order.push(`acks so far ${broker.of(PUBACK).length}`);
    });
    broker.send({ cmd: 'publish', topic: 'c/x', payload: Buffer.from('go'), qos: 1, messageId: 41, retain: false, dup: true });
    await settle();
    expect(order).toEqual(['message c/x qos 1 dup true', 'acks so far 0']);
    expect(broker.of(PUBACK)).toEqual([{ type: PUBACK, id: 41 }]);
  });

  it('still PUBACKs and stays connected when a message callback throws, and logs the failure', async () => {
    const { client, closes } = await connected();
    client.onMessage(() => {
      throw new Error('handler broke');
    });
    broker.send({ cmd: 'publish', topic: 'c/x', payload: Buffer.from('x'), qos: 1, messageId: 5, retain: false, dup: false });
    await settle();
    expect(broker.of(PUBACK)).toEqual([{ type: PUBACK, id: 5 }]);
    expect(closes).toEqual([]);
    expect(fake.logs).toEqual([{ level: 'error', message: '[vigil] [mqtt] message handler for c/x failed: handler broke' }]);
  });

  it('handles a qos 2 message by the book: delivered once, PUBREC, and PUBCOMP on PUBREL', async () => {
    const { messages } = await connected();
    const q2 = { cmd: 'publish', topic: 'c/q2', payload: Buffer.from('once'), qos: 2, messageId: 9, retain: false };
    broker.send({ ...q2, dup: false });
    await settle();
    expect(broker.of(PUBREC)).toEqual([{ type: PUBREC, id: 9 }]);
    broker.send({ ...q2, dup: true }); // the broker resends before our PUBREC reached it
    await settle();
    expect(messages.map((m) => m.payload)).toEqual(['once']);
    expect(broker.of(PUBREC)).toHaveLength(2);
    broker.send({ cmd: 'pubrel', messageId: 9 });
    await settle();
    expect(broker.of(PUBCOMP)).toEqual([{ type: PUBCOMP, id: 9 }]);
    broker.send({ ...q2, payload: Buffer.from('new'), dup: false });
    await settle();
    expect(messages.map((m) => m.payload)).toEqual(['once', 'new']);
  });

  it('reads packets that arrive split across reads or several to one read', async () => {
    const { messages } = await connected();
    const a = gen({ cmd: 'publish', topic: 'c/a', payload: Buffer.from('first'), qos: 1, messageId: 1, retain: false, dup: false });
    const b = gen({ cmd: 'publish', topic: 'c/b', payload: Buffer.from('second'), qos: 0, retain: false, dup: false });
    const both = new Uint8Array([...a, ...b]);
    broker.peer.send(both.subarray(0, 3));
    await settle();
    expect(messages).toEqual([]);
    broker.peer.send(both.subarray(3, a.length + 2));
    await settle();
    expect(messages.map((m) => m.payload)).toEqual(['first']);
    broker.peer.send(both.subarray(a.length + 2));
    broker.peer.send(new Uint8Array([...b, ...b]));
    await settle();
    expect(messages.map((m) => m.payload)).toEqual(['first', 'second', 'second', 'second']);
    expect(broker.of(PUBACK)).toEqual([{ type: PUBACK, id: 1 }]);
  });

  it('closes with EPROTO when an incoming packet exceeds maxIncomingPacketBytes', async () => {
    const { client, closes } = await connected({ maxIncomingPacketBytes: 1024 });
    const pending = track(client.publish('t', 'x', { qos: 1 }));
    broker.send({ cmd: 'publish', topic: 't', payload: Buffer.alloc(2000), qos: 0, retain: false, dup: false });
    await settle();
    expect(closes).toHaveLength(1);
    expect(closes[0].code).toBe('EPROTO');
    expect(closes[0].message).toBe('[vigil] [mqtt] PUBLISH of 2006 bytes exceeds the limit of 1024 bytes (from broker:1883)');
    expect(pending.error.code).toBe('ECLOSED');
    expect(broker.peer.closed).toBe(true);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('closes with EPROTO on a malformed packet from the broker', async () => {
    const { closes } = await connected();
    broker.peer.send(new Uint8Array([0x30, 0x04, 0x00, 0x02, 0xc3, 0x28]));
    await settle();
    expect(closes.map((c) => c.code)).toEqual(['EPROTO']);
    expect(closes[0].message).toMatch(/PUBLISH has a topic that is not valid UTF-8/);
  });

  it('closes with EPROTO when the broker sends a second CONNACK', async () => {
    const { closes } = await connected();
    broker.send({ cmd: 'connack', returnCode: 0, sessionPresent: false });
    await settle();
    expect(closes.map((c) => c.code)).toEqual(['EPROTO']);
    expect(closes[0].message).toMatch(/unexpected CONNACK/);
  });
});

describe('keepalive', () => {
  it('sends PINGREQ after keepaliveSec of silence and stays open while PINGRESPs come back', async () => {
    const { client, closes } = await connected({ keepaliveSec: 10 });
    await fake.advance(9_999);
    expect(broker.of(PINGREQ)).toHaveLength(0);
    await fake.advance(1);
    expect(broker.of(PINGREQ)).toHaveLength(1);
    await fake.advance(60_000);
    expect(broker.of(PINGREQ)).toHaveLength(7);
    expect(closes).toEqual([]);
    expect(client.state).toBe('open');
  });

  it('sends no PINGREQ while packets flow both ways', async () => {
    const { client } = await connected({ keepaliveSec: 10 });
    broker.onPacket = (p) => p.type === PUBLISH && broker.send({ cmd: 'puback', messageId: p.id });
    for (let i = 0; i < 10; i++) {
      await fake.advance(5_000);
      await client.publish('t', 'x', { qos: 1 });
    }
    expect(broker.of(PINGREQ)).toHaveLength(0);
  });

  it('closes with ETIMEDOUT when nothing arrives within 1.5 × keepalive, rejecting pending publishes', async () => {
    broker.autoPingresp = false;
    const { client, closes } = await connected({ keepaliveSec: 10 });
    const pending = track(client.publish('t', 'x', { qos: 1 }));
    await fake.advance(10_000);
    expect(broker.of(PINGREQ)).toHaveLength(1);
    await fake.advance(4_999);
    expect(closes).toEqual([]);
    await fake.advance(1);
    expect(closes).toEqual([{ code: 'ETIMEDOUT', message: '[vigil] [mqtt] nothing received from broker:1883 for 15000 ms (keepalive 10 s)' }]);
    expect(pending.error.code).toBe('ECLOSED');
    expect(broker.peer.closed).toBe(true);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('notices a half-open connection even while the agent keeps sending', async () => {
    broker.autoPingresp = false;
    const { client, closes } = await connected({ keepaliveSec: 10 });
    for (let i = 0; i < 7 && closes.length === 0; i++) {
      await client.publish('t', 'x', { qos: 0 });
      await fake.advance(2_000);
    }
    await fake.advance(2_000);
    expect(broker.of(PINGREQ)).toHaveLength(1);
    expect(closes.map((c) => c.code)).toEqual(['ETIMEDOUT']);
  });

  it('runs no timer at all with keepalive 0', async () => {
    await connected({ keepaliveSec: 0 });
    expect(fake.pendingTimers()).toBe(0);
    await fake.advance(3_600_000);
    expect(broker.of(PINGREQ)).toHaveLength(0);
  });
});

describe('disconnect and close', () => {
  it('sends DISCONNECT, closes the socket, reports ELOCAL once and leaves no timer', async () => {
    const { client, closes } = await connected();
    expect(fake.pendingTimers()).toBe(1);
    await client.disconnect();
    expect(broker.packets[broker.packets.length - 1]).toEqual({ type: DISCONNECT });
    expect(broker.peer.closed).toBe(true);
    expect(client.state).toBe('closed');
    expect(closes).toEqual([{ code: 'ELOCAL', message: '[vigil] [mqtt] disconnected from broker:1883 by the agent' }]);
    expect(fake.pendingTimers()).toBe(0);
    await client.disconnect();
    expect(closes).toHaveLength(1);
    expect(broker.of(DISCONNECT)).toHaveLength(1);
  });

  it('rejects a pending connect with ELOCAL when disconnect() is called during it', async () => {
    broker.autoConnack = null;
    const { client, closes } = makeClient();
    const p = track(client.connect());
    await settle();
    await client.disconnect();
    expect(p.error.code).toBe('ELOCAL');
    expect(closes.map((c) => c.code)).toEqual(['ELOCAL']);
    expect(broker.of(DISCONNECT)).toEqual([]);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('reports the close exactly once, even when the socket also fails afterwards', async () => {
    const { client, closes } = await connected();
    broker.peer.end();
    await settle();
    await client.disconnect();
    broker.peer.fail('ECONNRESET');
    await fake.advance(100_000);
    expect(closes.map((c) => c.code)).toEqual(['ECLOSED']);
  });

  it('calls a close callback registered after the close at once, with the same reason', async () => {
    const { client } = await connected();
    broker.peer.end();
    await settle();
    const late: CloseReason[] = [];
    client.onClose((r) => late.push(r));
    expect(late).toEqual([{ code: 'ECLOSED', message: '[vigil] [mqtt] broker:1883 closed the connection' }]);
  });

  it('keeps closing when a close callback throws, and logs it', async () => {
    const { client, closes } = await connected();
    client.onClose(() => {
      throw new Error('oops');
    });
    const after: string[] = [];
    client.onClose((r) => after.push(r.code));
    await client.disconnect();
    expect(closes).toHaveLength(1);
    expect(after).toEqual(['ELOCAL']);
    expect(fake.logs.map((l) => l.message)).toEqual(['[vigil] [mqtt] close handler failed: oops']);
  });
});
