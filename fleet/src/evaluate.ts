/**
 * What the fleet adds to a report: the AXIS OS track, its support status, where the OS should go next (os-target.ts),
 * the advisories that match, the hardening measure, an integrity verdict and the posture (posture.ts). Pure:
 * tables and "now" in.
 */
import type { Report } from '../../agent/src/report/types';
import type { ActionTarget } from './actions/types';
import type { AdvisoryData, AffectedRange, Tables, Track } from './data';
import { osTarget, type TargetPath } from './os-target';
import { rememberedPlacement } from './placement-cache';
import { findingCounts, hardeningPenalty, postureOf, unsignedApps, type FindingCounts, type Posture } from './posture';
import { compareVersions, hasPrefix, parseVersion, type Version } from './version';

export { SEVERITY_WEIGHT } from './posture';

/** 'outdated': on a track that supports only its newest release (the active track), and not on it: update. */
export type SupportStatus = 'supported' | 'ending-soon' | 'outdated' | 'end-of-life' | 'unknown';
export const SUPPORT_STATUSES: SupportStatus[] = ['supported', 'ending-soon', 'outdated', 'end-of-life', 'unknown'];
export type IntegrityVerdict = 'ok' | 'baseline-created' | 'changed' | 'unknown';

export interface AdvisoryMatch {
  id: string;
  title: string;
  cvss: number | null;
  /** 'affected': in a range with a confirmed fix (or none known to exist); 'possibly-affected': the fixed builds or the SoC are unconfirmed. */
  confidence: 'affected' | 'possibly-affected';
  fixed: string | null;
  reason: string;
}

export interface Evaluation {
  version: string;
  versionKnown: boolean;
  trackId: string | null;
  trackName: string;
  support: SupportStatus;
  supportReason: string;
  endOfSupport: string | null;
  endEstimated: boolean;
  daysLeft: number | null;
  /** The newest release of the track the camera is on (a retired active release: of the active track). */
  latestOnTrack: string | null;
  /** A newer AXIS OS is there to go to: on the track, or on the track to move to. */
  upgradeAvailable: boolean;
  /** Where the OS should go next, and why (os-target.ts). */
  targetPath: TargetPath;
  target: ActionTarget | null;
  targetReason: string;
  advisories: AdvisoryMatch[];
  /** 100 − the penalty, floored at 0 (kept for the history charts); rank by findingCounts or hardeningPenalty. */
  hardeningScore: number | null;
  hardeningPenalty: number | null;
  findingCounts: FindingCounts;
  integrity: IntegrityVerdict;
  integrityNotes: string[];
  posture: Posture;
  postureReasons: string[];
}

const DAY = 86_400_000;

export function findTrack(tracks: Track[], v: Version): Track | null {
  for (const t of tracks) if (t.kind === 'lts' && t.prefixV && hasPrefix(v, t.prefixV)) return t;
  for (const t of tracks) if (t.kind === 'active' && t.fromV && compareVersions(v, t.fromV) >= 0) return t;
  return null;
}

export function support(track: Track, endingSoonDays: number, nowMs: number): { status: SupportStatus; daysLeft: number | null; reason: string } {
  if (track.endMs === null) return { status: 'supported', daysLeft: null, reason: `${track.name} has no announced end of support` };
  const est = track.endEstimated ? ' (estimated)' : '';
  if (nowMs > track.endMs) return { status: 'end-of-life', daysLeft: 0, reason: `${track.name} support ended ${track.endOfSupport}${est}` };
  // Calendar days from today (UTC) to the last day of support: 0 on the last day itself.
  const daysLeft = Math.round((Math.floor(track.endMs / DAY) - Math.floor(nowMs / DAY)));
  if (daysLeft <= endingSoonDays) return { status: 'ending-soon', daysLeft, reason: `${track.name} support ends ${track.endOfSupport}${est}, in ${daysLeft} days` };
  return { status: 'supported', daysLeft, reason: `${track.name} supported until ${track.endOfSupport}${est}` };
}

