/**
 * Engine limits (issue 7): an agent that goes over its memory limit or its CPU budget is stopped and
 * restarted cleanly by its host (host-sim/src/supervisor.ts), and the restarted agent says why in its
 * next report (`health.lastExit`), received here from a real broker.
 *
 * The first two cases run a wrapper: dist/agent.js itself, behind a first run that misbehaves while
 * `__vigilHost.info.lastExit` is null (so the restarted run is the real agent). The third runs the real
 * agent alone, under a memory limit below its own heap: the simulator's limit counts bytes
 * (QuickJSRunner.checkMemory), so the agent is stopped there as a device would stop it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildAgent } from '../../build.mjs';
import { startSimCamera, type SimCamera } from '../../host-sim/src/camera';
import { loadProfile } from '../../host-sim/src/profiles';
import { silentLogSink } from '../../host-sim/src/sim-host';
import { superviseSimCamera, type SupervisedCamera, type SupervisorOptions } from '../../host-sim/src/supervisor';
import { BROKERS_UNDER_TEST as brokers, type BrokerUnderTest as Broker } from '../helpers/brokers-under-test';
import { assertValidReport } from '../helpers/schemas';
import { Subscriber } from '../helpers/subscriber';
import type { Report } from '../../agent/src/report/types';
import { waitUntil } from '../helpers/wait';

const BUNDLE = join(__dirname, '../../dist/agent.js');
const SERIAL = loadProfile('active-12').data.identity.serialNumber;
const KiB = 1024;
const MiB = 1024 * KiB;

const LAST_EXIT = (reason: string) =>
  new RegExp(`^${reason.replace(/[()]/g, '\\$&')} at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z; restarted by the host$`);

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

// npm test builds dist/ first; rebuilding it here rewrote dist/agent.js in place while other test files read it.
beforeAll(async () => {
  if (!existsSync(BUNDLE)) await buildAgent();
});

const until = <T>(what: string, fn: () => T | null | undefined | false, timeoutMs = 25_000): Promise<T> =>
  waitUntil(what, fn, { timeoutMs, pollMs: 25 });

/**
 * dist/agent.js behind a first run that does `misbehave` instead. The bundle is `"use strict";` + one IIFE;
 * keeping the directive first keeps the agent's own code strict, as it is when loaded alone.
 */
function wrapAgent(dir: string, misbehave: string): string {
  const agent = readFileSync(BUNDLE, 'utf8');
  const strict = '"use strict";';
  if (!agent.startsWith(strict)) throw new Error('[vigil] [test] dist/agent.js no longer starts with "use strict": update wrapAgent');
  const file = join(dir, 'first-run-misbehaves.js');
  writeFileSync(file, `${strict}\nif (!__vigilHost.info.lastExit) {\n${misbehave}\n} else {\n${agent.slice(strict.length)}\n}\n`);
  return file;
}

