/**
 * Signed commands, the wire format (docs/delivery.md, "Signed commands"). Once the CommandKey parameter holds the
 * fleet's P-256 public key, a state-changing command must carry `"sig": {"ctr": N, "value": "<base64 of r||s>"}` in
 * its JSON payload: an ECDSA P-256 / SHA-256 signature (host.crypto.verifyP256) over the text
 *
 *   vigil-cmd/1\n<serial>\n<command name>\n<ctr>\n  then, per other payload field sorted by name, <name>=<JSON value>\n
 *
 * so a signature is good for one camera, one command and one set of arguments. `ctr` must be above the last one the
 * camera accepted (kept in its state.json, so a reboot does not reopen old commands): a counter, not a time window,
 * because a camera's clock may be wrong (no NTP is a finding Vigil reports) or jump, and a window against it would
 * refuse good commands or take old ones. The fleet's signer makes ctr from its clock (ms since the epoch, never
 * below its last one), so several signers need no shared state. Pure functions: the fleet's signer uses them too.
 */
import { base64Decode } from './util/bytes';

export const SIGNED_COMMAND_VERSION = 'vigil-cmd/1';

/** The commands that change the camera's state: refused unsigned once a key is configured. report-now is not one. */
export const SIGNED_COMMANDS = ['set-interval', 'rebaseline', 'rebirth'];

/** The text a command's signature covers; `body` is the payload (its `sig`, if any, is left out). */
export const signedText = (serial: string, name: string, ctr: number, body: Record<string, unknown>): string => {
  let text = `${SIGNED_COMMAND_VERSION}\n${serial}\n${name}\n${ctr}\n`;
  for (const k of Object.keys(body).sort()) if (k !== 'sig') text += `${k}=${JSON.stringify(body[k])}\n`;
  return text;
};

/** The SPKI DER of a CommandKey value (base64 on one line, or the whole PEM), or null when it is not base64. */
export const commandKeyBytes = (text: string): Uint8Array | null =>
  base64Decode(text.replace(/-----(BEGIN|END) PUBLIC KEY-----|\s+/g, ''));

/** A payload's `sig`, checked for shape; a string says what is wrong with it. */
export const parseSig = (sig: unknown): { ctr: number; value: Uint8Array } | string => {
  const s = sig as { ctr?: unknown; value?: unknown };
  if (!s || typeof s !== 'object' || Object.keys(s).some((k) => k !== 'ctr' && k !== 'value')) return 'sig must be {"ctr": N, "value": "<base64>"}';
  const { ctr, value } = s;
  if (typeof ctr !== 'number' || ctr % 1 !== 0 || ctr < 1 || ctr > Number.MAX_SAFE_INTEGER) return 'sig.ctr must be a positive integer';
  const bytes = typeof value === 'string' && value.length <= 100 ? base64Decode(value) : null;
  if (!bytes) return 'sig.value must be base64';
  return { ctr, value: bytes };
};
