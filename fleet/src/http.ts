/**
 * The dashboard, JSON API, live updates (SSE) and Prometheus metrics, served by the consumer. Plain pages,
 * no CDN: the HTML shells are in dashboard-pages.ts, the script and stylesheet in fleet/src/dashboard/, the
 * /metrics text in metrics.ts, the worklist's API and exports in worklist-routes.ts.
 */
import { guardRequest } from './http-guard';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FleetConsumer } from './consumer';
import { CAMERAS_PAGE, cameraPage, WORKLIST_PAGE } from './dashboard-pages';
import { CursorError, decodeCursor, isPruned, TABLE_COLUMNS, tableColumns, tablePage, tableRow } from './fleet-table';
import type { CameraView } from './fleet-view';
import { metricsText } from './metrics';
import { queryLimit } from './query-limit';
import { SseClients } from './sse';
import type { EventRow, FleetStore } from './store/types';
import { worklistRoutes } from './worklist-routes';

const DASH = fileURLToPath(new URL('./dashboard/', import.meta.url));
const STATIC: Record<string, string> = {
  '/static/style.css': 'text/css; charset=utf-8',
  '/static/fleet.js': 'text/javascript; charset=utf-8',
  '/static/camera.js': 'text/javascript; charset=utf-8',
  '/static/camera-evidence.js': 'text/javascript; charset=utf-8',
  '/static/worklist.js': 'text/javascript; charset=utf-8',
  '/static/common.js': 'text/javascript; charset=utf-8',
};

/** Live updates are sent at most this often. */
const FLUSH_MS = 200;
/** Events sent per flush at most (the newest); a page that missed some reloads /api/events/recent. */
const MAX_EVENTS_PER_FLUSH = 50;

/** An event as the fleet page lists it: what a human reads, nothing more (the rest is on the camera's page). */
export interface EventView {
  serial: string;
  eventId: string;
  receivedMs: number;
  at: string | null;
  kind: string;
  severity: string | null;
  summary: string;
}

/** The list entry of a schema-checked event (the consumer validated it before storing or emitting it). */
export function eventView(serial: string, receivedMs: number, e: Record<string, unknown>): EventView {
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    serial,
    eventId: text(e.eventId) ?? '',
    receivedMs,
    at: text(e.at),
    kind: text(e.kind) ?? '',
    severity: text(e.severity),
    summary: text(e.summary) ?? '',
  };
}

function storedEventView(row: EventRow): EventView | null {
  try {
    return eventView(row.serial, row.receivedMs, JSON.parse(row.json) as Record<string, unknown>);
  } catch {
    return null;
  }
}

