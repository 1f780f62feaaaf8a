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
  /** Decommissioned (`vigil fleet retire`): when, and why. Written only by setRetired, never by upsertCamera. */
  retiredMs?: number | null;
  retiredReason?: string | null;
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

/** One alert condition of one camera (alerts/engine.ts): active now, or cleared and remembered for the quiet period. */
export interface AlertConditionRow {
  serial: string;
  /** e.g. `lost`, `advisory:ACV-2024-0001`, `finding:telnet-listening`. */
  condition: string;
  active: boolean;
  /** When it became active (this time). */
  sinceMs: number;
  /** When it cleared; null while active. */
  clearedMs: number | null;
  /** Whether this activation raised an alert (not when it came back within the quiet period). */
  alerted: boolean;
}

export interface AlertRow {
  id: string;
  serial: string;
  kind: string;
  condition: string;
  severity: string;
  raisedMs: number;
  /** The alert payload as sent (schemas/alert.schema.json), byte for byte: webhooks sign this text. */
  json: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One alert to one sink (`webhook:<url>`, `mqtt`): the durable outbox the dispatcher works through. */
export interface DeliveryRow {
  id: number;
  alertId: string;
  sink: string;
  status: DeliveryStatus;
  attempts: number;
  /** When the next attempt is due (pending), ms. */
  nextMs: number;
  lastError: string | null;
  /** When it was delivered or given up. */
  doneMs: number | null;
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
  /** Marks a camera retired (ms) or back in service (null); false when the camera is unknown. */
  setRetired(serial: string, retiredMs: number | null, reason: string | null): boolean;
  /** Every camera's alert conditions (active and recently cleared). */
  alertConditions(): AlertConditionRow[];
  putAlertCondition(c: AlertConditionRow): void;
  deleteAlertCondition(serial: string, condition: string): void;
  /** Stores an alert with one pending delivery per sink, due at nextMs. */
  insertAlert(a: AlertRow, sinks: string[], nextMs: number): void;
  /** The newest alerts first; of one camera when serial is given. */
  alerts(limit: number, serial?: string): AlertRow[];
  deliveriesOf(alertId: string): DeliveryRow[];
  /** Pending deliveries due at nowMs, oldest first, with their alert's JSON. */
  dueDeliveries(nowMs: number, limit: number): Array<DeliveryRow & { json: string }>;
  /** When the earliest pending delivery is due; null when none is pending. */
  nextDeliveryMs(): number | null;
  updateDelivery(d: Pick<DeliveryRow, 'id' | 'status' | 'attempts' | 'nextMs' | 'lastError' | 'doneMs'>): void;
  deliveryCounts(): Record<DeliveryStatus, number>;
  /** Deletes history, states, events, gaps, quarantine, and settled alerts and deliveries older than cutoffMs; returns rows deleted. */
  prune(cutoffMs: number): number;
  close(): void;
}
