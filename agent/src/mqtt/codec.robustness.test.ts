// Hostile input for the MQTT codec (issue 7, ROBUSTNESS.md): truncated, oversized, mutated and random
// packets, remaining-length overflows, MQTT 5 as well as 3.1.1. codec.*.test.ts hold the examples and
// codec.properties.test.ts the first properties (random bytes in random chunks at level 4, PUBLISH round
// trips with mqtt-packet); these add what they do not cover. Each runs with a fixed seed and a printed
// random one (test/helpers/fc-seed.ts).
import fc from 'fast-check';
import mqttPacket, { type Packet as MpPacket } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { check, seeds } from '../../../test/helpers/fc-seed';
import { VigilError } from '../util/errors';
import { PacketParser, decodeAnyPacket, type Packet } from './codec';

const generate = (p: object, protocolVersion = 4): Uint8Array => new Uint8Array(mqttPacket.generate(p as MpPacket, { protocolVersion } as never));

/** Packets a broker sends, as mqtt-packet generates them (3.1.1 or 5). */
const brokerPacket = (v5: boolean) =>
  fc.oneof(
    fc.record({ cmd: fc.constant('connack'), returnCode: fc.constantFrom(0, 1, 5), sessionPresent: fc.boolean() }).map((p) =>
      v5 ? { cmd: 'connack', reasonCode: p.returnCode ? 0x87 : 0, sessionPresent: p.sessionPresent, properties: { receiveMaximum: 10 } } : p,
    ),
    fc
      .record({
        topic: fc.stringMatching(/^[a-z0-9/]{1,20}$/),
        payload: fc.uint8Array({ maxLength: 200 }),
        qos: fc.constantFrom(0, 1, 2),
        retain: fc.boolean(),
        messageId: fc.integer({ min: 1, max: 65535 }),
      })
      .map((p) => ({ cmd: 'publish', ...p, payload: Buffer.from(p.payload), messageId: p.qos ? p.messageId : undefined, ...(v5 ? { properties: { contentType: 'json' } } : {}) })),
    fc.record({ cmd: fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp', 'unsuback'), messageId: fc.integer({ min: 1, max: 65535 }) }).map((p) =>
      v5 && p.cmd === 'unsuback' ? { ...p, granted: [0] } : p,
    ),
    fc.record({ cmd: fc.constant('suback'), messageId: fc.integer({ min: 1, max: 65535 }), granted: fc.array(fc.constantFrom(0, 1, 2, 128), { minLength: 1, maxLength: 5 }) }),
    fc.constant({ cmd: 'pingresp' }),
  );

const streamArb = (v5: boolean) => fc.array(brokerPacket(v5), { minLength: 1, maxLength: 8 }).map((ps) => ps.map((p) => generate(p, v5 ? 5 : 4)));

const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** Feeds chunks; returns the packets and the error (only a VigilError EPROTO may be thrown). */
function feed(parser: PacketParser, chunks: Uint8Array[]): { packets: Packet[]; error: VigilError | null } {
  const packets: Packet[] = [];
  for (const c of chunks) {
    try {
      packets.push(...parser.push(c));
    } catch (e) {
      if (!(e instanceof VigilError) || e.code !== 'EPROTO') throw e;
      return { packets, error: e };
    }
  }
  return { packets, error: null };
}

/** Cuts bytes at sorted random offsets. */
function cut(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const at = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const o of [...at, bytes.length]) {
    out.push(bytes.subarray(prev, o));
    prev = o;
  }
  return out;
}

