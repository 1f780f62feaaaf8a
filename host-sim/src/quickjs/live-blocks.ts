/**
 * The runtime's live allocation count (JSMallocState.malloc_count), read straight from the wasm memory: a
 * load of one word, where the heap dump (memory-limit.ts, readHeapUsage) walks the whole heap and formats a
 * text. The memory limit uses it to decide when the dump is worth making.
 *
 * The JSRuntime starts with its malloc functions and then its JSMallocState {malloc_count, malloc_size,
 * malloc_limit, opaque}; rather than trust one struct layout, the word holding malloc_limit is found by
 * setting two distinct limits and looking for the word that follows them, and malloc_count is the word two
 * before it. When the layout is not found (another build), the reader is null and the limit falls back to
 * the dump alone.
 */
import type { QuickJSRuntime } from 'quickjs-emscripten-core';

/** What quickjs-emscripten keeps private but every runtime has: its emscripten module and its JSRuntime*. */
interface RuntimeInternals {
  module?: { HEAPU8?: Uint8Array };
  rt?: { value?: number };
}

/** How many words of the JSRuntime are searched for malloc_limit. */
const SEARCH_WORDS = 32;

/**
 * A reader of the runtime's live allocation count, or null when this build's layout is not recognised.
 * Leaves the runtime's memory limit at `limitBytes` (as QuickJSRunner sets it).
 */
export function liveBlocksReader(rt: QuickJSRuntime, limitBytes: number): (() => number) | null {
  const internals = rt as unknown as RuntimeInternals;
  const module = internals.module;
  const base = internals.rt?.value;
  if (!module?.HEAPU8 || typeof base !== 'number' || base % 4 !== 0) return null;
  let words = new Uint32Array(module.HEAPU8.buffer);
  const wordsNow = (): Uint32Array => {
    // The wasm memory grows (a new ArrayBuffer): a view on the old one reads zeros.
    const heap = module.HEAPU8 as Uint8Array;
    if (words.buffer !== heap.buffer) words = new Uint32Array(heap.buffer);
    return words;
  };
  const at = base >>> 2;
  const probes = [0x7a5e_1d09, 0x7a5e_1d11];
  let found = -1;
  try {
    for (const probe of probes) {
      rt.setMemoryLimit(probe);
      const w = wordsNow();
      const hits: number[] = [];
      for (let i = 2; i < SEARCH_WORDS; i++) if (w[at + i] === probe) hits.push(i);
      if (hits.length !== 1 || (found !== -1 && hits[0] !== found)) {
        found = -1;
        break;
      }
      found = hits[0];
    }
  } finally {
    rt.setMemoryLimit(limitBytes);
  }
  if (found === -1) return null;
  const countAt = at + found - 2;
  // A live runtime has allocated itself, its atoms and shapes: a zero count means this is not malloc_count.
  if (wordsNow()[countAt] === 0) return null;
  return () => wordsNow()[countAt];
}
