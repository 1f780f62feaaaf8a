// Smoke test of the benchmark scripts (bench/): they run end to end in --quick mode and produce filled rows.
// No timing is asserted here: benchmarks are scripts, their numbers live in BENCHMARKS.md (npm run bench).
import { describe, expect, it, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BUILD_TIMEOUT_MS, REPO, ensureBuilt } from '../host-native/test/helpers';
import { growthVerdict, trend } from '../bench/trend';

const TSX = path.join(REPO, 'node_modules/.bin/tsx');

describe('npm run bench -- --quick', () => {
  beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);

  it('runs sizes, native and hashing in quick mode and fills every row', () => {
    execFileSync(TSX, ['bench/run.ts', 'sizes', 'native', 'hashing', '--quick', '--no-build', '--only=steady,cycles,wasm'], { cwd: REPO, stdio: 'pipe', timeout: 90_000 });
    for (const name of ['sizes', 'native', 'hashing']) {
      const result = JSON.parse(readFileSync(path.join(REPO, `bench/results/${name}.quick.json`), 'utf8')) as {
        machine: { nproc: number; cpu: string };
        rows: Array<{ measured: string; baseline: string; ratio: string; command: string }>;
      };
      expect(result.machine.nproc).toBeGreaterThan(0);
      expect(result.rows.length).toBeGreaterThan(0);
      for (const row of result.rows) {
        for (const field of [row.measured, row.baseline, row.ratio, row.command]) expect(field, JSON.stringify(row)).not.toMatch(/^$|NaN|n\/a/);
      }
    }
  }, 120_000);
});

describe('bench/trend.ts: memory growth from a least-squares trend', () => {
  const xs = Array.from({ length: 40 }, (_, i) => i * 250);
  const kb = (y: number) => `${(y / 1024).toFixed(1)} KiB`;

  it('finds the slope and intercept of an exact line', () => {
    const t = trend([0, 1, 2, 3], [10, 12, 14, 16]);
    expect(t.slope).toBeCloseTo(2, 10);
    expect(t.intercept).toBeCloseTo(10, 10);
    expect(t.residualSd).toBeCloseTo(0, 10);
    expect(t.growth).toBeCloseTo(6, 10);
  });

  it('calls a flat sawtooth no growth although its last sample is above its first', () => {
    const ys = xs.map((_, i) => 1_000_000 + (i % 5) * 20_000);
    expect(ys[ys.length - 1]).toBeGreaterThan(ys[0]);
    expect(growthVerdict(xs, ys, { bound: 64 * 1024, format: kb }).noGrowth).toBe(true);
  });

  it('calls a steady climb growth even when it stays under the bound', () => {
    const ys = xs.map((_, i) => 1_000_000 + i * 100);
    const v = growthVerdict(xs, ys, { bound: 64 * 1024, format: kb });
    expect(v.trend.growth).toBeLessThan(64 * 1024);
    expect(v.noGrowth).toBe(false);
  });

  it('calls growth past the bound growth even inside a noisy sawtooth', () => {
    const ys = xs.map((_, i) => 1_000_000 + i * 4_000 + (i % 2) * 200_000);
    expect(growthVerdict(xs, ys, { bound: 64 * 1024, format: kb }).noGrowth).toBe(false);
  });

  it('gives no verdict of no growth from fewer than 20 samples', () => {
    const v = growthVerdict([0, 1, 2, 3, 4], [5, 5, 5, 5, 5], { bound: 1, format: String });
    expect(v.noGrowth).toBe(false);
    expect(v.text).toMatch(/≥ 20 samples/);
  });

  it('refuses fewer than 3 samples or mismatched lengths', () => {
    expect(() => trend([0, 1], [1, 2])).toThrow(/at least 3/);
    expect(() => trend([0, 1, 2], [1, 2])).toThrow(/3 x values for 2 y values/);
  });
});
