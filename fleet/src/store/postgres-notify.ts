/**
 * What one PostgreSQL store instance tells the others: NOTIFY on channel vigil_fleet, sent by the writing
 * transaction (delivered at its commit, never for a rolled-back one), and a LISTEN connection of its own that
 * reconnects with backoff. A payload is JSON `{ i: instance, c: [serial…], e: [[serial, eventId]…] }`, chunked
 * below PostgreSQL's 8000-byte payload limit.
 */
import pg from 'pg';
import { PG_TYPES } from './postgres-columns';
import type { StoreChange } from './types';

export const NOTIFY_CHANNEL = 'vigil_fleet';
/** PostgreSQL refuses payloads of 8000 bytes or more; keep a margin. */
export const NOTIFY_MAX_BYTES = 7900;

interface Payload {
  i: string;
  c: string[];
  e: Array<[string, string]>;
}

/** The change as payloads of at most NOTIFY_MAX_BYTES (UTF-8) each; none when nothing changed. */
export function notifyPayloads(instance: string, change: StoreChange): string[] {
  const out: string[] = [];
  let cur: Payload = { i: instance, c: [], e: [] };
  let bytes = Buffer.byteLength(JSON.stringify(cur));
  const flush = (): void => {
    if (cur.c.length > 0 || cur.e.length > 0) out.push(JSON.stringify(cur));
    cur = { i: instance, c: [], e: [] };
    bytes = Buffer.byteLength(JSON.stringify(cur));
  };
  const add = (size: number, put: () => void): void => {
    if (bytes + size > NOTIFY_MAX_BYTES) flush();
    put();
    bytes += size;
  };
  for (const serial of change.cameras) {
    const s = serial.length > 1000 ? serial.slice(0, 1000) : serial; // a serial is short; never let one overflow a payload
    add(Buffer.byteLength(JSON.stringify(s)) + 1, () => cur.c.push(s));
  }
  for (const { serial, eventId } of change.events) add(Buffer.byteLength(JSON.stringify([serial, eventId])) + 1, () => cur.e.push([serial, eventId]));
  flush();
  return out;
}

/** A payload from another instance as a change; null for this instance's own or one that is not ours. */
export function parsePayload(instance: string, text: string): StoreChange | null {
  let p: Partial<Payload>;
  try {
    p = JSON.parse(text) as Partial<Payload>;
  } catch {
    return null;
  }
  if (typeof p !== 'object' || p === null || p.i === instance || !Array.isArray(p.c) || !Array.isArray(p.e)) return null;
  return {
    cameras: p.c.filter((s): s is string => typeof s === 'string'),
    events: p.e.filter((x) => Array.isArray(x) && typeof x[0] === 'string' && typeof x[1] === 'string').map(([serial, eventId]) => ({ serial, eventId })),
  };
}

/** Sends the payloads inside the caller's transaction (one round trip). */
export async function sendNotify(client: pg.PoolClient, payloads: string[]): Promise<void> {
  if (payloads.length === 0) return;
  await client.query(`SELECT pg_notify('${NOTIFY_CHANNEL}', p) FROM unnest($1::text[]) WITH ORDINALITY AS x(p, n) ORDER BY n`, [payloads]);
}

export interface WatcherOptions {
  config: pg.ClientConfig;
  instance: string;
  log: (level: 'info' | 'warn', message: string) => void;
  /** After a reconnect: the serials to re-read, since notifications sent meanwhile are lost. */
  resync: () => Promise<string[]>;
  backoffMs?: { first: number; max: number };
}

/** One LISTEN connection for all of a store's listeners; reconnects with backoff until closed. */
export class NotifyWatcher {
  private readonly listeners: Array<(change: StoreChange) => void> = [];
  private client: pg.Client | null = null;
  private closed = false;
  private started: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;
  private delayMs: number;

  constructor(private readonly opts: WatcherOptions) {
    this.delayMs = opts.backoffMs?.first ?? 200;
  }

  /** Adds a listener; the first one opens the LISTEN connection (rejects if it cannot). */
  async add(listener: (change: StoreChange) => void): Promise<void> {
    this.listeners.push(listener);
    this.started ??= this.connect().catch((err: Error) => {
      this.started = null;
      this.listeners.length = 0;
      throw err;
    });
    await this.started;
  }

  private emit(change: StoreChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.opts.log('warn', `a store change listener failed: ${(err as Error).message}`);
      }
    }
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ ...this.opts.config, types: PG_TYPES });
    let lost = false;
    const onLost = (why: string): void => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
      if (!this.closed) this.scheduleReconnect(why);
    };
    client.on('error', (err) => onLost(err.message));
    client.on('end', () => onLost('connection ended'));
    client.on('notification', (msg) => {
      if (msg.channel !== NOTIFY_CHANNEL || msg.payload === undefined) return;
      const change = parsePayload(this.opts.instance, msg.payload);
      if (change) this.emit(change);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    } catch (err) {
      lost = true; // the caller retries (or rejects add()); the handlers above must not schedule a second retry
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.delayMs = this.opts.backoffMs?.first ?? 200;
  }

  private scheduleReconnect(why: string): void {
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.opts.backoffMs?.max ?? 10_000);
    this.opts.log('warn', `the store's LISTEN connection was lost (${why}); reconnecting in ${delay} ms`);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.closed) return;
      this.connect()
        .then(async () => {
          if (this.closed) return;
          this.opts.log('info', "the store's LISTEN connection is back");
          // Whatever other consumers wrote while we were away was notified to nobody here: re-read every camera.
          const cameras = await this.opts.resync();
          if (cameras.length > 0) this.emit({ cameras, events: [] });
        })
        .catch((err: Error) => {
          if (!this.closed) this.scheduleReconnect(err.message);
        });
    }, delay);
    this.retry.unref?.();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.started?.catch(() => undefined);
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => undefined);
  }
}
