// The native host's hash rate cap is one token bucket across sha256File calls (BENCHMARKS.md miss 1: pacing
// per call let files smaller than a chunk go at full speed). A cap is checked from below only: hashing
// N small files must take at least (bytes − one chunk of burst) / rate, which no slow or loaded machine can
// break; the same bucket is checked exactly on a virtual clock in host-sim/test/sim-host-hash-cap.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BUILD_TIMEOUT_MS, TARGETS, ensureBuilt, runNative, tempDir } from './helpers';

const KiB = 1024;
const FILES = 32;
const SIZE = 16 * KiB; // smaller than a chunk (rate / 8 = 32 KiB): never slowed by per-call pacing
const RATE = 256 * KiB;
const BURST = RATE / 8;

// Hashes /hash/f0.. one after another, as the integrity collector does, and reports the engine's own timing.
const SCRIPT = `
const host = globalThis.__vigilHost;
(async () => {
  const t0 = host.clock.monotonic();
  const sums = [];
  for (let i = 0; i < ${FILES}; i++) sums.push(await host.crypto.sha256File('/hash/f' + i, ${RATE}));
  globalThis.__hashResult = { ms: host.clock.monotonic() - t0, distinct: new Set(sums).size };
})().catch((e) => { globalThis.__hashResult = { error: String(e) }; });
`;

describe('native sha256File rate cap across calls', () => {
  const tmp = tempDir('hashcap');

  beforeAll(() => {
    ensureBuilt();
    const dir = path.join(tmp.dir, 'root/hash');
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < FILES; i++) writeFileSync(path.join(dir, `f${i}`), Buffer.alloc(SIZE, i));
    writeFileSync(path.join(tmp.dir, 'hash.js'), SCRIPT);
  }, BUILD_TIMEOUT_MS);

  afterAll(() => tmp.cleanup());

  for (const target of TARGETS) {
    it(`hash-cap-per-call: paces ${FILES} files of 16 KiB to 256 KiB/s on average ${target.label}`, async () => {
      const run = await runNative(target, [
        '--stderr', '--no-dbus',
        '--root', path.join(tmp.dir, 'root'),
        '--data-dir', path.join(tmp.dir, `data-${target.arch}`),
        '--set', 'DataDir=/data',
        '--print-global', '__hashResult',
        path.join(tmp.dir, 'hash.js'),
      ]);
      expect(run.code, `exit code; stderr:\n${run.stderr}`).toBe(0);
      const result = JSON.parse(run.stdout.trim().split('\n').pop() ?? 'null') as { ms?: number; distinct?: number; error?: string };
      expect(result.error).toBeUndefined();
      expect(result.distinct).toBe(FILES);
      // 512 KiB at 256 KiB/s is 2 s; the first chunk comes from the full bucket: at least 1.875 s.
      expect(result.ms).toBeGreaterThanOrEqual(((FILES * SIZE - BURST) / RATE) * 1000 - 5);
    });
  }
});
