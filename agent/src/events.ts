/**
 * Events: what changed since the previous report cycle, published on `<prefix>/<serial>/event` (QoS 1,
 * schemas/event.schema.json, `vigil.event/1`) right after the cycle that found it. Pure: the previous
 * snapshot and the new report in, the events and the next snapshot out; the agent persists the snapshot
 * (`<dataDir>/events.json`) so a restart neither repeats nor misses an event, and queues the events in a
 * small flash outbox of their own (`<dataDir>/events/outbox/`).
 *
 * Kinds:
 *  - `integrity-drift`: the drifted files (changed/added/removed vs the baseline), the installed apps
 *    (name, version, signature) or the platform facts (signedOs, secureBoot, edgeVault, AllowUnsigned)
 *    differ from the previous cycle. high when files joined the drift or an unsigned app appeared,
 *    else medium. A new baseline (rebaseline, IntegrityPaths changed) resets the file drift: no event.
 *  - `service-change`: the enabled services, the listening sockets (UDP ports from 32768 up are left out:
 *    they are client sockets) or the findings differ. Severity: the highest of the findings added, low
 *    when none was.
 *  - `agent-restart` (medium): the host restarted the agent after a limit (Host.info.lastExit), once per start.
 * details: per part that changed, `{added, removed}` (at most MAX_LIST entries each) with the true counts.
 *
 * The first cycle (no snapshot) only records what it sees. A collector error code the previous cycle did
 * not have means that part of the camera was not read properly: its area is left as it was (no event)
 * for up to DEGRADED_CYCLES cycles, then what is seen is taken silently; a collection failure must not
 * look like a change. eventId = snapshot id (the first report's id) + cycle number + kind: hex, so it
 * names an outbox file, and the same after a kill that lost the snapshot write (the consumer de-duplicates).
 */
import type { Report, Severity } from './report/types';

export const EVENT_SCHEMA = 'vigil.event/1';
export const MAX_LIST = 20;
const MAX_ITEM = 200;
const DEGRADED_CYCLES = 3;
const SEVERITIES: Severity[] = ['low', 'medium', 'high'];
const KINDS = ['agent-restart', 'integrity-drift', 'service-change'];
/** Per area: which collectors' errors make it unreliable, and its parts. */
const AREAS: Array<[string, RegExp, string[]]> = [
  [KINDS[1], /^(integrity|device|vapix)$/, ['files', 'apps', 'platform']],
  [KINDS[2], /^(services|vapix)$/, ['services', 'listening', 'findings']],
];

export interface VigilEvent {
  schema: typeof EVENT_SCHEMA;
  deviceId: string;
  eventId: string;
  seq: number;
  at: string;
  kind: string;
  severity: Severity;
  summary: string;
  details: Record<string, unknown>;
}

/** What the previous cycle saw. */
export interface Snapshot {
  v: 1;
  id: string;
  /** Cycles that produced events. */
  n: number;
  /** The baseline the file drift is relative to. */
  b: string | null;
  /** Part → its sorted entries. */
  s: Record<string, string[]>;
  /** Area → the collector error codes it had. */
  e: Record<string, string>;
  /** Area → cycles skipped in a row for new errors. */
  k: Record<string, number>;
}

const unsigned = (sig: string | null) => sig !== null && !/^(signed|valid|verified)/i.test(sig);
const appKey = (a: Report['integrity']['apps'][number]) => `${a.name} ${a.version} ${a.signatureStatus}`;

const parts = (r: Report): Record<string, string[]> => {
  const i = r.integrity;
  const more = i.totalChanges - i.changes.length;
  const all: Record<string, string[]> = {
    // the changes past the report's list count as one entry, so more drift beyond it still shows
    files: i.changes.map((c) => `${c.change} ${c.path}`).concat(more > 0 ? [`${more} more`] : []),
    apps: i.apps.map(appKey),
    platform: Object.entries({ ...i.platform, allowUnsignedApps: i.allowUnsignedApps }).map((e) => e.join('=')),
    services: r.services.entries.filter((e) => e.configured === 'on').map((e) => e.name),
    listening: [],
    findings: r.services.findings.map((f) => f.id),
  };
  for (const e of r.services.entries) for (const s of e.listening) if (s.proto[0] === 't' || s.port < 32768) all.listening.push(`${s.proto} ${s.address}:${s.port}`);
  for (const k in all) all[k] = uniq(all[k]);
  return all;
};

