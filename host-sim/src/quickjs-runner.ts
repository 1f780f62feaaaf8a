/**
 * Runs one bundle (dist/agent.js or dist/host-contract.js) in a QuickJS-wasm runtime and installs a Host
 * as the global `__vigilHost`. Owns every QuickJS handle it creates: timers keep a dup()ed callback,
 * host promises keep their deferred, and stop() disposes all of them before the runtime (a leaked handle
 * aborts dispose in the debug build). See /work/shared/reference/quickjs.md §1.
 *
 * Each job slice (eval, one timer callback, one job pump) runs under a CPU budget, counted in CPU time of the
 * engine's thread (quickjs/cpu-budget.ts); the runtime has a memory limit and a stack limit (≤ 256 KB, or deep
 * recursion kills the whole wasm module). Values cross the boundary in quickjs/marshal.ts, and the
 * `__vigilHost` table is quickjs/install-host.ts; the call to `__vigilAgent.stop()` is quickjs/agent-stop.ts,
 * and the engine's promises are watched for rejections in quickjs/watched-promises.ts.
 *
 * The memory limit means bytes, as on the device: the runner also measures the heap in bytes when the live
 * block count or the time says so (quickjs/memory-limit.ts), since the wasm build's own accounting lets many
 * small allocations grow far past it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { QuickJSContext, QuickJSDeferredPromise, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten-core';
import type { Host, LogLevel, RuntimeMemory } from '../../agent/src/host';
import { AgentStop } from './quickjs/agent-stop';
import { cpuBudgetInterrupt, type BudgetClocks } from './quickjs/cpu-budget';
import { freeRuntime } from './quickjs/free-runtime';
import { installHost, type HostBridge } from './quickjs/install-host';
import { Marshal } from './quickjs/marshal';
import { countedHeapBytes, MemoryLimit, readHeapUsage, type HeapUsage } from './quickjs/memory-limit';
import { liveBlocksReader } from './quickjs/live-blocks';
import { loadQuickJSModule, type QuickJSModuleLike, type QuickJSVariantName } from './quickjs/modules';
import { WatchedPromises } from './quickjs/watched-promises';

export interface QuickJSRunnerOptions {
  host: Host;
  /** A module to create the runtime in; default: the shared module of `variant`. */
  module?: QuickJSModuleLike;
  variant?: QuickJSVariantName;
  /** JS heap limit in bytes, as the native host's --memory-limit; default 16 MB. */
  memoryLimitBytes?: number;
  /**
   * The heap is measured in bytes at least this often while slices run, ms (0: after every slice); default
   * 1000. Sooner when the live block count grew past the last measurement's headroom (quickjs/memory-limit.ts).
   * One measurement walks the whole heap (~50–250 µs for the agent), and a report cycle runs dozens of slices.
   */
  memoryCheckIntervalMs?: number;
  /** Called once, when the engine stops the agent at a limit (exitReason set): the supervisor acts at once. */
  onLimit?: (reason: string) => void;
  /** Default 256 KB, the most quickjs-emscripten tolerates under Node's default stack. */
  maxStackBytes?: number;
  /** CPU budget of one job slice, in CPU time of the engine's thread (not wall time); default 500 ms. */
  cpuBudgetMs?: number;
  /** The clocks the CPU budget reads; default: this thread's (quickjs/cpu-budget.ts). Tests simulate preemption. */
  budgetClocks?: BudgetClocks;
  /** How long stop() waits for `__vigilAgent.stop()`; default 3000 ms. */
  stopTimeoutMs?: number;
  /** The runner's own messages (job errors, unhandled failures); default: host.log. */
  log?: (level: LogLevel, message: string) => void;
}

export interface EngineError {
  /** 'eval', 'job', 'timer', 'async', 'stop'. */
  where: string;
  name: string;
  message: string;
  stack?: string;
}

export interface RunResult {
  ok: boolean;
  error?: EngineError;
}

export interface RunnerStats {
  errors: number;
  lastError: EngineError | null;
  timers: number;
  pendingHostCalls: number;
  /** Heap measurements made by checkMemory, and the wall time they took in total (ms). */
  memoryChecks: number;
  memoryCheckMs: number;
}

