/**
 * The child processes of the fleet bench (bench/fleet.ts), each draining the same queued reports or, for the
 * floor, the same payloads in-process: the publisher, the fleet consumer (one, or several in a shared group),
 * the hand-rolled MQTT.js + better-sqlite3 consumer, a bare mosquitto_sub and the parse + validate + insert floor.
 */
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { FLEET_NODE_OPTIONS } from '../fleet/src/node-options';
import { REPO, sleep, startChild, type Child } from './lib';

/**
 * Every Node subject (the consumer, today's consumer, the hand-rolled script, the floor) runs with the options
 * fleet/README recommends for a consumer, so that the ratios compare code, not settings.
 */
const subjectEnv = (): NodeJS.ProcessEnv => ({ ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS, FLEET_NODE_OPTIONS].filter(Boolean).join(' ') });
import { PREFIX } from './rig';

const TSX = path.join(REPO, 'node_modules/.bin/tsx');

export interface Drained {
  n: number;
  firstMs: number;
  lastMs: number;
  /** CPU (user + system) from the first report to the last, ms. */
  cpuMs: number;
  counters?: { invalid: Record<string, number> };
  rss?: number;
  commits?: number;
}

export interface Broker {
  host: string;
  port: number;
  url: string;
}

export async function publish(broker: Broker, count: number, templatesFile: string, serialBase = 0): Promise<{ published: number; ms: number }> {
  const p = startChild(TSX, [path.join(REPO, 'bench/fleet-publisher.ts'), '--broker', broker.url, '--count', String(count), '--serials', '1000', '--templates', templatesFile, '--serial-base', String(serialBase)]);
  const exit = await p.exited;
  if (exit.code !== 0) throw new Error(`[vigil] [bench] publisher failed: ${p.stderr().slice(-2000)}`);
  return JSON.parse(p.stdout().trim().split('\n').pop() as string) as { published: number; ms: number };
}

export interface ConsumerProc {
  url: string;
  child: Child;
  done: Promise<Drained>;
  stats(): Promise<Drained>;
  stop(): Promise<void>;
}

/** `root`: another checkout whose consumer to run (e.g. main at the commit "today" means), with its own child script. */
export async function consumerProc(brokerUrl: string, db: string, expect: number, opts: { shared?: string; clientId?: string; root?: string } = {}): Promise<ConsumerProc> {
  const extra = [...(opts.shared ? ['--shared', opts.shared] : []), ...(opts.clientId ? ['--client-id', opts.clientId] : [])];
  const child = startChild(TSX, [path.join(opts.root ?? REPO, 'bench/fleet-consumer-proc.ts'), '--broker', brokerUrl, '--db', db, '--expect', String(expect), ...extra], { ipc: true, env: subjectEnv() });
  let resolveDone: (d: Drained) => void = () => undefined;
  const done = new Promise<Drained>((r) => (resolveDone = r));
  const statsWaiters: Array<(d: Drained) => void> = [];
  const url = await new Promise<string>((resolve, reject) => {
    child.process.on('message', (msg: { ready?: boolean; url?: string; done?: boolean; stats?: boolean } & Drained) => {
      if (msg.ready) resolve(msg.url as string);
      if (msg.done) resolveDone(msg);
      if (msg.stats) statsWaiters.shift()?.(msg);
    });
    child.exited.then(() => reject(new Error(`[vigil] [bench] the consumer exited: ${child.stderr().slice(-2000)}`)));
  });
  return {
    url, done, child,
    stats: () => new Promise<Drained>((r) => (statsWaiters.push(r), child.process.send({ stats: true }))),
    stop: () => stopChild(child),
  };
}

/** The hand-rolled consumer: subscribe once (expect 0) to leave a session, then come back to drain `expect`. */
export async function handRolledProc(brokerUrl: string, db: string, clientId: string, expect: number): Promise<{ done: Promise<Drained>; stop(): Promise<void> }> {
  const child = startChild(TSX, [path.join(REPO, 'bench/fleet-handrolled-proc.ts'), '--broker', brokerUrl, '--db', db, '--client-id', clientId, '--expect', String(expect)], { ipc: true, env: subjectEnv() });
  let resolveDone: (d: Drained) => void = () => undefined;
  const done = new Promise<Drained>((r) => (resolveDone = r));
  await new Promise<void>((resolve, reject) => {
    child.process.on('message', (msg: { ready?: boolean; done?: boolean } & Drained) => {
      if (msg.ready) resolve();
      if (msg.done) resolveDone(msg);
    });
    child.exited.then(() => reject(new Error(`[vigil] [bench] the hand-rolled consumer exited: ${child.stderr().slice(-2000)}`)));
  });
  return { done, stop: () => stopChild(child) };
}

/** A bare `mosquitto_sub -q 1 -c` draining `count` queued messages: msg/s from the first to the last. */
export async function mosquittoSubRound(broker: Broker, clientId: string, count: number, fill: () => Promise<unknown>): Promise<number> {
  const args = ['-h', broker.host, '-p', String(broker.port), '-q', '1', '-t', `${PREFIX}/+/report`, '-c', '-i', clientId];
  await startChild('mosquitto_sub', [...args, '-W', '1']).exited;
  await fill();
  const sub = startChild('mosquitto_sub', [...args, '-C', String(count), '-F', '%t']);
  let first = 0;
  sub.process.stdout?.once('data', () => (first = performance.now()));
  await sub.exited;
  return (count - 1) / ((performance.now() - first) / 1000);
}

/** The parse + validate + insert floor, in its own process: CPU µs per report, one value per inner round. */
export async function floorProc(templatesFile: string, count: number, dir: string, rounds: number): Promise<{ cpuUsPerReport: number[]; wallUsPerReport: number[]; invalid: number }> {
  const p = startChild(TSX, [path.join(REPO, 'bench/fleet-floor-proc.ts'), '--templates', templatesFile, '--count', String(count), '--serials', '1000', '--dir', dir, '--rounds', String(rounds)], { env: subjectEnv() });
  const exit = await p.exited;
  if (exit.code !== 0) throw new Error(`[vigil] [bench] the floor failed: ${p.stderr().slice(-2000)}`);
  return JSON.parse(p.stdout().trim().split('\n').pop() as string);
}

export function removeDb(db: string): void {
  if (/^[a-z]+:\/\//.test(db)) return;
  for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
}

async function stopChild(child: Child): Promise<void> {
  child.process.send({ stop: true });
  await Promise.race([child.exited, sleep(5000)]);
  if (child.process.exitCode === null) child.process.kill('SIGKILL');
}
