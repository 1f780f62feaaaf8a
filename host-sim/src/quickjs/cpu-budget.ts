/**
 * The CPU budget of one job slice, counted in CPU time of the thread running the engine rather than wall
 * time: a slice that is merely preempted (a busy machine; on a camera, video) is never interrupted.
 *
 * The interrupt handler QuickJS polls reads only the cheap wall clock. CPU time is at most wall time, so the
 * budget cannot be spent before wall time has passed it; only then is the CPU clock read and, when the
 * thread ran less than the budget, the deadline moved on by the CPU time not yet spent.
 *
 * Which CPU clock (the first that works, chosen once per thread; see host-sim/README.md):
 * - `/proc/thread-self/schedstat`, first field: ns on CPU of this thread. The kernel brings it up to date
 *   at scheduler ticks and switches, so while the thread runs it lags by up to a tick (1–10 ms).
 * - `/proc/thread-self/stat`, utime + stime of this thread, in USER_HZ ticks (10 ms).
 * - `process.cpuUsage()` where there is no /proc: the whole process (GC helpers, libuv's pool, other worker
 *   threads), an over-estimate that can still interrupt an agent starved by other threads of the process.
 * All three count the CPU of host calls the agent makes from a slice, as CLOCK_THREAD_CPUTIME_ID does natively.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface BudgetClocks {
  /** Monotonic wall time, ms: read at every interrupt poll, so it must be cheap. */
  wallMs(): number;
  /** CPU time of the thread running the engine, ms: read at a slice's start and when its wall time passes the budget. */
  cpuMs(): number;
}

/** How often, at most, the CPU clock is read once wall time is past the budget (ms): bounds the reads. */
const MIN_RECHECK_MS = 1;

/**
 * An interrupt handler for one slice, to install just before it starts: true once the slice has spent
 * `budgetMs` of CPU time.
 */
export function cpuBudgetInterrupt(budgetMs: number, clocks: BudgetClocks = engineThreadClocks): () => boolean {
  const cpuAtStart = clocks.cpuMs();
  let deadline = clocks.wallMs() + budgetMs;
  return () => {
    const wall = clocks.wallMs();
    if (wall < deadline) return false;
    const left = budgetMs - (clocks.cpuMs() - cpuAtStart);
    if (left <= 0) return true;
    // The thread was not running for part of the slice: it could spend the rest by wall + left, no sooner.
    deadline = wall + Math.max(left, MIN_RECHECK_MS);
    return false;
  };
}

/** A CPU clock of this thread, read from a /proc file kept open (one pread per reading, ~1–4 µs). */
function procClock(file: string, parse: (text: string) => number): (() => number) | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  const buf = Buffer.alloc(1024);
  const read = () => parse(buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0)));
  try {
    if (!Number.isFinite(read())) throw new Error('unreadable');
  } catch {
    closeSync(fd);
    return null;
  }
  // The file names the thread that opened it; a worker thread that ends closes its own.
  process.once('exit', () => closeSync(fd));
  return read;
}

/** USER_HZ: the unit of utime and stime in /proc/<pid>/stat, 100 on every Linux ABI. */
const USER_HZ = 100;

function pickThreadCpuClock(): { source: string; cpuMs: () => number } {
  const schedstat = procClock('/proc/thread-self/schedstat', (t) => Number(t.slice(0, t.indexOf(' '))) / 1e6);
  if (schedstat) return { source: '/proc/thread-self/schedstat', cpuMs: schedstat };
  // Fields after the command name (which may hold spaces and parentheses): state is the 3rd, utime the 14th.
  const stat = procClock('/proc/thread-self/stat', (t) => {
    const f = t.slice(t.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / USER_HZ;
  });
  if (stat) return { source: '/proc/thread-self/stat', cpuMs: stat };
  return {
    source: 'process.cpuUsage',
    cpuMs: () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    },
  };
}

let picked: { source: string; cpuMs: () => number } | null = null;
const threadCpu = () => (picked ??= pickThreadCpuClock());

/** The clocks of the thread this module runs in (each worker thread has its own copy of the module). */
export const engineThreadClocks: BudgetClocks & { readonly source: string } = {
  wallMs: () => performance.now(),
  cpuMs: () => threadCpu().cpuMs(),
  get source() {
    return threadCpu().source;
  },
};
