/**
 * Issue 14's done-when: three consumers on one `$share` group over one PostgreSQL, 200 simulated cameras through
 * Mosquitto, one consumer killed with SIGKILL and restarted twice mid-run. Every report the broker took is stored
 * once, no false gap is left, every camera's state is right, and any consumer's API shows the whole fleet.
 * The oracle is a plain subscriber on the same broker: what it received is what the broker accepted. The kills
 * are driven by progress (reports received so far), never by the clock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { freePort } from '../helpers/ports';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { Subscriber } from '../helpers/subscriber';
import { waitUntil } from '../helpers/wait';

const VIGIL = resolve(__dirname, '../../bin/vigil.mjs');
const CAMERAS = 200;
const GROUP = 'vigil-fleet';

interface Child {
  process: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const child = spawn(process.execPath, [VIGIL, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  return { process: child, output: () => out, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
}

let mosquitto: Mosquitto;
let postgres: Postgres;
let db: pg.Client;
let oracle: Subscriber;
let stateDir: string;
const consumers: Array<{ id: string; port: number; child: Child }> = [];
let sim: Child | null = null;

async function startConsumer(id: string, port: number): Promise<Child> {
  const child = run(['fleet', '--broker', mosquitto.url, '--db', postgres.url, '--shared', GROUP, '--client-id', id, '--http', `127.0.0.1:${port}`, '--alerts-mqtt', 'off']);
  await waitUntil(`consumer ${id} to start`, () => {
    if (child.process.exitCode !== null) throw new Error(`consumer ${id} exited: ${child.output()}`);
    return /consuming/.test(child.output());
  }, { timeoutMs: 120_000, pollMs: 100 });
  return child;
}

/** (serial, seq) of every report the broker delivered to the oracle. */
function accepted(): Map<string, Set<number>> {
  const m = new Map<string, Set<number>>();
  for (const msg of oracle.messages) {
    const serial = msg.topic.split('/')[2];
    const seq = (JSON.parse(msg.payload.toString('utf8')) as { seq: number }).seq;
    let s = m.get(serial);
    if (!s) m.set(serial, (s = new Set()));
    s.add(seq);
  }
  return m;
}

const total = (m: Map<string, Set<number>>) => [...m.values()].reduce((n, s) => n + s.size, 0);

async function storedCount(): Promise<number> {
  return Number((await db.query('SELECT COUNT(*) AS n FROM reports')).rows[0].n);
}

async function killAndRestart(i: number): Promise<void> {
  const c = consumers[i];
  c.child.process.kill('SIGKILL');
  await c.child.exited;
  c.child = await startConsumer(c.id, c.port);
}

beforeAll(async () => {
  postgres = await startPostgres();
  mosquitto = await startMosquitto();
  db = new pg.Client({ connectionString: postgres.url });
  await db.connect();
  oracle = await Subscriber.connect(mosquitto.url, ['vigil/v1/+/report']);
  for (let i = 0; i < 3; i++) consumers.push({ id: `vigil-fleet-test-${i}`, port: await freePort(), child: null as unknown as Child });
  // One after the other: the first runs the migrations (the others would wait on its lock anyway).
  for (const c of consumers) c.child = await startConsumer(c.id, c.port);
  stateDir = mkdtempSync(join(tmpdir(), 'vigil-shared-'));
}, 300_000);

afterAll(async () => {
  sim?.process.kill('SIGKILL');
  for (const c of consumers) c.child?.process.kill('SIGKILL');
  await Promise.all([sim?.exited, ...consumers.map((c) => c.child?.exited)]);
  await oracle?.close();
  await db?.end();
  await mosquitto?.stop();
  await postgres?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
}, 120_000);

