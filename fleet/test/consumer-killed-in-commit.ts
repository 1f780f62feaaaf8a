// Child process of held-pubacks.test.ts: a fleet consumer on a persistent session killed (SIGKILL) inside its
// first store transaction, as a crash inside the commit would: a trigger calls back into this process once the
// batch's history rows are written, before its camera row. Prints "ready" once subscribed.
// Usage: node --import tsx fleet/test/consumer-killed-in-commit.ts BROKER_URL CLIENT_ID
import { FleetConsumer } from '../src/consumer';
import { loadTables } from '../src/data';
import { SqliteStore } from '../src/store/sqlite';

const [brokerUrl, clientId] = process.argv.slice(2);
const store = new SqliteStore(':memory:');
store.db.function('test_kill_me', () => {
  process.kill(process.pid, 'SIGKILL');
  // The signal is on its way: never return into the transaction.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  return 0;
});
store.db.exec('CREATE TRIGGER test_killed_in_commit BEFORE INSERT ON cameras BEGIN SELECT test_kill_me(); END');
const consumer = new FleetConsumer({ brokerUrl, store, tables: loadTables(), clientId, clean: false, sweepMs: 0 });
await consumer.start();
process.stdout.write('ready\n');
