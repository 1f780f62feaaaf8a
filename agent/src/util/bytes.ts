// QuickJS has no TextEncoder, TextDecoder or btoa: the agent carries its own small codecs.
import type { HostFs } from '../host';

export const utf8Encode = (text: string): Uint8Array => {
  // Two passes into one typed array (count, then write): a baseline of thousands of files is hundreds of KB
  // of JSON, and a number[] of that size costs several MB of QuickJS heap.
  let out: Uint8Array | undefined;
  let at = 0;
  for (;;) {
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
        c = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
      } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate: not encodable in UTF-8
      // n continuation bytes of 6 bits each after a lead byte of n + 1 one-bits (none for ASCII)
      let n = c < 0x80 ? 0 : c < 0x800 ? 1 : c < 0x10000 ? 2 : 3;
      if (!out) at += n + 1;
      else {
        out[at++] = n ? ((0xff << (7 - n)) & 0xff) | (c >> (6 * n)) : c;
        while (n--) out[at++] = 0x80 | ((c >> (6 * n)) & 63);
      }
    }
    if (out) return out;
    out = new Uint8Array(at);
    at = 0;
  }
};

const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/** Decodes UTF-8; invalid sequences become U+FFFD instead of throwing (device files can hold anything). */
export const utf8Decode = (bytes: Uint8Array): string => decodeUtf8(bytes).text;

/** True when the bytes are well-formed UTF-8 (MQTT requires it of topics and strings). */
export const isValidUtf8 = (bytes: Uint8Array): boolean => decodeUtf8(bytes).valid;

// The WHATWG UTF-8 decoder: each maximal invalid subpart becomes one U+FFFD, as TextDecoder and Node do.
const decodeUtf8 = (bytes: Uint8Array): { text: string; valid: boolean } => {
  let valid = true;
  let out = '';
  let units: number[] = [];
  const emit = (cp: number) => {
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else units.push(cp);
    if (units.length >= 4096) {
      out += String.fromCharCode.apply(null, units);
      units = [];
    }
  };
  const invalid = () => {
    valid = false;
    emit(0xfffd);
  };
  let needed = 0;
  let seen = 0;
  let cp = 0;
  let lower = 0x80;
  let upper = 0xbf;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (needed === 0) {
      if (b <= 0x7f) emit(b);
      else if (b >= 0xc2 && b <= 0xf4) {
        // 1, 2 or 3 continuation bytes; E0, ED, F0 and F4 narrow the first one (no overlong forms, no surrogates)
        needed = b < 0xe0 ? 1 : b < 0xf0 ? 2 : 3;
        cp = b & (0x7f >> (needed + 1));
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xf0) lower = 0x90;
        if (b === 0xed) upper = 0x9f;
        if (b === 0xf4) upper = 0x8f;
      } else invalid();
      continue;
    }
    if (b < lower || b > upper) {
      needed = seen = cp = 0;
      lower = 0x80;
      upper = 0xbf;
      invalid();
      i--; // this byte starts afresh
      continue;
    }
    lower = 0x80;
    upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    if (++seen === needed) {
      emit(cp);
      needed = seen = cp = 0;
    }
  }
  if (needed !== 0) invalid();
  out += String.fromCharCode.apply(null, units);
  return { text: out, valid };
};

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export const base64Encode = (bytes: Uint8Array): string => {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? B64[n & 63] : '=';
  }
  return out;
};

export const toHex = (bytes: Uint8Array): string => {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return out;
};

export const concatBytes = (parts: Uint8Array[]): Uint8Array => {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** A whole file as text (invalid UTF-8 becomes U+FFFD); rejects as Host.fs.readFile does. */
export const readText = async (fs: HostFs, path: string, maxBytes: number): Promise<string> => utf8Decode(new Uint8Array(await fs.readFile(path, maxBytes)));

/** Replaces a file atomically with the text as UTF-8. */
export const writeText = (fs: HostFs, path: string, text: string): Promise<void> => {
  // utf8Encode's array spans its whole buffer: no copy needed
  return fs.writeFileAtomic(path, utf8Encode(text).buffer as ArrayBuffer);
};

/** A copy as a standalone ArrayBuffer, as the Host seam expects (a view may share a larger buffer). */
export const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