/**
 * The release rule of a track (supportedReleases): on the active track only the newest release is supported,
 * so an older one is outdated, or ending soon while a grace period after the newest release runs (graceDays
 * from latestReleased). A version newer than the table knows counts as the newest. An LTS track ('all') keeps
 * every build supported and only offers the upgrade.
 */
export function releaseSupport(track: Track, v: Version, nowMs: number): { status: 'supported' | 'ending-soon' | 'outdated'; daysLeft: number | null; reason: string } | null {
  const rule = track.supportedReleases ?? 'all';
  if (rule === 'all') return null;
  const floor = rule === 'latest-minor' ? track.latestV.slice(0, 2) : track.latestV;
  const current = rule === 'latest-minor' ? v.slice(0, 2) : v;
  if (compareVersions(current, floor) >= 0) {
    const newer = compareVersions(v, track.latestV) > 0;
    return { status: 'supported', daysLeft: null, reason: newer ? `newer than ${track.latest}, the newest ${track.name} release this table knows: counted as the newest` : `the newest ${track.name} release` };
  }
  const what = rule === 'latest-minor' ? `${floor.join('.')}.x` : track.latest;
  if (track.graceEndMs !== null && nowMs <= track.graceEndMs) {
    const daysLeft = Math.floor(track.graceEndMs / DAY) - Math.floor(nowMs / DAY);
    return { status: 'ending-soon', daysLeft, reason: `${track.name}: only the newest release (${what}, released ${track.latestReleased}) is supported; this one for ${daysLeft} more days of grace` };
  }
  return { status: 'outdated', daysLeft: null, reason: `${track.name}: only the newest release (${what}) is supported; update` };
}

/** The LTS track that is the last one for this SoC (removed from the active track), or null. */
export function finalTrackFor(tracks: Track[], soc: string | null): Track | null {
  if (!soc) return null;
  return tracks.find((t) => t.finalSocPatterns.some((p) => p.test(soc))) ?? null;
}

/** Bounds of a range as parsed versions; a lone major ("5") is read as "5.0". Cached per range object. */
const parsedRanges = new WeakMap<AffectedRange, { prefix: Version | null; from: Version | null; lessThan: Version | null }>();
const bound = (t: string | undefined): Version | null => (t ? parseVersion(t.includes('.') ? t : `${t}.0`) : null);

function inRange(v: Version, r: AffectedRange): boolean {
  let p = parsedRanges.get(r);
  if (!p) {
    p = { prefix: bound(r.prefix), from: bound(r.from), lessThan: bound(r.lessThan) };
    parsedRanges.set(r, p);
  }
  if (p.prefix && !hasPrefix(v, p.prefix)) return false;
  if (p.from && compareVersions(v, p.from) < 0) return false;
  if (p.lessThan && compareVersions(v, p.lessThan) >= 0) return false;
  return true;
}

export function matchAdvisory(a: AdvisoryData, v: Version, soc: string | null): AdvisoryMatch | null {
  const range = a.affected.find((r) => inRange(v, r));
  if (!range) return null;
  let confidence: AdvisoryMatch['confidence'] = range.fixConfirmed ? 'affected' : 'possibly-affected';
  const reasons: string[] = [];
  const bounds = range.prefix ? `${range.prefix}.x` : `${range.from ?? '0'} – <${range.lessThan ?? '∞'}`;
  reasons.push(`version in ${bounds}`);
  if (!range.fixConfirmed) reasons.push('fixed builds unconfirmed');
  if (a.socs && a.socs.length > 0) {
    if (soc) {
      if (!a.socs.some((s) => soc.toLowerCase().includes(s.toLowerCase()))) return null;
      reasons.push(`SoC ${soc}`);
    } else {
      confidence = 'possibly-affected';
      reasons.push(`only ${a.socs.join('/')}; SoC unknown`);
    }
  }
  return { id: a.id, title: a.title, cvss: a.cvss, confidence, fixed: range.fixed, reason: reasons.join('; ') };
}

