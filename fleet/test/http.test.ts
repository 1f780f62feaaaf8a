// The JSON API, Prometheus metrics, SSE live updates and the CLI entry points, against an embedded broker.
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../test/helpers/broker';
import { waitUntil as pollUntil } from '../../test/helpers/wait';
import { parseHostPort, runFleet, runStatus } from '../src/cli';
import { startFleet, type Fleet } from '../src/fleet';
import { SqliteStore } from '../src/store/sqlite';
import { finding, makeReport, statePayload, T0 } from './fixtures';
import { captureIo } from '../../test/helpers/capture-io';

let broker: EmbeddedBroker;
let fleet: Fleet;
let pub: MqttClient;

// This file polls every 20 ms for at most 20 s.
const waitUntil: typeof pollUntil = (what, predicate, options = { timeoutMs: 20_000, pollMs: 20 }) => pollUntil(what, predicate, options);

// The API's JSON, loosely typed for assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function getJson(path: string): Promise<any> {
  return (await fetch(fleet.url + path)).json();
}

beforeAll(async () => {
  broker = await startEmbeddedBroker({ port: 0 });
  fleet = await startFleet({ brokerUrl: broker.url, http: { host: '127.0.0.1', port: 0 }, now: () => T0 + 600_000, sweepMs: 0 });
  pub = await mqtt.connectAsync(broker.url, { clientId: 'test-pub-http', reconnectPeriod: 0 });
  await pub.publishAsync('vigil/v1/CAMHTTP1/state', statePayload('online', 'connected', 1), { qos: 1, retain: true });
  await pub.publishAsync('vigil/v1/CAMHTTP1/report', JSON.stringify(makeReport({ serial: 'CAMHTTP1', version: '8.40.4.6', findings: [finding('ssh-enabled')] })), { qos: 1, retain: true });
  await pub.publishAsync('vigil/v1/CAMHTTP2/report', JSON.stringify(makeReport({ serial: 'CAMHTTP2', version: '12.11.77' })), { qos: 1, retain: true });
  await pub.publishAsync('vigil/v1/CAMHTTP2/report', 'not json', { qos: 1 });
  await waitUntil('two cameras', () => fleet.consumer.counters.reports === 2 && fleet.consumer.counters.invalid['not-json'] === 1);
});

afterAll(async () => {
  await pub.endAsync();
  await fleet.stop();
  await broker.close();
});

