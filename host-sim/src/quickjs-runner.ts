/**
 * Runs one bundle (dist/agent.js or dist/host-contract.js) in a QuickJS-wasm runtime and installs a Host
 * as the global `__vigilHost`. Owns every QuickJS handle it creates: timers keep a dup()ed callback,
 * host promises keep their deferred, and stop() disposes all of them before the runtime (a leaked handle
 * aborts dispose in the debug build). See /work/shared/reference/quickjs.md §1.
 *
 * Each job slice (eval, one timer callback, one job pump) runs under a CPU deadline; the runtime has a
 * memory limit and a stack limit (≤ 256 KB, or deep recursion kills the whole wasm module).
 *
 * The memory limit means bytes, as on the device. The wasm build has no malloc_usable_size, so QuickJS's own
 * accounting (JS_SetMemoryLimit) charges 8 bytes per live allocation plus only the size of the one being made
 * (js_def_malloc in quickjs.c): it catches one huge allocation but lets many small ones grow to ~8× the limit.
 * So after a slice the runner also measures the heap in bytes (checkMemory) and, over the limit, stops the
 * agent as the engine would: exitReason 'out of memory', which the supervisor acts on.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  newQuickJSWASMModuleFromVariant,
  shouldInterruptAfterDeadline,
  type QuickJSContext,
  type QuickJSDeferredPromise,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from 'quickjs-emscripten-core';
import releaseSyncVariant from '@jitl/quickjs-wasmfile-release-sync';
import debugSyncVariant from '@jitl/quickjs-wasmfile-debug-sync';
import type { Host, HostErrorCode, LogLevel, RuntimeMemory } from '../../agent/src/host';

export type QuickJSVariantName = 'release' | 'debug';

/** What the runner needs of a module: QuickJSWASMModule or the TestQuickJSWASMModule wrapper. */
export interface QuickJSModuleLike {
  newRuntime: QuickJSWASMModule['newRuntime'];
}

const modules = new Map<QuickJSVariantName, Promise<QuickJSWASMModule>>();

/** One wasm module per variant, shared by every runtime in the process (fleet mode: many cameras). */
export function loadQuickJSModule(variant: QuickJSVariantName = 'release'): Promise<QuickJSWASMModule> {
  let m = modules.get(variant);
  if (!m) {
    m = newQuickJSWASMModuleFromVariant(variant === 'debug' ? debugSyncVariant : releaseSyncVariant);
    modules.set(variant, m);
  }
  return m;
}

/** A fresh, unshared module: for tests that poison or leak-check a module on purpose. */
export function newQuickJSModule(variant: QuickJSVariantName = 'release'): Promise<QuickJSWASMModule> {
  return newQuickJSWASMModuleFromVariant(variant === 'debug' ? debugSyncVariant : releaseSyncVariant);
}

