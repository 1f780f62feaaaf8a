/**
 * Timed fault scripts (host-sim/src/faults.ts): the `--fault` spec parser, the script runner against a
 * stand-in camera whose switches it flips, and `vigil sim --fault` end to end against a real broker.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseFaultSpec, startFaultScript, type FaultStep } from '../src/faults';
import type { SimCamera } from '../src/camera';
import type { VapixFault } from '../src/profiles';
import { startEmbeddedBroker } from '../../test/helpers/broker';
import { Subscriber } from '../../test/helpers/subscriber';
import { buildAgent } from '../../build.mjs';

describe('parseFaultSpec', () => {
  it('reads a kind, a start and a duration', () => {
    expect(parseFaultSpec('broker-down@0+30')).toEqual({ kind: 'broker-down', at: 0, for: 30 });
  });

  it('reads a fault with no duration as lasting until stopped', () => {
    expect(parseFaultSpec('drop@45')).toEqual({ kind: 'drop', at: 45 });
  });

  it('reads the number of PUBLISHes before a drop during replay, 3 by default', () => {
    expect(parseFaultSpec('drop-during-replay:5@30').value).toBe(5);
    expect(parseFaultSpec('drop-during-replay@30').value).toBe(3);
  });

  it('reads a backwards clock jump in seconds', () => {
    expect(parseFaultSpec('clock-jump:-3600@25')).toEqual({ kind: 'clock-jump', at: 25, value: -3600 });
  });

  it('reads the point at which a write is cut, before-rename by default', () => {
    expect(parseFaultSpec('kill-during-write:partial-tmp@40').point).toBe('partial-tmp');
    expect(parseFaultSpec('kill-during-write@40').point).toBe('before-rename');
  });

  it('reads a VAPIX mode with an optional delay', () => {
    expect(parseFaultSpec('vapix:slow:1500@10+20')).toEqual({ kind: 'vapix', at: 10, for: 20, mode: 'slow', delayMs: 1500 });
    expect(parseFaultSpec('vapix:hang@10').mode).toBe('hang');
  });

  it('reads a file change, addition and removal with the device path', () => {
    expect(parseFaultSpec('file-change:/usr/bin/curl@45+60')).toEqual({ kind: 'file-change', at: 45, for: 60, path: '/usr/bin/curl' });
    expect(parseFaultSpec('file-add:/usr/bin/.x@45')).toEqual({ kind: 'file-add', at: 45, path: '/usr/bin/.x' });
    expect(parseFaultSpec('file-remove:/etc/group@1')).toEqual({ kind: 'file-remove', at: 1, path: '/etc/group' });
  });

  it('reads a parameter and its value, which may hold = and be empty', () => {
    expect(parseFaultSpec('param:Network.SSH.Enabled=yes@30+60')).toEqual({ kind: 'param', at: 30, for: 60, param: 'Network.SSH.Enabled', to: 'yes' });
    expect(parseFaultSpec('param:Network.HTTP.AuthenticationPolicy=a=b@1').to).toBe('a=b');
    expect(parseFaultSpec('param:Time.NTP.Server=@1').to).toBe('');
  });

  it('reads a listening port with its table, tcp by default', () => {
    expect(parseFaultSpec('listen:23@60')).toEqual({ kind: 'listen', at: 60, port: 23, proto: 'tcp' });
    expect(parseFaultSpec('listen:161/udp@1+5')).toEqual({ kind: 'listen', at: 1, for: 5, port: 161, proto: 'udp' });
    expect(parseFaultSpec('listen:22/tcp6@1').proto).toBe('tcp6');
  });

  it.each([
    ['an unknown kind', 'flood@1', 'unknown kind "flood"'],
    ['a file fault without a path', 'file-change@1', 'give the file'],
    ['a relative path', 'file-change:etc/passwd@1', 'a device path starting with /'],
    ['a path that climbs out of the rootfs', 'file-change:/etc/../../root/x@1', 'stay inside the rootfs (no ..)'],
    ['a path that ends in ..', 'file-remove:/usr/..@1', 'stay inside the rootfs (no ..)'],
    ['the rootfs itself', 'file-add:/@1', 'names the rootfs itself'],
    ['a path with a control character', 'file-add:/usr/bin/a\u0007b@1', 'a control character'],
    ['a parameter without a value', 'param:Network.SSH.Enabled@1', 'give the parameter and its value'],
    ['a parameter name that is not one', 'param:ssh on=yes@1', 'the parameter name is like Network.SSH.Enabled'],
    ['a listening port of 0', 'listen:0@1', 'the port is 1..65535'],
    ['a listening port past 65535', 'listen:65536@1', 'the port is 1..65535'],
    ['an unknown socket table', 'listen:23/sctp@1', 'the protocol is one of tcp, udp, tcp6, udp6'],
    ['a port that is not a number', 'listen:ssh@1', 'give the port'],
    ['no start time', 'drop', 'not understood'],
    ['a negative start', 'drop@-1', 'not understood'],
    // huge-fault-time-fires-at-once: a Node timer past 2^31-1 ms fires after 1 ms
    ['a start past a timer\'s limit (huge-fault-time-fires-at-once)', 'drop@99999999', 'AT and FOR are at most 2147483 s'],
    ['a duration past a timer\'s limit', 'broker-down@0+2147484', 'AT and FOR are at most 2147483 s'],
    ['an argument where none is taken', 'drop:3@1', 'drop takes no argument'],
    ['a clock jump without seconds', 'clock-jump@1', 'give the jump in seconds'],
    ['an unknown write point', 'kill-during-write:midway@1', 'the point is one of partial-tmp, before-rename, after-rename'],
    ['an unknown VAPIX mode', 'vapix:teapot@1', 'the VAPIX mode is one of garbage, status500, slow, hang'],
    ['a fractional PUBLISH count', 'drop-during-replay:1.5@1', 'a number of PUBLISHes'],
  ])('rejects %s with a message that shows the syntax', (_what, spec, why) => {
    expect(() => parseFaultSpec(spec)).toThrow(why);
    expect(() => parseFaultSpec(spec)).toThrow('[vigil] [faults]');
    expect(() => parseFaultSpec(spec)).toThrow('syntax KIND[:ARG]@AT[+FOR]');
  });
});

/** The switches a fault script flips on a camera's SimHost (its device) and VAPIX server, and nothing else. */
function standInCamera() {
  const state = {
    brokerDown: false,
    diskFull: false,
    wallOffsetMs: 0,
    dropAfterPublishes: null as number | null,
    crashOnWrite: null as null | { match: RegExp; point: string; onCrash(): void },
    drops: 0,
    vapixFaults: [] as VapixFault[],
  };
  const host = { device: state, dropBrokerConnections: () => void state.drops++ };
  const camera = { host, vapix: { setFaults: (f: VapixFault[]) => (state.vapixFaults = f) } } as unknown as SimCamera;
  return { state, camera };
}

