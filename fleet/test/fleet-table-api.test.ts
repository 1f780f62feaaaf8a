// The paginated fleet API (issue 15, item 6): /api/fleet (full views) and /api/fleet/table (the table's slim
// rows) in pages by serial behind a cursor, limits clamped, a bad cursor refused, and cameras silent or retired
// past the retention pruned from the table while their records stay. 1,103 cameras seeded into the store directly.
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../test/helpers/broker';
import { seedCameras, serials } from '../../test/helpers/seed-cameras';
import { tableRow, type TableRow } from '../src/fleet-table';
import { startFleet, type Fleet } from '../src/fleet';
import { SqliteStore } from '../src/store/sqlite';
import { T0 } from './fixtures';

const DAY = 86_400_000;
const LIVE = serials('CAMPG', 1100);
const clock = { now: T0 + 600_000 };
let dir: string;
let broker: EmbeddedBroker;
let fleet: Fleet;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function getJson(path: string): Promise<any> {
  const res = await fetch(fleet.url + path);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** The bytes as sent (fetch would decompress them). */
function fetchRaw(path: string, encoding: string): Promise<{ encoding: string | undefined; bytes: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(fleet.url + path, { headers: { 'accept-encoding': encoding } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ encoding: res.headers['content-encoding'], bytes: Buffer.concat(parts).length, body: Buffer.concat(parts) }));
    }).on('error', reject);
  });
}

async function allPages(path: string, limit: number): Promise<Array<{ serial: string }>> {
  const rows: Array<{ serial: string }> = [];
  let cursor: string | null = null;
  do {
    const page = await getJson(`${path}?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(page.cameras.length).toBeLessThanOrEqual(limit);
    rows.push(...(page.columns ? page.cameras.map((values: unknown[]) => Object.fromEntries(page.columns.map((k: string, i: number) => [k, values[i]]))) : page.cameras));
    cursor = page.next;
  } while (cursor);
  return rows;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-table-'));
  const db = join(dir, 'fleet.db');
  const store = new SqliteStore(db);
  // Listed: 1,100 cameras heard from now, one of them retired yesterday. Pruned: two silent for 40 days, one
  // retired 40 days ago.
  await seedCameras(store, [
    // Half on an old LTS with an advisory, as a real fleet has.
    ...LIVE.map((serial, i) => ({ serial, receivedMs: clock.now - 60_000, version: i % 2 ? '12.11.77' : '8.40.4.6' })),
    { serial: 'OLD000000', receivedMs: clock.now - 40 * DAY },
    { serial: 'OLD000001', receivedMs: clock.now - 40 * DAY },
    { serial: 'RET000000', receivedMs: clock.now - 60_000 },
  ]);
  await store.setRetired('CAMPG000011', clock.now - DAY, 'moved');
  await store.setRetired('RET000000', clock.now - 40 * DAY, 'removed');
  await store.close();
  broker = await startEmbeddedBroker({ port: 0 });
  fleet = await startFleet({ brokerUrl: broker.url, db, http: { host: '127.0.0.1', port: 0 }, now: () => clock.now, sweepMs: 0, retentionDays: 30 });
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the paginated fleet API', () => {
  it('pages through the table rows in serial order, each camera once, with the next cursor until the last page', async () => {
    const rows = await allPages('api/fleet/table', 300);
    expect(rows.map((r) => r.serial)).toEqual(LIVE);
  });

  it('pages through the full views the same way', async () => {
    const rows = await allPages('api/fleet', 400);
    expect(rows.map((r) => r.serial)).toEqual(LIVE);
  });

  it('tells the total and the pruned count on every page without sending every row', async () => {
    const page = await getJson('api/fleet/table?limit=10');
    expect([page.cameras.length, page.total, page.pruned, page.pruneAfterDays, page.counts.total, page.counts.retired]).toEqual([10, 1100, 3, 30, 1101, 2]);
  });

  it('answers table rows with only what the table shows, as arrays of its columns, a fraction of the full views', async () => {
    const [table, full] = [await getJson('api/fleet/table?limit=100'), await getJson('api/fleet?limit=100')];
    expect(table.columns).toEqual(Object.keys(tableRow(full.cameras[0])));
    expect(table.cameras[0]).toEqual(table.columns.map((k: keyof TableRow) => tableRow(full.cameras[0])[k]));
    expect(JSON.stringify(table.cameras).length).toBeLessThan(JSON.stringify(full.cameras).length / 3);
  });

  it('gzips a large page for a client that accepts it, and not for one that does not', async () => {
    const [zipped, plain] = await Promise.all(['gzip', 'identity'].map((enc) => fetchRaw('api/fleet/table?limit=1000', enc)));
    expect([zipped.encoding, plain.encoding]).toEqual(['gzip', undefined]);
    expect(zipped.bytes).toBeLessThan(plain.bytes / 5);
    expect(JSON.parse(gunzipSync(zipped.body).toString('utf8'))).toEqual(JSON.parse(plain.body.toString('utf8')));
  });

  it('keeps the first page of full views for a caller that passes no limit (the API as it was, at most 1000)', async () => {
    const page = await getJson('api/fleet');
    expect([page.cameras.length, page.cameras[0].serial, page.cameras[0].evaluation.trackId, typeof page.next]).toEqual([1000, 'CAMPG000000', 'lts2018', 'string']);
  });

  it('clamps the limit: 0 is one row, a negative or a non-number is the default, past the maximum is the maximum', async () => {
    expect((await getJson('api/fleet/table?limit=0')).cameras).toHaveLength(1);
    expect((await getJson('api/fleet/table?limit=-1')).cameras).toHaveLength(1000);
    expect((await getJson('api/fleet/table?limit=many')).cameras).toHaveLength(1000);
    expect((await getJson('api/fleet/table?limit=99999')).cameras).toHaveLength(1100);
    expect((await getJson('api/fleet?limit=99999')).cameras).toHaveLength(1000);
  });

  it.each([
    ['not base64url', '%%%'],
    ['no serial inside', Buffer.from('hello').toString('base64url')],
    ['a serial that is not one', Buffer.from('s:../etc').toString('base64url')],
    ['too long', 'A'.repeat(200)],
  ])('refuses a bad cursor (%s) with 400 and a clear error', async (_what, cursor) => {
    const res = await fetch(fleet.url + `api/fleet/table?cursor=${encodeURIComponent(cursor)}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/^\[vigil\] \[fleet\] bad cursor ".*": pass the "next" of the previous page/);
  });

  it('prunes cameras silent or retired past the retention from the table, and still answers each one', async () => {
    const listed = new Set((await allPages('api/fleet/table', 5000)).map((r) => r.serial));
    expect(['OLD000000', 'OLD000001', 'RET000000'].filter((s) => listed.has(s))).toEqual([]);
    expect(listed.has('CAMPG000011')).toBe(true); // retired yesterday: still listed, as retired
    expect((await getJson('api/cameras/OLD000000')).serial).toBe('OLD000000');
  });

  it('prunes a camera once its silence passes the retention as the clock moves on', async () => {
    clock.now += 30 * DAY; // every camera is now 30 days and a minute silent
    try {
      const page = await getJson('api/fleet/table?limit=5000');
      expect([page.cameras.length, page.pruned]).toEqual([0, 1103]);
    } finally {
      clock.now -= 30 * DAY;
    }
  });
});
