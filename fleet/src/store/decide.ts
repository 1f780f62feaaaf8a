/**
 * The one decision code both stores run inside their transaction, with the batch's cameras locked: duplicates by
 * (serial, reportId) and (serial, eventId), seq gaps (a late report fills its gap), out of order (history only),
 * a seq reset after a fresh agent start, stale states from an older session, reports refused as forged
 * (store/forgery.ts). Pure: the store supplies what is
 * stored now (`DecideReads`, synchronous: SQLite reads as it goes, PostgreSQL prefetches under the locks) and
 * writes the `BatchWrites` it gets back.
 */
import { claimText, refusalOf, storedFromFuture } from './forgery';
import type { CameraState, EventRow, GapRow, HistoryRow, IngestItem, IngestOutcome, QuarantineRow, ReportItem, SeqGap, StateItem, StateRow } from './types';

export interface DecideReads {
  camera(serial: string): CameraState | null;
  reportStored(serial: string, reportId: string): boolean;
  eventStored(serial: string, eventId: string): boolean;
  gaps(serial: string): GapRow[];
}

export interface CameraWrite {
  state: CameraState;
  /** Set when the newest report changed in this batch. */
  reportJson?: string;
  /** Not stored before this batch. */
  isNew: boolean;
}

export interface BatchWrites {
  reports: HistoryRow[];
  states: StateRow[];
  events: EventRow[];
  quarantine: QuarantineRow[];
  /** Each camera touched, as it is after the batch (one write per camera). */
  cameras: Map<string, CameraWrite>;
  /** Cameras whose gaps changed: their whole list of gaps after the batch. */
  gaps: Map<string, GapRow[]>;
}

export function newCameraState(serial: string, nowMs: number): CameraState {
  return {
    serial, model: null, hardwareId: null, fullName: null, osVersion: null, connection: 'unknown', session: null, stateAt: null, stateReason: null,
    lastReportId: null, lastSeq: null, lastSentAt: null, lastStartedAt: null, lastReportMs: null, intervalSec: null, reports: 0,
    duplicates: 0, gaps: 0, outOfOrder: 0, refused: 0, identityClaim: null, identityClaimMs: null, firstSeenMs: nowMs, retiredMs: null, retiredReason: null,
  };
}

export function decideBatch(items: IngestItem[], reads: DecideReads): { outcomes: IngestOutcome[]; writes: BatchWrites } {
  const writes: BatchWrites = { reports: [], states: [], events: [], quarantine: [], cameras: new Map(), gaps: new Map() };
  const reportsSeen = new Set<string>();
  const eventsSeen = new Set<string>();
  const camera = (serial: string, nowMs: number): CameraWrite => {
    let w = writes.cameras.get(serial);
    if (!w) {
      const stored = reads.camera(serial);
      w = { state: stored ? { ...stored } : newCameraState(serial, nowMs), isNew: stored === null };
    }
    return w;
  };
  const gapsOf = (serial: string): GapRow[] => writes.gaps.get(serial) ?? reads.gaps(serial);
  const outcomes: IngestOutcome[] = [];
  for (const item of items) {
    if (item.kind === 'quarantine') {
      writes.quarantine.push(item.row);
      outcomes.push({ kind: 'quarantine', result: 'quarantined' });
    } else if (item.kind === 'event') {
      const key = `${item.serial}\0${item.eventId}`;
      if (eventsSeen.has(key) || reads.eventStored(item.serial, item.eventId)) {
        outcomes.push({ kind: 'event', result: 'duplicate' });
        continue;
      }
      eventsSeen.add(key);
      writes.events.push({ serial: item.serial, eventId: item.eventId, receivedMs: item.nowMs, kind: item.eventKind, json: item.json });
      outcomes.push({ kind: 'event', result: 'stored' });
    } else if (item.kind === 'state') {
      const w = camera(item.serial, item.nowMs);
      const stale = isStale(w.state, item);
      writes.states.push({ serial: item.serial, receivedMs: item.nowMs, state: item.state, reason: item.reason, session: item.session, at: item.at, stale });
      if (!stale) {
        // The agent's will says state "lost" (issue 3); reason "lost" is the older spelling.
        w.state = {
          ...w.state, connection: item.state === 'online' ? 'online' : item.state === 'lost' || item.reason === 'lost' ? 'lost' : 'offline',
          session: item.session, stateAt: item.at, stateReason: item.reason,
        };
        writes.cameras.set(item.serial, w);
      }
      outcomes.push({ kind: 'state', result: stale ? 'stale' : 'stored', camera: w.state });
    } else {
      const w = camera(item.serial, item.nowMs);
      const key = `${item.serial}\0${item.history.reportId}`;
      if (reportsSeen.has(key) || reads.reportStored(item.serial, item.history.reportId)) {
        w.state = { ...w.state, duplicates: w.state.duplicates + 1 };
        writes.cameras.set(item.serial, w);
        outcomes.push({ kind: 'report', result: 'duplicate', camera: w.state });
        continue;
      }
      const o = decideReport(w, item, writes, gapsOf);
      outcomes.push(o);
      // A refused report of a camera never stored makes no camera (random serials cannot fill the table).
      if (o.result === 'refused' && w.isNew && !writes.cameras.has(item.serial)) continue;
      if (o.result !== 'refused') reportsSeen.add(key);
      writes.cameras.set(item.serial, w);
    }
  }
  return { outcomes, writes };
}

