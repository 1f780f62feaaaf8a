/**
 * Child process of bench/fleet.ts: the fleet consumer (startFleet: its store, ajv validation, group commit,
 * dashboard + JSON API) on its own, as it runs in production. Tells the parent over IPC:
 *   {ready, url}; {done, n, firstMs, lastMs, cpuMs, …} when `--expect N` reports have been ingested;
 *   {stats, n, firstMs, lastMs, cpuMs, …} when asked ({stats: true}); lastMs/cpuMs are as of the last report seen,
 *   so a consumer of a shared group that finishes early is not charged for waiting on the others.
 * Usage (by fleet.ts): tsx bench/fleet-consumer-proc.ts --broker URL --db FILE|URL [--expect N] [--shared GROUP] [--client-id ID]
 */
import { performance } from 'node:perf_hooks';
import { startFleet, type FleetOptions } from '../fleet/src/fleet';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

/** The store, from what `--db` says: a SQLite file or a postgres:// URL (startFleet opens it). */
async function storeOptions(db: string): Promise<Partial<FleetOptions>> {
  return { db };
}

const expect = Number(arg('--expect') ?? 0);
const shared = arg('--shared');
const clientId = arg('--client-id');
const fleet = await startFleet({
  brokerUrl: arg('--broker') as string, ...(await storeOptions(arg('--db') as string)), http: { host: '127.0.0.1', port: 0 }, sweepMs: 0,
  ...(shared ? { shared } : {}), ...(clientId ? { clientId } : {}),
});
const c = fleet.consumer;
// Counts store transactions (one per group-commit batch), to report the batch size the consumer reaches.
let commits = 0;
const store = fleet.store;
const ingest = store.ingest.bind(store);
store.ingest = (items) => {
  commits++;
  return ingest(items);
};
let first = 0;
// CPU time of this process from the first report to the last: less sensitive to co-tenant load than wall time.
let cpu0: NodeJS.CpuUsage | null = null;
let seen = 0;
let last = 0;
let lastCpuMs = 0;
let sent = false;
const cpuMs = () => {
  const d = process.cpuUsage(cpu0 ?? undefined);
  return (d.user + d.system) / 1000;
};
const stats = () => ({ n: c.counters.reports, firstMs: first, lastMs: last, counters: c.counters, rss: process.memoryUsage().rss, commits, cpuMs: lastCpuMs });
const check = () => {
  const n = c.counters.reports;
  if (!first && n > 0) {
    first = performance.timeOrigin + performance.now();
    cpu0 = process.cpuUsage();
  }
  if (!sent && expect > 0 && n >= expect) {
    sent = true;
    // After the batch that holds the last report has committed (flush runs on setImmediate).
    setImmediate(() => {
      last = performance.timeOrigin + performance.now();
      lastCpuMs = cpuMs();
      process.send?.({ done: true, ...stats() });
    });
  }
};
// The time and CPU as of the newest report, sampled every 5 ms, not per report: a getrusage per report was 4 % of
// the consumer's profile (the harness charging the subject). At most one interval late, of a run of seconds.
const sample = () => {
  const n = c.counters.reports;
  if (n > seen) {
    seen = n;
    last = performance.timeOrigin + performance.now();
    lastCpuMs = cpuMs();
  }
  check();
};
c.on('camera', check);
const poll = setInterval(sample, 5);
process.send?.({ ready: true, url: fleet.url });
process.on('message', async (m: { stop?: boolean; stats?: boolean }) => {
  if (m.stats) process.send?.({ stats: true, ...stats() });
  if (m.stop) {
    clearInterval(poll);
    await fleet.stop();
    process.exit(0);
  }
});
