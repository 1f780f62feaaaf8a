/**
 * Child process of bench/sim.ts: the baseline for the simulator rows. COUNT bare MQTT.js clients in one
 * Node process, each doing the least a camera does on the wire: connect with a last will, publish a retained
 * `online` state. On IPC {queue: K} each client publishes K QoS 1 reports (queued by MQTT.js while the
 * broker is down, sent when it reconnects: MQTT.js's fixed 1 s reconnect, no jitter).
 * Usage: tsx bench/sim-baseline-proc.ts --broker URL --count N
 */
import mqtt, { type MqttClient } from 'mqtt';

const arg = (name: string) => process.argv[process.argv.indexOf(name) + 1];
const count = Number(arg('--count'));
const url = arg('--broker');
const clients: MqttClient[] = [];
let seq = 0;
for (let i = 0; i < count; i++) {
  const serial = 'BASE00' + i.toString(16).toUpperCase().padStart(6, '0');
  const c = mqtt.connect(url, {
    clientId: serial, clean: true, reconnectPeriod: 1000, queueQoSZero: false,
    will: { topic: `bench/base/${serial}/state`, payload: Buffer.from(JSON.stringify({ state: 'lost' })), qos: 1, retain: true },
  });
  c.on('connect', () => c.publish(`bench/base/${serial}/state`, JSON.stringify({ state: 'online', at: Date.now() }), { qos: 1, retain: true }));
  c.on('error', () => undefined);
  clients.push(c);
}
process.send?.({ started: true });
process.on('message', async (m: { queue?: number; stop?: boolean }) => {
  if (m.queue) {
    seq++;
    for (let k = 0; k < m.queue; k++) {
      for (const [i, c] of clients.entries()) {
        const serial = 'BASE00' + i.toString(16).toUpperCase().padStart(6, '0');
        c.publish(`bench/base/${serial}/report`, JSON.stringify({ seq: seq * 1000 + k, sentAt: new Date().toISOString() }), { qos: 1 });
      }
    }
    process.send?.({ queued: true });
  }
  if (m.stop) {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    process.exit(0);
  }
});
