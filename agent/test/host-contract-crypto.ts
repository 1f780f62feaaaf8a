// The host contract, host.crypto: sha256 of bytes and of files (rate-capped or not), and randomBytes.
import { CONTRACT_FIXTURE, assert, bytes, fixture, type ContractCase } from './host-contract-support';

export const CRYPTO_CASES: ContractCase[] = [
  {
    name: 'sha256 of bytes matches the known digest',
    async run(host) {
      assert.equal(host.crypto.sha256(bytes('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'abc');
      assert.equal(host.crypto.sha256(new ArrayBuffer(0)), fixture('empty.txt').sha256, 'empty');
    },
  },
  {
    name: 'sha256File of a file equals the known digest',
    async run(host, env) {
      for (const f of CONTRACT_FIXTURE.files) {
        assert.equal(await host.crypto.sha256File(`${env.root}/${f.path}`, 0), f.sha256, f.path);
      }
    },
  },
  {
    name: 'sha256File with a rate cap still returns the digest',
    async run(host, env) {
      const f = fixture('big.bin');
      // 1 MB/s over 70 KB: paced, but well under a second.
      assert.equal(await host.crypto.sha256File(`${env.root}/${f.path}`, 1 << 20), f.sha256, f.path);
    },
  },
  {
    name: 'sha256File of a missing file rejects ENOENT',
    async run(host, env) {
      await assert.rejects(host.crypto.sha256File(`${env.root}/no-such-file`, 0), 'ENOENT', 'sha256File');
    },
  },
  {
    name: 'randomBytes returns the requested length',
    async run(host) {
      const a = host.crypto.randomBytes(32);
      assert.ok(a instanceof ArrayBuffer, 'randomBytes returns an ArrayBuffer');
      assert.equal(a.byteLength, 32, 'length');
      assert.equal(host.crypto.randomBytes(0).byteLength, 0, 'zero length');
      const b = host.crypto.randomBytes(32);
      assert.ok(host.crypto.sha256(a) !== host.crypto.sha256(b), 'two draws differ');
    },
  },
];
