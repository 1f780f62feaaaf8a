// The ingest functions on their own: messages (topic and payload bytes), a store and a view in, what happened out.
// prepareMessage only checks; ingestBatch has the store decide and write a batch in one transaction, then the view,
// the counters and the listeners follow. No MQTT, no consumer object.
import { afterEach, describe, expect, it } from 'vitest';
import { loadTables, type Tables } from '../src/data';
import { ingestBatch } from '../src/ingest/batch';
import { ingestContext, type IngestContext, type Ingested, type RawMessage } from '../src/ingest/context';
import { prepareMessage } from '../src/ingest/message';
import type { LogLevel } from '../src/log';
import { SqliteStore } from '../src/store/sqlite';
import { makeReport, statePayload, T0 } from './fixtures';
import { failNextIngest } from './sqlite-failure';

const P = 'vigil/v1';
const tables = loadTables();
let store: SqliteStore;
let logs: Array<[LogLevel, string]>;
let notices: string[];

function context(options: { maxPayloadBytes?: number; tables?: Tables } = {}): IngestContext {
  store = new SqliteStore(':memory:');
  logs = [];
  notices = [];
  return ingestContext({ store, tables, log: (l, m) => logs.push([l, m]), notify: (notice) => notices.push(notice), ...options });
}

const raw = (topic: string, payload: Buffer | string, retained = false): RawMessage => ({ topic, payload, retained });
const reportOn = (serial: string, r: unknown): RawMessage => raw(`${P}/${serial}/report`, JSON.stringify(r));

/** One message as a batch of one. */
async function one(ctx: IngestContext, m: RawMessage, nowMs = T0): Promise<Ingested> {
  const results = await ingestBatch(ctx, [m], nowMs);
  expect(results).toHaveLength(1);
  return results[0];
}

afterEach(async () => {
  await store?.close();
});

describe('prepareMessage', () => {
  it('only checks: a bad payload is stored, counted and told only once its batch is in the store', async () => {
    const ctx = context();
    const p = prepareMessage(ctx, `${P}/CAM1/report`, 'nope', T0);
    expect(p).toMatchObject({ kind: 'quarantine', serial: 'CAM1', reason: 'not-json' });
    expect([await store.quarantined(10), ctx.counters.invalid, notices]).toEqual([[], {}, []]);
  });
});

describe('ingestBatch of one message', () => {
  it('quarantines a payload that is not JSON, and stores no camera', async () => {
    const ctx = context();
    expect(await one(ctx, raw(`${P}/CAM1/report`, '{"schema": "vigil.report/1", trunc'))).toEqual({ result: 'quarantined', reason: 'not-json' });
    expect([ctx.view.size, (await store.loadCameras()).length, ctx.counters.invalid]).toEqual([0, 0, { 'not-json': 1 }]);
    expect((await store.quarantined(1))[0]).toMatchObject({ topic: `${P}/CAM1/report`, serial: 'CAM1', excerpt: '{"schema": "vigil.report/1", trunc' });
  });

  it('quarantines a report that fails the schema, with the schema error as its reason', async () => {
    const ctx = context();
    const bad = { ...makeReport({ serial: 'CAM1' }), seq: -1 };
    expect(await one(ctx, reportOn('CAM1', bad))).toEqual({ result: 'quarantined', reason: 'schema' });
    expect((await store.quarantined(1))[0].reason).toMatch(/^schema: .*\/seq must be >= 0/);
    expect([ctx.counters.reports, notices]).toEqual([0, ['quarantine']]);
  });

  it('quarantines an oversized payload before it is parsed', async () => {
    const ctx = context({ maxPayloadBytes: 100 });
    expect(await one(ctx, raw(`${P}/CAM1/report`, Buffer.alloc(101, 0x7b)))).toEqual({ result: 'quarantined', reason: 'oversized' });
  });

  it('ignores other topics and an empty retained payload, and quarantines a topic whose serial is not one', async () => {
    const ctx = context();
    expect(await one(ctx, raw('other/CAM1/report', '{}'))).toEqual({ result: 'ignored' });
    expect(await one(ctx, raw(`${P}/CAM1/firmware`, '{}'))).toEqual({ result: 'ignored' });
    expect(await one(ctx, raw(`${P}/CAM1/report`, '', true))).toEqual({ result: 'ignored' });
    expect(await one(ctx, raw(`${P}/CAM 1/report`, '{}'))).toEqual({ result: 'quarantined', reason: 'bad-topic' });
    expect(ctx.counters.messages).toBe(4);
  });

  it('logs the bad messages of one camera once and counts every one', async () => {
    const ctx = context();
    for (let i = 0; i < 3; i++) await one(ctx, raw(`${P}/CAM1/report`, 'nope'));
    expect([ctx.counters.invalid['not-json'], logs.filter(([, m]) => m.includes('quarantined')).length]).toEqual([3, 1]);
  });
});

