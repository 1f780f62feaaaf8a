/**
 * The simulator at fleet scale: `vigil sim --profile all --count 1000` (the real CLI, one process) against
 * Debian's Mosquitto: time until every camera is online, resident memory and CPU while starting and at
 * steady state; then a reconnect storm: the broker is stopped, stays down while the cameras queue reports
 * on their flash, and comes back on the same port: time until every camera is back and every queued report
 * is delivered, reports lost, and the broker's peak message store ($SYS, sampled each second).
 * Baseline, same run, same broker config: 1,000 bare MQTT.js clients in one process (connect with a will, a
 * retained online state), the same outage with the same number of reports queued per client (MQTT.js's
 * own offline queue, fixed 1 s reconnect).
 * Then the simulator as load (bench/sim-scale.ts): 10,000 cameras over worker threads, memory and CPU per
 * report against the native host's in the same run.
 * Usage: tsx bench/sim.ts [--quick] [--only=storm,scale] (results: bench/results/sim.json and sim-scale.json)
 */
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import mqtt from 'mqtt';
import { OUT, QUICK, REPO, ensureDir, fmt, log, machine, median, mib, procCpuMs, procMemory, ratio, sleep, startChild, writeResult, type Child, type Row } from './lib';
import { startMosquitto, type Mosquitto } from './rig';
import { scaleNotes, scaleRows } from './sim-scale';

const only = (process.argv.find((a) => a.startsWith('--only=')) ?? '').slice(7).split(',').filter(Boolean);
const want = (k: string) => only.length === 0 || only.includes(k);

const SCRIPT = 'sim';
const CMD = 'npm run bench -- sim';
const P = QUICK
  ? { count: 20, interval: 5, steadySec: 6, outageSec: 8, waitSec: 60 }
  : { count: 1000, interval: 60, steadySec: 60, outageSec: 90, waitSec: 300 };
// Persistence on (what a production broker does): sessions, their queues and retained messages survive the
// restart, so the bench's own watcher (a persistent session) misses nothing published before it is back.
const PERSIST = path.join(OUT, 'mosquitto-persist');
const BROKER_LINES = ['max_queued_messages 1000000', 'sys_interval 1', 'persistence true', `persistence_location ${PERSIST}/`, 'autosave_interval 3600'];

interface Seen {
  online: Map<string, number[]>;
  reports: Array<{ serial: string; seq: number; sentAt: number; recv: number }>;
  sys: Array<{ t: number; topic: string; value: number }>;
}

async function watcher(url: string, prefix: string): Promise<{ seen: Seen; close(): Promise<void> }> {
  const seen: Seen = { online: new Map(), reports: [], sys: [] };
  const c = await mqtt.connectAsync(url, { clean: false, reconnectPeriod: 200, clientId: `bench-watch-${process.pid}` });
  const topics = [`${prefix}/+/state`, `${prefix}/+/report`, '$SYS/broker/store/messages/count', '$SYS/broker/retained messages/count', '$SYS/broker/clients/connected'];
  await c.subscribeAsync(topics, { qos: 1 });
  c.on('message', (topic, payload) => {
    const t = Date.now();
    if (topic.startsWith('$SYS')) return void seen.sys.push({ t, topic, value: Number(payload.toString()) });
    const [, , serial, kind] = topic.split('/');
    if (kind === 'state') {
      try {
        if ((JSON.parse(payload.toString()) as { state: string }).state === 'online') {
          const list = seen.online.get(serial) ?? [];
          list.push(t);
          seen.online.set(serial, list);
        }
      } catch {
        /* not ours */
      }
    } else if (kind === 'report') {
      const r = JSON.parse(payload.toString()) as { seq: number; sentAt: string };
      seen.reports.push({ serial, seq: r.seq, sentAt: Date.parse(r.sentAt), recv: t });
    }
  });
  return { seen, close: () => c.endAsync(true) };
}

interface Phase {
  allOnlineSec: number;
  startRss: number;
  startCpuMs: number;
  steadyRss: number;
  steadyCpuPct: number;
  storm: { reconnectSec: number; deliveredSec: number; queued: number; lost: number; perCamera: number; peakStore: number; peakQueued: number; storeBefore: number; connectedPeak: number; reconnected: number };
}

