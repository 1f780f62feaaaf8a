/**
 * Shared helpers of the MQTT codec tests (agent/src/mqtt/codec.*.test.ts): mqtt-packet as the oracle that
 * reads what we encode and generates what we decode, our parser run to completion, and byte builders.
 */
import mqttPacket, { type Packet as MpPacket } from 'mqtt-packet';
import { expect } from 'vitest';
import { VigilError } from '../../agent/src/util/errors';
import { PacketParser, decodeAnyPacket, type Packet } from '../../agent/src/mqtt/codec';

/** Parses bytes with mqtt-packet (the codec MQTT.js and Aedes use) and returns its packets. */
export function oracleParse(bytes: Uint8Array): MpPacket[] {
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

export const oracleOne = (bytes: Uint8Array): any => {
  const packets = oracleParse(bytes);
  expect(packets).toHaveLength(1);
  return packets[0];
};

export const generate = (p: object): Uint8Array => new Uint8Array(mqttPacket.generate(p as MpPacket));

export function decodeAll(bytes: Uint8Array, maxPacketBytes = 64 << 20): Packet[] {
  return new PacketParser({ decode: decodeAnyPacket, maxPacketBytes }).push(bytes);
}

export const decodeOne = (bytes: Uint8Array, maxPacketBytes?: number): any => {
  const packets = decodeAll(bytes, maxPacketBytes);
  expect(packets).toHaveLength(1);
  return packets[0];
};

export function bigPayload(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255;
  return b;
}

export const bytes = (...b: number[]) => new Uint8Array(b);

export function expectProtoError(fn: () => unknown, message: RegExp): void {
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

export function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));
}
