/**
 * Who is asking, and may they: every request of the dashboard server passes here before any route.
 * With accounts (--users FILE): a page without a session goes to /login, an API call gets 401; a session cookie
 * or `Authorization: Basic` (for scripts, the CLI and Prometheus) names the user; a viewer only reads; a
 * state-changing request also needs its origin to be this dashboard and, on a session, the CSRF token.
 * Without accounts (loopback only, fleet.ts refuses anything else) everyone is an operator, and only the origin
 * check applies. The login, logout and session routes are in login-routes.ts.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FleetLog } from '../log';
import type { Accounts } from './accounts';
import { isStateChanging, originProblem, tokenMatches } from './csrf';
import type { LoginLimiter } from './login-limit';
import { handleLoginRoute, isLoginRoute } from './login-routes';
import { refusal, type Role } from './roles';
import { sessionIdOf, type Session, type Sessions } from './sessions';

export interface RequestPrincipal {
  /** Null without accounts. */
  user: string | null;
  role: Role;
  via: 'session' | 'basic' | 'open';
  session: Session | null;
}

const principals = new WeakMap<IncomingMessage, RequestPrincipal>();

/** Who made this request (set by the gate), or null on a path that needs nobody (/login, /static, /healthz). */
export const principalOf = (req: IncomingMessage): RequestPrincipal | null => principals.get(req) ?? null;

export interface AuthContext {
  accounts: Accounts | null;
  sessions: Sessions;
  limiter: LoginLimiter;
  /** HTTPS: cookies are Secure, origins https://. */
  secure: boolean;
  log: FleetLog;
}

export function answer(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }).end(JSON.stringify({ error: `[vigil] [fleet] ${message}` }));
}

export const clientAddress = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown';

/** Paths anyone may fetch: the login page, the scripts and stylesheet (public code), and the health check. */
const isPublic = (path: string) => path.startsWith('/static/') || path === '/healthz';

/** Verified Basic credentials are remembered for a minute (by hash), so a scraper does not cost a scrypt a request. */
const BASIC_CACHE_MS = 60_000;

export function createAuthGate(ctx: AuthContext): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> {
  const basicCache = new Map<string, { user: string; until: number }>();

  const basic = async (req: IncomingMessage, res: ServerResponse, header: string): Promise<RequestPrincipal | null> => {
    const accounts = ctx.accounts as Accounts;
    const m = /^Basic ([A-Za-z0-9+/=]{1,2800})$/i.exec(header.trim());
    const decoded = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon < 1) {
      answer(res, 401, 'Authorization must be Basic with NAME:PASSWORD (or log in at /login)');
      return null;
    }
    const key = createHash('sha256').update(decoded).digest('hex');
    const hit = basicCache.get(key);
    if (hit && hit.until > Date.now()) {
      const role = accounts.role(hit.user);
      if (role) return { user: hit.user, role, via: 'basic', session: null };
    }
    const ip = clientAddress(req);
    const wait = ctx.limiter.blockedMs(ip);
    if (wait > 0) {
      answer(res, 429, `too many failed logins from ${ip}; try again in ${Math.ceil(wait / 1000)} s`, { 'retry-after': String(Math.ceil(wait / 1000)) });
      return null;
    }
    const who = await accounts.verify(decoded.slice(0, colon), decoded.slice(colon + 1));
    if (!who) {
      ctx.limiter.failed(ip);
      ctx.log('warn', `failed Basic login as ${JSON.stringify(decoded.slice(0, Math.min(colon, 64)))} from ${ip}`);
      answer(res, 401, 'wrong user name or password');
      return null;
    }
    ctx.limiter.succeeded(ip);
    basicCache.set(key, { user: who.name, until: Date.now() + BASIC_CACHE_MS });
    if (basicCache.size > 100) basicCache.delete(basicCache.keys().next().value as string);
    return { user: who.name, role: who.role, via: 'basic', session: null };
  };

  return async (req, res, url) => {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (isStateChanging(method)) {
      const problem = originProblem(req, ctx.secure);
      if (problem) {
        answer(res, 403, problem);
        return false;
      }
    }
    if (!ctx.accounts) {
      const open: RequestPrincipal = { user: null, role: 'operator', via: 'open', session: null };
      principals.set(req, open);
      if (isLoginRoute(path)) {
        handleLoginRoute(ctx, req, res, url, open);
        return false;
      }
      return true;
    }
    if (isPublic(path)) return true;
    if (path === '/login') {
      handleLoginRoute(ctx, req, res, url, null);
      return false;
    }
    let who: RequestPrincipal | null = null;
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      who = await basic(req, res, authorization);
      if (!who) return false;
    } else {
      const session = ctx.sessions.get(sessionIdOf(req));
      const role = session && ctx.accounts.role(session.user);
      if (session && !role) ctx.sessions.destroy(session.id);
      if (session && role) {
        session.role = role;
        who = { user: session.user, role, via: 'session', session };
      }
    }
    if (!who) {
      if (method === 'GET' && !path.startsWith('/api/') && path !== '/metrics') {
        res.writeHead(303, { location: `/login?next=${encodeURIComponent(url.pathname + url.search)}`, 'cache-control': 'no-store' }).end();
      } else answer(res, 401, 'log in first (POST /login, or an Authorization: Basic header for scripts)');
      return false;
    }
    if (isStateChanging(method) && who.session && !tokenMatches(req, who.session.csrf)) {
      answer(res, 403, `${method} ${path} needs the session's CSRF token in the X-CSRF-Token header (from GET /api/session)`);
      return false;
    }
    principals.set(req, who);
    if (isLoginRoute(path)) {
      handleLoginRoute(ctx, req, res, url, who);
      return false;
    }
    const no = refusal(who.role, method, path);
    if (no) {
      answer(res, 403, no);
      return false;
    }
    if (path === '/api/events' && who.session) ctx.sessions.holdStream(who.session, res);
    return true;
  };
}
