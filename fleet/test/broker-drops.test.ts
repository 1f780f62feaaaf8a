/** BrokerDropWatch on its own: what a rise of the broker's dropped count logs, on a simulated clock. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BrokerDropWatch, DROP_WARNING_INTERVAL_MS } from '../src/broker-drops';

let logs: string[];
let watch: BrokerDropWatch;
beforeEach(() => {
  vi.useFakeTimers();
  logs = [];
  watch = new BrokerDropWatch((level, m) => logs.push(`${level}: ${m}`), () => Date.now());
});
afterEach(() => {
  watch.stop();
  vi.useRealTimers();
});

describe('the broker dropped-message watch', () => {
  it('stays quiet while the broker reports 0 and the same count again', () => {
    watch.update('0');
    watch.update('0');
    expect(logs).toEqual([]);
    expect(watch.drops).toEqual({ total: 0, seen: 0 });
  });

  it('warns with the number dropped when the count rises', () => {
    watch.update('0');
    watch.update('25');
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^warn: the broker dropped 25 messages \(\$SYS\/broker\/publish\/messages\/dropped = 25\).*max_queued_messages/);
  });

  it('warns about what the broker had dropped before the consumer connected', () => {
    watch.update('7');
    expect(logs[0]).toMatch(/the broker dropped 7 messages before this consumer connected/);
  });

  it('logs at most one warning a minute and sums the drops in between into the next', () => {
    watch.update('0');
    watch.update('1');
    watch.update('3');
    watch.update('6');
    expect(logs).toHaveLength(1);
    vi.advanceTimersByTime(DROP_WARNING_INTERVAL_MS);
    expect(logs).toHaveLength(2);
    expect(logs[1]).toMatch(/dropped 5 messages \(.* = 6\)/);
    expect(watch.drops.seen).toBe(6);
  });

  it('counts from zero again after the broker restarted (a lower total)', () => {
    watch.update('100');
    vi.advanceTimersByTime(DROP_WARNING_INTERVAL_MS);
    watch.update('4');
    expect(logs[1]).toMatch(/dropped 4 messages \(.* = 4\)/);
    expect(watch.drops).toEqual({ total: 4, seen: 104 });
  });

  it('ignores a payload that is not a count, and says so once', () => {
    watch.update('lots');
    watch.update('-1');
    expect(logs).toEqual(['warn: ignoring $SYS/broker/publish/messages/dropped "lots": not a count']);
    expect(watch.drops.total).toBeNull();
  });
});
