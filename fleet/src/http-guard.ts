/**
 * What every answer of the dashboard server carries, and which requests it answers at all:
 * - security headers: the pages load their scripts and styles from /static only (no inline code), so
 *   `default-src 'self'` holds; no framing (clickjacking), no MIME sniffing, no referrer to other sites;
 * - a Host allow-list against DNS rebinding: a page on an attacker's name that re-resolves to 127.0.0.1
 *   sends `Host: attacker.example`, so only IP literals (an origin of its own that no other site can
 *   borrow), `localhost`, the bound address and the names given with --allow-host are answered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/** The host name of a Host header without its port, lower case; IPv6 literals without brackets. Null when malformed. */
export const hostName = (header: string | undefined): string | null => {
  if (!header) return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+))(?::\d{1,5})?$/.exec(header.trim());
  if (!m) return null;
  return (m[1] ?? m[2]).toLowerCase().replace(/\.$/, '');
};

/** Decides whether a Host header names this server: IP literals, localhost, the bound address and `allowed`. */
export const hostAllowed = (header: string | undefined, boundHost: string, allowed: readonly string[]): boolean => {
  const name = hostName(header);
  if (name === null) return false;
  if (isIP(name) !== 0) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const bound = boundHost.toLowerCase().replace(/^\[|\]$/g, '');
  return name === bound || allowed.some((a) => a.toLowerCase().replace(/\.$/, '') === name);
};

/** Sets the security headers and answers 421 for a Host not on the list; true when the request may go on. */
export const guardRequest = (req: IncomingMessage, res: ServerResponse, boundHost: string, allowed: readonly string[]): boolean => {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
  if (hostAllowed(req.headers.host, boundHost, allowed)) return true;
  const shown = JSON.stringify(String(req.headers.host ?? '').slice(0, 100));
  res.writeHead(421, { 'content-type': 'application/json; charset=utf-8' }).end(
    JSON.stringify({ error: `[vigil] [fleet] Host ${shown} is not one this dashboard answers to; start vigil fleet with --allow-host NAME to add it` }) + '\n',
  );
  return false;
};