describe('startFaultScript', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('takes the broker down at its start time, drops the connection, and brings it back after its duration', () => {
    vi.useFakeTimers();
    const { state, camera } = standInCamera();
    const script = startFaultScript([parseFaultSpec('broker-down@2+3')], { camera: () => camera, restart: async () => {} });
    vi.advanceTimersByTime(1999);
    expect(state.brokerDown).toBe(false);
    vi.advanceTimersByTime(1);
    expect(state.brokerDown).toBe(true);
    expect(state.drops).toBe(1);
    vi.advanceTimersByTime(3000);
    expect(state.brokerDown).toBe(false);
    expect(script.applied.map((a) => a.what)).toEqual(['start', 'end']);
  });

  it('gives a broker restart a 2 s outage when no duration is given', () => {
    vi.useFakeTimers();
    const { state, camera } = standInCamera();
    startFaultScript([parseFaultSpec('broker-restart@1')], { camera: () => camera, restart: async () => {} });
    vi.advanceTimersByTime(1000);
    expect(state.brokerDown).toBe(true);
    vi.advanceTimersByTime(2000);
    expect(state.brokerDown).toBe(false);
  });

  it('moves the wall clock by the jump and leaves it there', () => {
    vi.useFakeTimers();
    const { state, camera } = standInCamera();
    startFaultScript([parseFaultSpec('clock-jump:-3600@1'), parseFaultSpec('clock-jump:600@2')], { camera: () => camera, restart: async () => {} });
    vi.advanceTimersByTime(2000);
    expect(state.wallOffsetMs).toBe(-3_000_000);
  });

  it('fills and then frees the disk', () => {
    vi.useFakeTimers();
    const { state, camera } = standInCamera();
    startFaultScript([parseFaultSpec('disk-full@0+5')], { camera: () => camera, restart: async () => {} });
    vi.advanceTimersByTime(0);
    expect(state.diskFull).toBe(true);
    vi.advanceTimersByTime(5000);
    expect(state.diskFull).toBe(false);
  });

  it('sets a VAPIX fault for its duration and clears it after', () => {
    vi.useFakeTimers();
    const { state, camera } = standInCamera();
    startFaultScript([parseFaultSpec('vapix:slow:800@1+2')], { camera: () => camera, restart: async () => {} });
    vi.advanceTimersByTime(1000);
    expect(state.vapixFaults).toEqual([{ mode: 'slow', delayMs: 800 }]);
    vi.advanceTimersByTime(2000);
    expect(state.vapixFaults).toEqual([]);
  });

  it('arms a kill on the next outbox write that restarts the camera when it fires', () => {
    vi.useFakeTimers();
    const { state, camera } = standInCamera();
    let restarts = 0;
    startFaultScript([parseFaultSpec('kill-during-write:after-rename@1')], { camera: () => camera, restart: async () => void restarts++ });
    vi.advanceTimersByTime(1000);
    expect(state.crashOnWrite?.point).toBe('after-rename');
    expect(state.crashOnWrite?.match.test('/usr/local/packages/vigil/localdata/outbox/0000000001-ab.json')).toBe(true);
    expect(state.crashOnWrite?.match.test('/usr/local/packages/vigil/localdata/state.json')).toBe(false);
    state.crashOnWrite?.onCrash();
    expect(restarts).toBe(1);
  });

  it('cancels what has not happened and ends what is active when stopped', () => {
    vi.useFakeTimers();
    const { state, camera } = standInCamera();
    const steps: FaultStep[] = [parseFaultSpec('disk-full@0'), parseFaultSpec('broker-down@10+5')];
    const script = startFaultScript(steps, { camera: () => camera, restart: async () => {} });
    vi.advanceTimersByTime(1);
    expect(state.diskFull).toBe(true);
    script.stop();
    expect(state.diskFull).toBe(false);
    vi.advanceTimersByTime(20_000);
    expect(state.brokerDown).toBe(false);
    expect(script.applied.map((a) => `${a.step.kind}:${a.what}`)).toEqual(['disk-full:start', 'disk-full:end']);
  });
});

