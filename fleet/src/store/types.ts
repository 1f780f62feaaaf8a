/**
 * The fleet store: latest state per camera, history with retention, quarantine. A small interface so a
 * server database can follow SQLite; the consumer decides (duplicates, gaps, ordering) and the store writes.
 * Writes are synchronous inside `transaction` (better-sqlite3); a server implementation would queue them.
 */
export type Connection = 'online' | 'offline' | 'lost' | 'unknown';

export interface CameraRecord {
  serial: string;
  model: string | null;
  fullName: string | null;
  osVersion: string | null;
  connection: Connection;
  session: number | null;
  stateAt: string | null;
  stateReason: string | null;
  lastReportId: string | null;
  lastSeq: number | null;
  lastSentAt: string | null;
  /** When the newest report counts as received (ms): receipt time, or sentAt for a retained replay. */
  lastReportMs: number | null;
  intervalSec: number | null;
  reports: number;
  duplicates: number;
  gaps: number;
  outOfOrder: number;
  firstSeenMs: number;
  /** The newest report and its evaluation, as JSON text. */
  reportJson: string | null;
  evaluationJson: string | null;
}

export interface HistoryRow {
  serial: string;
  reportId: string;
  seq: number;
  sentAt: string;
  receivedMs: number;
  osVersion: string;
  findings: number;
  hardeningScore: number | null;
  integrity: string;
  support: string;
  advisories: number;
  queueDepth: number;
  heapUsedBytes: number;
  dropped: number;
}

export interface StateRow {
  serial: string;
  receivedMs: number;
  state: string;
  reason: string | null;
  session: number;
  at: string;
  /** True when the message was ignored as older than the current session. */
  stale: boolean;
}

export interface GapRow {
  serial: string;
  fromSeq: number;
  toSeq: number;
  detectedMs: number;
}

export interface EventRow {
  serial: string;
  eventId: string;
  receivedMs: number;
  kind: string;
  json: string;
}

export interface QuarantineRow {
  id?: number;
  receivedMs: number;
  topic: string;
  serial: string | null;
  reason: string;
  size: number;
  /** The first bytes of the payload, as text, for a human to look at. */
  excerpt: string;
}

export interface FleetStore {
  readonly schemaVersion: number;
  /** Runs fn atomically: a transaction, or a savepoint inside an open batch (see begin). */
  transaction<T>(fn: () => T): T;
  /** Group commit: the consumer opens a batch, runs many transactions in it, and commits once. */
  begin(): void;
  commit(): void;
  rollback(): void;
  readonly inTransaction: boolean;
  loadCameras(): CameraRecord[];
  upsertCamera(c: CameraRecord): void;
  /** Inserts a history row; false when (serial, reportId) is already stored (a duplicate). */
  insertReport(h: HistoryRow): boolean;
  insertState(s: StateRow): void;
  insertEvent(e: EventRow): boolean;
  gaps(serial: string): GapRow[];
  insertGap(g: GapRow): void;
  deleteGap(serial: string, fromSeq: number): void;
  quarantine(q: QuarantineRow): void;
  quarantined(limit: number): QuarantineRow[];
  history(serial: string, limit: number): HistoryRow[];
  states(serial: string, limit: number): StateRow[];
  events(serial: string, limit: number): EventRow[];
  /** The newest events of every camera, newest first. */
  recentEvents(limit: number): EventRow[];
  /** Deletes history, states, events, gaps and quarantine older than cutoffMs; returns rows deleted. */
  prune(cutoffMs: number): number;
  close(): void;
}
