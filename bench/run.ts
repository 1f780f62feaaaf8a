/**
 * `npm run bench [-- NAME...] [--quick] [--no-build]`: runs the benchmark scripts one after the other (never
 * in parallel: they would measure each other) and regenerates BENCHMARKS.md from bench/results/*.json after
 * each full (not --quick) script, so partial results survive an interrupted run.
 *   sizes    dist/agent.js, bytecode, native binaries, .eap (builds first with npm run package)
 *   native   native host RSS (steady, 10,000 cycles), QuickJS heap, CPU and callgrind per cycle, wasm vs native
 *   hashing  sha256File vs sha256sum, the rate cap
 *   fleet    consumer ingest vs mosquitto_sub, publish → API latency
 *   dashboard the fleet page with 5,000 cameras in Chromium vs 50 (first render, a live update, bytes)
 *   sim      1,000 simulated cameras, reconnect storm
 * --quick runs each in seconds (tiny sizes; results go to bench/results/*.quick.json and not to BENCHMARKS.md).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { BENCH, NATIVE_BIN, QUICK, log, renderBenchmarks, run } from './lib';

const ALL = ['sizes', 'native', 'hashing', 'fleet', 'dashboard', 'sim'] as const;
const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !(ALL as readonly string[]).includes(n));
if (unknown.length) {
  process.stderr.write(`[vigil] [bench] unknown benchmark ${unknown.join(', ')}; known: ${ALL.join(', ')}\n`);
  process.exit(2);
}
const chosen = names.length ? ALL.filter((n) => names.includes(n)) : [...ALL];
if (!process.argv.includes('--no-build') && !chosen.includes('sizes')) {
  // The other scripts need dist/agent.js, the x86_64 host and its bytecode; sizes builds everything itself.
  log('run', 'building: node build.mjs && host-native/build.sh x86_64');
  run('node', ['build.mjs']);
  run('bash', [path.join(BENCH, '../host-native/build.sh'), 'x86_64']);
}
let failed = 0;
for (const name of chosen) {
  if (name !== 'sizes' && !existsSync(NATIVE_BIN)) throw new Error(`[vigil] [bench] ${NATIVE_BIN} is missing: run host-native/build.sh`);
  const t = Date.now();
  log('run', `${name}${QUICK ? ' (quick)' : ''}`);
  try {
    const mod = (await import(`./${name}.ts`)) as { main(): Promise<void> };
    await mod.main();
    log('run', `${name} done in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  } catch (err) {
    failed++;
    log('run', `${name} failed: ${(err as Error).stack ?? err}`);
  }
}
if (!QUICK) renderBenchmarks();
process.exit(failed ? 1 : 0);