describe('MQTT codec under hostile input', () => {
  it.each(seeds(701))('decodes a stream of valid broker packets the same however it is chunked (%s)', (_label, seed) => {
    check(
      fc.property(fc.boolean(), fc.boolean().chain((v5) => streamArb(v5).map((s) => [v5, s] as const)), fc.array(fc.nat(), { maxLength: 30 }), (_x, [v5, stream], offsets) => {
        const level = v5 ? 5 : 4;
        const whole = feed(new PacketParser({ protocolLevel: level }), [concat(stream)]);
        const pieces = feed(new PacketParser({ protocolLevel: level }), cut(concat(stream), offsets));
        expect(whole.error).toBeNull();
        expect(pieces.error).toBeNull();
        expect(pieces.packets).toEqual(whole.packets);
        expect(whole.packets).toHaveLength(stream.length);
      }),
      seed,
      300,
    );
  });

  it.each(seeds(702))('a valid stream cut short yields only the complete packets before the cut and waits for the rest (%s)', (_label, seed) => {
    check(
      fc.property(streamArb(false), fc.nat(), (stream, n) => {
        const bytes = concat(stream);
        const at = n % bytes.length;
        const parser = new PacketParser();
        const { packets, error } = feed(parser, [bytes.subarray(0, at)]);
        expect(error).toBeNull();
        let complete = 0;
        for (let sum = 0, i = 0; i < stream.length && sum + stream[i].length <= at; i++) (sum += stream[i].length), complete++;
        expect(packets).toHaveLength(complete);
        expect(parser.push(bytes.subarray(at))).toHaveLength(stream.length - complete);
      }),
      seed,
      300,
    );
  });

  it.each(seeds(703))('a valid packet with one byte changed is decoded or refused with EPROTO, never anything else (%s)', (_label, seed) => {
    check(
      fc.property(fc.boolean(), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), (v5, at, value, anyPacket) => {
        // a deterministic packet per case keeps the shrinker simple
        const packets = [
          generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }),
          generate({ cmd: 'publish', topic: 'vigil/v1/cmd/x', payload: Buffer.from('{"id":"1"}'), qos: 1, messageId: 7 }),
          generate({ cmd: 'suback', messageId: 3, granted: [1, 128] }),
          generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 1, messageId: 9, properties: { userProperties: { k: 'v' }, contentType: 'c' } }, 5),
          generate({ cmd: 'connect', clientId: 'c', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, username: 'u', password: Buffer.from('p') }),
        ];
        const p = packets[at % packets.length].slice();
        p[Math.floor(at / packets.length) % p.length] = value;
        feed(new PacketParser({ protocolLevel: v5 ? 5 : 4, decode: anyPacket ? decodeAnyPacket : undefined }), [p]);
      }),
      seed,
      3000,
    );
  });

  it.each(seeds(704))('random bytes at MQTT 5 in random chunks only ever yield packets or EPROTO, with bounded buffering (%s)', (_label, seed) => {
    check(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
        const parser = new PacketParser({ protocolLevel: 5, maxPacketBytes: 512 });
        const { error } = feed(parser, chunks);
        const body = (parser as unknown as { body: Uint8Array | null }).body;
        if (!error) expect(body === null || body.length <= 512).toBe(true);
      }),
      seed,
      2000,
    );
  });

  it.each(seeds(705))('a remaining length over the limit is refused from the header alone, before any body is buffered (%s)', (_label, seed) => {
    check(
      fc.property(fc.integer({ min: 1, max: 14 }), fc.integer({ min: 1, max: 268_435_455 }), fc.integer({ min: 2, max: 65536 }), (type, length, max) => {
        const header = [type << 4 | ([6, 8, 10].includes(type) ? 2 : 0)];
        let n = length;
        do {
          let d = n % 128;
          n = Math.floor(n / 128);
          if (n > 0) d |= 128;
          header.push(d);
        } while (n > 0);
        fc.pre(header.length + length > max);
        const parser = new PacketParser({ maxPacketBytes: max });
        const { packets, error } = feed(parser, [new Uint8Array(header)]);
        expect(packets).toEqual([]);
        expect(error?.message).toMatch(/exceeds the limit/);
        expect((parser as unknown as { body: Uint8Array | null }).body).toBeNull();
      }),
      seed,
      2000,
    );
  });

  it.each(seeds(706))('a remaining length of five or more bytes is refused whatever its digits (%s)', (_label, seed) => {
    check(
      fc.property(fc.array(fc.integer({ min: 128, max: 255 }), { minLength: 4, maxLength: 12 }), fc.integer({ min: 0, max: 255 }), (cont, last) => {
        const { error } = feed(new PacketParser({ maxPacketBytes: Number.MAX_SAFE_INTEGER }), [new Uint8Array([0x30, ...cont, last])]);
        expect(error?.message).toMatch(/longer than 4 bytes/);
      }),
      seed,
      500,
    );
  });

  it.each(seeds(707))('a packet whose remaining length is shortened is refused with EPROTO or read as a shorter packet, never crashes (%s)', (_label, seed) => {
    check(
      fc.property(brokerPacket(false), fc.nat(), (p, k) => {
        const bytes = generate(p);
        // single-byte remaining lengths only (all these packets are under 128 bytes after the cut)
        fc.pre(bytes.length < 130 && bytes[1] < 128 && bytes[1] > 0);
        const shorter = bytes.slice(0, bytes.length - 1 - (k % bytes[1]));
        shorter[1] = shorter.length - 2;
        feed(new PacketParser(), [shorter]);
      }),
      seed,
      1000,
    );
  });
});
