/** The encoder's byte primitives: an MQTT packet is written as a list of parts (big-endian integers,
 * length-prefixed fields, variable integers) that encode.ts's `frame` joins. Bad arguments throw VigilError EINVAL. */
import { utf8Encode } from '../util/text';
import { mqttError } from './errors';

export const argError = (message: string) => mqttError('EINVAL', message);

export type Part = Uint8Array | number[];

export const u16 = (n: number): number[] => [(n >> 8) & 255, n & 255];

/** A length-prefixed binary field (MQTT strings are this over UTF-8). */
export const field = (bytes: Uint8Array, what: string): Part[] => {
  if (bytes.length > 65535) throw argError(`${what} is longer than 65535 bytes`);
  return [u16(bytes.length), bytes];
};

export const bin = (data: Uint8Array | string): Uint8Array => (typeof data === 'string' ? utf8Encode(data) : data);
export const str = (text: string, what: string): Part[] => field(utf8Encode(text), what);

export const varint = (n: number): number[] => {
  const out: number[] = [];
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 128;
    out.push(digit);
  } while (n > 0);
  return out;
};
