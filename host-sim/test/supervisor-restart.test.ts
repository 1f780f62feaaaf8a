// The supervisor's scripted kill-and-restart (SupervisedCamera.restart, what `vigil sim`'s kill-during-write
// fault uses) against its own restart after a limit: they take turns, and a restart asked for a run that is
// already gone starts nothing, so two runs never share a camera's data dir. Small bundles, no broker (port 1).
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { SimCamera } from '../src/camera';
import { memoryLogSink, type LogRecord } from '../src/sim-host';
import { superviseSimCamera, type SupervisorOptions } from '../src/supervisor';
import { sleep, tempDir } from './helpers';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await (cleanups.pop() as () => Promise<void> | void)();
});

async function until(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function supervise(code: string, options: Partial<SupervisorOptions> = {}) {
  const tmp = tempDir('supervisor-restart');
  cleanups.push(() => tmp.cleanup());
  const bundlePath = path.join(tmp.dir, 'bundle.js');
  writeFileSync(bundlePath, code);
  const runs: SimCamera[] = [];
  const sup = await superviseSimCamera({
    profile: 'active-12',
    bundlePath,
    broker: { host: '127.0.0.1', port: 1 },
    stateDir: path.join(tmp.dir, 'state'),
    log: memoryLogSink(),
    engine: { cpuBudgetMs: 50 },
    checkMs: 25,
    onRestart: (camera) => runs.push(camera),
    ...options,
  });
  runs.unshift(sup.camera);
  cleanups.push(() => sup.stop());
  return { sup, runs };
}

/** Idles with a timer pending, as a live agent does. */
const IDLE = '__vigilHost.clock.setTimer(60000, function () {});';
/** Spins in its first run only: the supervisor restarts it once. */
const SPINS_FIRST = `if (!__vigilHost.info.lastExit) __vigilHost.clock.setTimer(1, function () { for (;;) {} }); else ${IDLE}`;

describe('the supervisor with a scripted kill-and-restart', () => {
  it('kills the current run and starts one new run that is told why', async () => {
    const { sup, runs } = await supervise(IDLE);
    expect(await sup.restart('killed during an outbox write (simulated)')).toBe(true);
    expect(sup.restarts).toBe(1);
    expect(runs.map((r) => r.runner.alive)).toEqual([false, true]);
    expect(sup.camera.host.info.lastExit).toBe('killed during an outbox write (simulated)');
  });

  it('no-double-restart: a scripted restart of a run the supervisor already replaced starts nothing', async () => {
    const { sup, runs } = await supervise(SPINS_FIRST);
    const first = runs[0];
    await until('the limit restart', () => sup.restarts === 1);
    expect(await sup.restart('killed during an outbox write (simulated)', first)).toBe(false);
    expect(sup.restarts).toBe(1);
    expect(runs.map((r) => r.runner.alive)).toEqual([false, true]);
    expect(sup.camera.host.info.lastExit).toMatch(/^interrupted \(CPU budget\) at .*; restarted by the host$/);
  });

  it('no-double-restart: a scripted restart asked for while a limit restart is under way waits for it and starts nothing more', async () => {
    let scripted: Promise<boolean> | null = null;
    let ask: (() => Promise<boolean>) | null = null;
    const log = (r: LogRecord) => {
      if (!scripted && ask && r.message.startsWith('[host-sim] [supervisor] the engine stopped the agent')) scripted = ask();
    };
    const { sup, runs } = await supervise(SPINS_FIRST, { log });
    const first = runs[0];
    ask = () => sup.restart('killed during an outbox write (simulated)', first);
    await until('the scripted restart to be asked for', () => scripted !== null);
    expect(await scripted).toBe(false);
    await sleep(100);
    expect(sup.restarts).toBe(1);
    expect(runs.map((r) => r.runner.alive)).toEqual([false, true]);
  });

  it('two scripted restarts of the same run at once start exactly one new run', async () => {
    const { sup, runs } = await supervise(IDLE);
    const first = sup.camera;
    const results = await Promise.all([sup.restart('first kill', first), sup.restart('second kill', first)]);
    expect(results.sort()).toEqual([false, true]);
    expect(sup.restarts).toBe(1);
    expect(runs.map((r) => r.runner.alive)).toEqual([false, true]);
  });

  it('a scripted restart after a planned stop starts nothing', async () => {
    const { sup, runs } = await supervise(IDLE);
    await sup.stop();
    expect(await sup.restart('killed during an outbox write (simulated)')).toBe(false);
    expect(runs.map((r) => r.runner.alive)).toEqual([false]);
  });
});
