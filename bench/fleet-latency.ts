/**
 * The fleet bench's latency part and its templates: real reports captured from simulated cameras, and the
 * latency from publish to visible in the JSON API (GET /api/cameras/<serial> shows the seq) against the
 * latency to a bare MQTT.js subscriber, for the same messages, one at a time.
 */
import * as path from 'node:path';
import mqtt from 'mqtt';
import { startSimCamera } from '../host-sim/src/camera';
import { silentLogSink } from '../host-sim/src/sim-host';
import { REPO, fmt, median, percentile, ratio, sleep, type Row } from './lib';
import { consumerProc, removeDb, type Broker } from './fleet-procs';
import { PREFIX } from './rig';

export async function latencyRow(broker: Broker, db: string, templates: Array<Record<string, unknown>>, samples: number, command: string): Promise<Row> {
  const c2 = await consumerProc(broker.url, db, 0);
  const bare = await mqtt.connectAsync(broker.url, { clean: true });
  await bare.subscribeAsync(`${PREFIX}/+/report`, { qos: 1 });
  const pub = await mqtt.connectAsync(broker.url, { clean: true });
  const arrived = new Map<number, number>();
  bare.on('message', (_t, payload) => {
    const seq = (JSON.parse(payload.toString()) as { seq: number }).seq;
    arrived.set(seq, performance.now());
  });
  const api: number[] = [];
  const mq: number[] = [];
  const serial = 'ACCC8EFFFF01';
  // A PostgreSQL store keeps the camera of an earlier run: its seq goes on from there.
  const base = /^[a-z]+:\/\//.test(db) ? Date.now() % 1_000_000_000 : 0;
  for (let i = 1; i <= samples; i++) {
    const seq = base + i;
    const r = structuredClone(templates[0]) as Record<string, any>;
    r.deviceId = serial;
    r.device.serial = serial;
    r.seq = seq;
    r.reportId = `${serial}-lat-${seq}`;
    r.sentAt = new Date().toISOString();
    const payload = JSON.stringify(r);
    const t0 = performance.now();
    pub.publish(`${PREFIX}/${serial}/report`, payload, { qos: 1 });
    for (;;) {
      const res = await fetch(new URL(`/api/cameras/${serial}`, c2.url));
      if (res.ok && ((await res.json()) as { lastSeq: number }).lastSeq === seq) break;
      else if (!res.ok) await res.arrayBuffer();
      if (performance.now() - t0 > 10_000) throw new Error('[vigil] [bench] a report did not show up in the API within 10 s');
    }
    api.push(performance.now() - t0);
    while (!arrived.has(seq)) await sleep(1);
    mq.push((arrived.get(seq) as number) - t0);
    await sleep(10);
  }
  await pub.endAsync();
  await bare.endAsync();
  await c2.stop();
  removeDb(db);
  return {
    id: 'f2', what: `latency publish → visible in GET /api/cameras/<serial> (${samples} reports, one at a time, idle consumer)`, budget: '—',
    measured: `p50 ${fmt(median(api), 1)} ms, p95 ${fmt(percentile(api, 95), 1)} ms, max ${fmt(Math.max(...api), 1)} ms`,
    baseline: `publish → bare MQTT.js subscriber p50 ${fmt(median(mq), 1)} ms, p95 ${fmt(percentile(mq, 95), 1)} ms`, ratio: ratio(median(api), median(mq)), verdict: 'info', command,
    note: 'the API is polled back to back from the publishing process, so the figure includes one HTTP round trip (≈ the resolution)',
  };
}

export async function captureReports(broker: { host: string; port: number; url: string }, profiles: string[], dir: string): Promise<Array<Record<string, unknown>>> {
  const sub = await mqtt.connectAsync(broker.url, { clean: true });
  await sub.subscribeAsync(`${PREFIX}/+/report`, { qos: 1 });
  const got = new Map<string, Record<string, unknown>>();
  sub.on('message', (topic, payload) => got.set(topic.split('/')[2], JSON.parse(payload.toString())));
  const cams = await Promise.all(profiles.map((p, i) => startSimCamera({ profile: p, bundlePath: path.join(REPO, 'dist/agent.js'), broker, stateDir: path.join(dir, `capture-${i}`), log: silentLogSink })));
  const deadline = Date.now() + 60_000;
  while (got.size < cams.length && Date.now() < deadline) await sleep(100);
  await Promise.all(cams.map((c) => c.stop()));
  await sub.endAsync();
  if (got.size < cams.length) throw new Error(`[vigil] [bench] only ${got.size} of ${cams.length} simulated cameras reported`);
  return [...got.values()];
}