export async function phase(kind: 'sim' | 'base', queuePerClient: number): Promise<Phase> {
  rmSync(PERSIST, { recursive: true, force: true });
  ensureDir(PERSIST);
  let broker: Mosquitto = await startMosquitto({ extraLines: BROKER_LINES });
  const port = broker.port;
  const prefix = kind === 'sim' ? 'vigil/v1' : 'bench/base';
  const w = await watcher(broker.url, prefix);
  const state = ensureDir(path.join(OUT, 'sim-state'));
  rmSync(state, { recursive: true, force: true });
  const t0 = Date.now();
  const child: Child =
    kind === 'sim'
      ? startChild('node', [path.join(REPO, 'bin/vigil.mjs'), 'sim', '--profile', 'all', '--count', String(P.count), '--broker', broker.url, '--interval', String(P.interval), '--state', state])
      : // node --import tsx (not the tsx launcher, which would be a second process) so that the pid is the clients' own.
        startChild('node', ['--import', 'tsx', path.join(REPO, 'bench/sim-baseline-proc.ts'), '--broker', broker.url, '--count', String(P.count)], { ipc: true });
  const pid = child.process.pid as number;
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, procMemory(pid)?.rss ?? 0)), 500);
  try {
    while (w.seen.online.size < P.count) {
      if (child.process.exitCode !== null) throw new Error(`[vigil] [bench] ${kind} exited: ${child.stderr().slice(-3000)}`);
      if (Date.now() - t0 > 20 * 60_000) throw new Error(`[vigil] [bench] only ${w.seen.online.size} of ${P.count} online after 20 min`);
      await sleep(100);
    }
    const allOnline = Date.now();
    const startCpuMs = procCpuMs(pid);
    log(SCRIPT, `${kind}: ${P.count} online in ${((allOnline - t0) / 1000).toFixed(1)} s, RSS ${mib(procMemory(pid)?.rss ?? NaN)}, CPU ${fmt(startCpuMs / 1000, 1)} s`);
    // Steady state: let the start-up burst pass (one interval), then measure over steadySec.
    await sleep(Math.min(P.interval, 30) * 1000);
    const c1 = procCpuMs(pid);
    const s1 = Date.now();
    const rss: number[] = [];
    while (Date.now() - s1 < P.steadySec * 1000) {
      await sleep(1000);
      rss.push(procMemory(pid)?.rss ?? NaN);
    }
    const steadyCpuPct = ((procCpuMs(pid) - c1) / (Date.now() - s1)) * 100;

    // The storm.
    const preKill = new Map<string, number>();
    const killAt = Date.now();
    for (const r of w.seen.reports) preKill.set(r.serial, Math.max(preKill.get(r.serial) ?? 0, r.seq));
    await broker.stop();
    log(SCRIPT, `${kind}: broker stopped for ${P.outageSec} s`);
    if (kind === 'base') {
      await sleep(2000);
      child.process.send?.({ queue: queuePerClient });
    }
    await sleep(P.outageSec * 1000 - (kind === 'base' ? 2000 : 0));
    const restartAt = Date.now();
    broker = await startMosquitto({ port, extraLines: BROKER_LINES });
    log(SCRIPT, `${kind}: broker back`);
    let result: ReturnType<typeof stormResult> | null = null;
    while (Date.now() - restartAt < P.waitSec * 1000) {
      await sleep(1000);
      result = stormResult(w.seen, kind, preKill, killAt, restartAt, queuePerClient);
      if (result.reconnected >= P.count && result.lost === 0 && result.complete) break;
    }
    await sleep(2500); // the next $SYS samples
    result = stormResult(w.seen, kind, preKill, killAt, restartAt, queuePerClient);
    if (process.env.VIGIL_BENCH_DEBUG) console.error(JSON.stringify({ reports: w.seen.reports.filter((r) => r.recv >= killAt).slice(0, 50), online: [...w.seen.online.entries()].slice(0, 5) }));
    return {
      allOnlineSec: (allOnline - t0) / 1000, startRss: peakRss, startCpuMs, steadyRss: median(rss), steadyCpuPct,
      storm: result,
    };
  } finally {
    clearInterval(sampler);
    if (kind === 'base') child.process.send?.({ stop: true });
    else child.process.kill('SIGTERM');
    await Promise.race([child.exited, sleep(30_000)]);
    if (child.process.exitCode === null) child.process.kill('SIGKILL');
    await w.close();
    await broker.stop();
  }
}