export interface QuickJSRunnerOptions {
  host: Host;
  /** A module to create the runtime in; default: the shared module of `variant`. */
  module?: QuickJSModuleLike;
  variant?: QuickJSVariantName;
  /** JS heap limit in bytes, as the native host's --memory-limit; default 16 MB. */
  memoryLimitBytes?: number;
  /**
   * The heap is measured in bytes after a slice at most this often, ms (0: after every slice); default 100.
   * One measurement walks the whole heap (~50–250 µs for the agent), and a report cycle runs dozens of slices.
   */
  memoryCheckIntervalMs?: number;
  /** Called once, when the engine stops the agent at a limit (exitReason set): the supervisor acts at once. */
  onLimit?: (reason: string) => void;
  /** Default 256 KB, the most quickjs-emscripten tolerates under Node's default stack. */
  maxStackBytes?: number;
  /** CPU budget of one job slice; default 500 ms. */
  cpuBudgetMs?: number;
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

/** What the runtime's memory dump says: memory_used_size and memory_used_count of JS_ComputeMemoryUsage. */
export interface HeapUsage {
  usedBytes: number;
  blocks: number;
}

/** QuickJS's MALLOC_OVERHEAD on Linux: what the device's allocator accounting adds per allocation. */
export const MALLOC_OVERHEAD_BYTES = 8;

const DEFAULT_MEMORY_LIMIT = 16 << 20;
const DEFAULT_STACK = 256 * 1024;
const DEFAULT_CPU_BUDGET_MS = 500;
const DEFAULT_STOP_TIMEOUT_MS = 3000;
const DEFAULT_MEMORY_CHECK_INTERVAL_MS = 100;

function hostError(code: HostErrorCode, message: string): Error & { code: HostErrorCode } {
  const err = new Error(`${code}: ${message}`) as Error & { code: HostErrorCode };
  err.code = code;
  return err;
}

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
  private readonly watched: Array<{ handle: QuickJSHandle; where: string }> = [];
  private toArrayBufferFn: QuickJSHandle | null = null;
  /** The promise `__vigilAgent.stop()` returned, while stop() waits for it (dispose() frees it on a kill). */
  private stopCall: QuickJSHandle | null = null;
  private installed = false;
  private pumping = false;
  private pumpScheduled = false;
  private disposed = false;
  private stopPromise: Promise<void> | null = null;
  private errorCount = 0;
  private lastError: EngineError | null = null;
  private readonly onLimit: ((reason: string) => void) | undefined;
  private lastMemoryCheckAt = -Infinity;
  /** A check deferred by the throttle, so a heap that grew in a burst is measured even if the agent then idles. */
  private trailingCheck: NodeJS.Timeout | null = null;
  private memoryChecks = 0;
  private memoryCheckMs = 0;

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
      memoryChecks: this.memoryChecks,
      memoryCheckMs: this.memoryCheckMs,
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
      this.installHost();
      this.installed = true;
    }
    const result = this.slice(() => this.vm.evalCode(code, filename, { type: 'global' }));
    let out: RunResult = { ok: true };
    if (result.error) {
      out = { ok: false, error: this.report('eval', result.error) };
    } else {
      this.watch(result.value, 'eval');
      result.value.dispose();
    }
    // A bundle that is over its limit as soon as it is loaded is stopped before its first timer.
    this.checkMemory(true);
    this.pump();
    return out;
  }

  /** Evaluates an expression and returns it as JSON data (tests, the CLI's inspect). */
  evalJson<T = unknown>(expression: string): T {
    if (this.disposed) throw new Error('[host-sim] [quickjs] the runtime is stopped');
    const result = this.slice(() => this.vm.evalCode(`(${expression})`, 'inspect.js', { type: 'global' }));
    if (result.error) {
      const e = this.dumpSafely(result.error) as { message?: string } | undefined;
      throw new Error(`[host-sim] [quickjs] ${expression}: ${e && e.message ? e.message : String(e)}`);
    }
    return this.dumpSafely(result.value) as T;
  }

  /** The value of a global, as JSON data; undefined when it is not set. */
  getGlobalJson<T = unknown>(name: string): T | undefined {
    if (this.disposed) throw new Error('[host-sim] [quickjs] the runtime is stopped');
    const h = this.vm.getProp(this.vm.global, name);
    return this.dumpSafely(h) as T | undefined;
  }

  /**
   * Heap use of this runtime, for Host.memory(). Read from the runtime's text dump, which creates no
   * JS value: `rt.computeMemoryUsage()` would lazily create a second ("system") context in the runtime,
   * and creating it from inside a host call while the agent's jobs run left the runtime with an object
   * JS_FreeRuntime could not free (the `list_empty(&rt->gc_obj_list)` abort when many cameras stop).
   */
  memory(): RuntimeMemory {
    return { usedBytes: this.heapUsage().usedBytes, limitBytes: this.memoryLimitBytes };
  }

  /** memory_used_size and memory_used_count, from the same text dump as memory(). */
  heapUsage(): HeapUsage {
    if (this.disposed) return { usedBytes: 0, blocks: 0 };
    const m = /^memory used\s+(\d+)\s+(\d+)/m.exec(this.rt.dumpMemoryUsage());
    return m ? { usedBytes: Number(m[2]), blocks: Number(m[1]) } : { usedBytes: 0, blocks: 0 };
  }

  /**
   * The bytes the memory limit is held against: memory_used_size plus MALLOC_OVERHEAD per block, i.e. the
   * device's malloc_size less the allocator's slack. It includes garbage not yet collected, as the device's
   * count does; but the wasm build's GC threshold (256 KB) is counted in its 8-bytes-per-block units too, so
   * its first GC comes late. Measured (dist/agent.js, active-12/tampered/exposed, a report a second, 480 s):
   * memory_used_size 343 KB after loading, rising ~2 KB a cycle to a 0.93 MB peak (~1.1 MB counted here) at
   * the first GC after ~290 cycles, then 350–405 KB (median 389 KB). A device collects from 256 KB on, so
   * limits under ~1.5 MB can stop the agent here for garbage a device would have freed.
   */
  heapBytes(usage: HeapUsage = this.heapUsage()): number {
    return usage.usedBytes + MALLOC_OVERHEAD_BYTES * usage.blocks;
  }

  /** Runs pending jobs under a CPU deadline; called after every host event. */
  pump(): void {
    if (this.disposed || this.pumping) return;
    this.pumping = true;
    try {
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
      }, deadline);
      this.checkWatched();
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
      await this.callAgentStop();
    } catch (err) {
      this.log('warn', `[host-sim] [quickjs] agent stop failed: ${(err as Error).message}`);
    }
    this.dispose();
  }

  private async callAgentStop(): Promise<void> {
    const vm = this.vm;
    const agent = vm.getProp(vm.global, '__vigilAgent');
    let promise: QuickJSHandle;
    try {
      if (vm.typeof(agent) !== 'object') return;
      const stopFn = vm.getProp(agent, 'stop');
      try {
        if (vm.typeof(stopFn) !== 'function') return;
        const r = this.slice(() => vm.callFunction(stopFn, agent));
        if (r.error) {
          this.report('stop', r.error);
          return;
        }
        promise = r.value;
        this.stopCall = promise;
      } finally {
        stopFn.dispose();
      }
    } finally {
      agent.dispose();
    }
    this.pump();
    const until = Date.now() + this.stopTimeoutMs;
    try {
      for (;;) {
        // A kill() while we waited disposed the runtime and this handle with it.
        if (this.disposed) return;
        const state = vm.getPromiseState(promise);
        if (state.type === 'pending') {
          if (Date.now() > until) {
            this.log('warn', `[host-sim] [quickjs] __vigilAgent.stop() did not settle within ${this.stopTimeoutMs} ms`);
            return;
          }
          await new Promise((r) => setTimeout(r, 5));
          if (this.disposed) return;
          this.pump();
          continue;
        }
        if (state.type === 'rejected') this.report('stop', state.error);
        else if (!state.notAPromise) state.value.dispose();
        return;
      }
    } finally {
      if (this.stopCall === promise) {
        this.stopCall = null;
        if (promise.alive) promise.dispose();
      }
    }
  }

  private dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.trailingCheck) clearTimeout(this.trailingCheck);
    this.trailingCheck = null;
    for (const [id, callback] of this.timers) {
      this.host.clock.clearTimer(id);
      callback.dispose();
    }
    this.timers.clear();
    for (const d of this.deferreds) d.dispose();
    this.deferreds.clear();
    for (const w of this.watched) w.handle.dispose();
    this.watched.length = 0;
    if (this.stopCall) {
      if (this.stopCall.alive) this.stopCall.dispose();
      this.stopCall = null;
    }
    if (this.toArrayBufferFn) this.toArrayBufferFn.dispose();
    this.toArrayBufferFn = null;
    this.vm.dispose();
    this.rt.dispose();
  }

  // ---- slices, errors, watched promises ---------------------------------------------------------------

  private slice<T>(fn: () => T, deadline = Date.now() + this.cpuBudgetMs): T {
    this.rt.setInterruptHandler(shouldInterruptAfterDeadline(deadline));
    let out: T;
    try {
      out = fn();
    } finally {
      this.rt.removeInterruptHandler();
    }
    this.checkMemory(false);
    return out;
  }

  /**
   * Holds the heap, in bytes, against the memory limit (see heapBytes). Throttled to one measurement per
   * memoryCheckIntervalMs unless forced, with a trailing one when slices came in between: so a heap over the
   * limit is seen within that interval. Until then its growth is bounded by the CPU budget of the slices in
   * between and, for one big allocation, by the engine's own limit. Not while stopping: the
   * planned stop is the agent's bounded chance to say goodbye, whatever its heap.
   */
  private checkMemory(force: boolean): void {
    if (this.disposed || this.exitReason || this.stopPromise) return;
    const t0 = performance.now();
    const wait = this.lastMemoryCheckAt + this.memoryCheckIntervalMs - t0;
    if (!force && wait > 0) {
      if (!this.trailingCheck) {
        this.trailingCheck = setTimeout(() => {
          this.trailingCheck = null;
          this.checkMemory(false);
        }, Math.ceil(wait));
        this.trailingCheck.unref?.();
      }
      return;
    }
    this.lastMemoryCheckAt = t0;
    const usage = this.heapUsage();
    this.memoryChecks++;
    this.memoryCheckMs += performance.now() - t0;
    const bytes = this.heapBytes(usage);
    if (bytes <= this.memoryLimitBytes) return;
    const error: EngineError = {
      where: 'memory',
      name: 'InternalError',
      message:
        `out of memory: the heap holds ${bytes} bytes (${usage.usedBytes} used + ${MALLOC_OVERHEAD_BYTES} per block ` +
        `for ${usage.blocks} blocks), over the limit of ${this.memoryLimitBytes}`,
    };
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

  /** Dumps a value; lifts the memory limit meanwhile, since the engine may be at its limit right now. */
  private dumpSafely(h: QuickJSHandle): unknown {
    this.rt.setMemoryLimit(-1);
    try {
      return this.vm.dump(h);
    } catch (err) {
      return { name: 'Error', message: `(could not read the value: ${(err as Error).message})` };
    } finally {
      if (h.alive) h.dispose();
      this.rt.setMemoryLimit(this.memoryLimitBytes);
    }
  }

  /** Consumes an error handle from the engine: counts it, logs it, remembers why the engine stopped. */
  private report(where: string, errorHandle: QuickJSHandle): EngineError {
    const raw = this.dumpSafely(errorHandle) as { name?: unknown; message?: unknown; stack?: unknown } | unknown;
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

  /**
   * QuickJS-wasm reports no unhandled rejections (quickjs.md §1.2), so promises that the engine hands
   * back to us (eval result, timer callbacks, stop) are watched and a rejection is reported.
   */
  private watch(h: QuickJSHandle, where: string): void {
    const state = this.vm.getPromiseState(h);
    if (state.type === 'fulfilled') {
      if (!state.notAPromise) state.value.dispose();
    } else if (state.type === 'rejected') {
      this.report(`${where} (async)`, state.error);
    } else {
      this.watched.push({ handle: h.dup(), where });
    }
  }

  private checkWatched(): void {
    for (let i = this.watched.length - 1; i >= 0; i--) {
      const w = this.watched[i];
      const state = this.vm.getPromiseState(w.handle);
      if (state.type === 'pending') continue;
      if (state.type === 'rejected') this.report(`${w.where} (async)`, state.error);
      else if (!state.notAPromise) state.value.dispose();
      w.handle.dispose();
      this.watched.splice(i, 1);
    }
  }

  // ---- marshalling ------------------------------------------------------------------------------------

  private toHandle(value: unknown): QuickJSHandle {
    const vm = this.vm;
    if (value === undefined) return vm.undefined;
    if (value === null) return vm.null;
    if (typeof value === 'boolean') return value ? vm.true : vm.false;
    if (typeof value === 'number') return vm.newNumber(value);
    if (typeof value === 'string') return vm.newString(value);
    if (value instanceof ArrayBuffer) return vm.newArrayBuffer(value);
    if (ArrayBuffer.isView(value)) {
      const view = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      return vm.newArrayBuffer(view.slice().buffer);
    }
    if (Array.isArray(value)) {
      const arr = vm.newArray();
      try {
        value.forEach((item, i) => this.toHandle(item).consume((h) => vm.setProp(arr, i, h)));
      } catch (err) {
        arr.dispose();
        throw err;
      }
      return arr;
    }
    if (typeof value === 'object') {
      const obj = vm.newObject();
      try {
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          if (v === undefined || typeof v === 'function') continue;
          this.toHandle(v).consume((h) => vm.setProp(obj, k, h));
        }
      } catch (err) {
        obj.dispose();
        throw err;
      }
      return obj;
    }
    return vm.newString(String(value));
  }

  /** An Error inside the engine with `.code` and `.message`, as the Host contract promises. */
  private errorHandle(err: unknown): QuickJSHandle {
    const code = err && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'EIO';
    const message = err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string' ? (err as { message: string }).message : String(err);
    const h = this.vm.newError({ name: 'Error', message });
    try {
      this.vm.newString(code).consume((c) => this.vm.setProp(h, 'code', c));
    } catch (e) {
      h.dispose();
      throw e;
    }
    return h;
  }

  private str(h: QuickJSHandle | undefined, what: string): string {
    if (!h || this.vm.typeof(h) !== 'string') throw hostError('EINVAL', `${what} must be a string`);
    return this.vm.getString(h);
  }

  private num(h: QuickJSHandle | undefined, what: string): number {
    if (!h || this.vm.typeof(h) !== 'number') throw hostError('EINVAL', `${what} must be a number`);
    return this.vm.getNumber(h);
  }

  private bytes(h: QuickJSHandle | undefined, what: string): ArrayBuffer {
    if (!h || !this.toArrayBufferFn) throw hostError('EINVAL', `${what} must be an ArrayBuffer`);
    const r = this.vm.callFunction(this.toArrayBufferFn, this.vm.undefined, h);
    if (r.error) {
      r.error.dispose();
      throw hostError('EINVAL', `${what} must be an ArrayBuffer`);
    }
    return r.value.consume((ab) => {
      if (this.vm.typeof(ab) !== 'object') throw hostError('EINVAL', `${what} must be an ArrayBuffer`);
      const view = this.vm.getArrayBuffer(ab);
      try {
        return view.value.slice().buffer as ArrayBuffer;
      } finally {
        view.dispose();
      }
    });
  }

  private json(h: QuickJSHandle | undefined, what: string): unknown {
    if (!h || this.vm.typeof(h) !== 'object') throw hostError('EINVAL', `${what} must be an object`);
    return this.vm.dump(h);
  }

  private syncFn(target: QuickJSHandle, name: string, impl: (args: QuickJSHandle[]) => unknown): void {
    const fn = this.vm.newFunction(name, (...args: QuickJSHandle[]) => {
      try {
        return this.toHandle(impl(args));
      } catch (err) {
        return { error: this.errorHandle(err) };
      }
    });
    fn.consume((f) => this.vm.setProp(target, name, f));
  }

  /** impl reads its arguments synchronously (they die when the call returns) and returns a promise. */
  private asyncFn(target: QuickJSHandle, name: string, impl: (args: QuickJSHandle[]) => Promise<unknown>): void {
    const fn = this.vm.newFunction(name, (...args: QuickJSHandle[]) => {
      const deferred = this.vm.newPromise();
      this.deferreds.add(deferred);
      let promise: Promise<unknown>;
      try {
        promise = impl(args);
      } catch (err) {
        promise = Promise.reject(err);
      }
      promise.then(
        (value) => this.settle(deferred, true, value),
        (err) => this.settle(deferred, false, err),
      );
      return deferred.handle;
    });
    fn.consume((f) => this.vm.setProp(target, name, f));
  }

  private settle(deferred: QuickJSDeferredPromise, ok: boolean, value: unknown): void {
    if (this.disposed || !this.deferreds.has(deferred)) return;
    this.deferreds.delete(deferred);
    try {
      if (ok) {
        let h: QuickJSHandle;
        try {
          h = this.toHandle(value);
        } catch (err) {
          h = this.errorHandle(hostError('EIO', `could not pass the result into the engine: ${(err as Error).message}`));
          ok = false;
        }
        h.consume((v) => (ok ? deferred.resolve(v) : deferred.reject(v)));
      } else {
        this.errorHandle(value).consume((e) => deferred.reject(e));
      }
    } catch (err) {
      this.errorCount++;
      this.log('error', `[host-sim] [quickjs] could not settle a host promise: ${(err as Error).message}`);
      deferred.dispose();
    }
    this.pump();
  }

  private fireTimer(id: number): void {
    const callback = this.timers.get(id);
    if (!callback || this.disposed) return;
    this.timers.delete(id);
    try {
      const r = this.slice(() => this.vm.callFunction(callback, this.vm.undefined));
      if (r.error) this.report('timer', r.error);
      else {
        this.watch(r.value, 'timer');
        r.value.dispose();
      }
    } finally {
      callback.dispose();
    }
    this.pump();
  }

  private installHost(): void {
    const vm = this.vm;
    const host = this.host;
    const toAb = this.slice(() =>
      vm.evalCode(
        '(function (v) { if (v instanceof ArrayBuffer) return v; if (ArrayBuffer.isView(v)) return v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength); return undefined; })',
        'host-sim-helpers.js',
        { type: 'global' },
      ),
    );
    this.toArrayBufferFn = vm.unwrapResult(toAb);

    const root = vm.newObject();
    vm.newNumber(host.apiVersion).consume((h) => vm.setProp(root, 'apiVersion', h));

    const fs = vm.newObject();
    this.asyncFn(fs, 'readFile', ([p, max]) => host.fs.readFile(this.str(p, 'path'), this.num(max, 'maxBytes')));
    this.asyncFn(fs, 'list', ([p]) => host.fs.list(this.str(p, 'path')));
    this.asyncFn(fs, 'stat', ([p]) => host.fs.stat(this.str(p, 'path')));
    this.asyncFn(fs, 'writeFileAtomic', ([p, d]) => host.fs.writeFileAtomic(this.str(p, 'path'), this.bytes(d, 'data')));
    this.asyncFn(fs, 'remove', ([p]) => host.fs.remove(this.str(p, 'path')));
    this.asyncFn(fs, 'mkdir', ([p]) => host.fs.mkdir(this.str(p, 'path')));
    fs.consume((h) => vm.setProp(root, 'fs', h));

    const net = vm.newObject();
    this.asyncFn(net, 'connect', ([o]) => host.net.connect(this.json(o, 'options') as Parameters<Host['net']['connect']>[0]));
    this.asyncFn(net, 'read', ([s]) => host.net.read(this.num(s, 'socket')));
    this.asyncFn(net, 'write', ([s, d]) => host.net.write(this.num(s, 'socket'), this.bytes(d, 'data')));
    this.syncFn(net, 'close', ([s]) => host.net.close(this.num(s, 'socket')));
    net.consume((h) => vm.setProp(root, 'net', h));

    const crypto = vm.newObject();
    this.syncFn(crypto, 'sha256', ([d]) => host.crypto.sha256(this.bytes(d, 'data')));
    this.asyncFn(crypto, 'sha256File', ([p, r]) => host.crypto.sha256File(this.str(p, 'path'), r ? this.num(r, 'maxBytesPerSec') : 0));
    this.syncFn(crypto, 'randomBytes', ([n]) => host.crypto.randomBytes(this.num(n, 'length')));
    crypto.consume((h) => vm.setProp(root, 'crypto', h));

    const clock = vm.newObject();
    this.syncFn(clock, 'now', () => host.clock.now());
    this.syncFn(clock, 'monotonic', () => host.clock.monotonic());
    this.syncFn(clock, 'setTimer', ([d, cb]) => {
      const delay = this.num(d, 'delayMs');
      if (!cb || vm.typeof(cb) !== 'function') throw hostError('EINVAL', 'callback must be a function');
      const callback = cb.dup();
      let id = -1;
      try {
        id = host.clock.setTimer(delay, () => this.fireTimer(id));
      } catch (err) {
        callback.dispose();
        throw err;
      }
      this.timers.set(id, callback);
      return id;
    });
    this.syncFn(clock, 'clearTimer', ([t]) => {
      const id = this.num(t, 'timer');
      const callback = this.timers.get(id);
      if (callback) {
        this.timers.delete(id);
        callback.dispose();
      }
      host.clock.clearTimer(id);
    });
    clock.consume((h) => vm.setProp(root, 'clock', h));

    this.syncFn(root, 'log', ([l, m]) => {
      const level = this.str(l, 'level');
      const message = m && vm.typeof(m) === 'string' ? vm.getString(m) : String(m ? vm.dump(m) : '');
      host.log(level === 'debug' || level === 'info' || level === 'warn' || level === 'error' ? level : 'info', message);
    });
    this.syncFn(root, 'config', () => host.config());
    this.syncFn(root, 'memory', () => host.memory());
    if (typeof host.vapixCredentials === 'function') {
      const get = host.vapixCredentials.bind(host);
      this.asyncFn(root, 'vapixCredentials', () => get());
    }
    this.toHandle({ ...host.info, bundleSha256: host.info.bundleSha256 ?? this.bundleSha256 }).consume((h) => vm.setProp(root, 'info', h));

    root.consume((h) => vm.setProp(vm.global, '__vigilHost', h));
  }
}
