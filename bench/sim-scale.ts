/**
 * The simulator as load (issue 14): `vigil sim --profile all --count 10000 --interval 300` in one command
 * (worker threads, default 2,000 cameras each) against Debian's Mosquitto. Measures the time until every
 * camera is online, then over a steady window (one report interval by default): resident memory (the whole
 * process, per camera), wasm memory per camera (what the CLI prints at exit: every thread's module, its peak),
 * and CPU per report (process CPU over the window / reports the broker delivered in it).
 * Baseline, same run, after the fleet stopped: the native x86_64 host's CPU per report cycle (the warp bundle,
 * cycles back to back, as bench/native.ts), and the same warp bundle in one simulated camera (like for like).
 * Worker threads share one VAPIX listener each, so a camera holds one open file (its broker connection).
 */
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import mqtt from 'mqtt';
import { startSimCamera } from '../host-sim/src/camera';
import type { LogRecord } from '../host-sim/src/sim-host';
import { NATIVE_BIN, OUT, QUICK, REPO, ensureDir, fmt, log, median, mib, procCpuMs, procMemory, ratio, sleep, startChild, type Row } from './lib';
import { PREFIX, WARP_CONFIG, nativeCamera, startMosquitto, warpBundle } from './rig';

const SCRIPT = 'sim';
const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
/** VIGIL_BENCH_SCALE_COUNT, _PER_WORKER, _WINDOW override the size (a smaller run on a busy machine; the rows say which). */
export const SCALE = QUICK
  ? { count: 30, perWorker: 10, interval: 20, steadySec: 20, startRate: 30, cycles: 10 }
  : {
      count: env('VIGIL_BENCH_SCALE_COUNT', 10_000),
      perWorker: env('VIGIL_BENCH_SCALE_PER_WORKER', 2000),
      interval: 300,
      steadySec: env('VIGIL_BENCH_SCALE_WINDOW', 300),
      startRate: 100,
      cycles: 200,
    };

interface ScaleRun {
  allOnlineSec: number;
  workers: number;
  steadyRss: number;
  peakRss: number;
  steadyCpuMs: number;
  windowSec: number;
  reports: number;
  wasmMiB: number;
  wasmKiBPerCamera: number;
}

async function fleetRun(): Promise<ScaleRun> {
  const broker = await startMosquitto({ extraLines: ['max_queued_messages 1000000'] });
  const online = new Set<string>();
  let reports = 0;
  const watcher = await mqtt.connectAsync(broker.url, { clean: true, clientId: `bench-scale-${process.pid}` });
  await watcher.subscribeAsync([`${PREFIX}/+/state`, `${PREFIX}/+/report`], { qos: 0 });
  watcher.on('message', (topic, payload) => {
    const [, , serial, kind] = topic.split('/');
    if (kind === 'report') reports++;
    else if (kind === 'state' && payload.includes('"online"')) online.add(serial);
  });
  const state = ensureDir(path.join(OUT, 'sim-scale-state'));
  rmSync(state, { recursive: true, force: true });
  const sim = [path.join(REPO, 'bin/vigil.mjs'), 'sim', '--profile', 'all', '--count', String(SCALE.count), '--per-worker', String(SCALE.perWorker),
    '--start-rate', String(SCALE.startRate), '--broker', broker.url, '--interval', String(SCALE.interval), '--state', state];
  const t0 = Date.now();
  const child = startChild('node', sim);
  const pid = child.process.pid as number;
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, procMemory(pid)?.rss ?? 0)), 1000);
  try {
    let lastLog = 0;
    while (online.size < SCALE.count) {
      if (child.process.exitCode !== null) throw new Error(`[vigil] [bench] vigil sim exited: ${child.stderr().slice(-3000)}`);
      if (Date.now() - t0 > 60 * 60_000) throw new Error(`[vigil] [bench] only ${online.size} of ${SCALE.count} online after 60 min`);
      if (Date.now() - lastLog > 30_000) {
        lastLog = Date.now();
        log(SCRIPT, `scale: ${online.size} of ${SCALE.count} online after ${((Date.now() - t0) / 1000).toFixed(0)} s, RSS ${mib(procMemory(pid)?.rss ?? NaN)}`);
      }
      await sleep(500);
    }
    const allOnlineSec = (Date.now() - t0) / 1000;
    log(SCRIPT, `scale: ${SCALE.count} online in ${fmt(allOnlineSec, 1)} s; steady window ${SCALE.steadySec} s`);
    // The start-up burst (each camera's first cycle) is over when the last camera is online; a short settle.
    await sleep(10_000);
    const c1 = procCpuMs(pid);
    const r1 = reports;
    const s1 = Date.now();
    const rss: number[] = [];
    while (Date.now() - s1 < SCALE.steadySec * 1000) {
      await sleep(5000);
      rss.push(procMemory(pid)?.rss ?? NaN);
    }
    const steadyCpuMs = procCpuMs(pid) - c1;
    const windowSec = (Date.now() - s1) / 1000;
    const windowReports = reports - r1;
    child.process.kill('SIGTERM');
    await Promise.race([child.exited, sleep(180_000)]);
    if (child.process.exitCode === null) child.process.kill('SIGKILL');
    const m = /wasm memory: ([\d.]+) MiB in (\d+) threads \((\d+) KiB per camera\)/.exec(child.stderr());
    return {
      allOnlineSec, workers: m ? Number(m[2]) : NaN, steadyRss: median(rss), peakRss, steadyCpuMs, windowSec, reports: windowReports,
      wasmMiB: m ? Number(m[1]) : NaN, wasmKiBPerCamera: m ? Number(m[3]) : NaN,
    };
  } finally {
    clearInterval(sampler);
    if (child.process.exitCode === null) child.process.kill('SIGKILL');
    await watcher.endAsync(true);
    await broker.stop();
    rmSync(state, { recursive: true, force: true });
  }
}

