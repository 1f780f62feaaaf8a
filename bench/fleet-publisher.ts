/**
 * Child process of bench/fleet.ts: publishes COUNT reports at QoS 1 as fast as the broker acknowledges them
 * (at most WINDOW unacknowledged), round-robin over SERIALS cameras, each camera's seq counting up. The
 * payloads are real reports (captured from the simulator by fleet.ts) with serial, seq, reportId and sentAt
 * rewritten, all prepared before the clock starts. Prints one JSON line: {published, ms}.
 * Usage: tsx bench/fleet-publisher.ts --broker URL --count N --serials S --templates FILE [--window W]
 */
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';

const arg = (name: string, d?: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : d;
};
const count = Number(arg('--count'));
const serials = Number(arg('--serials', '1000'));
const window = Number(arg('--window', '500'));
const templates = JSON.parse(readFileSync(arg('--templates') as string, 'utf8')) as Array<Record<string, unknown>>;
const prefix = 'vigil/v1';
const t0 = Date.parse('2026-11-25T12:00:00.000Z');

const messages: Array<[string, string]> = [];
for (let i = 0; i < count; i++) {
  const cam = i % serials;
  const seq = Math.floor(i / serials) + 1;
  const serial = 'ACCC8E' + cam.toString(16).toUpperCase().padStart(6, '0');
  const r = structuredClone(templates[cam % templates.length]) as Record<string, any>;
  r.deviceId = serial;
  r.device.serial = serial;
  r.seq = seq;
  r.reportId = `${serial}-${String(seq).padStart(8, '0')}`;
  r.sentAt = new Date(t0 + seq * 60_000).toISOString();
  messages.push([`${prefix}/${serial}/report`, JSON.stringify(r)]);
}
const client = await mqtt.connectAsync(arg('--broker') as string, { clean: true, clientId: `bench-pub-${process.pid}` });
const start = performance.now();
let next = 0;
let acked = 0;
await new Promise<void>((resolve) => {
  const pump = () => {
    while (next < messages.length && next - acked < window) {
      const [topic, payload] = messages[next++];
      client.publish(topic, payload, { qos: 1 }, () => {
        acked++;
        if (acked === messages.length) resolve();
        else pump();
      });
    }
  };
  pump();
});
process.stdout.write(JSON.stringify({ published: acked, ms: performance.now() - start, bytes: messages.reduce((n, m) => n + m[1].length, 0) }) + '\n');
await client.endAsync();
