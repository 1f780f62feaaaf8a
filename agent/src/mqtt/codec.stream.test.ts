// PacketParser framing: the same packets whatever the chunking — at once, split at every offset, byte by byte.
import { describe, expect, it } from 'vitest';
import { bigPayload, concat, decodeAll, generate } from '../../../test/helpers/mqtt-oracle';
import { CONNACK, PINGRESP, PUBACK, PUBLISH, PacketParser, SUBACK, type Packet } from './codec';

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
