// The PostgreSQL store: the FleetStore contract on a real PostgreSQL (Debian's package, test/helpers/postgres.ts;
// one database, its tables emptied before each test: a CREATE DATABASE per test wrote ~8 MB each), then what only several consumers over one database can show: concurrent batches of
// the same cameras, LISTEN/NOTIFY between instances, migrations by consumers that start together.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/open';
import { PostgresStore, type PostgresStoreOptions } from '../src/store/postgres';
import { PG_MIGRATIONS } from '../src/store/postgres-migrations';
import { redactUrl } from '../src/store/redact-url';
import type { AlertChange, IngestItem, StoreChange } from '../src/store/types';
import { POSTGRES_START_TIMEOUT_MS, startPostgres, type Postgres } from '../../test/helpers/postgres';
import { waitUntil } from '../../test/helpers/wait';
import { alertRig } from './alerts/setup';
import { makeReport } from './fixtures';
import { storeContract } from './store-contract';
import { alert, condition, event, quarantineRow, report, state, T0 } from './store-contract-items';

let server: Postgres;
let lastUrl = '';
beforeAll(async () => {
  server = await startPostgres();
}, POSTGRES_START_TIMEOUT_MS);
afterAll(async () => {
  await server?.stop();
});

/** Every table but schema_version emptied, identities restarted: the next store opens on a fresh, migrated database. */
async function emptyTables(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = (await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_version'")).rows.map((r) => r.tablename as string);
    if (tables.length > 0) await client.query(`TRUNCATE ${tables.join(', ')} RESTART IDENTITY`);
  } finally {
    await client.end();
  }
}

storeContract(
  'PostgresStore',
  async () => {
    if (lastUrl) await emptyTables(lastUrl);
    else lastUrl = await server.createDatabase('contract');
    return PostgresStore.open(lastUrl);
  },
  { reopen: () => PostgresStore.open(lastUrl) },
);