/** A persisted snapshot, or null when it is not one (then the next cycle starts afresh, silently). */
export const parseSnapshot = (text: string): Snapshot | null => {
  try {
    const s = JSON.parse(text);
    return s && s.v === 1 && /^[0-9a-f]{8,32}$/.test(s.id) && s.n >= 0 && s.e && s.k && s.s && Object.values(s.s).every(Array.isArray) ? s : null;
  } catch {
    return null;
  }
};

const uniq = (list: string[]) => [...new Set(list)].sort();
const cap = (list: string[]) => list.slice(0, MAX_LIST).map((x) => x.slice(0, MAX_ITEM));
/** The entries of `a` that `b` lacks. */
const minus = (a: string[], b: string[]) => a.filter((x) => b.indexOf(x) < 0);

export const detectEvents = (prev: Snapshot | null, r: Report, lastExit: string | null): { events: VigilEvent[]; next: Snapshot } => {
  const now = parts(r);
  const b = r.integrity.baseline ? r.integrity.baseline.createdAt : null;
  const next: Snapshot = prev ? { ...prev, s: { ...prev.s }, e: { ...prev.e }, k: { ...prev.k } } : { v: 1, id: r.reportId, n: 0, b, s: now, e: {}, k: {} };
  // the cycle number is used up only when the cycle has events
  const n = next.n + 1;
  const events: VigilEvent[] = [];
  const found = (k: number, severity: Severity, summary: string, details: Record<string, unknown>) =>
    events.push({
      schema: EVENT_SCHEMA,
      deviceId: r.deviceId,
      eventId: `${next.id}${n.toString(16).padStart(6, '0')}${k}`,
      seq: r.seq,
      at: r.sentAt,
      kind: KINDS[k],
      severity,
      summary: summary.slice(0, 256),
      details,
    });
  if (lastExit) found(0, 'medium', `Agent restarted after: ${lastExit}`, { lastExit: lastExit.slice(0, 1024), startedAt: r.health.startedAt });
  AREAS.forEach(([kind, who, names], a) => {
    const codes = uniq(r.errors.filter((e) => who.test(e.collector)).map((e) => e.code));
    const had = (next.e[kind] || '').split(' ');
    let quiet = !prev;
    if (!quiet && codes.some((c) => had.indexOf(c) < 0)) {
      if ((next.k[kind] = (next.k[kind] || 0) + 1) < DEGRADED_CYCLES) return;
      quiet = true;
    }
    next.e[kind] = codes.join(' ');
    next.k[kind] = 0;
    if (!a && b !== null && b !== next.b) {
      next.b = b;
      next.s.files = [];
    }
    const details: Record<string, unknown> = {};
    const summary: string[] = [];
    let severity = 0;
    for (const name of names) {
      const before = next.s[name] || [];
      const added = minus(now[name], before);
      const removed = minus(before, now[name]);
      next.s[name] = now[name];
      if (!added.length && !removed.length) continue;
      details[name] = { added: cap(added), removed: cap(removed), addedCount: added.length, removedCount: removed.length };
      summary.push(`${name} +${added.length} -${removed.length}${added.length ? ` (${added.slice(0, 3).join(', ')})` : ''}`);
      if (name === 'findings') for (const f of r.services.findings) if (added.indexOf(f.id) >= 0) severity = Math.max(severity, SEVERITIES.indexOf(f.severity));
      if (a === 0) severity = Math.max(severity, (name === 'files' && added.length) || r.integrity.apps.some((p) => unsigned(p.signatureStatus) && added.indexOf(appKey(p)) >= 0) ? 2 : 1);
    }
    if (summary.length && !quiet) found(a + 1, SEVERITIES[severity], `${a ? 'Service change' : 'Integrity drift'}: ${summary.join('; ')}`, details);
  });
  if (events.length) next.n = n;
  return { events, next };
};
