// Ingestion: through real brokers (embedded Aedes, Debian's Mosquitto) for what needs one (delivery, retained
// messages, at-least-once acknowledgement, group commit, shared subscriptions), and fed directly for the decisions:
// valid, invalid, oversized, spoofed, duplicate, gapped and out-of-order reports, stale wills, missing cameras.
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../test/helpers/broker';
import { startMosquitto } from '../../test/helpers/mosquitto';
import { waitUntil as pollUntil } from '../../test/helpers/wait';
import { FleetConsumer } from '../src/consumer';
import { loadTables, parseLifecycle } from '../src/data';
import { startFleet, type Fleet } from '../src/fleet';
import type { LogLevel } from '../src/log';
import { SqliteStore } from '../src/store/sqlite';
import { makeReport, statePayload, T0 } from './fixtures';
import { failNextIngest } from './sqlite-failure';

const P = 'vigil/v1';

// This file polls every 20 ms for at most 20 s.
const waitUntil: typeof pollUntil = (what, predicate, options = { timeoutMs: 20_000, pollMs: 20 }) => pollUntil(what, predicate, options);

interface BrokerUnderTest {
  url: string;
  close(): Promise<void>;
}

const brokers: Array<[string, () => Promise<BrokerUnderTest>]> = [
  ['Aedes', async () => startEmbeddedBroker({ port: 0 })],
  ['Mosquitto', async () => {
    const m = await startMosquitto();
    return { url: m.url, close: () => m.stop() };
  }],
];

