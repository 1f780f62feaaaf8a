/**
 * host.text for the simulator: Node's Buffer. UTF-8 decoding is WHATWG's (one U+FFFD per maximal invalid
 * subpart, a byte order mark kept), ISO-8859-1 is Buffer's latin1 (each byte its own code point; not
 * TextDecoder's 'iso-8859-1', which is windows-1252), and encoding turns a lone surrogate into U+FFFD.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import type { HostText, TextEncoding } from '../../../agent/src/host';
import { hostError } from '../../../agent/src/host';

/** The bytes [offset, offset + length) of data, without a copy; EINVAL outside it. */
function range(data: ArrayBuffer, offset = 0, length?: number): Buffer {
  if (!(data instanceof ArrayBuffer)) throw hostError('EINVAL', 'text: data must be an ArrayBuffer');
  const n = length ?? data.byteLength - offset;
  if (!Number.isInteger(offset) || !Number.isInteger(n) || offset < 0 || n < 0 || offset + n > data.byteLength) {
    throw hostError('EINVAL', `text: range ${offset}+${n} outside ${data.byteLength} bytes`);
  }
  return Buffer.from(data, offset, n);
}

const encoder = new TextEncoder();

export const simText: HostText = {
  decode(data: ArrayBuffer, encoding: TextEncoding, offset?: number, length?: number): string {
    const bytes = range(data, offset, length);
    if (encoding === 'utf-8') return bytes.toString('utf8');
    if (encoding === 'iso-8859-1') return bytes.toString('latin1');
    throw hostError('EINVAL', `text: unknown encoding ${JSON.stringify(encoding)}`);
  },
  isUtf8(data: ArrayBuffer, offset?: number, length?: number): boolean {
    return isUtf8(range(data, offset, length));
  },
  encode(text: string): ArrayBuffer {
    if (typeof text !== 'string') throw hostError('EINVAL', 'text: encode needs a string');
    const bytes = encoder.encode(text);
    return bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
  },
};