describe('the dashboard server', () => {
  it('listens on loopback by default', () => {
    expect(fleet.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('answers the fleet API with counts and cameras', async () => {
    const body = await getJson('api/fleet');
    expect(body.counts.total).toBe(2);
    expect(body.counts.support['end-of-life']).toBe(1);
    expect(body.cameras.map((c: { serial: string; evaluation: { trackId: string } }) => [c.serial, c.evaluation.trackId])).toEqual([['CAMHTTP1', 'lts2018'], ['CAMHTTP2', 'lts2026']]);
  });

  it('answers one camera with its report, evaluation and history', async () => {
    const cam = await getJson('api/cameras/CAMHTTP1');
    expect([cam.report.os.version, cam.evaluation.hardeningScore, cam.evaluation.advisories.map((a: { id: string }) => a.id)]).toEqual(['8.40.4.6', 90, ['CVE-2023-5800']]);
    const h = await getJson('api/cameras/CAMHTTP1/history');
    expect([h.reports.length, h.states[0].state]).toEqual([1, 'online']);
  });

  it('answers 404 with who is speaking for an unknown camera', async () => {
    const res = await fetch(fleet.url + 'api/cameras/NOPE');
    expect([res.status, ((await res.json()) as { error: string }).error]).toEqual([404, '[vigil] [fleet] no camera NOPE']);
  });

  it('lists the quarantine', async () => {
    const q = (await getJson('api/quarantine')).quarantine;
    expect(q.map((x: { serial: string; reason: string }) => [x.serial, x.reason.split(':')[0]])).toEqual([['CAMHTTP2', 'not-json']]);
  });

  it('serves Prometheus metrics: ingest, invalid payloads, cameras by status', async () => {
    const text = await (await fetch(fleet.url + 'metrics')).text();
    expect(text).toContain('vigil_fleet_reports_ingested_total 2');
    expect(text).toContain('vigil_fleet_invalid_payloads_total{reason="not-json"} 1');
    expect(text).toContain('vigil_fleet_cameras{status="online"} 2');
    expect(text).toContain('vigil_fleet_cameras_by_support{support="end-of-life"} 1');
    expect(text).toMatch(/# TYPE vigil_fleet_ingest_rate gauge\nvigil_fleet_ingest_rate [\d.]+/);
  });

  it('serves the cameras by posture and the worklist by urgency in /metrics', async () => {
    const text = await (await fetch(fleet.url + 'metrics')).text();
    const counts = fleet.consumer.counts().posture;
    expect(counts['at-risk']).toBeGreaterThan(0);
    for (const [p, n] of Object.entries(counts)) expect(text).toContain(`vigil_fleet_cameras_by_posture{posture="${p}"} ${n}`);
    const work = fleet.consumer.worklist().counts.byUrgency;
    expect(work.high).toBeGreaterThan(0);
    for (const [u, n] of Object.entries(work)) expect(text).toContain(`vigil_fleet_actions{urgency="${u}"} ${n}`);
  });

  it('bounds /api/quarantine even for ?limit=-1 (SQLite reads LIMIT -1 as no limit)', async () => {
    for (let i = 0; i < 120; i++) await fleet.store.quarantine({ receivedMs: T0 + i, topic: 'vigil/v1/CAMQ/report', serial: 'CAMQ', reason: 'schema', size: 1, excerpt: 'x' });
    for (const q of ['-1', 'abc', '']) expect((await getJson(`api/quarantine?limit=${q}`)).quarantine).toHaveLength(100);
  });

  it('serves the pages and their scripts without any other origin', async () => {
    const worklist = await (await fetch(fleet.url)).text();
    expect(worklist).toContain('<table id="worklist"');
    const cameras = await (await fetch(fleet.url + 'cameras')).text();
    expect(cameras).toContain('<table id="cameras"');
    const camera = await (await fetch(fleet.url + 'camera/CAMHTTP1')).text();
    expect(camera).toContain('data-serial="CAMHTTP1"');
    for (const html of [worklist, cameras, camera]) expect(html).not.toMatch(/https?:\/\//);
    for (const script of ['fleet.js', 'worklist.js', 'camera.js', 'camera-evidence.js', 'common.js']) {
      const res = await fetch(fleet.url + 'static/' + script);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/javascript');
      expect(await res.text()).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    }
  });

  it("adds the camera's actions to its API answer", async () => {
    const body = await getJson('api/cameras/CAMHTTP1');
    expect(body.actions).toEqual(fleet.consumer.actionsFor('CAMHTTP1'));
    expect(body.actions.length).toBeGreaterThan(0);
  });

  it('answers the worklist API, its CSV and its PDF on the fleet server', async () => {
    const body = await getJson('api/actions');
    expect(body.counts).toEqual(fleet.consumer.worklist().counts);
    expect(body.items.every((a: { serial: string }) => a.serial === 'CAMHTTP1' || a.serial === 'CAMHTTP2')).toBe(true);
    // The fleet's clock (T0 + 10 min) decides the data's age and the download's date.
    expect(body.generatedAt).toBe(new Date(T0 + 600_000).toISOString());
    const csv = await fetch(fleet.url + 'api/actions.csv');
    expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="vigil-actions-${new Date(T0 + 600_000).toISOString().slice(0, 10)}.csv"`);
    const pdf = await fetch(fleet.url + 'api/report.pdf');
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');
  });

  it('pushes a camera change to a live SSE client', async () => {
    const ac = new AbortController();
    const res = await fetch(fleet.url + 'api/events', { signal: ac.signal });
    const reader = res.body!.getReader();
    let text = '';
    await pub.publishAsync('vigil/v1/CAMHTTP1/state', statePayload('offline', 'shutdown', 1), { qos: 1 });
    await waitUntil('the camera event', async () => {
      text += new TextDecoder().decode((await reader.read()).value);
      return text.includes('event: camera') && text.includes('"status":"offline"');
    });
    ac.abort();
  });
});

const vigilEvent = (serial: string, eventId: string, summary: string, severity = 'high') =>
  JSON.stringify({ schema: 'vigil.event/1', deviceId: serial, eventId, seq: 1, at: new Date(T0).toISOString(), kind: 'integrity-drift', severity, summary, details: {} });

describe('recent events across the fleet', () => {
  it('answers the stored events of every camera with what the fleet page lists', async () => {
    await pub.publishAsync('vigil/v1/CAMHTTP1/event', vigilEvent('CAMHTTP1', 'ev-http-0001', '/usr/bin/curl changed'), { qos: 1 });
    await pub.publishAsync('vigil/v1/CAMHTTP2/event', vigilEvent('CAMHTTP2', 'ev-http-0002', 'Telnet is listening', 'medium'), { qos: 1 });
    const body = await waitUntil('two recent events', async () => {
      const b = await getJson('api/events/recent');
      return b.events.length >= 2 ? b : null;
    });
    expect(body.events.map((e: { serial: string; eventId: string; kind: string; severity: string; summary: string }) => [e.serial, e.eventId, e.kind, e.severity, e.summary]).sort()).toEqual([
      ['CAMHTTP1', 'ev-http-0001', 'integrity-drift', 'high', '/usr/bin/curl changed'],
      ['CAMHTTP2', 'ev-http-0002', 'integrity-drift', 'medium', 'Telnet is listening'],
    ]);
    expect(Object.keys(body.events[0]).sort()).toEqual(['at', 'eventId', 'kind', 'receivedMs', 'serial', 'severity', 'summary']);
  });

  it('answers at most ?limit= events, and the default for a limit that is not a number or negative', async () => {
    expect((await getJson('api/events/recent?limit=1')).events).toHaveLength(1);
    expect((await getJson('api/events/recent?limit=abc')).events.length).toBeGreaterThanOrEqual(2);
    expect((await getJson('api/events/recent?limit=-5')).events.length).toBeGreaterThanOrEqual(2);
  });

  it('pushes a new event to a live SSE client', async () => {
    const ac = new AbortController();
    const res = await fetch(fleet.url + 'api/events', { signal: ac.signal });
    const reader = res.body!.getReader();
    let text = '';
    await pub.publishAsync('vigil/v1/CAMHTTP2/event', vigilEvent('CAMHTTP2', 'ev-http-0003', 'SSH is enabled'), { qos: 1 });
    await waitUntil('the event', async () => {
      text += new TextDecoder().decode((await reader.read()).value);
      return text.includes('event: event') && text.includes('"summary":"SSH is enabled"');
    });
    ac.abort();
  });

  it('orders the store\'s recent events newest first across cameras', async () => {
    const store = new SqliteStore(':memory:');
    const event = (serial: string, eventId: string, nowMs: number) => ({ kind: 'event' as const, serial, nowMs, eventId, eventKind: 'k', json: '{}' });
    try {
      await store.ingest([event('A', 'ev-a', 1000), event('B', 'ev-b', 3000), event('A', 'ev-c', 2000)]);
      expect((await store.recentEvents(2)).map((e) => e.eventId)).toEqual(['ev-b', 'ev-c']);
    } finally {
      await store.close();
    }
  });
});

describe('an older active release in the API and dashboard (active-track-old-release-supported)', () => {
  beforeAll(async () => {
    await pub.publishAsync('vigil/v1/CAMHTTP4/report', JSON.stringify(makeReport({ serial: 'CAMHTTP4', version: '12.10.36' })), { qos: 1 });
    await waitUntil('the camera on 12.10.36', () => fleet.consumer.camera('CAMHTTP4')?.evaluation);
  });

  it('answers the camera as outdated, with the newest active release offered', async () => {
    const e = (await getJson('api/cameras/CAMHTTP4')).evaluation;
    expect([e.trackId, e.support, e.upgradeAvailable, e.latestOnTrack]).toEqual(['active', 'outdated', true, '12.11.147']);
  });

  it('keeps the camera on the newest active release supported beside it', async () => {
    expect((await getJson('api/cameras/CAMHTTP2')).evaluation.support).toBe('supported');
  });

  it('counts outdated cameras in the fleet API and in /metrics', async () => {
    expect((await getJson('api/fleet')).counts.support.outdated).toBe(1);
    expect(await (await fetch(fleet.url + 'metrics')).text()).toContain('vigil_fleet_cameras_by_support{support="outdated"} 1');
  });

  it('offers outdated in the dashboard\'s support filter and counts', async () => {
    expect(await (await fetch(fleet.url + 'cameras')).text()).toContain('<option>outdated</option>');
    expect(await (await fetch(fleet.url + 'static/fleet.js')).text()).toContain("card('outdated', counts.support.outdated");
  });
});

describe('the CLI', () => {
  it('prints the fleet usage for --help', async () => {
    const t = captureIo();
    expect(await runFleet(['--help'], t.io)).toBe(0);
    expect(t.out()).toContain('usage: vigil fleet --broker URL');
  });

  it('refuses to start without --broker, saying why', async () => {
    const t = captureIo();
    expect(await runFleet([], t.io)).toBe(2);
    expect(t.err()).toMatch(/^\[vigil\] \[fleet\] --broker URL is required/);
  });

  it('refuses a malformed --http', async () => {
    const t = captureIo();
    expect(await runFleet(['--broker', broker.url, '--http', 'localhost'], t.io)).toBe(2);
    expect(t.err()).toContain('--http must be HOST:PORT, got "localhost"');
  });

  it('parses HOST:PORT including IPv6', () => {
    expect([parseHostPort('0.0.0.0:8080'), parseHostPort('[::1]:9'), parseHostPort(':81'), parseHostPort('x:99999')]).toEqual([
      { host: '0.0.0.0', port: 8080 }, { host: '::1', port: 9 }, { host: '127.0.0.1', port: 81 }, null,
    ]);
  });

  it('runs the fleet until told to stop', async () => {
    const t = captureIo();
    const ac = new AbortController();
    const done = runFleet(['--broker', broker.url, '--db', ':memory:', '--http', '127.0.0.1:0'], t.io, ac.signal);
    await waitUntil('the dashboard line', () => t.out().includes('dashboard at http://127.0.0.1:'));
    ac.abort();
    expect(await done).toBe(0);
  });

  it('says it cannot reach a broker that is not there', async () => {
    const t = captureIo();
    expect(await runStatus(['--broker', 'mqtt://127.0.0.1:1'], t.io)).toBe(1);
    expect(t.err()).toMatch(/^\[vigil\] \[fleet\] cannot connect to mqtt:\/\/127\.0\.0\.1:1/);
  });

  it('prints the fleet table from retained messages', async () => {
    await pub.publishAsync('vigil/v1/CAMHTTP3/report', JSON.stringify(makeReport({ serial: 'CAMHTTP3', version: '8.40.4.6', sentAt: new Date().toISOString(), findings: [finding('ssh-enabled')] })), { qos: 1, retain: true });
    const t = captureIo();
    expect(await runStatus(['--broker', broker.url], t.io)).toBe(0);
    const lines = t.out().trim().split('\n');
    expect(lines[0]).toMatch(/^CAMERA\s+MODEL\s+AXIS OS\s+TRACK\s+SUPPORT\s+STATUS\s+POSTURE\s+FINDINGS H\/M\/L\s+ADVISORIES\s+INTEGRITY$/);
    expect(lines.find((l) => l.startsWith('CAMHTTP3'))).toMatch(/8\.40\.4\.6\s+LTS 2018\s+end-of-life\s+online\s+at-risk\s+0\/1\/0\s+1\s+ok$/);
    // A retained report far older than its interval: the camera has gone quiet.
    expect(lines.find((l) => l.startsWith('CAMHTTP1'))).toMatch(/\s+missing\s+/);
  });
});
