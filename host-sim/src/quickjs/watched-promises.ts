/**
 * WatchedPromises: QuickJS-wasm reports no unhandled rejections (quickjs.md §1.2), so promises that the engine
 * hands back to the runner (eval result, timer callbacks, stop) are watched here and a rejection is reported.
 */
import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten-core';

export class WatchedPromises {
  /** Promises still pending, each a dup()ed handle with where it came from. */
  private readonly pending: Array<{ handle: QuickJSHandle; where: string }> = [];

  constructor(
    private readonly vm: QuickJSContext,
    /** Consumes an error handle from the engine: counted and logged as an engine error. */
    private readonly report: (where: string, errorHandle: QuickJSHandle) => void,
  ) {}

  watch(h: QuickJSHandle, where: string): void {
    const state = this.vm.getPromiseState(h);
    if (state.type === 'fulfilled') {
      if (!state.notAPromise) state.value.dispose();
    } else if (state.type === 'rejected') {
      this.report(`${where} (async)`, state.error);
    } else {
      this.pending.push({ handle: h.dup(), where });
    }
  }

  /** After a job pump: reports the watched promises that settled rejected, and lets go of every settled one. */
  check(): void {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const w = this.pending[i];
      const state = this.vm.getPromiseState(w.handle);
      if (state.type === 'pending') continue;
      if (state.type === 'rejected') this.report(`${w.where} (async)`, state.error);
      else if (!state.notAPromise) state.value.dispose();
      w.handle.dispose();
      this.pending.splice(i, 1);
    }
  }

  /** Frees every handle still watched, before the runtime is disposed. */
  dispose(): void {
    for (const w of this.pending) w.handle.dispose();
    this.pending.length = 0;
  }
}
