// The ingest functions on their own: a topic and payload bytes (or a parsed message), a store and a view in, what
// happened out. No MQTT, no consumer object.
import { afterEach, describe, expect, it } from 'vitest';
import { loadTables } from '../src/data';
import { ingestContext, type IngestContext } from '../src/ingest/context';
import { ingestEvent } from '../src/ingest/event';
import { ingestMessage } from '../src/ingest/message';
import { ingestReport } from '../src/ingest/report';
import { ingestState } from '../src/ingest/state';
import type { LogLevel } from '../src/log';
import { SqliteStore } from '../src/store/sqlite';
import { makeReport, statePayload, T0 } from './fixtures';

const P = 'vigil/v1';
const tables = loadTables();
let store: SqliteStore;
let logs: Array<[LogLevel, string]>;
let notices: string[];

function context(options: { maxPayloadBytes?: number } = {}): IngestContext {
  store = new SqliteStore(':memory:');
  logs = [];
  notices = [];
  return ingestContext({ store, tables, log: (l, m) => logs.push([l, m]), notify: (notice) => notices.push(notice), ...options });
}

/** What the dispatcher hands a leaf function once topic, size and JSON are checked. */
function message(serial: string, body: unknown, nowMs = T0) {
  const text = JSON.stringify(body);
  return { topic: `${P}/${serial}/report`, serial, body, bytes: Buffer.from(text), text, nowMs, retained: false };
}

afterEach(() => store?.close());

describe('ingestMessage', () => {
  it('quarantines a payload that is not JSON, and stores no camera', () => {
    const ctx = context();
    expect(ingestMessage(ctx, `${P}/CAM1/report`, '{"schema": "vigil.report/1", trunc', T0)).toEqual({ result: 'quarantined', reason: 'not-json' });
    expect([ctx.view.size, store.loadCameras().length, ctx.counters.invalid]).toEqual([0, 0, { 'not-json': 1 }]);
    expect(store.quarantined(1)[0]).toMatchObject({ topic: `${P}/CAM1/report`, serial: 'CAM1', excerpt: '{"schema": "vigil.report/1", trunc' });
  });

  it('quarantines a report that fails the schema, with the schema error as its reason', () => {
    const ctx = context();
    const bad = { ...makeReport({ serial: 'CAM1' }), seq: -1 };
    expect(ingestMessage(ctx, `${P}/CAM1/report`, JSON.stringify(bad), T0)).toEqual({ result: 'quarantined', reason: 'schema' });
    expect(store.quarantined(1)[0].reason).toMatch(/^schema: .*\/seq must be >= 0/);
    expect([ctx.counters.reports, notices]).toEqual([0, ['quarantine']]);
  });

  it('quarantines an oversized payload before it is parsed', () => {
    const ctx = context({ maxPayloadBytes: 100 });
    expect(ingestMessage(ctx, `${P}/CAM1/report`, Buffer.alloc(101, 0x7b), T0)).toEqual({ result: 'quarantined', reason: 'oversized' });
  });

  it('ignores other topics and an empty retained payload, and quarantines a topic whose serial is not one', () => {
    const ctx = context();
    expect(ingestMessage(ctx, 'other/CAM1/report', '{}', T0)).toEqual({ result: 'ignored' });
    expect(ingestMessage(ctx, `${P}/CAM1/firmware`, '{}', T0)).toEqual({ result: 'ignored' });
    expect(ingestMessage(ctx, `${P}/CAM1/report`, '', T0, true)).toEqual({ result: 'ignored' });
    expect(ingestMessage(ctx, `${P}/CAM 1/report`, '{}', T0)).toEqual({ result: 'quarantined', reason: 'bad-topic' });
    expect(ctx.counters.messages).toBe(4);
  });

  it('logs the bad messages of one camera once and counts every one', () => {
    const ctx = context();
    for (let i = 0; i < 3; i++) ingestMessage(ctx, `${P}/CAM1/report`, 'nope', T0);
    expect([ctx.counters.invalid['not-json'], logs.filter(([, m]) => m.includes('quarantined')).length]).toEqual([3, 1]);
  });
});

