// The remembered part of an evaluation (placement-cache.ts): what the OS version and SoC decide is computed once per
// tables, build and time window, and is always what evaluating afresh at that moment gives.
import { describe, expect, it } from 'vitest';
import { loadTables, type Tables } from '../src/data';
import { evaluate } from '../src/evaluate';
import { MAX_PLACEMENTS } from '../src/placement-cache';
import { makeReport } from './fixtures';

const tables = loadTables();
const DAY = 86_400_000;
const VERSIONS = ['6.50.5.7', '9.80.3.12', '10.12.228', '11.5.64', '11.11.140', '12.4.59', '12.11.77', '12.12.1', '99.1.1', 'not-a-version'];
const SOCS = ['Ambarella CV25', 'ARTPEC-7', null];
/** Another tables object with the same contents: nothing is remembered for it, so it evaluates afresh. */
const afresh = (t: Tables): Tables => ({ ...t });

describe('remembered placements', () => {
  it('are computed once per build: two cameras on it share one answer', () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    const a = evaluate(makeReport({ version: '10.12.228', soc: 'ARTPEC-7' }), tables, now);
    const b = evaluate(makeReport({ version: '10.12.228', soc: 'ARTPEC-7' }), tables, now + 1000);
    expect(b.advisories).toBe(a.advisories);
    expect(b.target).toBe(a.target);
  });

  it('give what evaluating afresh gives at every track end, grace end and midnight, in any order of times', () => {
    const edges = tables.tracks.flatMap((t) => [t.endMs, t.graceEndMs]).filter((ms): ms is number => ms !== null);
    const times = edges.flatMap((ms) => [ms - DAY, ms, ms + 1, ms + DAY]);
    // Backwards too: a clock set back must not get a later window's answer.
    for (const now of [...times, ...[...times].reverse()]) {
      for (const version of VERSIONS) {
        for (const soc of SOCS) {
          const report = makeReport({ version, soc });
          expect(evaluate(report, tables, now), `${version} on ${soc} at ${new Date(now).toISOString()}`).toEqual(evaluate(report, afresh(tables), now));
        }
      }
    }
  });

  it('count the days left down at midnight', () => {
    const ending = tables.tracks.filter((t) => t.endMs !== null && t.endMs > Date.parse('2026-01-01')).sort((a, b) => a.endMs! - b.endMs!)[0];
    const version = ending.latest;
    const before = evaluate(makeReport({ version }), tables, ending.endMs! - DAY - 1);
    const after = evaluate(makeReport({ version }), tables, ending.endMs! - DAY + 1);
    expect(before.daysLeft).toBe(1);
    expect(after.daysLeft).toBe(0);
    expect(evaluate(makeReport({ version }), tables, ending.endMs! + 1).support).toBe('end-of-life');
  });

  it('are not shared with other tables: reloaded tables are evaluated with their own contents', () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    const report = makeReport({ version: '11.11.140', soc: 'ARTPEC-7' });
    const before = evaluate(report, tables, now);
    const withAdvisory: Tables = {
      ...tables,
      advisories: { ...tables.advisories, advisories: [...tables.advisories.advisories, { id: 'TEST-1', title: 'test', cvss: 9.8, affected: [{ prefix: '11.11', fixed: null, fixConfirmed: false }] }] },
    };
    expect(before.advisories.map((a) => a.id)).not.toContain('TEST-1');
    expect(evaluate(report, withAdvisory, now).advisories.map((a) => a.id)).toContain('TEST-1');
  });

  it('are frozen: no caller can change another camera\'s advisories or target', () => {
    const e = evaluate(makeReport({ version: '9.80.3.12', soc: 'ARTPEC-7' }), tables, Date.parse('2026-11-25T12:00:00Z'));
    expect(e.advisories.length).toBeGreaterThan(0);
    expect(() => (e.advisories as unknown[]).push({})).toThrow();
    expect(() => Object.assign(e.advisories[0], { id: 'x' })).toThrow();
    expect(() => Object.assign(e.target as object, { version: 'x' })).toThrow();
  });

  it('stay right past the bound on how many builds are remembered', () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    const odd = Array.from({ length: MAX_PLACEMENTS + 10 }, (_, i) => `12.${i % 50}.${i}`);
    for (const version of odd) evaluate(makeReport({ version }), tables, now);
    for (const version of ['12.11.77', odd[0], odd[odd.length - 1]]) {
      expect(evaluate(makeReport({ version }), tables, now)).toEqual(evaluate(makeReport({ version }), afresh(tables), now));
    }
  });
});
