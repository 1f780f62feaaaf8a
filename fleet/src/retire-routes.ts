/**
 * The decommission API: `POST /api/cameras/<serial>/retire` (JSON body `{ "reason"?: string }`, at most
 * 4 KiB) and `POST /api/cameras/<serial>/unretire`. 200 with the camera's view, 404 for an unknown camera,
 * 400 for a bad body, 413 for a body too large. Called from http.ts's handle(); `vigil fleet retire` uses it.
 * Each attempt on a known or unknown camera goes to the audit log when one is given (audit-log.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditLog } from './audit-log';
import { json, readJsonBody } from './json-body';
import type { FleetConsumer } from './consumer';
import type { FleetStore } from './store/types';

export const MAX_RETIRE_BODY = 4096;

export function retireRoutes(o: { consumer: FleetConsumer; store: FleetStore; now: () => number; audit?: AuditLog }): (req: IncomingMessage, res: ServerResponse, url: URL) => boolean {
  return (req, res, url) => {
    const m = /^\/api\/cameras\/([A-Za-z0-9_-]{1,64})\/(retire|unretire)$/.exec(url.pathname);
    if (!m) return false;
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return true;
    }
    const [, serial, action] = m;
    void (async () => {
      const read = await readJsonBody(req, res, MAX_RETIRE_BODY);
      if (!read) return;
      let reason: string | null = null;
      if (read.body !== undefined) {
        const body = read.body;
        const r = (body as { reason?: unknown } | null)?.reason;
        if (typeof body !== 'object' || body === null || (r !== undefined && typeof r !== 'string')) return json(res, 400, { error: '[vigil] [fleet] the body must be {"reason"?: string}' });
        reason = r ?? null;
      }
      const audit = (result: 'ok' | 'failed' | 'not-found', detail?: string) => o.audit?.record(req, { action, serial, commandId: null, result, ...(detail ? { detail } : {}) });
      if (!o.consumer.camera(serial)) {
        await audit('not-found');
        return json(res, 404, { error: `[vigil] [fleet] no camera ${serial}` });
      }
      let view;
      try {
        view = await o.consumer.retire(serial, action === 'retire' ? o.now() : null, reason);
      } catch (err) {
        await audit('failed', (err as Error).message)?.catch(() => undefined);
        throw err;
      }
      await audit(view ? 'ok' : 'not-found', reason ?? undefined);
      if (!view) return json(res, 404, { error: `[vigil] [fleet] no camera ${serial}` });
      json(res, 200, view);
    })().catch((err: Error) => {
      if (!res.headersSent) json(res, 500, { error: `[vigil] [fleet] ${err.message}` });
      else res.end();
    });
    return true;
  };
}
