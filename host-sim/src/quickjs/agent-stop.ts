/**
 * AgentStop: the planned stop's call into the bundle. Calls `__vigilAgent.stop()` when the bundle set one and
 * waits for its promise (bounded by stopTimeoutMs), pumping the jobs it queues; a kill() meanwhile ends the wait.
 */
import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten-core';
import type { LogLevel } from '../../../agent/src/host';

/** What AgentStop needs of the runner that owns the engine. */
export interface AgentStopBridge {
  readonly vm: QuickJSContext;
  readonly stopTimeoutMs: number;
  /** True once the runtime is disposed (a kill() while call() waits). */
  disposed(): boolean;
  /** Runs engine code under the slice's limits. */
  slice<T>(fn: () => T): T;
  pump(): void;
  /** Consumes an error handle from the engine: counted and logged as an engine error. */
  report(where: string, errorHandle: QuickJSHandle): void;
  log(level: LogLevel, message: string): void;
}

export class AgentStop {
  /** The promise `__vigilAgent.stop()` returned, while call() waits for it (dispose() frees it on a kill). */
  private stopCall: QuickJSHandle | null = null;

  constructor(private readonly b: AgentStopBridge) {}

  async call(): Promise<void> {
    const b = this.b;
    const vm = b.vm;
    const agent = vm.getProp(vm.global, '__vigilAgent');
    let promise: QuickJSHandle;
    try {
      if (vm.typeof(agent) !== 'object') return;
      const stopFn = vm.getProp(agent, 'stop');
      try {
        if (vm.typeof(stopFn) !== 'function') return;
        const r = b.slice(() => vm.callFunction(stopFn, agent));
        if (r.error) {
          b.report('stop', r.error);
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
    b.pump();
    const until = Date.now() + b.stopTimeoutMs;
    try {
      for (;;) {
        // A kill() while we waited disposed the runtime and this handle with it.
        if (b.disposed()) return;
        const state = vm.getPromiseState(promise);
        if (state.type === 'pending') {
          if (Date.now() > until) {
            b.log('warn', `[host-sim] [quickjs] __vigilAgent.stop() did not settle within ${b.stopTimeoutMs} ms`);
            return;
          }
          await new Promise((r) => setTimeout(r, 5));
          if (b.disposed()) return;
          b.pump();
          continue;
        }
        if (state.type === 'rejected') b.report('stop', state.error);
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

  /** Frees the stop call's promise when the runtime is disposed while call() waits for it. */
  dispose(): void {
    if (this.stopCall) {
      if (this.stopCall.alive) this.stopCall.dispose();
      this.stopCall = null;
    }
  }
}
