/**
 * Shared by the benchmark scripts: the machine, statistics, child processes, result files and the
 * BENCHMARKS.md table. Benchmarks are scripts, never timed assertions in tests.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BENCH = path.join(REPO, 'bench');
export const OUT = path.join(BENCH, '.out');
export const RESULTS = path.join(BENCH, 'results');
export const NATIVE_BIN = path.join(REPO, 'host-native/out/x86_64/vigil');

export const QUICK = process.argv.includes('--quick') || process.env.VIGIL_BENCH_QUICK === '1';

export interface Row {
  /** Stable key; rows are sorted by the order of the scripts and then by id. */
  id: string;
  what: string;
  /** The budget as DESIGN.md words it, or '—' when DESIGN.md has none for this row. */
  budget: string;
  measured: string;
  baseline: string;
  ratio: string;
  /** met | miss | info (no budget) | partial */
  verdict: 'met' | 'miss' | 'info' | 'partial';
  command: string;
  note?: string;
}

export interface ResultFile {
  script: string;
  order: number;
  quick: boolean;
  startedAt: string;
  finishedAt: string;
  machine: Machine;
  rows: Row[];
  notes?: string[];
}

export interface Machine {
  nproc: number;
  cpu: string;
  memGiB: number;
  loadStart: string;
  loadEnd?: string;
  /** CPU speed at the start of the run (calibrate()); absent in results older than issue 14. */
  speed?: string;
}

export function machine(): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    /* not Linux */
  }
  let nproc = cpus().length;
  try {
    nproc = Number(execFileSync('nproc').toString().trim()) || nproc;
  } catch {
    /* keep os.cpus() */
  }
  return { nproc, cpu, memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10, loadStart: load(), speed: calibrate() };
}

/**
 * The speed of this CPU, as it is while the run starts: the clock /proc/cpuinfo reports and the CPU time of a fixed
 * integer workload (xorshift32 steps, JIT-compiled, no memory traffic), best of 5. The same code runs ~3× slower per
 * instruction on some of the machines these benches run on, and "model name" alone (a hypervisor's "AMD EPYC",
 * "Intel(R) Xeon(R) Processor") does not say which.
 */
export function calibrate(): string {
  let mhz = '';
  try {
    const m = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) mhz = `${Math.round(Number(m[1]))} MHz, `;
  } catch {
    /* not Linux */
  }
  const steps = 20_000_000;
  let best = Infinity;
  let x = 2463534242;
  for (let round = 0; round < 5; round++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < steps; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
    }
    const c = process.cpuUsage(c0);
    best = Math.min(best, ((c.user + c.system) * 1000) / steps);
  }
  if (x === 0) best = NaN; // keeps the loop's result alive
  return `${mhz}${best.toFixed(2)} ns CPU per xorshift step`;
}

export function load(): string {
  return loadavg().map((n) => n.toFixed(2)).join(' ');
}

export function machineText(m: Machine): string {
  return `${m.nproc} × ${m.cpu}${m.speed ? ` (${m.speed})` : ''}, ${m.memGiB} GiB, load ${m.loadStart} → ${m.loadEnd ?? '?'}`;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
export const mib = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MiB`;
export const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
export const ratio = (a: number, b: number, digits = 2) => (b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(digits)}×` : 'n/a');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function log(script: string, message: string): void {
  process.stderr.write(`[vigil] [bench] [${script}] ${message}\n`);
}

