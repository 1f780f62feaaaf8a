// QuickJS has no btoa: the agent carries its own small byte helpers (text codecs are the host's: util/text.ts).

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

/**
 * Standard base64 (padding optional, no whitespace) to bytes, or null when it is not base64. A loop in JS: it decodes
 * only keys and signatures (at most a few hundred characters per command), never bulk data.
 */
export const base64Decode = (text: string): Uint8Array | null => {
  const t = text.replace(/=+$/, '');
  if (t.length % 4 === 1 || !/^[A-Za-z0-9+/]*$/.test(t)) return null;
  const out = new Uint8Array((t.length * 3) >> 2);
  let n = 0;
  let bits = 0;
  let at = 0;
  for (let i = 0; i < t.length; i++) {
    n = (n << 6) | B64.indexOf(t[i]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (n >> bits) & 255;
    }
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

/** A copy as a standalone ArrayBuffer, as the Host seam expects (a view may share a larger buffer). */
export const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
