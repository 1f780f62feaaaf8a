/**
 * Dashboard sessions after a login: a random 32-byte id in an HttpOnly, SameSite=Strict cookie (Secure under
 * HTTPS), a CSRF token of their own, an idle expiry and an absolute one. Kept in memory: a restart logs
 * everyone out, which is the safe direction. At most `max` sessions; past that the least recently used goes.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Role } from './roles';

export const SESSION_COOKIE = 'vigil_session';
export const DEFAULT_IDLE_MS = 30 * 60_000;
export const DEFAULT_ABSOLUTE_MS = 12 * 3_600_000;

export interface Session {
  id: string;
  csrf: string;
  user: string;
  role: Role;
  createdMs: number;
  lastMs: number;
}

export interface SessionOptions {
  idleMs?: number;
  absoluteMs?: number;
  max?: number;
  now?: () => number;
}

export class Sessions {
  // A Map keeps insertion order: touching a session re-inserts it, so the first entry is the least recently used.
  private readonly byId = new Map<string, Session>();
  /** Open live-update streams per session id: they end with it (logout, absolute expiry), not at their next reconnect. */
  private readonly streams = new Map<string, Set<ServerResponse>>();
  readonly idleMs: number;
  readonly absoluteMs: number;
  private readonly max: number;
  private readonly now: () => number;

  constructor(o: SessionOptions = {}) {
    this.idleMs = o.idleMs ?? DEFAULT_IDLE_MS;
    this.absoluteMs = o.absoluteMs ?? DEFAULT_ABSOLUTE_MS;
    this.max = o.max ?? 10_000;
    this.now = o.now ?? Date.now;
  }

  get size(): number {
    return this.byId.size;
  }

  create(user: string, role: Role): Session {
    const t = this.now();
    const s: Session = { id: randomBytes(32).toString('base64url'), csrf: randomBytes(32).toString('base64url'), user, role, createdMs: t, lastMs: t };
    this.byId.set(s.id, s);
    while (this.byId.size > this.max) this.byId.delete(this.byId.keys().next().value as string);
    return s;
  }

  /** The live session of this id (its idle time restarts), or null when unknown or expired (then it is gone). */
  get(id: string | null): Session | null {
    if (!id) return null;
    const s = this.byId.get(id);
    if (!s) return null;
    const t = this.now();
    this.byId.delete(id);
    if (t - s.lastMs > this.idleMs || t - s.createdMs > this.absoluteMs) return null;
    s.lastMs = t;
    this.byId.set(id, s);
    return s;
  }

  destroy(id: string): void {
    this.byId.delete(id);
    for (const res of this.streams.get(id) ?? []) res.destroy();
    this.streams.delete(id);
  }

  /** Ties a long-lived answer (SSE) to the session: it is cut at logout or at the session's absolute expiry. */
  holdStream(s: Session, res: ServerResponse): void {
    let set = this.streams.get(s.id);
    if (!set) this.streams.set(s.id, (set = new Set()));
    set.add(res);
    const timer = setTimeout(() => res.destroy(), Math.max(0, s.createdMs + this.absoluteMs - this.now()));
    timer.unref();
    res.once('close', () => {
      clearTimeout(timer);
      set.delete(res);
      if (set.size === 0 && this.streams.get(s.id) === set) this.streams.delete(s.id);
    });
  }

  /** Seconds until the session's absolute expiry (the cookie's Max-Age). */
  maxAgeSec(s: Session): number {
    return Math.max(0, Math.floor((s.createdMs + this.absoluteMs - this.now()) / 1000));
  }
}

/** The session id from the request's Cookie header, or null. */
export function sessionIdOf(req: IncomingMessage): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

export function sessionCookie(id: string, maxAgeSec: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSec}${secure ? '; Secure' : ''}`;
}

export function clearedCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}