export interface DashboardServer {
  url: string;
  host: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** Past this, an answer goes gzipped to a client that accepts it (the fleet's pages: rows repeat, ~10:1). */
const GZIP_FROM_BYTES = 32 * 1024;

function json(res: ServerResponse, status: number, body: unknown, req?: IncomingMessage): void {
  const text = JSON.stringify(body);
  const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', vary: 'accept-encoding' };
  if (req && text.length > GZIP_FROM_BYTES && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    res.writeHead(status, { ...headers, 'content-encoding': 'gzip' });
    res.end(gzipSync(text, { level: 6 }));
    return;
  }
  res.writeHead(status, headers);
  res.end(text);
}

/** Answers with what an asynchronous store read returns; a failing store is a 500 with its message. */
function later(res: ServerResponse, body: () => Promise<unknown>): void {
  body().then(
    (b) => json(res, 200, b),
    (err: Error) => (res.headersSent ? res.end() : json(res, 500, { error: `[vigil] [fleet] ${err.message}` })),
  );
}

/** A route of another part (alerts, decommission): handles the request and returns true, or returns false. */
export type ExtraRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;

export async function startDashboard(options: {
  consumer: FleetConsumer;
  store: FleetStore;
  host?: string;
  port?: number;
  /** Tried in order before the routes here (they may take POST). */
  routes?: ExtraRoute[];
  /** More Prometheus text appended to /metrics. */
  metrics?: () => Promise<string> | string;
  /** The clock the data's age and the exports' dates are computed against (the fleet's). */
  now?: () => number;
  /** Host names answered besides IP literals, localhost and the bound address (http-guard.ts). */
  allowHosts?: readonly string[];
  /** Live-update clients at most, and unwritten bytes per client before it is dropped. */
  sse?: { maxClients?: number; maxBufferedBytes?: number };
  /** Runs before every route (auth/gate.ts): answers the request itself and resolves false, or resolves true. */
  gate?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
  /** HTTPS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** A camera silent, or retired, for longer than this leaves the table and its live updates (default 30 days). */
  pruneAfterMs?: number;
}): Promise<DashboardServer> {
  const { consumer, store } = options;
  const worklist = worklistRoutes(consumer, options.now);
  const host = options.host ?? '127.0.0.1';
  const clients = new SseClients(options.sse?.maxClients, options.sse?.maxBufferedBytes);
  const now = options.now ?? Date.now;
  const pruneAfterMs = options.pruneAfterMs ?? 30 * 86_400_000;
  const pruned = (serial: string) => {
    const c = consumer.cameraEntry(serial);
    return c !== undefined && isPruned(c, now(), pruneAfterMs);
  };
  // The cameras the live table lost since the last look: told once (event `pruned`), checked with the heartbeat.
  let prunedBefore = new Set<string>();
  const newlyPruned = () => {
    const nowMs = now();
    const all = new Set<string>();
    for (const c of consumer.cameraEntries()) if (isPruned(c, nowMs, pruneAfterMs)) all.add(c.rec.serial);
    const fresh = [...all].filter((s) => !prunedBefore.has(s));
    prunedBefore = all;
    return fresh;
  };
  newlyPruned();
  const statics = new Map<string, Buffer>();
  for (const p of Object.keys(STATIC)) statics.set(p, readFileSync(DASH + p.slice('/static/'.length)));

  const send = (event: string, data: unknown) => {
    const chunk = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    clients.send(chunk);
  };
  // Coalesce: at thousands of reports a second a browser needs each changed camera once per flush, and
  // the counts once, not every message.
  const pending = new Map<string, CameraView>();
  let pendingEvents: EventView[] = [];
  let flushTimer: NodeJS.Timeout | null = null;
  const flush = () => {
    flushTimer = null;
    // The table's slim row: the camera page and the worklist only need to know which camera changed.
    for (const v of pending.values()) if (!pruned(v.serial)) send('camera', tableRow(v));
    pending.clear();
    for (const e of pendingEvents) send('event', e);
    pendingEvents = [];
    send('counts', consumer.counts());
  };
  const onEvent = (e: { serial: string } & Record<string, unknown>) => {
    if (clients.size === 0) return;
    pendingEvents.push(eventView(e.serial, Date.now(), e));
    if (pendingEvents.length > MAX_EVENTS_PER_FLUSH) pendingEvents.shift();
    flushTimer ??= setTimeout(flush, FLUSH_MS);
  };
  consumer.on('event', onEvent);
  const onCamera = (v: CameraView) => {
    if (clients.size === 0) return;
    pending.set(v.serial, v);
    flushTimer ??= setTimeout(flush, FLUSH_MS);
  };
  consumer.on('camera', onCamera);
  const heartbeat = setInterval(() => {
    clients.send(': keep-alive\n\n');
    const gone = clients.size ? newlyPruned() : [];
    if (gone.length) send('pruned', { serials: gone });
  }, 15_000);

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (options.routes?.some((route) => route(req, res, url))) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(WORKLIST_PAGE);
      return;
    }
    if (path === '/cameras') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(CAMERAS_PAGE);
      return;
    }
    if (worklist(req, res, url)) return;
    const cam = /^\/camera\/([A-Za-z0-9_-]{1,64})$/.exec(path);
    if (cam) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(cameraPage(cam[1]));
      return;
    }
    if (STATIC[path]) {
      res.writeHead(200, { 'content-type': STATIC[path], 'cache-control': 'no-cache' }).end(statics.get(path));
      return;
    }
    if (path === '/api/fleet' || path === '/api/fleet/table') {
      // Pages in serial order: the full view (the API's callers), at most 1000 a page; the table's slim rows, 5000.
      const table = path === '/api/fleet/table';
      const limit = queryLimit(url.searchParams.get('limit'), table ? { fallback: 1000, max: 5000 } : { fallback: 1000, max: 1000 });
      const raw = url.searchParams.get('cursor');
      let after: string | null = null;
      try {
        after = raw === null || raw === '' ? null : decodeCursor(raw);
      } catch (err) {
        if (err instanceof CursorError) return json(res, 400, { error: err.message });
        throw err;
      }
      const page = tablePage<unknown>(consumer.cameraEntries(), { after, limit, nowMs: now(), pruneAfterMs, shape: table ? tableColumns : (v) => v });
      const body = { counts: consumer.counts(), ...(table ? { columns: TABLE_COLUMNS } : {}), cameras: page.rows, next: page.next, total: page.total, pruned: page.pruned, pruneAfterDays: pruneAfterMs / 86_400_000 };
      return json(res, 200, body, req);
    }
    if (path === '/api/quarantine') return later(res, async () => ({ quarantine: await store.quarantined(queryLimit(url.searchParams.get('limit'), { fallback: 100, max: 1000 })) }));
    const api = /^\/api\/cameras\/([A-Za-z0-9_-]{1,64})(\/history)?$/.exec(path);
    if (api) {
      const c = consumer.camera(api[1]);
      if (!c) return json(res, 404, { error: `[vigil] [fleet] no camera ${api[1]}` });
      if (!api[2]) return json(res, 200, { ...c, actions: consumer.actionsFor(c.serial) ?? [] });
      const limit = queryLimit(url.searchParams.get('limit'), { fallback: 200, max: 5000 });
      return later(res, async () => {
        const [reports, states, gaps, events] = await Promise.all([store.history(c.serial, limit), store.states(c.serial, 50), store.gaps(c.serial), store.events(c.serial, 50)]);
        return { serial: c.serial, reports, states, gaps, events: events.map((e) => ({ ...e, json: JSON.parse(e.json) })) };
      });
    }
    if (path === '/api/events/recent') {
      const limit = queryLimit(url.searchParams.get('limit'), { fallback: 50, max: 500 });
      return later(res, async () => ({ events: (await store.recentEvents(limit)).map(storedEventView).filter((e) => e !== null) }));
    }
    if (path === '/api/events') {
      clients.add(res, `retry: 1000\nevent: counts\ndata: ${JSON.stringify(consumer.counts())}\n\n`);
      return;
    }
    if (path === '/metrics') {
      Promise.resolve(options.metrics?.() ?? '').then(
        (more) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metricsText(consumer) + clients.metricsText() + more),
        (err: Error) => json(res, 500, { error: `[vigil] [fleet] ${err.message}` }),
      );
      return;
    }
    if (path === '/healthz') return json(res, consumer.connected ? 200 : 503, { broker: consumer.connected, brokerDropped: consumer.brokerDrops });
    json(res, 404, { error: `[vigil] [fleet] nothing at ${path}` });
  };

  const allowHosts = options.allowHosts ?? [];
  const failed = (res: ServerResponse, err: unknown) => {
    if (!res.headersSent) json(res, 500, { error: `[vigil] [fleet] ${(err as Error).message}` });
    else res.end();
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    try {
      if (!guardRequest(req, res, host, allowHosts)) return;
      if (!options.gate) return handle(req, res);
      options.gate(req, res, new URL(req.url ?? '/', 'http://localhost')).then((ok) => {
        if (!ok) return;
        try {
          handle(req, res);
        } catch (err) {
          failed(res, err);
        }
      }, (err) => failed(res, err));
    } catch (err) {
      failed(res, err);
    }
  };
  let server: Server;
  try {
    server = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest) : createServer(onRequest);
  } catch (err) {
    clearInterval(heartbeat);
    consumer.off('camera', onCamera);
    consumer.off('event', onEvent);
    throw new Error(`[vigil] [fleet] cannot serve HTTPS with the given certificate and key: ${(err as Error).message}`);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      // Nothing of a dashboard that never listened may keep the process alive: a fatal start must let it exit.
      clearInterval(heartbeat);
      consumer.off('camera', onCamera);
      consumer.off('event', onEvent);
      reject(new Error(`[vigil] [fleet] cannot serve the dashboard on ${host}:${options.port ?? 0}: ${err.code === 'EADDRINUSE' ? 'the port is in use; choose another with --http' : err.message}`));
    });
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `${options.tls ? 'https' : 'http'}://${urlHost}:${port}/`,
    host,
    port,
    server,
    close: async () => {
      clearInterval(heartbeat);
      if (flushTimer) clearTimeout(flushTimer);
      consumer.off('camera', onCamera);
      consumer.off('event', onEvent);
      clients.endAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
