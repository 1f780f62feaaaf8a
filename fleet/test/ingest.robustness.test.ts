// Consumer ingestion under hostile input (issue 7, ROBUSTNESS.md): random JSON, deep nesting, huge strings,
// wrong types, invalid UTF-8 and random bytes on every topic leaf. The consumer must never reject bad
// input (only a failing store may), and must never lose what it has stored. First fed directly (many cases),
// then through a real broker (Aedes), where a crash would show as a consumer that stops consuming.
import fc from 'fast-check';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../test/helpers/broker';
import { checkAsync, seeds } from '../../test/helpers/fc-seed';
import { FleetConsumer } from '../src/consumer';
import { loadTables } from '../src/data';
import { startFleet } from '../src/fleet';
import { SqliteStore } from '../src/store/sqlite';
import { makeReport, statePayload, T0 } from './fixtures';

const P = 'vigil/v1';
const tables = loadTables();

/** A valid report with one field replaced by a hostile value, at any depth of a path through the report. */
function mutate(report: unknown, path: number[], value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(report));
  let o = copy as Record<string, unknown>;
  for (let i = 0; i < path.length; i++) {
    const keys = Object.keys(o);
    if (!keys.length) break;
    const k = keys[path[i] % keys.length];
    if (i === path.length - 1 || typeof o[k] !== 'object' || o[k] === null) {
      o[k] = value;
      break;
    }
    o = o[k] as Record<string, unknown>;
  }
  return copy;
}

const hostileValue = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.constantFrom(null, -1, 1e308, -0, '', '\ud800', '\u0000', 'x'.repeat(100_000), [], {}, true, '9999-99-99T99:99:99Z', 2 ** 53 + 1),
);

const payloadArb = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.json({ maxDepth: 5 }).map((j) => Buffer.from(j)),
  fc.nat({ max: 200_000 }).map((n) => Buffer.from('['.repeat(n) + ']'.repeat(n))),
  fc.nat({ max: 200_000 }).map((n) => Buffer.from('{"a":'.repeat(n) + '1' + '}'.repeat(n))),
  fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), hostileValue).map(([path, v]) => {
    try {
      return Buffer.from(JSON.stringify(mutate(makeReport({ serial: 'ACCC8E000002', seq: 9 }), path, v)) ?? 'null');
    } catch {
      return Buffer.from('null');
    }
  }),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((junk) => Buffer.concat([Buffer.from(JSON.stringify(makeReport({ serial: 'ACCC8E000002', seq: 9 })).slice(0, -1)), Buffer.from(junk)])),
  fc.constant(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])),
  fc.constant(Buffer.alloc(200_000, 0x20)),
);

const topicArb = fc.oneof(
  fc.constantFrom('report', 'state', 'event').map((leaf) => `${P}/ACCC8E000002/${leaf}`),
  fc.string({ maxLength: 30 }).map((s) => `${P}/${s}/report`),
  fc.string({ maxLength: 40 }),
);

describe('consumer ingestion under hostile input', () => {
  it.each(seeds(771))('never throws for bad input and never loses a stored camera or its history (%s)', async (_l, seed) => {
    const store = new SqliteStore(':memory:');
    const consumer = new FleetConsumer({ brokerUrl: 'mqtt://127.0.0.1:1', store, tables, sweepMs: 0, now: () => T0 });
    await consumer.ingest(`${P}/ACCC8E000001/report`, JSON.stringify(makeReport({ serial: 'ACCC8E000001', seq: 1 })));
    await consumer.ingest(`${P}/ACCC8E000001/state`, statePayload('online', 'connected', 1));
    const before = JSON.stringify(await store.history('ACCC8E000001', 10));
    await checkAsync(
      fc.asyncProperty(topicArb, payloadArb, fc.boolean(), async (topic, payload, retained) => {
        await consumer.ingest(topic, payload, retained);
        expect(JSON.stringify(await store.history('ACCC8E000001', 10))).toBe(before);
        expect(consumer.camera('ACCC8E000001')?.osVersion).toBeTruthy();
      }),
      seed,
      400,
    );
    await consumer.ingest(`${P}/ACCC8E000003/report`, JSON.stringify(makeReport({ serial: 'ACCC8E000003', seq: 1 })));
    expect(consumer.camera('ACCC8E000003')).not.toBeNull();
    await store.close();
  });

  it('keeps consuming through a real broker after a burst of hostile messages, and keeps what it stored', async () => {
    const broker = await startEmbeddedBroker({ port: 0 });
    const fleet = await startFleet({ brokerUrl: broker.url, http: null, sweepMs: 0 });
    const pub = await mqtt.connectAsync(broker.url, { clientId: `hostile-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    try {
      const send = (topic: string, body: Buffer | string) => pub.publishAsync(topic, body, { qos: 1 });
      await send(`${P}/ACCC8E0000A1/report`, JSON.stringify(makeReport({ serial: 'ACCC8E0000A1', seq: 1 })));
      const samples = fc.sample(fc.tuple(topicArb, payloadArb), { seed: 772, numRuns: 150 });
      for (const [topic, payload] of samples) await send(topic.replace(/[#+\0]/g, '_') || 'x', payload);
      await send(`${P}/ACCC8E0000A2/report`, JSON.stringify(makeReport({ serial: 'ACCC8E0000A2', seq: 1 })));
      for (let i = 0; i < 500 && !fleet.consumer.camera('ACCC8E0000A2'); i++) await new Promise((r) => setTimeout(r, 20));
      expect(fleet.consumer.camera('ACCC8E0000A2')).not.toBeNull();
      expect((await fleet.store.history('ACCC8E0000A1', 10)).map((h) => h.seq)).toEqual([1]);
    } finally {
      await pub.endAsync();
      await fleet.stop();
      await broker.close();
    }
  });
});
