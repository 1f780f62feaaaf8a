/**
 * The fleet soak (issue 15, "Done when"): `npx tsx bench/soak-fleet.ts --cameras 1000 --minutes 30`.
 * A private Mosquitto with docs/broker-acl.md's queue and size settings, its ACL and use_username_as_clientid
 * (test/helpers/documented-broker.ts), one login per camera (user = serial) and the documented fleet users;
 * simulated cameras in --sim-procs processes (bench/soak-sim-proc.ts); `vigil fleet` as fleet-1, SIGKILLed every
 * --kill-every seconds and restarted at once on the same --db (its persistent session resumes); `vigil status`
 * as fleet-status every minute; --sse stalled clients on /api/events (sockets with a tiny receive buffer that
 * never read, reconnecting when dropped); the consumer's RSS and /metrics every 10 s.
 * At the end the cameras stop (planned), the consumer drains, and the store is checked against what each agent
 * had acknowledged: state.json's last seq minus what is still in its outbox (unacknowledged) and what it dropped.
 * Prints one summary JSON line (`SOAK-SUMMARY {...}`); --out FILE also writes it there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { cloneWithSerial } from '../host-sim/src/fleet';
import { listProfiles, loadProfile } from '../host-sim/src/profiles';
import { documentedConfLines, passwordOf, startAclBroker } from '../test/helpers/documented-broker';
import { freePort } from '../test/helpers/ports';
import { REPO, median, procMemory, sleep } from './lib';

const { values: a } = parseArgs({
  options: {
    cameras: { type: 'string', default: '1000' },
    minutes: { type: 'string', default: '30' },
    'kill-every': { type: 'string', default: '180' },
    'status-every': { type: 'string', default: '60' },
    interval: { type: 'string', default: '120' },
    sse: { type: 'string', default: '20' },
    'sim-procs': { type: 'string', default: '2' },
    'start-rate': { type: 'string', default: '20' },
    out: { type: 'string' },
  },
  strict: true,
});
const CAMERAS = Number(a.cameras);
const MINUTES = Number(a.minutes);
const KILL_EVERY_MS = Number(a['kill-every']) * 1000;
const STATUS_EVERY_MS = Number(a['status-every']) * 1000;
const INTERVAL = Number(a.interval);
const SSE = Number(a.sse);
const SIM_PROCS = Number(a['sim-procs']);
const START_RATE = Number(a['start-rate']);
const VIGIL = path.join(REPO, 'bin/vigil.mjs');
const TSX = path.join(REPO, 'node_modules/.bin/tsx');
const say = (m: string) => process.stderr.write(`[vigil] [bench] [soak] ${new Date().toISOString().slice(11, 19)} ${m}\n`);

// The serials the simulator gives camera i of CAMERAS over every profile (host-sim/src/fleet.ts).
const profiles = listProfiles().map((n) => loadProfile(n));
const serials = Array.from({ length: CAMERAS }, (_, i) =>
  CAMERAS === profiles.length ? profiles[i].data.identity.serialNumber : cloneWithSerial(profiles[i % profiles.length], Math.floor(i / profiles.length), i % profiles.length).data.identity.serialNumber,
);

const work = mkdtempSync(path.join(tmpdir(), 'vigil-soak-'));
const dbPath = path.join(work, 'fleet.sqlite');
const stateRoot = path.join(work, 'cameras');
const passwordsFile = path.join(work, 'passwords.json');
writeFileSync(passwordsFile, JSON.stringify(Object.fromEntries(serials.map((s) => [s, passwordOf(s)]))));

say(`password file for ${CAMERAS} cameras and the fleet users (mosquitto_passwd)…`);
const t0pw = Date.now();
const DOC_OPTIONS = ['per_listener_settings', 'max_queued_messages', 'max_queued_bytes', 'max_inflight_messages', 'sys_interval', 'message_size_limit', 'max_packet_size'];
const broker = await startAclBroker(serials, documentedConfLines(DOC_OPTIONS));
say(`broker ${broker.url} up (${((Date.now() - t0pw) / 1000).toFixed(1)} s); documented lines: ${documentedConfLines(DOC_OPTIONS).join('; ')}`);

// --- the consumer: one incarnation per start, SIGKILLed and restarted ---
const httpPort = await freePort();
interface Incarnation {
  n: number;
  proc: ChildProcess;
  pid: number;
  startedMs: number;
  rss: number[];
  stderrTail: string;
  metrics: Record<string, number>;
  /** Most SSE clients /metrics showed at once, and those it dropped as slow (last sample). */
  sseMax: number;
  healthy: boolean;
  exit?: string;
}
const incarnations: Incarnation[] = [];
let consumer: Incarnation;

