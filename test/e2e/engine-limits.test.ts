/**
 * Engine limits (issue 7): an agent that goes over its memory limit or its CPU budget is stopped and
 * restarted cleanly by its host (host-sim/src/supervisor.ts), and the restarted agent says why in its
 * next report (`health.lastExit`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildAgent } from '../../build.mjs';
import { silentLogSink } from '../../host-sim/src/sim-host';
import { superviseSimCamera, type SupervisedCamera } from '../../host-sim/src/supervisor';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

beforeAll(async () => {
  await buildAgent();
});

async function until<T>(what: string, fn: () => T | null | undefined | false, timeoutMs = 25_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('engine limits in the simulator', () => {
  it('restarts an agent stopped at its CPU budget and hands the reason to the next run as lastExit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-limits-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const spin = join(dir, 'spin.js');
    // spins only on its first run: the restarted run sees lastExit and stays idle
    writeFileSync(spin, 'if (!__vigilHost.info.lastExit) __vigilHost.clock.setTimer(5, () => { for (;;) {} });\n');
    const sup: SupervisedCamera = await superviseSimCamera({
      profile: 'active-12',
      bundlePath: spin,
      broker: { host: '127.0.0.1', port: 1 },
      stateDir: join(dir, 'state'),
      log: silentLogSink,
      engine: { cpuBudgetMs: 100 },
      checkMs: 50,
    });
    cleanups.push(() => sup.stop());
    await until('a restart', () => sup.restarts === 1);
    expect(sup.camera.host.info.lastExit).toMatch(/^interrupted \(CPU budget\) at .*; restarted by the host$/);
    expect(sup.failed).toBeNull();
  });

  it('restarts an agent stopped at its memory limit and hands the reason to the next run as lastExit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-limits-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const hog = join(dir, 'hog.js');
    // grows without bound on its first run only
    writeFileSync(hog, 'if (!__vigilHost.info.lastExit) __vigilHost.clock.setTimer(5, () => { const a = []; for (;;) a.push({ s: "x".repeat(1000) + a.length }); });\n');
    const sup = await superviseSimCamera({
      profile: 'active-12',
      bundlePath: hog,
      broker: { host: '127.0.0.1', port: 1 },
      stateDir: join(dir, 'state'),
      log: silentLogSink,
      engine: { memoryLimitBytes: 4 << 20, cpuBudgetMs: 10_000 },
      checkMs: 50,
    });
    cleanups.push(() => sup.stop());
    await until('a restart', () => sup.restarts === 1);
    expect(sup.camera.host.info.lastExit).toMatch(/^out of memory at .*; restarted by the host$/);
  });
});
