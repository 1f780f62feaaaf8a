/**
 * host.clock for the simulator: Date.now plus the device's wall offset (simulated clock jumps),
 * performance.now, and timers by id on setTimeout.
 */
import { performance } from 'node:perf_hooks';
import type { HostClock } from '../../../agent/src/host';
import type { SimDevice } from './device';

export class SimClock {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private nextTimer = 1;

  constructor(
    private readonly device: SimDevice,
    /** True once the host is closed: a timer set then never fires. */
    private readonly closed: () => boolean,
  ) {}

  readonly clock: HostClock = {
    now: (): number => Date.now() + this.device.wallOffsetMs,
    monotonic: (): number => performance.now(),
    setTimer: (delayMs: number, callback: () => void): number => {
      const id = this.nextTimer++;
      if (this.closed()) return id;
      const t = setTimeout(
        () => {
          this.timers.delete(id);
          callback();
        },
        Math.max(0, Math.min(Number(delayMs) || 0, 0x7fffffff)),
      );
      this.timers.set(id, t);
      return id;
    },
    clearTimer: (id: number): void => {
      const t = this.timers.get(id);
      if (t !== undefined) {
        clearTimeout(t);
        this.timers.delete(id);
      }
    },
  };

  /** Timers not yet fired or cleared. */
  pending(): number {
    return this.timers.size;
  }

  /** Clears every timer (the host is closing). */
  clearAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