describe.each(brokers)('engine limits in the simulator, reports over $name', (brokerKind) => {
  let broker: Broker;
  let subscriber: Subscriber;

  beforeAll(async () => {
    broker = await brokerKind.start();
    subscriber = await Subscriber.connect(broker.url, [`vigil/v1/${SERIAL}/report`]);
  });

  afterAll(async () => {
    await subscriber?.close();
    await broker?.close();
  });

  async function supervise(bundlePath: string, options: Partial<SupervisorOptions>) {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-limits-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const runs: SimCamera[] = [];
    since = subscriber.messages.length;
    const sup: SupervisedCamera = await superviseSimCamera({
      profile: 'active-12',
      bundlePath,
      broker,
      stateDir: join(dir, 'state'),
      log: silentLogSink,
      checkMs: 50,
      onRestart: (camera) => runs.push(camera),
      ...options,
    });
    runs.unshift(sup.camera);
    cleanups.push(() => sup.stop());
    return { sup, runs, dir };
  }

  /** Messages before this index came from earlier tests (same serial, same broker). */
  let since = 0;

  /** The first report of this test over the broker whose health.lastExit matches. */
  function nextReport(lastExit: RegExp): Promise<Report> {
    const topic = `vigil/v1/${SERIAL}/report`;
    return subscriber.waitFor(
      `a report with health.lastExit ~ ${lastExit}`,
      () =>
        subscriber.messages
          .slice(since)
          .filter((m) => m.topic === topic)
          .map((m) => JSON.parse(m.payload.toString('utf8')) as Report)
          .find((r) => typeof r.health?.lastExit === 'string' && lastExit.test(r.health.lastExit)),
      25_000,
    );
  }

  it('restarts an agent stopped at its CPU budget, and its next report says so in health.lastExit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-limits-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const bundle = wrapAgent(dir, '__vigilHost.clock.setTimer(5, function () { for (;;) {} });');
    const { sup, runs } = await supervise(bundle, { engine: { cpuBudgetMs: 100 } });
    const report = await nextReport(LAST_EXIT('interrupted (CPU budget)'));
    assertValidReport(report);
    expect(sup.restarts).toBe(1);
    expect(runs[0].runner.alive).toBe(false);
    expect(runs[0].runner.stats.lastError).toMatchObject({ where: 'timer', message: 'interrupted' });
    expect(report.health.lastExit).toBe(sup.camera.host.info.lastExit);
    expect(sup.failed).toBeNull();
  });

  it('restarts an agent stopped at its memory limit, and its next report says so in health.lastExit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-limits-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // 64 KiB more every millisecond, kept: over 4 MiB of bytes in well under a second.
    const bundle = wrapAgent(dir, 'var keep = []; (function grow() { keep.push("x".repeat(65536 + keep.length)); __vigilHost.clock.setTimer(1, grow); })();');
    const { sup, runs } = await supervise(bundle, { engine: { memoryLimitBytes: 4 * MiB } });
    const report = await nextReport(LAST_EXIT('out of memory'));
    assertValidReport(report);
    expect(sup.restarts).toBe(1);
    expect(runs[0].runner.alive).toBe(false);
    expect(runs[0].runner.stats.lastError?.where).toBe('memory');
    expect(report.health.heapLimitBytes).toBe(4 * MiB);
    expect(report.health.lastExit).toBe(sup.camera.host.info.lastExit);
  });

  it('wasm-limit-counts-blocks-not-bytes: stops the real agent when its heap in bytes goes over a limit below it, and the restarted agent reports why', async () => {
    // The agent's heap is ~380 KB as counted against the limit right after loading (QuickJSRunner.heapBytes):
    // 256 KiB is below it, so the first run is stopped as soon as it is loaded; the restart gets 16 MiB.
    const { sup, runs } = await supervise(BUNDLE, {
      engine: { memoryLimitBytes: 256 * KiB },
      restartEngine: { memoryLimitBytes: 16 * MiB },
    });
    const report = await nextReport(LAST_EXIT('out of memory'));
    assertValidReport(report);
    expect(sup.restarts).toBe(1);
    expect(runs[0].runner.alive).toBe(false);
    expect(runs[0].runner.stats.lastError?.where).toBe('memory');
    expect(runs[0].runner.stats.lastError?.message).toMatch(/over the limit of 262144$/);
    expect(report.health.heapLimitBytes).toBe(16 * MiB);
    // what the restarted agent holds is more than the first run was allowed
    expect(report.health.heapUsedBytes).toBeGreaterThan(256 * KiB);
    await until('the restarted agent to run on', () => runs[1].runner.stats.memoryChecks > 2);
    expect(runs[1].runner.exitReason).toBeNull();
    expect(sup.failed).toBeNull();
  });

  it('stops the real agent that grows over its memory limit while it runs, and the restarted agent reports why', async () => {
    // A limit 4 KiB above the agent's heap right after loading (measured on a probe run of the same bundle):
    // loading passes, then the report cycles' allocations (and the wasm build's late first GC) take it over.
    const dir = mkdtempSync(join(tmpdir(), 'vigil-limits-probe-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const probe = await startSimCamera({ profile: 'active-12', bundlePath: BUNDLE, broker: { host: '127.0.0.1', port: 1 }, stateDir: dir, log: silentLogSink });
    const loaded = probe.runner.heapBytes();
    await probe.stop();
    const limit = loaded + 4 * KiB;
    const { sup, runs } = await supervise(BUNDLE, {
      engine: { memoryLimitBytes: limit },
      restartEngine: { memoryLimitBytes: 16 * MiB },
      overrides: { IntervalSec: '1' },
    });
    expect(runs[0].runner.exitReason).toBeNull();
    const report = await nextReport(LAST_EXIT('out of memory'));
    assertValidReport(report);
    expect(sup.restarts).toBe(1);
    expect(runs[0].runner.stats.lastError?.where).toBe('memory');
    expect(runs[0].runner.stats.lastError?.message).toMatch(new RegExp(`over the limit of ${limit}$`));
    expect(report.health.heapLimitBytes).toBe(16 * MiB);
  });
});
