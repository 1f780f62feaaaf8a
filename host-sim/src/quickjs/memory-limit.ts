/**
 * The memory limit in bytes, as on the device. The wasm build has no malloc_usable_size, so QuickJS's own
 * accounting (JS_SetMemoryLimit) charges 8 bytes per live allocation plus only the size of the one being made
 * (js_def_malloc in quickjs.c): it catches one huge allocation but lets many small ones grow to ~8× the limit.
 * So after slices the runner also measures the heap in bytes (MemoryLimit.check) and, over the limit, stops
 * the agent as the engine would: exitReason 'out of memory', which the supervisor acts on. Measuring is
 * costly, so it is done when the live block count (a cheap read) or the time since the last one says so.
 */
import { performance } from 'node:perf_hooks';
import type { QuickJSRuntime } from 'quickjs-emscripten-core';

/** What the runtime's memory dump says: memory_used_size and memory_used_count of JS_ComputeMemoryUsage. */
export interface HeapUsage {
  usedBytes: number;
  blocks: number;
}

/** QuickJS's MALLOC_OVERHEAD on Linux: what the device's allocator accounting adds per allocation. */
export const MALLOC_OVERHEAD_BYTES = 8;

/**
 * memory_used_size and memory_used_count, from the runtime's text dump, which creates no JS value:
 * `rt.computeMemoryUsage()` would lazily create a second ("system") context in the runtime, and creating it
 * from inside a host call while the agent's jobs run left the runtime with an object JS_FreeRuntime could
 * not free (the `list_empty(&rt->gc_obj_list)` abort when many cameras stop).
 */
export function readHeapUsage(rt: QuickJSRuntime): HeapUsage {
  const m = /^memory used\s+(\d+)\s+(\d+)/m.exec(rt.dumpMemoryUsage());
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
export function countedHeapBytes(usage: HeapUsage): number {
  return usage.usedBytes + MALLOC_OVERHEAD_BYTES * usage.blocks;
}

/**
 * The growth in live blocks that makes a measurement due before its time: the headroom the last measurement
 * left, as blocks of this many bytes (a heap grown by many allocations is measured within a slice or so).
 */
export const ASSUMED_BLOCK_BYTES = 4096;
/** ...but never fewer than this many new blocks (a heap at its limit would otherwise be measured every slice). */
export const MIN_BLOCK_STEP = 64;

/**
 * Holds the heap, in bytes, against the limit, cheaply. Measuring (the heap dump: a walk of every object,
 * ~50–250 µs for the agent) is what costs; so after a slice only the live block count is read (one word of
 * wasm memory, live-blocks.ts), and the heap is measured when:
 *   - forced (after the bundle's eval), or intervalMs is 0;
 *   - the block count grew past what the last measurement's headroom allows (headroom / ASSUMED_BLOCK_BYTES,
 *     at least MIN_BLOCK_STEP blocks): a heap grown by many allocations is seen at the next slice;
 *   - intervalMs passed since the last measurement and a slice ran since (a trailing check if the agent then
 *     idles): a heap grown by a few large blocks (arrays, strings reallocated in place) is seen within it.
 * A single allocation past the limit is refused by the engine itself (JS_SetMemoryLimit counts its size).
 * Without a block reader (an unknown build) only the time rule and forced checks apply.
 */
export class MemoryLimit {
  /** Heap measurements made, and the wall time they took in total (ms). */
  checks = 0;
  checkMs = 0;
  private lastCheckAt = -Infinity;
  /** Past this many live blocks the next slice measures the heap. */
  private blocksDue = -Infinity;
  /** A check deferred by the throttle, so a heap that grew in a burst is measured even if the agent then idles. */
  private trailingCheck: NodeJS.Timeout | null = null;

  constructor(
    private readonly usage: () => HeapUsage,
    readonly limitBytes: number,
    private readonly intervalMs: number,
    /** False while no check is wanted (stopped, stopping, already over a limit). */
    private readonly active: () => boolean,
    /** Called with the engine's message when the heap is over the limit. */
    private readonly onOver: (message: string) => void,
    /** The live block count, cheap (live-blocks.ts); null: measure on time only. */
    private readonly liveBlocks: (() => number) | null = null,
  ) {}

  check(force: boolean): void {
    if (!this.active()) return;
    const t0 = performance.now();
    const wait = this.lastCheckAt + this.intervalMs - t0;
    if (!force && wait > 0 && !(this.liveBlocks && this.liveBlocks() > this.blocksDue)) {
      if (!this.trailingCheck) {
        this.trailingCheck = setTimeout(() => {
          this.trailingCheck = null;
          this.check(false);
        }, Math.ceil(wait));
        this.trailingCheck.unref?.();
      }
      return;
    }
    this.lastCheckAt = t0;
    const usage = this.usage();
    this.checks++;
    this.checkMs += performance.now() - t0;
    const bytes = countedHeapBytes(usage);
    if (this.liveBlocks) {
      const step = Math.max(MIN_BLOCK_STEP, Math.floor((this.limitBytes - bytes) / ASSUMED_BLOCK_BYTES));
      this.blocksDue = this.liveBlocks() + step;
    }
    if (bytes <= this.limitBytes) return;
    this.onOver(
      `out of memory: the heap holds ${bytes} bytes (${usage.usedBytes} used + ${MALLOC_OVERHEAD_BYTES} per block ` +
        `for ${usage.blocks} blocks), over the limit of ${this.limitBytes}`,
    );
  }

  /** Cancels a trailing check (the runtime is going away). */
  cancel(): void {
    if (this.trailingCheck) clearTimeout(this.trailingCheck);
    this.trailingCheck = null;
  }
}
