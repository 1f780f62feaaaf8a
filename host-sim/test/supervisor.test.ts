// The simulator's supervisor (issue 7) beyond a single restart: its give-up path, its restart window (the
// native host's policy), and a planned stop that comes while a restart is under way. Small bundles, no
// broker (port 1): what is checked is which runs exist and whether any of them still runs.
// Also the scripted kill-and-restart (SupervisedCamera.restart, what `vigil sim`'s kill-during-write fault
// uses) against the restart after a limit: they take turns, and a restart asked for a run that is already
// gone starts nothing, so two runs never share a camera's data dir.
// The CPU budget counts CPU time: a run whose thread is preempted or blocked is not restarted as if it looped.
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { SimCamera } from '../src/camera';
import { memoryLogSink, type LogRecord } from '../src/host/log';
import { superviseSimCamera, type SupervisorOptions } from '../src/supervisor';
import { blockThread, preemptedClocks, sleep, tempDir } from './helpers';
import { waitUntil } from '../../test/helpers/wait';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await (cleanups.pop() as () => Promise<void> | void)();
});

const until = (what: string, fn: () => boolean, timeoutMs = 10_000) => waitUntil(what, fn, { timeoutMs, pollMs: 10 });

/** Supervises `code` on the active-12 profile; every run it starts is kept in `runs`. */
async function supervise(code: string, options: Partial<SupervisorOptions> = {}) {
  const tmp = tempDir('supervisor');
  cleanups.push(() => tmp.cleanup());
  const bundlePath = path.join(tmp.dir, 'bundle.js');
  writeFileSync(bundlePath, code);
  const logs = memoryLogSink();
  const runs: SimCamera[] = [];
  const gaveUp: string[] = [];
  const sup = await superviseSimCamera({
    profile: 'active-12',
    bundlePath,
    broker: { host: '127.0.0.1', port: 1 },
    stateDir: path.join(tmp.dir, 'state'),
    log: logs,
    engine: { cpuBudgetMs: 50 },
    checkMs: 25,
    onRestart: (camera) => runs.push(camera),
    onGiveUp: (text) => gaveUp.push(text),
    ...options,
  });
  runs.unshift(sup.camera);
  cleanups.push(() => sup.stop());
  return { sup, runs, logs, gaveUp };
}

/** Idles with a timer pending, as a live agent does. */
const IDLE = '__vigilHost.clock.setTimer(60000, function () {});';
/** Spins at every start: each run is stopped at its CPU budget. */
const ALWAYS_SPINS = '__vigilHost.clock.setTimer(1, function () { for (;;) {} });';