describe.each(brokers)('the fleet consumer on %s', (_name, startBroker) => {
  let broker: BrokerUnderTest;
  let fleet: Fleet | null = null;
  let pub: MqttClient | null = null;
  let logs: Array<[LogLevel, string]> = [];
  const clock = { now: T0 };

  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => {
    await broker.close();
  });
  afterEach(async () => {
    await pub?.endAsync();
    pub = null;
    await fleet?.stop();
    fleet = null;
  });

  async function start(options: { maxPayloadBytes?: number } = {}): Promise<Fleet> {
    logs = [];
    clock.now = T0;
    fleet = await startFleet({ brokerUrl: broker.url, http: null, now: () => clock.now, sweepMs: 0, log: (l, m) => logs.push([l, m]), ...options });
    pub = await mqtt.connectAsync(broker.url, { clientId: `test-pub-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    return fleet;
  }
  // Unique serials per test: retained messages from earlier tests stay on the broker.
  let n = 0;
  const serial = () => `CAM${_name.toUpperCase()}${String(++n).padStart(3, '0')}${Math.random().toString(16).slice(2, 6)}`;
  const send = (s: string, leaf: string, body: unknown, retain = false) =>
    pub!.publishAsync(`${P}/${s}/${leaf}`, typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), { qos: 1, retain });

  it('stores a valid report and evaluates it', async () => {
    const f = await start();
    const s = serial();
    await send(s, 'report', makeReport({ serial: s, version: '9.80.3.12' }));
    const cam = await waitUntil('the camera', () => f.consumer.camera(s));
    expect([cam.osVersion, cam.status, cam.evaluation?.trackId, cam.evaluation?.support]).toEqual(['9.80.3.12', 'online', 'lts2020', 'end-of-life']);
    expect((await f.store.history(s, 10)).map((h) => h.seq)).toEqual([1]);
    expect((await f.store.loadCameras()).find((c) => c.serial === s)?.lastSeq).toBe(1);
  });

  it('learns the fleet from retained state and reports when it starts late', async () => {
    const s = serial();
    const early = await mqtt.connectAsync(broker.url, { clientId: `test-early-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    await early.publishAsync(`${P}/${s}/state`, statePayload('online', 'connected', 2), { qos: 1, retain: true });
    await early.publishAsync(`${P}/${s}/report`, JSON.stringify(makeReport({ serial: s, seq: 9, sentAt: new Date(T0 - 30_000).toISOString() })), { qos: 1, retain: true });
    await early.endAsync();
    const f = await start();
    const cam = await waitUntil('the retained camera', () => (f.consumer.camera(s)?.lastSeq === 9 && f.consumer.camera(s)?.session === 2 ? f.consumer.camera(s) : null));
    // A retained report counts from when it was sent, not from when this consumer happened to start.
    expect(cam!.lastReportAt).toBe(new Date(T0 - 30_000).toISOString());
    await send(s, 'report', '');
    await send(s, 'state', '', true);
    await send(s, 'report', '', true);
  });

  it('withholds the acknowledgement when the store fails, and gets the message redelivered', async () => {
    const store = new SqliteStore(':memory:');
    // The first report insert fails inside the store's transaction (as on a full disk); the redelivery is stored.
    const failing = failNextIngest(store, { table: 'reports', message: 'database or disk is full' });
    const consumer = new FleetConsumer({ brokerUrl: broker.url, store, tables: loadTables(), clientId: `test-fleet-${Math.random().toString(16).slice(2)}`, clean: false, sweepMs: 0 });
    await consumer.start();
    try {
      pub = await mqtt.connectAsync(broker.url, { clientId: `test-pub-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
      const s = serial();
      await send(s, 'report', makeReport({ serial: s }));
      await waitUntil('the redelivered report', () => consumer.counters.reports === 1);
      expect([consumer.counters.storeErrors, failing.failures]).toEqual([1, 1]);
      expect((await store.history(s, 10)).map((h) => h.seq)).toEqual([1]);
    } finally {
      await consumer.stop();
      await store.close();
    }
  });
});

// The decisions alone (quarantine, duplicates, gaps, order, states, missing, events): the same consumer, fed
// through ingest() as the subscriber feeds it, with no broker in the way.
describe('the fleet consumer, fed directly', () => {
  let fleet: { consumer: FleetConsumer; store: SqliteStore } | null = null;
  let logs: Array<[LogLevel, string]> = [];
  const clock = { now: T0 };

  afterEach(async () => {
    await fleet?.store.close();
    fleet = null;
  });

  async function start(options: { maxPayloadBytes?: number } = {}): Promise<{ consumer: FleetConsumer; store: SqliteStore }> {
    logs = [];
    clock.now = T0;
    const store = new SqliteStore(':memory:');
    const consumer = new FleetConsumer({ brokerUrl: 'mqtt://127.0.0.1:1', store, tables: loadTables(), now: () => clock.now, sweepMs: 0, log: (l, m) => logs.push([l, m]), ...options });
    fleet = { consumer, store };
    return fleet;
  }
  let n = 0;
  const serial = () => `CAMDIRECT${String(++n).padStart(3, '0')}`;
  const send = async (s: string, leaf: string, body: unknown, retain = false) => {
    await fleet!.consumer.ingest(`${P}/${s}/${leaf}`, typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), retain);
  };

  it('quarantines a report that fails the schema, counts it, and keeps consuming', async () => {
    const f = await start();
    const s = serial();
    const bad = { ...makeReport({ serial: s }), seq: -1 };
    await send(s, 'report', bad);
    await send(s, 'report', makeReport({ serial: s, seq: 2 }));
    await waitUntil('the valid report', () => f.consumer.counters.reports === 1);
    expect(f.consumer.counters.invalid).toEqual({ schema: 1 });
    const q = await f.store.quarantined(10);
    expect(q.map((x) => [x.serial, x.reason.split(':')[0]])).toEqual([[s, 'schema']]);
    expect(q[0].reason).toMatch(/\/seq must be >= 0/);
  });

  it('quarantines a payload that is not JSON', async () => {
    const f = await start();
    const s = serial();
    await send(s, 'report', '{"schema": "vigil.report/1", trunc');
    await waitUntil('the quarantine', () => f.consumer.counters.invalid['not-json'] === 1);
    expect(f.consumer.camera(s)).toBeNull();
    expect((await f.store.quarantined(1))[0].excerpt).toBe('{"schema": "vigil.report/1", trunc');
  });

  it('quarantines an oversized payload without parsing it', async () => {
    const f = await start({ maxPayloadBytes: 16_384 });
    const s = serial();
    await send(s, 'report', Buffer.alloc(20_000, 0x7b));
    await waitUntil('the quarantine', () => f.consumer.counters.invalid.oversized === 1);
    const q = (await f.store.quarantined(1))[0];
    expect([q.reason, q.size, q.excerpt.length]).toEqual(['oversized: 20000 bytes, limit 16384', 20_000, 512]);
  });

  it('rejects a report whose serial differs from its topic', async () => {
    const f = await start();
    const victim = serial();
    const spoofer = serial();
    await send(victim, 'report', makeReport({ serial: spoofer }));
    await waitUntil('the quarantine', () => f.consumer.counters.invalid['serial-mismatch'] === 1);
    expect([f.consumer.camera(victim), f.consumer.camera(spoofer)]).toEqual([null, null]);
    expect((await f.store.quarantined(1))[0].reason).toContain(`report for ${spoofer}/${spoofer} on ${victim}'s topic`);
  });

  it('logs bad payloads once per camera and counts every one', async () => {
    const f = await start();
    const s = serial();
    for (let i = 0; i < 3; i++) await send(s, 'report', 'nope');
    await waitUntil('three quarantined', () => f.consumer.counters.invalid['not-json'] === 3);
    expect(logs.filter(([, m]) => m.includes('quarantined'))).toHaveLength(1);
  });

  it('ignores a duplicate report id', async () => {
    const f = await start();
    const s = serial();
    const r = makeReport({ serial: s });
    await send(s, 'report', r);
    await send(s, 'report', r);
    await send(s, 'report', makeReport({ serial: s, seq: 2 }));
    await waitUntil('seq 2', () => f.consumer.camera(s)?.lastSeq === 2);
    expect([f.consumer.counters.duplicates, f.consumer.camera(s)?.reports, f.consumer.camera(s)?.duplicates]).toEqual([1, 2, 1]);
    expect((await f.store.history(s, 10)).map((h) => h.seq)).toEqual([1, 2]);
  });

  it('ignores a duplicate of an older report that is no longer the newest', async () => {
    const f = await start();
    const s = serial();
    await send(s, 'report', makeReport({ serial: s, seq: 1 }));
    await send(s, 'report', makeReport({ serial: s, seq: 2 }));
    await send(s, 'report', makeReport({ serial: s, seq: 1 }));
    await waitUntil('the duplicate', () => f.consumer.counters.duplicates === 1);
    expect([f.consumer.camera(s)?.lastSeq, f.consumer.camera(s)?.reports, f.consumer.camera(s)?.outOfOrder]).toEqual([2, 2, 0]);
  });

  it('records a gap in the sequence', async () => {
    const f = await start();
    const s = serial();
    for (const seq of [1, 2, 5]) await send(s, 'report', makeReport({ serial: s, seq }));
    await waitUntil('seq 5', () => f.consumer.camera(s)?.lastSeq === 5);
    expect((await f.store.gaps(s)).map((g) => [g.fromSeq, g.toSeq])).toEqual([[3, 4]]);
    expect([f.consumer.camera(s)?.gaps, f.consumer.counters.gaps]).toEqual([1, 1]);
  });

  it('keeps the newest report when an older one arrives late, and fills the gap it leaves', async () => {
    const f = await start();
    const s = serial();
    for (const seq of [1, 4, 2]) await send(s, 'report', makeReport({ serial: s, seq, version: seq === 4 ? '12.11.77' : '12.3.33' }));
    await waitUntil('three reports', () => f.consumer.camera(s)?.reports === 3);
    const cam = f.consumer.camera(s)!;
    expect([cam.lastSeq, cam.osVersion, cam.outOfOrder]).toEqual([4, '12.11.77', 1]);
    expect((await f.store.gaps(s)).map((g) => [g.fromSeq, g.toSeq])).toEqual([[3, 3]]);
    expect((await f.store.history(s, 10)).map((h) => h.seq).sort()).toEqual([1, 2, 4]);
  });

  it('follows a camera whose agent started afresh with its sequence reset', async () => {
    const f = await start();
    // Received when the fresh agent's report was sent: neither report is from the consumer's future (store/forgery.ts).
    clock.now = T0 + 3_600_000;
    const s = serial();
    await send(s, 'report', makeReport({ serial: s, seq: 40 }));
    await send(s, 'report', makeReport({ serial: s, seq: 1, sentAt: new Date(T0 + 3_600_000).toISOString(), startedAt: new Date(T0 + 3_500_000).toISOString() }));
    await waitUntil('two reports', () => f.consumer.camera(s)?.reports === 2);
    expect([f.consumer.camera(s)?.lastSeq, f.consumer.camera(s)?.outOfOrder]).toEqual([1, 0]);
  });

  it('marks a camera online, then offline on a planned shutdown', async () => {
    const f = await start();
    const s = serial();
    await send(s, 'state', statePayload('online', 'connected', 3));
    await waitUntil('online', () => f.consumer.camera(s)?.status === 'online');
    await send(s, 'state', statePayload('offline', 'shutdown', 3));
    await waitUntil('offline', () => f.consumer.camera(s)?.status === 'offline');
    expect((await f.store.states(s, 10)).map((x) => [x.state, x.reason, x.stale])).toEqual([['offline', 'shutdown', false], ['online', 'connected', false]]);
  });

  it('marks a camera lost when the will of its current session arrives', async () => {
    const f = await start();
    const s = serial();
    await send(s, 'state', statePayload('online', 'connected', 7));
    await send(s, 'state', statePayload('offline', 'lost', 7));
    await waitUntil('lost', () => f.consumer.camera(s)?.status === 'lost');
    expect(f.consumer.camera(s)?.session).toBe(7);
  });

  it('does not let a stale will from an older session mark a live camera offline', async () => {
    const f = await start();
    const s = serial();
    await send(s, 'state', statePayload('online', 'connected', 5, new Date(T0).toISOString()));
    await send(s, 'state', statePayload('offline', 'lost', 4, new Date(T0 - 60_000).toISOString()));
    await waitUntil('the stale will', () => f.consumer.counters.staleStates === 1);
    expect([f.consumer.camera(s)?.status, f.consumer.camera(s)?.session]).toEqual(['online', 5]);
    expect((await f.store.states(s, 1))[0]).toMatchObject({ state: 'offline', reason: 'lost', session: 4, stale: true });
  });

  it('quarantines a state message that is not a state', async () => {
    const f = await start();
    const s = serial();
    await send(s, 'state', { state: 'sleeping', session: 1, at: new Date(T0).toISOString() });
    await waitUntil('the quarantine', () => f.consumer.counters.invalid.schema === 1);
    expect(f.consumer.camera(s)).toBeNull();
  });

  it('calls a camera missing after the configured number of intervals without a report', async () => {
    const f = await start();
    const s = serial();
    await send(s, 'state', statePayload('online', 'connected', 1));
    await send(s, 'report', makeReport({ serial: s, intervalSec: 60 }));
    await waitUntil('the report', () => f.consumer.camera(s)?.reports === 1);
    clock.now = T0 + 3 * 60_000;
    f.consumer.sweep();
    expect(f.consumer.camera(s)?.status).toBe('online');
    clock.now = T0 + 3 * 60_000 + 1;
    f.consumer.sweep();
    expect(f.consumer.camera(s)?.status).toBe('missing');
    expect(f.consumer.counts().status.missing).toBe(1);
    await send(s, 'report', makeReport({ serial: s, seq: 2, intervalSec: 60 }));
    await waitUntil('online again', () => f.consumer.camera(s)?.status === 'online');
  });

  it('calls a camera missing after three hours even when its reports claim a day between them', async () => {
    const f = await start();
    const s = serial();
    await send(s, 'state', statePayload('online', 'connected', 1));
    await send(s, 'report', makeReport({ serial: s, intervalSec: 86400 }));
    await waitUntil('the report', () => f.consumer.camera(s)?.reports === 1);
    clock.now = T0 + 3 * 3_600_000;
    f.consumer.sweep();
    expect(f.consumer.camera(s)?.status).toBe('online');
    clock.now = T0 + 3 * 3_600_000 + 1;
    f.consumer.sweep();
    expect(f.consumer.camera(s)?.status).toBe('missing');
  });

  it('stores a valid event and quarantines one for another camera', async () => {
    const f = await start();
    const s = serial();
    const event = { schema: 'vigil.event/1', deviceId: s, eventId: 'ev-00000001', at: new Date(T0).toISOString(), kind: 'integrity-drift', severity: 'high', summary: '/usr/bin/x changed' };
    await send(s, 'event', event);
    await send(s, 'event', event);
    await send(s, 'event', { ...event, deviceId: 'SOMEONEELSE', eventId: 'ev-00000002' });
    await waitUntil('the spoofed event', () => f.consumer.counters.invalid['serial-mismatch'] === 1);
    expect((await f.store.events(s, 10)).map((e) => e.kind)).toEqual(['integrity-drift']);
    expect(f.consumer.counters.duplicates).toBe(1);
  });
});

describe.each(brokers)('group commit on %s', (_name, startBroker) => {
  it('sends no PUBACK for a batch whose commit fails, and stores every redelivered report once', async () => {
    const broker = await startBroker();
    const store = new SqliteStore(':memory:');
    // One batch fails inside its transaction, once a report of the camera is stored (by it or an earlier batch):
    // SQLite rolls back the whole batch.
    const failing = failNextIngest(store, { table: 'reports', when: '(SELECT COUNT(*) FROM reports WHERE serial = NEW.serial) >= 1', message: 'disk I/O error' });
    const consumer = new FleetConsumer({ brokerUrl: broker.url, store, tables: loadTables(), clientId: `test-batch-${Math.random().toString(16).slice(2)}`, clean: false, sweepMs: 0 });
    await consumer.start();
    const pub = await mqtt.connectAsync(broker.url, { clientId: `test-pub-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    const s = `CAMBATCH${_name.toUpperCase()}`;
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => pub.publishAsync(`${P}/${s}/report`, JSON.stringify(makeReport({ serial: s, seq: i + 1 })), { qos: 1 })));
      await waitUntil('all 20 reports committed', async () => (await store.history(s, 100)).length === 20 && consumer.camera(s)?.lastSeq === 20);
      expect([failing.failures, consumer.counters.storeErrors > 0]).toEqual([1, true]);
      // Had the failed batch left rows behind, their redelivery would count as duplicates, not as reports. (Duplicates
      // there may be: what came in after the failed batch on its connection can be stored without its PUBACK.)
      expect([consumer.camera(s)?.reports, (await store.loadCameras()).find((c) => c.serial === s)?.reports]).toEqual([20, 20]);
    } finally {
      await pub.endAsync();
      await consumer.stop();
      await store.close();
      await broker.close();
    }
  });
});

describe('a fault in the consumer itself', () => {
  it('quarantines the message and acknowledges it instead of looping on redelivery', async () => {
    const broker = await startEmbeddedBroker({ port: 0 });
    const store = new SqliteStore(':memory:');
    const tables = loadTables();
    // A lifecycle table that makes evaluation throw: a stand-in for a bug.
    const broken = { ...tables, tracks: null as never };
    const consumer = new FleetConsumer({ brokerUrl: broker.url, store, tables: broken, sweepMs: 0 });
    await consumer.start();
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'test-pub-internal', reconnectPeriod: 0 });
    try {
      await pub.publishAsync(`${P}/CAMINTERNAL/report`, JSON.stringify(makeReport({ serial: 'CAMINTERNAL' })), { qos: 1 });
      await waitUntil('the quarantine', () => consumer.counters.invalid.internal === 1);
      expect([consumer.counters.storeErrors, (await store.quarantined(1))[0].reason.startsWith('internal: ')]).toEqual([0, true]);
    } finally {
      await pub.endAsync();
      await consumer.stop();
      await store.close();
      await broker.close();
    }
  });
});

describe('shared subscriptions on Mosquitto (MQTT 5)', () => {
  it('splits the reports between two consumers of one group, each stored once', async () => {
    const m = await startMosquitto();
    const fleets: Fleet[] = [];
    try {
      for (let i = 0; i < 2; i++) fleets.push(await startFleet({ brokerUrl: m.url, http: null, shared: 'vigil-test', sweepMs: 0 }));
      expect(fleets[0].consumer.filters()[0]).toBe('$share/vigil-test/vigil/v1/+/state');
      const pub = await mqtt.connectAsync(m.url, { clientId: 'test-pub-shared', reconnectPeriod: 0 });
      for (let i = 1; i <= 40; i++) await pub.publishAsync(`${P}/CAMSHARED${i}/report`, JSON.stringify(makeReport({ serial: `CAMSHARED${i}` })), { qos: 1 });
      await pub.endAsync();
      await waitUntil('40 reports in all', () => fleets[0].consumer.counters.reports + fleets[1].consumer.counters.reports === 40);
      const seen = fleets.flatMap((f) => f.consumer.cameras().map((c) => c.serial));
      expect(new Set(seen).size).toBe(40);
      expect(fleets.every((f) => f.consumer.counters.reports > 0)).toBe(true);
    } finally {
      for (const f of fleets) await f.stop();
      await m.stop();
    }
  });
});

describe('support status over time, without a broker', () => {
  it('turns a camera on the previous active release from ending soon to outdated in the sweep when the grace ends', async () => {
    const base = loadTables();
    const lifecycle = structuredClone(base.lifecycle);
    // The newest active release came out 5 days before T0, with a 7-day grace (a rule the data may set).
    const released = new Date(T0 - 5 * 86_400_000).toISOString().slice(0, 10);
    Object.assign(lifecycle.tracks.find((t) => t.kind === 'active') as object, { latestReleased: released, graceDays: 7 });
    const tables = { ...base, lifecycle, tracks: parseLifecycle(lifecycle) };
    const store = new SqliteStore(':memory:');
    const consumer = new FleetConsumer({ brokerUrl: 'mqtt://127.0.0.1:1', store, tables, sweepMs: 0, now: () => T0 });
    await consumer.ingest(`${P}/ACCC8E000009/report`, JSON.stringify(makeReport({ serial: 'ACCC8E000009', version: '12.10.36' })));
    expect(consumer.camera('ACCC8E000009')?.evaluation?.support).toBe('ending-soon');
    // The grace's last day is 2 days after T0; the day after, the release is outdated.
    consumer.sweep(T0 + 2 * 86_400_000);
    expect(consumer.camera('ACCC8E000009')?.evaluation?.support).toBe('ending-soon');
    consumer.sweep(T0 + 3 * 86_400_000);
    expect(consumer.camera('ACCC8E000009')?.evaluation?.support).toBe('outdated');
    await store.close();
  });
});