describe('ingestReport', () => {
  it('stores a valid report as history and as the camera in the view', () => {
    const ctx = context();
    expect(ingestReport(ctx, message('CAM1', makeReport({ serial: 'CAM1', version: '9.80.3.12' })))).toEqual({ result: 'stored', gap: null, outOfOrder: false });
    expect([ctx.view.camera('CAM1')?.osVersion, ctx.view.camera('CAM1')?.evaluation?.support, store.history('CAM1', 10).map((h) => h.seq)]).toEqual(['9.80.3.12', 'end-of-life', [1]]);
    expect(notices).toEqual(['status', 'camera']);
  });

  it('returns duplicate for a reportId it has, and stores nothing more', () => {
    const ctx = context();
    const r = makeReport({ serial: 'CAM1' });
    ingestReport(ctx, message('CAM1', r));
    expect(ingestReport(ctx, message('CAM1', r))).toEqual({ result: 'duplicate' });
    expect([ctx.counters.duplicates, ctx.view.camera('CAM1')?.reports, ctx.view.camera('CAM1')?.duplicates, store.history('CAM1', 10).length]).toEqual([1, 1, 1, 1]);
  });

  it('returns the gap a report opens in the sequence, and records it', () => {
    const ctx = context();
    ingestReport(ctx, message('CAM1', makeReport({ serial: 'CAM1', seq: 2 })));
    expect(ingestReport(ctx, message('CAM1', makeReport({ serial: 'CAM1', seq: 5 })))).toEqual({ result: 'stored', gap: { fromSeq: 3, toSeq: 4 }, outOfOrder: false });
    expect([store.gaps('CAM1').map((g) => [g.fromSeq, g.toSeq]), ctx.counters.gaps]).toEqual([[[3, 4]], 1]);
  });

  it('returns out of order for a late report, keeps the newest as latest, and fills the gap', () => {
    const ctx = context();
    for (const seq of [1, 4]) ingestReport(ctx, message('CAM1', makeReport({ serial: 'CAM1', seq })));
    expect(ingestReport(ctx, message('CAM1', makeReport({ serial: 'CAM1', seq: 2 })))).toEqual({ result: 'stored', gap: null, outOfOrder: true });
    expect([ctx.view.camera('CAM1')?.lastSeq, store.gaps('CAM1').map((g) => [g.fromSeq, g.toSeq])]).toEqual([4, [[3, 3]]]);
  });

  it('quarantines a report for another camera than its topic names', () => {
    const ctx = context();
    expect(ingestReport(ctx, message('CAM1', makeReport({ serial: 'CAM2' })))).toEqual({ result: 'quarantined', reason: 'serial-mismatch' });
    expect(ctx.view.camera('CAM1')).toBeNull();
  });

  it('lets a store failure through to the caller, so that the message is not acknowledged', () => {
    const ctx = context();
    store.insertReport = () => {
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    };
    expect(() => ingestReport(ctx, message('CAM1', makeReport({ serial: 'CAM1' })))).toThrow('database or disk is full');
    expect([ctx.view.camera('CAM1'), ctx.counters.reports]).toEqual([null, 0]);
  });
});

describe('ingestState and ingestEvent', () => {
  it('returns stale for a will from an older session, and keeps the camera online', () => {
    const ctx = context();
    const state = (payload: string) => ({ ...message('CAM1', JSON.parse(payload)), topic: `${P}/CAM1/state` });
    expect(ingestState(ctx, state(statePayload('online', 'connected', 5)))).toEqual({ result: 'stored' });
    expect(ingestState(ctx, state(statePayload('offline', 'lost', 4, new Date(T0 - 60_000).toISOString())))).toEqual({ result: 'stale' });
    expect([ctx.view.camera('CAM1')?.status, ctx.counters.staleStates, store.states('CAM1', 1)[0].stale]).toEqual(['online', 1, true]);
  });

  it('returns duplicate for an eventId it has', () => {
    const ctx = context();
    const event = { schema: 'vigil.event/1', deviceId: 'CAM1', eventId: 'ev-00000001', at: new Date(T0).toISOString(), kind: 'integrity-drift', severity: 'high', summary: '/usr/bin/x changed' };
    const msg = { ...message('CAM1', event), topic: `${P}/CAM1/event` };
    expect([ingestEvent(ctx, msg), ingestEvent(ctx, msg)]).toEqual([{ result: 'stored' }, { result: 'duplicate' }]);
    expect([store.events('CAM1', 10).length, notices]).toEqual([1, ['event']]);
  });
});
