// Codec properties (fast-check, fixed seeds): random input only yields packets or EPROTO; PUBLISH round trips with mqtt-packet.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeOne, generate, oracleOne } from '../../../test/helpers/mqtt-oracle';
import { VigilError } from '../util/errors';
import { PUBLISH, PacketParser, decodeAnyPacket, encodePublish } from './codec';

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
