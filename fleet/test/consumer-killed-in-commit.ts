// Child process of held-pubacks.test.ts: a fleet consumer on a persistent session whose first store.ingest (the
// batch's one transaction) kills the process (SIGKILL), as a crash inside the commit would. Prints "ready" once subscribed.
// Usage: node --import tsx fleet/test/consumer-killed-in-commit.ts BROKER_URL CLIENT_ID
import { FleetConsumer } from '../src/consumer';
import { loadTables } from '../src/data';
import { SqliteStore } from '../src/store/sqlite';

const [brokerUrl, clientId] = process.argv.slice(2);
const store = new SqliteStore(':memory:');
store.ingest = () => {
  process.kill(process.pid, 'SIGKILL');
  // The signal is on its way: never return from the commit.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  throw new Error('[vigil] [fleet] test: still alive after SIGKILL');
};
const consumer = new FleetConsumer({ brokerUrl, store, tables: loadTables(), clientId, clean: false, sweepMs: 0 });
await consumer.start();
process.stdout.write('ready\n');
