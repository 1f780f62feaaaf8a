/**
 * The live-update (SSE) clients of the dashboard: at most `maxClients` at once (the next gets 503), and a
 * client whose socket holds more than `maxBufferedBytes` unwritten is dropped, so a dashboard that never
 * reads cannot make the consumer buffer without bound (issue 15, item 1).
 */
import type { ServerResponse } from 'node:http';
import { metricWriter } from './metrics';

export const DEFAULT_MAX_SSE_CLIENTS = 100;
export const DEFAULT_MAX_SSE_BUFFERED_BYTES = 1024 * 1024;

export class SseClients {
  private readonly clients = new Set<ServerResponse>();
  /** Clients dropped because they did not read fast enough. */
  dropped = 0;
  /** Clients refused because the limit was reached. */
  refused = 0;

  constructor(readonly maxClients = DEFAULT_MAX_SSE_CLIENTS, readonly maxBufferedBytes = DEFAULT_MAX_SSE_BUFFERED_BYTES) {}

  get size(): number {
    return this.clients.size;
  }

  /** Takes `res` as a client, or answers 503 and returns false when the limit is reached. */
  add(res: ServerResponse, first: string): boolean {
    if (this.clients.size >= this.maxClients) {
      this.refused++;
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'retry-after': '5' });
      res.end(JSON.stringify({ error: `[vigil] [fleet] too many live-update clients (${this.maxClients}); try again later` }));
      return false;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    this.write(res, first);
    return true;
  }

  /** Writes to every client; one that is too far behind is dropped. */
  send(chunk: string): void {
    for (const res of this.clients) this.write(res, chunk);
  }

  private write(res: ServerResponse, chunk: string): void {
    if (res.writableLength + chunk.length > this.maxBufferedBytes) {
      this.clients.delete(res);
      this.dropped++;
      res.destroy();
      return;
    }
    res.write(chunk);
  }

  endAll(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  metricsText(): string {
    const { lines, metric } = metricWriter();
    metric('vigil_fleet_sse_clients', 'gauge', 'Live-update (SSE) clients connected.', [[null, this.clients.size]]);
    metric('vigil_fleet_sse_clients_dropped_total', 'counter', 'Live-update clients dropped for not reading (unwritten bytes over the bound).', [[null, this.dropped]]);
    metric('vigil_fleet_sse_clients_refused_total', 'counter', 'Live-update clients refused with 503 (client limit reached).', [[null, this.refused]]);
    return lines.join('\n') + '\n';
  }
}
