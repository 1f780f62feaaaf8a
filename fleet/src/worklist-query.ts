/**
 * The filters of /api/actions, /api/actions.csv and the worklist page: urgency, kind (each one value or a comma
 * list), serial (exact), q (case-insensitive text in serial, model, OS version or title), and a bounded limit.
 * Pure: the worklist and the query in, the answer out, so the JSON, the CSV and the PDF agree on what a filter
 * selects.
 */
import { ACTION_KINDS, URGENCIES, type Worklist } from './actions/types';
import { countItems, filterItems, type WorklistFilter } from './actions/worklist';
import { queryLimit } from './query-limit';

export type { WorklistFilter } from './actions/worklist';

export const DEFAULT_LIMIT = 500;
export const MAX_LIMIT = 5000;
/** Data older than this many days gets a warning on the dashboard and in the PDF. */
export const STALE_DATA_DAYS = 90;
const DAY = 86_400_000;

export type Counts = Worklist['counts'];

/** What /api/actions answers: the Worklist (counts over the whole fleet) plus what the filter matched. */
export interface WorklistAnswer extends Worklist {
  generatedAt: string;
  /** Whole days from each table's `updated` date to the server's now; null when the date does not parse. */
  dataAgeDays: { lifecycle: number | null; advisories: number | null; actions: number | null };
  /** True when the lifecycle or advisories data is older than STALE_DATA_DAYS. */
  dataStale: boolean;
  filter: WorklistFilter;
  /** Counts over the items the filter matched (before the limit). */
  matched: Counts;
  /** True when more items matched than `limit` let through. */
  truncated: boolean;
}

/** A query the filters cannot read, e.g. an urgency that does not exist: a 400 with this message. */
export class FilterError extends Error {}

/** The limit: a whole number in 0…MAX_LIMIT; anything that is not a number, or is negative, gets the default. */
export function parseLimit(raw: string | null, fallback = DEFAULT_LIMIT): number {
  return queryLimit(raw, { fallback, max: MAX_LIMIT, min: 0 });
}

function listOf<T extends string>(params: URLSearchParams, name: string, allowed: readonly T[]): T[] {
  const out: T[] = [];
  for (const raw of params.getAll(name)) {
    for (const part of raw.split(',')) {
      const v = part.trim();
      if (v === '') continue;
      if (!(allowed as readonly string[]).includes(v)) throw new FilterError(`[vigil] [fleet] unknown ${name} "${v.slice(0, 40)}" (one of ${allowed.join(', ')})`);
      if (!out.includes(v as T)) out.push(v as T);
    }
  }
  return out;
}

export function parseFilter(params: URLSearchParams, defaultLimit = DEFAULT_LIMIT): WorklistFilter {
  const text = (name: string) => {
    const v = params.get(name)?.trim();
    return v ? v.slice(0, 200) : null;
  };
  return {
    urgency: listOf(params, 'urgency', URGENCIES),
    kind: listOf(params, 'kind', ACTION_KINDS),
    serial: text('serial'),
    q: text('q'),
    limit: parseLimit(params.get('limit'), defaultLimit),
  };
}

/** Whole days from an ISO date to now; null when it does not parse. */
export function ageDays(date: string, nowMs: number): number | null {
  const t = Date.parse(date);
  return Number.isNaN(t) ? null : Math.max(0, Math.floor((nowMs - t) / DAY));
}

export function answerQuery(worklist: Worklist, f: WorklistFilter, nowMs: number): WorklistAnswer {
  const matched = filterItems(worklist, f);
  const dataAgeDays = {
    lifecycle: ageDays(worklist.data.lifecycle, nowMs),
    advisories: ageDays(worklist.data.advisories, nowMs),
    actions: ageDays(worklist.data.actions, nowMs),
  };
  return {
    counts: worklist.counts,
    data: worklist.data,
    generatedAt: new Date(nowMs).toISOString(),
    dataAgeDays,
    dataStale: isStale(dataAgeDays.lifecycle) || isStale(dataAgeDays.advisories),
    filter: f,
    matched: countItems(matched),
    truncated: matched.length > f.limit,
    items: matched.slice(0, f.limit),
  };
}

/** A date that does not parse counts as stale: nobody can say how old it is. */
function isStale(days: number | null): boolean {
  return days === null || days > STALE_DATA_DAYS;
}