/** CPU per report cycle, ms: the native host and one simulated camera, the same warp bundle, back to back. */
async function perCycleBaseline(): Promise<{ native: number; sim: number }> {
  const broker = await startMosquitto();
  const cam = await nativeCamera('active-12', broker);
  const warp = warpBundle();
  const overrides = { ...WARP_CONFIG, BenchCycles: String(SCALE.cycles), BenchMarkEvery: String(SCALE.cycles) };
  try {
    const child = startChild(NATIVE_BIN, [...cam.args('scale-native', overrides), warp.qjsbc]);
    await child.waitLine(/\[bench\] done/, 600_000);
    const native = procCpuMs(child.process.pid as number) / SCALE.cycles;
    await child.exited;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((res) => (done = res));
    const sink = (rec: LogRecord) => {
      if (rec.message === '[bench] done') done();
    };
    const c0 = process.cpuUsage();
    const camera = await startSimCamera({
      profile: cam.profile, bundlePath: path.join(REPO, 'dist/agent.js'), bundleCode: warp.code, broker: { host: broker.host, port: broker.port },
      stateDir: ensureDir(path.join(OUT, 'sim', 'scale-warp')), overrides, log: sink,
    });
    await finished;
    const c1 = process.cpuUsage(c0);
    await camera.stop();
    return { native, sim: (c1.user + c1.system) / 1000 / SCALE.cycles };
  } finally {
    await cam.close();
    await broker.stop();
  }
}

/** The rows x6 (memory) and x7 (CPU per report) of `npm run bench -- sim`. */
export async function scaleRows(cmd: string): Promise<Row[]> {
  // Cameras report once at start and then every interval: a shorter window sees only the cameras that started
  // in its first part (none at all when every camera started within interval − window), so CPU per report is wrong.
  if (SCALE.steadySec < SCALE.interval) {
    throw new Error(`[vigil] [bench] VIGIL_BENCH_SCALE_WINDOW (${SCALE.steadySec} s) is shorter than the report interval (${SCALE.interval} s): the window would not see one report per camera`);
  }
  log(SCRIPT, `scale: ${SCALE.count} simulated cameras, IntervalSec ${SCALE.interval}, ${SCALE.perWorker} per worker thread`);
  const f = await fleetRun();
  log(SCRIPT, `scale: baseline, ${SCALE.cycles} warp cycles native and in one simulated camera`);
  const base = await perCycleBaseline();
  const perReport = f.reports ? f.steadyCpuMs / f.reports : NaN;
  const n = SCALE.count.toLocaleString('en-US');
  const how = `vigil sim --profile all --count ${SCALE.count} --interval ${SCALE.interval}: ${f.workers} worker threads of ${SCALE.perWorker}`;
  return [
    {
      id: 'x6', what: `${n} simulated cameras in one command (${how}), memory at steady state`, budget: '— (fits in one machine)',
      measured: `RSS ${mib(f.steadyRss)} median (${fmt(f.steadyRss / SCALE.count / 1024, 0)} KiB per camera; peak ${mib(f.peakRss)}); wasm memory ${fmt(f.wasmMiB, 0)} MiB (${fmt(f.wasmKiBPerCamera, 0)} KiB per camera)`,
      baseline: '—', ratio: '—', verdict: 'info', command: cmd,
      note: `all ${n} online ${fmt(f.allOnlineSec, 0)} s after the command (starts paced at ${SCALE.startRate}/s); wasm memory is each thread's module at exit (it only grows: the peak)`,
    },
    {
      id: 'x7', what: `${n} simulated cameras, CPU per report at steady state (${fmt(f.windowSec, 0)} s window, ${f.reports} reports delivered)`, budget: 'issue 14: ≤ 1.5× native CPU per report',
      measured: `${fmt(perReport, 2)} ms CPU per report (${fmt((f.steadyCpuMs / f.windowSec / 1000) * 100, 1)} % of one core)`,
      baseline: `native x86_64 host ${fmt(base.native, 2)} ms per report cycle (warp bundle, ${SCALE.cycles} cycles back to back; one simulated camera, same bundle: ${fmt(base.sim, 2)} ms)`,
      ratio: ratio(perReport, base.native), verdict: perReport <= 1.5 * base.native ? 'met' : 'miss', command: cmd,
      note: `like for like (the warp cycle, one camera): simulator ${ratio(base.sim, base.native)} native. The ${n}-camera cycle is a real ${SCALE.interval} s cycle (VAPIX, hashing, MQTT), not the warp cycle`,
    },
  ];
}

/** What the result file says about its size when it is not the default 10,000 (VIGIL_BENCH_SCALE_*). */
export function scaleNotes(): string[] {
  if (QUICK || SCALE.count === 10_000) return [];
  return [`A smaller run than the default 10,000: VIGIL_BENCH_SCALE_COUNT=${SCALE.count} VIGIL_BENCH_SCALE_PER_WORKER=${SCALE.perWorker} VIGIL_BENCH_SCALE_WINDOW=${SCALE.steadySec}.`];
}
