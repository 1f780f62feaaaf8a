// MQTT 3.1.1 decoding: every packet type, as mqtt-packet generates it, decoded by ours.
import { describe, expect, it } from 'vitest';
import { bigPayload, concat, decodeAll, decodeOne, generate } from '../../../test/helpers/mqtt-oracle';
import { CONNACK, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, SUBACK, UNSUBACK } from './codec';

describe('decoding what mqtt-packet generates', () => {
  it('decodes CONNACK accepted with session present, and each refusal code', () => {
    expect(decodeOne(generate({ cmd: 'connack', returnCode: 0, sessionPresent: true }))).toEqual({
      type: CONNACK,
      sessionPresent: true,
      returnCode: 0,
    });
    for (const rc of [1, 2, 3, 4, 5]) {
      expect(decodeOne(generate({ cmd: 'connack', returnCode: rc, sessionPresent: false }))).toMatchObject({ returnCode: rc, sessionPresent: false });
    }
  });

  it.each([0, 1, 2] as const)('decodes PUBLISH qos %i with retain, dup and packet id', (qos) => {
    const p = decodeOne(
      generate({ cmd: 'publish', topic: 'vigil/v1/x/cmd/report-now', payload: Buffer.from('{}'), qos, retain: true, dup: qos > 0, messageId: qos ? 513 : undefined }),
    );
    expect(p).toMatchObject({ type: PUBLISH, topic: 'vigil/v1/x/cmd/report-now', qos, retain: true, dup: qos > 0 });
    expect(p.id).toBe(qos ? 513 : undefined);
    expect(Array.from(p.payload)).toEqual([123, 125]);
  });

  it('decodes PUBLISH with a UTF-8 multibyte topic and an empty payload', () => {
    const p = decodeOne(generate({ cmd: 'publish', topic: 'ü/日本/😀', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }));
    expect(p.topic).toBe('ü/日本/😀');
    expect(p.payload.length).toBe(0);
  });

  it.each([16385, 2_100_000])('decodes PUBLISH with a %i byte payload', (n) => {
    const payload = bigPayload(n);
    const p = decodeOne(generate({ cmd: 'publish', topic: 't/big', payload: Buffer.from(payload), qos: 1, messageId: 5, retain: false, dup: false }));
    expect(p.payload.length).toBe(n);
    expect(Buffer.compare(Buffer.from(p.payload), Buffer.from(payload))).toBe(0);
  });

  it('decodes PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK', () => {
    expect(decodeOne(generate({ cmd: 'puback', messageId: 1 }))).toEqual({ type: PUBACK, id: 1 });
    expect(decodeOne(generate({ cmd: 'pubrec', messageId: 2 }))).toEqual({ type: PUBREC, id: 2 });
    expect(decodeOne(generate({ cmd: 'pubrel', messageId: 3 }))).toEqual({ type: PUBREL, id: 3 });
    expect(decodeOne(generate({ cmd: 'pubcomp', messageId: 4 }))).toEqual({ type: PUBCOMP, id: 4 });
    expect(decodeOne(generate({ cmd: 'unsuback', messageId: 65535 }))).toEqual({ type: UNSUBACK, id: 65535 });
  });

  it('decodes SUBACK with granted qos and a refusal (0x80)', () => {
    expect(decodeOne(generate({ cmd: 'suback', messageId: 10, granted: [0, 1, 2, 128] }))).toEqual({ type: SUBACK, id: 10, granted: [0, 1, 2, 0x80] });
  });

  it('decodes PINGRESP', () => {
    expect(decodeOne(generate({ cmd: 'pingresp' }))).toEqual({ type: PINGRESP });
  });

  it('decodes what a client sends (CONNECT with will and credentials, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT)', () => {
    const c = decodeOne(
      generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: 'cam',
        clean: true,
        keepalive: 30,
        username: 'u',
        password: Buffer.from('p'),
        will: { topic: 'w', payload: Buffer.from('bye'), qos: 1, retain: true },
      }),
    );
    expect(c).toMatchObject({ clientId: 'cam', cleanSession: true, keepaliveSec: 30, username: 'u', will: { topic: 'w', qos: 1, retain: true } });
    expect(Array.from(c.password)).toEqual([112]);
    expect(decodeOne(generate({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/+', qos: 1 }] }))).toMatchObject({
      id: 3,
      subscriptions: [{ topic: 'a/+', qos: 1 }],
    });
    expect(decodeOne(generate({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['a/+'] }))).toMatchObject({ id: 4, topics: ['a/+'] });
    expect(decodeAll(concat(generate({ cmd: 'pingreq' }), generate({ cmd: 'disconnect' }))).map((p) => p.type)).toEqual([12, 14]);
  });
});
