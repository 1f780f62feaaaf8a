// The alerts and decommission API of a running fleet (embedded broker): GET /api/alerts, the MQTT alert
// topic, /metrics, POST retire/unretire, and `vigil fleet retire` against it.
import mqtt, { type MqttClient } from 'mqtt';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../../test/helpers/broker';
import { freePort } from '../../../test/helpers/ports';
import { waitUntil } from '../../../test/helpers/wait';
import { verifyWebhook } from '../../src/alerts/webhook';
import { runFleet } from '../../src/cli';
import { startFleet, type Fleet } from '../../src/fleet';
import { finding, makeReport, statePayload, T0 } from '../fixtures';
import { captureIo } from '../../../test/helpers/capture-io';

let broker: EmbeddedBroker;
let fleet: Fleet;
let pub: MqttClient;
const onAlertTopic: string[] = [];
const clock = { now: T0 };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function getJson(path: string): Promise<any> {
  return (await fetch(fleet.url + path)).json();
}

beforeAll(async () => {
  broker = await startEmbeddedBroker({ port: 0 });
  fleet = await startFleet({ brokerUrl: broker.url, http: { host: '127.0.0.1', port: 0 }, now: () => clock.now, sweepMs: 0, alerts: { reconcileMs: 0, delivery: { baseDelayMs: 50 } } });
  pub = await mqtt.connectAsync(broker.url, { clientId: 'test-pub-alerts-api', reconnectPeriod: 0 });
  await pub.subscribeAsync('vigil/v1/fleet/alert', { qos: 1 });
  pub.on('message', (topic, payload, packet) => {
    if (topic === 'vigil/v1/fleet/alert') onAlertTopic.push(`${packet.retain ? 'retained ' : ''}${payload.toString()}`);
  });
  await pub.publishAsync('vigil/v1/CAMAPI1/state', statePayload('online', 'connected', 1), { qos: 1 });
  await pub.publishAsync('vigil/v1/CAMAPI1/report', JSON.stringify(makeReport({ serial: 'CAMAPI1', findings: [finding('telnet-listening', 'high', 'Legacy')] })), { qos: 1 });
  await pub.publishAsync('vigil/v1/CAMAPI2/report', JSON.stringify(makeReport({ serial: 'CAMAPI2' })), { qos: 1 });
  await waitUntil('two cameras', () => fleet.consumer.cameras().length === 2);
}, 30_000);

afterAll(async () => {
  await pub?.endAsync();
  await fleet?.stop();
  await broker?.close();
});

describe('the alerts API', () => {
  it('lists the newest alerts with their delivery state', async () => {
    const body = await waitUntil('a delivered alert', async () => {
      const b = await getJson('api/alerts?limit=10');
      return b.alerts[0]?.deliveries[0]?.status === 'delivered' ? b : null;
    });
    expect(body.alerts).toHaveLength(1);
    expect(body.alerts[0]).toMatchObject({ schema: 'vigil.alert/1', serial: 'CAMAPI1', kind: 'finding', condition: 'finding:telnet-listening', severity: 'high' });
    expect(body.alerts[0].deliveries).toEqual([{ sink: 'mqtt', status: 'delivered', attempts: 1, lastError: null, nextTryAt: null, doneAt: new Date(clock.now).toISOString() }]);
  });

  it('filters by camera and bounds the limit', async () => {
    expect((await getJson('api/alerts?serial=CAMAPI2')).alerts).toEqual([]);
    expect((await getJson('api/alerts?limit=999999')).alerts).toHaveLength(1);
  });

  it('publishes each alert once on <prefix>/fleet/alert, not retained', async () => {
    await waitUntil('the alert on MQTT', () => onAlertTopic.length > 0);
    expect(onAlertTopic).toHaveLength(1);
    expect(JSON.parse(onAlertTopic[0])).toMatchObject({ serial: 'CAMAPI1', kind: 'finding' });
  });

  it('counts alerts and deliveries in /metrics', async () => {
    const text = await (await fetch(fleet.url + 'metrics')).text();
    expect(text).toContain('vigil_fleet_alerts_raised_total{kind="finding"} 1');
    expect(text).toContain('vigil_fleet_alert_deliveries_ok_total{sink="mqtt"} 1');
    expect(text).toContain('vigil_fleet_alert_deliveries{status="pending"} 0');
    expect(text).toContain('vigil_fleet_cameras_retired 0');
  });
});

