import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonDepth } from '../src/ingest/json-depth';
import { check, seeds } from '../../test/helpers/fc-seed';

/** The nesting of a parsed value, the oracle. */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (v !== null && typeof v === 'object') return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

describe('jsonDepth', () => {
  it.each(seeds(1414))('gives the nesting of any JSON text, whatever its strings hold (%s)', (_label, seed) => {
    check(fc.property(fc.jsonValue({ maxDepth: 8 }), (v) => {
      expect(jsonDepth(JSON.stringify(v))).toBe(depthOf(v));
    }), seed, 500);
  });

  it('does not count brackets inside strings, also after escaped quotes and backslashes', () => {
    expect(jsonDepth(JSON.stringify({ a: '[[[{{"\\"]]]', b: ['\\', '"', '\\"[', '{'] }))).toBe(2);
    expect(jsonDepth('{"a":"x\\\\"}')).toBe(1);
    expect(jsonDepth('{"a":"x\\\\\\"[[["}')).toBe(1);
  });

  it('stops early once past the bound', () => {
    expect(jsonDepth('['.repeat(100_000), 64)).toBe(65);
  });

  it('returns what it saw for an unterminated string (JSON.parse rejects the text)', () => {
    expect(jsonDepth('[[{"a":"no end')).toBe(3);
  });
});
