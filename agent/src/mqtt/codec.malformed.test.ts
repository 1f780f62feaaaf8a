// Malformed MQTT 3.1.1 input: each kind of bad packet rejected with EPROTO and a message that names it.
import { describe, expect, it } from 'vitest';
import { bytes, expectProtoError, generate } from '../../../test/helpers/mqtt-oracle';
import { utf8Encode } from '../util/text';
import { PacketParser, encodePublish, encodeSubscribe } from './codec';

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
