/**
 * The native host (x86_64) running the agent against a simulated camera (active-12's VAPIX server and
 * rootfs) and Debian's Mosquitto:
 *   1. resident memory at steady state: the real out/agent.qjsbc at IntervalSec=1 (the config minimum),
 *      side by side with the same binary running the hello-world bundle (the empty host), sampled every second;
 *   2. 10,000 report cycles back to back (bench/fixtures/warp-prelude.js in front of the unchanged dist/agent.js;
 *      see the prelude for why), resident memory, QuickJS heap and CPU time at every 1,000th cycle;
 *   3. instructions per report cycle under `valgrind --tool=callgrind`: (Ir(N2) − Ir(N1)) / (N2 − N1), medians;
 *   4. time per report cycle, the same warp bundle in QuickJS-wasm (host-sim) vs native, interleaved.
 * Usage: tsx bench/native.ts [--quick] [--only=steady,cycles,callgrind,wasm] [--cycles=N --mark-every=M]
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import mqtt from 'mqtt';
import { startSimCamera } from '../host-sim/src/camera';
import type { LogRecord } from '../host-sim/src/sim-host';
import {
  NATIVE_BIN, OUT, QUICK, REPO, RESULTS, ensureDir, fmt, interleaved, kib, log, machine, median, mib, procCpuMs, procMemory, ratio, run, sleep, startChild, writeResult, type ResultFile, type Row,
} from './lib';
import { growthVerdict } from './trend';
import { PREFIX, WARP_CONFIG, helloBundle, nativeCamera, startMosquitto, warpBundle } from './rig';

const SCRIPT = 'native';
const CMD = `npm run bench -- native`;
const only = (process.argv.find((a) => a.startsWith('--only=')) ?? '').slice(7).split(',').filter(Boolean);
const want = (k: string) => only.length === 0 || only.includes(k);

const P = QUICK
  ? { steadySec: 4, cycles: 60, markEvery: 20, cgN1: 2, cgN2: 6, cgReps: 1, wasmCycles: 10, wasmReps: 1 }
  : { steadySec: 60, cycles: 10_000, markEvery: 250, cgN1: 10, cgN2: 60, cgReps: 3, wasmCycles: 200, wasmReps: 3 };
// A shorter or longer cycles run (e.g. --cycles=5000 --mark-every=125 on a loaded box); still ≥ 20 marks for the trend.
const num = (name: string) => Number((process.argv.find((a) => a.startsWith(`--${name}=`)) ?? '').split('=')[1]) || undefined;
P.cycles = num('cycles') ?? P.cycles;
P.markEvery = num('mark-every') ?? P.markEvery;
// "No growth" over the run: what the least-squares trend of the samples may add (bench/trend.ts).
const RSS_GROWTH_BOUND = 64 * 1024;
const HEAP_GROWTH_BOUND = 32 * 1024;

export async function main(): Promise<void> {
  const m = machine();
  const startedAt = new Date().toISOString();
  let rows: Row[] = [];
  let notes: string[] = [];
  const previous = readPrevious();
  const broker = await startMosquitto();
  const cam = await nativeCamera('active-12', broker);
  const warp = warpBundle();
  const hello = await helloBundle();
  const agentBc = path.join(REPO, 'host-native/out/agent.qjsbc');
  const serial = cam.profile.data.identity.serialNumber;
  try {
    // ---- 1. steady state ------------------------------------------------------------------------------
    if (want('steady')) {
      log(SCRIPT, `steady state: agent at IntervalSec=1 and the empty host, side by side for ${P.steadySec} s`);
      const heaps: number[] = [];
      const sub = await mqtt.connectAsync(broker.url, { clean: true });
      await sub.subscribeAsync(`${PREFIX}/${serial}/report`, { qos: 1 });
      sub.on('message', (_t, p) => {
        try {
          heaps.push((JSON.parse(p.toString()) as { health: { heapUsedBytes: number } }).health.heapUsedBytes);
        } catch {
          /* not a report */
        }
      });
      const agent = startChild(NATIVE_BIN, [...cam.args('steady', { IntervalSec: '1' }), agentBc]);
      const empty = startChild(NATIVE_BIN, [...cam.args('empty', { BenchIdleSec: String(P.steadySec + 5) }), hello]);
      const rssA: number[] = [];
      const rssE: number[] = [];
      for (let s = 0; s < P.steadySec; s++) {
        await sleep(1000);
        rssA.push(procMemory(agent.process.pid!)?.rss ?? NaN);
        rssE.push(procMemory(empty.process.pid!)?.rss ?? NaN);
      }
      const hwmA = procMemory(agent.process.pid!)?.hwm ?? NaN;
      const hwmE = procMemory(empty.process.pid!)?.hwm ?? NaN;
      const cpuA = procCpuMs(agent.process.pid!);
      agent.process.kill('SIGTERM');
      empty.process.kill('SIGTERM');
      await Promise.all([agent.exited, empty.exited]);
      await sub.endAsync();
      const emptyHeaps = [...empty.stderr().matchAll(/idle heap (\d+)/g)].map((x) => Number(x[1]));
      const tail = (xs: number[]) => xs.slice(Math.floor(xs.length / 2));
      const a = median(tail(rssA));
      const e = median(tail(rssE));
      const reports = heaps.length;
      rows.push({
        id: 's1', what: `native host RSS, steady state (IntervalSec=1, ${P.steadySec} s, ${reports} reports; median of the 2nd half, 1 s samples)`, budget: '≤ 4 MiB',
        measured: `${mib(a)} (peak VmHWM ${mib(hwmA)})`, baseline: `empty host (same binary, hello-world bundle) ${mib(e)} (peak ${mib(hwmE)})`, ratio: `${ratio(a, e)} (+${kib(a - e)})`,
        verdict: hwmA <= 4 * 2 ** 20 ? 'met' : 'miss', command: `${CMD} --only=steady`,
        note: `CPU of the agent process ${fmt(cpuA / P.steadySec, 1)} ms per second of run time at one report per second`,
      });
      rows.push({
        id: 's2', what: 'QuickJS heap (memory_used_size, as the reports carry it), steady state', budget: '— (within the 4 MiB RSS)',
        measured: `${kib(median(tail(heaps)))} median, ${kib(Math.max(...heaps))} max`, baseline: `hello-world bundle ${kib(median(emptyHeaps))}`,
        ratio: ratio(median(tail(heaps)), median(emptyHeaps)), verdict: 'info', command: `${CMD} --only=steady`,
      });
    }

    // ---- 2. 10,000 cycles --------------------------------------------------------------------------------
    if (want('cycles')) {
      log(SCRIPT, `${P.cycles} report cycles back to back`);
      const marks: Array<{ n: number; rss: number; heap: number; cpu: number; t: number }> = [];
      const child = startChild(NATIVE_BIN, [...cam.args('cycles', { ...WARP_CONFIG, BenchCycles: String(P.cycles), BenchMarkEvery: String(P.markEvery), BenchPauseMs: '400' }), warp.qjsbc]);
      let seen = 0;
      const started = Date.now();
      for (;;) {
        const re = /\[bench\] cycle (\d+) heap (\d+) t ([\d.]+)/g;
        const all = [...child.stderr().matchAll(re)];
        if (all.length > seen) {
          // Sampled inside the 400 ms pause that follows each mark: the outbox has drained, the heap is at rest.
          await sleep(250);
          const x = all[all.length - 1];
          const mem = procMemory(child.process.pid!);
          marks.push({ n: Number(x[1]), heap: Number(x[2]), t: Number(x[3]), rss: mem?.rss ?? NaN, cpu: procCpuMs(child.process.pid!) });
          seen = all.length;
          log(SCRIPT, `cycle ${x[1]}: RSS ${mib(mem?.rss ?? NaN)} heap ${kib(Number(x[2]))}`);
          if (Number(x[1]) >= P.cycles) break;
        }
        if (child.process.exitCode !== null) throw new Error(`[vigil] [bench] the agent exited early:\n${child.stderr().slice(-3000)}`);
        if (Date.now() - started > 3_600_000) throw new Error('[vigil] [bench] 10,000 cycles took over an hour');
        vacuum(cam.vapix);
        await sleep(50);
      }
      const hwm = procMemory(child.process.pid!)?.hwm ?? NaN;
      await Promise.race([child.exited, sleep(5000)]);
      if (child.process.exitCode === null) child.process.kill('SIGTERM');
      await child.exited;
      const errors = child.stderr().split('\n').filter((l) => / (error|warn) /.test(l));
      const first = marks.find((x) => x.n >= P.markEvery) ?? marks[0];
      const last = marks[marks.length - 1];
      // The trend leaves out the mark of cycle 1 (start-up) and fits every mark after it.
      const steady = marks.filter((x) => x.n >= P.markEvery);
      const xs = steady.map((x) => x.n);
      const per = { perX: 1000, perXText: '1,000 cycles' };
      const rssTrend = growthVerdict(xs, steady.map((x) => x.rss), { bound: RSS_GROWTH_BOUND, format: kib, ...per });
      const heapTrend = growthVerdict(xs, steady.map((x) => x.heap), { bound: HEAP_GROWTH_BOUND, format: kib, ...per });
      const cpuPerCycle = (last.cpu - marks[0].cpu) / (last.n - marks[0].n);
      const wallPerCycle = (last.t - marks[0].t - ((marks.length - 1) * 400)) / (last.n - marks[0].n);
      const by = (f: (x: (typeof marks)[number]) => string) => marks.map(f).join(', ');
      rows.push({
        id: 'm1', what: `native host RSS over ${P.cycles.toLocaleString('en-US')} report cycles (back to back), sampled at rest after every ${P.markEvery}th`, budget: '≤ 4 MiB, no growth',
        measured: `${mib(last.rss)} at cycle ${last.n}; ${rssTrend.text}; peak VmHWM ${mib(hwm)}`,
        baseline: `RSS at cycle ${first.n}: ${mib(first.rss)} (the trend's own start)`, ratio: '— (a trend, not a ratio)',
        verdict: hwm <= 4 * 2 ** 20 && rssTrend.noGrowth ? 'met' : 'miss', command: `${CMD} --only=cycles`,
        note: `RSS by ${P.markEvery}s: ${by((x) => (x.rss / 2 ** 20).toFixed(2))} MiB; ${errors.length} warn/error log lines${errors.length ? ` (first: ${errors[0].slice(0, 160)})` : ''}`,
      });
      rows.push({
        id: 'm2', what: `QuickJS heap (memory_used_size) over ${P.cycles.toLocaleString('en-US')} cycles, sampled at rest after every ${P.markEvery}th`, budget: '— (no growth)',
        measured: `${kib(last.heap)} at cycle ${last.n}; ${heapTrend.text}`, baseline: `${kib(first.heap)} at cycle ${first.n} (the trend's own start)`, ratio: '— (a trend, not a ratio)',
        verdict: heapTrend.noGrowth ? 'met' : 'miss', command: `${CMD} --only=cycles`,
        note: `heap by ${P.markEvery}s: ${by((x) => (x.heap / 1024).toFixed(0))} KiB. No forced GC: the host has no GC call (none in the Host seam); QuickJS frees by reference count at once and only cycles wait for its collector, so the samples are a sawtooth of cycle garbage, which the trend reads through`,
      });
      rows.push({
        id: 'm3', what: 'CPU time per report cycle, native x86_64 (utime+stime / cycles over the cycles run)', budget: '≤ 50 ms CPU',
        measured: `${fmt(cpuPerCycle, 2)} ms CPU (${fmt(wallPerCycle, 1)} ms wall, VAPIX answered by Node)`,
        // The budget is no baseline: the ratio to it was a share of a budget, not a comparison with a measurement.
        baseline: '— (the budget is in its column; QuickJS-wasm vs native is w1)', ratio: '—',
        verdict: cpuPerCycle <= 50 ? 'met' : 'miss', command: `${CMD} --only=cycles`,
      });
    }

    // ---- 3. callgrind ----------------------------------------------------------------------------------
    if (want('callgrind')) {
      log(SCRIPT, `callgrind: ${P.cgN1} and ${P.cgN2} cycles, ${P.cgReps} rounds, interleaved with the empty host`);
      const dir = ensureDir(path.join(OUT, 'callgrind'));
      let k = 0;
      const cg = async (bundle: string, extra: Record<string, string>): Promise<number> => {
        const file = path.join(dir, `cg.${k++}.out`);
        // The unstripped twin of the binary: the same code (same instruction counts), with symbols for the notes.
        const bin = existsSync(NATIVE_BIN + '-unstripped') ? NATIVE_BIN + '-unstripped' : NATIVE_BIN;
        const child = startChild('valgrind', ['--tool=callgrind', `--callgrind-out-file=${file}`, bin, ...cam.args(`cg${k}`, extra), bundle]);
        const exit = await child.exited;
        const ir = /Collected : (\d+)/.exec(child.stderr());
        if (!ir || exit.code !== 0) throw new Error(`[vigil] [bench] callgrind run failed (${JSON.stringify(exit)}):\n${child.stderr().slice(-3000)}`);
        vacuum(cam.vapix);
        return Number(ir[1]);
      };
      const samples = await interleaved(P.cgReps, {
        n1: () => cg(warp.qjsbc, { ...WARP_CONFIG, BenchCycles: String(P.cgN1), BenchMarkEvery: '100000' }),
        n2: () => cg(warp.qjsbc, { ...WARP_CONFIG, BenchCycles: String(P.cgN2), BenchMarkEvery: '100000' }),
        empty: () => cg(hello, {}),
      });
      const perCycle = samples.n2.map((x, i) => (x - samples.n1[i]) / (P.cgN2 - P.cgN1));
      const irCycle = median(perCycle);
      const irEmpty = median(samples.empty);
      // Top functions (inclusive) of the last N2 run, for the notes.
      let top = '';
      try {
        const ann = run('callgrind_annotate', ['--threshold=100', path.join(dir, `cg.${k - 2}.out`)]);
        top = ann.split('\n').filter((l) => /^\s*[\d,]+ \(/.test(l)).slice(1, 11).map((l) => l.trim().replace(/\s+/g, ' ').replace(/ \[[^\]]*\]$/, '')).join('; ');
      } catch {
        /* callgrind_annotate missing */
      }
      // Like with like: the same cycle as the previous recorded run measured it (an empty host's start-up is no
      // baseline for a report cycle; it stays in the note as what start-up costs).
      const before = previous?.rows.find((x) => x.id === 'c1');
      const beforeIr = before ? Number((/^([\d.,]+) M instructions/.exec(before.measured) ?? [])[1]?.replace(/,/g, '')) * 1e6 : NaN;
      rows.push({
        id: 'c1', what: 'instructions per report cycle, native x86_64 (valgrind --tool=callgrind, Ir)', budget: '≤ 50 ms CPU (see the CPU row)',
        measured: `${fmt(irCycle / 1e6, 1)} M instructions (rounds: ${perCycle.map((x) => (x / 1e6).toFixed(1)).join(', ')})`,
        baseline: Number.isFinite(beforeIr) ? `the same cycle in the previous recorded run (${previous?.startedAt.slice(0, 10)}): ${fmt(beforeIr / 1e6, 1)} M` : '— (no previous run recorded)',
        ratio: Number.isFinite(beforeIr) ? ratio(irCycle, beforeIr) : '—', verdict: 'info',
        note: `an empty host's start + exit is ${fmt(irEmpty / 1e6, 1)} M instructions (not a baseline for a cycle: it is start-up, which Ir(N2) − Ir(N1) cancels)`,
        command: `${CMD} --only=callgrind   # (Ir(${P.cgN2} cycles) − Ir(${P.cgN1} cycles)) / ${P.cgN2 - P.cgN1}`,
      });
      if (top) notes.push(`callgrind, self cost (exclusive Ir) of the whole ${P.cgN2}-cycle run (start-up included), top functions: ${top}`);
    }

    // ---- 4. QuickJS-wasm vs native ------------------------------------------------------------------------
    if (want('wasm')) {
      log(SCRIPT, `per-cycle time: ${P.wasmCycles} cycles in QuickJS-wasm vs native, ${P.wasmReps} rounds`);
      const overrides = { ...WARP_CONFIG, BenchCycles: String(P.wasmCycles), BenchMarkEvery: String(P.wasmCycles) };
      const perCycle = (text: string): number => {
        const all = [...text.matchAll(/\[bench\] cycle (\d+) heap \d+ t ([\d.]+)/g)].map((x) => [Number(x[1]), Number(x[2])]);
        const a = all[0];
        const b = all[all.length - 1];
        return (b[1] - a[1]) / (b[0] - a[0]);
      };
      let r = 0;
      const cpu: Record<string, number[]> = { wasm: [], native: [] };
      const samples = await interleaved(P.wasmReps, {
        native: async () => {
          const child = startChild(NATIVE_BIN, [...cam.args(`wn${r++}`, overrides), warp.qjsbc]);
          await child.waitLine(/\[bench\] done/, 600_000);
          cpu.native.push(procCpuMs(child.process.pid!) / P.wasmCycles);
          await child.exited;
          vacuum(cam.vapix);
          return perCycle(child.stderr());
        },
        wasm: async () => {
          let text = '';
          let done: () => void = () => undefined;
          const finished = new Promise<void>((res) => (done = res));
          const sink = (rec: LogRecord) => {
            if (rec.message.startsWith('[bench]')) text += rec.message + '\n';
            if (rec.message === '[bench] done') done();
          };
          const c0 = process.cpuUsage();
          const camera = await startSimCamera({
            profile: cam.profile, bundlePath: path.join(REPO, 'dist/agent.js'), bundleCode: warp.code, broker: { host: broker.host, port: broker.port },
            stateDir: ensureDir(path.join(OUT, 'sim', `w${r++}`)), overrides, log: sink,
          });
          await finished;
          const c1 = process.cpuUsage(c0);
          cpu.wasm.push((c1.user + c1.system) / 1000 / P.wasmCycles);
          await camera.stop();
          return perCycle(text);
        },
      });
      const w = median(samples.wasm);
      const n = median(samples.native);
      rows.push({
        id: 'w1', what: `wall time per report cycle, QuickJS-wasm (host-sim) vs native (${P.wasmCycles} cycles × ${P.wasmReps} rounds, interleaved)`, budget: '—',
        measured: `wasm ${fmt(w, 2)} ms (rounds ${samples.wasm.map((x) => x.toFixed(1)).join(', ')})`, baseline: `native ${fmt(n, 2)} ms (rounds ${samples.native.map((x) => x.toFixed(1)).join(', ')})`,
        ratio: ratio(w, n), verdict: 'info', command: `${CMD} --only=wasm`,
        note: `CPU per cycle: native process ${fmt(median(cpu.native), 2)} ms; simulator process (wasm + its Node host + VAPIX server) ${fmt(median(cpu.wasm), 2)} ms`,
      });
    }
  } finally {
    await cam.close();
    await broker.stop();
  }
  if (only.length && previous) ({ rows, notes } = mergePrevious(previous, rows, notes));
  writeResult({ script: SCRIPT, order: 2, quick: QUICK, startedAt, machine: m, rows, notes });
  for (const r of rows) log(SCRIPT, `${r.what}: ${r.measured} | ${r.baseline} | ${r.ratio} | ${r.verdict}`);
  void readFileSync;
}

