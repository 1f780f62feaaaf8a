// Smoke test of the benchmark scripts (bench/): they run end to end in --quick mode and produce filled rows.
// No timing is asserted here: benchmarks are scripts, their numbers live in BENCHMARKS.md (npm run bench).
import { describe, expect, it, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BUILD_TIMEOUT_MS, REPO, ensureBuilt } from '../host-native/test/helpers';

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
