// `vigil sim --count N` over worker threads (issue 14): the split, serials unique across threads, every
// camera's report arriving at a real Mosquitto, and a worker that dies or fails to start reported, not ignored.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSim } from '../src/cli';
import { splitCameras, startSimThreads, type SimThreadsOptions } from '../src/sim-threads';
import { DEFAULT_BUNDLE, fileLimitWarning } from '../src/cli-flags';
import { writeFileSync } from 'node:fs';
import { startMosquitto } from '../../test/helpers/mosquitto';
import { Subscriber } from '../../test/helpers/subscriber';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await (cleanups.pop() as () => Promise<void> | void)();
});

const STUB = new URL('./fixtures/sim-worker-stub.mjs', import.meta.url);

function stubOptions(failAt: number, how: 'die' | 'refuse', lines: string[]): SimThreadsOptions {
  return {
    profiles: ['active-12'], count: 6, perWorker: 2, startRatePerSec: 0, bundlePath: DEFAULT_BUNDLE, broker: { host: '127.0.0.1', port: 1 },
    stateRoot: '/nonexistent', overrides: { FailAt: String(failAt), How: how }, logLevel: 'warn', workerScript: STUB, write: (l) => lines.push(l), stopTimeoutMs: 10_000,
  };
}

describe('vigil sim over worker threads', () => {
  it('splits the cameras over ceil(count / perWorker) threads as evenly as can be, every index once', () => {
    expect(splitCameras(10_000, 2000)).toEqual([0, 2000, 4000, 6000, 8000].map((firstIndex) => ({ firstIndex, count: 2000 })));
    const odd = splitCameras(7, 3);
    expect(odd).toEqual([{ firstIndex: 0, count: 3 }, { firstIndex: 3, count: 2 }, { firstIndex: 5, count: 2 }]);
    expect(splitCameras(5, 2000)).toEqual([{ firstIndex: 0, count: 5 }]);
  });

  it('runs 3 threads × 2 cameras against Mosquitto: every camera reports, with serials unique across threads, and Ctrl-C stops them all', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.stop());
    const sub = await Subscriber.connect(broker.url, ['vigil/v1/+/report']);
    cleanups.push(() => sub.client.endAsync(true));
    const state = mkdtempSync(join(tmpdir(), 'vigil-sim-threads-'));
    cleanups.push(() => rmSync(state, { recursive: true, force: true }));
    const stop = new AbortController();
    const run = runSim(['--profile', 'active-12', '--count', '6', '--per-worker', '2', '--start-rate', '20', '--broker', broker.url, '--interval', '5', '--state', state], stop.signal);
    const serials = () => new Set(sub.messages.map((m) => m.topic.split('/')[2]));
    await sub.waitFor('a report from each of the 6 cameras', () => serials().size >= 6, 180_000);
    stop.abort();
    expect(await run).toBe(0);
    const seen = [...serials()].sort();
    expect(seen).toHaveLength(6);
    // The serials one process would give camera 0..5 of active-12 (fleet.ts, cloneWithSerial): ACCC8E + index.
    expect(seen.map((s) => s.slice(6))).toEqual(['000000', '000001', '000002', '000003', '000004', '000005']);
    // VAPIX answered each camera on its thread's shared listener, routed to that camera's own server.
    for (const m of sub.messages) {
      const report = JSON.parse(m.payload.toString('utf8')) as { device: { serial: string }; errors: unknown[] };
      expect(report.device.serial).toBe(m.topic.split('/')[2]);
      expect(report.errors).toEqual([]);
    }
  }, 240_000);

  it('reports a worker that dies after starting and ends the run', async () => {
    const lines: string[] = [];
    const threads = await startSimThreads(stubOptions(2, 'die', lines));
    expect(threads.workers).toBe(3);
    expect(threads.cameras).toBe(6);
    expect(await threads.ended).toBe('died');
    expect(lines).toEqual([expect.stringMatching(/^\[vigil\] \[sim\] worker 2 of 3 \(cameras 2–3\) died: .*boom \(test\).*; its cameras are gone, stopping the others$/s)]);
    await threads.stop();
  }, 60_000);

  it('fails the start when a worker cannot start its cameras, naming it, and stops the others', async () => {
    const lines: string[] = [];
    await expect(startSimThreads(stubOptions(4, 'refuse', lines))).rejects.toThrow(/^\[vigil\] \[sim\] worker 3 of 3 \(cameras 4–5\) could not start its cameras: no camera would start \(test\)$/);
  }, 60_000);

  it('refuses a --per-worker that is not a positive integer, naming the flag', async () => {
    const err: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await runSim(['--profile', 'active-12', '--count', '3', '--per-worker', '0', '--broker', 'mqtt://127.0.0.1:1'])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(err.join('')).toContain('[vigil] [cli] --per-worker must be an integer 1..1000000, got "0"');
  });

  it('warns when the cameras need more open files than ulimit -n allows, and not below it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-limits-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const limits = join(dir, 'limits');
    writeFileSync(limits, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                20000                files\n');
    expect(fileLimitWarning(10_000, 1, limits)).toBeNull();
    expect(fileLimitWarning(10_000, 2, limits)).toBe('[vigil] [sim] 10000 cameras need about 20100 open files (2 each), over this process\'s limit of 20000: raise it (ulimit -n 20100)');
  });
});
