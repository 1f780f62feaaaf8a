// The fleet's command signer (fleet/src/command-signing.ts): signatures a camera verifies, counters that only grow,
// across restarts too, and clear errors for a wrong key or counter file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, verify } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { signedText } from '../../agent/src/command-signature';
import { commandPublicKey, createCommandSigner, generateCommandKey } from '../src/command-signing';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-signer-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  vi.useRealTimers();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const key = generateCommandKey();
const ctrOf = (b: Record<string, unknown>) => (b.sig as { ctr: number }).ctr;

describe('createCommandSigner', () => {
  it('adds a P-256 signature over the wire-format text that the public key verifies', () => {
    const body = createCommandSigner(key.privateKeyPem)('S1', 'set-interval', { id: 'c1', intervalSec: 60 });
    const sig = body.sig as { ctr: number; value: string };
    expect(body).toMatchObject({ id: 'c1', intervalSec: 60 });
    const spki = { key: Buffer.from(key.publicKey, 'base64'), format: 'der', type: 'spki', dsaEncoding: 'ieee-p1363' } as const;
    expect(verify('sha256', Buffer.from(signedText('S1', 'set-interval', sig.ctr, { id: 'c1', intervalSec: 60 })), spki, Buffer.from(sig.value, 'base64'))).toBe(true);
  });

  it('gives every signature a higher counter, even within one millisecond', () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    const sign = createCommandSigner(key.privateKeyPem);
    const ctrs = [0, 1, 2].map(() => ctrOf(sign('S1', 'rebaseline', {})));
    expect(ctrs).toEqual([1_000_000, 1_000_001, 1_000_002]);
  });

  it('never goes back across a restart with the clock set back, with a counter file', () => {
    const file = join(tempDir(), 'ctr');
    vi.useFakeTimers({ now: 5_000_000, toFake: ['Date'] });
    const first = ctrOf(createCommandSigner(key.privateKeyPem, file)('S1', 'rebaseline', {}));
    expect(readFileSync(file, 'utf8').trim()).toBe(String(first));
    vi.setSystemTime(4_000_000);
    expect(ctrOf(createCommandSigner(key.privateKeyPem, file)('S1', 'rebaseline', {}))).toBe(first + 1);
  });

  it('refuses a key that is not P-256, and a counter file that holds no integer, saying so', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => createCommandSigner(rsa)).toThrow(/^\[vigil\] \[fleet\] the command-signing key must be ECDSA P-256/);
    expect(() => createCommandSigner('not a key')).toThrow(/^\[vigil\] \[fleet\] the command-signing key is not a PEM private key/);
    const file = join(tempDir(), 'ctr');
    writeFileSync(file, 'soon\n');
    expect(() => createCommandSigner(key.privateKeyPem, file)).toThrow(`[vigil] [fleet] the command counter ${file} must hold one integer, got "soon"`);
  });

  it('prints the public key cameras take: the SPKI DER of P-256 in base64, 91 bytes', () => {
    expect(commandPublicKey(key.privateKeyPem)).toBe(key.publicKey);
    expect(Buffer.from(key.publicKey, 'base64')).toHaveLength(91);
  });
});
