/**
 * One batch in PostgreSQL, inside the caller's transaction: lock the batch's cameras (advisory transaction locks,
 * always taken in the same order so two consumers never deadlock), prefetch what decide.ts needs under those
 * locks, decide, then write with one multi-row statement per table. Another consumer's batch of the same camera
 * waits for our commit and then decides on what we wrote: order and races between consumers are harmless.
 */
import type pg from 'pg';
import { decideBatch, type BatchWrites, type DecideReads } from './decide';
import { CAMERA_STATE_SELECT, GAP_SELECT, pairKey, pgText } from './postgres-columns';
import type { CameraState, GapRow, IngestItem, IngestOutcome, StoreChange } from './types';

/** The advisory lock class of camera locks (two-int4 key space: (class, hashtext(serial))). */
export const CAMERA_LOCK_CLASS = 0x7667_6331; // "vgc1"

/** Locks the cameras, sorted by key: every transaction takes its locks in one global order. */
export async function lockCameras(client: pg.PoolClient, serials: string[]): Promise<void> {
  if (serials.length === 0) return;
  await client.query(
    // OFFSET 0 keeps the planner from calling the lock function before the sort.
    `SELECT pg_advisory_xact_lock($1::int4, h) FROM (SELECT DISTINCT hashtext(s) AS h FROM unnest($2::text[]) s ORDER BY 1 OFFSET 0) x`,
    [CAMERA_LOCK_CLASS, serials.map(pgText)],
  );
}

type Col = [name: string, type: string];

/**
 * INSERT of many rows in one statement: one array parameter per column, unnest in order (WITH ORDINALITY keeps
 * the batch's order for identity columns that reads order by).
 */
export async function insertRows(client: pg.PoolClient, table: string, cols: Col[], rows: unknown[][], suffix = ''): Promise<void> {
  if (rows.length === 0) return;
  const arrays = cols.map((_, i) => rows.map((r) => (typeof r[i] === 'string' ? pgText(r[i] as string) : r[i] ?? null)));
  const names = cols.map(([n]) => n).join(', ');
  const unnest = cols.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ');
  await client.query(`INSERT INTO ${table} (${names}) SELECT ${names} FROM unnest(${unnest}) WITH ORDINALITY AS x(${names}, ord_) ORDER BY ord_ ${suffix}`, arrays);
}

const CAMERA_COLS: Col[] = [
  ['serial', 'text'], ['model', 'text'], ['hardware_id', 'text'], ['full_name', 'text'], ['os_version', 'text'], ['connection', 'text'], ['session', 'int8'],
  ['state_at', 'text'], ['state_reason', 'text'], ['last_report_id', 'text'], ['last_seq', 'int8'], ['last_sent_at', 'text'],
  ['last_started_at', 'text'], ['last_report_ms', 'int8'], ['interval_sec', 'int8'], ['reports', 'int8'], ['duplicates', 'int8'],
  ['gaps', 'int8'], ['out_of_order', 'int8'], ['refused', 'int8'], ['identity_claim', 'text'], ['identity_claim_ms', 'int8'], ['first_seen_ms', 'int8'], ['retired_ms', 'int8'], ['retired_reason', 'text'], ['report_json', 'text'],
];
// Retirement is setRetired's alone; report_json only changes when a newer report came (NULL here = keep).
const CAMERA_UPSERT = `ON CONFLICT (serial) DO UPDATE SET ${CAMERA_COLS.map(([n]) => n)
  .filter((n) => !['serial', 'retired_ms', 'retired_reason', 'report_json', 'first_seen_ms'].includes(n))
  .map((n) => `${n} = EXCLUDED.${n}`)
  .join(', ')}, report_json = COALESCE(EXCLUDED.report_json, cameras.report_json)`;

const REPORT_COLS: Col[] = [
  ['serial', 'text'], ['report_id', 'text'], ['seq', 'int8'], ['sent_at', 'text'], ['received_ms', 'int8'], ['os_version', 'text'],
  ['findings', 'int8'], ['hardening_score', 'float8'], ['integrity', 'text'], ['support', 'text'], ['advisories', 'int8'],
  ['queue_depth', 'float8'], ['heap_used', 'float8'], ['dropped', 'float8'],
];
const STATE_COLS: Col[] = [['serial', 'text'], ['received_ms', 'int8'], ['state', 'text'], ['reason', 'text'], ['session', 'int8'], ['at', 'text'], ['stale', 'bool']];
const EVENT_COLS: Col[] = [['serial', 'text'], ['event_id', 'text'], ['received_ms', 'int8'], ['kind', 'text'], ['json', 'text']];
export const QUARANTINE_COLS: Col[] = [['received_ms', 'int8'], ['topic', 'text'], ['serial', 'text'], ['reason', 'text'], ['size', 'int8'], ['excerpt', 'text']];
const GAP_COLS: Col[] = [['serial', 'text'], ['from_seq', 'int8'], ['to_seq', 'int8'], ['detected_ms', 'int8']];