describe('the simulator supervisor', () => {
  // The busy machine is the issue's: a slice preempted while the host was installed was interrupted, so the
  // restart failed ('InternalError: interrupted' from installHost) before the wall-clock budget was replaced.
  it.each([
    ['', undefined],
    [' (on a machine so busy that every slice is preempted for longer than its budget)', preemptedClocks],
  ])('gives up after maxRestarts restarts within the window and leaves the camera stopped%s', async (_machine, clocks) => {
    const engine = { cpuBudgetMs: 50, budgetClocks: clocks?.() };
    const { sup, runs, gaveUp, logs } = await supervise(ALWAYS_SPINS, { maxRestarts: 2, engine });
    await until('giving up', () => sup.failed !== null);
    expect(sup.failed).toBe('gave up after 2 restarts within 600 s; last: interrupted (CPU budget)');
    expect(gaveUp).toEqual([sup.failed]);
    expect(logs.records.filter((r) => /^\[host-sim\] \[supervisor\] /.test(r.message)).map((r) => `${r.level} ${r.message}`)).toEqual([
      'warn [host-sim] [supervisor] the engine stopped the agent (interrupted (CPU budget)); restarting it (1 of 2 within 600 s)',
      'warn [host-sim] [supervisor] the engine stopped the agent (interrupted (CPU budget)); restarting it (2 of 2 within 600 s)',
      'error [host-sim] [supervisor] gave up after 2 restarts within 600 s; last: interrupted (CPU budget); the camera stays stopped',
    ]);
    expect(sup.restarts).toBe(2);
    expect(runs).toHaveLength(3);
    expect(runs.map((r) => r.runner.alive)).toEqual([false, false, false]);
    // and it stays given up
    await sleep(200);
    expect(sup.restarts).toBe(2);
    expect(sup.camera).toBe(runs[2]);
  });

  it('does not restart an agent whose thread was stopped for longer than its budget in the middle of a slice', async () => {
    // The simulator's twin of the native SIGSTOP test: the thread blocks inside a host call made by the agent.
    const code = `__vigilHost.log("info", "stop the thread"); for (var i = 0; i < 100000; i++) {} ${IDLE}`;
    const log = (r: LogRecord) => {
      if (r.message === 'stop the thread') blockThread(300);
    };
    const { sup, runs } = await supervise(code, { log });
    expect(sup.camera.runner.exitReason).toBeNull();
    expect(sup.camera.started).toEqual({ ok: true });
    await sleep(100);
    expect(sup.restarts).toBe(0);
    expect(sup.failed).toBeNull();
    expect(runs.map((r) => r.runner.alive)).toEqual([true]);
  });

  it('does not give up when the earlier restarts fall outside the restart window', async () => {
    const { sup } = await supervise(ALWAYS_SPINS, { maxRestarts: 1, restartWindowMs: 1 });
    await until('three restarts', () => sup.restarts >= 3);
    expect(sup.failed).toBeNull();
  });

  it('gives up at once with maxRestarts 0, after stopping the run', async () => {
    const { sup, runs } = await supervise(ALWAYS_SPINS, { maxRestarts: 0 });
    await until('giving up', () => sup.failed !== null);
    expect(sup.failed).toMatch(/^gave up after 0 restarts/);
    expect(runs).toHaveLength(1);
    expect(runs[0].runner.alive).toBe(false);
  });

  it('dates lastExit by when the engine stopped the agent, not when the supervisor got to it', async () => {
    const { sup, runs } = await supervise(`if (!__vigilHost.info.lastExit) ${ALWAYS_SPINS}`, { checkMs: 60_000 });
    await until('a restart', () => sup.restarts === 1);
    const at = runs[0].runner.exitAt as number;
    expect(sup.camera.host.info.lastExit).toBe(`interrupted (CPU budget) at ${new Date(at).toISOString()}; restarted by the host`);
  });

  it('a planned stop while the old run says goodbye starts no new run and leaves nothing running', async () => {
    // The first run spins, then takes 300 ms to stop: the planned stop comes in the middle of that.
    const code = `__vigilAgent = { stop: function () { __vigilHost.log("info", "goodbye"); return new Promise(function (r) { __vigilHost.clock.setTimer(300, r); }); } };
if (!__vigilHost.info.lastExit) ${ALWAYS_SPINS}`;
    let stopping: Promise<void> | null = null;
    let stopFn: (() => Promise<void>) | null = null;
    const log = (r: LogRecord) => {
      if (r.message === 'goodbye' && !stopping && stopFn) stopping = stopFn();
    };
    const { sup, runs } = await supervise(code, { log });
    stopFn = () => sup.stop();
    await until('the planned stop', () => stopping !== null);
    await stopping;
    await sleep(100);
    expect(sup.restarts).toBe(0);
    expect(runs).toHaveLength(1);
    expect(runs[0].runner.alive).toBe(false);
    expect(runs[0].runner.stats.timers).toBe(0);
  });

  it('a planned stop while the new run starts lets it start, then stops it: nothing is left running', async () => {
    // The restarted run logs "second run" while it is evaluated, inside the supervisor's restart.
    const code = `if (!__vigilHost.info.lastExit) ${ALWAYS_SPINS}
else { __vigilHost.log("info", "second run"); __vigilHost.clock.setTimer(60000, function () {}); }`;
    let stopping: Promise<void> | null = null;
    let stopFn: (() => Promise<void>) | null = null;
    const log = (r: LogRecord) => {
      if (r.message === 'second run' && !stopping && stopFn) stopping = stopFn();
    };
    const { sup, runs } = await supervise(code, { log });
    stopFn = () => sup.stop();
    await until('the planned stop', () => stopping !== null);
    await stopping;
    expect(sup.restarts).toBe(1);
    expect(runs).toHaveLength(2);
    expect(runs.map((r) => r.runner.alive)).toEqual([false, false]);
    expect(runs[1].runner.stats.timers).toBe(0);
    expect(sup.camera).toBe(runs[1]);
    await sleep(100);
    expect(sup.restarts).toBe(1);
  });
});

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