/** 100 − the severity weights, floored at 0: what the history charts plot. It cannot rank two bad cameras; hardeningPenalty can. */
export function hardeningScore(report: Pick<Report, 'services' | 'errors'>): number | null {
  const penalty = hardeningPenalty(report);
  return penalty === null ? null : Math.max(0, 100 - penalty);
}

export function integrityVerdict(report: Pick<Report, 'integrity' | 'os'>): { verdict: IntegrityVerdict; notes: string[] } {
  const i = report.integrity;
  const notes: string[] = [];
  const verdict: IntegrityVerdict = i.status === 'ok' ? 'ok' : i.status === 'baseline-created' ? 'baseline-created' : i.status === 'changed' ? 'changed' : 'unknown';
  if (i.status === 'changed') notes.push(`${i.totalChanges} file(s) differ from the baseline`);
  if (i.status === 'error') notes.push('the integrity check failed');
  if (i.allowUnsignedApps === true) notes.push('unsigned ACAP apps are allowed');
  const unsigned = unsignedApps(report);
  if (unsigned.length) notes.push(`apps not signed: ${unsigned.map((a) => a.name).join(', ')}`);
  if (i.platform.signedOs === false) notes.push('the OS is not signed');
  if (i.platform.secureBoot === false) notes.push('secure boot is off');
  if (report.os.firmware?.pendingRollback) notes.push('a firmware upgrade is pending and would roll back');
  return { verdict, notes };
}

type Placed = Pick<Evaluation, 'versionKnown' | 'trackId' | 'trackName' | 'support' | 'supportReason' | 'endOfSupport' | 'endEstimated' | 'daysLeft' | 'latestOnTrack' | 'advisories'>;
type Targeted = Pick<Evaluation, 'targetPath' | 'target' | 'targetReason'>;

/** What the OS version and the SoC alone decide: the same for every camera on that build (placement-cache.ts). */
interface Placement {
  placed: Placed;
  targeted: Targeted;
  upgradeAvailable: boolean;
}

export function evaluate(report: Pick<Report, 'os' | 'device' | 'services' | 'errors' | 'integrity'>, tables: Tables, nowMs: number): Evaluation {
  const version = report.os.version;
  const soc = report.device.soc ?? null;
  const { placed: p, targeted: t, upgradeAvailable } = rememberedPlacement(tables, version, soc, nowMs, () => placement(version, soc, tables, nowMs));
  const { verdict, notes } = integrityVerdict(report);
  const score = hardeningScore(report);
  const penalty = hardeningPenalty(report);
  const posture = postureOf(report, { versionKnown: p.versionKnown, support: p.support, supportReason: p.supportReason, advisories: p.advisories, hardeningPenalty: penalty });
  // One object literal, no spread: spreading a small base into 13 more properties took ~10 µs per report
  // (measured, node 20), the largest part of the evaluation's cost at ingest.
  return {
    version, hardeningScore: score, hardeningPenalty: penalty, findingCounts: findingCounts(report.services.findings), integrity: verdict,
    integrityNotes: notes, versionKnown: p.versionKnown, trackId: p.trackId, trackName: p.trackName, support: p.support, supportReason: p.supportReason,
    endOfSupport: p.endOfSupport, endEstimated: p.endEstimated, daysLeft: p.daysLeft, latestOnTrack: p.latestOnTrack,
    upgradeAvailable, targetPath: t.targetPath, target: t.target, targetReason: t.targetReason,
    advisories: p.advisories, posture: posture.posture, postureReasons: posture.reasons,
  };
}

