/**
 * 1, 2 or 3 fleet consumers side by side in one MQTT 5 shared-subscription group (`$share/<group>/…`): start them,
 * publish N reports (another process, ~5× faster than one consumer ingests, so the broker's queues fill and the
 * consumers drain them) and wait until together they have ingested every report. Not drained from a session left
 * offline, as f1 is: the consumer speaks MQTT 5 in a shared group and sets no Session Expiry Interval, so its
 * session ends with its connection (MQTT 5 § 3.1.2.11.2) and Mosquitto queues nothing for it while it is away. On one PostgreSQL
 * URL they share the database; on SQLite each gets its own file (the harness runs, but only a shared store
 * makes the figures a fleet's). Rate: reports / (last report anywhere − first report anywhere); CPU: the
 * consumers' CPU summed, per report.
 */
import * as path from 'node:path';
import { fmt, log, median, sleep } from './lib';
import { consumerProc, publish, removeDb, type Broker, type ConsumerProc } from './fleet-procs';

export interface SharedRound {
  consumers: number;
  reportsPerSec: number;
  cpuUsPerReport: number;
  /** Reports each consumer ingested. */
  split: number[];
}

export async function sharedRound(o: { broker: Broker; db: string | undefined; dir: string; consumers: number; count: number; templatesFile: string; tag: string; serialBase: number }): Promise<SharedRound> {
  const group = `bench-${o.tag}`;
  const dbs = Array.from({ length: o.consumers }, (_, k) => o.db ?? path.join(o.dir, `shared-${o.tag}-${k}.db`));
  const ids = dbs.map((_, k) => `bench-shared-${o.tag}-${k}`);
  const start = (expect: number) => Promise.all(dbs.map((db, k) => consumerProc(o.broker.url, db, expect, { shared: group, clientId: ids[k] })));
  const procs: ConsumerProc[] = await start(0);
  try {
    // Subscribed by the time they say ready (startFleet waits for the SUBACK); the sleep covers a slow box.
    await sleep(500);
    await publish(o.broker, o.count, o.templatesFile, o.serialBase);
    // A group that ingests nothing for a minute has stalled (seen once: 28,097 of 30,000, every consumer idle).
    let progress = { n: -1, at: Date.now() };
    for (;;) {
      const stats = await Promise.all(procs.map((c) => c.stats()));
      const n = stats.reduce((a, s) => a + s.n, 0);
      if (n > progress.n) progress = { n, at: Date.now() };
      if (n >= o.count) {
        // One more poll interval, so each consumer's last commit is in its figures.
        await sleep(50);
        const final = await Promise.all(procs.map((c) => c.stats()));
        const active = final.filter((s) => s.n > 0);
        const first = Math.min(...active.map((s) => s.firstMs));
        const last = Math.max(...active.map((s) => s.lastMs));
        const cpuMs = final.reduce((a, s) => a + s.cpuMs, 0);
        const r = { consumers: o.consumers, reportsPerSec: (o.count - 1) / ((last - first) / 1000), cpuUsPerReport: (cpuMs * 1000) / o.count, split: final.map((s) => s.n) };
        log('fleet', `shared ×${o.consumers}: ${fmt(r.reportsPerSec, 0)} reports/s, ${fmt(r.cpuUsPerReport, 0)} µs CPU per report, split ${r.split.join('/')}`);
        return r;
      }
      if (Date.now() - progress.at > 60_000) throw new Error(`[vigil] [bench] ${o.consumers} shared consumer(s) stalled at ${n} of ${o.count} reports (split ${stats.map((x) => x.n).join('/')}; nothing new for 60 s)`);
      await sleep(200);
    }
  } finally {
    await Promise.all(procs.map((c) => c.stop()));
    if (!o.db) for (const db of dbs) removeDb(db);
  }
}

export function sharedSummary(rounds: SharedRound[]): { rate: number; cpu: number; text: string } {
  const rate = median(rounds.map((r) => r.reportsPerSec));
  const cpu = median(rounds.map((r) => r.cpuUsPerReport));
  return { rate, cpu, text: `rounds ${rounds.map((r) => r.reportsPerSec.toFixed(0)).join(', ')}; split ${rounds.map((r) => r.split.join('/')).join(', ')}` };
}