/**
 * A will from an older connection must not mark a live camera offline. A lower session that says online and is
 * newer means the agent's counter was reset (its state was wiped): follow it. Same session: online after offline
 * cannot happen (a retained replay of what we already know).
 */
function isStale(c: CameraState, s: StateItem): boolean {
  if (c.session === null) return false;
  const stateAtMs = c.stateAt === null ? null : Date.parse(c.stateAt);
  if (s.session < c.session) return !(s.state === 'online' && stateAtMs !== null && Date.parse(s.at) > stateAtMs);
  return s.session === c.session && s.state === 'online' && c.connection !== 'online' && c.connection !== 'unknown';
}

function decideReport(w: CameraWrite, item: ReportItem, writes: BatchWrites, gapsOf: (serial: string) => GapRow[]): IngestOutcome {
  const c = w.state;
  const h = item.history;
  // A stored newest report from the future is no reference: the first report within the bounds replaces it.
  const trusted = !storedFromFuture(c, item.nowMs);
  const refusal = refusalOf(c, item, trusted);
  if (refusal) {
    writes.quarantine.push({
      receivedMs: item.nowMs, topic: item.topic ?? `${item.serial}/report`, serial: item.serial, reason: `forged: ${refusal.reason}: ${refusal.detail}`.slice(0, 1000),
      size: Buffer.byteLength(item.text), excerpt: Buffer.from(item.text).subarray(0, 512).toString('utf8'),
    });
    const claim = refusal.reason === 'identity' ? { identityClaim: claimText(item), identityClaimMs: item.nowMs } : {};
    w.state = { ...c, refused: c.refused + 1, ...claim };
    return { kind: 'report', result: 'refused', reason: refusal.reason, detail: refusal.detail, camera: w.isNew && !writes.cameras.has(item.serial) ? null : w.state };
  }
  let becameLatest = true;
  let reset = !trusted;
  let gap: SeqGap | null = null;
  let outOfOrder = false;
  if (trusted && c.lastSeq !== null && c.lastSentAt !== null) {
    if (h.seq > c.lastSeq + 1) gap = { fromSeq: c.lastSeq + 1, toSeq: h.seq - 1 };
    else if (h.seq <= c.lastSeq) {
      // Older than what we have: history only. Unless the agent restarted from scratch (its seq reset): then it
      // started later and sent later than our newest.
      reset = c.lastStartedAt !== null && Date.parse(item.startedAt) > Date.parse(c.lastStartedAt) && Date.parse(h.sentAt) > Date.parse(c.lastSentAt);
      becameLatest = reset;
      outOfOrder = !reset;
    }
  }
  const next: CameraState = { ...c, reports: c.reports + 1 };
  // Identity is learnt where unknown and kept when a report does not say; replaced only with an untrusted newest.
  next.model = trusted ? c.model ?? item.model : item.model;
  next.hardwareId = trusted ? c.hardwareId ?? item.hardwareId : item.hardwareId;
  if (becameLatest) {
    Object.assign(next, {
      fullName: item.fullName, osVersion: h.osVersion, lastReportId: h.reportId, lastSeq: h.seq, lastSentAt: h.sentAt,
      lastStartedAt: item.startedAt, lastReportMs: h.receivedMs, intervalSec: item.intervalSec,
    });
    w.reportJson = item.text;
  }
  writes.reports.push(h);
  if (gap) {
    // (serial, fromSeq) is the gap's key: a gap opened again from the same seq replaces the older one.
    writes.gaps.set(item.serial, [...gapsOf(item.serial).filter((x) => x.fromSeq !== gap.fromSeq), { serial: item.serial, ...gap, detectedMs: item.nowMs }]);
  }
  if (outOfOrder) {
    next.outOfOrder++;
    // A late report may fill a recorded gap: shrink or split it.
    const gaps = gapsOf(item.serial);
    const g = gaps.find((x) => x.fromSeq <= h.seq && h.seq <= x.toSeq);
    if (g) {
      const rest = gaps.filter((x) => x !== g);
      if (g.fromSeq <= h.seq - 1) rest.push({ ...g, toSeq: h.seq - 1 });
      if (h.seq + 1 <= g.toSeq) rest.push({ ...g, fromSeq: h.seq + 1 });
      writes.gaps.set(item.serial, rest.sort((a, b) => a.fromSeq - b.fromSeq));
    }
  }
  // The camera's gaps are the ranges still missing: consumers sharing a subscription see one camera's reports
  // out of order all the time, and a gap a late report fills was never a loss.
  if (gap || outOfOrder) next.gaps = gapsOf(item.serial).length;
  w.state = next;
  return { kind: 'report', result: 'stored', camera: next, gap, outOfOrder, becameLatest, reset };
}