describe('vigil sim --fault', () => {
  it('delivers every report of a camera whose broker is down for its first seconds, in seq order, with no gap', async () => {
    const bundle = resolve(__dirname, '../../dist/agent.js');
    if (!existsSync(bundle)) await buildAgent();
    const broker = await startEmbeddedBroker();
    const subscriber = await Subscriber.connect(broker.url, ['vigil/v1/B8A44F6E0C88/report']);
    const child = spawn(process.execPath, [resolve(__dirname, '../../bin/vigil.mjs'), 'sim', '--profile', 'hardened', '--broker', broker.url, '--interval', '1', '--fault', 'broker-down@0+4']);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      // Reports 1..3 or so are made while the broker is unreachable; they must arrive after it returns, in seq
      // order (8 in flight, read from node:fs in parallel): wait until 1..n are all in, n ≥ 6 (a lost report
      // never arrives and fails the wait), then check the order they first arrived in.
      const arrived = () => {
        const seqs = subscriber.messages.map((m) => JSON.parse(m.payload.toString()).seq as number);
        return seqs.filter((seq, i) => seqs.indexOf(seq) === i);
      };
      const contiguous = () => {
        const unique = [...arrived()].sort((a, b) => a - b);
        return unique.length >= 6 && unique.every((seq, i) => seq === i + 1) ? unique : null;
      };
      // The bound is generous: on a busy 2-core machine the CLI's start (node, the wasm engine, the bundle) alone
      // has taken tens of seconds; a report that is lost still fails it.
      await subscriber.waitFor(`reports 1..n, n ≥ 6, with none missing; sim said:\n${stderr}`, contiguous, 90_000);
      const order = arrived();
      expect(order).toEqual(order.map((_, i) => i + 1));
      expect(stderr).toContain('fault broker-down starts');
      expect(stderr).toContain('fault broker-down ends');
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
      await subscriber.close();
      await broker.close();
    }
  }, 120_000);
});