export function stormResult(seen: Seen, kind: string, preKill: Map<string, number>, killAt: number, restartAt: number, queuePerClient: number): Phase['storm'] & { complete: boolean } {
  const serials = [...seen.online.keys()];
  const reconnect = serials.map((s) => (seen.online.get(s) ?? []).find((t) => t >= restartAt)).filter((t): t is number => t !== undefined);
  const after = seen.reports.filter((r) => r.recv >= killAt);
  let queued = 0;
  let lost = 0;
  let delivered = restartAt;
  let complete = true;
  for (const s of serials) {
    const mine = after.filter((r) => r.serial === s);
    let want: number[];
    if (kind === 'sim') {
      // Queued: every seq after the last one seen before the outage, up to the first report built after it.
      const firstNew = mine.filter((r) => r.sentAt >= restartAt).sort((a, b) => a.seq - b.seq)[0];
      if (!firstNew) complete = false;
      const hi = firstNew ? firstNew.seq - 1 : Math.max(0, ...mine.map((r) => r.seq));
      want = [];
      for (let q = (preKill.get(s) ?? 0) + 1; q <= hi; q++) want.push(q);
    } else {
      want = [...new Set(mine.map((r) => r.seq))];
      if (want.length < queuePerClient) complete = false;
    }
    for (const q of want) {
      const got = mine.filter((r) => r.seq === q).map((r) => r.recv);
      queued++;
      if (got.length === 0) lost++;
      else delivered = Math.max(delivered, Math.min(...got));
    }
  }
  const sys = (topic: string, from: number) => seen.sys.filter((x) => x.topic === topic && x.t >= from).map((x) => x.value);
  const before = seen.sys.filter((x) => x.topic === '$SYS/broker/store/messages/count' && x.t < killAt).map((x) => x.value);
  // Messages held other than retained ones (queued for sessions, in flight): store count − retained count,
  // pairing each store sample with the latest retained sample.
  let retained = 0;
  let peakQueued = 0;
  for (const x of seen.sys) {
    if (x.topic === '$SYS/broker/retained messages/count') retained = x.value;
    else if (x.topic === '$SYS/broker/store/messages/count' && x.t >= restartAt) peakQueued = Math.max(peakQueued, x.value - retained);
  }
  return {
    complete,
    reconnected: reconnect.length,
    reconnectSec: reconnect.length ? (Math.max(...reconnect) - restartAt) / 1000 : NaN,
    deliveredSec: (delivered - restartAt) / 1000,
    queued,
    lost,
    perCamera: serials.length ? queued / serials.length : 0,
    peakStore: Math.max(0, ...sys('$SYS/broker/store/messages/count', restartAt)),
    peakQueued,
    storeBefore: before.length ? before[before.length - 1] : NaN,
    connectedPeak: Math.max(0, ...sys('$SYS/broker/clients/connected', restartAt)),
  };
}