const DEFAULT_MEMORY_LIMIT = 16 << 20;
const DEFAULT_STACK = 256 * 1024;
const DEFAULT_CPU_BUDGET_MS = 500;
const DEFAULT_STOP_TIMEOUT_MS = 3000;
const DEFAULT_MEMORY_CHECK_INTERVAL_MS = 1000;

export class QuickJSRunner {
  readonly host: Host;
  readonly memoryLimitBytes: number;
  readonly cpuBudgetMs: number;
  readonly stopTimeoutMs: number;
  /** SHA-256 of the last bundle given to start(). */
  bundleSha256: string | null = null;
  /** A short reason when the engine was stopped by a limit: 'interrupted (CPU budget)', 'out of memory'… */
  exitReason: string | null = null;
  /** When exitReason was set (Date.now()), for the lastExit text. */
  exitAt: number | null = null;
  readonly memoryCheckIntervalMs: number;

  private readonly rt: QuickJSRuntime;
  private readonly vm: QuickJSContext;
  private readonly log: (level: LogLevel, message: string) => void;
  private readonly timers = new Map<number, QuickJSHandle>();
  private readonly deferreds = new Set<QuickJSDeferredPromise>();
  private readonly watched: WatchedPromises;
  private readonly marshal: Marshal;
  private readonly budgetClocks: BudgetClocks | undefined;
  private readonly agentStop: AgentStop;
  private installed = false;
  private pumping = false;
  private pumpScheduled = false;
  private disposed = false;
  private stopPromise: Promise<void> | null = null;
  private errorCount = 0;
  private lastError: EngineError | null = null;
  private readonly onLimit: ((reason: string) => void) | undefined;
  private readonly memoryLimit: MemoryLimit;

  static async create(options: QuickJSRunnerOptions): Promise<QuickJSRunner> {
    const module = options.module ?? (await loadQuickJSModule(options.variant ?? 'release'));
    return new QuickJSRunner(module, options);
  }

  private constructor(module: QuickJSModuleLike, options: QuickJSRunnerOptions) {
    this.host = options.host;
    this.memoryLimitBytes = options.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT;
    this.cpuBudgetMs = options.cpuBudgetMs ?? DEFAULT_CPU_BUDGET_MS;
    this.stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    this.memoryCheckIntervalMs = Math.max(0, options.memoryCheckIntervalMs ?? DEFAULT_MEMORY_CHECK_INTERVAL_MS);
    this.onLimit = options.onLimit;
    this.log = options.log ?? ((level, message) => this.host.log(level, message));
    this.rt = module.newRuntime();
    this.rt.setMemoryLimit(this.memoryLimitBytes);
    this.rt.setMaxStackSize(Math.min(options.maxStackBytes ?? DEFAULT_STACK, DEFAULT_STACK));
    this.vm = this.rt.newContext();
    this.marshal = new Marshal(this.rt, this.vm, this.memoryLimitBytes);
    this.budgetClocks = options.budgetClocks;
    this.watched = new WatchedPromises(this.vm, (where, errorHandle) => this.report(where, errorHandle));
    this.agentStop = new AgentStop({
      vm: this.vm,
      stopTimeoutMs: this.stopTimeoutMs,
      disposed: () => this.disposed,
      slice: (fn) => this.slice(fn),
      pump: () => this.pump(),
      report: (where, errorHandle) => this.report(where, errorHandle),
      log: (level, message) => this.log(level, message),
    });
    // Not while stopping: the planned stop is the agent's bounded chance to say goodbye, whatever its heap.
    this.memoryLimit = new MemoryLimit(
      () => this.heapUsage(),
      this.memoryLimitBytes,
      this.memoryCheckIntervalMs,
      () => !(this.disposed || this.exitReason || this.stopPromise),
      (message) => this.overMemory(message),
      liveBlocksReader(this.rt, this.memoryLimitBytes),
    );
  }

  get alive(): boolean {
    return !this.disposed;
  }

  get stats(): RunnerStats {
    return {
      errors: this.errorCount,
      lastError: this.lastError,
      timers: this.timers.size,
      pendingHostCalls: this.deferreds.size,
      memoryChecks: this.memoryLimit.checks,
      memoryCheckMs: this.memoryLimit.checkMs,
    };
  }

