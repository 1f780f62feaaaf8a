// A real SQLite failure inside the store's own transaction, once: a trigger aborts the first insert it matches (so
// SQLite rolls back what the batch wrote before it, as on a full disk), and is dropped after that failure so that
// the redelivered messages are stored.
import type { SqliteStore } from '../src/store/sqlite';

export interface FailingOnce {
  /** How many store.ingest calls failed so far. */
  readonly failures: number;
}

/** Makes the next store.ingest that inserts into `table` (rows matching `when`, an SQL condition on NEW) fail with `message`. */
export function failNextIngest(store: SqliteStore, o: { table?: 'reports' | 'states' | 'events' | 'quarantine' | 'cameras'; when?: string; message: string }): FailingOnce {
  const state = { failures: 0 };
  store.db.exec(`CREATE TRIGGER test_fail_once BEFORE INSERT ON ${o.table ?? 'reports'} ${o.when ? `WHEN ${o.when}` : ''}
    BEGIN SELECT RAISE(ABORT, '${o.message.replace(/'/g, "''")}'); END`);
  const ingest = store.ingest.bind(store);
  store.ingest = async (items) => {
    try {
      return await ingest(items);
    } catch (err) {
      state.failures++;
      store.db.exec('DROP TRIGGER IF EXISTS test_fail_once');
      throw err;
    }
  };
  return state;
}
