import fc from 'fast-check';
import mqttPacket, { type Packet as MpPacket } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { utf8Encode } from '../util/bytes';
import { VigilError } from '../util/errors';
import {
  CONNACK,
  PINGRESP,
  PUBACK,
  PUBCOMP,
  PUBREC,
  PUBREL,
  PUBLISH,
  PacketParser,
  SUBACK,
  UNSUBACK,
  decodeAnyPacket,
  encodeAck,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePublish,
  encodeSubscribe,
  type Packet,
} from './codec';

/** Parses bytes with mqtt-packet (the codec MQTT.js and Aedes use) and returns its packets. */
function oracleParse(bytes: Uint8Array): MpPacket[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const out: MpPacket[] = [];
  const errors: Error[] = [];
  parser.on('packet', (p: MpPacket) => out.push(p));
  parser.on('error', (e: Error) => errors.push(e));
  const left = parser.parse(Buffer.from(bytes));
  if (errors.length) throw errors[0];
  expect(left).toBe(0);
  return out;
}

const oracleOne = (bytes: Uint8Array): any => {
  const packets = oracleParse(bytes);
  expect(packets).toHaveLength(1);
  return packets[0];
};

const generate = (p: object): Uint8Array => new Uint8Array(mqttPacket.generate(p as MpPacket));

function decodeAll(bytes: Uint8Array, maxPacketBytes = 64 << 20): Packet[] {
  return new PacketParser({ decode: decodeAnyPacket, maxPacketBytes }).push(bytes);
}

const decodeOne = (bytes: Uint8Array, maxPacketBytes?: number): any => {
  const packets = decodeAll(bytes, maxPacketBytes);
  expect(packets).toHaveLength(1);
  return packets[0];
};

function bigPayload(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255;
  return b;
}

const bytes = (...b: number[]) => new Uint8Array(b);

function expectProtoError(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(VigilError);
  expect((caught as VigilError).code).toBe('EPROTO');
  expect((caught as VigilError).message).toMatch(/^\[vigil\] \[mqtt\] /);
  expect((caught as VigilError).message).toMatch(message);
}

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

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

describe('streaming', () => {
  const stream = concat(
    generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }),
    generate({ cmd: 'publish', topic: 'vigil/v1/東京/cmd/x', payload: Buffer.from('payload ✓'), qos: 1, messageId: 77, retain: false, dup: false }),
    generate({ cmd: 'puback', messageId: 77 }),
    generate({ cmd: 'suback', messageId: 2, granted: [1, 128] }),
    generate({ cmd: 'pingresp' }),
    generate({ cmd: 'publish', topic: 'e', payload: Buffer.alloc(0), qos: 0, retain: true, dup: false }),
    generate({ cmd: 'publish', topic: 'big', payload: Buffer.from(bigPayload(200)), qos: 2, messageId: 9, retain: false, dup: true }),
  );
  const whole = decodeAll(stream);

  it('decodes a stream of seven packets given at once', () => {
    expect(whole.map((p) => p.type)).toEqual([CONNACK, PUBLISH, PUBACK, SUBACK, PINGRESP, PUBLISH, PUBLISH]);
  });

  it('decodes the same packets when the stream is split in two at every byte offset', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new PacketParser();
      const got = [...parser.push(stream.subarray(0, cut)), ...parser.push(stream.subarray(cut))];
      expect(got).toEqual(whole);
      expect(parser.idle).toBe(true);
    }
  });

  it('decodes the same packets when the stream arrives one byte at a time', () => {
    const parser = new PacketParser();
    const got: Packet[] = [];
    for (let i = 0; i < stream.length; i++) got.push(...parser.push(stream.subarray(i, i + 1)));
    expect(got).toEqual(whole);
  });

  it('holds a partial packet without emitting or failing until the rest arrives', () => {
    const parser = new PacketParser();
    const publish = generate({ cmd: 'publish', topic: 't', payload: Buffer.from('abc'), qos: 0, retain: false, dup: false });
    expect(parser.push(publish.subarray(0, publish.length - 1))).toEqual([]);
    expect(parser.idle).toBe(false);
    expect(parser.push(publish.subarray(publish.length - 1))).toHaveLength(1);
  });

  it('decodes thousands of packets in one chunk without recursion', () => {
    const ping = generate({ cmd: 'pingresp' });
    const many = new Uint8Array(ping.length * 50_000);
    for (let i = 0; i < 50_000; i++) many.set(ping, i * ping.length);
    expect(new PacketParser().push(many)).toHaveLength(50_000);
  });
});