  /** Reads a bundle file and runs it (see start). */
  startFile(path: string): RunResult {
    return this.start(readFileSync(path, 'utf8'), path.split('/').pop() ?? 'bundle.js');
  }

  /** Installs `__vigilHost`, evaluates the bundle as a global script, and runs the jobs it queued. */
  start(code: string, filename = 'agent.js'): RunResult {
    if (this.disposed) throw new Error('[host-sim] [quickjs] the runtime is stopped');
    this.bundleSha256 = createHash('sha256').update(code).digest('hex');
    if (!this.installed) {
      installHost(this.bridge());
      this.installed = true;
    }
    const result = this.slice(() => this.vm.evalCode(code, filename, { type: 'global' }));
    let out: RunResult = { ok: true };
    if (result.error) {
      out = { ok: false, error: this.report('eval', result.error) };
    } else {
      this.watched.watch(result.value, 'eval');
      result.value.dispose();
    }
    // A bundle that is over its limit as soon as it is loaded is stopped before its first timer.
    this.memoryLimit.check(true);
    this.pump();
    return out;
  }

  /** Evaluates an expression and returns it as JSON data (tests, the CLI's inspect). */
  evalJson<T = unknown>(expression: string): T {
    if (this.disposed) throw new Error('[host-sim] [quickjs] the runtime is stopped');
    const result = this.slice(() => this.vm.evalCode(`(${expression})`, 'inspect.js', { type: 'global' }));
    if (result.error) {
      const e = this.marshal.dumpSafely(result.error) as { message?: string } | undefined;
      throw new Error(`[host-sim] [quickjs] ${expression}: ${e && e.message ? e.message : String(e)}`);
    }
    return this.marshal.dumpSafely(result.value) as T;
  }

  /** The value of a global, as JSON data; undefined when it is not set. */
  getGlobalJson<T = unknown>(name: string): T | undefined {
    if (this.disposed) throw new Error('[host-sim] [quickjs] the runtime is stopped');
    const h = this.vm.getProp(this.vm.global, name);
    return this.marshal.dumpSafely(h) as T | undefined;
  }

  /** Heap use of this runtime, for Host.memory(): read from the runtime's text dump (see readHeapUsage). */
  memory(): RuntimeMemory {
    return { usedBytes: this.heapUsage().usedBytes, limitBytes: this.memoryLimitBytes };
  }

  /** memory_used_size and memory_used_count, from the same text dump as memory(). */
  heapUsage(): HeapUsage {
    if (this.disposed) return { usedBytes: 0, blocks: 0 };
    return readHeapUsage(this.rt);
  }

  /** The bytes the memory limit is held against (quickjs/memory-limit.ts, countedHeapBytes). */
  heapBytes(usage: HeapUsage = this.heapUsage()): number {
    return countedHeapBytes(usage);
  }

  /** Runs pending jobs under a CPU deadline; called after every host event. */
  pump(): void {
    if (this.disposed || this.pumping) return;
    this.pumping = true;
    try {
      // The yield counts wall time, the interrupt CPU time: other cameras wait for this one in wall time.
      const deadline = Date.now() + this.cpuBudgetMs;
      this.slice(() => {
        while (this.rt.hasPendingJob()) {
          if (Date.now() > deadline) {
            // A job storm: yield to Node and come back, rather than starving every other camera.
            this.schedulePump();
            break;
          }
          const r = this.rt.executePendingJobs(64);
          if (r.error) this.report('job', r.error);
          else r.dispose();
        }
      });
      this.watched.check();
    } finally {
      this.pumping = false;
    }
  }

  /**
   * A planned stop: calls `__vigilAgent.stop()` when the bundle set one and waits for it (bounded by
   * stopTimeoutMs), then clears timers and disposes every handle, the context and the runtime.
   */
  stop(): Promise<void> {
    if (!this.stopPromise) this.stopPromise = this.stopOnce();
    return this.stopPromise;
  }

  /** An abrupt end, as a crash or a power cut: the agent gets no chance to say goodbye. */
  kill(): void {
    this.stopPromise = Promise.resolve();
    this.dispose();
  }

