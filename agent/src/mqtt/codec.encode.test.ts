// MQTT 3.1.1 encoding: every packet we send, read back by mqtt-packet, and what the encoder refuses (EINVAL).
import { describe, expect, it } from 'vitest';
import { bigPayload, bytes, oracleOne } from '../../../test/helpers/mqtt-oracle';
import { VigilError } from '../util/errors';
import { PUBACK, PUBCOMP, PUBREC, PUBREL, encodeAck, encodeConnect, encodeDisconnect, encodePingreq, encodePublish, encodeSubscribe } from './codec';

describe('encoding, checked by mqtt-packet', () => {
  it('encodes a minimal CONNECT that mqtt-packet reads as MQTT 3.1.1 with the same fields', () => {
    const p = oracleOne(encodeConnect({ clientId: 'cam-1', cleanSession: true, keepaliveSec: 60 }));
    expect(p).toMatchObject({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'cam-1', clean: true, keepalive: 60 });
    expect(p.username).toBeUndefined();
    expect(p.password).toBeUndefined();
    expect(p.will).toBeUndefined();
  });

  it('encodes CONNECT with user name, password and a retained qos 1 will', () => {
    const p = oracleOne(
      encodeConnect({
        clientId: 'ACCC8E000001',
        cleanSession: false,
        keepaliveSec: 65535,
        username: 'cam',
        password: 'sécret',
        will: { topic: 'vigil/v1/ACCC8E000001/state', payload: '{"state":"offline"}', qos: 1, retain: true },
      }),
    );
    expect(p).toMatchObject({ clientId: 'ACCC8E000001', clean: false, keepalive: 65535, username: 'cam' });
    expect(Buffer.from(p.password).toString()).toBe('sécret');
    expect(p.will).toMatchObject({ topic: 'vigil/v1/ACCC8E000001/state', qos: 1, retain: true });
    expect(Buffer.from(p.will.payload).toString()).toBe('{"state":"offline"}');
  });

  it('encodes a CONNECT will with a binary payload, qos 0 and no retain', () => {
    const p = oracleOne(
      encodeConnect({ clientId: 'c', cleanSession: true, keepaliveSec: 0, will: { topic: 't', payload: bytes(0, 255, 1), qos: 0, retain: false } }),
    );
    expect(p.will).toMatchObject({ topic: 't', qos: 0, retain: false });
    expect([...p.will.payload]).toEqual([0, 255, 1]);
  });

  it.each([
    { qos: 0 as const, retain: false, dup: false },
    { qos: 1 as const, retain: true, dup: false, id: 1 },
    { qos: 1 as const, retain: false, dup: true, id: 65535 },
  ])('encodes PUBLISH qos $qos retain $retain dup $dup', (flags) => {
    const p = oracleOne(encodePublish({ topic: 'vigil/v1/x/report', payload: 'hello', ...flags }));
    expect(p).toMatchObject({ cmd: 'publish', topic: 'vigil/v1/x/report', qos: flags.qos, retain: flags.retain, dup: flags.dup });
    expect(Buffer.from(p.payload).toString()).toBe('hello');
    if (flags.qos) expect(p.messageId).toBe(flags.id);
  });

  it('encodes PUBLISH with an empty payload', () => {
    const p = oracleOne(encodePublish({ topic: 'a/b', payload: new Uint8Array(0), qos: 0, retain: true }));
    expect(p.payload.length).toBe(0);
    expect(p.retain).toBe(true);
  });

  it('encodes a UTF-8 multibyte topic as its UTF-8 bytes', () => {
    const topic = 'caméra/東京/📷';
    const p = oracleOne(encodePublish({ topic, payload: 'x', qos: 1, id: 7 }));
    expect(p.topic).toBe(topic);
  });

  it('encodes a topic of 65535 bytes and refuses one byte more', () => {
    const topic = 'a'.repeat(65535);
    expect(oracleOne(encodePublish({ topic, payload: '', qos: 0 })).topic).toBe(topic);
    expect(() => encodePublish({ topic: topic + 'a', payload: '', qos: 0 })).toThrow(/longer than 65535 bytes/);
  });

  it.each([16385, 2_100_000])('encodes a PUBLISH with a %i byte payload (2- to 4-byte remaining lengths)', (n) => {
    const payload = bigPayload(n);
    const encoded = encodePublish({ topic: 't', payload, qos: 1, id: 9 });
    expect(encoded[0]).toBe(0x32);
    const p = oracleOne(encoded);
    expect(Buffer.compare(p.payload, Buffer.from(payload))).toBe(0);
  });

  it('encodes PUBACK, PUBREC, PUBREL (flags 0b0010) and PUBCOMP with their packet id', () => {
    expect(oracleOne(encodeAck(PUBACK, 300))).toMatchObject({ cmd: 'puback', messageId: 300 });
    expect(oracleOne(encodeAck(PUBREC, 301))).toMatchObject({ cmd: 'pubrec', messageId: 301 });
    expect(encodeAck(PUBREL, 302)[0]).toBe(0x62);
    expect(oracleOne(encodeAck(PUBREL, 302))).toMatchObject({ cmd: 'pubrel', messageId: 302 });
    expect(oracleOne(encodeAck(PUBCOMP, 303))).toMatchObject({ cmd: 'pubcomp', messageId: 303 });
  });

  it('encodes SUBSCRIBE with several filters and their qos', () => {
    const p = oracleOne(encodeSubscribe(42, [{ topic: 'vigil/v1/x/cmd/+', qos: 1 }, { topic: 'a/#', qos: 0 }]));
    expect(p).toMatchObject({ cmd: 'subscribe', messageId: 42 });
    expect(p.subscriptions.map((s: any) => [s.topic, s.qos])).toEqual([
      ['vigil/v1/x/cmd/+', 1],
      ['a/#', 0],
    ]);
  });

  it('encodes PINGREQ and DISCONNECT as two bytes', () => {
    expect(oracleOne(encodePingreq()).cmd).toBe('pingreq');
    expect(oracleOne(encodeDisconnect()).cmd).toBe('disconnect');
  });
});

