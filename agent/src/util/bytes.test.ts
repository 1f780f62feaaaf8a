import { describe, expect, it } from 'vitest';
import { base64Encode, toHex } from './bytes';
import { utf8Encode } from './text';

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
