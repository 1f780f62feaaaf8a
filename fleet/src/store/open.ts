/**
 * `vigil fleet --db TARGET`: a postgres:// or postgresql:// URL opens the PostgreSQL store (what the URL leaves out,
 * e.g. the password, comes from the PG* environment variables, as with psql); anything else is a SQLite file
 * (':memory:' for tests).
 */
import { PostgresStore, type PostgresStoreOptions } from './postgres';
import { SqliteStore } from './sqlite';
import type { FleetStore } from './types';

export type OpenStoreOptions = PostgresStoreOptions;

/** True when the target is a server database (shared by consumers) rather than a file of this process's. */
export function isServerStore(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

export async function openStore(target: string, opts: OpenStoreOptions = {}): Promise<FleetStore> {
  if (isServerStore(target)) return PostgresStore.open(target, opts);
  return new SqliteStore(target);
}

export { redactUrl } from './redact-url';
