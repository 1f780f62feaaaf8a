/**
 * The dashboard on a network: an address other than loopback is served only with accounts (--users FILE), or
 * when told outright that something in front of it authenticates (--insecure-no-auth, e.g. a reverse proxy).
 */
import { isIP } from 'node:net';
import { fleetError } from '../log';

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x) and localhost: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return /^::ffff:127\./.test(h);
}

/** Throws the one line `vigil fleet` exits with when the address needs accounts and there are none. */
export function checkBind(host: string, port: number | undefined, o: { accounts: boolean; insecureNoAuth: boolean }): void {
  if (o.accounts || o.insecureNoAuth || isLoopback(host)) return;
  const where = host.includes(':') ? `[${host}]:${port ?? 0}` : `${host}:${port ?? 0}`;
  throw fleetError(`refusing to serve the dashboard on ${where} without accounts: anyone on the network could retire cameras; give --users FILE (vigil fleet user add NAME --role operator --users FILE), or bind 127.0.0.1, or --insecure-no-auth if a proxy in front authenticates`);
}
