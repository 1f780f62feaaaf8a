// Regression: stopping (or killing) simulated cameras while their first report cycle is in flight (VAPIX
// requests, file hashing, the MQTT connect) aborted the whole wasm module with
// `Assertion failed: list_empty(&rt->gc_obj_list)` from JS_FreeRuntime, and a stop could hang.
// Each test gets its own wasm module, so an abort here cannot poison other test files.
// The bounds below are for a busy 2-core machine, not for speed: the debug-build case alone takes ~100 s of CPU
// when quiet (32 camera starts with leak checks) and more than twice that beside two CPU hogs. A hang is still
// caught per stop by bounded(), at 15 s each.
const CPU_HEAVY_MS = 900_000;
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { TestQuickJSWASMModule } from 'quickjs-emscripten-core';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../test/helpers/broker';
import { startSimCamera, type SimCamera } from '../src/camera';
import { cloneWithSerial } from '../src/fleet';
import { loadProfile, type LoadedProfile } from '../src/profiles';
import { QuickJSRunner } from '../src/quickjs-runner';
import { newQuickJSModule, type QuickJSModuleLike } from '../src/quickjs/modules';
import { runtimesLeftBehind } from '../src/quickjs/free-runtime';
import { SimHost } from '../src/sim-host';
import { silentLogSink } from '../src/host/log';
import { contractProfile, ROOT, sleep, tempDir } from './helpers';
import { buildAgent } from '../../build.mjs';

// VIGIL_STOP_RACE_BUNDLE lets one run these tests against another agent build (how the fix was checked
// against the agent that first showed the abort).
const BUNDLE = process.env.VIGIL_STOP_RACE_BUNDLE ?? path.join(ROOT, 'dist/agent.js');

/** Settles with 'ok' or the error; 'HANG' when the stop does not settle within `ms`. */
async function bounded(p: Promise<void>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('HANG'), ms);
  });
  try {
    return await Promise.race([p.then(() => 'ok', (err: Error) => `error: ${err.message.slice(0, 300)}`), hang]);
  } finally {
    clearTimeout(timer);
  }
}

describe('stopping cameras while their first report cycle is in flight', () => {
  let broker: EmbeddedBroker;
  const tmp = tempDir('stop-race');
  let profiles: LoadedProfile[];

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) await buildAgent();
    broker = await startEmbeddedBroker();
    profiles = ['hardened', 'exposed'].map((n) => loadProfile(n));
  });

  afterAll(async () => {
    await broker.close();
    tmp.cleanup();
  });

  function start(i: number, salt: number, module: QuickJSModuleLike): Promise<SimCamera> {
    const profile = cloneWithSerial(profiles[i % profiles.length], i, salt);
    return startSimCamera({
      profile,
      bundlePath: BUNDLE,
      broker,
      stateDir: path.join(tmp.dir, `${salt}`, profile.data.identity.serialNumber),
      log: silentLogSink,
      overrides: { IntegrityPaths: '/usr/bin' },
      engine: { module },
    });
  }

  it('stopping forty cameras at once, at several instants of their first cycle, leaks no handle and never hangs', async () => {
    const module = await newQuickJSModule('release');
    // The runner contains the engine's own leak (quickjs/free-runtime.ts), which a leaked handle of ours would
    // look exactly like: none may happen here (a first cycle collects no garbage in a job).
    const leftBehind = runtimesLeftBehind();
    const results: string[] = [];
    for (const wait of [0, 400, 800, 1200]) {
      const cameras: SimCamera[] = [];
      for (let i = 0; i < 40; i++) cameras.push(await start(i, 10 + wait, module));
      await sleep(wait);
      const r = await Promise.all(cameras.map((c) => bounded(c.stop(), 15_000)));
      results.push(...r.map((x, i) => `wait ${wait} camera ${i}: ${x}`));
    }
    expect(results.filter((r) => !r.endsWith(': ok'))).toEqual([]);
    expect(runtimesLeftBehind() - leftBehind).toBe(0);
  }, CPU_HEAVY_MS);

  it('stopping a camera at any instant from 0 to 1500 ms after start leaks no handle (debug build)', async () => {
    const module = new TestQuickJSWASMModule(await newQuickJSModule('debug'));
    const results: string[] = [];
    for (let delay = 0; delay <= 1500; delay += 100) {
      // Two cameras per instant, stopped together, so host calls of one settle while the other disposes.
      const pair = await Promise.all([start(2 * delay, 2, module), start(2 * delay + 1, 2, module)]);
      await sleep(delay);
      const r = await Promise.all(pair.map((c) => bounded(c.stop(), 15_000)));
      results.push(...r.map((x) => `${delay} ms: ${x}`));
    }
    expect(results.filter((r) => !r.endsWith(': ok'))).toEqual([]);
    expect(module.getFFI().QTS_RecoverableLeakCheck()).toBe(0);
  }, CPU_HEAVY_MS);

  it('killing cameras at any instant, also in the middle of a planned stop, leaks no handle and settles', async () => {
    const module = await newQuickJSModule('release');
    const leftBehind = runtimesLeftBehind();
    const cameras: SimCamera[] = [];
    for (let i = 0; i < 20; i++) cameras.push(await start(i, 3, module));
    const results = await Promise.all(
      cameras.map(async (c, i) => {
        await sleep((i * 211) % 1200);
        // Odd cameras begin a planned stop and are killed while it waits for the agent.
        const stopping = i % 2 === 1 ? c.stop() : null;
        if (stopping) await sleep(5);
        const killed = await bounded(c.kill(), 10_000);
        return stopping ? `${killed}/${await bounded(stopping, 10_000)}` : `${killed}/ok`;
      }),
    );
    expect(results.filter((r) => r !== 'ok/ok')).toEqual([]);
    expect(runtimesLeftBehind() - leftBehind).toBe(0);
  }, CPU_HEAVY_MS);
});

describe('QuickJSRunner: kill() while stop() waits for __vigilAgent.stop()', () => {
  it('disposes the pending stop promise with the runtime (debug build: no abort)', async () => {
    const module = new TestQuickJSWASMModule(await newQuickJSModule('debug'));
    const tmp = tempDir('stop-kill');
    const host = new SimHost({ profile: contractProfile(tmp.dir), stateDir: path.join(tmp.dir, 'state'), log: silentLogSink });
    try {
      await host.prepare();
      const runner = await QuickJSRunner.create({ host, module, stopTimeoutMs: 5000 });
      host.attachRuntime(runner);
      runner.start('globalThis.__vigilAgent = { stop: function () { return new Promise(function () {}); } };');
      const stopping = runner.stop();
      await sleep(30);
      expect(() => runner.kill()).not.toThrow();
      expect(await bounded(stopping, 2000)).toBe('ok');
      expect(runner.alive).toBe(false);
      expect(module.getFFI().QTS_RecoverableLeakCheck()).toBe(0);
    } finally {
      host.close();
      tmp.cleanup();
    }
  });
});
