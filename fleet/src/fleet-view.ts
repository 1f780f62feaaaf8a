/**
 * The in-memory view of the fleet: each camera's current record, latest report, evaluation and status, rebuilt
 * from the store at start. The dashboard, the JSON API and /metrics read it; ingest and the status sweep write it.
 */
import type { Report } from '../../agent/src/report/types';
import { evaluate, SUPPORT_STATUSES, type Evaluation } from './evaluate';
import type { Tables } from './data';
import { POSTURES, type Posture } from './posture';
import { newCameraState } from './store/decide';
import type { CameraRecord, CameraState, Connection } from './store/types';

export type CameraStatus = 'online' | 'missing' | 'offline' | 'lost' | 'unknown';
export const CAMERA_STATUSES: CameraStatus[] = ['online', 'missing', 'offline', 'lost', 'unknown'];

/** What the consumer tells its listeners (dashboard, tests); `event-redelivered`: an event the store had already. */
export type FleetNotice = 'camera' | 'status' | 'quarantine' | 'event' | 'event-redelivered';
export type Notify = (notice: FleetNotice, payload: unknown) => void;

export interface CameraView {
  serial: string;
  model: string | null;
  fullName: string | null;
  osVersion: string | null;
  status: CameraStatus;
  connection: Connection;
  session: number | null;
  lastSeq: number | null;
  lastSentAt: string | null;
  lastReportAt: string | null;
  intervalSec: number | null;
  reports: number;
  duplicates: number;
  gaps: number;
  outOfOrder: number;
  evaluation: Evaluation | null;
  /** Decommissioned (ISO time), or null: a retired camera keeps its history but leaves the counts, the worklist and the alerts. */
  retiredAt: string | null;
  retiredReason: string | null;
}

/** total and the rest count the cameras in service; retired ones only in `retired`. */
export type FleetCounts = { total: number; retired: number; status: Record<CameraStatus, number>; support: Record<string, number>; integrity: Record<string, number>; posture: Record<Posture, number>; withAdvisories: number };

/** One camera in the view: its stored record plus what is derived from it. */
export interface CameraEntry {
  rec: CameraState;
  latest: Report | null;
  evaluation: Evaluation | null;
  status: CameraStatus;
  stateAtMs: number | null;
}

export class FleetView {
  private readonly cams = new Map<string, CameraEntry>();

  get size(): number {
    return this.cams.size;
  }

  /** (Re)builds the view from the store's cameras: at start, and after a failed batch commit. */
  load(records: CameraRecord[], tables: Tables, nowMs: number, statusOf: (c: CameraEntry, nowMs: number) => CameraStatus): void {
    this.cams.clear();
    this.refresh(records, tables, nowMs, statusOf);
  }

  /** Puts these cameras as stored into the view (another consumer changed them); returns their entries. */
  refresh(records: CameraRecord[], tables: Tables, nowMs: number, statusOf: (c: CameraEntry, nowMs: number) => CameraStatus): CameraEntry[] {
    return records.map(({ reportJson, ...rec }) => {
      const was = this.cams.get(rec.serial);
      // The same newest report as in the view: keep its parse (the common case when only the state changed).
      const latest = was?.latest && was.rec.lastReportId === rec.lastReportId ? was.latest : reportJson ? (JSON.parse(reportJson) as Report) : null;
      const evaluation = was?.latest === latest && was?.evaluation ? was.evaluation : latest ? evaluate(latest, tables, nowMs) : null;
      const cam: CameraEntry = { rec, latest, evaluation, status: 'unknown', stateAtMs: rec.stateAt ? Date.parse(rec.stateAt) : null };
      cam.status = statusOf(cam, nowMs);
      this.cams.set(rec.serial, cam);
      return cam;
    });
  }

  /** The camera's entry, or a new one that joins the view when set() is called after its first message is stored. */
  entry(serial: string, nowMs: number): CameraEntry {
    return this.cams.get(serial) ?? { rec: newCameraState(serial, nowMs), latest: null, evaluation: null, status: 'unknown', stateAtMs: null };
  }

  get(serial: string): CameraEntry | undefined {
    return this.cams.get(serial);
  }

  set(c: CameraEntry): void {
    this.cams.set(c.rec.serial, c);
  }

  entries(): IterableIterator<CameraEntry> {
    return this.cams.values();
  }

  cameras(): CameraView[] {
    return [...this.cams.values()].map((c) => cameraView(c)).sort((a, b) => a.serial.localeCompare(b.serial));
  }

  camera(serial: string): (CameraView & { report: Report | null }) | null {
    const c = this.cams.get(serial);
    return c ? { ...cameraView(c), report: c.latest } : null;
  }

  counts(): FleetCounts {
    const status = Object.fromEntries(CAMERA_STATUSES.map((s) => [s, 0])) as Record<CameraStatus, number>;
    const support = Object.fromEntries(SUPPORT_STATUSES.map((s) => [s, 0])) as Record<string, number>;
    const integrity: Record<string, number> = { ok: 0, 'baseline-created': 0, changed: 0, unknown: 0 };
    const posture = Object.fromEntries(POSTURES.map((p) => [p, 0])) as Record<Posture, number>;
    let withAdvisories = 0;
    let retired = 0;
    for (const c of this.cams.values()) {
      if (c.rec.retiredMs != null) {
        retired++;
        continue;
      }
      status[c.status]++;
      support[c.evaluation?.support ?? 'unknown']++;
      integrity[c.evaluation?.integrity ?? 'unknown']++;
      posture[c.evaluation?.posture ?? 'unknown']++;
      if (c.evaluation && c.evaluation.advisories.length > 0) withAdvisories++;
    }
    return { total: this.cams.size - retired, retired, status, support, integrity, posture, withAdvisories };
  }
}

export function cameraView(c: CameraEntry): CameraView {
  const r = c.rec;
  return {
    serial: r.serial, model: r.model, fullName: r.fullName, osVersion: r.osVersion, status: c.status, connection: r.connection,
    session: r.session, lastSeq: r.lastSeq, lastSentAt: r.lastSentAt, lastReportAt: r.lastReportMs === null ? null : new Date(r.lastReportMs).toISOString(),
    intervalSec: r.intervalSec, reports: r.reports, duplicates: r.duplicates, gaps: r.gaps, outOfOrder: r.outOfOrder, evaluation: c.evaluation,
    retiredAt: r.retiredMs == null ? null : new Date(r.retiredMs).toISOString(), retiredReason: r.retiredReason ?? null,
  };
}
