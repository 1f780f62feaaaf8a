// The QuickJS runner's limits and lifetimes: memory limit, CPU budget per slice (CPU time, not wall time),
// stack limit, timers and handles disposed on stop (proved with the debug-sync build, whose dispose aborts on
// a leaked handle).
import { afterEach, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { TestQuickJSWASMModule } from 'quickjs-emscripten-core';
import { QuickJSRunner } from '../src/quickjs-runner';
import { newQuickJSModule } from '../src/quickjs/modules';
import { SimHost } from '../src/sim-host';
import { memoryLogSink, type LogRecord } from '../src/host/log';
import { engineThreadClocks } from '../src/quickjs/cpu-budget';
import { blockThread, contractProfile, preemptedClocks, sleep, startEchoServer, tempDir } from './helpers';
import { waitUntil } from '../../test/helpers/wait';
import { runtimesLeftBehind } from '../src/quickjs/free-runtime';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await (cleanups.pop() as () => Promise<void> | void)();
});

function makeHost(onLog?: (record: LogRecord) => void) {
  const tmp = tempDir('runner');
  const logs = memoryLogSink();
  const log = (r: LogRecord) => {
    logs(r);
    onLog?.(r);
  };
  const host = new SimHost({ profile: contractProfile(tmp.dir), stateDir: path.join(tmp.dir, 'state'), log });
  cleanups.push(() => {
    host.close();
    tmp.cleanup();
  });
  return { host, logs };
}

async function makeRunner(options: Partial<Parameters<typeof QuickJSRunner.create>[0]> = {}, onLog?: (record: LogRecord) => void) {
  const { host, logs } = makeHost(onLog);
  await host.prepare();
  const runner = await QuickJSRunner.create({ host, ...options });
  host.attachRuntime(runner);
  cleanups.push(() => runner.stop());
  return { runner, host, logs };
}

