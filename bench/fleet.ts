/**
 * Fleet consumer ingest, each figure against a baseline from the same run (interleaved rounds, medians):
 *   - the consumer draining N queued reports from Mosquitto into its store (SQLite file, or the store `--db=URL` names);
 *   - a bare `mosquitto_sub -q 1` draining the same queue (what the broker can deliver);
 *   - the same consumer warm (the second N of 2N drained by one process);
 *   - a hand-rolled MQTT.js + better-sqlite3 consumer (what a user would write instead; no validation);
 *   - the floor: parse + the consumer's ajv validation + one INSERT per report, in-process, no broker;
 * then `--consumers=1,2,3` consumers in one shared-subscription group, and the publish → API latency.
 * "vs today": `--today=DIR` runs the consumer of another checkout in the same rounds; otherwise a stored baseline
 * (`--save-baseline=NAME` writes one, `--vs=NAME` compares; default "issue14").
 * Usage: tsx bench/fleet.ts [--quick] [--reports=N] [--db=FILE|postgres://…] [--consumers=1,2,3] [--today=DIR] [--save-baseline=NAME] [--vs=NAME]
 *   (also VIGIL_BENCH_DB, VIGIL_BENCH_CONSUMERS)
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { OUT, QUICK, ensureDir, fmt, log, machine, median, ratio, sleep, writeResult, type Row } from './lib';
import { readBaseline, writeBaseline } from './fleet-baseline';
import { captureReports, latencyRow } from './fleet-latency';
import { consumerProc, floorProc, handRolledProc, mosquittoSubRound, publish, removeDb, type Drained } from './fleet-procs';
import { FLEET_NODE_OPTIONS } from '../fleet/src/node-options';
import { sharedRound, sharedSummary, type SharedRound } from './fleet-shared';
import { startMosquitto } from './rig';

const SCRIPT = 'fleet';
const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const DB = flag('db') ?? process.env.VIGIL_BENCH_DB;
const CONSUMERS = (flag('consumers') ?? process.env.VIGIL_BENCH_CONSUMERS ?? '').split(',').filter(Boolean).map(Number);
const SAVE = flag('save-baseline');
const VS = flag('vs') ?? 'issue14';
// A checkout of the code "today" means (e.g. `git archive 1969e48 | tar -x -C DIR`, node_modules linked in): its
// consumer runs as one more subject of the same rounds, so "vs today" needs no stored run.
const TODAY = flag('today') ?? process.env.VIGIL_BENCH_TODAY;
const CMD = `npm run bench -- fleet${DB ? ` --db=${DB.replace(/\/\/[^@/]*@/, '//…@')}` : ''}`;
const STORE = DB && /^postgres(ql)?:\/\//.test(DB) ? 'PostgreSQL' : 'SQLite (WAL, file)';
// --reports=N: a longer drain, so that the consumers' start (JIT, lazy module loads) weighs less in their CPU per report.
const N = Number(flag('reports') ?? (QUICK ? 2_000 : 30_000));
const REPS = QUICK ? 1 : 3;
const LAT_SAMPLES = QUICK ? 20 : 300;

type Subject = 'consumer' | 'warm' | 'sub' | 'hand' | 'floor' | 'today';

export async function main(): Promise<void> {
  const m = machine();
  const startedAt = new Date().toISOString();
  const dir = ensureDir(path.join(OUT, 'fleet'));
  const broker = await startMosquitto({ extraLines: ['max_queued_messages 1000000'] });
  try {
    // Real reports as templates: one from each of four simulated cameras.
    const templates = await captureReports(broker, ['active-12', 'exposed', 'tampered', 'lts2020-eol'], dir);
    const templatesFile = path.join(dir, 'templates.json');
    writeFileSync(templatesFile, JSON.stringify(templates));
    const sizes = templates.map((t) => JSON.stringify(t).length);
    log(SCRIPT, `${N} reports per round (${sizes.join('/')} B templates), ${REPS} rounds; consumer (${STORE}), mosquitto_sub, hand-rolled and floor interleaved`);

    const rate = { consumer: [] as number[], warm: [] as number[], sub: [] as number[], hand: [] as number[], today: [] as number[] };
    const cpu = { consumer: [] as number[], warm: [] as number[], hand: [] as number[], floor: [] as number[], today: [] as number[] };
    const pubRates: number[] = [];
    const rss: number[] = [];
    const invalid: string[] = [];
    const batches: number[] = [];
    let round = 0;
    const drainRate = (d: Drained) => (N - 1) / ((d.lastMs - d.firstMs) / 1000);
    const subjects: Partial<Record<Subject, (i: number) => Promise<void>>> = {
      // Each drains a queue the broker holds for its persistent session: subscribe, go away, the publisher
      // (another process) publishes N, come back and drain. So the publisher's own speed is out of the
      // figure and every side sees the same broker work.
      consumer: async () => {
        const r = round++;
        const db = DB ?? path.join(dir, `fleet-${r}.db`);
        const clientId = `bench-fleet-${process.pid}-${r}`;
        await (await consumerProc(broker.url, db, 0, { clientId })).stop();
        const p = await publish(broker, N, templatesFile, DB ? r * 1000 : 0);
        const c = await consumerProc(broker.url, db, N, { clientId });
        const done = await c.done;
        pubRates.push(p.published / (p.ms / 1000));
        rate.consumer.push(drainRate(done));
        rss.push(done.rss ?? NaN);
        cpu.consumer.push((done.cpuMs * 1000) / N);
        if (done.commits) batches.push(done.n / done.commits);
        if (Object.keys(done.counters?.invalid ?? {}).length) invalid.push(JSON.stringify(done.counters?.invalid));
        await c.stop();
        if (!DB) removeDb(db);
      },
      // The same consumer once it has run a while: one process drains 2N and only the second N counts (its JIT,
      // heap and cameras are warm by then), as the floor is the median of passes after a first one.
      warm: DB
        ? undefined
        : async (i) => {
            const db = path.join(dir, `warm-${i}.db`);
            const clientId = `bench-warm-${process.pid}-${i}`;
            await (await consumerProc(broker.url, db, 0, { clientId })).stop();
            await publish(broker, 2 * N, templatesFile);
            const c = await consumerProc(broker.url, db, 2 * N, { clientId });
            let half: Drained | null = null;
            while (!half) {
              const s = await c.stats();
              if (s.n >= N) half = s;
              else await sleep(20);
            }
            const done = await c.done;
            await c.stop();
            removeDb(db);
            rate.warm.push((done.n - half.n) / ((done.lastMs - half.lastMs) / 1000));
            cpu.warm.push(((done.cpuMs - half.cpuMs) * 1000) / (done.n - half.n));
          },
      sub: async (i) => void rate.sub.push(await mosquittoSubRound(broker, `bench-sub-${process.pid}-${i}`, N, () => publish(broker, N, templatesFile))),
      hand: async (i) => {
        const db = path.join(dir, `hand-${i}.db`);
        const id = `bench-hand-${process.pid}-${i}`;
        await (await handRolledProc(broker.url, db, id, 0)).stop();
        await publish(broker, N, templatesFile);
        const h = await handRolledProc(broker.url, db, id, N);
        const done = await h.done;
        await h.stop();
        removeDb(db);
        rate.hand.push(drainRate(done));
        cpu.hand.push((done.cpuMs * 1000) / N);
      },
      today: TODAY
        ? async (i) => {
            // Today's consumer on SQLite, as it ran then (its child script takes --broker --db --expect only).
            const db = path.join(dir, `today-${i}.db`);
            await (await consumerProc(broker.url, db, 0, { root: TODAY })).stop();
            await publish(broker, N, templatesFile);
            const t = await consumerProc(broker.url, db, N, { root: TODAY });
            const done = await t.done;
            await t.stop();
            removeDb(db);
            rate.today.push(drainRate(done));
            cpu.today.push((done.cpuMs * 1000) / N);
          }
        : undefined,
      floor: async () => {
        const f = await floorProc(templatesFile, N, dir, 3);
        // The first inner round warms the JIT, as the first thousands of reports do for the consumers.
        cpu.floor.push(median(f.cpuUsPerReport));
        if (f.invalid) invalid.push(`floor: ${f.invalid} invalid`);
      },
    };
    const keys = (Object.keys(subjects) as Subject[]).filter((k) => subjects[k]);
    for (let i = 0; i < REPS; i++) {
      // Rotate the order every round so no subject always runs first (or right after the same neighbour).
      for (const k of [...keys.slice(i % keys.length), ...keys.slice(0, i % keys.length)]) {
        await subjects[k]?.(i);
        log(SCRIPT, `${k}: ${k === 'floor' ? `${fmt(cpu.floor.at(-1) as number, 0)} µs CPU per report` : `${fmt(rate[k].at(-1) as number, 0)} reports/s`}`);
      }
    }
    const c = median(rate.consumer);
    const s = median(rate.sub);
    const h = median(rate.hand);
    const cc = median(cpu.consumer);
    const hc = median(cpu.hand);
    const fc = median(cpu.floor);
    const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    const rows: Row[] = [
      {
        id: 'f1', what: `fleet consumer ingest, broker → validated → ${STORE} committed: ${N.toLocaleString('en-US')} reports from 1,000 cameras, publisher in another process, drained from the broker's queue for a persistent session`,
        budget: '≥ 5,000 reports/s on 2 cores',
        measured: `${fmt(c, 0)} reports/s (rounds ${list(rate.consumer)}); ${fmt(cc, 0)} µs CPU per report (rounds ${list(cpu.consumer)})`,
        baseline: `floor (parse + ajv + INSERT, f3) ${fmt(fc, 0)} µs CPU per report; hand-rolled MQTT.js + better-sqlite3 (f4) ${fmt(h, 0)} reports/s; bare mosquitto_sub -q 1 -c ${fmt(s, 0)} msg/s (rounds ${list(rate.sub)})`,
        ratio: `CPU ${ratio(cc, fc)} the floor; ${ratio(c, h)} the hand-rolled reports/s; ${ratio(c, s)} mosquitto_sub`,
        verdict: c >= 5000 ? 'met' : 'miss', command: CMD,
        note: `every Node subject with NODE_OPTIONS=${FLEET_NODE_OPTIONS} (fleet/README "Tuning"); Mosquitto defaults except max_queued_messages; publisher acked rate before the consumer ${fmt(median(pubRates), 0)}/s; report sizes ${sizes.join('/')} B; consumer RSS at the end ${fmt(median(rss) / 2 ** 20, 0)} MiB; ${batches.length ? `${fmt(median(batches), 1)} reports per store commit (group commit batch)` : 'store commits not counted (the store has no commit())'}${invalid.length ? `; quarantined: ${invalid[0]}` : ''}`,
      },
      ...(cpu.warm.length
        ? [{
            id: 'f1w', what: `the same consumer warm: one process drains ${(2 * N).toLocaleString('en-US')} reports and the second ${N.toLocaleString('en-US')} are measured (its JIT, heap and 1,000 cameras warmed, like the floor's passes after its first)`,
            budget: 'issue 14: CPU ≤ 1.5× the floor',
            measured: `${fmt(median(rate.warm), 0)} reports/s (rounds ${list(rate.warm)}); ${fmt(median(cpu.warm), 0)} µs CPU per report (rounds ${list(cpu.warm)})`,
            baseline: `floor (f3) ${fmt(fc, 0)} µs CPU per report; the consumer from a fresh process (f1) ${fmt(cc, 0)} µs`,
            ratio: `CPU ${ratio(median(cpu.warm), fc)} the floor`,
            verdict: median(cpu.warm) <= 1.5 * fc ? 'met' : 'miss', command: CMD,
          } satisfies Row]
        : []),
      {
        id: 'f3', what: `ingest floor, in-process, no broker: per report, decode + JSON.parse + the consumer's ajv validation (fleet/src/validate.ts) + one prepared INSERT (serial, reportId, seq, sent_at, received, JSON text) in a 256-report transaction, file SQLite (WAL, synchronous=NORMAL), the publisher's ${N.toLocaleString('en-US')} payloads`,
        budget: '— (issue 14: consumer CPU ≤ 1.5× this)', measured: `${fmt(fc, 1)} µs CPU per report (rounds ${cpu.floor.map((x) => x.toFixed(1)).join(', ')}; each the median of 3 passes)`,
        baseline: '— (it is the baseline of f1)', ratio: '—', verdict: 'info', command: `${CMD}   # bench/fleet-floor-proc.ts`,
      },
      {
        id: 'f4', what: `hand-rolled consumer (what a user would write instead): MQTT.js QoS 1 persistent session, JSON.parse, one INSERT per report, one transaction per event-loop turn, no validation, acked by MQTT.js on arrival (before the commit), the same queue`,
        budget: '— (issue 14 compares the consumer with it)', measured: `${fmt(h, 0)} reports/s (rounds ${list(rate.hand)}); ${fmt(hc, 0)} µs CPU per report (rounds ${list(cpu.hand)})`,
        baseline: `bare mosquitto_sub ${fmt(s, 0)} msg/s`, ratio: ratio(h, s), verdict: 'info', command: `${CMD}   # bench/fleet-handrolled-proc.ts`,
      },
    ];
    const stored = readBaseline(VS);
    const today = TODAY
      ? { label: `today's consumer (${TODAY}) in the same rounds`, rate: median(rate.today), cpu: median(cpu.today), floor: fc, text: `rounds ${list(rate.today)}`, cmd: `${CMD} --today=${TODAY}` }
      : stored && stored.machine.cpu === m.cpu
        ? { label: `named baseline "${stored.name}" (main ${stored.mainCommit}, fleet/src ${stored.fleetSrcCommit}; a stored run of ${stored.measuredAt.slice(0, 16).replace('T', ' ')} UTC, load ${stored.machine.loadStart.split(' ')[0]})`, rate: stored.consumer.reportsPerSec, cpu: stored.consumer.cpuUsPerReport, floor: stored.floorCpuUsPerReport, text: `rounds ${list(stored.consumer.rounds)}`, cmd: `${CMD} --vs=${VS}` }
        : null;
    if (!today && stored) log(SCRIPT, `baseline "${VS}" was measured on ${stored.machine.cpu}, this machine is ${m.cpu}: no "vs today" row`);
    if (today) {
      const faster = c / today.rate;
      // A stored run on a machine that has since moved (load, another host) says little: the floors show it.
      const comparable = today.floor / fc <= 1.5 && fc / today.floor <= 1.5;
      rows.push({
        id: 'f5', what: `${STORE} ingest vs today's consumer: ${today.label}`,
        budget: 'issue 14: ≥ 3× today\'s reports/s; CPU ≤ 1.5× the floor of this run',
        measured: `${fmt(c, 0)} reports/s, ${fmt(cc, 0)} µs CPU per report (${fmt(cc / fc, 2)}× the floor)`,
        baseline: `today ${fmt(today.rate, 0)} reports/s (${today.text}), ${fmt(today.cpu, 0)} µs CPU per report (${fmt(today.cpu / today.floor, 2)}× its floor of ${fmt(today.floor, 0)} µs)`,
        ratio: `${faster.toFixed(2)}× reports/s; CPU ${ratio(cc, today.cpu)} today's`,
        // Only a same-run "today" gives a verdict: a stored run's reports/s moves with the load (seen: the unchanged
        // consumer 2.25× "faster" at load 5 than its stored run at load 10-19, with equal floors).
        verdict: !TODAY || !comparable ? 'partial' : faster >= 3 && cc <= 1.5 * fc ? 'met' : 'miss', command: today.cmd,
        note: TODAY
          ? undefined
          : `a stored run (load then ${stored?.machine.loadStart.split(' ')[0]}, now ${m.loadStart.split(' ')[0]}; floors ${fmt(today.floor, 0)} then, ${fmt(fc, 0)} µs now): wall-clock reports/s move with the load, so no verdict; run with --today=DIR (a checkout of main ${stored?.mainCommit}) for one`,
      });
    }
    if (SAVE) {
      const b = writeBaseline({ name: SAVE, measuredAt: startedAt, machine: m, consumer: { reportsPerSec: c, cpuUsPerReport: cc, rounds: rate.consumer, cpuRounds: cpu.consumer }, floorCpuUsPerReport: fc, handRolled: { reportsPerSec: h, cpuUsPerReport: hc }, mosquittoSubPerSec: s });
      log(SCRIPT, `baseline "${SAVE}" written (main ${b.mainCommit}, fleet/src ${b.fleetSrcCommit}${b.fleetSrcDirty ? ', dirty' : ''})`);
    }

    // ---- N consumers in one shared-subscription group -----------------------------------------------------
    const shared: SharedRound[][] = [];
    const sharedFailures: string[] = [];
    for (const n of CONSUMERS) {
      const rs: SharedRound[] = [];
      for (let i = 0; i < REPS; i++) {
        try {
          rs.push(await sharedRound({ broker, db: DB, dir, consumers: n, count: N, templatesFile, tag: `${process.pid}-${n}-${i}`, serialBase: DB ? (100 + n * 10 + i) * 1000 : 0 }));
        } catch (err) {
          // A failed round is a finding for the table, not a reason to lose the other rows.
          sharedFailures.push(`${n} consumer(s), round ${i + 1}: ${(err as Error).message.replace('[vigil] [bench] ', '')}`);
          log(SCRIPT, sharedFailures[sharedFailures.length - 1]);
        }
      }
      if (rs.length) shared.push(rs);
    }
    if (!shared.length && sharedFailures.length) {
      rows.push({ id: 'f6', what: `${STORE} ingest with ${CONSUMERS.join(', ')} consumers in one shared subscription`, budget: '—', measured: 'no round finished', baseline: '—', ratio: '—', verdict: 'miss', command: `${CMD} --consumers=${CONSUMERS.join(',')}`, note: sharedFailures.join('; ') });
    }
    if (shared.length) {
      const one = sharedSummary(shared[0]);
      shared.forEach((rs, k) => {
        const x = sharedSummary(rs);
        rows.push({
          id: `f6-${rs[0].consumers}`, what: `${STORE} ingest with ${rs[0].consumers} consumer${rs[0].consumers > 1 ? 's' : ''} in one shared subscription ($share/<group>/vigil/v1/+/…, MQTT 5), ${N.toLocaleString('en-US')} queued reports${DB ? '' : ' (each consumer its own SQLite file: a harness check, not a fleet)'}`,
          budget: k === 0 ? '—' : 'issue 14: near-linear 1 → 3 until the database is the limit',
          measured: `${fmt(x.rate, 0)} reports/s together; ${fmt(x.cpu, 0)} µs CPU per report, all consumers (${x.text})`,
          baseline: k === 0 ? `the single consumer of f1 ${fmt(c, 0)} reports/s` : `1 consumer ${fmt(one.rate, 0)} reports/s`,
          ratio: k === 0 ? ratio(x.rate, c) : `${ratio(x.rate, one.rate)} (linear: ${rs[0].consumers}.00×)`, verdict: sharedFailures.length ? 'partial' : 'info', command: `${CMD} --consumers=${CONSUMERS.join(',')}`,
          note: sharedFailures.length ? `failed rounds: ${sharedFailures.join('; ')}` : undefined,
        });
      });
    }

    log(SCRIPT, `latency: ${LAT_SAMPLES} reports one at a time, publish → API and publish → bare subscriber`);
    rows.push(await latencyRow(broker, DB ?? path.join(dir, 'fleet-latency.db'), templates, LAT_SAMPLES, CMD));
    const notes = [
      `CPU speed at the start of this run: ${m.speed} (bench/lib.ts calibrate) — figures in reports/s or µs move with it (the same code runs ~3× slower per instruction on some of the machines these benches run on), so read the ratios against the same-run baselines, not the bare budgets.`,
    ];
    writeResult({ script: SCRIPT, order: 4, quick: QUICK, startedAt, machine: m, rows, notes });
    for (const r of rows) log(SCRIPT, `${r.what}: ${r.measured} | ${r.baseline} | ${r.ratio} | ${r.verdict}`);
  } finally {
    await broker.stop();
  }
}

if (process.argv[1] && process.argv[1].endsWith('fleet.ts')) await main();