describe('malformed input', () => {
  const parse = (b: Uint8Array, max?: number) => () => new PacketParser({ maxPacketBytes: max }).push(b);

  it('rejects a remaining length longer than 4 bytes', () => {
    expectProtoError(parse(bytes(0x30, 0xff, 0xff, 0xff, 0xff, 0x01)), /remaining length is longer than 4 bytes/);
  });

  it('rejects an oversize packet from its header alone, before its body is buffered', () => {
    const parser = new PacketParser({ maxPacketBytes: 1000 });
    // 0x30, remaining length 1000 = 0xe8 0x07: 1003 bytes in all, and no body bytes given at all.
    expectProtoError(() => parser.push(bytes(0x30, 0xe8, 0x07)), /PUBLISH of 1003 bytes exceeds the limit of 1000 bytes/);
  });

  it('accepts a packet of exactly the maximum size', () => {
    const payload = new Uint8Array(1000 - 3 - 3); // header: 0x30 and 2 length bytes; topic "t": 2 + 1 bytes
    const encoded = encodePublish({ topic: 't', payload, qos: 0 });
    expect(encoded.length).toBe(1000);
    expect(new PacketParser({ maxPacketBytes: 1000 }).push(encoded)).toHaveLength(1);
    expectProtoError(parse(encodePublish({ topic: 't', payload: new Uint8Array(payload.length + 1), qos: 0 }), 1000), /exceeds the limit/);
  });

  it('rejects a 2 MB packet by default (256 KiB limit)', () => {
    expectProtoError(parse(bytes(0x30, 0x80, 0x80, 0x80, 0x01)), /exceeds the limit of 262144 bytes/);
  });

  it('rejects a PUBACK whose body is truncated by its length', () => {
    expectProtoError(parse(bytes(0x40, 0x01, 0x00)), /PUBACK is truncated/);
  });

  it('rejects a PUBLISH whose topic length runs past the packet', () => {
    expectProtoError(parse(bytes(0x30, 0x03, 0x00, 0x05, 0x61)), /PUBLISH is truncated/);
  });

  it('rejects a CONNACK with trailing bytes', () => {
    expectProtoError(parse(bytes(0x20, 0x03, 0x00, 0x00, 0x00)), /CONNACK has 1 unexpected trailing bytes/);
  });

  it('rejects a PUBLISH topic that is not valid UTF-8', () => {
    expectProtoError(parse(bytes(0x30, 0x04, 0x00, 0x02, 0xc3, 0x28)), /topic that is not valid UTF-8/);
  });

  it('rejects a PUBLISH topic that encodes a surrogate (CESU-8)', () => {
    expectProtoError(parse(bytes(0x30, 0x05, 0x00, 0x03, 0xed, 0xa0, 0x80)), /not valid UTF-8/);
  });

  it('rejects a PUBLISH topic containing U+0000', () => {
    expectProtoError(parse(bytes(0x30, 0x05, 0x00, 0x03, 0x61, 0x00, 0x62)), /U\+0000/);
  });

  it.each([
    ['+', 'a/+'],
    ['#', 'a/#'],
  ])('rejects a PUBLISH topic with the wildcard %s', (_w, topic) => {
    const t = utf8Encode(topic);
    expectProtoError(parse(bytes(0x30, 2 + t.length, 0, t.length, ...t)), /must not contain the wildcards/);
  });

  it('rejects a PUBLISH with an empty topic', () => {
    expectProtoError(parse(bytes(0x30, 0x02, 0x00, 0x00)), /must not be empty/);
  });

  it('rejects a qos 1 PUBLISH with packet id 0', () => {
    expectProtoError(parse(bytes(0x32, 0x05, 0x00, 0x01, 0x74, 0x00, 0x00)), /packet id 0/);
  });

  it.each([
    ['PUBLISH with qos 3', 0x36, /PUBLISH has reserved flag bits 0x6/],
    ['PUBACK with a flag', 0x41, /PUBACK has reserved flag bits 0x1/],
    ['PUBREL without its 0b0010 flags', 0x60, /PUBREL has reserved flag bits 0x0/],
    ['CONNACK with flags', 0x28, /CONNACK has reserved flag bits 0x8/],
    ['SUBSCRIBE without its 0b0010 flags', 0x80, /SUBSCRIBE has reserved flag bits/],
    ['reserved packet type 0', 0x00, /packet type 0 is reserved/],
    ['reserved packet type 15', 0xf0, /packet type 15 is reserved/],
  ])('rejects %s from its first byte', (_name, first, message) => {
    expectProtoError(parse(bytes(first)), message);
  });

  it('rejects reserved CONNACK acknowledge flags', () => {
    expectProtoError(parse(bytes(0x20, 0x02, 0x02, 0x00)), /reserved acknowledge flags/);
  });

  it('rejects a SUBACK return code that is not 0, 1, 2 or 0x80', () => {
    expectProtoError(parse(bytes(0x90, 0x03, 0x00, 0x01, 0x03)), /SUBACK has return code 3/);
  });

  it('rejects packets a broker never sends when decoding as a client', () => {
    expectProtoError(parse(encodeSubscribe(1, [{ topic: 'a', qos: 0 }])), /a broker does not send SUBSCRIBE/);
  });

  it('stays failed after an error and keeps nothing buffered', () => {
    const parser = new PacketParser();
    expectProtoError(() => parser.push(bytes(0x40, 0x01, 0x00)), /truncated/);
    expectProtoError(() => parser.push(generate({ cmd: 'pingresp' })), /truncated/);
    expect(parser.idle).toBe(true);
  });
});

