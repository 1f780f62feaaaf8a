// The SQLite store: migrations recorded in schema_version (an older file is migrated and keeps working), WAL and
// its pragmas, a batch in one transaction, duplicate detection, retention, a camera updated in place, a reopen.
// What every store must do alike is the contract suite's (store-contract.ts); this file is SQLite's own.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FleetConsumer } from '../src/consumer';
import { loadTables } from '../src/data';
import { MIGRATIONS, migrate, SqliteStore } from '../src/store/sqlite';
import type { EventItem, HistoryRow, QuarantineRow, ReportItem, StateItem } from '../src/store/types';
import { makeReport, T0 } from './fixtures';
import { failNextIngest } from './sqlite-failure';

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
  return { serial, reportId, seq, sentAt: new Date(receivedMs).toISOString(), receivedMs, osVersion: '12.10.36', findings: 0, hardeningScore: 100, integrity: 'ok', support: 'supported', advisories: 0, queueDepth: 0, heapUsedBytes: 1, dropped: 0 };
}
/** The items here count ms from the epoch: the agent started at 0 (a later start would be from the future, store/forgery.ts). */
const STARTED = new Date(0).toISOString();
function reportItem(serial: string, reportId: string, receivedMs: number, seq = 1, over: Partial<ReportItem> = {}): ReportItem {
  return { kind: 'report', serial, nowMs: receivedMs, history: row(serial, reportId, receivedMs, seq), startedAt: STARTED, model: 'M3086-V', hardwareId: null, fullName: null, intervalSec: 60, text: `{"id":"${reportId}"}`, ...over };
}
function stateItem(serial: string, nowMs: number, state: StateItem['state'], reason: string, session: number): StateItem {
  return { kind: 'state', serial, nowMs, state, reason, session, at: new Date(nowMs).toISOString() };
}
const eventItem = (serial: string, eventId: string, nowMs: number): EventItem => ({ kind: 'event', serial, nowMs, eventId, eventKind: 'integrity-drift', json: '{}' });
const quarantineRow = (receivedMs: number): QuarantineRow => ({ receivedMs, topic: 't', serial: null, reason: 'not-json', size: 1, excerpt: '{' });

/** A camera row as schema version 3 kept it (before last_started_at; with an evaluation_json). */
function insertV3Camera(db: Database.Database, serial: string, reportJson: string | null, lastSeq: number | null): void {
  db.prepare(`INSERT INTO cameras (serial, model, full_name, os_version, connection, session, state_at, state_reason, last_report_id, last_seq, last_sent_at,
      last_report_ms, interval_sec, reports, duplicates, gaps, out_of_order, first_seen_ms, report_json, evaluation_json, retired_ms, retired_reason)
    VALUES (@serial, 'M3086-V', NULL, '12.11.77', 'online', 1, NULL, 'connected', @lastReportId, @lastSeq, @lastSentAt, @lastReportMs, 60, @reports, 0, 0, 0, @t0, @reportJson, '{"support":"supported"}', NULL, NULL)`)
    .run({
      serial, reportJson, lastSeq, t0: T0, reports: lastSeq === null ? 0 : 1,
      lastReportId: lastSeq === null ? null : `${serial}-r${String(lastSeq).padStart(6, '0')}`,
      lastSentAt: lastSeq === null ? null : new Date(T0 + lastSeq * 60_000).toISOString(),
      lastReportMs: lastSeq === null ? null : T0 + lastSeq * 60_000,
    });
}

