/**
 * The audit log of operator actions (report-now, rebaseline, retire, unretire): who, with which role, did what
 * to which camera, the command id, when, and how it ended. An append-only JSON-lines file (`--audit-log FILE`,
 * one object a line, owner-readable only); the newest 1,000 entries are also kept in memory for GET /api/audit
 * (operators only: roles.ts), read back from the file's tail at start.
 */
import { appendFileSync, closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { principalOf } from './auth/gate';
import { fleetError } from './log';
import { queryLimit } from './query-limit';

export interface AuditEntry {
  at: string;
  /** Null when the dashboard has no accounts (loopback only). */
  user: string | null;
  role: string;
  action: string;
  serial: string;
  commandId: string | null;
  result: 'ok' | 'failed' | 'not-found';
  detail?: string;
}

const KEPT = 1000;
const TAIL_BYTES = 1 << 20;

export class AuditLog {
  private readonly kept: AuditEntry[] = [];
  private writes: Promise<void> = Promise.resolve();

  /** file null: in memory only. Throws at once when the file cannot be appended to (no audit, no actions). */
  constructor(readonly file: string | null, private readonly now: () => number = Date.now) {
    if (!file) return;
    try {
      appendFileSync(file, '', { mode: 0o600 });
      this.kept.push(...readTail(file));
    } catch (err) {
      throw fleetError(`cannot write the audit log ${file}: ${(err as Error).message}`);
    }
  }

  /** Records what a request did; resolves once the line is in the file. */
  record(req: IncomingMessage, e: Pick<AuditEntry, 'action' | 'serial' | 'commandId' | 'result'> & { detail?: string }): Promise<void> {
    const who = principalOf(req);
    const entry: AuditEntry = { at: new Date(this.now()).toISOString(), user: who?.user ?? null, role: who?.role ?? 'unknown', ...e };
    if (entry.detail === undefined) delete entry.detail;
    this.kept.push(entry);
    if (this.kept.length > KEPT) this.kept.shift();
    if (!this.file) return Promise.resolve();
    const file = this.file;
    const line = JSON.stringify(entry) + '\n';
    const done = this.writes.then(() => appendFile(file, line, { mode: 0o600 }));
    this.writes = done.catch(() => undefined);
    return done;
  }

  /** Newest first; only one camera's when serial is given. */
  recent(limit: number, serial?: string | null): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (let i = this.kept.length - 1; i >= 0 && out.length < limit; i--) if (!serial || this.kept[i].serial === serial) out.push(this.kept[i]);
    return out;
  }
}

function readTail(file: string): AuditEntry[] {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n');
    if (start > 0) lines.shift();
    const out: AuditEntry[] = [];
    for (const l of lines) {
      try {
        if (l.trim()) out.push(JSON.parse(l) as AuditEntry);
      } catch {
        // A torn last line (a crash mid-write) is skipped; the file itself is never rewritten.
      }
    }
    return out.slice(-KEPT);
  } finally {
    closeSync(fd);
  }
}

/** GET /api/audit[?serial=S&limit=N]: the newest entries first. */
export function auditRoutes(audit: AuditLog): (req: IncomingMessage, res: ServerResponse, url: URL) => boolean {
  return (req, res, url) => {
    if (url.pathname !== '/api/audit') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    const limit = queryLimit(url.searchParams.get('limit'), { fallback: 100, max: KEPT });
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify({ audit: audit.recent(limit, url.searchParams.get('serial')) }));
    return true;
  };
}