function startConsumer(): Incarnation {
  const proc = spawn('node', [VIGIL, 'fleet', '--broker', broker.url, '--username', 'fleet-1', '--db', dbPath, '--http', `127.0.0.1:${httpPort}`], {
    cwd: work,
    env: { ...process.env, VIGIL_BROKER_PASSWORD: passwordOf('fleet-1') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const inc: Incarnation = { n: incarnations.length + 1, proc, pid: proc.pid as number, startedMs: Date.now(), rss: [], stderrTail: '', metrics: {}, sseMax: 0, healthy: false };
  proc.stderr?.on('data', (d: Buffer) => {
    const text = d.toString();
    for (const line of text.split('\n')) if (/warn|error|dropped|taken over|\[fatal\]/i.test(line) && line.trim()) say(`consumer #${inc.n}: ${line.trim().slice(0, 300)}`);
    inc.stderrTail = (inc.stderrTail + text).slice(-4000);
  });
  proc.once('exit', (code, signal) => (inc.exit = signal ?? `code ${code}`));
  incarnations.push(inc);
  return inc;
}

async function httpGet(p: string, timeoutMs = 5000): Promise<{ status: number; body: string } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}${p}`, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return null;
  }
}

async function waitHealthy(inc: Incarnation, timeoutMs = 60_000): Promise<number> {
  const t = Date.now();
  while (Date.now() - t < timeoutMs) {
    if (inc.exit) throw new Error(`[vigil] [bench] consumer #${inc.n} exited (${inc.exit}): ${inc.stderrTail}`);
    const r = await httpGet('/healthz', 2000);
    if (r?.status === 200) {
      inc.healthy = true;
      return Date.now() - t;
    }
    await sleep(200);
  }
  throw new Error(`[vigil] [bench] consumer #${inc.n} not healthy after ${timeoutMs} ms: ${inc.stderrTail}`);
}

function parseMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(vigil_fleet_[a-z_]+|process_resident_memory_bytes|nodejs_heap_size_used_bytes)(?:\{[^}]*\})?\s+([-\d.e+]+)$/.exec(line);
    if (m && !line.includes('{')) out[m[1]] = Number(m[2]);
  }
  return out;
}

consumer = startConsumer();
say(`consumer #1 healthy in ${await waitHealthy(consumer)} ms`);

// --- stalled SSE clients: connect, send the request, never read; reconnect when the consumer drops them ---
// A SIGKILLed consumer's socket is an orphan with unsent data behind the client's zero window: its FIN never
// arrives, so the client stays ESTABLISHED for minutes. The bench therefore writes a line to the script's stdin
// after each restart (reconnect all); a drop by the consumer itself (state no longer ESTABLISHED) reconnects too.
const SSE_PY = `
import socket, select, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = [None] * n
connects = 0
def connect():
    global connects
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    try:
        s.connect(('127.0.0.1', port))
        s.sendall(b'GET /api/events HTTP/1.1\\r\\nHost: 127.0.0.1:%d\\r\\nAccept: text/event-stream\\r\\n\\r\\n' % port)
        connects += 1
        return s
    except OSError:
        s.close()
        return None
last = 0
while True:
    r, _, _ = select.select([sys.stdin], [], [], 2)
    if r:
        if not sys.stdin.readline():
            sys.exit(0)
        for i in range(n):
            if socks[i] is not None:
                socks[i].close()
                socks[i] = None
    for i in range(n):
        s = socks[i]
        if s is not None and s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] != 1:
            s.close()
            s = None
        if s is None:
            socks[i] = connect()
    if time.time() - last > 30:
        last = time.time()
        print('SSE connected=%d connects=%d' % (sum(1 for s in socks if s), connects), flush=True)
`;
const sseProc = SSE > 0 ? spawn('python3', ['-c', SSE_PY, String(httpPort), String(SSE)], { stdio: ['pipe', 'pipe', 'inherit'] }) : null;
let sseLast = '';
sseProc?.stdout?.on('data', (d: Buffer) => (sseLast = d.toString().trim().split('\n').pop() ?? sseLast));