export async function main(): Promise<void> {
  const m = machine();
  const startedAt = new Date().toISOString();
  // The scale rows have a file of their own (bench/results/sim-scale.json, its own machine line): the two
  // parts take long and can be run apart (--only=).
  if (want('scale')) {
    const scale = await scaleRows(CMD);
    writeResult({ script: SCRIPT, order: 5.5, quick: QUICK, startedAt, machine: m, rows: scale, notes: scaleNotes() }, 'sim-scale');
    for (const r of scale) log(SCRIPT, `${r.what}: ${r.measured} | ${r.baseline} | ${r.ratio} | ${r.verdict}`);
  }
  if (!want('storm')) return;
  log(SCRIPT, `${P.count} simulated cameras (IntervalSec ${P.interval}), then the baseline`);
  const sim = await phase('sim', 0);
  const k = Math.max(1, Math.round(sim.storm.perCamera));
  const base = await phase('base', k);
  const rows: Row[] = [
    {
      id: 'x1', what: `simulator: ${P.count.toLocaleString('en-US')} cameras in one process (vigil sim --profile all --count ${P.count} --interval ${P.interval}), time until all online`,
      budget: '1,000 cameras in one process', measured: `${fmt(sim.allOnlineSec, 1)} s`, baseline: `${P.count} bare MQTT.js clients: ${fmt(base.allOnlineSec, 1)} s`,
      ratio: ratio(sim.allOnlineSec, base.allOnlineSec, 1), verdict: sim.allOnlineSec > 0 ? 'met' : 'miss', command: `${CMD}   # or: vigil sim --profile all --count ${P.count} --broker mqtt://…`,
      note: `CPU to get there: ${fmt(sim.startCpuMs / 1000, 1)} s (baseline ${fmt(base.startCpuMs / 1000, 1)} s)`,
    },
    {
      id: 'x2', what: `simulator memory, ${P.count} cameras: peak while starting / median at steady state`, budget: '— (fits in one process)',
      measured: `${mib(sim.startRss)} / ${mib(sim.steadyRss)} (${fmt(sim.steadyRss / P.count / 1024, 0)} KiB per camera)`, baseline: `bare clients ${mib(base.startRss)} / ${mib(base.steadyRss)}`,
      ratio: ratio(sim.steadyRss, base.steadyRss, 1), verdict: 'info', command: CMD,
    },
    {
      id: 'x3', what: `simulator CPU at steady state, ${P.count} cameras reporting every ${P.interval} s (${P.steadySec} s window)`, budget: '—',
      measured: `${fmt(sim.steadyCpuPct, 1)} % of one core (${fmt((sim.steadyCpuPct * 10 * P.interval) / P.count, 1)} ms CPU per report cycle)`, baseline: `bare clients ${fmt(base.steadyCpuPct, 1)} %`,
      ratio: ratio(sim.steadyCpuPct, base.steadyCpuPct, 1), verdict: 'info', command: CMD,
    },
    {
      id: 'x4', what: `reconnect storm: broker stopped ${P.outageSec} s and restarted; time until every camera is back / every queued report delivered`, budget: 'DESIGN.md (MQTT): nothing is lost to an outage',
      measured: `back in ${fmt(sim.storm.reconnectSec, 1)} s (${sim.storm.reconnected}/${P.count}); ${sim.storm.queued} queued reports (${fmt(sim.storm.perCamera, 1)} per camera) delivered in ${fmt(sim.storm.deliveredSec, 1)} s; ${sim.storm.lost} lost`,
      baseline: `bare MQTT.js (${k} queued each): back in ${fmt(base.storm.reconnectSec, 1)} s, ${base.storm.queued} delivered in ${fmt(base.storm.deliveredSec, 1)} s, ${base.storm.lost} lost`,
      ratio: ratio(sim.storm.deliveredSec, base.storm.deliveredSec, 1), verdict: sim.storm.lost === 0 && sim.storm.reconnected >= P.count ? 'met' : 'miss', command: CMD,
      note: 'the agent reconnects with exponential backoff and full jitter (ReconnectMaxSec 60) and paces its replay; MQTT.js retries every 1 s in lock step',
    },
    {
      id: 'x5', what: 'reconnect storm: peak messages the broker holds beyond retained ones ($SYS store count − retained count, 1 s samples) and peak connected clients', budget: '—',
      measured: `${sim.storm.peakQueued} messages (store peak ${sim.storm.peakStore}, before the outage ${sim.storm.storeBefore}); ${sim.storm.connectedPeak} clients`,
      baseline: `bare clients ${base.storm.peakQueued} messages (store peak ${base.storm.peakStore}); ${base.storm.connectedPeak} clients`, ratio: ratio(sim.storm.peakQueued, base.storm.peakQueued), verdict: 'info', command: CMD,
      note: 'Mosquitto with persistence true: sessions, queues and retained messages survive the restart (saved on SIGTERM); the bench watcher is a persistent session',
    },
  ];
  writeResult({ script: SCRIPT, order: 5, quick: QUICK, startedAt, machine: m, rows });
  for (const r of rows) log(SCRIPT, `${r.what}: ${r.measured} | ${r.baseline} | ${r.ratio} | ${r.verdict}`);
}

if (process.argv[1] && process.argv[1].endsWith('sim.ts')) await main();
