/**
 * The SQLite store's schema: numbered migrations recorded in a schema_version table. Never edit one that
 * shipped; append a new one.
 */
import type Database from 'better-sqlite3';

type Db = Database.Database;

/** Migrations in order. */
export const MIGRATIONS: Array<(db: Db) => void> = [
  (db) =>
    db.exec(`
      CREATE TABLE cameras (
        serial TEXT PRIMARY KEY, model TEXT, full_name TEXT, os_version TEXT,
        connection TEXT NOT NULL, session INTEGER, state_at TEXT, state_reason TEXT,
        last_report_id TEXT, last_seq INTEGER, last_sent_at TEXT, last_report_ms INTEGER, interval_sec INTEGER,
        reports INTEGER NOT NULL, duplicates INTEGER NOT NULL, gaps INTEGER NOT NULL, out_of_order INTEGER NOT NULL,
        first_seen_ms INTEGER NOT NULL, report_json TEXT, evaluation_json TEXT
      );
      CREATE TABLE reports (
        serial TEXT NOT NULL, report_id TEXT NOT NULL, seq INTEGER NOT NULL, sent_at TEXT NOT NULL, received_ms INTEGER NOT NULL,
        os_version TEXT NOT NULL, findings INTEGER NOT NULL, hardening_score INTEGER, integrity TEXT NOT NULL, support TEXT NOT NULL,
        advisories INTEGER NOT NULL, queue_depth INTEGER NOT NULL, heap_used INTEGER NOT NULL, dropped INTEGER NOT NULL,
        PRIMARY KEY (serial, report_id)
      ) WITHOUT ROWID;
      CREATE INDEX reports_by_time ON reports (serial, received_ms);
      CREATE INDEX reports_received ON reports (received_ms);
      CREATE TABLE states (serial TEXT NOT NULL, received_ms INTEGER NOT NULL, state TEXT NOT NULL, reason TEXT, session INTEGER NOT NULL, at TEXT NOT NULL, stale INTEGER NOT NULL);
      CREATE INDEX states_by_time ON states (serial, received_ms);
      CREATE TABLE gaps (serial TEXT NOT NULL, from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL, detected_ms INTEGER NOT NULL, PRIMARY KEY (serial, from_seq));
      CREATE TABLE quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, received_ms INTEGER NOT NULL, topic TEXT NOT NULL, serial TEXT, reason TEXT NOT NULL, size INTEGER NOT NULL, excerpt TEXT NOT NULL);
      CREATE INDEX quarantine_by_time ON quarantine (received_ms);
    `),
  (db) =>
    db.exec(`
      CREATE TABLE events (serial TEXT NOT NULL, event_id TEXT NOT NULL, received_ms INTEGER NOT NULL, kind TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (serial, event_id)) WITHOUT ROWID;
      CREATE INDEX events_by_time ON events (serial, received_ms);
    `),
  // Issue 12: decommission, alert conditions, alerts, and the durable delivery outbox.
  (db) =>
    db.exec(`
      ALTER TABLE cameras ADD COLUMN retired_ms INTEGER;
      ALTER TABLE cameras ADD COLUMN retired_reason TEXT;
      CREATE TABLE alert_conditions (
        serial TEXT NOT NULL, condition TEXT NOT NULL, active INTEGER NOT NULL, since_ms INTEGER NOT NULL, cleared_ms INTEGER, alerted INTEGER NOT NULL,
        PRIMARY KEY (serial, condition)
      ) WITHOUT ROWID;
      CREATE TABLE alerts (id TEXT PRIMARY KEY, serial TEXT NOT NULL, kind TEXT NOT NULL, condition TEXT NOT NULL, severity TEXT NOT NULL, raised_ms INTEGER NOT NULL, json TEXT NOT NULL);
      CREATE INDEX alerts_by_time ON alerts (raised_ms);
      CREATE INDEX alerts_by_serial ON alerts (serial, raised_ms);
      CREATE TABLE alert_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, sink TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
        next_ms INTEGER NOT NULL, last_error TEXT, done_ms INTEGER
      );
      CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_ms);
      CREATE INDEX alert_deliveries_of ON alert_deliveries (alert_id);
    `),
  // Issue 14: the newest report's agent start (seq reset decisions read it instead of parsing report_json); the
  // evaluation is no longer stored (the view evaluates again on load: the tables may have changed since).
  (db) =>
    db.exec(`
      ALTER TABLE cameras ADD COLUMN last_started_at TEXT;
      UPDATE cameras SET last_started_at = json_extract(report_json, '$.health.startedAt'), evaluation_json = NULL WHERE report_json IS NOT NULL AND json_valid(report_json);
    `),
  // Issue 15 item 3: the identity so far (model was there; hardware id), reports refused as forged, and the last
  // identity a refused report claimed. The hardware id is learnt from the next report: one from a stored report
  // could be a forger's (a report from the future is not trusted for identity either, store/forgery.ts).
  (db) =>
    db.exec(`
      ALTER TABLE cameras ADD COLUMN hardware_id TEXT;
      ALTER TABLE cameras ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE cameras ADD COLUMN identity_claim TEXT;
      ALTER TABLE cameras ADD COLUMN identity_claim_ms INTEGER;
    `),
  // The camera row rebuilt with report_json last, and evaluation_json (empty since version 4) gone. A ~5 KB
  // report spills into overflow pages, and SQLite reads a column after it through them: the columns added
  // by ALTER TABLE (retired_*, last_started_at, hardware_id, refused, identity_*) made every camera lookup of
  // an ingest batch walk its report (11 µs of ~57 µs of store time per report, measured).
  (db) =>
    db.exec(`
      CREATE TABLE cameras_v6 (
        serial TEXT PRIMARY KEY, model TEXT, hardware_id TEXT, full_name TEXT, os_version TEXT,
        connection TEXT NOT NULL, session INTEGER, state_at TEXT, state_reason TEXT,
        last_report_id TEXT, last_seq INTEGER, last_sent_at TEXT, last_started_at TEXT, last_report_ms INTEGER, interval_sec INTEGER,
        reports INTEGER NOT NULL, duplicates INTEGER NOT NULL, gaps INTEGER NOT NULL, out_of_order INTEGER NOT NULL, refused INTEGER NOT NULL DEFAULT 0,
        identity_claim TEXT, identity_claim_ms INTEGER, first_seen_ms INTEGER NOT NULL, retired_ms INTEGER, retired_reason TEXT,
        report_json TEXT
      );
      INSERT INTO cameras_v6 SELECT
        serial, model, hardware_id, full_name, os_version, connection, session, state_at, state_reason,
        last_report_id, last_seq, last_sent_at, last_started_at, last_report_ms, interval_sec,
        reports, duplicates, gaps, out_of_order, refused, identity_claim, identity_claim_ms, first_seen_ms, retired_ms, retired_reason,
        report_json
      FROM cameras;
      DROP TABLE cameras;
      ALTER TABLE cameras_v6 RENAME TO cameras;
    `),
];

export function migrate(db: Db, migrations = MIGRATIONS): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)');
  const current = (db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
  if (current > migrations.length) {
    throw new Error(`[vigil] [fleet] the store is at schema version ${current}, newer than this consumer knows (${migrations.length}); upgrade Vigil`);
  }
  for (let v = current + 1; v <= migrations.length; v++) {
    db.transaction(() => {
      migrations[v - 1](db);
      db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(v, new Date().toISOString());
    })();
  }
  return migrations.length;
}

