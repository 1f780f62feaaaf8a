/**
 * File-integrity hashing: the native host's Host.crypto.sha256File (bench/fixtures/hash.ts, the way the
 * integrity collector calls it: one file after another) against `sha256sum` over the same tree, both from
 * the page cache, interleaved, medians; digests checked equal. Then the rate cap: the same host at the
 * default HashBytesPerSec (4 MiB/s) over a subset: achieved rate and the CPU it takes per second.
 * Usage: tsx bench/hashing.ts [--quick]
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { NATIVE_BIN, OUT, QUICK, REPO, ensureDir, fmt, interleaved, log, machine, median, mib, procCpuMs, ratio, run, sleep, startChild, writeResult, type Row } from './lib';

const SCRIPT = 'hashing';
const CMD = 'npm run bench -- hashing';
const REPS = QUICK ? 1 : 7;
// A camera's integrity paths are mostly small binaries and scripts with a few large ones: mix the sizes.
const TREE = QUICK
  ? [{ n: 1, size: 1 << 20 }, { n: 16, size: 256 << 10 }, { n: 64, size: 16 << 10 }]
  : [{ n: 16, size: 8 << 20 }, { n: 256, size: 256 << 10 }, { n: 1024, size: 16 << 10 }];
const CAP = 4 * 1024 * 1024; // the agent's default HashBytesPerSec
const CAP_BYTES = QUICK ? 1 << 20 : 16 << 20;

function makeTree(root: string): { files: string[]; bytes: number } {
  const files: string[] = [];
  let bytes = 0;
  let seed = createHash('sha256').update('vigil-bench').digest();
  for (const [g, group] of TREE.entries()) {
    const dir = path.join(root, `usr/g${g}`);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < group.n; i++) {
      const rel = `/usr/g${g}/f${i}`;
      const file = path.join(root, rel);
      if (!existsSync(file) || statSync(file).size !== group.size) {
        // Deterministic, incompressible content: a SHA-256 counter stream.
        const buf = Buffer.alloc(group.size);
        for (let o = 0; o < group.size; o += 32) {
          seed = createHash('sha256').update(seed).digest();
          seed.copy(buf, o);
        }
        writeFileSync(file, buf);
      }
      files.push(rel);
      bytes += group.size;
    }
  }
  return { files, bytes };
}

export async function main(): Promise<void> {
  const m = machine();
  const startedAt = new Date().toISOString();
  const root = ensureDir(path.join(OUT, 'hashtree', QUICK ? 'quick' : 'full'));
  const { files, bytes } = makeTree(root);
  writeFileSync(path.join(root, 'files.txt'), files.join('\n') + '\n');
  const bundleJs = path.join(OUT, 'bundles/hash.js');
  ensureDir(path.dirname(bundleJs));
  await build({ entryPoints: [path.join(REPO, 'bench/fixtures/hash.ts')], outfile: bundleJs, bundle: true, format: 'iife', platform: 'neutral', target: 'es2022', minify: true, logLevel: 'warning' });
  const bundle = path.join(OUT, 'bundles/hash.qjsbc');
  run(NATIVE_BIN, ['--compile', bundleJs, bundle]);
  const data = ensureDir(path.join(OUT, 'hash-data'));
  const nativeArgs = (rate: number, verbose = false) => ['--stderr', '--no-dbus', '--root', root, '--data-dir', data, '--set', 'BrokerHost=127.0.0.1', '--set', `BenchRate=${rate}`, '--set', `BenchVerbose=${verbose ? 'yes' : 'no'}`, bundle];
  const abs = files.map((f) => path.join(root, f));

  // Correctness first: the same digests as sha256sum.
  const check = startChild(NATIVE_BIN, nativeArgs(0, true));
  await check.exited;
  const ours = new Map([...check.stderr().matchAll(/\[bench\] sum ([0-9a-f]{64}) (\S+)/g)].map((x) => [x[2], x[1]]));
  const theirs = run('sha256sum', abs).trim().split('\n').map((l) => l.split(/\s+/));
  const mismatches = theirs.filter(([sum, file]) => ours.get('/' + path.relative(root, file)) !== sum).length;
  if (mismatches) throw new Error(`[vigil] [bench] ${mismatches} digests differ from sha256sum`);

  // Warm the page cache for both.
  run('cat', abs.slice(0, 1)); 
  run('bash', ['-c', `cat ${abs.map((f) => `'${f}'`).join(' ')} > /dev/null`]);
  log(SCRIPT, `${files.length} files, ${mib(bytes)}, ${REPS} rounds interleaved`);
  const wall = async (cmd: string, args: string[]) => {
    const t = process.hrtime.bigint();
    const child = startChild(cmd, args);
    const exit = await child.exited;
    if (exit.code !== 0) throw new Error(`[vigil] [bench] ${cmd} failed: ${child.stderr().slice(-1000)}`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const samples = await interleaved(REPS, {
    native: () => wall(NATIVE_BIN, nativeArgs(0)),
    sha256sum: () => wall('sha256sum', abs),
  });
  const nat = (bytes / 2 ** 20) / (median(samples.native) / 1000);
  const ref = (bytes / 2 ** 20) / (median(samples.sha256sum) / 1000);

  // The rate cap, at the default HashBytesPerSec, over two subsets of CAP_BYTES: large files, small files.
  const pick = (pred: (size: number) => boolean): { list: string[]; bytes: number } => {
    const list: string[] = [];
    let b = 0;
    for (const f of files) {
      const size = statSync(path.join(root, f)).size;
      if (b >= CAP_BYTES || !pred(size)) continue;
      list.push(f);
      b += size;
    }
    return { list, bytes: b };
  };
  const timed = async (list: string[], rate: number) => {
    writeFileSync(path.join(root, 'files.txt'), list.join('\n') + '\n');
    // GNU time gives the child's own CPU (user + sys), measured by the kernel.
    const child = startChild('/usr/bin/time', ['-f', '[time] %U %S %e', NATIVE_BIN, ...nativeArgs(rate)]);
    await child.exited;
    const t = /\[time\] ([\d.]+) ([\d.]+) ([\d.]+)/.exec(child.stderr());
    const ms = Number((/in ([\d.]+) ms/.exec(child.stderr()) ?? [])[1] ?? NaN);
    return { ms, cpuMs: t ? (Number(t[1]) + Number(t[2])) * 1000 : NaN };
  };
  const cap: Row[] = [];
  for (const [label, set] of [['large files (≥ 1 MiB)', pick((x) => x >= 1 << 20)], ['small files (16 KiB)', pick((x) => x <= 64 << 10)]] as const) {
    const c = await timed(set.list, CAP);
    const u = await timed(set.list, 0);
    const achieved = set.bytes / (c.ms / 1000);
    cap.push({
      id: `h2-${label}`, what: `rate cap HashBytesPerSec = 4 MiB/s (the default): ${set.list.length} ${label}, ${mib(set.bytes)}`, budget: 'rate-capped by config so video is never starved',
      measured: `${fmt(achieved / 2 ** 20, 2)} MiB/s achieved in ${fmt(c.ms / 1000, 2)} s; CPU ${fmt(c.cpuMs, 0)} ms = ${fmt(c.cpuMs / c.ms * 100, 1)} % of one core`,
      baseline: `uncapped ${fmt(set.bytes / 2 ** 20 / (u.ms / 1000), 0)} MiB/s, CPU ${fmt(u.cpuMs, 0)} ms = ${fmt(u.cpuMs / u.ms * 100, 0)} % of one core`, ratio: `${((achieved / CAP) * 100).toFixed(0)} % of the cap`,
      verdict: achieved <= CAP * 1.1 ? 'met' : 'miss', command: CMD,
    });
  }
  writeFileSync(path.join(root, 'files.txt'), files.join('\n') + '\n');

  const rows: Row[] = [
    {
      id: 'h1', what: `SHA-256 throughput, native host sha256File vs sha256sum (${files.length} files, ${mib(bytes)}, page cache, ${REPS} rounds interleaved)`,
      budget: '≥ 80 % of sha256sum', measured: `${fmt(nat, 0)} MiB/s (median of ${samples.native.map((x) => x.toFixed(0)).join(', ')} ms)`,
      baseline: `sha256sum ${fmt(ref, 0)} MiB/s (median of ${samples.sha256sum.map((x) => x.toFixed(0)).join(', ')} ms)`, ratio: `${((nat / ref) * 100).toFixed(0)} %`,
      verdict: nat / ref >= 0.8 ? 'met' : 'miss', command: `${CMD}`, note: 'digests checked identical to sha256sum; wall time of whole processes (start-up included on both sides)',
    },
    ...cap,
  ];
  writeResult({ script: SCRIPT, order: 3, quick: QUICK, startedAt, machine: m, rows });
  for (const r of rows) log(SCRIPT, `${r.what}: ${r.measured} | ${r.baseline} | ${r.ratio} | ${r.verdict}`);
  void readFileSync;
}

if (process.argv[1] && process.argv[1].endsWith('hashing.ts')) await main();
