/**
 * SQLite store (better-sqlite3 12): WAL, synchronous=NORMAL, prepared statements, migrations in
 * sqlite-migrations.ts. One file per fleet consumer (one writer); ':memory:' for tests. better-sqlite3 is
 * synchronous: each method runs to its end in one call, so a transaction never spans an await.
 */
import Database from 'better-sqlite3';
import { decideBatch, type BatchWrites, type DecideReads } from './decide';
import { migrate } from './sqlite-migrations';
import type {
  AlertChange, AlertConditionRow, AlertRow, CameraRecord, CameraState, DeliveryRow, DeliveryStatus, EventRow, FleetStore, GapRow, HistoryRow,
  IngestItem, IngestOutcome, QuarantineRow, StateRow, StoreChange,
} from './types';

export { MIGRATIONS, migrate } from './sqlite-migrations';

type Db = Database.Database;

export const WAL_AUTOCHECKPOINT_PAGES = 4000;

/**
 * A batch's reportIds are looked up this many at a time, in one statement: one `get` per report was ~3 µs of the
 * ~12 µs a report spent deciding, the batched lookup ~1 µs (measured). The last chunk repeats its last key.
 */
export const LOOKUP_CHUNK = 64;

const STATE_COLS: Array<[keyof CameraState, string]> = [
  ['serial', 'serial'], ['model', 'model'], ['hardwareId', 'hardware_id'], ['fullName', 'full_name'], ['osVersion', 'os_version'], ['connection', 'connection'],
  ['session', 'session'], ['stateAt', 'state_at'], ['stateReason', 'state_reason'], ['lastReportId', 'last_report_id'], ['lastSeq', 'last_seq'],
  ['lastSentAt', 'last_sent_at'], ['lastStartedAt', 'last_started_at'], ['lastReportMs', 'last_report_ms'], ['intervalSec', 'interval_sec'],
  ['reports', 'reports'], ['duplicates', 'duplicates'], ['gaps', 'gaps'], ['outOfOrder', 'out_of_order'], ['refused', 'refused'],
  ['identityClaim', 'identity_claim'], ['identityClaimMs', 'identity_claim_ms'], ['firstSeenMs', 'first_seen_ms'],
  ['retiredMs', 'retired_ms'], ['retiredReason', 'retired_reason'],
];
const SELECT_STATE = STATE_COLS.map(([k, c]) => (k === c ? c : `${c} AS ${k}`)).join(', ');
/** Retirement is written only by setRetired: an ingest batch never overwrites it. */
const WRITTEN = STATE_COLS.filter(([k]) => k !== 'serial' && k !== 'retiredMs' && k !== 'retiredReason');
const HISTORY_COLS = 'serial, report_id AS reportId, seq, sent_at AS sentAt, received_ms AS receivedMs, os_version AS osVersion, findings, hardening_score AS hardeningScore, integrity, support, advisories, queue_depth AS queueDepth, heap_used AS heapUsedBytes, dropped';
const DELIVERY_COLS = 'id, alert_id AS alertId, sink, status, attempts, next_ms AS nextMs, last_error AS lastError, done_ms AS doneMs';
const EVENT_COLS = 'serial, event_id AS eventId, received_ms AS receivedMs, kind, json';

export class SqliteStore implements FleetStore {
  readonly kind = 'sqlite';
  readonly db: Db;
  readonly schemaVersion: number;
  private readonly st;

