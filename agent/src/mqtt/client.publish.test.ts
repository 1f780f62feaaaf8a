// MqttClient: outgoing PUBLISH — PUBACK matching, packet ids in flight, and what happens to them when the session ends.
import { beforeEach, describe, expect, it } from 'vitest';
import { baseOptions, broker, connected, fake, makeClient, settle, startScriptedBroker, track } from '../../../test/helpers/mqtt-scripted-broker';
import { hostError } from '../host';
import type { Host } from '../host';
import { utf8Decode } from '../util/text';
import { createMqttClient, type CloseReason } from './client';
import { PUBLISH } from './codec';

beforeEach(startScriptedBroker);

describe('publish', () => {
  it('resolves a qos 1 publish only when its PUBACK arrives', async () => {
    const { client } = await connected();
    const p = track(client.publish('vigil/v1/x/report', '{"n":1}', { qos: 1, retain: true }));
    await settle();
    const [pub] = broker.of(PUBLISH);
    expect(pub).toMatchObject({ topic: 'vigil/v1/x/report', qos: 1, retain: true, dup: false });
    expect(utf8Decode(pub.payload)).toBe('{"n":1}');
    await fake.advance(14_999); // within the acknowledgement timeout (1.5 × keepalive 10 s)
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
    expect(a.error.message).toBe('[vigil] [mqtt] connection closed before the acknowledgement (ECLOSED: broker:1883 closed the connection)');
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
    expect(closes[0].message).toBe('[vigil] [mqtt] connection to broker:1883 failed: connection failed'); // the code is closes[0].code, not repeated
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
    const client = createMqttClient(host, baseOptions);
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
    expect(closes).toEqual([{ code: 'EIO', message: '[vigil] [mqtt] write to broker:1883 failed: broken pipe' }]);
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
