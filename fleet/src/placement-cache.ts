/**
 * What evaluate() derives from a camera's OS version and SoC alone (its track, support status, matching advisories
 * and OS target) is the same for every camera on that build: a fleet has a few hundred builds and thousands of
 * reports a second, and working it out again was ~13 of an evaluation's ~18 µs (measured). So it is remembered
 * per tables object and per time window: the window ends at each UTC midnight (days left change) and at each
 * instant a track's end or grace passes (what evaluate compares "now" with), so a remembered answer is the one
 * computed now.
 * Bounded, so many odd versions cannot grow it; frozen, because every camera on the build shares one answer.
 */
import type { Tables } from './data';

const DAY = 86_400_000;
/** Distinct (version, SoC) pairs remembered per window; past it the memory starts again. */
export const MAX_PLACEMENTS = 4096;

interface Memo {
  /** Instants at which a comparison with "now" flips (a track's end or grace passed), ascending. */
  boundaries: number[];
  window: string;
  byKey: Map<string, unknown>;
}

const memos = new WeakMap<Tables, Memo>();

/** The window "now" falls in: its UTC day and how many boundaries it has passed. */
function windowOf(memo: Memo, nowMs: number): string {
  let passed = 0;
  while (passed < memo.boundaries.length && memo.boundaries[passed] <= nowMs) passed++;
  return `${Math.floor(nowMs / DAY)}:${passed}`;
}

function memoOf(tables: Tables): Memo {
  let memo = memos.get(tables);
  if (!memo) {
    // `nowMs > endMs` and `nowMs <= graceEndMs` change their answer at the next millisecond.
    const boundaries = tables.tracks.flatMap((t) => [t.endMs, t.graceEndMs]).filter((ms): ms is number => ms !== null).map((ms) => ms + 1).sort((a, b) => a - b);
    memo = { boundaries, window: '', byKey: new Map() };
    memos.set(tables, memo);
  }
  return memo;
}

/** compute(), or what it answered for the same tables, version and SoC in the same time window. */
export function rememberedPlacement<T extends object>(tables: Tables, version: string, soc: string | null, nowMs: number, compute: () => T): T {
  const memo = memoOf(tables);
  const window = windowOf(memo, nowMs);
  if (window !== memo.window) {
    memo.window = window;
    memo.byKey.clear();
  }
  const key = `${version}\0${soc ?? ''}`;
  let placed = memo.byKey.get(key) as T | undefined;
  if (placed === undefined) {
    placed = deepFreeze(compute());
    if (memo.byKey.size >= MAX_PLACEMENTS) memo.byKey.clear();
    memo.byKey.set(key, placed);
  }
  return placed;
}

/** Frozen all the way down (an answer holds only objects made for it, and parsed versions, frozen already). */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value as object)) deepFreeze(v);
  return value;
}
