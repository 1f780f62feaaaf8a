/**
 * Command-signing keys for tests: one fleet key pair (made once per process) and a signature with a counter the
 * test chooses, for replays the fleet's own signer (fleet/src/command-signing.ts) would never make.
 */
import { sign } from 'node:crypto';
import { signedText } from '../../agent/src/command-signature';
import { commandPrivateKey, generateCommandKey } from '../../fleet/src/command-signing';

let made: { privateKeyPem: string; publicKey: string } | null = null;

/** The test fleet's key: the PEM private key and the base64 public key a camera's CommandKey takes. */
export function testCommandKey(): { privateKeyPem: string; publicKey: string } {
  return (made ??= generateCommandKey());
}

/** `body` signed for serial/name with counter ctr, as JSON text. */
export function signedPayload(privateKeyPem: string, serial: string, name: string, body: Record<string, unknown>, ctr: number): string {
  const value = sign('sha256', Buffer.from(signedText(serial, name, ctr, body)), { key: commandPrivateKey(privateKeyPem), dsaEncoding: 'ieee-p1363' }).toString('base64');
  return JSON.stringify({ ...body, sig: { ctr, value } });
}
