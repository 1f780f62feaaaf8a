/**
 * Child process of bench/fleet.ts: the fleet consumer (startFleet: SQLite file store in WAL, ajv validation,
 * group commit, dashboard + JSON API) on its own, as it runs in production. Tells the parent over IPC:
 *   {ready, url}; {done, n, firstMs, lastMs} when `--expect N` reports have been ingested.
 * Usage (by fleet.ts): tsx bench/fleet-consumer-proc.ts --broker URL --db FILE [--expect N]
 */
import { performance } from 'node:perf_hooks';
import { startFleet } from '../fleet/src/fleet';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const expect = Number(arg('--expect') ?? 0);
const fleet = await startFleet({ brokerUrl: arg('--broker') as string, dbPath: arg('--db') as string, http: { host: '127.0.0.1', port: 0 }, sweepMs: 0 });
const c = fleet.consumer;
// Counts store commits (one per group-commit batch), to report the batch size the consumer reaches.
let commits = 0;
const store = fleet.store as unknown as { commit(): void };
const commit = store.commit.bind(store);
store.commit = () => {
  commits++;
  commit();
};
let first = 0;
// CPU time of this process from the first report to the last: less sensitive to co-tenant load than wall time.
let cpu0: NodeJS.CpuUsage | null = null;
let sent = false;
const check = () => {
  if (!first && c.counters.reports > 0) {
    first = performance.timeOrigin + performance.now();
    cpu0 = process.cpuUsage();
  }
  if (!sent && expect > 0 && c.counters.reports >= expect) {
    sent = true;
    // After the batch that holds the last report has committed (flush runs on setImmediate).
    setImmediate(() => process.send?.({ done: true, n: c.counters.reports, firstMs: first, lastMs: performance.timeOrigin + performance.now(), counters: c.counters, rss: process.memoryUsage().rss, commits, cpuMs: cpuMs() }));
  }
};
const cpuMs = () => {
  const d = process.cpuUsage(cpu0 ?? undefined);
  return (d.user + d.system) / 1000;
};
c.on('camera', check);
const poll = setInterval(check, 5);
process.send?.({ ready: true, url: fleet.url });
process.on('message', async (m: { stop?: boolean }) => {
  if (m.stop) {
    clearInterval(poll);
    await fleet.stop();
    process.exit(0);
  }
});
