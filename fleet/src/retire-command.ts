/**
 * `vigil fleet retire SERIAL [--reason TEXT] [--url URL]` and `vigil fleet unretire SERIAL [--url URL]`: the
 * running consumer owns the store, so these ask its API (POST /api/cameras/<serial>/retire|unretire).
 */
import type { Writable } from 'node:stream';

export const RETIRE_USAGE = `usage: vigil fleet retire SERIAL [--reason TEXT] [--url URL] [--user NAME]
       vigil fleet unretire SERIAL [--url URL] [--user NAME]

Retires a camera (decommission): it keeps its history but leaves the counts, the worklist and the
alerts; if it reports again, that raises a retired-reporting alert. unretire puts it back in service.
Asks the running consumer (vigil fleet) through its HTTP API.

  --reason TEXT   why (kept with the camera; retire only)
  --url URL       the consumer's dashboard/API (default http://127.0.0.1:8080)
  --user NAME     an operator account of a dashboard with --users (password from VIGIL_FLEET_PASSWORD)
  -h, --help      this text
`;

interface Io {
  out: Writable;
  err: Writable;
}

export async function runRetire(action: 'retire' | 'unretire', argv: string[], io: Io, fetchImpl: typeof fetch = fetch, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const usage = (msg: string) => {
    io.err.write(`[vigil] [fleet] ${msg}\n\n${RETIRE_USAGE}`);
    return 2;
  };
  let serial: string | null = null;
  let reason: string | undefined;
  let base = 'http://127.0.0.1:8080';
  let user: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      io.out.write(RETIRE_USAGE);
      return 0;
    }
    const m = /^--(reason|url|user)(?:=(.*))?$/s.exec(a);
    if (m) {
      const v = m[2] ?? argv[++i];
      if (v === undefined) return usage(`--${m[1]} needs a value`);
      if (m[1] === 'reason') {
        if (action === 'unretire') return usage('--reason is for retire only');
        reason = v;
      } else if (m[1] === 'user') user = v;
      else base = v;
    } else if (a.startsWith('-')) return usage(`unknown option ${a}`);
    else if (serial === null) serial = a;
    else return usage(`unexpected argument "${a}"`);
  }
  if (serial === null) return usage('SERIAL is required');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(serial)) return usage(`"${serial}" is not a camera serial (letters, digits, _ and -)`);
  let url: URL;
  try {
    url = new URL(`api/cameras/${serial}/${action}`, base.endsWith('/') ? base : base + '/');
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    return usage(`--url must be the consumer's http:// or https:// address, got "${base}"`);
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (user !== null) {
    if (!env.VIGIL_FLEET_PASSWORD) return usage('--user needs the password in VIGIL_FLEET_PASSWORD');
    headers.authorization = `Basic ${Buffer.from(`${user}:${env.VIGIL_FLEET_PASSWORD}`).toString('base64')}`;
  }
  let res: Response;
  try {
    res = await fetchImpl(url, { method: 'POST', headers, body: JSON.stringify(reason === undefined ? {} : { reason }), signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    io.err.write(`[vigil] [fleet] cannot reach the fleet consumer at ${url.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}; is \`vigil fleet\` running with its API there (--http, or --url here)?\n`);
    return 1;
  }
  const text = await res.text();
  let body: { error?: string; serial?: string; retiredAt?: string | null; retiredReason?: string | null } = {};
  try {
    body = JSON.parse(text);
  } catch {
    // not ours: said below
  }
  if (!res.ok) {
    io.err.write(`${body.error ?? `[vigil] [fleet] ${url.origin} answered HTTP ${res.status}: is it a Vigil fleet consumer?`}\n`);
    return 1;
  }
  if (action === 'retire') io.out.write(`[vigil] [fleet] ${serial} retired at ${body.retiredAt}${body.retiredReason ? `: ${body.retiredReason}` : ''}\n`);
  else io.out.write(`[vigil] [fleet] ${serial} is back in service\n`);
  return 0;
}