describe('reports', () => {
  it('stores a valid report as history and as the camera in the view', async () => {
    const ctx = context();
    expect(await one(ctx, reportOn('CAM1', makeReport({ serial: 'CAM1', version: '9.80.3.12' })))).toEqual({ result: 'stored', gap: null, outOfOrder: false });
    expect([ctx.view.camera('CAM1')?.osVersion, ctx.view.camera('CAM1')?.evaluation?.support, (await store.history('CAM1', 10)).map((h) => h.seq)]).toEqual(['9.80.3.12', 'end-of-life', [1]]);
    expect(notices).toEqual(['status', 'camera']);
  });

  it('returns duplicate for a reportId it has, and stores nothing more', async () => {
    const ctx = context();
    const r = makeReport({ serial: 'CAM1' });
    await one(ctx, reportOn('CAM1', r));
    expect(await one(ctx, reportOn('CAM1', r))).toEqual({ result: 'duplicate' });
    expect([ctx.counters.duplicates, ctx.view.camera('CAM1')?.reports, ctx.view.camera('CAM1')?.duplicates, (await store.history('CAM1', 10)).length]).toEqual([1, 1, 1, 1]);
  });

  it('returns the gap a report opens in the sequence, and records it', async () => {
    const ctx = context();
    await one(ctx, reportOn('CAM1', makeReport({ serial: 'CAM1', seq: 2 })));
    expect(await one(ctx, reportOn('CAM1', makeReport({ serial: 'CAM1', seq: 5 })))).toEqual({ result: 'stored', gap: { fromSeq: 3, toSeq: 4 }, outOfOrder: false });
    expect([(await store.gaps('CAM1')).map((g) => [g.fromSeq, g.toSeq]), ctx.counters.gaps]).toEqual([[[3, 4]], 1]);
  });

  it('returns out of order for a late report, keeps the newest as latest, and fills the gap', async () => {
    const ctx = context();
    for (const seq of [1, 4]) await one(ctx, reportOn('CAM1', makeReport({ serial: 'CAM1', seq })));
    expect(await one(ctx, reportOn('CAM1', makeReport({ serial: 'CAM1', seq: 2 })))).toEqual({ result: 'stored', gap: null, outOfOrder: true });
    expect([ctx.view.camera('CAM1')?.lastSeq, (await store.gaps('CAM1')).map((g) => [g.fromSeq, g.toSeq])]).toEqual([4, [[3, 3]]]);
  });

  it('quarantines a report for another camera than its topic names', async () => {
    const ctx = context();
    expect(await one(ctx, reportOn('CAM1', makeReport({ serial: 'CAM2' })))).toEqual({ result: 'quarantined', reason: 'serial-mismatch' });
    expect(ctx.view.camera('CAM1')).toBeNull();
  });

  it('lets a store failure through to the caller, so that the message is not acknowledged, and stores nothing', async () => {
    const ctx = context();
    failNextIngest(store, { table: 'reports', message: 'database or disk is full' });
    await expect(one(ctx, reportOn('CAM1', makeReport({ serial: 'CAM1' })))).rejects.toThrow('database or disk is full');
    expect([ctx.view.camera('CAM1'), ctx.counters.reports, await store.history('CAM1', 10), await store.loadCameras(), notices]).toEqual([null, 0, [], [], []]);
  });
});

