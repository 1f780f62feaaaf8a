/**
 * PostgreSQL store (node-postgres 8, a pg.Pool): any number of consumers sharing a subscription over one database
 * keep one truth. Every batch is one transaction that locks its cameras first (store/postgres-ingest.ts) and runs
 * the same decisions as SQLite (store/decide.ts); writes NOTIFY the other instances (store/postgres-notify.ts).
 * Numbered migrations in store/postgres-migrations.ts.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { ALERT_SELECT, CAMERA_RECORD_SELECT, CONDITION_SELECT, DELIVERY_SELECT, EVENT_SELECT, GAP_SELECT, HISTORY_SELECT, PG_TYPES, pgText, QUARANTINE_SELECT, STATE_SELECT } from './postgres-columns';
import { ingestInTransaction, insertRows, lockCameras, QUARANTINE_COLS } from './postgres-ingest';
import { migratePostgres } from './postgres-migrations';
import { NotifyWatcher, notifyPayloads, sendNotify } from './postgres-notify';
import { redactUrl } from './redact-url';
import type {
  AlertChange, AlertConditionRow, AlertRow, CameraRecord, DeliveryRow, DeliveryStatus, EventRow, FleetStore, GapRow, HistoryRow, IngestItem,
  IngestOutcome, QuarantineRow, StateRow, StoreChange,
} from './types';

export interface PostgresStoreOptions {
  /** Connections in the pool (default 4: a consumer commits one batch at a time, plus reads for its HTTP API). */
  poolSize?: number;
  /** Bound on opening one connection (default 10 s). */
  connectTimeoutMs?: number;
  /** How the store reports what it does on its own (the LISTEN connection lost and back, an idle client's error). */
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  /** Shown in pg_stat_activity (default `vigil-fleet`). */
  applicationName?: string;
  /** The LISTEN connection's reconnect backoff (default 200 ms doubling to 10 s). */
  reconnectBackoffMs?: { first: number; max: number };
}