describe('SqliteStore: schema and migrations', () => {
  it('creates a new store at the newest schema version, in WAL mode', async () => {
    const file = dbFile();
    const store = new SqliteStore(file);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    const versions = store.db.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all();
    expect(versions).toEqual(MIGRATIONS.map((_, i) => i + 1));
    await store.close();
  });

  it('checkpoints its WAL every 4,000 pages, not after every group commit', async () => {
    const store = new SqliteStore(dbFile());
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(4000);
    await store.close();
  });

  it('syncs at NORMAL (WAL keeps it durable across a crash) and waits up to 5 s for a lock', async () => {
    const store = new SqliteStore(dbFile());
    expect([store.db.pragma('synchronous', { simple: true }), store.db.pragma('busy_timeout', { simple: true })]).toEqual([1, 5000]);
    await store.close();
  });

  it('reopens a store without applying its migrations again', async () => {
    const file = dbFile();
    await new SqliteStore(file).close();
    const store = new SqliteStore(file);
    expect(store.db.prepare('SELECT COUNT(*) FROM schema_version').pluck().get()).toBe(MIGRATIONS.length);
    await store.close();
  });

  it('migrates a store from version 1 and keeps its data', async () => {
    const file = dbFile();
    const db = new Database(file);
    migrate(db, MIGRATIONS.slice(0, 1));
    db.prepare("INSERT INTO reports VALUES ('CAM1', 'r-000001', 1, '2026-11-25T00:00:00Z', 1, '12.11.77', 0, 100, 'ok', 'supported', 0, 0, 1, 0)").run();
    db.close();
    const store = new SqliteStore(file);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    expect((await store.history('CAM1', 10)).map((h) => h.reportId)).toEqual(['r-000001']);
    expect(await store.ingest([eventItem('CAM1', 'e-000001', 1)])).toEqual([{ kind: 'event', result: 'stored' }]);
    expect(await store.ingest([reportItem('CAM1', 'r-000001', 2)])).toMatchObject([{ kind: 'report', result: 'duplicate' }]);
    await store.close();
  });

  it("migrates a version-3 store to the newest: each camera's last_started_at from its report, evaluation_json dropped", async () => {
    const file = dbFile();
    const db = new Database(file);
    migrate(db, MIGRATIONS.slice(0, 3));
    insertV3Camera(db, 'CAM1', JSON.stringify(makeReport({ serial: 'CAM1', seq: 40, startedAt: '2026-11-20T08:00:00.000Z' })), 40);
    insertV3Camera(db, 'CAMSTATEONLY', null, null);
    insertV3Camera(db, 'CAMBADJSON', 'not json', 3);
    db.close();
    const store = new SqliteStore(file);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    const cams = await store.loadCameras();
    expect(cams.map((c) => [c.serial, c.lastStartedAt, c.lastSeq])).toEqual([['CAM1', '2026-11-20T08:00:00.000Z', 40], ['CAMBADJSON', null, 3], ['CAMSTATEONLY', null, null]]);
    expect(store.db.prepare("SELECT name FROM pragma_table_info('cameras')").pluck().all()).not.toContain('evaluation_json');
    await store.close();
  });

  it('migrates a version-4 store: no hardware id known yet, nothing refused, learnt from the next report', async () => {
    const file = dbFile();
    const db = new Database(file);
    migrate(db, MIGRATIONS.slice(0, 4));
    insertV3Camera(db, 'CAM1', JSON.stringify(makeReport({ serial: 'CAM1', seq: 40 })), 40);
    db.close();
    const store = new SqliteStore(file);
    expect((await store.loadCameras()).map((c) => [c.model, c.hardwareId, c.refused, c.identityClaim, c.lastSeq])).toEqual([['M3086-V', null, 0, null, 40]]);
    await store.ingest([reportItem('CAM1', 'r-000041', T0 + 41 * 60_000, 41, { hardwareId: '9A1' })]);
    expect((await store.loadCameras()).map((c) => [c.hardwareId, c.lastSeq])).toEqual([['9A1', 41]]);
    await store.close();
  });

  it('migrates a version-5 store: report_json becomes the last column of the camera row, every value kept', async () => {
    const file = dbFile();
    const db = new Database(file);
    migrate(db, MIGRATIONS.slice(0, 5));
    const report = JSON.stringify(makeReport({ serial: 'CAM1', seq: 40 }));
    insertV3Camera(db, 'CAM1', report, 40);
    db.prepare("UPDATE cameras SET hardware_id = '9A1', refused = 2, identity_claim = 'M9999', identity_claim_ms = 5, retired_ms = 7, retired_reason = 'lens' WHERE serial = 'CAM1'").run();
    const before = db.prepare("SELECT * FROM cameras WHERE serial = 'CAM1'").get() as Record<string, unknown>;
    db.close();
    const store = new SqliteStore(file);
    const cols = store.db.prepare("SELECT name FROM pragma_table_info('cameras')").pluck().all() as string[];
    expect(cols[cols.length - 1]).toBe('report_json');
    const after = store.db.prepare("SELECT * FROM cameras WHERE serial = 'CAM1'").get() as Record<string, unknown>;
    const { evaluation_json: _dropped, ...kept } = before;
    expect(after).toEqual(kept);
    expect((await store.loadCameras()).map((c) => [c.hardwareId, c.refused, c.retiredReason, c.reportJson === report])).toEqual([['9A1', 2, 'lens', true]]);
    await store.close();
  });

  it('follows a seq reset against a camera migrated from version 3 (its agent start read from the old report)', async () => {
    const file = dbFile();
    const db = new Database(file);
    migrate(db, MIGRATIONS.slice(0, 3));
    insertV3Camera(db, 'CAM1', JSON.stringify(makeReport({ serial: 'CAM1', seq: 40 })), 40);
    db.close();
    const store = new SqliteStore(file);
    const consumer = new FleetConsumer({ brokerUrl: 'mqtt://127.0.0.1:1', store, tables: loadTables(), sweepMs: 0, now: () => T0 + 4_000_000 });
    try {
      // The fixture's agent started at 2026-11-25T00:00Z; this one an hour after T0, and it sends after our newest report.
      const fresh = makeReport({ serial: 'CAM1', seq: 1, sentAt: new Date(T0 + 3_600_000).toISOString(), startedAt: new Date(T0 + 3_500_000).toISOString() });
      expect(await consumer.ingest('vigil/v1/CAM1/report', JSON.stringify(fresh))).toEqual({ result: 'stored', gap: null, outOfOrder: false });
      expect([consumer.camera('CAM1')?.lastSeq, consumer.camera('CAM1')?.outOfOrder, consumer.camera('CAM1')?.reports, consumer.counters.outOfOrder]).toEqual([1, 0, 2, 0]);
      expect((await store.loadCameras()).map((c) => [c.lastSeq, c.lastStartedAt])).toEqual([[1, new Date(T0 + 3_500_000).toISOString()]]);
    } finally {
      await store.close();
    }
  });

  it('refuses a store written by a newer version of Vigil', async () => {
    const file = dbFile();
    const store = new SqliteStore(file);
    store.db.prepare("INSERT INTO schema_version VALUES (99, 'later')").run();
    await store.close();
    expect(() => new SqliteStore(file)).toThrow(/\[vigil\] \[fleet\] the store is at schema version 99, newer than this consumer knows/);
  });

  it('says why it cannot open a store in a missing directory', () => {
    expect(() => new SqliteStore('/nonexistent-dir/vigil/fleet.db')).toThrow(/\[vigil\] \[fleet\] cannot open the store \/nonexistent-dir/);
  });
});

