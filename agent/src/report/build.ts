import type { Report } from './types';
import { REPORT_SCHEMA } from './types';
import { utf8Encode } from '../util/text';
import { VigilError } from '../util/errors';

/** Everything a report holds except its schema tag, which assembleReport adds. */
export type ReportInput = Omit<Report, 'schema'>;

export const assembleReport = (input: ReportInput): Report => ({ schema: REPORT_SCHEMA, ...input });

export interface EncodedReport {
  report: Report;
  bytes: Uint8Array;
  /** True when lists were cut to fit; their true totals stay in the report. */
  truncated: boolean;
}

/**
 * Serialises a report within maxBytes. An oversize PUBLISH is a poison pill for several brokers
 * (reference/mqtt.md), so long lists are cut step by step (their totals are kept) and a report that
 * still does not fit is refused, never sent.
 */
export const encodeReport = (report: Report, maxBytes: number): EncodedReport => {
  let bytes = utf8Encode(JSON.stringify(report));
  if (bytes.length <= maxBytes) return { report, bytes, truncated: false };
  for (const limit of [200, 50, 10, 0]) {
    const cut = truncateLists(report, limit);
    bytes = utf8Encode(JSON.stringify(cut));
    if (bytes.length <= maxBytes) return { report: cut, bytes, truncated: true };
  }
  throw new VigilError('report', 'E2BIG', `report is ${bytes.length} bytes even with its lists cut, over the ${maxBytes}-byte limit`);
};

const truncateLists = (report: Report, limit: number): Report => {
  const clipped = (text: string): string => (text.length > 200 ? text.slice(0, 200) + '…' : text);
  return {
    ...report,
    services: {
      ...report.services,
      entries: report.services.entries.slice(0, Math.max(limit, 16)).map((e) => ({ ...e, listening: e.listening.slice(0, Math.max(4, limit >> 2)) })),
      findings: report.services.findings.map((f) => ({ ...f, evidence: f.evidence.slice(0, 4).map(clipped) })),
    },
    integrity: {
      ...report.integrity,
      changes: report.integrity.changes.slice(0, limit),
      apps: report.integrity.apps.slice(0, Math.max(limit, 8)),
    },
    errors: report.errors.slice(0, Math.max(4, limit >> 3)).map((e) => ({ ...e, message: clipped(e.message) })),
  };
};
