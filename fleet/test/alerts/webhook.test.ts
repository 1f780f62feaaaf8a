// Webhook delivery against a real node:http receiver on 127.0.0.1: the signature, retries with backoff from
// the durable outbox, giving up, and a restarted dispatcher resuming a pending delivery from the same store file.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../../test/helpers/wait';
import { AlertDispatcher, backoffMs } from '../../src/alerts/dispatcher';
import { loadAlertRules, type DeliveryPolicy } from '../../src/alerts/rules';
import { redactUrl, signWebhook, verifyWebhook, webhookSink } from '../../src/alerts/webhook';
import { SqliteStore } from '../../src/store/sqlite';
import type { AlertRow } from '../../src/store/types';
import { tempDb } from './setup';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  atMs: number;
}

/** A receiver that answers `statuses` in turn (then 200), and records every request. */
async function receiver(statuses: number[] = []): Promise<{ url: string; got: Received[]; server: Server; close(): Promise<void> }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.push({ headers: req.headers, body, atMs: Date.now() });
      res.writeHead(statuses.shift() ?? 200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/hook`, got, server, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const POLICY: DeliveryPolicy = { baseDelayMs: 20, maxDelayMs: 200, maxAttempts: 5, timeoutMs: 5000 };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Stores an alert with one pending delivery per sink, due at nowMs, as the engine does. */
async function insertAlert(store: SqliteStore, a: AlertRow, sinks: string[], nowMs: number): Promise<void> {
  await store.updateAlerts(a.serial, () => ({ puts: [], deletes: [], alerts: [a] }), sinks, nowMs);
}

const lostAlert = (id: string, raisedMs: number, json: string): AlertRow => ({ id, serial: 'CAM1', kind: 'lost', condition: 'lost', severity: 'high', raisedMs, json });

async function storeWithAlert(path = ':memory:', sink: string, id = 'a-1'): Promise<SqliteStore> {
  const store = new SqliteStore(path);
  const json = JSON.stringify({ schema: 'vigil.alert/1', id, serial: 'CAM1', kind: 'lost', condition: 'lost', severity: 'high', summary: 'CAM1: lost', raisedAt: new Date().toISOString(), details: {} });
  await insertAlert(store, lostAlert(id, Date.now(), json), [sink], Date.now());
  return store;
}

function dispatcher(store: SqliteStore, url: string, secret: string | null, policy = POLICY): AlertDispatcher {
  const d = new AlertDispatcher({ store, sinks: [webhookSink({ url, secret, timeoutMs: policy.timeoutMs })], policy, now: Date.now, log: () => undefined, pollMs: 20 });
  cleanups.push(() => d.stop());
  return d;
}

describe('webhook signatures', () => {
  it('verify with the right secret and fail with a wrong one', async () => {
    const r = await receiver();
    cleanups.push(r.close);
    const store = await storeWithAlert(':memory:', `webhook:${r.url}`);
    cleanups.push(() => store.close());
    dispatcher(store, r.url, 'right secret').start();
    const [req] = await waitUntil('the POST', () => (r.got.length ? r.got : null), { timeoutMs: 20_000 });
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(req.body)).toMatchObject({ id: 'a-1', kind: 'lost' });
    expect(req.headers['x-vigil-signature']).toBe(signWebhook('right secret', req.headers['x-vigil-timestamp'] as string, req.body));
    expect(verifyWebhook('right secret', req.headers, req.body)).toBe(true);
    expect(verifyWebhook('wrong secret', req.headers, req.body)).toBe(false);
    expect(verifyWebhook('right secret', req.headers, req.body.replace('lost', 'LOST'))).toBe(false);
  });

  it('fail when the timestamp is older than the tolerance (a replay)', () => {
    const body = '{"id":"x"}';
    const ts = String(Math.floor(Date.now() / 1000) - 3600);
    const headers = { 'x-vigil-timestamp': ts, 'x-vigil-signature': signWebhook('s', ts, body) };
    expect(verifyWebhook('s', headers, body)).toBe(false);
    expect(verifyWebhook('s', headers, body, Date.parse(new Date(Number(ts) * 1000).toISOString()))).toBe(true);
  });

  it('are absent when no secret is configured', async () => {
    const r = await receiver();
    cleanups.push(r.close);
    const store = await storeWithAlert(':memory:', `webhook:${r.url}`);
    cleanups.push(() => store.close());
    dispatcher(store, r.url, null).start();
    const [req] = await waitUntil('the POST', () => (r.got.length ? r.got : null), { timeoutMs: 20_000 });
    expect(req.headers['x-vigil-signature']).toBeUndefined();
  });
});

describe('webhook retries', () => {
  it('delivers on the 4th try to a receiver that answers 500 three times, with growing delays', async () => {
    const r = await receiver([500, 500, 500]);
    cleanups.push(r.close);
    const store = await storeWithAlert(':memory:', `webhook:${r.url}`);
    cleanups.push(() => store.close());
    const d = dispatcher(store, r.url, 'k');
    d.start();
    const delivery = await waitUntil('delivered', async () => (await store.deliveriesOf('a-1')).find((x) => x.status === 'delivered'), { timeoutMs: 20_000 });
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 4, lastError: null });
    expect(r.got.map((g) => g.headers['x-vigil-delivery-attempt'])).toEqual(['1', '2', '3', '4']);
    expect(new Set(r.got.map((g) => g.body)).size).toBe(1);
    // 20, 40, 80 ms of backoff at least (only lower bounds: a busy machine may be slower)
    const gaps = r.got.slice(1).map((g, i) => g.atMs - r.got[i].atMs);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(20 * 2 ** i - 2));
    expect(d.counters).toEqual({ delivered: { webhook: 1 }, failed: {}, attemptsFailed: { webhook: 3 } });
  });

  it('gives up after the last attempt, counted, and keeps the reason', async () => {
    const r = await receiver([503, 503, 503, 503, 503]);
    cleanups.push(r.close);
    const store = await storeWithAlert(':memory:', `webhook:${r.url}`);
    cleanups.push(() => store.close());
    const d = dispatcher(store, r.url, 'k', { ...POLICY, maxAttempts: 2 });
    d.start();
    await waitUntil('given up', async () => (await store.deliveriesOf('a-1'))[0].status === 'failed', { timeoutMs: 20_000 });
    expect((await store.deliveriesOf('a-1'))[0]).toMatchObject({ attempts: 2, lastError: 'HTTP 503' });
    expect(r.got).toHaveLength(2);
    expect(d.counters.failed).toEqual({ webhook: 1 });
    expect(await store.deliveryCounts()).toEqual({ pending: 0, delivered: 0, failed: 1 });
  });

  it('doubles the delay after each failure up to the maximum', () => {
    const p = { ...loadAlertRules().delivery, baseDelayMs: 1000, maxDelayMs: 5000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(p, n))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });

  it('fails an attempt that gets no answer within the timeout', async () => {
    const server = createServer(() => undefined); // never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const store = await storeWithAlert(':memory:', `webhook:${url}`);
    cleanups.push(() => store.close());
    const d = dispatcher(store, url, null, { ...POLICY, timeoutMs: 200, maxAttempts: 1 });
    expect(await d.runDue()).toBe(1);
    expect((await store.deliveriesOf('a-1'))[0]).toMatchObject({ status: 'failed', lastError: 'no answer within 200 ms' });
  });

  it('resumes a pending delivery after a restart of the dispatcher on the same store file', async () => {
    const db = tempDb();
    cleanups.push(db.remove);
    const r = await receiver([500]);
    cleanups.push(r.close);
    const first = await storeWithAlert(db.path, `webhook:${r.url}`);
    const d1 = new AlertDispatcher({ store: first, sinks: [webhookSink({ url: r.url, secret: 'k', timeoutMs: 5000 })], policy: { ...POLICY, baseDelayMs: 60_000 }, now: Date.now, log: () => undefined });
    expect(await d1.runDue()).toBe(1);
    await d1.stop();
    expect((await first.deliveriesOf('a-1'))[0]).toMatchObject({ status: 'pending', attempts: 1, lastError: 'HTTP 500' });
    await first.close();
    const store = new SqliteStore(db.path);
    cleanups.push(() => store.close());
    const later = () => Date.now() + 120_000; // past the 60 s backoff
    const d2 = new AlertDispatcher({ store, sinks: [webhookSink({ url: r.url, secret: 'k', timeoutMs: 5000 })], policy: POLICY, now: later, log: () => undefined });
    cleanups.push(() => d2.stop());
    expect(await d2.runDue()).toBe(1);
    expect((await store.deliveriesOf('a-1'))[0]).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(r.got).toHaveLength(2);
  });

  it('sends nothing of an alert whose store write failed, and sends it once it is stored', async () => {
    const r = await receiver();
    cleanups.push(r.close);
    const store = await storeWithAlert(':memory:', 'mqtt', 'a-1');
    cleanups.push(() => store.close());
    const d = dispatcher(store, r.url, null);
    // a-1 is stored already: the change's second insert fails, and a-2 with its delivery is rolled back.
    await expect(store.updateAlerts('CAM1', () => ({ puts: [], deletes: [], alerts: [lostAlert('a-2', 0, '{}'), lostAlert('a-1', 0, '{}')] }), [`webhook:${r.url}`], 0)).rejects.toThrow();
    await d.runDue();
    expect(r.got).toHaveLength(0);
    await insertAlert(store, lostAlert('a-2', 0, '{}'), [`webhook:${r.url}`], 0);
    expect(await d.runDue()).toBe(1);
    expect(r.got).toHaveLength(1);
  });

  it('sends a delivery once when two dispatchers share the store (two consumers): the first claim holds it', async () => {
    const r = await receiver();
    cleanups.push(r.close);
    const store = await storeWithAlert(':memory:', `webhook:${r.url}`);
    cleanups.push(() => store.close());
    const one = dispatcher(store, r.url, null);
    const two = dispatcher(store, r.url, null);
    const started = await Promise.all([one.runDue(), two.runDue()]);
    expect(started.sort()).toEqual([0, 1]);
    expect(r.got).toHaveLength(1);
    expect((await store.deliveriesOf('a-1'))[0]).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(await one.runDue() + await two.runDue()).toBe(0);
    expect(r.got).toHaveLength(1);
  });

  it('keeps delivering to a fast receiver while a slow one holds its request', async () => {
    const fast = await receiver();
    cleanups.push(fast.close);
    const held: Array<() => void> = [];
    const slow = createServer((_req, res) => held.push(() => res.writeHead(200).end()));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => { for (const h of held) h(); slow.close(() => r()); }));
    const slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`;
    const store = new SqliteStore(':memory:');
    cleanups.push(() => store.close());
    const sinks = [webhookSink({ url: slowUrl, secret: null, timeoutMs: 30_000 }), webhookSink({ url: fast.url, secret: null, timeoutMs: 30_000 })];
    const d = new AlertDispatcher({ store, sinks, policy: POLICY, now: Date.now, log: () => undefined, pollMs: 20 });
    cleanups.push(() => d.stop());
    // Answer the held requests before the dispatcher's stop waits for them (else it waits out their 30 s timeout).
    cleanups.push(() => { for (const h of held.splice(0)) h(); });
    d.start();
    for (const id of ['s-1', 's-2', 's-3']) {
      await insertAlert(store, lostAlert(id, 0, `{"id":"${id}"}`), [`webhook:${slowUrl}`, `webhook:${fast.url}`], 0);
      d.kick();
      await waitUntil(`alert ${id} at the fast receiver`, () => fast.got.some((g) => g.body.includes(id)), { timeoutMs: 20_000 });
    }
    expect(held.length).toBeGreaterThanOrEqual(1);
  });

  it('names a webhook in logs and the API by its origin and a hash, never its path or credentials', () => {
    const label = redactUrl('https://user:pw@hooks.example.com/services/T0/B0/SECRET?token=x');
    expect(label).toMatch(/^https:\/\/hooks\.example\.com\/… #[0-9a-f]{8}$/);
    expect(redactUrl('https://hooks.example.com/other')).not.toBe(label);
  });

  it('gives up a delivery for a sink that is no longer configured', async () => {
    const store = await storeWithAlert(':memory:', 'webhook:http://127.0.0.1:9/gone');
    cleanups.push(() => store.close());
    const d = dispatcher(store, 'http://127.0.0.1:9/other', null);
    await d.runDue();
    expect((await store.deliveriesOf('a-1'))[0]).toMatchObject({ status: 'failed', lastError: 'sink no longer configured' });
  });
});
