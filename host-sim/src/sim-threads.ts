/**
 * `vigil sim --count N` past one thread's share: the cameras split over ceil(N / perWorker) worker threads
 * (node:worker_threads), each running its share with startSimFleet in its own wasm module (sim-worker.ts).
 * One module's memory caps at 2 GiB, ~2,000–4,900 cameras; so no thread is given more than perWorker.
 *
 * Camera i of the fleet is camera i wherever it runs: each worker is given its index range and the fleet's
 * size, so serials are those one process would give (fleet.ts, cloneWithSerial), unique across workers.
 * Starts are paced (startRatePerSec over all workers together) so the broker is not hit by N connects at once.
 * A worker that fails to start, or dies later, is reported (`[vigil] [sim] worker K of W (cameras A–B) …`)
 * and ends the run: `ended` resolves 'died'. stop() ends every worker and returns every camera's status.
 */
import { Worker } from 'node:worker_threads';
import type { SimCameraOptions } from './camera';
import type { FleetCameraStatus } from './fleet';
import type { LogLevel } from '../../agent/src/host';

/** Cameras per worker thread by default: a 2 GiB wasm module holds ~2,900 at ~700 KiB each; this leaves margin. */
export const DEFAULT_PER_WORKER = 2000;
/** Camera starts per second over all worker threads together, by default. */
export const DEFAULT_START_RATE = 100;

/** What a worker is given (workerData). */
export interface SimWorkerData {
  /** Profile names or folders, as loadProfile takes them. */
  profiles: string[];
  firstIndex: number;
  count: number;
  total: number;
  startIntervalMs: number;
  bundlePath: string;
  broker: { host: string; port: number };
  stateRoot: string;
  overrides: Record<string, string>;
  /** SimCameraOptions.dataFiles: the broker's TLS files for every camera. */
  dataFiles?: Record<string, string>;
  logLevel: LogLevel;
  maxRestarts?: number;
  restartWindowMs?: number;
  engine?: SimCameraOptions['engine'];
}

/** What a worker says. */
export type SimWorkerMessage =
  | { kind: 'started'; cameras: number; wasmBytes: number }
  | { kind: 'failed'; message: string }
  | { kind: 'all-gave-up' }
  /** wasmBytes: the thread's wasm memory before its cameras stopped (it only grows: the peak). */
  | { kind: 'stopped'; status: FleetCameraStatus[]; wasmBytes: number };

export interface SimThreadsOptions extends Omit<SimWorkerData, 'firstIndex' | 'count' | 'total' | 'startIntervalMs'> {
  count: number;
  perWorker?: number;
  startRatePerSec?: number;
  /** The worker's entry; default sim-worker-boot.mjs (tests give one that dies). */
  workerScript?: URL;
  /** Where `[vigil] [sim] …` lines go; default stderr. */
  write?: (line: string) => void;
  /** How long stop() waits for a worker to stop its cameras before terminating it; default 60 s. */
  stopTimeoutMs?: number;
  /** Aborted while cameras start: the workers stop starting more, and the run resolves with those started. */
  signal?: AbortSignal;
}

export interface SimThreads {
  readonly workers: number;
  /** Cameras started, over all workers. */
  readonly cameras: number;
  /** Resolves when the run cannot go on as asked: 'gave-up' (the supervisors gave up on every camera) or 'died' (a worker). */
  readonly ended: Promise<'gave-up' | 'died'>;
  /** Stops every worker's cameras (planned stop) and ends the workers; every camera's status and the wasm memory of every thread. */
  stop(): Promise<{ status: FleetCameraStatus[]; wasmBytes: number[] }>;
}

interface Slot {
  index: number;
  firstIndex: number;
  count: number;
  worker: Worker;
  started: number;
  gaveUp: boolean;
  stopping: boolean;
  status: FleetCameraStatus[] | null;
  wasmBytes: number;
  exited: Promise<void>;
}

/** The cameras over ceil(count / perWorker) workers, as even as can be: [firstIndex, count] each. */
export function splitCameras(count: number, perWorker: number): Array<{ firstIndex: number; count: number }> {
  const workers = Math.max(1, Math.ceil(count / Math.max(1, perWorker)));
  const out: Array<{ firstIndex: number; count: number }> = [];
  let first = 0;
  for (let w = 0; w < workers; w++) {
    const n = Math.floor(count / workers) + (w < count % workers ? 1 : 0);
    out.push({ firstIndex: first, count: n });
    first += n;
  }
  return out;
}