export class PostgresStore implements FleetStore {
  readonly kind = 'postgres';
  /** Tells this instance's own notifications from the others'. */
  readonly instanceId = randomUUID();
  private readonly watcher: NotifyWatcher;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    config: pg.ClientConfig,
    readonly schemaVersion: number,
    private readonly log: NonNullable<PostgresStoreOptions['log']>,
    backoffMs: PostgresStoreOptions['reconnectBackoffMs'],
  ) {
    this.watcher = new NotifyWatcher({
      config,
      instance: this.instanceId,
      log,
      backoffMs,
      resync: async () => (await this.pool.query<{ serial: string }>('SELECT serial FROM cameras ORDER BY serial')).rows.map((r) => r.serial),
    });
  }

  /** Connects, migrates (once across consumers starting together), and returns the store. */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const log = opts.log ?? (() => undefined);
    // Unset parts (user, password, host…) come from the PG* environment variables, as libpq does.
    const config: pg.ClientConfig = { connectionString: url, connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000, application_name: opts.applicationName ?? 'vigil-fleet' };
    const pool = new pg.Pool({ ...config, types: PG_TYPES, max: opts.poolSize ?? 4 });
    // An idle client's error (the server restarted) would otherwise be an uncaught 'error' event; the pool drops it.
    pool.on('error', (err) => log('warn', `a store connection failed while idle: ${err.message}`));
    let version: number;
    try {
      const client = await pool.connect();
      try {
        version = await migratePostgres(client);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new Error(`[vigil] [fleet] cannot open the store ${redactUrl(url)}: ${(err as Error).message}`);
    }
    return new PostgresStore(pool, config, version, log, opts.reconnectBackoffMs);
  }

  /** Runs fn in one transaction on one pooled connection: ROLLBACK and rethrow on any error. */
  private async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone: do not hand it out again
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  private notify(client: pg.PoolClient, change: StoreChange): Promise<void> {
    return sendNotify(client, notifyPayloads(this.instanceId, change));
  }

  private async rows<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query<T>(sql, params)).rows;
  }

  async ingest(items: IngestItem[]): Promise<IngestOutcome[]> {
    if (items.length === 0) return [];
    return this.tx(async (client) => {
      const { outcomes, change } = await ingestInTransaction(client, items);
      await this.notify(client, change);
      return outcomes;
    });
  }

  loadCameras(): Promise<CameraRecord[]> {
    return this.rows<CameraRecord>(`SELECT ${CAMERA_RECORD_SELECT} FROM cameras ORDER BY serial`);
  }

  async camerasOf(serials: string[]): Promise<CameraRecord[]> {
    if (serials.length === 0) return [];
    return this.rows<CameraRecord>(`SELECT ${CAMERA_RECORD_SELECT} FROM cameras WHERE serial = ANY($1::text[]) ORDER BY serial`, [serials.map(pgText)]);
  }

  setRetired(serial: string, retiredMs: number | null, reason: string | null): Promise<boolean> {
    return this.tx(async (client) => {
      const r = await client.query('UPDATE cameras SET retired_ms = $1, retired_reason = $2 WHERE serial = $3', [retiredMs, retiredMs === null ? null : pgText(reason), pgText(serial)]);
      if (r.rowCount !== 1) return false;
      await this.notify(client, { cameras: [serial], events: [] });
      return true;
    });
  }

  async quarantine(q: QuarantineRow): Promise<void> {
    const client = await this.pool.connect();
    try {
      await insertRows(client, 'quarantine', QUARANTINE_COLS, [[q.receivedMs, q.topic, q.serial ?? null, q.reason, q.size, q.excerpt]]);
    } finally {
      client.release();
    }
  }

  quarantined(limit: number): Promise<QuarantineRow[]> {
    return this.rows<QuarantineRow>(`SELECT ${QUARANTINE_SELECT} FROM quarantine ORDER BY id DESC LIMIT $1`, [limit]);
  }

  history(serial: string, limit: number): Promise<HistoryRow[]> {
    return this.rows<HistoryRow>(
      `SELECT ${HISTORY_SELECT} FROM (SELECT * FROM reports WHERE serial = $1 ORDER BY received_ms DESC, seq DESC LIMIT $2) r ORDER BY received_ms, seq`,
      [pgText(serial), limit],
    );
  }

  states(serial: string, limit: number): Promise<StateRow[]> {
    return this.rows<StateRow>(`SELECT ${STATE_SELECT} FROM states WHERE serial = $1 ORDER BY received_ms DESC, id DESC LIMIT $2`, [pgText(serial), limit]);
  }

  gaps(serial: string): Promise<GapRow[]> {
    return this.rows<GapRow>(`SELECT ${GAP_SELECT} FROM gaps WHERE serial = $1 ORDER BY from_seq`, [pgText(serial)]);
  }

  events(serial: string, limit: number): Promise<EventRow[]> {
    return this.rows<EventRow>(`SELECT ${EVENT_SELECT} FROM events WHERE serial = $1 ORDER BY received_ms DESC, event_id DESC LIMIT $2`, [pgText(serial), limit]);
  }

  async event(serial: string, eventId: string): Promise<EventRow | null> {
    return (await this.rows<EventRow>(`SELECT ${EVENT_SELECT} FROM events WHERE serial = $1 AND event_id = $2`, [pgText(serial), pgText(eventId)]))[0] ?? null;
  }

  recentEvents(limit: number): Promise<EventRow[]> {
    return this.rows<EventRow>(`SELECT ${EVENT_SELECT} FROM events ORDER BY received_ms DESC, serial, event_id LIMIT $1`, [limit]);
  }

  alertConditions(): Promise<AlertConditionRow[]> {
    return this.rows<AlertConditionRow>(`SELECT ${CONDITION_SELECT} FROM alert_conditions ORDER BY serial, condition`);
  }

  updateAlerts(serial: string, decide: (stored: AlertConditionRow[]) => AlertChange | null, sinks: string[], nowMs: number): Promise<AlertChange | null> {
    return this.tx(async (client) => {
      await lockCameras(client, [serial]);
      const stored = (await client.query<AlertConditionRow>(`SELECT ${CONDITION_SELECT} FROM alert_conditions WHERE serial = $1 ORDER BY condition`, [pgText(serial)])).rows;
      const change = decide(stored);
      if (!change) return null;
      if (change.deletes.length > 0) {
        await client.query('DELETE FROM alert_conditions WHERE serial = $1 AND condition = ANY($2::text[])', [pgText(serial), change.deletes.map(pgText)]);
      }
      await insertRows(
        client,
        'alert_conditions',
        [['serial', 'text'], ['condition', 'text'], ['active', 'bool'], ['since_ms', 'int8'], ['cleared_ms', 'int8'], ['alerted', 'bool']],
        change.puts.map((c) => [c.serial, c.condition, c.active, c.sinceMs, c.clearedMs, c.alerted]),
        'ON CONFLICT (serial, condition) DO UPDATE SET active = EXCLUDED.active, since_ms = EXCLUDED.since_ms, cleared_ms = EXCLUDED.cleared_ms, alerted = EXCLUDED.alerted',
      );
      await insertRows(
        client,
        'alerts',
        [['id', 'text'], ['serial', 'text'], ['kind', 'text'], ['condition', 'text'], ['severity', 'text'], ['raised_ms', 'int8'], ['json', 'text']],
        change.alerts.map((a) => [a.id, a.serial, a.kind, a.condition, a.severity, a.raisedMs, a.json]),
      );
      await insertRows(
        client,
        'alert_deliveries',
        [['alert_id', 'text'], ['sink', 'text'], ['status', 'text'], ['attempts', 'int8'], ['next_ms', 'int8']],
        change.alerts.flatMap((a) => sinks.map((sink) => [a.id, sink, 'pending', 0, nowMs])),
      );
      await this.notify(client, { cameras: [serial], events: [] });
      return change;
    });
  }

  alerts(limit: number, serial?: string): Promise<AlertRow[]> {
    return serial === undefined
      ? this.rows<AlertRow>(`SELECT ${ALERT_SELECT} FROM alerts ORDER BY raised_ms DESC, ord DESC LIMIT $1`, [limit])
      : this.rows<AlertRow>(`SELECT ${ALERT_SELECT} FROM alerts WHERE serial = $1 ORDER BY raised_ms DESC, ord DESC LIMIT $2`, [pgText(serial), limit]);
  }

  deliveriesOf(alertId: string): Promise<DeliveryRow[]> {
    return this.rows<DeliveryRow>(`SELECT ${DELIVERY_SELECT} FROM alert_deliveries WHERE alert_id = $1 ORDER BY id`, [pgText(alertId)]);
  }

  claimDeliveries(nowMs: number, limit: number, leaseMs: number): Promise<Array<DeliveryRow & { json: string }>> {
    // SKIP LOCKED: two consumers claiming at once take different rows instead of waiting for each other.
    return this.rows<DeliveryRow & { json: string }>(
      `WITH due AS (
         SELECT id, next_ms AS due_ms FROM alert_deliveries WHERE status = 'pending' AND next_ms <= $1 ORDER BY next_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE alert_deliveries d SET next_ms = $1::int8 + $3::int8 FROM due WHERE d.id = due.id
         RETURNING d.id, d.alert_id, d.sink, d.status, d.attempts, d.next_ms, d.last_error, d.done_ms, due.due_ms
       )
       SELECT c.id, c.alert_id AS "alertId", c.sink, c.status, c.attempts, c.next_ms AS "nextMs", c.last_error AS "lastError", c.done_ms AS "doneMs", a.json
       FROM claimed c JOIN alerts a ON a.id = c.alert_id ORDER BY c.due_ms, c.id`,
      [nowMs, limit, leaseMs],
    );
  }

  async nextDeliveryMs(): Promise<number | null> {
    return (await this.rows<{ next: number | null }>("SELECT MIN(next_ms) AS next FROM alert_deliveries WHERE status = 'pending'"))[0].next;
  }

  async updateDelivery(d: Pick<DeliveryRow, 'id' | 'status' | 'attempts' | 'nextMs' | 'lastError' | 'doneMs'>): Promise<void> {
    await this.pool.query('UPDATE alert_deliveries SET status = $1, attempts = $2, next_ms = $3, last_error = $4, done_ms = $5 WHERE id = $6', [
      d.status, d.attempts, d.nextMs, pgText(d.lastError), d.doneMs, d.id,
    ]);
  }

  async deliveryCounts(): Promise<Record<DeliveryStatus, number>> {
    const counts: Record<DeliveryStatus, number> = { pending: 0, delivered: 0, failed: 0 };
    for (const r of await this.rows<{ status: DeliveryStatus; n: number }>('SELECT status, COUNT(*) AS n FROM alert_deliveries GROUP BY status')) counts[r.status] = r.n;
    return counts;
  }

  prune(cutoffMs: number): Promise<number> {
    return this.tx(async (client) => {
      let n = 0;
      for (const sql of [
        'DELETE FROM reports WHERE received_ms < $1',
        'DELETE FROM states WHERE received_ms < $1',
        'DELETE FROM events WHERE received_ms < $1',
        'DELETE FROM gaps WHERE detected_ms < $1',
        'DELETE FROM quarantine WHERE received_ms < $1',
        "DELETE FROM alert_deliveries WHERE status <> 'pending' AND done_ms < $1",
        // An alert stays while a delivery of it is pending, however old.
        "DELETE FROM alerts WHERE raised_ms < $1 AND id NOT IN (SELECT alert_id FROM alert_deliveries WHERE status = 'pending')",
      ]) {
        n += (await client.query(sql, [cutoffMs])).rowCount ?? 0;
      }
      return n;
    });
  }

  watch(listener: (change: StoreChange) => void): Promise<void> {
    return this.watcher.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.watcher.close();
    await this.pool.end();
  }
}
