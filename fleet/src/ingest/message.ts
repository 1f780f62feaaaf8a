/**
 * One message from a topic and its payload bytes: checks the topic, the size and the JSON, then hands the parsed
 * body to the state, report or event check. Every input problem ends in the quarantine.
 */
import type { IngestContext, Prepared } from './context';
import { prepareEvent } from './event';
import { jsonDepth, MAX_JSON_DEPTH } from './json-depth';
import { quarantine } from './quarantine';
import { prepareReport } from './report';
import { prepareState } from './state';

const SERIAL = /^[A-Za-z0-9_-]{1,64}$/;

export function prepareMessage(ctx: IngestContext, topic: string, payload: Buffer | Uint8Array | string, nowMs: number, retained = false): Prepared {
  ctx.counters.messages++;
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (!topic.startsWith(ctx.prefix + '/')) return { kind: 'ignored' };
  const rest = topic.slice(ctx.prefix.length + 1).split('/');
  if (rest.length !== 2) return { kind: 'ignored' };
  const [serial, leaf] = rest;
  if (leaf !== 'state' && leaf !== 'report' && leaf !== 'event') return { kind: 'ignored' };
  if (!SERIAL.test(serial)) return quarantine(ctx, topic, null, 'bad-topic', `"${serial}" is not a camera serial`, bytes, nowMs);
  // An empty retained message clears the topic: nothing to ingest.
  if (bytes.length === 0) return { kind: 'ignored' };
  if (bytes.length > ctx.maxPayloadBytes) return quarantine(ctx, topic, serial, 'oversized', `${bytes.length} bytes, limit ${ctx.maxPayloadBytes}`, bytes, nowMs);
  let body: unknown;
  // Decoded once: a report keeps this text as its camera's latest report_json.
  const text = bytes.toString('utf8');
  // A report's schema closes every object (no free-form part), so ajv walks a report no deeper than the schema
  // and V8's JSON.parse is iterative: only the free-form parts of events (details) need the scan, which cost a
  // report ~13 µs.
  const depth = leaf === 'report' ? 0 : jsonDepth(text, MAX_JSON_DEPTH);
  if (depth > MAX_JSON_DEPTH) return quarantine(ctx, topic, serial, 'too-deep', `JSON nested more than ${MAX_JSON_DEPTH} levels`, bytes, nowMs);
  try {
    body = JSON.parse(text);
  } catch (err) {
    return quarantine(ctx, topic, serial, 'not-json', (err as Error).message, bytes, nowMs);
  }
  const message = { topic, serial, body, bytes, text, nowMs, retained };
  if (leaf === 'state') return prepareState(ctx, message);
  if (leaf === 'event') return prepareEvent(ctx, message);
  return prepareReport(ctx, message);
}