describe('a batch of messages', () => {
  it('stores the others when one of them is bad: each bad one quarantined, each good one stored, in order', async () => {
    const ctx = context();
    const results = await ingestBatch(ctx, [
      reportOn('CAM1', makeReport({ serial: 'CAM1', seq: 1 })),
      raw(`${P}/CAM2/report`, 'nope'),
      reportOn('CAM3', { ...makeReport({ serial: 'CAM3' }), seq: -1 }),
      reportOn('CAM1', makeReport({ serial: 'CAM1', seq: 2 })),
      raw(`${P}/CAM4/state`, statePayload('online', 'connected', 1)),
    ], T0);
    expect(results).toEqual([
      { result: 'stored', gap: null, outOfOrder: false }, { result: 'quarantined', reason: 'not-json' }, { result: 'quarantined', reason: 'schema' },
      { result: 'stored', gap: null, outOfOrder: false }, { result: 'stored' },
    ]);
    expect([(await store.history('CAM1', 10)).map((h) => h.seq), (await store.quarantined(10)).map((q) => q.serial), (await store.loadCameras()).map((c) => c.serial)])
      .toEqual([[1, 2], ['CAM3', 'CAM2'], ['CAM1', 'CAM4']]);
    expect([ctx.counters.reports, ctx.counters.states, ctx.counters.invalid, ctx.view.camera('CAM1')?.lastSeq]).toEqual([2, 1, { 'not-json': 1, schema: 1 }, 2]);
  });

  it("decides a camera's messages in arrival order within one batch: a duplicate and a gap among them", async () => {
    const ctx = context();
    const r1 = makeReport({ serial: 'CAM1', seq: 1 });
    const results = await ingestBatch(ctx, [reportOn('CAM1', r1), reportOn('CAM1', r1), reportOn('CAM1', makeReport({ serial: 'CAM1', seq: 4 }))], T0);
    expect(results).toEqual([{ result: 'stored', gap: null, outOfOrder: false }, { result: 'duplicate' }, { result: 'stored', gap: { fromSeq: 2, toSeq: 3 }, outOfOrder: false }]);
    const cam = ctx.view.camera('CAM1');
    expect([cam?.lastSeq, cam?.reports, cam?.duplicates, cam?.gaps, (await store.loadCameras())[0].reports]).toEqual([4, 2, 1, 1, 2]);
  });

  it('quarantines as internal the one message our code fails on, and stores the rest of its batch', async () => {
    // A lifecycle table that makes evaluation throw: a stand-in for a bug.
    const ctx = context({ tables: { ...tables, tracks: null as never } });
    const results = await ingestBatch(ctx, [reportOn('CAM1', makeReport({ serial: 'CAM1' })), raw(`${P}/CAM1/state`, statePayload('online', 'connected', 1))], T0);
    expect(results).toEqual([{ result: 'quarantined', reason: 'internal' }, { result: 'stored' }]);
    expect([(await store.quarantined(1))[0].reason.startsWith('internal: '), (await store.states('CAM1', 10)).length, await store.history('CAM1', 10)]).toEqual([true, 1, []]);
  });

  it('writes nothing of a batch whose store.ingest fails, counts nothing and tells no one; the same batch again is stored whole', async () => {
    const ctx = context();
    const batch = [
      reportOn('CAM1', makeReport({ serial: 'CAM1', seq: 1 })),
      raw(`${P}/CAM1/state`, statePayload('online', 'connected', 1)),
      raw(`${P}/CAM2/report`, 'nope'),
      reportOn('CAM3', makeReport({ serial: 'CAM3', seq: 1 })),
    ];
    // The cameras are written last: the history, state and quarantine rows before them are rolled back with them.
    const failing = failNextIngest(store, { table: 'cameras', when: "NEW.serial = 'CAM3'", message: 'disk I/O error' });
    await expect(ingestBatch(ctx, batch, T0)).rejects.toThrow('disk I/O error');
    expect(failing.failures).toBe(1);
    expect([await store.history('CAM1', 10), await store.states('CAM1', 10), await store.quarantined(10), await store.loadCameras()]).toEqual([[], [], [], []]);
    expect([ctx.view.size, ctx.counters.reports, ctx.counters.states, ctx.counters.invalid, notices]).toEqual([0, 0, 0, {}, []]);
    expect((await ingestBatch(ctx, batch, T0)).map((r) => r.result)).toEqual(['stored', 'stored', 'quarantined', 'stored']);
    expect([(await store.loadCameras()).map((c) => [c.serial, c.reports, c.duplicates]), (await store.quarantined(10)).length]).toEqual([[['CAM1', 1, 0], ['CAM3', 1, 0]], 1]);
  });
});

describe('states and events', () => {
  it('returns stale for a will from an older session, and keeps the camera online', async () => {
    const ctx = context();
    const state = (payload: string) => raw(`${P}/CAM1/state`, payload);
    expect(await one(ctx, state(statePayload('online', 'connected', 5)))).toEqual({ result: 'stored' });
    expect(await one(ctx, state(statePayload('offline', 'lost', 4, new Date(T0 - 60_000).toISOString())))).toEqual({ result: 'stale' });
    expect([ctx.view.camera('CAM1')?.status, ctx.counters.staleStates, (await store.states('CAM1', 1))[0].stale]).toEqual(['online', 1, true]);
  });

  it('returns duplicate for an eventId it has, telling of it as redelivered (not as a new event)', async () => {
    const ctx = context();
    const event = { schema: 'vigil.event/1', deviceId: 'CAM1', eventId: 'ev-00000001', at: new Date(T0).toISOString(), kind: 'integrity-drift', severity: 'high', summary: '/usr/bin/x changed' };
    const msg = raw(`${P}/CAM1/event`, JSON.stringify(event));
    expect([await one(ctx, msg), await one(ctx, msg)]).toEqual([{ result: 'stored' }, { result: 'duplicate' }]);
    expect([(await store.events('CAM1', 10)).length, notices]).toEqual([1, ['event', 'event-redelivered']]);
  });
});