describe('QuickJSRunner', () => {
  it('gives a bundle that allocates without end an out-of-memory error and keeps running', async () => {
    // Many small objects: the wasm build has no malloc_usable_size, so its accounting charges a fixed
    // overhead per allocation and does not see the bytes of big strings or ArrayBuffers (see the report).
    const { runner } = await makeRunner({ memoryLimitBytes: 4 << 20, cpuBudgetMs: 10_000 });
    const r = runner.start('(function () { const a = []; for (let i = 0; ; i++) a.push({ i: i, s: "x" + i }); })();');
    expect(r.ok).toBe(false);
    expect(r.error?.message).toMatch(/out of memory/);
    expect(runner.exitReason).toBe('out of memory');
    expect(runner.evalJson('1 + 1')).toBe(2);
  });

  it('interrupts an infinite loop at the CPU budget', async () => {
    const { runner } = await makeRunner({ cpuBudgetMs: 100 });
    const cpu0 = engineThreadClocks.cpuMs();
    const r = runner.start('for (;;) {}');
    // Bounded in CPU time: the wall time it takes depends on how busy the machine is.
    expect(engineThreadClocks.cpuMs() - cpu0).toBeLessThan(2000);
    expect(r.ok).toBe(false);
    expect(r.error?.message).toMatch(/interrupted/);
    expect(runner.exitReason).toBe('interrupted (CPU budget)');
    expect(runner.evalJson('"still alive"')).toBe('still alive');
  });

  it('does not interrupt a slice whose thread is blocked in a host call for longer than its budget', async () => {
    // What a long preemption or a SIGSTOP in the middle of a slice looks like: wall time passes, CPU time does not.
    const { runner } = await makeRunner({ cpuBudgetMs: 50 }, (r) => {
      if (r.message === 'block') blockThread(300);
    });
    const r = runner.start('__vigilHost.log("info", "block"); for (var i = 0; i < 100000; i++) {} globalThis.done = true;');
    expect(r).toEqual({ ok: true });
    expect(runner.exitReason).toBeNull();
    expect(runner.getGlobalJson('done')).toBe(true);
  });

  it('does not interrupt a slice on a thread preempted for longer than its budget between any two polls', async () => {
    const { runner } = await makeRunner({ cpuBudgetMs: 50, budgetClocks: preemptedClocks() });
    const r = runner.start('for (var i = 0; i < 100000; i++) {} globalThis.done = true;');
    expect(r).toEqual({ ok: true });
    expect(runner.exitReason).toBeNull();
    expect(runner.getGlobalJson('done')).toBe(true);
  });

  it('still interrupts an infinite loop on such a thread, once it has spent its budget in CPU time', async () => {
    const { runner } = await makeRunner({ cpuBudgetMs: 50, budgetClocks: preemptedClocks() });
    const r = runner.start('for (;;) {}');
    expect(r.ok).toBe(false);
    expect(r.error?.message).toMatch(/interrupted/);
    expect(runner.exitReason).toBe('interrupted (CPU budget)');
  });

  it('interrupts an infinite loop inside a timer callback and counts the error', async () => {
    const { runner, logs } = await makeRunner({ cpuBudgetMs: 100 });
    expect(runner.start('__vigilHost.clock.setTimer(1, function () { for (;;) {} });').ok).toBe(true);
    // 100 ms of CPU time: as long in wall time as the machine makes it.
    await waitUntil('the interrupt', () => runner.stats.errors > 0, { pollMs: 10 });
    expect(runner.stats.errors).toBe(1);
    expect(runner.stats.lastError?.where).toBe('timer');
    expect(logs.records.some((l) => l.level === 'error' && /timer: InternalError: interrupted/.test(l.message))).toBe(true);
  });

  it('turns deep recursion into an engine error, not a host crash', async () => {
    const { runner } = await makeRunner();
    const r = runner.start('function f(n) { return f(n + 1) + 1; } f(0);');
    expect(r.ok).toBe(false);
    expect(`${r.error?.name}: ${r.error?.message}`).toMatch(/(RangeError|InternalError).*(stack overflow|call stack)/i);
    expect(runner.evalJson('[1, 2].length')).toBe(2);
  });

  it('reports a rejection from an async timer callback (the wasm build reports none itself)', async () => {
    const { runner } = await makeRunner();
    runner.start('__vigilHost.clock.setTimer(1, async function () { await null; throw new Error("late failure"); });');
    await sleep(100);
    expect(runner.stats.errors).toBe(1);
    expect(runner.stats.lastError).toMatchObject({ where: 'timer (async)', message: 'late failure' });
  });

  it('rejects host promises with an Error that has code and message', async () => {
    const { runner } = await makeRunner();
    runner.start(
      '__vigilHost.fs.readFile("/no/such/file", 10).catch(function (e) { globalThis.r = { isError: e instanceof Error, code: e.code, message: e.message }; });',
    );
    await sleep(100);
    expect(runner.getGlobalJson('r')).toEqual({ isError: true, code: 'ENOENT', message: 'ENOENT: /no/such/file' });
  });

  it('passes bytes both ways as ArrayBuffer', async () => {
    const { runner } = await makeRunner();
    runner.start(
      'var b = new Uint8Array([97, 98, 99]).buffer; globalThis.h = __vigilHost.crypto.sha256(b); globalThis.n = __vigilHost.crypto.randomBytes(5) instanceof ArrayBuffer;',
    );
    expect(runner.getGlobalJson('h')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(runner.getGlobalJson('n')).toBe(true);
  });

  it('reports heap use and the limit through memory()', async () => {
    const { runner, host } = await makeRunner({ memoryLimitBytes: 8 << 20 });
    runner.start('globalThis.m = __vigilHost.memory();');
    const m = runner.getGlobalJson<{ usedBytes: number; limitBytes: number }>('m');
    expect(m?.limitBytes).toBe(8 << 20);
    expect(m?.usedBytes).toBeGreaterThan(10_000);
    expect(host.memory().usedBytes).toBeGreaterThan(10_000);
  });

  it('awaits __vigilAgent.stop() before disposing', async () => {
    const { runner, logs } = await makeRunner();
    runner.start(
      'globalThis.__vigilAgent = { stop: function () { return new Promise(function (r) { __vigilHost.clock.setTimer(30, function () { __vigilHost.log("info", "agent stopped"); r(); }); }); } };',
    );
    await runner.stop();
    expect(logs.records.map((l) => l.message)).toContain('agent stopped');
    expect(runner.alive).toBe(false);
  });

  it('gives up on a stop() that never settles after stopTimeoutMs', async () => {
    const { runner } = await makeRunner({ stopTimeoutMs: 150 });
    runner.start('globalThis.__vigilAgent = { stop: function () { return new Promise(function () {}); } };');
    const t0 = Date.now();
    await runner.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(runner.alive).toBe(false);
  });

  it('clears and disposes every timer on stop', async () => {
    const { runner, host } = await makeRunner();
    runner.start('for (var i = 0; i < 3; i++) __vigilHost.clock.setTimer(60000, function () {});');
    expect(runner.stats.timers).toBe(3);
    expect(host.pendingTimers()).toBe(3);
    await runner.stop();
    expect(runner.stats.timers).toBe(0);
    expect(host.pendingTimers()).toBe(0);
  });

  it('leaks no handle on stop with timers, host calls and sockets pending (debug-sync)', async () => {
    const module = new TestQuickJSWASMModule(await newQuickJSModule('debug'));
    const echo = await startEchoServer();
    cleanups.push(() => echo.close());
    const { runner, host } = await makeRunner({ module });
    // A leaked handle makes JS_FreeRuntime abort, which the runner would contain as the engine's own leak.
    const leftBehind = runtimesLeftBehind();
    const r = runner.start(`
      var h = __vigilHost;
      h.clock.setTimer(60000, function () {});
      h.clock.setTimer(5, function () { globalThis.fired = true; });
      h.net.connect({ host: '127.0.0.1', port: ${echo.port}, timeoutMs: 2000 }).then(function (s) {
        globalThis.sock = s;
        return h.net.read(s); // stays pending: the echo server says nothing first
      });
      h.fs.stat('/contract/hello.txt').then(function (st) { globalThis.size = st.size; });
      globalThis.__vigilAgent = { stop: async function () { await h.fs.mkdir(h.config().DataDir + '/x'); } };
    `);
    expect(r).toEqual({ ok: true });
    const until = Date.now() + 3000;
    while (!(runner.getGlobalJson('sock') && runner.getGlobalJson('fired') && runner.getGlobalJson('size')) && Date.now() < until) await sleep(10);
    expect(runner.stats.pendingHostCalls).toBe(1); // the read
    expect(runner.stats.timers).toBe(1);
    await runner.stop();
    host.close();
    // The leak sanitizer of the debug build; TestQuickJSWASMModule's runtime count is not usable here
    // (0.32.0 never removes a disposed runtime from it), so its leak check is called directly.
    expect(module.getFFI().QTS_RecoverableLeakCheck()).toBe(0);
    expect(module.contexts.size).toBe(0);
    expect(runtimesLeftBehind()).toBe(leftBehind);
  });

  it('would notice a leaked handle: the debug build fails dispose', async () => {
    // The control for the test above: a handle left alive makes runtime disposal fail loudly.
    const module = new TestQuickJSWASMModule(await newQuickJSModule('debug'));
    const rt = module.newRuntime();
    const vm = rt.newContext();
    vm.newObject(); // leaked on purpose
    expect(() => {
      vm.dispose();
      rt.dispose();
    }).toThrow();
  });
});