describe('SqliteStore: writes', () => {
  it('stores a report id once per camera', async () => {
    const store = new SqliteStore(':memory:');
    await store.ingest([reportItem('CAM1', 'r-000001', 1)]);
    const outcomes = await store.ingest([reportItem('CAM1', 'r-000001', 2), reportItem('CAM2', 'r-000001', 2)]);
    expect(outcomes.map((o) => o.kind === 'report' && o.result)).toEqual(['duplicate', 'stored']);
    expect([(await store.history('CAM1', 10)).map((h) => h.receivedMs), (await store.history('CAM2', 10)).length]).toEqual([[1], 1]);
    await store.close();
  });

  it('rolls back the whole batch when a write inside its transaction fails', async () => {
    const store = new SqliteStore(':memory:');
    failNextIngest(store, { table: 'cameras', when: "NEW.serial = 'CAM2'", message: 'disk I/O error' });
    const batch = [reportItem('CAM1', 'r-000001', 1), stateItem('CAM1', 1, 'online', 'connected', 1), eventItem('CAM1', 'e-1', 1), { kind: 'quarantine' as const, row: quarantineRow(1) }, reportItem('CAM2', 'r-000001', 1)];
    await expect(store.ingest(batch)).rejects.toThrow('disk I/O error');
    expect([await store.loadCameras(), await store.history('CAM1', 10), await store.states('CAM1', 10), await store.events('CAM1', 10), await store.quarantined(10)]).toEqual([[], [], [], [], []]);
    expect((await store.ingest(batch)).map((o) => o.result)).toEqual(['stored', 'stored', 'stored', 'quarantined', 'stored']);
    await store.close();
  });

  it('prunes history, states, events, gaps and quarantine older than the cutoff and keeps the rest', async () => {
    const store = new SqliteStore(':memory:');
    await store.ingest([
      reportItem('CAM1', 'r-old', 1_000, 1), reportItem('CAM1', 'r-gap', 1_000, 4), stateItem('CAM1', 1_000, 'online', 'connected', 1),
      eventItem('CAM1', 'ev-old', 1_000), { kind: 'quarantine', row: quarantineRow(1_000) },
    ]);
    await store.ingest([reportItem('CAM1', 'r-new', 5_000, 5), eventItem('CAM1', 'ev-new', 5_000)]);
    await store.quarantine(quarantineRow(6_000));
    expect((await store.gaps('CAM1')).map((g) => [g.fromSeq, g.toSeq, g.detectedMs])).toEqual([[2, 3, 1_000]]);
    // 2 reports, 1 state, 1 event, 1 gap, 1 quarantined message.
    expect(await store.prune(2_000)).toBe(6);
    expect((await store.history('CAM1', 10)).map((h) => h.reportId)).toEqual(['r-new']);
    expect([await store.states('CAM1', 10), await store.gaps('CAM1'), (await store.events('CAM1', 10)).map((e) => e.eventId)]).toEqual([[], [], ['ev-new']]);
    expect(await store.quarantined(10)).toHaveLength(1);
    await store.close();
  });

  it('keeps the latest camera record across a reopen', async () => {
    const file = dbFile();
    const store = new SqliteStore(file);
    await store.ingest([stateItem('CAM1', 1, 'online', 'connected', 3), reportItem('CAM1', 'r-000007', 7, 7)]);
    await store.close();
    const again = new SqliteStore(file);
    expect((await again.loadCameras()).map((c) => [c.serial, c.connection, c.session, c.lastSeq, c.lastStartedAt, c.reportJson])).toEqual([
      ['CAM1', 'online', 3, 7, STARTED, '{"id":"r-000007"}'],
    ]);
    await again.close();
  });

  it('updates a known camera in place, every column, keeping one row and its rowid and its retirement', async () => {
    const store = new SqliteStore(':memory:');
    await store.ingest([stateItem('CAM1', 1, 'online', 'connected', 3), reportItem('CAM1', 'r-000007', 7, 7)]);
    // A second camera after it: a delete-and-insert would give CAM1 a new rowid.
    await store.ingest([reportItem('CAM2', 'r-000007', 7, 7)]);
    expect(await store.setRetired('CAM1', 5, 'replaced')).toBe(true);
    const rowid = () => (store.db.prepare('SELECT rowid FROM cameras WHERE serial = ?').get('CAM1') as { rowid: number }).rowid;
    const before = rowid();
    // The same model (another would be refused as forged: identity); a hardware id learnt where none was known.
    const newer = { hardwareId: '9A1', fullName: 'AXIS M3086-V', intervalSec: 30, startedAt: new Date(5).toISOString() };
    const upgraded = (reportId: string, ms: number, seq: number) => reportItem('CAM1', reportId, ms, seq, { ...newer, history: { ...row('CAM1', reportId, ms, seq), osVersion: '12.11.77' } });
    await store.ingest([
      stateItem('CAM1', 8, 'offline', 'lost', 4), upgraded('r-000008', 8, 8), upgraded('r-000010', 10, 10), reportItem('CAM1', 'r-000008', 11, 8), reportItem('CAM1', 'r-000009', 12, 9),
    ]);
    expect([(await store.loadCameras()).filter((c) => c.serial === 'CAM1'), (await store.loadCameras()).length, rowid()]).toEqual([[{
      serial: 'CAM1', model: 'M3086-V', hardwareId: '9A1', fullName: 'AXIS M3086-V', osVersion: '12.11.77', connection: 'lost', session: 4, stateAt: new Date(8).toISOString(),
      stateReason: 'lost', lastReportId: 'r-000010', lastSeq: 10, lastSentAt: new Date(10).toISOString(), lastStartedAt: new Date(5).toISOString(), lastReportMs: 10,
      intervalSec: 30, reports: 4, duplicates: 1, gaps: 0, outOfOrder: 1, refused: 0, identityClaim: null, identityClaimMs: null, firstSeenMs: 1, retiredMs: 5, retiredReason: 'replaced', reportJson: '{"id":"r-000010"}',
    }], 2, before]);
    await store.close();
  });
});
