/** Opens the store a `--db` value names: a SQLite file (or ':memory:'). */
import { SqliteStore } from './sqlite';
import type { FleetStore } from './types';

export async function openStore(target: string): Promise<FleetStore> {
  return new SqliteStore(target);
}

/** True when the target is a server database (shared by consumers) rather than a file of this process's. */
export function isServerStore(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}
