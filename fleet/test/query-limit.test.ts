// The `limit` of every list in the JSON API is bounded: ?limit=-1 once asked SQLite for every row (issue 15, item 8).
import { describe, expect, it } from 'vitest';
import { queryLimit } from '../src/query-limit';

const o = { fallback: 100, max: 1000 };

describe('queryLimit', () => {
  it('gives the default for a negative limit, which SQLite would read as none', () => {
    expect([queryLimit('-1', o), queryLimit('-5000', o)]).toEqual([100, 100]);
  });
  it('gives the default for text, an empty value, or no value', () => {
    expect([queryLimit('abc', o), queryLimit('', o), queryLimit(null, o), queryLimit('Infinity', o), queryLimit('1e400', o)]).toEqual([100, 100, 100, 100, 100]);
  });
  it('caps a large limit at the maximum', () => {
    expect(queryLimit('99999999', o)).toBe(1000);
  });
  it('floors a fraction and keeps at least the minimum', () => {
    expect([queryLimit('7.9', o), queryLimit('0', o), queryLimit('0', { ...o, min: 0 })]).toEqual([7, 1, 0]);
  });
});
