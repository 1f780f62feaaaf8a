/**
 * `npm run bench -- dashboard`: the fleet page with 5,000 cameras in Chromium against a baseline of 50 in the same
 * run (issue 15, item 6). The measuring is the browser test's (test/e2e/dashboard-scale.browser.test.ts, which
 * asserts only structure); with VIGIL_BENCH_RESULT=1 it writes bench/results/dashboard.json and BENCHMARKS.md.
 */
import { log, run } from './lib';

export async function main(): Promise<void> {
  process.env.VIGIL_BENCH_RESULT = '1';
  log('dashboard', run('npx', ['vitest', 'run', 'test/e2e/dashboard-scale.browser.test.ts']).split('\n').find((l) => l.includes('dashboard scale')) ?? 'done');
}
