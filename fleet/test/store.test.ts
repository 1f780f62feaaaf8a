// The SQLite store: migrations recorded in schema_version, WAL, duplicate detection, retention.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate, SqliteStore } from '../src/store/sqlite';
import type { HistoryRow } from '../src/store/types';

const dirs: string[] = [];
function dbFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fleet-store-'));
  dirs.push(dir);
  return join(dir, 'fleet.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function row(serial: string, reportId: string, receivedMs: number, seq = 1): HistoryRow {
  return { serial, reportId, seq, sentAt: new Date(receivedMs).toISOString(), receivedMs, osVersion: '12.11.77', findings: 0, hardeningScore: 100, integrity: 'ok', support: 'supported', advisories: 0, queueDepth: 0, heapUsedBytes: 1, dropped: 0 };
}

describe('SqliteStore', () => {
  it('creates a new store at the newest schema version, in WAL mode', () => {
    const file = dbFile();
    const store = new SqliteStore(file);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    const versions = store.db.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all();
    expect(versions).toEqual(MIGRATIONS.map((_, i) => i + 1));
    store.close();
  });

  it('checkpoints its WAL every 4,000 pages, not after every group commit', () => {
    const store = new SqliteStore(dbFile());
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(4000);
    store.close();
  });

  it('reopens a store without applying its migrations again', () => {
    const file = dbFile();
    new SqliteStore(file).close();
    const store = new SqliteStore(file);
    expect(store.db.prepare('SELECT COUNT(*) FROM schema_version').pluck().get()).toBe(MIGRATIONS.length);
    store.close();
  });

  it('migrates a store from version 1 and keeps its data', () => {
    const file = dbFile();
    const db = new Database(file);
    migrate(db, MIGRATIONS.slice(0, 1));
    db.prepare("INSERT INTO reports VALUES ('CAM1', 'r-000001', 1, '2026-11-25T00:00:00Z', 1, '12.11.77', 0, 100, 'ok', 'supported', 0, 0, 1, 0)").run();
    db.close();
    const store = new SqliteStore(file);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    expect(store.history('CAM1', 10).map((h) => h.reportId)).toEqual(['r-000001']);
    expect(store.insertEvent({ serial: 'CAM1', receivedMs: 1, kind: 'integrity-drift', json: '{}', eventId: 'e-000001' })).toBe(true);
    store.close();
  });

  it('refuses a store written by a newer version of Vigil', () => {
    const file = dbFile();
    const store = new SqliteStore(file);
    store.db.prepare("INSERT INTO schema_version VALUES (99, 'later')").run();
    store.close();
    expect(() => new SqliteStore(file)).toThrow(/\[vigil\] \[fleet\] the store is at schema version 99, newer than this consumer knows/);
  });

  it('says why it cannot open a store in a missing directory', () => {
    expect(() => new SqliteStore('/nonexistent-dir/vigil/fleet.db')).toThrow(/\[vigil\] \[fleet\] cannot open the store \/nonexistent-dir/);
  });

  it('stores a report id once per camera', () => {
    const store = new SqliteStore(':memory:');
    expect(store.insertReport(row('CAM1', 'r-000001', 1))).toBe(true);
    expect(store.insertReport(row('CAM1', 'r-000001', 2))).toBe(false);
    expect(store.insertReport(row('CAM2', 'r-000001', 2))).toBe(true);
    store.close();
  });

  it('prunes history, states, gaps and quarantine older than the cutoff and keeps the rest', () => {
    const store = new SqliteStore(':memory:');
    store.transaction(() => {
      store.insertReport(row('CAM1', 'r-old', 1_000));
      store.insertReport(row('CAM1', 'r-new', 5_000, 2));
      store.insertState({ serial: 'CAM1', receivedMs: 1_000, state: 'online', reason: 'connected', session: 1, at: 'x', stale: false });
      store.insertGap({ serial: 'CAM1', fromSeq: 3, toSeq: 4, detectedMs: 1_000 });
      store.quarantine({ receivedMs: 1_000, topic: 't', serial: null, reason: 'not-json', size: 1, excerpt: '{' });
      store.quarantine({ receivedMs: 6_000, topic: 't', serial: null, reason: 'not-json', size: 1, excerpt: '{' });
    });
    expect(store.prune(2_000)).toBe(4);
    expect(store.history('CAM1', 10).map((h) => h.reportId)).toEqual(['r-new']);
    expect(store.states('CAM1', 10)).toEqual([]);
    expect(store.gaps('CAM1')).toEqual([]);
    expect(store.quarantined(10)).toHaveLength(1);
    store.close();
  });

  it('keeps the latest camera record across a reopen', () => {
    const file = dbFile();
    const store = new SqliteStore(file);
    store.upsertCamera({ serial: 'CAM1', model: 'M3086-V', fullName: null, osVersion: '12.11.77', connection: 'online', session: 3, stateAt: null, stateReason: 'connected', lastReportId: 'r-000007', lastSeq: 7, lastSentAt: null, lastReportMs: 7, intervalSec: 60, reports: 7, duplicates: 0, gaps: 0, outOfOrder: 0, firstSeenMs: 1, reportJson: null, evaluationJson: null });
    store.close();
    const again = new SqliteStore(file);
    expect(again.loadCameras().map((c) => [c.serial, c.connection, c.session, c.lastSeq])).toEqual([['CAM1', 'online', 3, 7]]);
    again.close();
  });

  it('updates a known camera in place, every column, keeping one row and its rowid', () => {
    const store = new SqliteStore(':memory:');
    const cam = { serial: 'CAM1', model: 'M3086-V', fullName: null, osVersion: '12.10.36', connection: 'online' as const, session: 3, stateAt: null, stateReason: 'connected', lastReportId: 'r-000007', lastSeq: 7, lastSentAt: null, lastReportMs: 7, intervalSec: 60, reports: 7, duplicates: 0, gaps: 0, outOfOrder: 0, firstSeenMs: 1, reportJson: '{"a":1}', evaluationJson: '{"e":1}' };
    store.upsertCamera(cam);
    // A second camera after it: a delete-and-insert would give CAM1 a new rowid.
    store.upsertCamera({ ...cam, serial: 'CAM2' });
    const rowid = () => (store.db.prepare('SELECT rowid FROM cameras WHERE serial = ?').get('CAM1') as { rowid: number }).rowid;
    const before = rowid();
    const next = { ...cam, model: 'P3265-V', fullName: 'AXIS P3265-V', osVersion: '12.11.77', connection: 'lost' as const, session: 4, stateAt: 'x', stateReason: null, lastReportId: 'r-000008', lastSeq: 8, lastSentAt: 's', lastReportMs: 8, intervalSec: 30, reports: 8, duplicates: 1, gaps: 2, outOfOrder: 3, firstSeenMs: 1, reportJson: '{"a":2}', evaluationJson: '{"e":2}' };
    store.upsertCamera(next);
    expect([store.loadCameras().filter((c) => c.serial === 'CAM1'), store.loadCameras().length, rowid()]).toEqual([[{ ...next, retiredMs: null, retiredReason: null }], 2, before]);
    store.close();
  });
});
