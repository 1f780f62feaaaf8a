import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { base64Encode, isValidUtf8, toHex, utf8Decode, utf8Encode } from './bytes';

describe('utf8', () => {
  it('encodes any string exactly as Node does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(Buffer.from(utf8Encode(s)).equals(Buffer.from(s, 'utf8'))).toBe(true);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('encodes a lone surrogate as U+FFFD, as Node does', () => {
    expect(Array.from(utf8Encode('a\ud800b'))).toEqual(Array.from(Buffer.from('a\ud800b', 'utf8')));
  });

  it('decodes any byte sequence as Node does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(utf8Decode(bytes)).toBe(Buffer.from(bytes).toString('utf8'));
      }),
      { seed: 7, numRuns: 5000 },
    );
  });

  it('tells well-formed UTF-8 from malformed', () => {
    expect(isValidUtf8(utf8Encode('Överwachung 🎥'))).toBe(true);
    expect(isValidUtf8(new Uint8Array([0xc3]))).toBe(false);
    expect(isValidUtf8(new Uint8Array([0xed, 0xa0, 0x80]))).toBe(false); // an encoded surrogate
  });

  it('accepts a real U+FFFD in the input as well-formed', () => {
    expect(isValidUtf8(utf8Encode('\ufffd'))).toBe(true);
  });
});

describe('base64 and hex', () => {
  it('encodes base64 as Node does for every length remainder', () => {
    for (const text of ['', 'a', 'ab', 'abc', 'root:pass', 'a0-vigil:Zx9/+']) {
      expect(base64Encode(utf8Encode(text))).toBe(Buffer.from(text).toString('base64'));
    }
  });

  it('writes lowercase two-digit hex', () => {
    expect(toHex(new Uint8Array([0, 15, 16, 255]))).toBe('000f10ff');
  });
});
