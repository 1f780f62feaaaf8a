/**
 * The dashboard, JSON API, live updates (SSE) and Prometheus metrics, served by the consumer. Plain pages,
 * no CDN: the HTML shells, script and stylesheet live in fleet/src/dashboard/ and are served from here.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CAMERA_STATUSES, type CameraView, type FleetConsumer } from './consumer';
import type { EventRow, FleetStore } from './store/types';

const DASH = fileURLToPath(new URL('./dashboard/', import.meta.url));
const STATIC: Record<string, string> = {
  '/static/style.css': 'text/css; charset=utf-8',
  '/static/fleet.js': 'text/javascript; charset=utf-8',
  '/static/camera.js': 'text/javascript; charset=utf-8',
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

function page(title: string, script: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><link rel="stylesheet" href="/static/style.css"></head>
<body>
<header><a class="brand" href="/">Vigil fleet</a><span id="live" class="live" title="live updates">connecting…</span></header>
<main>${body}</main>
<script src="/static/common.js"></script><script src="${script}"></script>
</body></html>`;
}

const FLEET_PAGE = page('Vigil fleet', '/static/fleet.js', `
<section id="counts" class="counts" aria-label="fleet counts"></section>
<section class="filters" aria-label="filters">
  <label>Search <input id="q" type="search" placeholder="serial, model, version"></label>
  <label>Status <select id="f-status"><option value="">all</option>${CAMERA_STATUSES.map((s) => `<option>${s}</option>`).join('')}</select></label>
  <label>Support <select id="f-support"><option value="">all</option><option>supported</option><option>ending-soon</option><option>outdated</option><option>end-of-life</option><option>unknown</option></select></label>
  <label><input id="f-adv" type="checkbox"> with advisories</label>
  <span id="shown" class="muted"></span>
</section>
<table id="cameras" class="cameras"><thead><tr>
  <th data-key="serial">Camera</th><th data-key="model">Model</th><th data-key="osVersion">AXIS OS</th><th data-key="track">Track</th>
  <th data-key="support">Support</th><th data-key="status">Status</th><th data-key="score" class="num">Hardening</th>
  <th data-key="advisories" class="num">Advisories</th><th data-key="integrity">Integrity</th><th data-key="lastReportAt">Last report</th>
</tr></thead><tbody></tbody></table>
<p id="empty" class="muted" hidden>No cameras match.</p>
<section id="events" class="events" aria-label="recent events"><h2>Recent events</h2>
<ol id="event-list" class="events-list"></ol><p id="no-events" class="muted">No events yet.</p></section>`);

function cameraPage(serial: string): string {
  return page(`${serial} · Vigil`, '/static/camera.js', `<div id="camera" data-serial="${serial}"><p class="muted">Loading ${serial}…</p></div>`);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function metricsText(consumer: FleetConsumer): string {
  const c = consumer.counters;
  const counts = consumer.counts();
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: Array<[Record<string, string> | null, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) {
      const l = labels ? `{${Object.entries(labels).map(([k, x]) => `${k}="${escapeLabel(x)}"`).join(',')}}` : '';
      lines.push(`${name}${l} ${v}`);
    }
  };
  metric('vigil_fleet_messages_total', 'counter', 'MQTT messages received on the state, report and event topics.', [[null, c.messages]]);
  metric('vigil_fleet_reports_ingested_total', 'counter', 'Reports committed to the store.', [[null, c.reports]]);
  metric('vigil_fleet_ingest_rate', 'gauge', 'Reports ingested per second, averaged over the last 60 seconds.', [[null, Number(consumer.ingestRate().toFixed(3))]]);
  const reasons = Object.entries(c.invalid);
  metric('vigil_fleet_invalid_payloads_total', 'counter', 'Payloads quarantined, by reason.', reasons.length ? reasons.map(([r, n]) => [{ reason: r }, n]) : [[{ reason: 'schema' }, 0]]);
  metric('vigil_fleet_duplicates_total', 'counter', 'Reports and events ignored as duplicates (same id).', [[null, c.duplicates]]);
  metric('vigil_fleet_seq_gaps_total', 'counter', 'Sequence gaps detected.', [[null, c.gaps]]);
  metric('vigil_fleet_out_of_order_total', 'counter', 'Reports that arrived after a newer one.', [[null, c.outOfOrder]]);
  metric('vigil_fleet_stale_states_total', 'counter', 'State messages ignored as older than the current session (stale wills).', [[null, c.staleStates]]);
  metric('vigil_fleet_store_errors_total', 'counter', 'Messages not acknowledged because the store failed.', [[null, c.storeErrors]]);
  metric('vigil_fleet_cameras', 'gauge', 'Cameras by status.', Object.entries(counts.status).map(([s, n]) => [{ status: s }, n]));
  metric('vigil_fleet_cameras_by_support', 'gauge', 'Cameras by AXIS OS support status.', Object.entries(counts.support).map(([s, n]) => [{ support: s }, n]));
  metric('vigil_fleet_cameras_by_integrity', 'gauge', 'Cameras by integrity verdict.', Object.entries(counts.integrity).map(([s, n]) => [{ integrity: s }, n]));
  metric('vigil_fleet_cameras_with_advisories', 'gauge', 'Cameras with at least one matching advisory.', [[null, counts.withAdvisories]]);
  metric('vigil_fleet_broker_connected', 'gauge', '1 while the consumer is connected to the broker.', [[null, consumer.connected ? 1 : 0]]);
  return lines.join('\n') + '\n';
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

export async function startDashboard(options: { consumer: FleetConsumer; store: FleetStore; host?: string; port?: number }): Promise<DashboardServer> {
  const { consumer, store } = options;
  const host = options.host ?? '127.0.0.1';
  const clients = new Set<ServerResponse>();
  const statics = new Map<string, Buffer>();
  for (const p of Object.keys(STATIC)) statics.set(p, readFileSync(DASH + p.slice('/static/'.length)));

  const send = (event: string, data: unknown) => {
    const chunk = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of clients) res.write(chunk);
  };
  // Coalesce: at thousands of reports a second a browser needs each changed camera once per flush, and
  // the counts once, not every message.
  const pending = new Map<string, CameraView>();
  let pendingEvents: EventView[] = [];
  let flushTimer: NodeJS.Timeout | null = null;
  const flush = () => {
    flushTimer = null;
    for (const v of pending.values()) send('camera', v);
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
    for (const res of clients) res.write(': keep-alive\n\n');
  }, 15_000);

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(FLEET_PAGE);
      return;
    }
    const cam = /^\/camera\/([A-Za-z0-9_-]{1,64})$/.exec(path);
    if (cam) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(cameraPage(cam[1]));
      return;
    }
    if (STATIC[path]) {
      res.writeHead(200, { 'content-type': STATIC[path], 'cache-control': 'no-cache' }).end(statics.get(path));
      return;
    }
    if (path === '/api/fleet') return json(res, 200, { counts: consumer.counts(), cameras: consumer.cameras() });
    if (path === '/api/quarantine') return json(res, 200, { quarantine: store.quarantined(Math.min(Number(url.searchParams.get('limit')) || 100, 1000)) });
    const api = /^\/api\/cameras\/([A-Za-z0-9_-]{1,64})(\/history)?$/.exec(path);
    if (api) {
      const c = consumer.camera(api[1]);
      if (!c) return json(res, 404, { error: `[vigil] [fleet] no camera ${api[1]}` });
      if (!api[2]) return json(res, 200, c);
      const limit = Math.min(Number(url.searchParams.get('limit')) || 200, 5000);
      return json(res, 200, {
        serial: c.serial,
        reports: store.history(c.serial, limit),
        states: store.states(c.serial, 50),
        gaps: store.gaps(c.serial),
        events: store.events(c.serial, 50).map((e) => ({ ...e, json: JSON.parse(e.json) })),
      });
    }
    if (path === '/api/events/recent') {
      const limit = Math.min(Math.max(Math.floor(Number(url.searchParams.get('limit'))) || 50, 1), 500);
      return json(res, 200, { events: store.recentEvents(limit).map(storedEventView).filter((e) => e !== null) });
    }
    if (path === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`retry: 1000\nevent: counts\ndata: ${JSON.stringify(consumer.counts())}\n\n`);
      clients.add(res);
      req.on('close', () => clients.delete(res));
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metricsText(consumer));
      return;
    }
    if (path === '/healthz') return json(res, consumer.connected ? 200 : 503, { broker: consumer.connected });
    json(res, 404, { error: `[vigil] [fleet] nothing at ${path}` });
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      if (!res.headersSent) json(res, 500, { error: `[vigil] [fleet] ${(err as Error).message}` });
      else res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`[vigil] [fleet] cannot serve the dashboard on ${host}:${options.port ?? 0}: ${err.code === 'EADDRINUSE' ? 'the port is in use; choose another with --http' : err.message}`)),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/`,
    host,
    port,
    server,
    close: async () => {
      clearInterval(heartbeat);
      if (flushTimer) clearTimeout(flushTimer);
      consumer.off('camera', onCamera);
      consumer.off('event', onEvent);
      for (const res of clients) res.end();
      clients.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