// --- the cameras ---
const sims: Array<{ proc: ChildProcess; out: string; exit: string; errTail: string; exited: Promise<void> }> = [];
const per = Math.ceil(CAMERAS / SIM_PROCS);
for (let p = 0; p < SIM_PROCS; p++) {
  const firstIndex = p * per;
  const count = Math.min(per, CAMERAS - firstIndex);
  if (count <= 0) break;
  const opts = { firstIndex, count, total: CAMERAS, broker: { host: broker.host, port: broker.port }, stateRoot, interval: INTERVAL, startRate: START_RATE / SIM_PROCS, bundlePath: path.join(REPO, 'dist/agent.js'), passwordsFile };
  const proc = spawn(TSX, [path.join(REPO, 'bench/soak-sim-proc.ts'), JSON.stringify(opts)], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const sim = { proc, out: '', exit: '', errTail: '', exited: new Promise<void>((r) => proc.once('exit', (code, signal) => ((sim.exit = signal ?? `code ${code}`), r()))) };
  proc.stdout?.on('data', (d: Buffer) => (sim.out += d));
  let errLines = 0;
  proc.stderr?.on('data', (d: Buffer) => {
    sim.errTail = (sim.errTail + d).slice(-600);
    // Each distinct warning is worth seeing; a thousand cameras repeating one is not.
    if (errLines++ < 40) say(`sim ${p}: ${d.toString().trim().slice(0, 400)}`);
  });
  sims.push(sim);
}

// --- the schedule ---
const runMs = MINUTES * 60_000;
const tStart = Date.now();
const kills: Array<{ atSec: number; atMs: number; incarnation: number; pid: number; restartHealthyMs: number }> = [];
const statusRuns: Array<{ atSec: number; code: number | null; ms: number; lines: number }> = [];
let stopping = false;

const sampler = setInterval(async () => {
  const inc = consumer;
  const m = procMemory(inc.pid);
  // From healthy on: a Node that is still loading is not the consumer's footprint.
  if (m && Number.isFinite(m.rss) && inc.healthy && !inc.exit) inc.rss.push(m.rss);
  const r = await httpGet('/metrics', 8000);
  if (r?.status === 200) {
    inc.metrics = parseMetrics(r.body);
    inc.sseMax = Math.max(inc.sseMax, inc.metrics.vigil_fleet_sse_clients ?? 0);
  }
}, 10_000);

const progress = setInterval(() => {
  const m = consumer.metrics;
  say(
    `t=${((Date.now() - tStart) / 1000).toFixed(0)} s consumer #${consumer.n} rss=${((consumer.rss.at(-1) ?? 0) / 1048576).toFixed(0)} MiB ` +
      `reports=${m.vigil_fleet_reports_ingested_total ?? '?'} cameras=${m.vigil_fleet_cameras ?? '?'} dup=${m.vigil_fleet_duplicates_total ?? '?'} ` +
      `gaps=${m.vigil_fleet_seq_gaps_total ?? '?'} brokerDropped=${m.vigil_fleet_broker_dropped_messages ?? '?'} kills=${kills.length} status=${statusRuns.length} ${sseLast}`,
  );
}, 60_000);

function runStatus(): Promise<void> {
  const t = Date.now();
  return new Promise((resolve) => {
    const proc = spawn('node', [VIGIL, 'status', '--broker', broker.url, '--username', 'fleet-status', '--wait', '10000'], {
      cwd: work,
      env: { ...process.env, VIGIL_BROKER_PASSWORD: passwordOf('fleet-status') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let lines = 0;
    let err = '';
    proc.stdout?.on('data', (d: Buffer) => (lines += d.toString().split('\n').length - 1));
    proc.stderr?.on('data', (d: Buffer) => (err = (err + d).slice(-2000)));
    proc.once('exit', (code) => {
      statusRuns.push({ atSec: Math.round((t - tStart) / 1000), code, ms: Date.now() - t, lines });
      if (code !== 0) say(`vigil status exited ${code}: ${err}`);
      resolve();
    });
  });
}

const statusLoop = (async () => {
  while (!stopping) {
    await sleep(STATUS_EVERY_MS);
    if (!stopping) await runStatus();
  }
})();

const killLoop = (async () => {
  let next = tStart + KILL_EVERY_MS;
  while (next < tStart + runMs) {
    await sleep(next - Date.now());
    next += KILL_EVERY_MS;
    const old = consumer;
    const atMs = Date.now();
    const exited = new Promise<void>((r) => (old.exit ? r() : old.proc.once('exit', () => r())));
    old.proc.kill('SIGKILL');
    await exited;
    consumer = startConsumer();
    const healthy = await waitHealthy(consumer);
    sseProc?.stdin?.write('reconnect\n');
    kills.push({ atSec: Math.round((atMs - tStart) / 1000), atMs, incarnation: old.n, pid: old.pid, restartHealthyMs: healthy });
    say(`killed consumer #${old.n} (pid ${old.pid}); #${consumer.n} healthy in ${healthy} ms`);
  }
})();

await sleep(runMs);
await killLoop;
stopping = true;
say('run over: stopping the cameras (planned stop)');
for (const s of sims) s.proc.kill('SIGTERM');
await Promise.all(sims.map((s) => s.exited));
for (const s of sims) say(`sim (${s.exit}): ${s.out.trim().split('\n').join(' | ')}`);
await statusLoop;

// Drain: the consumer has everything once its ingested count stops moving for 20 s.
say('draining the consumer');
let lastCount = -1;
let stableSince = Date.now();
for (const t = Date.now(); Date.now() - t < 10 * 60_000; ) {
  const r = await httpGet('/metrics', 8000);
  const n = r?.status === 200 ? (parseMetrics(r.body).vigil_fleet_reports_ingested_total ?? -1) : -1;
  if (r?.status === 200) consumer.metrics = parseMetrics(r.body);
  if (n !== lastCount) {
    lastCount = n;
    stableSince = Date.now();
  } else if (Date.now() - stableSince > 20_000) break;
  await sleep(2000);
}
clearInterval(sampler);
clearInterval(progress);
sseProc?.kill('SIGKILL');
const last = consumer;
const lastExited = new Promise<void>((r) => (last.exit ? r() : last.proc.once('exit', () => r())));
last.proc.kill('SIGTERM');
await lastExited;
say(`consumer #${last.n} stopped (${last.exit})`);

// The broker's own count ($SYS, retained), read as fleet-2 (the documented second consumer user, unused here).
async function brokerDroppedCount(): Promise<number | null> {
  const c = await mqtt.connectAsync(broker.url, { username: 'fleet-2', password: passwordOf('fleet-2'), clean: true, reconnectPeriod: 0 });
  try {
    const got = new Promise<number>((r) => c.on('message', (_t, p) => r(Number(p.toString()))));
    await c.subscribeAsync('$SYS/broker/publish/messages/dropped', { qos: 0 });
    return await Promise.race([got, sleep(15_000).then(() => null)]);
  } finally {
    await c.endAsync();
  }
}
const brokerDropped = await brokerDroppedCount();

// --- verification: the store against each agent's acknowledged reports ---
const db = new Database(dbPath, { readonly: true });
const receivedAt = db.prepare('SELECT received_ms FROM reports WHERE serial = ? AND seq = ?');
const storedRows = db.prepare('SELECT serial, seq, COUNT(*) AS n FROM reports GROUP BY serial, seq').all() as Array<{ serial: string; seq: number; n: number }>;
const stored = new Map<string, Set<number>>();
const duplicates: Array<{ serial: string; seq: number; rows: number }> = [];
for (const r of storedRows) {
  if (!stored.has(r.serial)) stored.set(r.serial, new Set());
  stored.get(r.serial)!.add(r.seq);
  if (r.n > 1) duplicates.push({ serial: r.serial, seq: r.seq, rows: r.n });
}
const reportsStored = (db.prepare('SELECT COUNT(*) AS n FROM reports').get() as { n: number }).n;
const gapRows = db.prepare('SELECT serial, from_seq, to_seq, detected_ms FROM gaps').all() as Array<{ serial: string; from_seq: number; to_seq: number; detected_ms: number }>;
const cameraCounters = db.prepare('SELECT SUM(duplicates) AS dup, SUM(gaps) AS gaps, SUM(out_of_order) AS ooo FROM cameras').get() as { dup: number; gaps: number; ooo: number };

/** A lost report was never stored, so when it was sent is bounded by its stored neighbours: the kills in between. */
function aroundKill(serial: string, seq: number): { seq: number; afterSec: number | null; beforeSec: number | null; kills: number[] } {
  const have = stored.get(serial) ?? new Set<number>();
  let lo = seq - 1;
  while (lo > 0 && !have.has(lo)) lo--;
  let hi = seq + 1;
  while (hi < seq + 10_000 && !have.has(hi)) hi++;
  const at = (s: number) => ((receivedAt.get(serial, s) as { received_ms: number } | undefined)?.received_ms ?? null);
  const from = lo > 0 ? at(lo) : tStart;
  const to = have.has(hi) ? at(hi) : Date.now();
  const rel = (ms: number | null) => (ms === null ? null : Math.round((ms - tStart) / 1000));
  return { seq, afterSec: rel(from), beforeSec: rel(to), kills: kills.filter((k) => k.atMs >= (from ?? 0) && k.atMs <= (to ?? Infinity)).map((k) => k.incarnation) };
}

const missing: Array<{ serial: string; seqs: number[]; around: ReturnType<typeof aroundKill>[] }> = [];
let expectedTotal = 0;
let unacked = 0;
let agentDropped = 0;
let camerasWithoutState = 0;
for (const serial of serials) {
  const dir = path.join(stateRoot, serial);
  const stateFile = path.join(dir, 'state.json');
  if (!existsSync(stateFile)) {
    camerasWithoutState++;
    continue;
  }
  const st = JSON.parse(readFileSync(stateFile, 'utf8')) as { seq: number; dropped: number };
  const inOutbox = new Set(
    existsSync(path.join(dir, 'outbox'))
      ? readdirSync(path.join(dir, 'outbox'))
          .map((f) => /^(\d{10})-/.exec(f))
          .filter((m): m is RegExpExecArray => !!m)
          .map((m) => Number(m[1]))
      : [],
  );
  unacked += inOutbox.size;
  agentDropped += st.dropped ?? 0;
  const have = stored.get(serial) ?? new Set<number>();
  const lost: number[] = [];
  for (let seq = 1; seq <= st.seq; seq++) {
    if (inOutbox.has(seq)) continue;
    expectedTotal++;
    if (!have.has(seq)) lost.push(seq);
  }
  // Seqs the agent dropped from a full outbox were never acknowledged: at most `dropped` of the lost ones.
  if (lost.length > (st.dropped ?? 0)) missing.push({ serial, seqs: lost, around: lost.slice(0, 5).map((seq) => aroundKill(serial, seq)) });
}
db.close();

const rssMiB = (xs: number[]) => (xs.length ? { min: +(Math.min(...xs) / 1048576).toFixed(1), median: +(median(xs) / 1048576).toFixed(1), max: +(Math.max(...xs) / 1048576).toFixed(1), samples: xs.length } : null);
const summary = {
  cameras: CAMERAS,
  minutes: MINUTES,
  intervalSec: INTERVAL,
  killEverySec: KILL_EVERY_MS / 1000,
  kills: kills.length,
  killTimesSec: kills.map((k) => k.atSec),
  restartHealthyMs: kills.map((k) => k.restartHealthyMs),
  statusRuns: statusRuns.length,
  statusFailures: statusRuns.filter((s) => s.code !== 0).length,
  statusMedianMs: statusRuns.length ? median(statusRuns.map((s) => s.ms)) : null,
  statusLines: statusRuns.map((s) => s.lines),
  sseClients: SSE,
  sseLast,
  camerasWithoutState,
  reportsStored,
  expectedAcknowledged: expectedTotal,
  unacknowledgedInOutboxes: unacked,
  agentDropped,
  duplicates: duplicates.length,
  duplicateExamples: duplicates.slice(0, 20),
  missing: missing.reduce((n, m) => n + m.seqs.length, 0),
  missingByCamera: missing.slice(0, 50),
  gapsRecorded: gapRows.length,
  gapExamples: gapRows.slice(0, 20),
  storeCounters: cameraCounters,
  rssMiBPerIncarnation: incarnations.map((i) => ({ n: i.n, exit: i.exit, rss: rssMiB(i.rss) })),
  rssMiBAll: rssMiB(incarnations.flatMap((i) => i.rss)),
  brokerDropped,
  consumerSawBrokerDropped: last.metrics.vigil_fleet_broker_dropped_messages ?? null,
  sims: sims.map((s) => ({ exit: s.exit, out: s.out.trim(), errTail: s.exit === 'code 0' ? '' : s.errTail })),
  ssePerIncarnation: incarnations.map((i) => ({ n: i.n, maxClients: i.sseMax, dropped: i.metrics.vigil_fleet_sse_clients_dropped_total ?? null, refused: i.metrics.vigil_fleet_sse_clients_refused_total ?? null })),
  lastMetrics: last.metrics,
};
const line = JSON.stringify(summary);
process.stdout.write(`SOAK-SUMMARY ${line}\n`);
if (a.out) writeFileSync(a.out, JSON.stringify(summary, null, 2) + '\n');
await broker.stop();
rmSync(work, { recursive: true, force: true });
process.exit(summary.duplicates || summary.missing || summary.statusFailures ? 1 : 0);