describe('PostgresStore beside other consumers', () => {
  const opened: PostgresStore[] = [];
  const openOn = async (url: string, opts?: PostgresStoreOptions): Promise<PostgresStore> => {
    const s = await PostgresStore.open(url, opts);
    opened.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });

  const serials = (n: number): string[] => Array.from({ length: n }, (_, i) => `ACCC8E${String(i + 1).padStart(6, '0')}`);

  /** Two consumers of one fleet, each with its alerts, on their own stores over one database. */
  const twoConsumers = async () => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([openOn(url), openOn(url)]);
    return Promise.all([alertRig({ store: a }), alertRig({ store: b })]);
  };
  const rebaseline = (serial: string, eventId: string) => JSON.stringify({
    schema: 'vigil.event/1', deviceId: serial, eventId, seq: 3, at: new Date(T0).toISOString(), kind: 'rebaseline', severity: 'high',
    summary: 'rebaseline by command', details: { files: 412, differed: ['added /usr/bin/.implant'], differedCount: 1, commandId: 'c1' },
  });

  it('raises an event alert once when two consumers get the event at once, for cameras never stored before', async () => {
    const [a, b] = await twoConsumers();
    const cams = serials(20);
    // The broker redelivers to the other consumer what the first had not acknowledged: both hold the same event.
    await Promise.all(cams.flatMap((serial) => [a, b].map((rig) => rig.consumer.ingest(`vigil/v1/${serial}/event`, rebaseline(serial, `ev-${serial}`)))));
    const alerts = (await a.store.alerts(1000)).filter((x) => x.kind === 'rebaseline');
    expect(alerts.map((x) => x.serial).sort()).toEqual(cams);
    expect((await b.store.alerts(1000)).filter((x) => x.kind === 'rebaseline')).toHaveLength(cams.length);
  });

  it('raises each alert of a new camera once when two consumers ingest its first reports at once', async () => {
    const [a, b] = await twoConsumers();
    const cams = serials(20);
    // LTS 2020, past its end of support, with advisories: several conditions per camera, from either report.
    const first = (serial: string, seq: number) => JSON.stringify(makeReport({ serial, seq, version: '9.80.3.12', soc: 'ARTPEC-7' }));
    await Promise.all(cams.flatMap((serial) => [a.consumer.ingest(`vigil/v1/${serial}/report`, first(serial, 1)), b.consumer.ingest(`vigil/v1/${serial}/report`, first(serial, 2))]));
    const alerts = await a.store.alerts(5000);
    const perCondition = new Map<string, number>();
    for (const x of alerts) perCondition.set(`${x.serial} ${x.condition}`, (perCondition.get(`${x.serial} ${x.condition}`) ?? 0) + 1);
    expect(alerts.some((x) => x.kind === 'support-ended')).toBe(true);
    expect(alerts.some((x) => x.kind === 'advisory')).toBe(true);
    expect([...perCondition].filter(([, n]) => n !== 1)).toEqual([]);
    expect(new Set(alerts.map((x) => x.serial)).size).toBe(cams.length);
  });

  it('keeps exact counts and no false gaps when two consumers ingest interleaved batches of the same cameras at once', async () => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([openOn(url), openOn(url)]);
    const cams = serials(12);
    const rounds = 30;
    for (let r = 0; r < rounds; r++) {
      // One consumer gets seq 2r+1, the other 2r+2, of every camera; in opposite camera orders, as a broker may
      // hand them out: locks taken in batch order would deadlock here.
      const odd: IngestItem[] = cams.map((s) => report(s, 2 * r + 1));
      const even: IngestItem[] = [...cams].reverse().map((s) => report(s, 2 * r + 2));
      // Every fifth round the broker redelivers the other consumer's previous batch as well.
      if (r % 5 === 4) even.push(...cams.map((s) => report(s, 2 * r - 1)));
      await Promise.all([a.ingest(odd), b.ingest(even)]);
    }
    const total = 2 * rounds;
    for (const cam of await a.loadCameras()) {
      expect(cam).toMatchObject({ reports: total, duplicates: rounds / 5, lastSeq: total });
      expect(await b.gaps(cam.serial)).toEqual([]);
      const seqs = (await a.history(cam.serial, 1000)).map((h) => h.seq).sort((x, y) => x - y);
      expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    }
    expect(await b.loadCameras()).toHaveLength(cams.length);
  });

  it('stores a report that two consumers get at once once, and counts the other as a duplicate', async () => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([openOn(url), openOn(url)]);
    await a.ingest([report('ACCC8E000001', 1)]);
    for (let seq = 2; seq <= 11; seq++) {
      const out = await Promise.all([a.ingest([report('ACCC8E000001', seq)]), b.ingest([report('ACCC8E000001', seq)])]);
      expect(out.flat().map((o) => o.kind === 'report' && o.result).sort()).toEqual(['duplicate', 'stored']);
    }
    expect((await b.loadCameras())[0]).toMatchObject({ reports: 11, duplicates: 10, gaps: 0, outOfOrder: 0 });
  });

  it('raises a condition once when two consumers decide it for the same camera at once', async () => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([openOn(url), openOn(url)]);
    let n = 0;
    const decide = (stored: { condition: string }[]): AlertChange | null =>
      stored.some((c) => c.condition === 'lost') ? null : { puts: [condition('ACCC8E000001', 'lost', T0)], deletes: [], alerts: [alert(`a-${++n}`, 'ACCC8E000001', T0)] };
    const results = await Promise.all([a, b, a, b].map((s) => s.updateAlerts('ACCC8E000001', decide, ['mqtt'], T0)));
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect(await a.alerts(10)).toHaveLength(1);
    expect(await b.deliveryCounts()).toEqual({ pending: 1, delivered: 0, failed: 0 });
  });

  it('hands each due delivery to one consumer when two claim at once', async () => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([openOn(url), openOn(url)]);
    for (let i = 0; i < 40; i++) {
      await a.updateAlerts('ACCC8E000001', () => ({ puts: [], deletes: [], alerts: [alert(`a-${i}`, 'ACCC8E000001', T0 + i)] }), ['mqtt'], T0 + i);
    }
    const claims = await Promise.all([a, b, a, b].map((s) => s.claimDeliveries(T0 + 1000, 15, 60_000)));
    const ids = claims.flat().map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(40);
  });

  it("tells a watching consumer of another consumer's writes, and not of its own", async () => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([openOn(url), openOn(url)]);
    const heard: StoreChange[] = [];
    await a.watch((c) => heard.push(c));
    await a.ingest([report('ACCC8E000001', 1)]);
    await b.ingest([report('ACCC8E000002', 1), event('ACCC8E000002', 'e-1', T0), { kind: 'quarantine', row: quarantineRow(T0) }]);
    await waitUntil('b’s change at a', () => heard.length > 0, { timeoutMs: 30_000 });
    // NOTIFY is delivered in commit order: had a's own write been passed on, it would have come first.
    expect(heard[0]).toEqual({ cameras: ['ACCC8E000002'], events: [{ serial: 'ACCC8E000002', eventId: 'e-1' }] });
    await b.setRetired('ACCC8E000001', T0, 'replaced');
    await waitUntil('the retirement at a', () => heard.length > 1, { timeoutMs: 30_000 });
    expect(heard[1]).toEqual({ cameras: ['ACCC8E000001'], events: [] });
  });

  it('tells of a change too large for one NOTIFY payload in several, losing no camera', async () => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([openOn(url), openOn(url)]);
    const heard = new Set<string>();
    await a.watch((c) => c.cameras.forEach((s) => heard.add(s)));
    const cams = Array.from({ length: 600 }, (_, i) => `CAMERA-WITH-A-LONG-SERIAL-${String(i).padStart(5, '0')}`);
    await b.ingest(cams.map((s) => report(s, 1)));
    await waitUntil('600 cameras at a', () => heard.size === cams.length, { timeoutMs: 30_000 });
  });

  it('listens again after its LISTEN connection is cut, and re-reads every camera', async () => {
    const url = await server.createDatabase();
    const logs: string[] = [];
    const a = await openOn(url, { applicationName: 'vigil-watcher', reconnectBackoffMs: { first: 50, max: 200 }, log: (_l, m) => logs.push(m) });
    const b = await openOn(url);
    await b.ingest([report('ACCC8E000001', 1)]);
    const heard: StoreChange[] = [];
    await a.watch((c) => heard.push(c));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const cut = await admin.query("SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'vigil-watcher' AND query LIKE 'LISTEN%'");
      expect(cut.rows).toEqual([{ ok: true }]);
    } finally {
      await admin.end();
    }
    await waitUntil('the resync after the reconnect', () => heard.find((c) => c.cameras.includes('ACCC8E000001')), { timeoutMs: 30_000 });
    await b.ingest([report('ACCC8E000002', 1)]);
    await waitUntil('a change after the reconnect', () => heard.find((c) => c.cameras.includes('ACCC8E000002')), { timeoutMs: 30_000 });
    expect(logs.some((m) => /LISTEN connection was lost/.test(m))).toBe(true);
  });

  it('migrates once when several consumers open a new database at once', async () => {
    const url = await server.createDatabase();
    const stores = await Promise.all([1, 2, 3, 4].map(() => openOn(url)));
    expect(stores.map((s) => s.schemaVersion)).toEqual([1, 2, 3, 4].map(() => PG_MIGRATIONS.length));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const r = await client.query('SELECT version FROM schema_version ORDER BY version');
      expect(r.rows.map((x) => Number(x.version))).toEqual(PG_MIGRATIONS.map((_, i) => i + 1));
    } finally {
      await client.end();
    }
  });

  it('refuses a database whose schema is newer than it knows', async () => {
    const url = await server.createDatabase();
    await (await PostgresStore.open(url)).close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("INSERT INTO schema_version VALUES (999, 'future')");
    await client.end();
    await expect(PostgresStore.open(url)).rejects.toThrow(/schema version 999, newer than this consumer knows/);
  });

  it('stores text holding U+0000, which PostgreSQL text cannot, as U+FFFD instead of failing the batch', async () => {
    const store = await openOn(await server.createDatabase());
    const out = await store.ingest([state('ACCC8E000001', 'offline', 1, T0, { reason: 'a\u0000b' }), { kind: 'quarantine', row: { ...quarantineRow(T0), excerpt: '\u0000\u0001x' } }]);
    expect(out.map((o) => o.kind)).toEqual(['state', 'quarantine']);
    expect((await store.states('ACCC8E000001', 1))[0].reason).toBe('a\uFFFDb');
    expect((await store.quarantined(1))[0].excerpt).toBe('\uFFFD\u0001x');
  });

  it('opens the PostgreSQL store for a postgres:// or postgresql:// target', async () => {
    const url = await server.createDatabase();
    for (const target of [url, url.replace(/^postgres:/, 'postgresql:')]) {
      const store = await openStore(target);
      expect(store.kind).toBe('postgres');
      await store.close();
    }
  });

  it('names the database it cannot open without its password', async () => {
    const url = `postgres://vigil:s3cret-pw@127.0.0.1:${server.port}/no_such_database`;
    const err = await PostgresStore.open(url, { connectTimeoutMs: 5_000 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^\[vigil\] \[fleet\] cannot open the store postgres:\/\/vigil:\*\*\*@127\.0\.0\.1:\d+\/no_such_database: /);
    expect((err as Error).message).not.toContain('s3cret-pw');
  });

  it('redacts the password of a URL and of a password parameter', () => {
    expect(redactUrl('postgres://u:p%40ss@db.example:5432/fleet?sslmode=require')).toBe('postgres://u:***@db.example:5432/fleet?sslmode=require');
    expect(redactUrl('postgresql://db/fleet?user=u&password=hunter2&x=1')).toBe('postgresql://db/fleet?user=u&password=***&x=1');
    expect(redactUrl('postgres://u@db/fleet')).toBe('postgres://u@db/fleet');
  });
});
