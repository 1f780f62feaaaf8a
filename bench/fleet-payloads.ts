/**
 * The report payloads of the fleet bench: real reports (captured from the simulator by bench/fleet.ts) with
 * serial, seq, reportId and sentAt rewritten, round-robin over `serials` cameras, each camera's seq counting up.
 * One source for the publisher and the in-process floor, so that both see byte-identical payloads.
 * `serialBase` offsets the camera numbers: rounds against one shared database (PostgreSQL) use new cameras
 * each round, so no round's reports are another round's duplicates.
 */
import { readFileSync } from 'node:fs';

export const PAYLOAD_PREFIX = 'vigil/v1';
// Far enough back that seq minutes after it stay in the past: a sentAt past the consumer's clock is refused as
// forged (fleet/src/store/forgery.ts), which would make the bench measure refusals.
const T0 = Date.parse('2020-01-01T00:00:00.000Z');

export function readTemplates(file: string): Array<Record<string, unknown>> {
  return JSON.parse(readFileSync(file, 'utf8')) as Array<Record<string, unknown>>;
}

export function reportMessages(templates: Array<Record<string, unknown>>, count: number, serials: number, serialBase = 0): Array<[string, string]> {
  const messages: Array<[string, string]> = [];
  for (let i = 0; i < count; i++) {
    const cam = i % serials;
    const seq = Math.floor(i / serials) + 1;
    const serial = 'ACCC8E' + (serialBase + cam).toString(16).toUpperCase().padStart(6, '0');
    const r = structuredClone(templates[cam % templates.length]) as Record<string, any>;
    r.deviceId = serial;
    r.device.serial = serial;
    r.seq = seq;
    r.reportId = `${serial}-${String(seq).padStart(8, '0')}`;
    r.sentAt = new Date(T0 + seq * 60_000).toISOString();
    messages.push([`${PAYLOAD_PREFIX}/${serial}/report`, JSON.stringify(r)]);
  }
  return messages;
}