/** bench/results/native.json as the last full-mode run left it (null in --quick mode or when absent). */
function readPrevious(): ResultFile | null {
  const f = path.join(RESULTS, 'native.json');
  return !QUICK && existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as ResultFile) : null;
}

/**
 * A run of some parts only (--only=…) keeps the other parts' rows from the previous file instead of dropping
 * them, each marked with the run it comes from; the rows this run measured replace theirs by id.
 */
function mergePrevious(previous: ResultFile, rows: Row[], notes: string[]): { rows: Row[]; notes: string[] } {
  const mine = new Set(rows.map((r) => r.id));
  const from = `measured in the run of ${previous.startedAt.slice(0, 16).replace('T', ' ')} UTC on ${previous.machine.cpu}`;
  const kept = previous.rows.filter((r) => !mine.has(r.id)).map((r) => (r.note?.includes('measured in the run of') ? r : { ...r, note: r.note ? `${r.note}; ${from}` : from }));
  const order = ['s1', 's2', 'm1', 'm2', 'm3', 'c1', 'w1'];
  const merged = [...kept, ...rows].sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  const keptNotes = (previous.notes ?? []).filter((n) => !(mine.has('c1') && n.startsWith('callgrind')));
  return { rows: merged, notes: [...keptNotes, ...notes] };
}

/** The simulated VAPIX server records every request; a long run should not grow the bench's own memory. */
function vacuum(vapix: { requests: unknown[] }): void {
  if (vapix.requests.length > 1000) vapix.requests.length = 0;
}

if (process.argv[1] && process.argv[1].endsWith('native.ts')) await main();