/** Resident set and peak of a process, bytes (from /proc/<pid>/status). */
export function procMemory(pid: number): { rss: number; hwm: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number((new RegExp(`${k}:\\s+(\\d+) kB`).exec(s) ?? [])[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** CPU time used by a process so far, ms (utime + stime from /proc/<pid>/stat). */
export function procCpuMs(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

export interface Child {
  process: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stderr/stdout line matching re. */
  waitLine(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
}

export function startChild(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; ipc?: boolean } = {}): Child {
  const child = spawn(cmd, args, { cwd: options.cwd ?? REPO, env: options.env ?? process.env, stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: Array<{ re: RegExp; resolve: (m: RegExpExecArray) => void }> = [];
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const m = waiters[i].re.exec(out + '\n' + err);
      if (m) {
        waiters[i].resolve(m);
        waiters.splice(i, 1);
      }
    }
  };
  child.stdout?.on('data', (d) => {
    out += d;
    if (waiters.length) check();
  });
  child.stderr?.on('data', (d) => {
    err += d;
    if (err.length > 4_000_000) err = err.slice(-1_000_000);
    if (waiters.length) check();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitLine(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const m = re.exec(out + '\n' + err);
        if (m) return resolve(m);
        const timer = setTimeout(() => reject(new Error(`[vigil] [bench] timed out waiting for ${re} from ${cmd}; stderr tail:\n${err.slice(-2000)}`)), timeoutMs);
        waiters.push({ re, resolve: (x) => (clearTimeout(timer), resolve(x)) });
        exited.then(() => setTimeout(() => reject(new Error(`[vigil] [bench] ${cmd} exited before ${re}; stderr tail:\n${err.slice(-2000)}`)), 50));
      });
    },
  };
}

export function run(cmd: string, args: string[], options: { cwd?: string; input?: string | Buffer; timeoutMs?: number } = {}): string {
  return execFileSync(cmd, args, { cwd: options.cwd ?? REPO, input: options.input, timeout: options.timeoutMs ?? 30 * 60_000, maxBuffer: 256 << 20, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
}

/** Runs `fn` alternately for each subject, `reps` rounds, and returns the samples per subject. */
export async function interleaved<K extends string>(reps: number, subjects: Record<K, () => Promise<number> | number>): Promise<Record<K, number[]>> {
  const out = {} as Record<K, number[]>;
  const keys = Object.keys(subjects) as K[];
  for (const k of keys) out[k] = [];
  for (let i = 0; i < reps; i++) {
    // Alternate the order every round so neither side always runs on a warmer cache.
    const order = i % 2 ? [...keys].reverse() : keys;
    for (const k of order) out[k].push(await subjects[k]());
  }
  return out;
}

/** Writes bench/results/<file>.json (default: the script's name; a script with two parts run apart writes two). */
export function writeResult(result: Omit<ResultFile, 'finishedAt'>, file = result.script): void {
  mkdirSync(RESULTS, { recursive: true });
  const done: ResultFile = { ...result, finishedAt: new Date().toISOString() };
  done.machine.loadEnd = load();
  writeFileSync(path.join(RESULTS, `${file}${result.quick ? '.quick' : ''}.json`), JSON.stringify(done, null, 2) + '\n');
  if (!result.quick) renderBenchmarks();
}

export function ensureDir(p: string): string {
  mkdirSync(p, { recursive: true });
  return p;
}

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Regenerates the table part of BENCHMARKS.md from bench/results/*.json (full runs only). */
export function renderBenchmarks(): void {
  const files = existsSync(RESULTS) ? readdirSync(RESULTS).filter((f) => f.endsWith('.json') && !f.includes('.quick.')) : [];
  // Named baselines (fleet-baseline-*.json) live beside the results but are no table of their own.
  const results = files.map((f) => JSON.parse(readFileSync(path.join(RESULTS, f), 'utf8')) as ResultFile).filter((r) => Array.isArray(r.rows)).sort((a, b) => a.order - b.order);
  const lines: string[] = [];
  lines.push('<!-- generated by bench/lib.ts from bench/results/*.json: edit the notes in bench/NOTES.md, not here -->');
  lines.push('# Benchmarks');
  lines.push('');
  lines.push('Every row comes from a real run of `npm run bench` (scripts in `bench/`); the baseline was measured in the same run,');
  lines.push('interleaved with the subject where it is a timing, and timings are medians of repeated runs. Budgets are those of');
  lines.push('`DESIGN.md` (Budgets); KiB/MiB are 1024-based, as `build.mjs` and `host-native/package.mjs` check them.');
  lines.push('Verdict: **met**, **MISS** (cause and plan below), or *info* (no budget in DESIGN.md; reported for context).');
  const all = results.flatMap((r) => r.rows);
  const misses = all.filter((x) => x.verdict === 'miss');
  lines.push('');
  lines.push(`**Summary:** ${all.filter((x) => x.verdict === 'met').length} rows met, ${misses.length} MISS${misses.length ? ` (${misses.map((x) => x.what.split(':')[0].split(',')[0]).join('; ')})` : ''}, ${all.filter((x) => x.verdict === 'partial').length} partial (no verdict possible from what was measured), ${all.filter((x) => x.verdict === 'info').length} for information. Risks and plans: see "Misses, risks and plans" below.`);
  lines.push('');
  for (const r of results) {
    lines.push(`## ${r.script} — \`npm run bench -- ${r.script}\``);
    lines.push('');
    lines.push(`Machine: ${esc(machineText(r.machine))}. Run ${r.startedAt.replace('T', ' ').slice(0, 19)} → ${r.finishedAt.slice(11, 19)} UTC.`);
    lines.push('');
    const mc = `${r.machine.nproc} × ${r.machine.cpu}${r.machine.speed ? ` (${r.machine.speed})` : ''}, ${r.machine.memGiB} GiB, load ${r.machine.loadStart.split(' ')[0]} → ${(r.machine.loadEnd ?? '?').split(' ')[0]}`;
    lines.push('| what | budget | measured | baseline (same run) | ratio | verdict | machine (nproc, CPU, memory, 1-min load) | reproduce |');
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const row of r.rows) {
      const v = row.verdict === 'miss' ? '**MISS**' : row.verdict === 'met' ? '**met**' : row.verdict === 'partial' ? '**partial**' : '*info*';
      lines.push(`| ${esc(row.what)}${row.note ? ` <br><sub>${esc(row.note)}</sub>` : ''} | ${esc(row.budget)} | ${esc(row.measured)} | ${esc(row.baseline)} | ${esc(row.ratio)} | ${v} | ${esc(mc)} | \`${esc(row.command)}\` |`);
    }
    if (r.notes?.length) {
      lines.push('');
      for (const n of r.notes) lines.push(`- ${n}`);
    }
    lines.push('');
  }
  const notesFile = path.join(BENCH, 'NOTES.md');
  const notes = existsSync(notesFile) ? readFileSync(notesFile, 'utf8') : '';
  writeFileSync(path.join(REPO, 'BENCHMARKS.md'), lines.join('\n') + '\n' + notes);
}
