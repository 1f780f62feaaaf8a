// The host contract, host.clock: wall and monotonic time, and timers that fire, or do not once cleared.
import type { Host } from '../src/host';
import { assert, within, type ContractCase } from './host-contract-support';

function sleep(host: Host, ms: number): Promise<void> {
  return new Promise((resolve) => {
    host.clock.setTimer(ms, resolve);
  });
}

export const CLOCK_CASES: ContractCase[] = [
  {
    name: 'clock.now is epoch milliseconds',
    async run(host) {
      const now = host.clock.now();
      assert.ok(now > Date.UTC(2020, 0, 1) && now < Date.UTC(2100, 0, 1), `now() = ${now}`);
    },
  },
  {
    name: 'clock.monotonic never decreases',
    async run(host) {
      let last = host.clock.monotonic();
      for (let i = 0; i < 2000; i++) {
        const t = host.clock.monotonic();
        assert.ok(t >= last, `monotonic went back from ${last} to ${t}`);
        last = t;
      }
      await sleep(host, 5);
      assert.ok(host.clock.monotonic() >= last, 'monotonic after a timer');
    },
  },
  {
    name: 'setTimer fires after its delay',
    async run(host) {
      const start = host.clock.monotonic();
      await within(host, 2000, 'timer', sleep(host, 30));
      const elapsed = host.clock.monotonic() - start;
      // Allow 2 ms for timer granularity between two clocks.
      assert.ok(elapsed >= 28, `fired after ${elapsed} ms`);
    },
  },
  {
    name: 'clearTimer prevents the callback from firing',
    async run(host) {
      let fired = false;
      const id = host.clock.setTimer(10, () => {
        fired = true;
      });
      host.clock.clearTimer(id);
      host.clock.clearTimer(id);
      await sleep(host, 40);
      assert.ok(!fired, 'the cleared timer fired');
    },
  },
];
