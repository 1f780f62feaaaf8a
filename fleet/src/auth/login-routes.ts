/**
 * GET /login (the form), POST /login (a form, or JSON `{"name","password"}` for scripts: then the answer is JSON
 * with the CSRF token), POST /logout, and GET /api/session (who is logged in, and the CSRF token the pages send
 * back). Failed logins count against the client's address (login-limit.ts). Reached only through gate.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { json, readBody } from '../json-body';
import { answer, clientAddress, type AuthContext, type RequestPrincipal } from './gate';
import { loginPage, safeNext } from './login-page';
import { clearedCookie, sessionCookie } from './sessions';

const LOGIN_ROUTES = new Set(['/login', '/logout', '/api/session']);
export const isLoginRoute = (path: string): boolean => LOGIN_ROUTES.has(path);

const MAX_LOGIN_BODY = 4096;

/**
 * The login form's page: under the dashboard's `no-referrer`, Chromium sends `Origin: null` with a form POST, which
 * the origin check refuses; `same-origin` sends this dashboard's own origin and still nothing to other sites.
 */
function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'same-origin' }).end(body);
}


async function login(ctx: AuthContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const accounts = ctx.accounts;
  if (!accounts) return answer(res, 404, 'this dashboard has no accounts (start vigil fleet with --users FILE)');
  const asJson = (req.headers['content-type'] ?? '').startsWith('application/json');
  const text = await readBody(req, MAX_LOGIN_BODY);
  let name = '';
  let password = '';
  let next = '/';
  if (text !== null) {
    if (asJson) {
      try {
        const b = JSON.parse(text) as { name?: unknown; password?: unknown };
        if (typeof b?.name === 'string') name = b.name;
        if (typeof b?.password === 'string') password = b.password;
      } catch {
        return answer(res, 400, 'the body is not JSON; send {"name": "…", "password": "…"}');
      }
    } else {
      const form = new URLSearchParams(text);
      name = form.get('name') ?? '';
      password = form.get('password') ?? '';
      next = safeNext(form.get('next'));
    }
  }
  const ip = clientAddress(req);
  const fail = (status: number, message: string, headers: Record<string, string> = {}) => {
    if (asJson) return answer(res, status, message, headers);
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    html(res, status, loginPage({ next, error: message, name: name.slice(0, 64) }));
  };
  const wait = ctx.limiter.blockedMs(ip);
  if (wait > 0) return fail(429, `too many failed logins from ${ip}; try again in ${Math.ceil(wait / 1000)} s`, { 'retry-after': String(Math.ceil(wait / 1000)) });
  const who = name && password ? await accounts.verify(name, password) : null;
  if (!who) {
    ctx.limiter.failed(ip);
    ctx.log('warn', `failed login as ${JSON.stringify(name.slice(0, 64))} from ${ip}`);
    return fail(401, 'wrong user name or password');
  }
  ctx.limiter.succeeded(ip);
  const s = ctx.sessions.create(who.name, who.role);
  ctx.log('info', `${who.name} (${who.role}) logged in from ${ip}`);
  const cookie = { 'set-cookie': sessionCookie(s.id, ctx.sessions.maxAgeSec(s), ctx.secure) };
  if (asJson) return json(res, 200, { user: who.name, role: who.role, csrf: s.csrf }, cookie);
  res.writeHead(303, { ...cookie, location: next, 'cache-control': 'no-store' }).end();
}

export function handleLoginRoute(ctx: AuthContext, req: IncomingMessage, res: ServerResponse, url: URL, who: RequestPrincipal | null): void {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  if (path === '/api/session') {
    if (method !== 'GET' && method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return json(res, 200, { auth: ctx.accounts !== null, user: who?.user ?? null, role: who?.role ?? null, csrf: who?.session?.csrf ?? null });
  }
  if (path === '/logout') {
    if (method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    if (who?.session) ctx.sessions.destroy(who.session.id);
    return json(res, 200, { loggedOut: who?.user ?? null }, { 'set-cookie': clearedCookie(ctx.secure) });
  }
  if (method === 'GET' || method === 'HEAD') {
    if (!ctx.accounts) return void res.writeHead(303, { location: '/' }).end();
    return html(res, 200, loginPage({ next: safeNext(url.searchParams.get('next')) }));
  }
  if (method !== 'POST') return void res.writeHead(405, { allow: 'GET, HEAD, POST' }).end();
  login(ctx, req, res).catch((err: Error) => (res.headersSent ? res.end() : answer(res, 500, err.message)));
}