/** What decide.ts reads, fetched in four queries with the cameras locked. */
async function prefetch(client: pg.PoolClient, items: IngestItem[], serials: string[]): Promise<DecideReads> {
  const reportKeys = items.filter((i) => i.kind === 'report').map((i) => [pgText(i.serial), pgText(i.history.reportId)]);
  const eventKeys = items.filter((i) => i.kind === 'event').map((i) => [pgText(i.serial), pgText(i.eventId)]);
  const clean = serials.map(pgText);
  const cameras = new Map<string, CameraState>();
  for (const c of (await client.query<CameraState>(`SELECT ${CAMERA_STATE_SELECT} FROM cameras WHERE serial = ANY($1::text[])`, [clean])).rows) cameras.set(c.serial, c);
  const pairs = async (table: string, idCol: string, keys: string[][]): Promise<Set<string>> => {
    const found = new Set<string>();
    if (keys.length === 0) return found;
    const r = await client.query<{ serial: string; id: string }>(
      `SELECT serial, ${idCol} AS id FROM ${table} WHERE (serial, ${idCol}) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [keys.map((k) => k[0]), keys.map((k) => k[1])],
    );
    for (const row of r.rows) found.add(`${row.serial}\0${row.id}`);
    return found;
  };
  const reports = await pairs('reports', 'report_id', reportKeys);
  const events = await pairs('events', 'event_id', eventKeys);
  const gaps = new Map<string, GapRow[]>();
  for (const g of (await client.query<GapRow>(`SELECT ${GAP_SELECT} FROM gaps WHERE serial = ANY($1::text[]) ORDER BY serial, from_seq`, [clean])).rows) {
    const list = gaps.get(g.serial) ?? [];
    list.push(g);
    gaps.set(g.serial, list);
  }
  return {
    camera: (serial) => cameras.get(pgText(serial)) ?? null,
    reportStored: (serial, reportId) => reports.has(pairKey(serial, reportId)),
    eventStored: (serial, eventId) => events.has(pairKey(serial, eventId)),
    gaps: (serial) => gaps.get(pgText(serial)) ?? [],
  };
}

async function write(client: pg.PoolClient, w: BatchWrites): Promise<void> {
  const cams = [...w.cameras.values()].map(({ state: c, reportJson }) => [
    c.serial, c.model, c.hardwareId, c.fullName, c.osVersion, c.connection, c.session, c.stateAt, c.stateReason, c.lastReportId, c.lastSeq, c.lastSentAt,
    c.lastStartedAt, c.lastReportMs, c.intervalSec, c.reports, c.duplicates, c.gaps, c.outOfOrder, c.refused, c.identityClaim, c.identityClaimMs, c.firstSeenMs, c.retiredMs, c.retiredReason,
    reportJson ?? null,
  ]);
  await insertRows(client, 'cameras', CAMERA_COLS, cams, CAMERA_UPSERT);
  await insertRows(client, 'reports', REPORT_COLS, w.reports.map((h) => [
    h.serial, h.reportId, h.seq, h.sentAt, h.receivedMs, h.osVersion, h.findings, h.hardeningScore, h.integrity, h.support, h.advisories,
    h.queueDepth, h.heapUsedBytes, h.dropped,
  ]));
  await insertRows(client, 'states', STATE_COLS, w.states.map((s) => [s.serial, s.receivedMs, s.state, s.reason, s.session, s.at, s.stale]));
  await insertRows(client, 'events', EVENT_COLS, w.events.map((e) => [e.serial, e.eventId, e.receivedMs, e.kind, e.json]));
  await insertRows(client, 'quarantine', QUARANTINE_COLS, w.quarantine.map((q) => [q.receivedMs, q.topic, q.serial ?? null, q.reason, q.size, q.excerpt]));
  if (w.gaps.size > 0) {
    await client.query('DELETE FROM gaps WHERE serial = ANY($1::text[])', [[...w.gaps.keys()].map(pgText)]);
    await insertRows(client, 'gaps', GAP_COLS, [...w.gaps.values()].flat().map((g) => [g.serial, g.fromSeq, g.toSeq, g.detectedMs]));
  }
}

/** Decides and writes the batch in the caller's open transaction; returns the outcomes and what to notify. */
export async function ingestInTransaction(client: pg.PoolClient, items: IngestItem[]): Promise<{ outcomes: IngestOutcome[]; change: StoreChange }> {
  const serials = [...new Set(items.flatMap((i) => (i.kind === 'quarantine' ? [] : [i.serial])))];
  await lockCameras(client, serials);
  const reads = await prefetch(client, items, serials);
  const { outcomes, writes } = decideBatch(items, reads);
  await write(client, writes);
  return {
    outcomes,
    change: { cameras: [...writes.cameras.keys()], events: writes.events.map((e) => ({ serial: e.serial, eventId: e.eventId })) },
  };
}
