// Issue 15 item 5: a report interval of a day kept a camera "online" for a day between reports. One rule now
// holds it to an hour wherever it is set on the camera; the floor is 1 s for the setting, 10 s for a command.
import { describe, expect, it } from 'vitest';
import { checkConfig } from './config';
import { parseCommand } from './commands';
const enc = (s: string) => new Uint8Array(Buffer.from(s));

const setting = (value: string) => checkConfig({ BrokerHost: 'broker', IntervalSec: value });
const command = (sec: number) => parseCommand('set-interval', enc(JSON.stringify({ id: 'c1', intervalSec: sec })), null);

describe('the report interval bounds', () => {
  it('the IntervalSec setting takes 1 to 3600 s and refuses a day, naming the range', () => {
    expect(setting('1').config.reportEverySec).toBe(1);
    expect(setting('3600').config.reportEverySec).toBe(3600);
    expect(setting('3601').problems.IntervalSec).toBe('IntervalSec must be an integer from 1 to 3600, got "3601"');
    expect(setting('86400').problems.IntervalSec).toBe('IntervalSec must be an integer from 1 to 3600, got "86400"');
  });

  it('the set-interval command takes 10 to 3600 s and refuses a day or a flood, naming the range', () => {
    expect(command(10).intervalSec).toBe(10);
    expect(command(3600).intervalSec).toBe(3600);
    for (const sec of [9, 3601, 86400]) expect(command(sec), String(sec)).toMatchObject({ code: 'EINVAL', error: 'intervalSec must be an integer from 10 to 3600' });
  });
});
