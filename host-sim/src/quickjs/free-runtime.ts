/**
 * freeRuntime: rt.dispose() that survives QuickJS's own leak. QuickJS 2025-09-13, as quickjs-emscripten 0.32.0
 * (the newest) ships it, can leave an object in the GC list after a collection that ran inside a promise job,
 * with every handle disposed; JS_FreeRuntime then fails `assert(list_empty(&rt->gc_obj_list))` and the wasm
 * build aborts (quickjs-emscripten#269 has a four-line reproduction with no host functions at all). The agent
 * does all of its work in jobs, so a simulated camera that has run long enough to collect garbage can hit it
 * when it stops: measured here, 1 to 2 of 30 cameras stopped after 40 s at a report a second.
 *
 * On the sync build the abort is a catchable WebAssembly.RuntimeError thrown after JS_FreeRuntime has freed
 * the jobs, the contexts and nearly every object, and the module stays usable (other runtimes in it run and
 * stop normally): what is left of that one runtime stays allocated in the wasm memory. That exact abort is
 * contained here and counted; any other error is the caller's.
 */
import type { QuickJSRuntime } from 'quickjs-emscripten-core';

const LEFT_BEHIND = 'list_empty(&rt->gc_obj_list)';
let contained = 0;

/** How many runtimes in this thread were left half-freed by the engine's own leak (see above). */
export function runtimesLeftBehind(): number {
  return contained;
}

/** Disposes `rt`; false when the engine left an object behind (contained, counted), true when it is freed. */
export function freeRuntime(rt: QuickJSRuntime): boolean {
  try {
    rt.dispose();
    return true;
  } catch (err) {
    // A WebAssembly.RuntimeError (the lib this project compiles against does not declare WebAssembly).
    if (!(err instanceof Error) || err.name !== 'RuntimeError' || !err.message.includes(LEFT_BEHIND)) throw err;
    contained++;
    return false;
  }
}