describe('properties', () => {
  it('random bytes in random chunks only ever yield packets or a VigilError EPROTO, with bounded buffering', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), fc.boolean(), (chunks, anyPacket) => {
        const max = 512;
        const parser = new PacketParser({ maxPacketBytes: max, decode: anyPacket ? decodeAnyPacket : undefined });
        for (const chunk of chunks) {
          try {
            parser.push(chunk);
          } catch (e) {
            if (!(e instanceof VigilError) || e.code !== 'EPROTO') throw e;
            return;
          }
          const body = (parser as unknown as { body: Uint8Array | null }).body;
          expect(body === null || body.length <= max).toBe(true);
        }
      }),
      { seed: 20261125, numRuns: 2000 },
    );
  });

  it('random bytes after a valid packet never throw anything but EPROTO', () => {
    const connack = generate({ cmd: 'connack', returnCode: 0, sessionPresent: false });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (junk) => {
        const parser = new PacketParser();
        expect(parser.push(connack)).toHaveLength(1);
        try {
          parser.push(junk);
        } catch (e) {
          expect(e).toBeInstanceOf(VigilError);
          expect((e as VigilError).code).toBe('EPROTO');
        }
      }),
      { seed: 7, numRuns: 1000 },
    );
  });

  const topicArb = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
    .filter((t) => !/[+#\0]/.test(t) && !/[\ud800-\udfff]/.test(t.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '')));
  const publishArb = fc.record({
    topic: topicArb,
    payload: fc.uint8Array({ maxLength: 300 }),
    qos: fc.constantFrom(0 as const, 1 as const, 2 as const),
    retain: fc.boolean(),
    dup: fc.boolean(),
    id: fc.integer({ min: 1, max: 65535 }),
  });

  it('any PUBLISH we encode reads back the same in mqtt-packet', () => {
    fc.assert(
      fc.property(publishArb, (p) => {
        const o = oracleOne(encodePublish(p));
        expect(o.topic).toBe(p.topic);
        expect(o.qos).toBe(p.qos);
        expect(o.retain).toBe(p.retain);
        expect(o.dup).toBe(p.dup);
        if (p.qos) expect(o.messageId).toBe(p.id);
        expect(Buffer.compare(o.payload, Buffer.from(p.payload))).toBe(0);
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('any PUBLISH mqtt-packet generates decodes the same with ours', () => {
    fc.assert(
      fc.property(publishArb, (p) => {
        const d = decodeOne(
          generate({ cmd: 'publish', topic: p.topic, payload: Buffer.from(p.payload), qos: p.qos, retain: p.retain, dup: p.dup, messageId: p.qos ? p.id : undefined }),
        );
        expect(d).toEqual({ type: PUBLISH, topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain, dup: p.dup, ...(p.qos ? { id: p.id } : {}) });
      }),
      { seed: 13, numRuns: 300 },
    );
  });
});
