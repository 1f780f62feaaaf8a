/**
 * HostText from Node's TextEncoder/TextDecoder, for FakeHost and the agent's tests in Node (installed by
 * agent/test/install-text.ts). The host contract runs against FakeHost too, so the real hosts' codecs are
 * proven to agree with this one.
 */
import { hostError, type HostText, type TextEncoding } from '../src/host';

// Node's globals, typed here: agent/tsconfig.json has no Node types (this file never runs in QuickJS).
declare const TextEncoder: new () => { encode(text: string): Uint8Array };
declare const TextDecoder: new (label: string, options?: { fatal?: boolean; ignoreBOM?: boolean }) => { decode(bytes: Uint8Array): string };

const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF, as the native host does: a decoder must not drop content silently.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes [offset, offset + length) of data, as Host.text defines the range. */
export const textRange = (data: ArrayBuffer, offset = 0, length?: number): Uint8Array => {
  if (!(data instanceof ArrayBuffer)) throw hostError('EINVAL', 'text: data must be an ArrayBuffer');
  const n = length ?? data.byteLength - offset;
  if (!Number.isInteger(offset) || !Number.isInteger(n) || offset < 0 || n < 0 || offset + n > data.byteLength) {
    throw hostError('EINVAL', `text: range ${offset}+${n} outside ${data.byteLength} bytes`);
  }
  return new Uint8Array(data, offset, n);
};

// TextDecoder's 'iso-8859-1' is windows-1252 (WHATWG), which maps 0x80–0x9F elsewhere: decode by hand.
const latin1 = (bytes: Uint8Array): string => {
  let out = '';
  for (let i = 0; i < bytes.length; i += 4096) out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return out;
};

export const nodeText: HostText = {
  decode(data: ArrayBuffer, encoding: TextEncoding, offset?: number, length?: number): string {
    const bytes = textRange(data, offset, length);
    if (encoding === 'utf-8') return utf8.decode(bytes);
    if (encoding === 'iso-8859-1') return latin1(bytes);
    throw hostError('EINVAL', `text: unknown encoding ${String(encoding)}`);
  },
  isUtf8(data: ArrayBuffer, offset?: number, length?: number): boolean {
    const bytes = textRange(data, offset, length);
    try {
      strictUtf8.decode(bytes);
      return true;
    } catch {
      return false;
    }
  },
  encode(text: string): ArrayBuffer {
    if (typeof text !== 'string') throw hostError('EINVAL', 'text: encode needs a string');
    const bytes = encoder.encode(text);
    return bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
  },
};
