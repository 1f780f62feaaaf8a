/**
 * Where a camera's AXIS OS should go next (the article's decision path): the newest release on its own track while
 * that track is supported; off a retired or ending track, the newest track its SoC still gets (`finalForSocs` names
 * the SoCs whose last track an LTS is); nowhere when the SoC's last track has ended (retire, or keep it behind
 * compensating controls). Pure: tables and "now" in.
 */
import type { ActionTarget } from './actions/types';
import type { Track } from './data';
import { compareVersions, hasPrefix, type Version } from './version';

/**
 * stay: on the newest release of a supported track; upgrade: a newer release on the same track; move-track: to
 * another track; retire: no supported track left for the SoC; unknown: the version or its track is not known.
 */
export type TargetPath = 'stay' | 'upgrade' | 'move-track' | 'retire' | 'unknown';

export interface OsTarget {
  path: TargetPath;
  target: ActionTarget | null;
  /** The SoC's last track (finalForSocs), when the tables name one. */
  finalTrack: Track | null;
  /** For a camera that must move: the newest supported LTS its SoC gets (the alternative to the active track). */
  lts: Track | null;
  reason: string;
}

export const trackEnded = (t: Track, nowMs: number): boolean => t.endMs !== null && nowMs > t.endMs;

/** A track's newest release as a target, named by the track it lands on (the active line's newest may be an LTS build). */
export function targetOf(t: Track, tracks: Track[]): ActionTarget {
  const lands = tracks.find((x) => x.kind === 'lts' && x.prefixV && hasPrefix(t.latestV, x.prefixV)) ?? t;
  return { version: t.latest, trackId: lands.id, trackName: lands.name };
}

/** Newest first: by newest release, an LTS before the active track on a tie (the same build, longer support). */
function newestFirst(a: Track, b: Track): number {
  return compareVersions(b.latestV, a.latestV) || (a.kind === b.kind ? 0 : a.kind === 'lts' ? -1 : 1);
}

/**
 * The tracks a SoC can still run, newest first: every supported track up to and including its last one (an SoC
 * removed from the active track gets no track newer than that LTS); all supported tracks when it has none or is unknown.
 */
export function tracksForSoc(tracks: Track[], final: Track | null, nowMs: number): Track[] {
  // Remembered per tables and per set of ended tracks (which changes a few times a year): every evaluation asks.
  let byKey = socTracks.get(tracks);
  if (!byKey) socTracks.set(tracks, (byKey = new Map()));
  const key = `${final ? tracks.indexOf(final) : -1}:${tracks.map((t) => (trackEnded(t, nowMs) ? 1 : 0)).join('')}`;
  let out = byKey.get(key);
  if (!out) {
    const live = tracks.filter((t) => !trackEnded(t, nowMs)).sort(newestFirst);
    out = final ? live.filter((t) => t === final || (t.kind === 'lts' && compareVersions(t.latestV, final.latestV) <= 0)) : live;
    byKey.set(key, out);
  }
  return out;
}

const socTracks = new WeakMap<Track[], Map<string, Track[]>>();

/**
 * The target for a camera at version v on `track` (null: on no track; `olderThanActive`: a retired active
 * release). `endingSoon`: the track's own end is within the warning window (move before it ends).
 */
export function osTarget(o: { tracks: Track[]; v: Version; soc: string | null; track: Track | null; final: Track | null; olderThanActive: boolean; endingSoon: boolean; nowMs: number }): OsTarget {
  const { tracks, v, soc, track, final, nowMs } = o;
  const candidates = tracksForSoc(tracks, final, nowMs);
  const lts = candidates.find((t) => t.kind === 'lts') ?? null;
  const socText = soc ?? 'an unknown SoC';
  const base = { finalTrack: final, lts };
  if (track && !trackEnded(track, nowMs)) {
    const newer = compareVersions(v, track.latestV) < 0;
    if (o.endingSoon) {
      // The track ends soon: the way out is the newest track the SoC still gets, unless this is its last one.
      const next = candidates.find((t) => t !== track && compareVersions(t.latestV, track.latestV) > 0);
      if (next) return { ...base, path: 'move-track', target: targetOf(next, tracks), reason: `${track.name} ends ${track.endOfSupport}; ${next.name} is the newest track for ${socText}` };
      if (final === track) return { ...base, path: 'retire', target: newer ? targetOf(track, tracks) : null, reason: `${track.name} is the last AXIS OS track for ${socText} and ends ${track.endOfSupport}: plan the replacement` };
    }
    if (newer) return { ...base, path: 'upgrade', target: targetOf(track, tracks), reason: `${track.latest} is the newest ${track.name} release` };
    return { ...base, path: 'stay', target: null, reason: `on the newest ${track.name} release the tables know` };
  }
  if (!track && !o.olderThanActive) return { ...base, path: 'unknown', target: null, reason: 'the version is on no known track' };
  const from = track ? `${track.name} ended ${track.endOfSupport}` : 'this active release is retired';
  if (final && trackEnded(final, nowMs)) {
    return { ...base, path: 'retire', target: null, reason: `${from}; ${final.name}, the last AXIS OS track for ${socText}, ended ${final.endOfSupport}: no supported AXIS OS is left for it` };
  }
  const next = candidates[0];
  if (!next) return { ...base, path: 'retire', target: null, reason: `${from}; the tables know no supported track` };
  const why = final ? `${next.name} is the last track for ${socText}` : soc ? `${next.name} is the newest track for ${soc}` : `${next.name} is the newest track (SoC unknown: check that the model gets it)`;
  return { ...base, path: 'move-track', target: targetOf(next, tracks), reason: `${from}; ${why}` };
}
