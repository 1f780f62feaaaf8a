// Report fixtures for fleet tests: schema-valid reports built from parts, checked against the schema.
import type { Finding, Report } from '../../agent/src/report/types';
import { assertValidReport } from '../../test/helpers/schemas';

export const T0 = Date.parse('2026-11-25T12:00:00.000Z');

export interface ReportParts {
  serial?: string;
  seq?: number;
  reportId?: string;
  sentAt?: string;
  intervalSec?: number;
  version?: string;
  soc?: string | null;
  model?: string;
  findings?: Finding[];
  integrity?: Partial<Report['integrity']>;
  startedAt?: string;
  queueDepth?: number;
  errors?: Report['errors'];
}

export function finding(id: string, severity: Finding['severity'] = 'medium', control = 'B14'): Finding {
  return { id, control, severity, summary: `${id} (test)`, evidence: [] };
}

/** A schema-valid report; throws when the parts make it invalid (fixtures must be real reports). */
export function makeReport(p: ReportParts = {}): Report {
  const serial = p.serial ?? 'ACCC8E000001';
  const seq = p.seq ?? 1;
  const report: Report = {
    schema: 'vigil.report/1',
    deviceId: serial,
    seq,
    reportId: p.reportId ?? `${serial}-r${String(seq).padStart(6, '0')}`,
    sentAt: p.sentAt ?? new Date(T0 + seq * 60_000).toISOString(),
    intervalSec: p.intervalSec ?? 60,
    device: { serial, model: p.model ?? 'M3086-V', fullName: `AXIS ${p.model ?? 'M3086-V'} Dome Camera`, brand: 'AXIS', productType: 'Dome Camera', hardwareId: '9A1', soc: p.soc === undefined ? 'Ambarella CV25' : p.soc, architecture: 'aarch64', uptimeSec: 1000 + seq * 60 },
    os: { version: p.version ?? '12.11.77', buildDate: 'Jul 07 2026 10:14', firmware: null },
    services: { entries: [], findings: p.findings ?? [], totalListening: 0 },
    integrity: {
      status: 'ok', baseline: { createdAt: '2026-11-01T00:00:00.000Z', files: 42 }, changes: [], totalChanges: 0,
      platform: { signedOs: true, secureBoot: true, edgeVault: null }, apps: [], allowUnsignedApps: false, agentBundleSha256: null,
      ...(p.integrity ?? {}),
    },
    health: {
      agentVersion: '0.1.0', host: 'sim', startedAt: p.startedAt ?? '2026-11-25T00:00:00.000Z', heapUsedBytes: 400_000, heapLimitBytes: 8_000_000,
      queueDepth: p.queueDepth ?? 0, dropped: 0, oldestQueuedAgeSec: 0, reconnects: 0, collectMs: 12, lastExit: null,
    },
    errors: p.errors ?? [],
  };
  assertValidReport(report);
  return report;
}

export function statePayload(state: 'online' | 'offline', reason: string, session: number, at = new Date(T0).toISOString()): string {
  return JSON.stringify({ state, reason, session, at, agentVersion: '0.1.0' });
}
