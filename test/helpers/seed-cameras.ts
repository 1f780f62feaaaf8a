/**
 * Puts cameras straight into a fleet store (one schema-valid report each, in batches), so a test of a large
 * fleet (the dashboard with 5,000 cameras) needs neither thousands of simulated agents nor a broker's time.
 */
import type { FleetStore, ReportItem } from '../../fleet/src/store/types';
import { makeReport } from '../../fleet/test/fixtures';

export interface SeedCamera {
  serial: string;
  /** When the report counts as received (ms): the camera's last contact. */
  receivedMs: number;
  version?: string;
  model?: string;
  seq?: number;
}

export function reportItem(c: SeedCamera): ReportItem {
  const report = makeReport({ serial: c.serial, version: c.version, model: c.model, seq: c.seq ?? 1, sentAt: new Date(c.receivedMs).toISOString(),
    // Started before it sent: the store refuses a report from an agent that started after it was received (forgery.ts).
    startedAt: new Date(c.receivedMs - 3_600_000).toISOString() });
  return {
    kind: 'report', serial: c.serial, nowMs: c.receivedMs, startedAt: report.health.startedAt, model: report.device.model ?? null, hardwareId: report.device.hardwareId ?? null,
    fullName: report.device.fullName ?? null, intervalSec: report.intervalSec, text: JSON.stringify(report),
    history: {
      serial: c.serial, reportId: report.reportId, seq: report.seq, sentAt: report.sentAt, receivedMs: c.receivedMs, osVersion: report.os.version,
      findings: 0, hardeningScore: 100, integrity: 'ok', support: 'unknown', advisories: 0, queueDepth: 0, heapUsedBytes: report.health.heapUsedBytes, dropped: 0,
    },
  };
}

export async function seedCameras(store: FleetStore, cameras: SeedCamera[], batch = 500): Promise<void> {
  for (let i = 0; i < cameras.length; i += batch) await store.ingest(cameras.slice(i, i + batch).map(reportItem));
}

/** `prefix` + a zero-padded number: serials that sort as numbered. */
export function serials(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => prefix + String(i).padStart(6, '0'));
}
