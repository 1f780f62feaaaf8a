// /api/actions, /api/actions.csv and /api/report.pdf on a real node:http server, fed a fixture worklist (the
// rules that make real ones have their own test; the Chromium test runs these routes on the demo's fleet).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Worklist } from '../src/actions/types';
import { CSV_COLUMNS } from '../src/export-csv';
import type { FleetCounts } from '../src/fleet-view';
import { worklistRoutes } from '../src/worklist-routes';
import { DEFAULT_LIMIT, MAX_LIMIT, parseLimit } from '../src/worklist-query';
import { parseCsv } from '../../test/helpers/csv';
import { pdfToText } from '../../test/helpers/pdftotext';
import { FIXTURE_ITEMS, item, worklistOf } from './worklist-fixture';

const NOW = Date.parse('2026-12-02T01:00:00Z');
const COUNTS: FleetCounts = {
  total: 3, retired: 0, status: { online: 3, missing: 0, offline: 0, lost: 0, unknown: 0 },
  support: { supported: 1, 'ending-soon': 0, outdated: 1, 'end-of-life': 1, unknown: 0 }, integrity: { ok: 3 }, posture: { 'at-risk': 1, attention: 1, good: 1, unknown: 0 }, withAdvisories: 1,
};
let current: Worklist = worklistOf(FIXTURE_ITEMS);
let server: Server;
let base: string;

beforeAll(async () => {
  const routes = worklistRoutes({ worklist: () => current, counts: () => COUNTS }, () => NOW);
  server = createServer((req, res) => {
    if (!routes(req, res, new URL(req.url ?? '/', 'http://localhost'))) res.writeHead(404).end('not ours');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const get = async (path: string): Promise<any> => (await fetch(base + path)).json();
const ids = (body: { items: { id: string }[] }) => body.items.map((a) => a.id);

describe('GET /api/actions', () => {
  it('answers the worklist with its counts, data dates and their age against the server clock', async () => {
    const body = await get('/api/actions');
    expect(body.counts).toEqual(current.counts);
    expect(body.matched).toEqual(current.counts);
    expect(ids(body)).toEqual(FIXTURE_ITEMS.map((a) => a.id));
    expect(body.data).toEqual({ lifecycle: '2026-11-01', advisories: '2026-11-15', actions: '2026-11-20' });
    expect(body.dataAgeDays).toEqual({ lifecycle: 31, advisories: 17, actions: 12 });
    expect(body.dataStale).toBe(false);
    expect(body.generatedAt).toBe('2026-12-02T01:00:00.000Z');
  });
  it('filters by urgency, keeping the fleet counts and counting what matched', async () => {
    const body = await get('/api/actions?urgency=high');
    expect(ids(body)).toEqual(['ACCC8E000002/upgrade', 'ACCC8E000002/harden/telnet']);
    expect(body.matched.total).toBe(2);
    expect(body.matched.cameras).toBe(1);
    expect(body.counts.total).toBe(FIXTURE_ITEMS.length);
  });
  it('filters by a comma list of kinds', async () => {
    expect(ids(await get('/api/actions?kind=retire,integrity'))).toEqual(['ACCC8E000001/retire', 'ACCC8E000003/integrity/unsigned-app']);
  });
  it('filters by exact serial', async () => {
    expect(ids(await get('/api/actions?serial=ACCC8E000003'))).toHaveLength(2);
    expect(ids(await get('/api/actions?serial=ACCC8E00000'))).toHaveLength(0);
  });
  it('searches serial, model and title without regard to case', async () => {
    expect(ids(await get('/api/actions?q=telnet'))).toEqual(['ACCC8E000002/harden/telnet']);
    expect(ids(await get('/api/actions?q=m3045'))).toEqual(['ACCC8E000001/retire']);
    expect(ids(await get('/api/actions?q=000003&urgency=low'))).toEqual(['ACCC8E000003/harden/ssh']);
  });
  it('refuses an urgency that does not exist, naming the ones that do', async () => {
    const res = await fetch(base + '/api/actions?urgency=urgent');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('[vigil] [fleet] unknown urgency "urgent" (one of critical, high, medium, low)');
  });
  it('cuts the items at the limit and says it did', async () => {
    const body = await get('/api/actions?limit=2');
    expect(body.items).toHaveLength(2);
    expect(body.truncated).toBe(true);
    expect(body.matched.total).toBe(FIXTURE_ITEMS.length);
  });
  it('flags data older than 90 days as stale', async () => {
    current = worklistOf(FIXTURE_ITEMS, { lifecycle: '2026-01-10', advisories: '2026-11-15', actions: '2026-11-20' });
    try {
      const body = await get('/api/actions');
      expect(body.dataStale).toBe(true);
      expect(body.dataAgeDays.lifecycle).toBe(326);
    } finally {
      current = worklistOf(FIXTURE_ITEMS);
    }
  });
});

describe('the limit', () => {
  it.each([
    [null, DEFAULT_LIMIT], ['', DEFAULT_LIMIT], ['abc', DEFAULT_LIMIT], ['-3', DEFAULT_LIMIT], ['NaN', DEFAULT_LIMIT], ['Infinity', DEFAULT_LIMIT],
    ['0', 0], ['2.9', 2], ['99999', MAX_LIMIT], ['5000', MAX_LIMIT],
  ])('reads %j as %d', (raw, want) => {
    expect(parseLimit(raw)).toBe(want);
  });
  it('holds a large worklist to the default 500 items', async () => {
    current = worklistOf(Array.from({ length: 700 }, (_, i) => item({ serial: `CAM${i}`, rule: 'harden/x' })));
    try {
      expect((await get('/api/actions?limit=junk')).items).toHaveLength(DEFAULT_LIMIT);
      expect((await get('/api/actions?limit=-1')).items).toHaveLength(DEFAULT_LIMIT);
    } finally {
      current = worklistOf(FIXTURE_ITEMS);
    }
  });
});

describe('GET /api/actions.csv', () => {
  it('is a dated CSV download of the same filter', async () => {
    const res = await fetch(base + '/api/actions.csv?kind=harden');
    expect(res.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="vigil-actions-2026-12-02.csv"');
    const rows = parseCsv(await res.text());
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows.slice(1).map((r) => r[CSV_COLUMNS.indexOf('id')])).toEqual(ids(await get('/api/actions?kind=harden')));
  });
  it('refuses a kind that does not exist', async () => {
    expect((await fetch(base + '/api/actions.csv?kind=nope')).status).toBe(400);
  });
});

describe('GET /api/report.pdf', () => {
  it('is a dated PDF download with the fleet summary and every camera', async () => {
    const res = await fetch(base + '/api/report.pdf?urgency=low');
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="vigil-report-2026-12-02.pdf"');
    const pdf = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(pdf.length);
    const text = pdfToText(pdf).replace(/\s+/g, ' ');
    expect(text).toContain('Fleet summary');
    expect(text).toContain('By support: supported 1 · ending-soon 0 · outdated 1 · end-of-life 1 · unknown 0');
    // The report is the whole fleet whatever the query: all three cameras.
    for (const serial of ['ACCC8E000001', 'ACCC8E000002', 'ACCC8E000003']) expect(text).toContain(serial);
  });
});

describe('other paths', () => {
  it('are left to the caller', async () => {
    const res = await fetch(base + '/api/fleet');
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('not ours');
  });
});