  private async stopOnce(): Promise<void> {
    if (this.disposed) return;
    try {
      await this.agentStop.call();
    } catch (err) {
      this.log('warn', `[host-sim] [quickjs] agent stop failed: ${(err as Error).message}`);
    }
    this.dispose();
  }

  private dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.memoryLimit.cancel();
    for (const [id, callback] of this.timers) {
      this.host.clock.clearTimer(id);
      callback.dispose();
    }
    this.timers.clear();
    for (const d of this.deferreds) d.dispose();
    this.deferreds.clear();
    this.watched.dispose();
    this.agentStop.dispose();
    this.marshal.dispose();
    this.vm.dispose();
    if (!freeRuntime(this.rt)) {
      this.log('warn', '[host-sim] [quickjs] the engine left an object behind when this runtime was freed (QuickJS 2025-09-13, quickjs-emscripten#269); its remains stay in the wasm memory');
    }
  }

  // ---- slices and errors ------------------------------------------------------------------------------

  private slice<T>(fn: () => T): T {
    this.rt.setInterruptHandler(cpuBudgetInterrupt(this.cpuBudgetMs, this.budgetClocks));
    let out: T;
    try {
      out = fn();
    } finally {
      this.rt.removeInterruptHandler();
    }
    this.memoryLimit.check(false);
    return out;
  }

  private overMemory(message: string): void {
    const error: EngineError = { where: 'memory', name: 'InternalError', message };
    this.errorCount++;
    this.lastError = error;
    this.log('error', `[host-sim] [quickjs] memory: ${error.message}; the engine stops the agent`);
    this.setExitReason('out of memory');
  }

  private setExitReason(reason: string): void {
    if (this.exitReason) return;
    this.exitReason = reason;
    this.exitAt = Date.now();
    try {
      this.onLimit?.(reason);
    } catch (err) {
      this.log('error', `[host-sim] [quickjs] the onLimit callback failed: ${(err as Error).message}`);
    }
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Consumes an error handle from the engine: counts it, logs it, remembers why the engine stopped. */
  private report(where: string, errorHandle: QuickJSHandle): EngineError {
    const raw = this.marshal.dumpSafely(errorHandle) as { name?: unknown; message?: unknown; stack?: unknown } | unknown;
    const obj = raw && typeof raw === 'object' ? (raw as { name?: unknown; message?: unknown; stack?: unknown }) : null;
    const error: EngineError = {
      where,
      name: obj && typeof obj.name === 'string' ? obj.name : 'Error',
      message: obj && typeof obj.message === 'string' ? obj.message : JSON.stringify(raw),
      stack: obj && typeof obj.stack === 'string' ? obj.stack : undefined,
    };
    this.errorCount++;
    this.lastError = error;
    this.log('error', `[host-sim] [quickjs] ${where}: ${error.name}: ${error.message}`);
    if (/interrupted/.test(error.message)) this.setExitReason('interrupted (CPU budget)');
    else if (/out of memory/.test(error.message)) this.setExitReason('out of memory');
    else if (/stack overflow|call stack/i.test(error.message)) this.setExitReason('stack overflow');
    return error;
  }

  // ---- the host's side ------------------------------------------------------------------------------

  /** What installHost needs of this runner. */
  private bridge(): HostBridge {
    return {
      vm: this.vm,
      host: this.host,
      marshal: this.marshal,
      deferreds: this.deferreds,
      timers: this.timers,
      bundleSha256: this.bundleSha256,
      disposed: () => this.disposed,
      slice: (fn) => this.slice(fn),
      pump: () => this.pump(),
      fireTimer: (id) => this.fireTimer(id),
      settleFailed: (message) => {
        this.errorCount++;
        this.log('error', `[host-sim] [quickjs] ${message}`);
      },
    };
  }

  private fireTimer(id: number): void {
    const callback = this.timers.get(id);
    if (!callback || this.disposed) return;
    this.timers.delete(id);
    try {
      const r = this.slice(() => this.vm.callFunction(callback, this.vm.undefined));
      if (r.error) this.report('timer', r.error);
      else {
        this.watched.watch(r.value, 'timer');
        r.value.dispose();
      }
    } finally {
      callback.dispose();
    }
    this.pump();
  }
}
