// The host contract, host.crypto.verifyP256: ECDSA P-256 over SHA-256, SPKI DER key, raw r||s signature (signed
// commands). Fixed vectors made once with node:crypto, so the cases stay portable (they run inside each engine).
import type { Host } from '../src/host';
import { errorCode } from '../src/util/errors';
import { assert, bytes, type ContractCase } from './host-contract-support';

const hex = (h: string): ArrayBuffer => {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out.buffer;
};

const SPKI_P256 = '3059301306072a8648ce3d020106082a8648ce3d030107034200';
/** The signer's public key, the key of someone else, and a P-384 key (another curve). */
const KEY = hex(`${SPKI_P256}048ff574e88f8c59b5872d6c6ff73a6e5b8d1778c867703664c011c94165694a3340be1e4a10b93b73826c423dc16011680f7a5d9c172171b3f81c02baf1ff713f`);
const OTHER_KEY = hex(`${SPKI_P256}04065b3090ea6d2c42b0e665f1ada7632b26e87b78c08b539646362ce3457789c2e9d67c722c88bce8a0ed0231cc9aba87b433eae933127ec1c434acc47d4dd7a3`);
const P384_KEY = hex(
  '3076301006072a8648ce3d020106052b8104002203620004c9c435cdf2f7688011cfac4a477dc8740e5bbd4ccec142d688f5d8f7a9d29febc01ce102b919de16a4aa711e2e696826621b85c908062e82001567cd82159e5b2b75d7db9c586559076099e1360de29733657eee9a105044c70e849b8200f7db',
);
const MESSAGE = 'vigil-cmd/1\nACCC8EF3A1C2\nrebaseline\n1\n';
const SIG = '6a49988f76c04376312ff1f7157c3b497923c6ec6df08dceaf9c1531add37b2bd25beb2d01cca4fb4c5bee6b421656eb5c5e4fc64a5ac13f09884aaf8dcc97e0';

const throwsEinval = (host: Host, key: ArrayBuffer, what: string): void => {
  let got = 'no error';
  try {
    host.crypto.verifyP256(key, bytes(MESSAGE), hex(SIG));
  } catch (err) {
    got = errorCode(err);
  }
  assert.equal(got, 'EINVAL', what);
};

export const SIGNATURE_CASES: ContractCase[] = [
  {
    name: 'verifyP256 is true for a valid signature',
    async run(host) {
      assert.equal(host.crypto.verifyP256(KEY, bytes(MESSAGE), hex(SIG)), true, 'verify');
    },
  },
  {
    name: 'verifyP256 is false when one byte of the data differs',
    async run(host) {
      assert.equal(host.crypto.verifyP256(KEY, bytes(MESSAGE.replace('rebaseline', 'rebaselinf')), hex(SIG)), false, 'verify');
    },
  },
  {
    name: 'verifyP256 is false with another P-256 key',
    async run(host) {
      assert.equal(host.crypto.verifyP256(OTHER_KEY, bytes(MESSAGE), hex(SIG)), false, 'verify');
    },
  },
  {
    name: 'verifyP256 is false for a malformed signature: short, zero, r and s past the group order',
    async run(host) {
      const data = bytes(MESSAGE);
      assert.equal(host.crypto.verifyP256(KEY, data, hex(SIG.slice(2))), false, '63 bytes');
      assert.equal(host.crypto.verifyP256(KEY, data, hex(`${SIG}00`)), false, '65 bytes');
      assert.equal(host.crypto.verifyP256(KEY, data, new ArrayBuffer(0)), false, 'empty');
      assert.equal(host.crypto.verifyP256(KEY, data, new ArrayBuffer(64)), false, 'r = s = 0');
      assert.equal(host.crypto.verifyP256(KEY, data, hex('ff'.repeat(64))), false, 'r, s > n');
    },
  },
  {
    name: 'verifyP256 throws EINVAL for a key that is not a P-256 public key',
    async run(host) {
      throwsEinval(host, new ArrayBuffer(0), 'empty key');
      throwsEinval(host, KEY.slice(0, 60), 'truncated key');
      throwsEinval(host, bytes('not a key at all'), 'text');
      throwsEinval(host, P384_KEY, 'P-384 key');
    },
  },
];
