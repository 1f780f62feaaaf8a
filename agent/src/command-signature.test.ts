// The signed-command wire format (command-signature.ts) and the agent's check of it (commands.ts checkSigned), with
// the fleet's real signer and the simulator's real P-256 verification (node:crypto).
import { describe, expect, it } from 'vitest';
import { commandKeyBytes, parseSig, signedText } from './command-signature';
import { checkSigned } from './commands';
import { checkConfig } from './config';
import { base64Decode } from './util/bytes';
import { createCommandSigner } from '../../fleet/src/command-signing';
import { SimCrypto, realHashClock } from '../../host-sim/src/host/crypto';
import { testCommandKey } from '../../test/helpers/command-keys';

const crypto = new SimCrypto(null as never, realHashClock, () => false).crypto;
const key = testCommandKey();
const sign = createCommandSigner(key.privateKeyPem);

describe('the signed-command wire format', () => {
  it('signs the version, serial, name, counter and the other fields sorted by name, leaving sig out', () => {
    expect(signedText('ACCC8EF3A1C2', 'set-interval', 42, { sig: { ctr: 1 }, intervalSec: 60, id: 'c1' })).toBe(
      'vigil-cmd/1\nACCC8EF3A1C2\nset-interval\n42\nid="c1"\nintervalSec=60\n',
    );
    expect(signedText('S', 'rebaseline', 1, {})).toBe('vigil-cmd/1\nS\nrebaseline\n1\n');
  });

  it('decodes base64 as Node does, with or without padding, and refuses what is not base64', () => {
    for (const n of [0, 1, 2, 3, 4, 64, 91]) {
      const b = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 255));
      expect(Array.from(base64Decode(b.toString('base64')) as Uint8Array)).toEqual(Array.from(b));
      expect(Array.from(base64Decode(b.toString('base64').replace(/=+$/, '')) as Uint8Array)).toEqual(Array.from(b));
    }
    for (const bad of ['A', 'AB$=', 'QUJD RA==', 'a-b_']) expect(base64Decode(bad), bad).toBeNull();
  });

  it('takes the CommandKey as one base64 line or as the whole PEM', () => {
    const pem = `-----BEGIN PUBLIC KEY-----\n${key.publicKey.slice(0, 64)}\n${key.publicKey.slice(64)}\n-----END PUBLIC KEY-----\n`;
    expect(commandKeyBytes(pem)).toEqual(commandKeyBytes(key.publicKey));
    expect(commandKeyBytes(key.publicKey)?.length).toBe(91);
  });

  it('makes a CommandKey that is no 91-byte base64 key a config problem, and keeps a good one (PEM armour dropped)', () => {
    const problems = (v: string) => checkConfig({ BrokerHost: 'b', CommandKey: v }).problems.CommandKey;
    expect(problems('-----BEGIN PRIVATE KEY-----\nMIGHAgEA')).toMatch(/^CommandKey must be a P-256 public key in base64/);
    expect(problems(key.publicKey.slice(0, 40))).toBeDefined();
    expect(problems(`-----BEGIN PUBLIC KEY-----\n${key.publicKey}\n-----END PUBLIC KEY-----`)).toBeUndefined();
    expect(checkConfig({ BrokerHost: 'b', CommandKey: ` ${key.publicKey}\n` }).config.commandKey).toBe(key.publicKey);
    expect(checkConfig({ BrokerHost: 'b' }).config.commandKey).toBe('');
  });

  it('refuses a sig of the wrong shape, saying which part is wrong', () => {
    expect(parseSig('x')).toBe('sig must be {"ctr": N, "value": "<base64>"}');
    expect(parseSig({ ctr: 1, value: 'AAAA', ts: 1 })).toBe('sig must be {"ctr": N, "value": "<base64>"}');
    expect(parseSig({ ctr: 1.5, value: 'AAAA' })).toBe('sig.ctr must be a positive integer');
    expect(parseSig({ ctr: 0, value: 'AAAA' })).toBe('sig.ctr must be a positive integer');
    expect(parseSig({ ctr: 1, value: 'A'.repeat(101) })).toBe('sig.value must be base64');
  });
});

describe('checkSigned', () => {
  it("accepts the fleet signer's signature and returns its counter", () => {
    const body = sign('S1', 'set-interval', { id: 'a', intervalSec: 60 });
    expect(checkSigned(crypto, key.publicKey, 'S1', 'set-interval', body)).toEqual({ ctr: (body.sig as { ctr: number }).ctr });
  });

  it('refuses the signature for another serial, another command or changed arguments', () => {
    const body = sign('S1', 'set-interval', { id: 'a', intervalSec: 60 });
    expect(checkSigned(crypto, key.publicKey, 'S2', 'set-interval', body).code).toBe('ESIGNATURE');
    expect(checkSigned(crypto, key.publicKey, 'S1', 'rebaseline', body).code).toBe('ESIGNATURE');
    expect(checkSigned(crypto, key.publicKey, 'S1', 'set-interval', { ...body, intervalSec: 61 }).code).toBe('ESIGNATURE');
    expect(checkSigned(crypto, key.publicKey, 'S1', 'set-interval', { ...body, id: 'b' }).code).toBe('ESIGNATURE');
  });

  it('refuses unsigned state-changing commands with EPERM and lets an unsigned report-now through', () => {
    for (const name of ['set-interval', 'rebaseline', 'rebirth']) expect(checkSigned(crypto, key.publicKey, 'S1', name, {}).code, name).toBe('EPERM');
    expect(checkSigned(crypto, key.publicKey, 'S1', 'report-now', {})).toEqual({});
  });

  it('fails closed with EPERM when the host cannot use the CommandKey', () => {
    // 91 bytes of base64 that are no P-256 key: the host throws EINVAL
    const r = checkSigned(crypto, Buffer.alloc(91, 1).toString('base64'), 'S1', 'rebaseline', sign('S1', 'rebaseline', {}));
    expect(r).toMatchObject({ code: 'EPERM', error: expect.stringMatching(/^the CommandKey cannot verify signatures/) });
  });
});
