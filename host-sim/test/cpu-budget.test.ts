// The CPU budget of a job slice counts CPU time of the engine's thread, not wall time: driven here by
// hand-set clocks, and checked against this thread's real CPU clock.
import { describe, expect, it } from 'vitest';
import { cpuBudgetInterrupt, engineThreadClocks } from '../src/quickjs/cpu-budget';
import { blockThread } from './helpers';

/** Clocks a test sets by hand; counts the CPU readings. */
function manualClocks() {
  const c = {
    wall: 0,
    cpu: 0,
    cpuReads: 0,
    wallMs: () => c.wall,
    cpuMs: () => {
      c.cpuReads++;
      return c.cpu;
    },
    /** The thread runs for ms: both clocks advance. */
    run(ms: number) {
      c.wall += ms;
      c.cpu += ms;
    },
    /** The thread is preempted for ms: only wall time passes. */
    preempt(ms: number) {
      c.wall += ms;
    },
  };
  return c;
}

describe('the CPU budget of a slice', () => {
  it('does not interrupt a slice whose thread was preempted for far longer than the budget', () => {
    const c = manualClocks();
    const interrupt = cpuBudgetInterrupt(50, c);
    c.run(10);
    c.preempt(87_000);
    expect(interrupt()).toBe(false);
    c.run(30);
    expect(interrupt()).toBe(false);
  });

  it('interrupts a slice once it has spent the budget in CPU time', () => {
    const c = manualClocks();
    const interrupt = cpuBudgetInterrupt(50, c);
    c.run(49);
    expect(interrupt()).toBe(false);
    c.run(2);
    expect(interrupt()).toBe(true);
  });

  it('interrupts a slice that was preempted, then spun, when its CPU time reaches the budget', () => {
    const c = manualClocks();
    const interrupt = cpuBudgetInterrupt(50, c);
    c.run(20);
    c.preempt(500);
    expect(interrupt()).toBe(false);
    c.run(29);
    expect(interrupt()).toBe(false);
    c.run(1);
    expect(interrupt()).toBe(true);
  });

  it('reads the CPU clock at the start and then only once wall time has passed the budget', () => {
    const c = manualClocks();
    const interrupt = cpuBudgetInterrupt(50, c);
    expect(c.cpuReads).toBe(1);
    for (let i = 0; i < 50; i++) {
      c.run(0.9);
      interrupt();
    }
    expect(c.cpuReads).toBe(1);
    c.preempt(10);
    interrupt();
    expect(c.cpuReads).toBe(2);
  });

  it('after a preemption looks at the CPU clock again no sooner than the CPU time left could be spent', () => {
    const c = manualClocks();
    const interrupt = cpuBudgetInterrupt(50, c);
    c.run(10);
    c.preempt(100);
    expect(interrupt()).toBe(false);
    expect(c.cpuReads).toBe(2);
    // 40 ms of CPU left: wall time up to 40 ms on is not worth a reading.
    c.run(39);
    expect(interrupt()).toBe(false);
    expect(c.cpuReads).toBe(2);
    c.run(2);
    expect(interrupt()).toBe(true);
    expect(c.cpuReads).toBe(3);
  });
});

describe("the engine thread's CPU clock", () => {
  it('is per thread on Linux', () => {
    expect(['/proc/thread-self/schedstat', '/proc/thread-self/stat', 'process.cpuUsage']).toContain(engineThreadClocks.source);
    if (process.platform === 'linux') expect(engineThreadClocks.source).toMatch(/^\/proc\/thread-self\//);
  });

  it('advances while the thread computes', () => {
    const cpu0 = engineThreadClocks.cpuMs();
    const wall0 = engineThreadClocks.wallMs();
    let x = 0;
    // Until 30 ms of CPU are seen (however long that takes on a busy machine), bounded by 60 s of wall time.
    while (engineThreadClocks.cpuMs() - cpu0 < 30 && engineThreadClocks.wallMs() - wall0 < 60_000) for (let i = 0; i < 1e5; i++) x += i;
    expect(engineThreadClocks.cpuMs() - cpu0).toBeGreaterThanOrEqual(30);
    expect(x).toBeGreaterThan(0);
  });

  it('stands (nearly) still while the thread is blocked', () => {
    const cpu0 = engineThreadClocks.cpuMs();
    const wall0 = engineThreadClocks.wallMs();
    blockThread(300);
    expect(engineThreadClocks.wallMs() - wall0).toBeGreaterThanOrEqual(290);
    // A process-wide fallback would count other threads too; the per-thread clocks see almost nothing.
    if (engineThreadClocks.source !== 'process.cpuUsage') expect(engineThreadClocks.cpuMs() - cpu0).toBeLessThan(100);
  });
});
