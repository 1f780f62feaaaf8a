/**
 * Child process of bench/fleet.ts: what a user would write instead of the fleet consumer. Plain MQTT.js and
 * better-sqlite3: a persistent session (clean: false, QoS 1), JSON.parse, one INSERT per report, no validation,
 * the reports of one event-loop turn in one transaction (flushed on setImmediate). MQTT.js acks each message as
 * it is handed over (its default handleMessage), before the commit: less safe than the consumer's ack after
 * commit, which is part of what it saves. The same database settings as the consumer (WAL, synchronous=NORMAL).
 * Tells the parent over IPC: {ready}; {done, n, firstMs, lastMs, cpuMs} once `--expect N` reports are committed.
 * Usage (by fleet.ts): tsx bench/fleet-handrolled-proc.ts --broker URL --db FILE --client-id ID [--expect N]
 */
import Database from 'better-sqlite3';
import mqtt from 'mqtt';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const expect = Number(arg('--expect') ?? 0);
const db = new Database(arg('--db') as string);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE IF NOT EXISTS reports (serial TEXT NOT NULL, report_id TEXT NOT NULL, seq INTEGER NOT NULL, sent_at TEXT NOT NULL, received INTEGER NOT NULL, json TEXT NOT NULL)');
const insert = db.prepare('INSERT INTO reports (serial, report_id, seq, sent_at, received, json) VALUES (?, ?, ?, ?, ?, ?)');
const insertAll = db.transaction((rows: Array<[string, string]>) => {
  const now = Date.now();
  for (const [serial, text] of rows) {
    const r = JSON.parse(text) as { reportId: string; seq: number; sentAt: string };
    insert.run(serial, r.reportId, r.seq, r.sentAt, now, text);
  }
});
let pending: Array<[string, string]> = [];
let n = 0;
let first = 0;
let cpu0: NodeJS.CpuUsage | null = null;
let sent = false;
const flush = () => {
  const rows = pending;
  pending = [];
  insertAll(rows);
  n += rows.length;
  if (!sent && expect > 0 && n >= expect) {
    sent = true;
    const d = process.cpuUsage(cpu0 ?? undefined);
    process.send?.({ done: true, n, firstMs: first, lastMs: performance.timeOrigin + performance.now(), cpuMs: (d.user + d.system) / 1000 });
  }
};
// The handler is on before the CONNACK: a resumed session's queued messages follow it at once.
const client = mqtt.connect(arg('--broker') as string, { clean: false, clientId: arg('--client-id') as string });
client.on('message', (topic, payload) => {
  if (!first) {
    first = performance.timeOrigin + performance.now();
    cpu0 = process.cpuUsage();
  }
  if (pending.length === 0) setImmediate(flush);
  pending.push([topic.split('/')[2], payload.toString()]);
});
await new Promise<void>((resolve, reject) => (client.once('connect', () => resolve()), client.once('error', reject)));
await client.subscribeAsync('vigil/v1/+/report', { qos: 1 });
process.send?.({ ready: true });
process.on('message', async (m: { stop?: boolean }) => {
  if (m.stop) {
    await client.endAsync();
    db.close();
    process.exit(0);
  }
});
