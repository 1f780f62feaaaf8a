// A fleet consumer fed directly (no broker) with its alerts on an injected clock, for the alert tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from '../../../agent/src/report/types';
import { FleetAlerts, type AlertOptions } from '../../src/alerts/fleet-alerts';
import type { Alert } from '../../src/alerts/engine';
import { FleetConsumer } from '../../src/consumer';
import type { Ingested } from '../../src/ingest/context';
import { loadTables, type Tables } from '../../src/data';
import { SqliteStore } from '../../src/store/sqlite';
import type { FleetStore } from '../../src/store/types';
import { statePayload, T0 } from '../fixtures';
import { errorsText, schemaValidator } from '../../../schemas/validator';

export interface AlertRig {
  clock: { now: number };
  store: FleetStore;
  consumer: FleetConsumer;
  alerts: FleetAlerts;
  /** Ingests a report; resolves once it is stored and the alerts have checked the camera. */
  report(r: Report): Promise<Ingested>;
  state(serial: string, state: 'online' | 'offline' | 'lost', session: number, atMs?: number): Promise<Ingested>;
  /** Runs the consumer's missing sweep and waits for the alert checks it started. */
  sweep(nowMs: number): Promise<void>;
  /** Every stored alert, oldest first. */
  stored(): Promise<Alert[]>;
  close(): Promise<void>;
}

/** Resolves once the consumer's view is loaded from the store (a restarted consumer knows its cameras). */
export async function alertRig(o: { dbPath?: string; store?: FleetStore; clock?: { now: number }; tables?: Tables; alerts?: AlertOptions } = {}): Promise<AlertRig> {
  const clock = o.clock ?? { now: T0 };
  // Another store (PostgreSQL, shared by several rigs as consumers of one fleet), or a SQLite file or memory.
  const store = o.store ?? new SqliteStore(o.dbPath ?? ':memory:');
  const now = () => clock.now;
  const consumer = new FleetConsumer({ brokerUrl: 'mqtt://127.0.0.1:1', store, tables: o.tables ?? loadTables(), sweepMs: 0, now });
  const alerts = new FleetAlerts({ consumer, store, now, log: () => undefined, options: { mqtt: false, reconcileMs: 0, ...(o.alerts ?? {}) } });
  // An empty batch runs after the view's load, and after the engine read the stored conditions.
  await consumer.ingestBatch([]);
  await alerts.engine.load();
  return {
    clock, store, consumer, alerts,
    report: (r) => consumer.ingest(`vigil/v1/${r.deviceId}/report`, JSON.stringify(r)),
    state: (serial, state, session, atMs = clock.now) => {
      const payload = state === 'lost' ? JSON.stringify({ state: 'lost', reason: 'connection-lost', session, at: new Date(atMs).toISOString(), agentVersion: '0.1.0' }) : statePayload(state, state === 'online' ? 'connected' : 'shutdown', session, new Date(atMs).toISOString());
      return consumer.ingest(`vigil/v1/${serial}/state`, payload);
    },
    sweep: async (nowMs) => {
      consumer.sweep(nowMs);
      // An empty batch waits for the observers (the alert checks) that the sweep's changes started.
      await consumer.ingestBatch([]);
    },
    stored: async () => (await store.alerts(1000)).map((a) => JSON.parse(a.json) as Alert).reverse(),
    close: () => store.close(),
  };
}

export function tempDb(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-alerts-'));
  return { path: join(dir, 'fleet.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Throws with ajv's errors when `a` is not an alert as schemas/alert.schema.json has it. */
export function assertValidAlert(a: unknown): void {
  const validate = schemaValidator('alert.schema.json', { allErrors: true });
  if (!validate(a)) throw new Error(`alert does not match schemas/alert.schema.json:\n${errorsText(validate.errors)}`);
}
