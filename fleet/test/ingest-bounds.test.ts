// Bounds on what a hostile payload can make the consumer hold or walk (issue 15, item 8): a 5,000-deep
// event.details once threw "Maximum call stack size exceeded" out of ingest; a 60 KB topic was kept whole.
import { afterEach, describe, expect, it } from 'vitest';
import { FleetConsumer } from '../src/consumer';
import { loadTables } from '../src/data';
import { jsonDepth, MAX_JSON_DEPTH } from '../src/ingest/json-depth';
import { MAX_TOPIC_KEPT } from '../src/ingest/quarantine';
import { SqliteStore } from '../src/store/sqlite';
import { makeReport, T0 } from './fixtures';

let store: SqliteStore;
afterEach(async () => {
  await store?.close();
});
const consumer = () => {
  store = new SqliteStore(':memory:');
  return new FleetConsumer({ brokerUrl: 'mqtt://127.0.0.1:1', store, tables: loadTables(), sweepMs: 0, now: () => T0 });
};
const event = (id: string, details: string) =>
  `{"schema":"vigil.event/1","eventId":"${id}","deviceId":"CAMDEEP","kind":"file-change","severity":"high","at":"2026-11-25T12:00:00.000Z","summary":"x","details":${details}}`;

describe('deeply nested JSON', () => {
  it('quarantines an event whose details nest 5,000 levels as too-deep, and stores the next event', async () => {
    const c = consumer();
    const deep = '{"d":'.repeat(5000) + '1' + '}'.repeat(5000);
    expect(await c.ingest('vigil/v1/CAMDEEP/event', event('evt-00000001', deep))).toEqual({ result: 'quarantined', reason: 'too-deep' });
    expect((await store.quarantined(1))[0].reason).toBe(`too-deep: JSON nested more than ${MAX_JSON_DEPTH} levels`);
    expect(await c.ingest('vigil/v1/CAMDEEP/event', event('evt-00000002', '{"path":"/usr/bin/curl"}'))).toEqual({ result: 'stored' });
  });
  it('quarantines a report nested 50,000 levels deep where its closed schema stops it, and stores the next report', async () => {
    const c = consumer();
    const good = makeReport({ serial: 'CAMDEEP', seq: 1 });
    const deep = JSON.stringify(good).replace('"services":', `"services":${'['.repeat(50_000)}${']'.repeat(50_000)},"x":`);
    expect(await c.ingest('vigil/v1/CAMDEEP/report', deep)).toEqual({ result: 'quarantined', reason: 'schema' });
    expect(await c.ingest('vigil/v1/CAMDEEP/report', JSON.stringify(good))).toEqual({ result: 'stored', gap: null, outOfOrder: false });
  });
  it('measures nesting outside strings only, past escaped quotes', () => {
    expect(jsonDepth('{"a":[1,{"b":"[[[{{{"}]}')).toBe(3);
    expect(jsonDepth('{"a":"\\"[[[\\"","b":[[]]}')).toBe(3);
    expect(jsonDepth('"{{{"')).toBe(0);
  });
  it('stops counting once past the bound', () => {
    expect(jsonDepth('['.repeat(1_000_000), 10)).toBe(11);
  });
});

describe('long topics', () => {
  it('keeps a 60 KB topic in the quarantine cut to its first characters and its length', async () => {
    const c = consumer();
    const topic = `vigil/v1/${'a'.repeat(60_000)}/report`;
    expect(await c.ingest(topic, '{}')).toEqual({ result: 'quarantined', reason: 'bad-topic' });
    const kept = (await store.quarantined(1))[0].topic;
    expect(kept.length).toBeLessThan(MAX_TOPIC_KEPT + 40);
    expect(kept).toMatch(/^vigil\/v1\/a+… \(60016 characters\)$/);
  });
});
