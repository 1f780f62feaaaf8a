// Ingest items for the store contract (fleet/test/store-contract.ts): what the consumer hands a store after
// parsing and validating, built directly (the store never sees MQTT).
import type { AlertConditionRow, AlertRow, EventItem, HistoryRow, QuarantineItem, QuarantineRow, ReportItem, StateItem } from '../src/store/types';

export const T0 = Date.parse('2026-11-25T12:00:00.000Z');
export const MIN = 60_000;
export const STARTED = '2026-11-25T11:00:00.000Z';

export const iso = (ms: number): string => new Date(ms).toISOString();

export interface ReportOpts {
  reportId?: string;
  /** Receipt (ms); default T0 + seq minutes. */
  nowMs?: number;
  sentAt?: string;
  startedAt?: string;
  osVersion?: string;
  model?: string;
  hardwareId?: string | null;
}

export function reportId(serial: string, seq: number): string {
  return `${serial}-r${String(seq).padStart(6, '0')}`;
}

export function reportText(serial: string, seq: number, id = reportId(serial, seq)): string {
  // Not JSON.stringify's spacing: the store keeps the text as received, byte for byte.
  return `{ "deviceId": "${serial}", "seq": ${seq}, "reportId": "${id}", "note": "é ✓ \\u0000" }`;
}

export function report(serial: string, seq: number, o: ReportOpts = {}): ReportItem {
  const nowMs = o.nowMs ?? T0 + seq * MIN;
  const id = o.reportId ?? reportId(serial, seq);
  const history: HistoryRow = {
    serial, reportId: id, seq, sentAt: o.sentAt ?? iso(T0 + seq * MIN - 500), receivedMs: nowMs, osVersion: o.osVersion ?? '12.11.77',
    findings: 1, hardeningScore: 87, integrity: 'ok', support: 'supported', advisories: 2, queueDepth: 0, heapUsedBytes: 1_500_000, dropped: 0,
  };
  return {
    kind: 'report', serial, nowMs, history, startedAt: o.startedAt ?? STARTED, model: o.model ?? 'M3086-V', hardwareId: o.hardwareId === undefined ? '9A1' : o.hardwareId, fullName: 'AXIS M3086-V Dome Camera',
    intervalSec: 60, text: reportText(serial, seq, id),
  };
}

/** The reports seq from..to of one camera, one minute apart. */
export function reports(serial: string, from: number, to: number): ReportItem[] {
  const out: ReportItem[] = [];
  for (let s = from; s <= to; s++) out.push(report(serial, s));
  return out;
}

export function state(serial: string, s: StateItem['state'], session: number, atMs: number, o: { reason?: string | null; nowMs?: number } = {}): StateItem {
  return { kind: 'state', serial, nowMs: o.nowMs ?? atMs + 100, state: s, reason: o.reason ?? null, session, at: iso(atMs) };
}

export function event(serial: string, eventId: string, nowMs: number, kind = 'integrity-drift'): EventItem {
  return { kind: 'event', serial, nowMs, eventId, eventKind: kind, json: `{"eventId":"${eventId}","kind":"${kind}","serial":"${serial}"}` };
}

export function quarantineRow(receivedMs: number, reason = 'schema', serial: string | null = 'ACCC8E000001'): QuarantineRow {
  return { receivedMs, topic: `axis/${serial ?? 'x'}/report`, serial, reason, size: 12, excerpt: '{"seq":"one"' };
}

export function quarantined(receivedMs: number, reason = 'schema'): QuarantineItem {
  return { kind: 'quarantine', row: quarantineRow(receivedMs, reason) };
}

export function condition(serial: string, name: string, sinceMs: number, o: Partial<AlertConditionRow> = {}): AlertConditionRow {
  return { serial, condition: name, active: true, sinceMs, clearedMs: null, alerted: true, ...o };
}

export function alert(id: string, serial: string, raisedMs: number, name = 'lost'): AlertRow {
  // Spacing and key order as the engine wrote them: webhooks sign this exact text.
  return { id, serial, kind: 'raised', condition: name, severity: 'high', raisedMs, json: `{"id":"${id}",  "serial":"${serial}","condition":"${name}","note":"ü"}` };
}