describe('encoding refuses what MQTT 3.1.1 does not allow', () => {
  const base = { clientId: 'c', cleanSession: true, keepaliveSec: 60 };
  it.each([
    ['a wildcard + in a PUBLISH topic', () => encodePublish({ topic: 'a/+', payload: '', qos: 0 }), /wildcards/],
    ['a wildcard # in a PUBLISH topic', () => encodePublish({ topic: 'a/#', payload: '', qos: 0 }), /wildcards/],
    ['an empty PUBLISH topic', () => encodePublish({ topic: '', payload: '', qos: 0 }), /must not be empty/],
    ['a qos 1 PUBLISH without a packet id', () => encodePublish({ topic: 't', payload: '', qos: 1 }), /packet id/],
    ['packet id 0', () => encodeAck(PUBACK, 0), /packet id 0/],
    ['packet id 65536', () => encodeAck(PUBACK, 65536), /packet id 65536/],
    ['a password without a user name', () => encodeConnect({ ...base, password: 'p' }), /password only with a user name/],
    ['an empty client id without a clean session', () => encodeConnect({ ...base, clientId: '', cleanSession: false }), /clean session/],
    ['a keepalive over 65535 s', () => encodeConnect({ ...base, keepaliveSec: 65536 }), /keepalive/],
    ['protocol level 3 (MQTT 3.1), not implemented', () => encodeConnect({ ...base, protocolLevel: 3 as 4 }), /level 3 is not implemented/],
    ['an empty SUBSCRIBE', () => encodeSubscribe(1, []), /at least one/],
  ])('refuses %s with EINVAL', (_name, fn, message) => {
    expect(fn).toThrow(message);
    try {
      fn();
    } catch (e) {
      expect((e as VigilError).code).toBe('EINVAL');
    }
  });
});
