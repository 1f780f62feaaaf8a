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

export async function alertViews(store: FleetStore, limit: number, serial?: string): Promise<AlertView[]> {
  const alerts = await store.alerts(limit, serial);
  const deliveries = await Promise.all(alerts.map((a) => store.deliveriesOf(a.id)));
  return alerts.map((a, i) => ({
    ...(JSON.parse(a.json) as Alert),
    deliveries: deliveries[i].map((d) => ({
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
    alertViews(store, limit, serial).then(
      (alerts) => res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify({ alerts })),
      (err: Error) => res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: `[vigil] [fleet] ${err.message}` })),
    );
    return true;
  };
}
