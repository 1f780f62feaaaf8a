/**
 * The alerts API for the dashboard: `GET /api/alerts?limit=N[&serial=S]` lists the newest alerts (payload as
 * sent, schemas/alert.schema.json) with the state of each delivery. Called from http.ts's handle().
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeliveryRow, FleetStore } from '../store/types';
import { queryLimit } from '../query-limit';
import { sinkLabel } from './dispatcher';
import type { Alert } from './engine';

export const MAX_ALERTS_LIMIT = 1000;

export interface DeliveryView {
  /** `mqtt`, or `webhook <origin>/… #<hash>` (redactUrl: never the path, query or credentials). */
  sink: string;
  status: DeliveryRow['status'];
  attempts: number;
  lastError: string | null;
  /** When the next attempt is due (pending only). */
  nextTryAt: string | null;
  /** When it was delivered or given up. */
  doneAt: string | null;
}

export type AlertView = Alert & { deliveries: DeliveryView[] };

export function alertViews(store: FleetStore, limit: number, serial?: string): AlertView[] {
  return store.alerts(limit, serial).map((a) => ({
    ...(JSON.parse(a.json) as Alert),
    deliveries: store.deliveriesOf(a.id).map((d) => ({
      sink: sinkLabel(d.sink), status: d.status, attempts: d.attempts, lastError: d.lastError,
      nextTryAt: d.status === 'pending' ? new Date(d.nextMs).toISOString() : null, doneAt: d.doneMs === null ? null : new Date(d.doneMs).toISOString(),
    })),
  }));
}

/** Handles the request when it is for the alerts API; false otherwise. */
export function alertRoutes(store: FleetStore): (req: IncomingMessage, res: ServerResponse, url: URL) => boolean {
  return (req, res, url) => {
    if (url.pathname !== '/api/alerts') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    const limit = queryLimit(url.searchParams.get('limit'), { fallback: 100, max: MAX_ALERTS_LIMIT });
    const serial = url.searchParams.get('serial') ?? undefined;
    const body = JSON.stringify({ alerts: alertViews(store, limit, serial) });
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(body);
    return true;
  };
}
