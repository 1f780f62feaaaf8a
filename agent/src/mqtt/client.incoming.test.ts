// MqttClient: incoming packets — delivered messages and their acknowledgements (qos 0, 1, 2), framing, and protocol errors.
import { beforeEach, describe, expect, it } from 'vitest';
import { broker, connected, fake, gen, settle, startScriptedBroker, track } from '../../../test/helpers/mqtt-scripted-broker';
import { PUBACK, PUBCOMP, PUBLISH, PUBREC } from './codec';

beforeEach(startScriptedBroker);

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
