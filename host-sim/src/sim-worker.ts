/**
 * One worker thread of `vigil sim` (sim-threads.ts): runs its share of the fleet with startSimFleet, as the
 * single-thread simulator runs all of it, in its own wasm module (one module's memory caps at 2 GiB). Talks to
 * the main thread in SimWorkerMessage; logs go to this thread's stderr, which Node forwards to the process's.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { startSimFleet, type SimFleet } from './fleet';
import { loadProfile } from './profiles';
import { lineLogSink } from './sim-host';
import { wasmMemoryBytes } from './quickjs/modules';
import { sharedVapixListener } from './vapix-listener';
import type { SimWorkerData, SimWorkerMessage } from './sim-threads';

const data = workerData as SimWorkerData;
if (!parentPort) throw new Error('[vigil] [sim] sim-worker.ts runs as a worker thread of `vigil sim`');
const port: MessagePort = parentPort;
const send = (m: SimWorkerMessage) => port.postMessage(m);

const stopping = new AbortController();
let fleet: SimFleet | null = null;
port.on('message', (m: { kind: 'stop' }) => {
  if (m.kind === 'stop') stopping.abort();
});

async function run(): Promise<void> {
  const profiles = data.profiles.map((p) => loadProfile(p));
  const checkAllGaveUp = () => {
    if (fleet && fleet.length > 0 && fleet.every((c) => c.failed)) send({ kind: 'all-gave-up' });
  };
  try {
    fleet = await startSimFleet({
      profiles,
      count: data.count,
      firstIndex: data.firstIndex,
      total: data.total,
      startIntervalMs: data.startIntervalMs,
      signal: stopping.signal,
      bundlePath: data.bundlePath,
      broker: data.broker,
      stateRoot: data.stateRoot,
      overrides: data.overrides,
      dataFiles: data.dataFiles,
      log: lineLogSink((line) => process.stderr.write(line + '\n'), data.logLevel),
      maxRestarts: data.maxRestarts,
      restartWindowMs: data.restartWindowMs,
      engine: data.engine,
      onGiveUp: checkAllGaveUp,
      // One VAPIX listener for the thread's cameras: a listener each would be an open file each.
      sharedVapix: await sharedVapixListener(),
    });
  } catch (err) {
    send({ kind: 'failed', message: (err as Error).message });
    return;
  }
  send({ kind: 'started', cameras: fleet.length, wasmBytes: await wasmMemoryBytes() });
  checkAllGaveUp();
  if (!stopping.signal.aborted) await new Promise((r) => stopping.signal.addEventListener('abort', r, { once: true }));
  const wasmBytes = await wasmMemoryBytes();
  await fleet.stop();
  send({ kind: 'stopped', status: fleet.status(), wasmBytes });
  port.close();
}

await run();
