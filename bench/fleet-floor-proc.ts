/**
 * Child process of bench/fleet.ts: the ingest floor. Per report, what no consumer can skip: decode the payload
 * bytes, JSON.parse, the consumer's own ajv validation (fleet/src/validate.ts, used read-only) and one prepared
 * INSERT of (serial, reportId, seq, sent_at, received, the JSON text) in a 256-report transaction, into a file
 * SQLite database with the consumer's settings (WAL, synchronous=NORMAL, the same autocheckpoint). The same
 * payloads as the publisher's (bench/fleet-payloads.ts), as Buffers (what MQTT.js hands over), in-process, no
 * broker. Prints one JSON line: {cpuUsPerReport: [per round], wallUsPerReport: [...], invalid}.
 * Usage: tsx bench/fleet-floor-proc.ts --templates FILE --count N --serials S --dir DIR [--rounds R]
 */
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { WAL_AUTOCHECKPOINT_PAGES } from '../fleet/src/store/sqlite';
import { validateReport } from '../fleet/src/validate';
import { readTemplates, reportMessages } from './fleet-payloads';

const arg = (name: string, d?: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : d;
};
const count = Number(arg('--count'));
const rounds = Number(arg('--rounds', '3'));
const BATCH = 256;
const payloads = reportMessages(readTemplates(arg('--templates') as string), count, Number(arg('--serials', '1000'))).map(([, text]) => Buffer.from(text));
const validate = validateReport();
const cpu: number[] = [];
const wall: number[] = [];
let invalid = 0;
for (let r = 0; r < rounds; r++) {
  const file = path.join(arg('--dir') as string, `floor-${process.pid}-${r}.db`);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  db.exec('CREATE TABLE reports (serial TEXT NOT NULL, report_id TEXT NOT NULL, seq INTEGER NOT NULL, sent_at TEXT NOT NULL, received INTEGER NOT NULL, json TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO reports (serial, report_id, seq, sent_at, received, json) VALUES (?, ?, ?, ?, ?, ?)');
  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < payloads.length; i++) {
    if (i % BATCH === 0) begin.run();
    const text = payloads[i].toString('utf8');
    const body = JSON.parse(text) as { reportId: string; seq: number; sentAt: string; device: { serial: string } };
    if (!validate(body)) invalid++;
    else insert.run(body.device.serial, body.reportId, body.seq, body.sentAt, Date.now(), text);
    if (i % BATCH === BATCH - 1 || i === payloads.length - 1) commit.run();
  }
  const c = process.cpuUsage(c0);
  wall.push(((performance.now() - t0) * 1000) / count);
  cpu.push((c.user + c.system) / count);
  db.close();
  for (const s of ['', '-wal', '-shm']) rmSync(file + s, { force: true });
}
process.stdout.write(JSON.stringify({ cpuUsPerReport: cpu, wallUsPerReport: wall, invalid }) + '\n');