  constructor(path: string) {
    try {
      this.db = new Database(path);
    } catch (err) {
      throw new Error(`[vigil] [fleet] cannot open the store ${path}: ${(err as Error).message}`);
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    // Checkpoint every 4,000 WAL pages (16 MiB) instead of SQLite's 1,000: at ~250 reports per commit the
    // default checkpointed (copy + fsync) after nearly every batch: about half of the measured commit time.
    this.db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    this.db.pragma('busy_timeout = 5000');
    this.schemaVersion = migrate(this.db);
    const db = this.db;
    const set = (cols: Array<[keyof CameraState, string]>) => cols.map(([k, c]) => `${c} = @${k}`).join(', ');
    this.st = {
      camera: db.prepare(`SELECT ${SELECT_STATE} FROM cameras WHERE serial = ?`),
      reportsStored: db.prepare(`SELECT serial, report_id FROM reports WHERE (serial, report_id) IN (VALUES ${Array(LOOKUP_CHUNK).fill('(?, ?)').join(', ')})`).raw(),
      eventStored: db.prepare('SELECT 1 FROM events WHERE serial = ? AND event_id = ?').pluck(),
      insertCamera: db.prepare(`INSERT INTO cameras (serial, ${WRITTEN.map(([, c]) => c).join(', ')}, report_json) VALUES (@serial, ${WRITTEN.map(([k]) => '@' + k).join(', ')}, @reportJson)`),
      // UPDATE in place: INSERT OR REPLACE deletes and re-inserts the row (and its ~5 KB report_json) on every report.
      updateCamera: db.prepare(`UPDATE cameras SET ${set(WRITTEN)} WHERE serial = @serial`),
      updateCameraReport: db.prepare(`UPDATE cameras SET ${set(WRITTEN)}, report_json = @reportJson WHERE serial = @serial`),
      loadCameras: db.prepare(`SELECT ${SELECT_STATE}, report_json AS reportJson FROM cameras ORDER BY serial`),
      cameraRecord: db.prepare(`SELECT ${SELECT_STATE}, report_json AS reportJson FROM cameras WHERE serial = ?`),
      setRetired: db.prepare('UPDATE cameras SET retired_ms = ?, retired_reason = ? WHERE serial = ?'),
      alertConditions: db.prepare('SELECT serial, condition, active, since_ms AS sinceMs, cleared_ms AS clearedMs, alerted FROM alert_conditions ORDER BY serial, condition'),
      alertConditionsOf: db.prepare('SELECT serial, condition, active, since_ms AS sinceMs, cleared_ms AS clearedMs, alerted FROM alert_conditions WHERE serial = ? ORDER BY condition'),
      putAlertCondition: db.prepare('INSERT OR REPLACE INTO alert_conditions VALUES (@serial, @condition, @active, @sinceMs, @clearedMs, @alerted)'),
      deleteAlertCondition: db.prepare('DELETE FROM alert_conditions WHERE serial = ? AND condition = ?'),
      insertAlert: db.prepare('INSERT INTO alerts VALUES (@id, @serial, @kind, @condition, @severity, @raisedMs, @json)'),
      insertDelivery: db.prepare("INSERT INTO alert_deliveries (alert_id, sink, status, attempts, next_ms) VALUES (?, ?, 'pending', 0, ?)"),
      alerts: db.prepare('SELECT id, serial, kind, condition, severity, raised_ms AS raisedMs, json FROM alerts ORDER BY raised_ms DESC, rowid DESC LIMIT ?'),
      alertsOf: db.prepare('SELECT id, serial, kind, condition, severity, raised_ms AS raisedMs, json FROM alerts WHERE serial = ? ORDER BY raised_ms DESC, rowid DESC LIMIT ?'),
      deliveriesOf: db.prepare(`SELECT ${DELIVERY_COLS} FROM alert_deliveries WHERE alert_id = ? ORDER BY id`),
      dueDeliveries: db.prepare(`SELECT ${DELIVERY_COLS.split(', ').map((c) => 'd.' + c).join(', ')}, a.json FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
        WHERE d.status = 'pending' AND d.next_ms <= ? ORDER BY d.next_ms, d.id LIMIT ?`),
      lease: db.prepare('UPDATE alert_deliveries SET next_ms = ? WHERE id = ?'),
      nextDelivery: db.prepare("SELECT MIN(next_ms) AS next FROM alert_deliveries WHERE status = 'pending'"),
      updateDelivery: db.prepare('UPDATE alert_deliveries SET status = @status, attempts = @attempts, next_ms = @nextMs, last_error = @lastError, done_ms = @doneMs WHERE id = @id'),
      deliveryCounts: db.prepare('SELECT status, COUNT(*) AS n FROM alert_deliveries GROUP BY status'),
      insertReport: db.prepare('INSERT INTO reports VALUES (@serial, @reportId, @seq, @sentAt, @receivedMs, @osVersion, @findings, @hardeningScore, @integrity, @support, @advisories, @queueDepth, @heapUsedBytes, @dropped)'),
      insertState: db.prepare('INSERT INTO states VALUES (@serial, @receivedMs, @state, @reason, @session, @at, @stale)'),
      insertEvent: db.prepare('INSERT INTO events VALUES (@serial, @eventId, @receivedMs, @kind, @json)'),
      gaps: db.prepare('SELECT serial, from_seq AS fromSeq, to_seq AS toSeq, detected_ms AS detectedMs FROM gaps WHERE serial = ? ORDER BY from_seq'),
      deleteGaps: db.prepare('DELETE FROM gaps WHERE serial = ?'),
      insertGap: db.prepare('INSERT INTO gaps VALUES (@serial, @fromSeq, @toSeq, @detectedMs)'),
      quarantine: db.prepare('INSERT INTO quarantine (received_ms, topic, serial, reason, size, excerpt) VALUES (@receivedMs, @topic, @serial, @reason, @size, @excerpt)'),
      quarantined: db.prepare('SELECT id, received_ms AS receivedMs, topic, serial, reason, size, excerpt FROM quarantine ORDER BY id DESC LIMIT ?'),
      history: db.prepare(`SELECT ${HISTORY_COLS} FROM (SELECT * FROM reports WHERE serial = ? ORDER BY received_ms DESC, seq DESC LIMIT ?) ORDER BY received_ms, seq`),
      states: db.prepare('SELECT serial, received_ms AS receivedMs, state, reason, session, at, stale FROM states WHERE serial = ? ORDER BY received_ms DESC, rowid DESC LIMIT ?'),
      events: db.prepare(`SELECT ${EVENT_COLS} FROM events WHERE serial = ? ORDER BY received_ms DESC LIMIT ?`),
      event: db.prepare(`SELECT ${EVENT_COLS} FROM events WHERE serial = ? AND event_id = ?`),
      // No index on received_ms alone: events are few (a change per cycle at most, pruned by retention).
      recentEvents: db.prepare(`SELECT ${EVENT_COLS} FROM events ORDER BY received_ms DESC, serial, event_id LIMIT ?`),
      prune: [
        db.prepare('DELETE FROM reports WHERE received_ms < ?'),
        db.prepare('DELETE FROM states WHERE received_ms < ?'),
        db.prepare('DELETE FROM events WHERE received_ms < ?'),
        db.prepare('DELETE FROM gaps WHERE detected_ms < ?'),
        db.prepare('DELETE FROM quarantine WHERE received_ms < ?'),
        db.prepare("DELETE FROM alert_deliveries WHERE status != 'pending' AND done_ms < ?"),
        // An alert stays while a delivery of it is pending, however old.
        db.prepare("DELETE FROM alerts WHERE raised_ms < ? AND id NOT IN (SELECT alert_id FROM alert_deliveries WHERE status = 'pending')"),
      ],
    };
  }

  /**
   * Each stored camera's state as last committed, read once: this process is the file's one writer, so a batch
   * need not read the rows back (a lookup was ~8 µs of a report's ~57 µs in the store, measured). Filled on
   * reads, replaced after each commit, emptied when a transaction fails.
   */
  private readonly committed = new Map<string, CameraState>();

  /** What decide.ts reads, but the stored reports: those are looked up per batch (storedReports). */
  private readonly reads: Omit<DecideReads, 'reportStored'> = {
    camera: (serial) => {
      const known = this.committed.get(serial);
      if (known) return known;
      const row = (this.st.camera.get(serial) as CameraState | undefined) ?? null;
      if (row) this.committed.set(serial, row);
      return row;
    },
    eventStored: (serial, eventId) => this.st.eventStored.get(serial, eventId) !== undefined,
    gaps: (serial) => this.st.gaps.all(serial) as GapRow[],
  };

  async ingest(items: IngestItem[]): Promise<IngestOutcome[]> {
    try {
      const { outcomes, writes } = this.db.transaction(() => {
        const decided = decideBatch(items, { ...this.reads, reportStored: this.storedReports(items) });
        this.write(decided.writes);
        return decided;
      })();
      // decideBatch hands back new state objects (it copies what it reads): these are what is stored now.
      for (const [serial, c] of writes.cameras) this.committed.set(serial, c.state);
      return outcomes;
    } catch (err) {
      this.committed.clear();
      throw err;
    }
  }

  /** Whether a report of the batch is stored already, from one lookup per LOOKUP_CHUNK of its reports. */
  private storedReports(items: IngestItem[]): DecideReads['reportStored'] {
    const key = (serial: string, reportId: string) => `${serial}\0${reportId}`;
    const keys: string[] = [];
    for (const i of items) if (i.kind === 'report') keys.push(i.serial, i.history.reportId);
    const found = new Set<string>();
    for (let at = 0; at < keys.length; at += 2 * LOOKUP_CHUNK) {
      const chunk = keys.slice(at, at + 2 * LOOKUP_CHUNK);
      while (chunk.length < 2 * LOOKUP_CHUNK) chunk.push(chunk[chunk.length - 2], chunk[chunk.length - 1]);
      for (const [serial, reportId] of this.st.reportsStored.all(chunk) as Array<[string, string]>) found.add(key(serial, reportId));
    }
    return (serial, reportId) => found.has(key(serial, reportId));
  }

  private write(w: BatchWrites): void {
    const st = this.st;
    for (const h of w.reports) st.insertReport.run(h);
    for (const s of w.states) st.insertState.run({ ...s, stale: s.stale ? 1 : 0 });
    for (const e of w.events) st.insertEvent.run(e);
    for (const q of w.quarantine) st.quarantine.run({ ...q, serial: q.serial ?? null });
    for (const [serial, gaps] of w.gaps) {
      st.deleteGaps.run(serial);
      for (const g of gaps) st.insertGap.run(g);
    }
    for (const c of w.cameras.values()) {
      const row = { ...c.state, reportJson: c.reportJson ?? null };
      if (c.isNew) st.insertCamera.run(row);
      else (c.reportJson === undefined ? st.updateCamera : st.updateCameraReport).run(row);
    }
  }

  async loadCameras(): Promise<CameraRecord[]> {
    return this.st.loadCameras.all() as CameraRecord[];
  }

  async camerasOf(serials: string[]): Promise<CameraRecord[]> {
    return serials.map((s) => this.st.cameraRecord.get(s) as CameraRecord | undefined).filter((c): c is CameraRecord => c !== undefined);
  }

  async setRetired(serial: string, retiredMs: number | null, reason: string | null): Promise<boolean> {
    this.committed.delete(serial);
    return this.st.setRetired.run(retiredMs, retiredMs === null ? null : reason, serial).changes === 1;
  }

  async quarantine(q: QuarantineRow): Promise<void> {
    this.st.quarantine.run({ ...q, serial: q.serial ?? null });
  }

  async quarantined(limit: number): Promise<QuarantineRow[]> {
    return this.st.quarantined.all(limit) as QuarantineRow[];
  }

  async history(serial: string, limit: number): Promise<HistoryRow[]> {
    return this.st.history.all(serial, limit) as HistoryRow[];
  }

  async states(serial: string, limit: number): Promise<StateRow[]> {
    return (this.st.states.all(serial, limit) as Array<Omit<StateRow, 'stale'> & { stale: number }>).map((s) => ({ ...s, stale: s.stale === 1 }));
  }

  async gaps(serial: string): Promise<GapRow[]> {
    return this.st.gaps.all(serial) as GapRow[];
  }

  async events(serial: string, limit: number): Promise<EventRow[]> {
    return this.st.events.all(serial, limit) as EventRow[];
  }

  async event(serial: string, eventId: string): Promise<EventRow | null> {
    return (this.st.event.get(serial, eventId) as EventRow | undefined) ?? null;
  }

  async recentEvents(limit: number): Promise<EventRow[]> {
    return this.st.recentEvents.all(limit) as EventRow[];
  }

  async alertConditions(): Promise<AlertConditionRow[]> {
    return conditionRows(this.st.alertConditions.all());
  }

  async updateAlerts(serial: string, decide: (stored: AlertConditionRow[]) => AlertChange | null, sinks: string[], nowMs: number): Promise<AlertChange | null> {
    const st = this.st;
    return this.db.transaction(() => {
      const change = decide(conditionRows(st.alertConditionsOf.all(serial)));
      if (!change) return null;
      for (const p of change.puts) st.putAlertCondition.run({ ...p, active: p.active ? 1 : 0, alerted: p.alerted ? 1 : 0 });
      for (const k of change.deletes) st.deleteAlertCondition.run(serial, k);
      for (const a of change.alerts) {
        st.insertAlert.run(a);
        for (const sink of sinks) st.insertDelivery.run(a.id, sink, nowMs);
      }
      return change;
    })();
  }

  async alerts(limit: number, serial?: string): Promise<AlertRow[]> {
    return (serial === undefined ? this.st.alerts.all(limit) : this.st.alertsOf.all(serial, limit)) as AlertRow[];
  }

  async deliveriesOf(alertId: string): Promise<DeliveryRow[]> {
    return this.st.deliveriesOf.all(alertId) as DeliveryRow[];
  }

  async claimDeliveries(nowMs: number, limit: number, leaseMs: number): Promise<Array<DeliveryRow & { json: string }>> {
    return this.db.transaction(() => {
      const due = this.st.dueDeliveries.all(nowMs, limit) as Array<DeliveryRow & { json: string }>;
      for (const d of due) this.st.lease.run(nowMs + leaseMs, d.id);
      return due;
    })();
  }

  async nextDeliveryMs(): Promise<number | null> {
    return (this.st.nextDelivery.get() as { next: number | null }).next;
  }

  async updateDelivery(d: Pick<DeliveryRow, 'id' | 'status' | 'attempts' | 'nextMs' | 'lastError' | 'doneMs'>): Promise<void> {
    this.st.updateDelivery.run(d);
  }

  async deliveryCounts(): Promise<Record<DeliveryStatus, number>> {
    const counts: Record<DeliveryStatus, number> = { pending: 0, delivered: 0, failed: 0 };
    for (const r of this.st.deliveryCounts.all() as Array<{ status: DeliveryStatus; n: number }>) counts[r.status] = r.n;
    return counts;
  }

  async prune(cutoffMs: number): Promise<number> {
    return this.db.transaction(() => this.st.prune.reduce((n, s) => n + s.run(cutoffMs).changes, 0))();
  }

  /** One writer: nothing changes behind this process's back. */
  async watch(_listener: (change: StoreChange) => void): Promise<void> {}

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function conditionRows(rows: unknown[]): AlertConditionRow[] {
  return (rows as Array<Omit<AlertConditionRow, 'active' | 'alerted'> & { active: number; alerted: number }>).map((c) => ({
    ...c, active: c.active === 1, alerted: c.alerted === 1,
  }));
}
