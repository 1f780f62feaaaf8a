/**
 * Flags and helpers `vigil sim` shares with `vigil demo` (cli/demo-command.ts): the supervisor's policy and
 * the engine's limits, the report interval, the agent bundle, the restart summary and the wait for Ctrl-C.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SimCameraOptions } from './camera';
import { formatRestarts, type SimFleet } from './fleet';
import { formatLogRecord, type LogSink } from './sim-host';
import { REPORT_INTERVAL_MAX_SEC, REPORT_INTERVAL_MIN_SEC } from '../../agent/src/interval-bounds';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_BUNDLE = join(ROOT, 'dist/agent.js');

export function parseInterval(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < REPORT_INTERVAL_MIN_SEC || n > REPORT_INTERVAL_MAX_SEC) {
    throw new Error(`[vigil] [cli] --interval must be ${REPORT_INTERVAL_MIN_SEC}..${REPORT_INTERVAL_MAX_SEC} seconds, got "${text}"`);
  }
  return n;
}

export function requireBundle(path: string): void {
  if (!existsSync(path)) throw new Error(`[vigil] [cli] ${path} not found: run \`npm run build\` first`);
}

/** Resolves on SIGINT/SIGTERM, when `signal` aborts, or when `also` resolves, with what it was. */
export function untilSignal(signal?: AbortSignal, also?: Promise<string>): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      signal?.removeEventListener('abort', aborted);
      resolve(why);
    };
    const aborted = () => done('abort');
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
    if (signal?.aborted) return done('abort');
    signal?.addEventListener('abort', aborted, { once: true });
    void also?.then(done);
  });
}

export const SUPERVISION_FLAGS = {
  'max-restarts': { type: 'string' },
  'restart-window-ms': { type: 'string' },
  'memory-limit': { type: 'string' },
  'cpu-budget-ms': { type: 'string' },
} as const;

function intFlag(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) throw new Error(`[vigil] [cli] --${name} must be an integer ${min}..${max}, got "${text}"`);
  return n;
}

/** The supervisor's policy and the engine's limits from --max-restarts, --restart-window-ms, --memory-limit, --cpu-budget-ms. */
export function supervision(values: Partial<Record<keyof typeof SUPERVISION_FLAGS, string>>): {
  maxRestarts?: number;
  restartWindowMs?: number;
  engine: NonNullable<SimCameraOptions['engine']>;
} {
  const engine: NonNullable<SimCameraOptions['engine']> = {};
  const memory = intFlag('memory-limit', values['memory-limit'], 64 * 1024, 2 ** 31);
  const cpu = intFlag('cpu-budget-ms', values['cpu-budget-ms'], 1, 3_600_000);
  if (memory !== undefined) engine.memoryLimitBytes = memory;
  if (cpu !== undefined) engine.cpuBudgetMs = cpu;
  return {
    maxRestarts: intFlag('max-restarts', values['max-restarts'], 0, 1_000_000),
    restartWindowMs: intFlag('restart-window-ms', values['restart-window-ms'], 1, 2_147_483_647),
    engine,
  };
}

/** The supervisor's lines only: what `vigil demo` logs under its live table. */
export function supervisorLines(write: (line: string) => void): LogSink {
  return (r) => {
    if (r.message.startsWith('[host-sim] [supervisor] ')) write(formatLogRecord(r));
  };
}

export function writeRestarts(tag: string, fleet: SimFleet): void {
  const text = formatRestarts(fleet);
  if (text) process.stderr.write(`[vigil] [${tag}] ${text}\n`);
}

/**
 * Open files a simulated camera holds: its broker connection, and its VAPIX server's listening socket unless
 * the thread's cameras share one (worker threads do: vapix-listener.ts).
 */
export const FILES_PER_CAMERA = { ownListener: 2, sharedListener: 1 } as const;

/**
 * A warning when `count` cameras need more open files than the process may have (ulimit -n, from
 * /proc/self/limits), or null: past the limit, cameras fail to start or to connect with EMFILE.
 */
export function fileLimitWarning(count: number, perCamera: number, limits = '/proc/self/limits'): string | null {
  let soft: number;
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(limits, 'utf8'));
    if (!m || m[1] === 'unlimited') return null;
    soft = Number(m[1]);
  } catch {
    return null;
  }
  const need = count * perCamera + 100;
  if (need <= soft) return null;
  return `[vigil] [sim] ${count} cameras need about ${need} open files (${perCamera} each), over this process's limit of ${soft}: raise it (ulimit -n ${need})`;
}