function placement(version: string, soc: string | null, tables: Tables, nowMs: number): Placement {
  const v = parseVersion(version);
  const placedAt = (placed: Placed, targeted: Targeted): Placement => {
    const latest = targeted.target?.version ? parseVersion(targeted.target.version) : null;
    return { placed, targeted, upgradeAvailable: !!(v && latest && compareVersions(v, latest) < 0) };
  };
  const unknown = (reason: string, versionKnown: boolean): Placement =>
    placedAt(
      { versionKnown, trackId: null, trackName: 'unknown', support: 'unknown', supportReason: reason, endOfSupport: null, endEstimated: false, daysLeft: null, latestOnTrack: null, advisories: [] },
      { targetPath: 'unknown', target: null, targetReason: reason },
    );
  if (!v) return unknown(`"${version}" is not an AXIS OS version`, false);
  const newestMajor = Math.max(...tables.tracks.map((t) => t.latestV[0]));
  const ahead = tables.lifecycle.plausibleMajorsAhead ?? 1;
  if (v[0] > newestMajor + ahead) return unknown(`${version} is far newer than any AXIS OS release the tables know (newest major ${newestMajor}): not a real version; check the device`, false);
  const advisories = tables.advisories.advisories.map((a) => matchAdvisory(a, v, soc)).filter((m): m is AdvisoryMatch => m !== null);
  const track = findTrack(tables.tracks, v);
  const final = finalTrackFor(tables.tracks, soc);
  if (!track) {
    const active = tables.tracks.find((t) => t.kind === 'active' && t.fromV);
    const older = active?.fromV ? compareVersions(v, active.fromV) < 0 : false;
    const t = osTarget({ tracks: tables.tracks, v, soc, track: null, final, olderThanActive: older, endingSoon: false, nowMs });
    let reason = older ? `${version} is on no LTS track and older than the active track: only the latest active release is supported` : `${version} is on no known track`;
    if (older && t.target) reason += `; ${t.path === 'move-track' ? 'move' : 'update'} to ${t.target.trackName} (${t.target.version})`;
    if (older && t.path === 'retire') reason += `; ${t.reason}`;
    return placedAt(
      {
        versionKnown: true, trackId: null, trackName: older ? `retired active (${v.slice(0, 2).join('.')})` : 'unknown', support: older ? 'end-of-life' : 'unknown',
        supportReason: reason, endOfSupport: null, endEstimated: false, daysLeft: null, latestOnTrack: older && active ? active.latest : null, advisories,
      },
      { targetPath: t.path, target: t.target, targetReason: t.reason },
    );
  }
  const s = support(track, tables.lifecycle.endingSoonDays, nowMs);
  let status: SupportStatus = s.status;
  let daysLeft = s.daysLeft;
  let reason = s.reason;
  const release = s.status === 'end-of-life' ? null : releaseSupport(track, v, nowMs);
  if (release) {
    // The worse of the track's end and the release rule decides; of two endings, the sooner.
    if (RANK[release.status] > RANK[status]) {
      status = release.status;
      daysLeft = release.daysLeft;
    } else if (release.status === 'ending-soon' && status === 'ending-soon' && release.daysLeft !== null && (daysLeft === null || release.daysLeft < daysLeft)) daysLeft = release.daysLeft;
    // An unsupported release leads with what to do; the track's end follows when it has one.
    if (release.status === 'supported') reason = `${reason}; ${release.reason}`;
    else reason = track.endMs === null ? release.reason : `${release.reason}; ${reason}`;
  }
  if (final === track) reason += `; the last AXIS OS track for ${soc}: its maintenance ends with ${track.name}`;
  else if (final && compareVersions(track.latestV, final.latestV) > 0) reason += `; ${soc} stays on ${final.name}: check the reported SoC`;
  const t = osTarget({ tracks: tables.tracks, v, soc, track, final, olderThanActive: false, endingSoon: s.status === 'ending-soon', nowMs });
  return placedAt(
    {
      versionKnown: true, trackId: track.id, trackName: track.name, support: status, supportReason: reason, endOfSupport: track.endOfSupport ?? null,
      endEstimated: track.endEstimated ?? false, daysLeft, latestOnTrack: track.latest, advisories,
    },
    { targetPath: t.path, target: t.target, targetReason: t.reason },
  );
}

const RANK: Record<SupportStatus, number> = { supported: 0, unknown: 0, 'ending-soon': 1, outdated: 2, 'end-of-life': 3 };
