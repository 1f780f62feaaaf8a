/**
 * The PostgreSQL store's numbered migrations, recorded in schema_version. The tables are SQLite's (store/sqlite.ts)
 * as of issue 14: ms, seq, session and counters as BIGINT (the schemas bound them below 2^53); a camera's own
 * unbounded numbers (heap, queue, dropped, score) as DOUBLE PRECISION (any JS number, as SQLite keeps it, so no
 * value can make a batch fail on every redelivery); JSON as TEXT (kept byte for byte: webhooks sign the alert
 * text); no evaluation_json; cameras.last_started_at. Rows SQLite orders by rowid get an identity column (`ord`, `id`).
 *
 * Consumers that start together must not both migrate: the whole run is one transaction holding an advisory lock
 * (released at commit), so a second consumer waits, then finds the schema current.
 */
import type pg from 'pg';

/** Migrations in order; never edit one that shipped, append a new one. */
export const PG_MIGRATIONS: string[] = [
  `
  CREATE TABLE cameras (
    serial TEXT PRIMARY KEY, model TEXT, full_name TEXT, os_version TEXT,
    connection TEXT NOT NULL, session BIGINT, state_at TEXT, state_reason TEXT,
    last_report_id TEXT, last_seq BIGINT, last_sent_at TEXT, last_started_at TEXT, last_report_ms BIGINT, interval_sec BIGINT,
    reports BIGINT NOT NULL, duplicates BIGINT NOT NULL, gaps BIGINT NOT NULL, out_of_order BIGINT NOT NULL,
    first_seen_ms BIGINT NOT NULL, retired_ms BIGINT, retired_reason TEXT, report_json TEXT
  );
  CREATE TABLE reports (
    serial TEXT NOT NULL, report_id TEXT NOT NULL, seq BIGINT NOT NULL, sent_at TEXT NOT NULL, received_ms BIGINT NOT NULL,
    os_version TEXT NOT NULL, findings BIGINT NOT NULL, hardening_score DOUBLE PRECISION, integrity TEXT NOT NULL, support TEXT NOT NULL,
    advisories BIGINT NOT NULL, queue_depth DOUBLE PRECISION NOT NULL, heap_used DOUBLE PRECISION NOT NULL, dropped DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (serial, report_id)
  );
  CREATE INDEX reports_by_time ON reports (serial, received_ms);
  CREATE INDEX reports_received ON reports (received_ms);
  CREATE TABLE states (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, serial TEXT NOT NULL, received_ms BIGINT NOT NULL, state TEXT NOT NULL,
    reason TEXT, session BIGINT NOT NULL, at TEXT NOT NULL, stale BOOLEAN NOT NULL
  );
  CREATE INDEX states_by_time ON states (serial, received_ms);
  CREATE INDEX states_received ON states (received_ms);
  CREATE TABLE gaps (serial TEXT NOT NULL, from_seq BIGINT NOT NULL, to_seq BIGINT NOT NULL, detected_ms BIGINT NOT NULL, PRIMARY KEY (serial, from_seq));
  CREATE TABLE quarantine (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, received_ms BIGINT NOT NULL, topic TEXT NOT NULL, serial TEXT,
    reason TEXT NOT NULL, size BIGINT NOT NULL, excerpt TEXT NOT NULL
  );
  CREATE INDEX quarantine_by_time ON quarantine (received_ms);
  CREATE TABLE events (
    serial TEXT NOT NULL, event_id TEXT NOT NULL, received_ms BIGINT NOT NULL, kind TEXT NOT NULL, json TEXT NOT NULL,
    PRIMARY KEY (serial, event_id)
  );
  CREATE INDEX events_by_time ON events (serial, received_ms);
  CREATE INDEX events_received ON events (received_ms);
  CREATE TABLE alert_conditions (
    serial TEXT NOT NULL, condition TEXT NOT NULL, active BOOLEAN NOT NULL, since_ms BIGINT NOT NULL, cleared_ms BIGINT, alerted BOOLEAN NOT NULL,
    PRIMARY KEY (serial, condition)
  );
  CREATE TABLE alerts (
    id TEXT PRIMARY KEY, ord BIGINT GENERATED ALWAYS AS IDENTITY, serial TEXT NOT NULL, kind TEXT NOT NULL, condition TEXT NOT NULL,
    severity TEXT NOT NULL, raised_ms BIGINT NOT NULL, json TEXT NOT NULL
  );
  CREATE INDEX alerts_by_time ON alerts (raised_ms, ord);
  CREATE INDEX alerts_by_serial ON alerts (serial, raised_ms, ord);
  CREATE TABLE alert_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, alert_id TEXT NOT NULL, sink TEXT NOT NULL, status TEXT NOT NULL,
    attempts BIGINT NOT NULL, next_ms BIGINT NOT NULL, last_error TEXT, done_ms BIGINT
  );
  CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_ms);
  CREATE INDEX alert_deliveries_of ON alert_deliveries (alert_id);
  `,
  // Issue 15 item 3, as SQLite's migration 5: identity so far (hardware id), reports refused as forged, the last
  // identity a refused report claimed. No hardware id from stored reports: one could be a forger's.
  `
  ALTER TABLE cameras ADD COLUMN hardware_id TEXT;
  ALTER TABLE cameras ADD COLUMN refused BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE cameras ADD COLUMN identity_claim TEXT;
  ALTER TABLE cameras ADD COLUMN identity_claim_ms BIGINT;
  `,
];

/** The advisory lock (one bigint key space) held while migrating; ingest locks use the two-int4 key space. */
export const MIGRATION_LOCK_KEY = 0x7669_6769_6c00; // "vigil\0"

/** Applies what is missing, in one transaction under the migration lock; returns the schema version. */
export async function migratePostgres(client: pg.PoolClient | pg.Client, migrations = PG_MIGRATIONS): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    const exists = await client.query<{ t: string | null }>("SELECT to_regclass('schema_version')::text AS t");
    if (exists.rows[0].t === null) await client.query('CREATE TABLE schema_version (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)');
    const current = Number((await client.query<{ v: string | number | null }>('SELECT MAX(version) AS v FROM schema_version')).rows[0].v ?? 0);
    if (current > migrations.length) {
      throw new Error(`[vigil] [fleet] the store is at schema version ${current}, newer than this consumer knows (${migrations.length}); upgrade Vigil`);
    }
    for (let v = current + 1; v <= migrations.length; v++) {
      await client.query(migrations[v - 1]);
      await client.query('INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)', [v, new Date().toISOString()]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return migrations.length;
}
