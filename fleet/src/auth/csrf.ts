/**
 * Cross-site request forgery. A state-changing request (anything but GET, HEAD) is refused when
 * - its Origin (else its Referer) is another site than the Host it was sent to: always, with accounts or
 *   without, since any page on the web can make a browser POST to http://127.0.0.1:8080;
 * - it rides on a session cookie without that session's token in X-CSRF-Token (SameSite=Strict is the first
 *   wall, the token the second; the pages read it from GET /api/session, which no other site can read).
 * Clients that authenticate with an Authorization header (the CLI, scripts) need no token: a browser never adds
 * that header by itself, since the dashboard never asks for it (no WWW-Authenticate challenge).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const CSRF_HEADER = 'x-csrf-token';

export const isStateChanging = (method: string | undefined): boolean => method !== 'GET' && method !== 'HEAD';

function refererOrigin(referer: string | undefined): string | undefined {
  if (referer === undefined) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return 'null';
  }
}

/** Why this request's Origin is not this dashboard, or null (also when a non-browser client sent none). */
export function originProblem(req: IncomingMessage, secure: boolean): string | null {
  const origin = req.headers.origin ?? refererOrigin(req.headers.referer);
  if (origin === undefined) return null;
  const own = `${secure ? 'https' : 'http'}://${req.headers.host ?? ''}`;
  if (origin.toLowerCase() === own.toLowerCase()) return null;
  return `a ${req.method} from ${JSON.stringify(origin.slice(0, 100))} is not from this dashboard (${own}); cross-site requests are refused`;
}

/** Whether the request carries the session's CSRF token (compared in constant time). */
export function tokenMatches(req: IncomingMessage, token: string): boolean {
  const sent = req.headers[CSRF_HEADER];
  if (typeof sent !== 'string') return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
