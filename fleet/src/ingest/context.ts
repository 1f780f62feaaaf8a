/**
 * What the ingest functions work on (the store, the view, the counters, who to tell) and what they return: one
 * message's outcome. No MQTT here: the subscriber hands messages in, benchmarks and tests call ingest directly.
 */
import type { Report } from '../../../agent/src/report/types';
import type { Tables } from '../data';
import type { Evaluation } from '../evaluate';
import { FleetView, type Notify } from '../fleet-view';
import { silentLog, type FleetLog } from '../log';
import type { StatusContext } from '../status-sweep';
import type { FleetStore, IngestItem, SeqGap } from '../store/types';
import { IngestRate } from './rate';

export type { SeqGap } from '../store/types';

export interface Counters {
  messages: number;
  reports: number;
  states: number;
  events: number;
  duplicates: number;
  gaps: number;
  outOfOrder: number;
  staleStates: number;
  invalid: Record<string, number>;
  /** Reports refused as forged, by reason (store/forgery.ts): also counted in invalid as `forged`. */
  refused: Record<string, number>;
  storeErrors: number;
}

export interface IngestContext extends StatusContext {
  readonly store: FleetStore;
  readonly counters: Counters;
  readonly rate: IngestRate;
  /** Topic prefix without a trailing slash, e.g. `vigil/v1`. */
  readonly prefix: string;
  /** Larger payloads are quarantined as oversized. */
  readonly maxPayloadBytes: number;
  /** Cameras (or topics) whose bad messages were logged once already: the rest are counted, not logged. */
  readonly loggedInvalid: Set<string>;
}

/** One message as it came from the broker. */
export interface RawMessage {
  topic: string;
  payload: Buffer | Uint8Array | string;
  retained: boolean;
}

/** One message that passed the topic, size and JSON checks. */
export interface Message {
  topic: string;
  serial: string;
  body: unknown;
  bytes: Buffer;
  /** The payload decoded once: a report keeps it as its camera's latest report_json. */
  text: string;
  nowMs: number;
  /** Delivered as the broker's retained message (it may be old). */
  retained: boolean;
}

/**
 * A message checked and turned into what the store decides on (`item`), with what the view needs afterwards.
 * No item: nothing to store (`ignored`).
 */
export type Prepared =
  | { kind: 'ignored' }
  | { kind: 'quarantine'; item: IngestItem; topic: string; serial: string | null; reason: string }
  | { kind: 'report'; item: IngestItem; serial: string; report: Report; evaluation: Evaluation }
  | { kind: 'state'; item: IngestItem; serial: string }
  | { kind: 'event'; item: IngestItem; serial: string; body: object };

/** What happened to one message. */
export type Ingested =
  /** Not a Vigil state/report/event topic, or an empty payload (a retained message being cleared). */
  | { result: 'ignored' }
  | { result: 'quarantined'; reason: string }
  /** The same reportId or eventId again. */
  | { result: 'duplicate' }
  /** A report refused as forged (store/forgery.ts): quarantined, acknowledged. */
  | { result: 'refused'; reason: string }
  /** A state from an older session (a will arriving late, or a retained replay). */
  | { result: 'stale' }
  /** Stored. For a report: the gap it opened, and whether it came after a newer one (history only). */
  | { result: 'stored'; gap?: SeqGap | null; outOfOrder?: boolean };

export const DEFAULT_MAX_PAYLOAD = 128 * 1024;

export function newCounters(): Counters {
  return { messages: 0, reports: 0, states: 0, events: 0, duplicates: 0, gaps: 0, outOfOrder: 0, staleStates: 0, invalid: {}, refused: {}, storeErrors: 0 };
}

export function ingestContext(o: {
  store: FleetStore;
  tables: Tables;
  prefix?: string;
  maxPayloadBytes?: number;
  missingIntervals?: number;
  log?: FleetLog;
  notify?: Notify;
  view?: FleetView;
  counters?: Counters;
}): IngestContext {
  return {
    store: o.store,
    tables: o.tables,
    view: o.view ?? new FleetView(),
    counters: o.counters ?? newCounters(),
    rate: new IngestRate(),
    prefix: (o.prefix ?? 'vigil/v1').replace(/\/+$/, ''),
    maxPayloadBytes: o.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD,
    missingIntervals: o.missingIntervals ?? 3,
    log: o.log ?? silentLog,
    notify: o.notify ?? (() => undefined),
    loggedInvalid: new Set(),
  };
}
