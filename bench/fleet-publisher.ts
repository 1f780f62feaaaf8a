/**
 * Child process of bench/fleet.ts: publishes COUNT reports at QoS 1 as fast as the broker acknowledges them
 * (at most WINDOW unacknowledged), round-robin over SERIALS cameras, each camera's seq counting up. The
 * payloads are real reports (captured from the simulator by fleet.ts) with serial, seq, reportId and sentAt
 * rewritten (bench/fleet-payloads.ts), all prepared before the clock starts. Prints one JSON line: {published, ms}.
 * Usage: tsx bench/fleet-publisher.ts --broker URL --count N --serials S --templates FILE [--window W] [--serial-base B]
 */
import mqtt from 'mqtt';
import { readTemplates, reportMessages } from './fleet-payloads';

const arg = (name: string, d?: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : d;
};
const count = Number(arg('--count'));
const serials = Number(arg('--serials', '1000'));
const window = Number(arg('--window', '500'));
const messages = reportMessages(readTemplates(arg('--templates') as string), count, serials, Number(arg('--serial-base', '0')));
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
