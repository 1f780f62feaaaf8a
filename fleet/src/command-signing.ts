/**
 * The fleet's side of signed commands (wire format: agent/src/command-signature.ts; docs/delivery.md, "Signed
 * commands"): a CommandSigner adds `sig: {ctr, value}` to a command's payload, an ECDSA P-256 signature (node:crypto,
 * raw r||s) over the camera's serial, the command's name, the counter and the other fields.
 *
 * The counter: ms since the epoch, and never at or below the last one this signer used (kept in counterFile when
 * given, so a restart with the clock set back does not reuse counters). Time-based so that several consumers, the
 * dashboard and the CLI can sign with one key and no shared state: each camera only needs counters that grow.
 * Two signers in the same millisecond for one camera: the second is refused EREPLAY, and sent again it passes.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { signedText } from '../../agent/src/command-signature';

/** Returns the body with its signature added, for that camera and that command. */
export type CommandSigner = (serial: string, name: string, body: Record<string, unknown>) => Record<string, unknown>;

/** The P-256 private key of a PEM (PKCS#8 or SEC1), or an error that says what the file is instead. */
export function commandPrivateKey(privateKeyPem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (err) {
    throw new Error(`[vigil] [fleet] the command-signing key is not a PEM private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`[vigil] [fleet] the command-signing key must be ECDSA P-256 (vigil fleet keygen), not ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trimEnd());
  }
  return key;
}

/** The public key as cameras take it in their CommandKey parameter: the SPKI DER in base64, one line. */
export function commandPublicKey(privateKeyPem: string): string {
  return createPublicKey(commandPrivateKey(privateKeyPem)).export({ format: 'der', type: 'spki' }).toString('base64');
}

/** A new key pair: the private key as PKCS#8 PEM, the public key as commandPublicKey gives it. */
export function generateCommandKey(): { privateKeyPem: string; publicKey: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const privateKeyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return { privateKeyPem, publicKey: commandPublicKey(privateKeyPem) };
}

export function createCommandSigner(privateKeyPem: string, counterFile?: string): CommandSigner {
  const key = commandPrivateKey(privateKeyPem);
  let last = 0;
  if (counterFile) {
    let text: string | null = null;
    try {
      text = readFileSync(counterFile, 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`[vigil] [fleet] cannot read the command counter ${counterFile}: ${(err as Error).message}`);
    }
    if (text !== null) {
      if (!/^\d{1,16}$/.test(text)) throw new Error(`[vigil] [fleet] the command counter ${counterFile} must hold one integer, got "${text.slice(0, 32)}"`);
      last = Number(text);
    }
  }
  return (serial, name, body) => {
    const ctr = Math.max(Date.now(), last + 1);
    if (counterFile) {
      // Written before the signature leaves: a crash after sending must not hand out this counter again.
      const tmp = `${counterFile}.${process.pid}.tmp`;
      writeFileSync(tmp, `${ctr}\n`);
      renameSync(tmp, counterFile);
    }
    last = ctr;
    const unsigned = { ...body };
    delete unsigned.sig;
    const value = sign('sha256', Buffer.from(signedText(serial, name, ctr, unsigned), 'utf8'), { key, dsaEncoding: 'ieee-p1363' }).toString('base64');
    return { ...unsigned, sig: { ctr, value } };
  };
}
