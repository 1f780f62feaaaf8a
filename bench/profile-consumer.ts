/**
 * Where the fleet consumer's ingest time goes: drains N queued reports (as bench/fleet.ts does) with the
 * consumer under `node --cpu-prof`, then prints the top functions by self time, grouped by file.
 * Usage: tsx bench/profile-consumer.ts [N]
 */
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { OUT, REPO, ensureDir, log, startChild, sleep } from './lib';
import { PREFIX, startMosquitto } from './rig';

const N = Number(process.argv[2] ?? 30000);
const TSX = path.join(REPO, 'node_modules/.bin/tsx');
const dir = ensureDir(path.join(OUT, 'fleet'));
const prof = path.join(OUT, 'prof');
rmSync(prof, { recursive: true, force: true });
ensureDir(prof);
const broker = await startMosquitto({ extraLines: ['max_queued_messages 1000000', ...(process.env.INFLIGHT ? [`max_inflight_messages ${process.env.INFLIGHT}`] : [])] });
const db = path.join(dir, 'prof.db');
for (const s of ['', '-wal', '-shm']) rmSync(db + s, { force: true });
const consumer = (expect: number, profile: boolean) => {
  const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [];
  const c = startChild('node', [...flags, '--import', 'tsx', path.join(REPO, 'bench/fleet-consumer-proc.ts'), '--broker', broker.url, '--db', db, '--expect', String(expect)], { ipc: true });
  c.exited.then((e) => e.code !== 0 && process.stderr.write(`consumer exited ${JSON.stringify(e)}: ${c.stderr().slice(-2000)}\n`));
  return new Promise<{ stop(): Promise<void>; done: Promise<{ firstMs: number; lastMs: number }> }>((resolve) => {
    let d: (x: { firstMs: number; lastMs: number }) => void = () => undefined;
    const done = new Promise<{ firstMs: number; lastMs: number }>((r) => (d = r));
    c.process.on('message', (m: { ready?: boolean; done?: boolean; firstMs: number; lastMs: number }) => {
      if (m.done) d(m);
      if (m.ready) resolve({ done, stop: async () => (c.process.send({ stop: true }), await c.exited, undefined) });
    });
  });
};
await (await consumer(0, false)).stop();
const pub = startChild(TSX, [path.join(REPO, 'bench/fleet-publisher.ts'), '--broker', broker.url, '--count', String(N), '--serials', '1000', '--templates', path.join(dir, 'templates.json')]);
await pub.exited;
const c = await consumer(N, true);
const d = await c.done;
log('profile', `${N} reports in ${((d.lastMs - d.firstMs) / 1000).toFixed(2)} s = ${((N - 1) / ((d.lastMs - d.firstMs) / 1000)).toFixed(0)} reports/s (profiled)`);
await c.stop();
await sleep(200);
await broker.stop();
const file = readdirSync(prof).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(prof, f))[0];
const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>; samples: number[]; timeDeltas: number[] };
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
const byFile = new Map<string, number>();
for (let i = 0; i < p.samples.length; i++) {
  const n = byId.get(p.samples[i]);
  if (!n) continue;
  const f = n.callFrame;
  const where = f.url.replace(/^file:\/\//, '').replace(REPO + '/', '');
  const key = `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  const group = where.includes('node_modules/') ? where.split('node_modules/')[1].split('/')[0] : where.startsWith('node:') ? 'node:' + where.slice(5).split('/')[0] : where || `(${f.functionName})`;
  byFile.set(group, (byFile.get(group) ?? 0) + (p.timeDeltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const top = (m: Map<string, number>, k: number) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k).map(([n, t]) => `${((t / total) * 100).toFixed(1)}% ${n}`);
const text = ['by module:', ...top(byFile, 15), '', 'by function (self):', ...top(self, 25)].join('\n');
writeFileSync(path.join(OUT, 'consumer-profile.txt'), text + '\n');
process.stdout.write(text + '\n');
void PREFIX;