export async function startSimThreads(options: SimThreadsOptions): Promise<SimThreads> {
  const { count, perWorker = DEFAULT_PER_WORKER, startRatePerSec = DEFAULT_START_RATE, workerScript, stopTimeoutMs = 60_000, write: writeLine, signal, ...shared } = options;
  const write = writeLine ?? ((line: string) => process.stderr.write(line + '\n'));
  const shares = splitCameras(count, perWorker);
  const startIntervalMs = startRatePerSec > 0 ? (shares.length * 1000) / startRatePerSec : 0;
  const script = workerScript ?? new URL('./sim-worker-boot.mjs', import.meta.url);
  let endedWith: (why: 'gave-up' | 'died') => void = () => {};
  const ended = new Promise<'gave-up' | 'died'>((r) => (endedWith = r));
  let failedToStart = false;
  let startFailed: (message: string) => void = () => {};
  const startFailure = new Promise<string>((r) => (startFailed = r)).then((m) => {
    failedToStart = true;
    return m;
  });
  const who = (s: Slot) => `worker ${s.index + 1} of ${shares.length} (cameras ${s.firstIndex}–${s.firstIndex + s.count - 1})`;

  const slots: Slot[] = shares.map((share, index) => {
    const data: SimWorkerData = { ...shared, ...share, total: count, startIntervalMs };
    const worker = new Worker(script, { workerData: data });
    const slot: Slot = { index, ...share, worker, started: -1, wasmBytes: 0, gaveUp: false, stopping: false, status: null, exited: Promise.resolve() };
    let lastError: string | null = null;
    worker.on('message', (m: SimWorkerMessage) => {
      if (m.kind === 'started') [slot.started, slot.wasmBytes] = [m.cameras, m.wasmBytes];
      else if (m.kind === 'stopped') [slot.status, slot.wasmBytes] = [m.status, m.wasmBytes];
      else if (m.kind === 'failed') {
        lastError = m.message;
        startFailed(`[vigil] [sim] ${who(slot)} could not start its cameras: ${m.message}`);
      } else if (m.kind === 'all-gave-up') {
        slot.gaveUp = true;
        if (slots.every((s) => s.gaveUp)) endedWith('gave-up');
      }
    });
    worker.on('error', (err) => (lastError = err.stack ?? err.message));
    slot.exited = new Promise((resolve) =>
      worker.once('exit', (code) => {
        resolve();
        if (slot.stopping && slot.status) return;
        const why = lastError ?? `exit code ${code}`;
        const line = `[vigil] [sim] ${who(slot)} died: ${why}; its cameras are gone, stopping the others`;
        if (slot.started < 0) startFailed(line);
        else {
          write(line);
          endedWith('died');
        }
      }),
    );
    return slot;
  });

  const stop = async (): Promise<{ status: FleetCameraStatus[]; wasmBytes: number[] }> => {
    await Promise.all(
      slots.map(async (s) => {
        s.stopping = true;
        s.worker.postMessage({ kind: 'stop' });
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), stopTimeoutMs)));
        const how = await Promise.race([s.exited.then(() => 'exited' as const), late]);
        clearTimeout(timer);
        if (how === 'late') {
          write(`[vigil] [sim] ${who(s)} did not stop its cameras within ${stopTimeoutMs} ms; terminating it`);
          await s.worker.terminate();
        }
      }),
    );
    return { status: slots.flatMap((s) => s.status ?? []), wasmBytes: slots.map((s) => s.wasmBytes) };
  };

  const allStarted = (async () => {
    while (!failedToStart && slots.some((s) => s.started < 0)) await new Promise((r) => setTimeout(r, 50));
  })();
  const abortStart = () =>
    slots.forEach((s) => {
      s.stopping = true;
      s.worker.postMessage({ kind: 'stop' });
    });
  signal?.addEventListener('abort', abortStart, { once: true });
  const failure = await Promise.race([allStarted.then(() => null), startFailure]);
  signal?.removeEventListener('abort', abortStart);
  if (failure !== null) {
    await stop();
    throw new Error(failure);
  }
  if (slots.every((s) => s.gaveUp)) endedWith('gave-up');
  return {
    workers: slots.length,
    cameras: slots.reduce((n, s) => n + s.started, 0),
    ended,
    stop,
  };
}
