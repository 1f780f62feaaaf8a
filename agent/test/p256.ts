// A plain ECDSA P-256 verification for the in-memory FakeHost, which may not import node:crypto (agent/ imports
// nothing outside itself; as sha256.ts). Checked against node:crypto in p256.test.ts. Not for the agent: hosts
// verify natively (host-sim: node:crypto, host-native: mbedTLS).
import { hostError } from '../src/host';
import { sha256Hex } from './sha256';

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const G: Point = [0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n, 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n];
/** The DER of an SPKI of an id-ecPublicKey on prime256v1, up to the uncompressed point (04 x y). */
const SPKI_PREFIX = '3059301306072a8648ce3d020106082a8648ce3d03010703420004';

type Point = [bigint, bigint] | null;

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;

const inv = (a: bigint, m: bigint): bigint => {
  let [r0, r1, t0, t1] = [mod(a, m), m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  return mod(t0, m);
};

const add = (p: Point, q: Point): Point => {
  if (!p) return q;
  if (!q) return p;
  if (p[0] === q[0] && mod(p[1] + q[1], P) === 0n) return null;
  const l = p[0] === q[0] ? mod(3n * (p[0] * p[0] - 1n) * inv(2n * p[1], P), P) : mod((q[1] - p[1]) * inv(q[0] - p[0], P), P);
  const x = mod(l * l - p[0] - q[0], P);
  return [x, mod(l * (p[0] - x) - p[1], P)];
};

/** u1·G + u2·Q by one double-and-add over both scalars. */
const twoMul = (u1: bigint, u2: bigint, q: Point): Point => {
  const gq = add(G, q);
  let acc: Point = null;
  for (let i = 255; i >= 0; i--) {
    acc = add(acc, acc);
    const a = (u1 >> BigInt(i)) & 1n;
    const b = (u2 >> BigInt(i)) & 1n;
    if (a || b) acc = add(acc, a && b ? gq : a ? G : q);
  }
  return acc;
};

const hexOf = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

export function verifyP256(publicKey: ArrayBuffer, data: ArrayBuffer, signature: ArrayBuffer): boolean {
  const k = hexOf(new Uint8Array(publicKey));
  const x = BigInt(`0x${k.slice(SPKI_PREFIX.length, SPKI_PREFIX.length + 64) || '0'}`);
  const y = BigInt(`0x${k.slice(SPKI_PREFIX.length + 64) || '0'}`);
  if (k.length !== 182 || !k.startsWith(SPKI_PREFIX) || mod(y * y - (x * x * x - 3n * x + B), P) !== 0n) {
    throw hostError('EINVAL', 'verifyP256: the public key is not a P-256 SPKI DER key');
  }
  if (signature.byteLength !== 64) return false;
  const s64 = hexOf(new Uint8Array(signature));
  const r = BigInt(`0x${s64.slice(0, 64)}`);
  const s = BigInt(`0x${s64.slice(64)}`);
  if (r < 1n || r >= N || s < 1n || s >= N) return false;
  const w = inv(s, N);
  const e = BigInt(`0x${sha256Hex(new Uint8Array(data))}`);
  const X = twoMul(mod(e * w, N), mod(r * w, N), [x, y]);
  return X !== null && mod(X[0], N) === r;
}