describe('three consumers sharing one subscription over one PostgreSQL', () => {
  it('store every report the broker accepted once, with no false gap, through two kills of one consumer', async () => {
    sim = run(['sim', '--profile', 'lts2024', '--count', String(CAMERAS), '--interval', '2', '--broker', mosquitto.url, '--state', stateDir]);
    const progress = (n: number) => waitUntil(`${n} reports at the broker`, () => {
      if (sim?.process.exitCode !== null) throw new Error(`the simulator exited: ${sim?.output()}`);
      return total(accepted()) >= n;
    }, { timeoutMs: 600_000, pollMs: 200 });
    await progress(400);
    await killAndRestart(1);
    await progress(800);
    await killAndRestart(1);
    await progress(1200);
    // On a busy machine the simulator may still be starting cameras: stop once every one has been heard.
    await waitUntil(`a report of each of the ${CAMERAS} cameras at the broker`, () => {
      if (sim?.process.exitCode !== null) throw new Error(`the simulator exited: ${sim?.output()}`);
      return accepted().size >= CAMERAS;
    }, { timeoutMs: 600_000, pollMs: 200 });
    sim.process.kill('SIGINT');
    const code = await sim.exited;
    expect(code, sim.output().slice(-3000)).toBe(0);
    const want = accepted();
    expect(want.size).toBe(CAMERAS);
    await waitUntil('the consumers to store what the broker accepted', async () => (await storedCount()) >= total(want), { timeoutMs: 300_000, pollMs: 500 });

    const rows = (await db.query('SELECT serial, seq, COUNT(*) AS n FROM reports GROUP BY serial, seq')).rows as Array<{ serial: string; seq: number; n: string }>;
    const stored = new Map<string, Set<number>>();
    for (const r of rows) {
      expect(Number(r.n), `${r.serial} seq ${r.seq} stored once`).toBe(1);
      let s = stored.get(r.serial);
      if (!s) stored.set(r.serial, (s = new Set()));
      s.add(Number(r.seq));
    }
    for (const [serial, seqs] of want) expect([...(stored.get(serial) ?? [])].sort((a, b) => a - b), serial).toEqual([...seqs].sort((a, b) => a - b));
    expect(Number((await db.query('SELECT COUNT(*) AS n FROM gaps')).rows[0].n)).toBe(0);

    const cams = (await db.query('SELECT serial, last_seq, reports, gaps, connection FROM cameras')).rows as Array<{ serial: string; last_seq: number; reports: number; gaps: number; connection: string }>;
    expect(cams).toHaveLength(CAMERAS);
    for (const c of cams) {
      const seqs = want.get(c.serial)!;
      expect(Number(c.last_seq), c.serial).toBe(Math.max(...seqs));
      expect(Number(c.reports), c.serial).toBe(seqs.size);
      expect(Number(c.gaps), c.serial).toBe(0);
    }
    // The simulator stopped its cameras cleanly: each said offline.
    const notOffline = async () => (await db.query("SELECT serial, connection, session, state_at FROM cameras WHERE connection <> 'offline' ORDER BY serial")).rows as Array<{ serial: string }>;
    await waitUntil('every camera offline in the store', async () => (await notOffline()).length === 0, { timeoutMs: 120_000, pollMs: 500 }).catch(async (err) => {
      const left = await notOffline();
      const states = (await db.query('SELECT serial, state, session, at, stale, received_ms FROM states WHERE serial = ANY($1) ORDER BY serial, received_ms', [left.slice(0, 3).map((c) => c.serial)])).rows;
      throw new Error(`${(err as Error).message}: ${left.length} not offline, e.g. ${JSON.stringify(left.slice(0, 3))}; their states ${JSON.stringify(states)}`);
    });

    // Any consumer shows the whole fleet as stored, including what the others wrote (LISTEN/NOTIFY).
    for (const c of consumers) {
      await waitUntil(`consumer ${c.id}'s view to be the store's`, async () => {
        const fleet = (await (await fetch(`http://127.0.0.1:${c.port}/api/fleet`)).json()) as { cameras: Array<{ serial: string; lastSeq: number; status: string }> };
        return fleet.cameras.length === CAMERAS && fleet.cameras.every((v) => v.lastSeq === Math.max(...want.get(v.serial)!) && v.status === 'offline');
      }, { timeoutMs: 60_000, pollMs: 500 });
    }
  }, 1_200_000);
});
