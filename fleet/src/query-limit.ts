/**
 * The `limit` of a list in the JSON API, bounded: a query cannot ask for everything. Anything that is not a number,
 * negative (SQLite reads LIMIT -1 as no limit) or empty gets the default; the rest is floored into [min, max].
 */
export function queryLimit(raw: string | null, o: { fallback: number; max: number; min?: number }): number {
  const min = o.min ?? 1;
  if (raw === null || raw.trim() === '') return o.fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) return o.fallback;
  return Math.min(Math.max(Math.floor(n), min), o.max);
}