describe('the decommission API', () => {
  const post = (path: string, body?: string) => fetch(fleet.url + path, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

  it('answers 404 for an unknown camera, 400 for a bad body and 413 for a large one', async () => {
    expect((await post('api/cameras/NOPE/retire', '{}')).status).toBe(404);
    expect((await post('api/cameras/CAMAPI2/retire', 'not json')).status).toBe(400);
    expect((await post('api/cameras/CAMAPI2/retire', '{"reason": 5}')).status).toBe(400);
    expect((await post('api/cameras/CAMAPI2/retire', JSON.stringify({ reason: 'x'.repeat(10_000) }))).status).toBe(413);
    expect((await fetch(fleet.url + 'api/cameras/CAMAPI2/retire')).status).toBe(405);
    expect(fleet.consumer.camera('CAMAPI2')?.retiredAt).toBeNull();
  });

  it('retires a camera: it leaves the counts, keeps its history, and is back with unretire', async () => {
    const res = await post('api/cameras/CAMAPI2/retire', JSON.stringify({ reason: 'removed from site' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ serial: 'CAMAPI2', retiredAt: new Date(clock.now).toISOString(), retiredReason: 'removed from site' });
    const f = await getJson('api/fleet');
    expect(f.counts).toMatchObject({ total: 1, retired: 1 });
    expect(f.cameras.find((c: { serial: string }) => c.serial === 'CAMAPI2')).toMatchObject({ retiredAt: new Date(clock.now).toISOString() });
    expect((await getJson('api/cameras/CAMAPI2/history')).reports).toHaveLength(1);
    const back = await post('api/cameras/CAMAPI2/unretire');
    expect(await back.json()).toMatchObject({ retiredAt: null });
    expect((await getJson('api/fleet')).counts).toMatchObject({ total: 2, retired: 0 });
  });

  it('raises retired-reporting once when a retired camera reports again', async () => {
    await post('api/cameras/CAMAPI2/retire', '{}');
    clock.now += 60_000;
    for (const seq of [2, 3]) {
      await pub.publishAsync('vigil/v1/CAMAPI2/report', JSON.stringify(makeReport({ serial: 'CAMAPI2', seq })), { qos: 1 });
    }
    await waitUntil('the third report', async () => (await fleet.store.history('CAMAPI2', 10)).length === 3);
    const alerts = (await getJson('api/alerts?serial=CAMAPI2')).alerts;
    expect(alerts.map((a: { kind: string }) => a.kind)).toEqual(['retired-reporting']);
    await post('api/cameras/CAMAPI2/unretire');
  });
});

describe('vigil fleet retire', () => {
  it('retires and unretires through the running consumer', async () => {
    const a = captureIo();
    expect(await runFleet(['retire', 'CAMAPI1', '--reason', 'broken lens', '--url', fleet.url], a.io)).toBe(0);
    expect(a.out()).toMatch(/CAMAPI1 retired at .*: broken lens/);
    expect(fleet.consumer.camera('CAMAPI1')).toMatchObject({ retiredReason: 'broken lens' });
    const b = captureIo();
    expect(await runFleet(['unretire', 'CAMAPI1', `--url=${fleet.url}`], b.io)).toBe(0);
    expect(b.out()).toMatch(/CAMAPI1 is back in service/);
    expect(fleet.consumer.camera('CAMAPI1')?.retiredAt).toBeNull();
  });

  it('says so when the camera is unknown', async () => {
    const a = captureIo();
    expect(await runFleet(['retire', 'NOPE', '--url', fleet.url], a.io)).toBe(1);
    expect(a.err()).toContain('[vigil] [fleet] no camera NOPE');
  });

  it('says how to fix it when no consumer answers', async () => {
    const a = captureIo();
    const port = await freePort();
    expect(await runFleet(['retire', 'CAMAPI1', '--url', `http://127.0.0.1:${port}`], a.io)).toBe(1);
    expect(a.err()).toContain(`cannot reach the fleet consumer at http://127.0.0.1:${port}: ECONNREFUSED; is \`vigil fleet\` running`);
  });

  it('needs a serial', async () => {
    const a = captureIo();
    expect(await runFleet(['retire'], a.io)).toBe(2);
    expect(a.err()).toContain('SERIAL is required');
  });
});

describe('vigil fleet with alert options', () => {
  const run = (argv: string[]) => {
    const a = captureIo();
    return runFleet(['--broker', broker.url, '--http', 'off', ...argv], a.io).then((code) => ({ code, err: a.err() }));
  };

  it('refuses a webhook that is not http(s), an --alerts-mqtt that is not on/off, and a negative --quiet-minutes', async () => {
    expect(await run(['--webhook', 'ftp://example.com/x'])).toMatchObject({ code: 2, err: expect.stringContaining('--webhook must be an http:// or https:// URL') });
    expect(await run(['--alerts-mqtt', 'maybe'])).toMatchObject({ code: 2, err: expect.stringContaining('--alerts-mqtt must be on or off') });
    expect(await run(['--quiet-minutes', '-1'])).toMatchObject({ code: 2, err: expect.stringContaining('--quiet-minutes must be an integer ≥ 0') });
    expect(await run(['--webhook'])).toMatchObject({ code: 2, err: expect.stringContaining('--webhook needs a value') });
  });

  it('says so when the webhook secret file cannot be read', async () => {
    expect(await run(['--webhook', 'http://127.0.0.1:1/', '--webhook-secret-file', '/nonexistent/secret'])).toMatchObject({ code: 1, err: expect.stringContaining('cannot read the webhook secret') });
  });

  it('posts alerts to every --webhook, signed with the key from --webhook-secret-file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-alerts-'));
    const got: Array<{ url: string; headers: IncomingHttpHeaders; body: string }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        got.push({ url: req.url ?? '', headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    writeFileSync(join(dir, 'secret'), 'file secret\n');
    const abort = new AbortController();
    const a = captureIo();
    const running = runFleet(['--broker', broker.url, '--db', join(dir, 'fleet.db'), '--http', 'off', '--prefix', 'cli/v1', '--alerts-mqtt', 'off',
      '--webhook', `${base}/one`, `--webhook=${base}/two`, '--webhook-secret-file', join(dir, 'secret')], a.io, abort.signal);
    try {
      await waitUntil('the consumer', () => a.out().includes('consuming'));
      await pub.publishAsync('cli/v1/CAMCLI1/report', JSON.stringify(makeReport({ serial: 'CAMCLI1', findings: [finding('telnet-listening', 'high', 'Legacy')] })), { qos: 1 });
      await waitUntil('both webhooks', () => got.length >= 2);
      expect(got.map((g) => g.url).sort()).toEqual(['/one', '/two']);
      for (const g of got) {
        expect(JSON.parse(g.body)).toMatchObject({ serial: 'CAMCLI1', kind: 'finding' });
        expect(verifyWebhook('file secret', g.headers, g.body)).toBe(true);
      }
    } finally {
      abort.abort();
      expect(await running).toBe(0);
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
