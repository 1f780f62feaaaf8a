/**
 * The camera table's data (issue 15, item 6): a slim row per camera (only what /cameras shows, a fraction of the
 * full view), pages in a stable order by serial behind an opaque cursor, and pruning: a camera not heard from, or
 * retired, for longer than the history retention leaves the table and the live updates (its record and what is
 * left of its history stay in the store; /api/cameras/<serial> still answers).
 */
import { cameraView, type CameraEntry, type CameraStatus, type CameraView } from './fleet-view';

/** One camera as the table shows it: the columns, their tooltips and what the filters and sorting read. */
export interface TableRow {
  serial: string;
  model: string | null;
  fullName: string | null;
  osVersion: string | null;
  status: CameraStatus;
  retiredAt: string | null;
  retiredReason: string | null;
  lastReportAt: string | null;
  trackName: string | null;
  support: string;
  supportReason: string | null;
  /** The newest release on the camera's track when an upgrade is there, else null. */
  latestOnTrack: string | null;
  posture: string;
  postureReasons: string[];
  hardeningPenalty: number | null;
  hardeningScore: number | null;
  findingCounts: { high: number; medium: number; low: number } | null;
  /** Advisory ids (the count column, the ids in its tooltip). */
  advisories: string[];
  integrity: string;
  integrityNotes: string[];
}

/** The table page's columns, in order: /api/fleet/table sends each row as an array of these (no key names per row). */
export const TABLE_COLUMNS = [
  'serial', 'model', 'fullName', 'osVersion', 'status', 'retiredAt', 'retiredReason', 'lastReportAt', 'trackName', 'support', 'supportReason',
  'latestOnTrack', 'posture', 'postureReasons', 'hardeningPenalty', 'hardeningScore', 'findingCounts', 'advisories', 'integrity', 'integrityNotes',
] as const satisfies ReadonlyArray<keyof TableRow>;

export function tableColumns(v: CameraView): unknown[] {
  const row = tableRow(v);
  return TABLE_COLUMNS.map((k) => row[k]);
}

export function tableRow(v: CameraView): TableRow {
  const e = v.evaluation;
  return {
    serial: v.serial, model: v.model, fullName: v.fullName, osVersion: v.osVersion, status: v.status,
    retiredAt: v.retiredAt, retiredReason: v.retiredReason, lastReportAt: v.lastReportAt,
    trackName: e?.trackName ?? null, support: e?.support ?? 'unknown', supportReason: e?.supportReason ?? null,
    latestOnTrack: e?.upgradeAvailable ? e.latestOnTrack : null, posture: e?.posture ?? 'unknown', postureReasons: e?.postureReasons ?? [],
    hardeningPenalty: e ? e.hardeningPenalty : null, hardeningScore: e ? e.hardeningScore : null,
    findingCounts: e ? { high: e.findingCounts.high, medium: e.findingCounts.medium, low: e.findingCounts.low } : null,
    advisories: e ? e.advisories.map((a) => a.id) : [], integrity: e?.integrity ?? 'unknown', integrityNotes: e?.integrityNotes ?? [],
  };
}

/** The last time the camera was heard from (a report, a state message) or, never heard, first seen. */
function lastContactMs(c: CameraEntry): number {
  return Math.max(c.rec.lastReportMs ?? 0, c.stateAtMs ?? 0, c.rec.firstSeenMs);
}

/** Out of the table: silent, or retired, for longer than `afterMs`. */
export function isPruned(c: CameraEntry, nowMs: number, afterMs: number): boolean {
  if (c.rec.retiredMs != null && nowMs - c.rec.retiredMs > afterMs) return true;
  return nowMs - lastContactMs(c) > afterMs;
}

export class CursorError extends Error {}

// Opaque to clients (they pass back `next`), so the order key can change without breaking them.
export function encodeCursor(serial: string): string {
  return Buffer.from('s:' + serial, 'utf8').toString('base64url');
}

const SERIAL = /^[A-Za-z0-9_-]{1,64}$/;

export function decodeCursor(raw: string): string {
  const text = /^[A-Za-z0-9_-]{1,100}$/.test(raw) ? Buffer.from(raw, 'base64url').toString('utf8') : '';
  const serial = text.startsWith('s:') ? text.slice(2) : '';
  if (!SERIAL.test(serial)) throw new CursorError(`[vigil] [fleet] bad cursor "${raw.slice(0, 100)}": pass the "next" of the previous page, or no cursor for the first page`);
  return serial;
}

export interface TablePage<T> {
  rows: T[];
  /** The cursor of the next page; null on the last. */
  next: string | null;
  /** Cameras in the table (not pruned), all pages together. */
  total: number;
  /** Cameras pruned from the table. */
  pruned: number;
}

/**
 * The page after `after` (a serial; null: the first) of the cameras not pruned, ordered by serial in code-unit
 * order (a cursor compares the same way), `limit` at most, each row made by `shape`.
 */
export function tablePage<T>(entries: Iterable<CameraEntry>, o: { after: string | null; limit: number; nowMs: number; pruneAfterMs: number; shape: (v: CameraView) => T }): TablePage<T> {
  const kept: CameraEntry[] = [];
  let pruned = 0;
  let total = 0;
  for (const c of entries) {
    if (isPruned(c, o.nowMs, o.pruneAfterMs)) pruned++;
    else {
      total++;
      if (o.after === null || c.rec.serial > o.after) kept.push(c);
    }
  }
  kept.sort((a, b) => (a.rec.serial < b.rec.serial ? -1 : 1));
  const page = kept.slice(0, o.limit);
  const next = kept.length > o.limit ? encodeCursor(page[page.length - 1].rec.serial) : null;
  return { rows: page.map((c) => o.shape(cameraView(c))), next, total, pruned };
}
