// The FakeHost's plain P-256 verification agrees with node:crypto, both ways.
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyP256 } from './p256';

const ab = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

describe('the FakeHost P-256 verification', () => {
  it('accepts what node:crypto signs and refuses it for other data or another key', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    const spki = ab(publicKey.export({ format: 'der', type: 'spki' }));
    for (let i = 0; i < 4; i++) {
      const data = Buffer.from(`message ${i}`);
      const sig = ab(sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
      expect(verifyP256(spki, ab(data), sig)).toBe(true);
      expect(verifyP256(spki, ab(Buffer.from(`message ${i + 1}`)), sig)).toBe(false);
      expect(verifyP256(ab(other.export({ format: 'der', type: 'spki' })), ab(data), sig)).toBe(false);
    }
  });
});
