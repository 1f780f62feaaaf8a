// The simulated fleet (`vigil sim --count`, `vigil demo`) runs every camera under the supervisor: a camera whose
// engine stops the agent at a limit is restarted and says why in its next report, a crash loop is given up on,
// and neither touches the other cameras. Real QuickJS, the real agent bundle behind a wrapper, embedded Aedes.
//
// The wrapper misbehaves only for the profile whose agent config has TestMisbehave ("yes": while
// __vigilHost.info.lastExit is null, so the restarted run is the real agent; "always": every run), and is
// dist/agent.js otherwise, as test/e2e/engine-limits.test.ts does for one camera.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildAgent } from '../../build.mjs';
import { Subscriber } from '../../test/helpers/subscriber';
import { refuses } from '../../test/helpers/ports';
import { assertValidReport } from '../../test/helpers/schemas';
import type { Report } from '../../agent/src/report/types';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../test/helpers/broker';
import type { SimCamera } from '../src/camera';
import { formatRestarts, startSimFleet, type FleetCamera, type SimFleet, type SimFleetOptions } from '../src/fleet';
import { loadProfile, type LoadedProfile } from '../src/profiles';
import { memoryLogSink } from '../src/host/log';
import { sleep, tempDir } from './helpers';

const BUNDLE = resolve(__dirname, '../../dist/agent.js');
const MiB = 1024 * 1024;
const SPIN = '__vigilHost.clock.setTimer(5, function () { for (;;) {} });';
const GROW = 'var keep = []; (function grow() { keep.push("x".repeat(65536 + keep.length)); __vigilHost.clock.setTimer(1, grow); })();';
const LAST_EXIT = (reason: string) =>
  new RegExp(`^${reason.replace(/[()]/g, '\\$&')} at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z; restarted by the host$`);

let broker: EmbeddedBroker;
let subscriber: Subscriber;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  if (!existsSync(BUNDLE)) await buildAgent();
  broker = await startEmbeddedBroker();
  subscriber = await Subscriber.connect(broker.url, ['vigil/v1/+/report']);
});

afterAll(async () => {
  await subscriber?.close();
  await broker?.close();
});

afterEach(async () => {
  while (cleanups.length) await (cleanups.pop() as () => Promise<void> | void)();
});

/** `base` with TestMisbehave in its agent config (the wrapper reads it through __vigilHost.config()). */
function misbehaving(base: string, when: 'yes' | 'always'): LoadedProfile {
  const p = loadProfile(base);
  return { ...p, data: { ...p.data, agent: { ...p.data.agent, TestMisbehave: when } } };
}

function wrapper(dir: string, misbehave: string): string {
  const agent = readFileSync(BUNDLE, 'utf8');
  const strict = '"use strict";';
  if (!agent.startsWith(strict)) throw new Error('[vigil] [test] dist/agent.js no longer starts with "use strict": update wrapper');
  const file = join(dir, 'one-camera-misbehaves.js');
  writeFileSync(
    file,
    `${strict}\nvar __m = __vigilHost.config().TestMisbehave;\nif (__m === "always" || (__m === "yes" && !__vigilHost.info.lastExit)) {\n${misbehave}\n} else {\n${agent.slice(strict.length)}\n}\n`,
  );
  return file;
}

async function fleetOf(profiles: LoadedProfile[], misbehave: string, options: Partial<SimFleetOptions> = {}) {
  const tmp = tempDir('fleet-sup');
  cleanups.push(() => tmp.cleanup());
  const logs = memoryLogSink();
  const runs: SimCamera[] = [];
  const gaveUp: Array<{ serial: string; failed: string }> = [];
  const fleet: SimFleet = await startSimFleet({
    profiles,
    count: profiles.length,
    bundlePath: wrapper(tmp.dir, misbehave),
    broker: { host: broker.host, port: broker.port },
    stateRoot: join(tmp.dir, 'state'),
    overrides: { IntervalSec: '1' },
    log: logs,
    checkMs: 50,
    onRestart: (camera) => runs.push(camera.supervisor.camera),
    onGiveUp: (camera, failed) => gaveUp.push({ serial: camera.serial, failed }),
    ...options,
  });
  runs.unshift(...fleet.map((c) => c.supervisor.camera));
  cleanups.push(() => fleet.stop());
  return { fleet, logs, runs, gaveUp };
}

function reports(serial: string): Report[] {
  return subscriber.messages.filter((m) => m.topic === `vigil/v1/${serial}/report`).map((m) => JSON.parse(m.payload.toString('utf8')) as Report);
}

/** Waits for one more report from each camera than it had when called. */
async function eachReportsAgain(cameras: FleetCamera[], what: string): Promise<void> {
  const before = new Map(cameras.map((c) => [c.serial, reports(c.serial).length]));
  await subscriber.waitFor(what, () => cameras.every((c) => reports(c.serial).length > (before.get(c.serial) as number)), 25_000);
}

describe('the simulated fleet under its supervisors', () => {
  it('fleet-cameras-unsupervised: restarts a fleet camera stopped at its memory limit, its next report carries health.lastExit, and the other cameras keep reporting', async () => {
    const { fleet, runs } = await fleetOf([misbehaving('active-12', 'yes'), loadProfile('hardened'), loadProfile('exposed')], GROW, {
      engine: { memoryLimitBytes: 4 * MiB },
    });
    const [bad, ...others] = fleet;
    const report = await subscriber.waitFor(
      'a report from the restarted camera with health.lastExit',
      () => reports(bad.serial).find((r) => typeof r.health?.lastExit === 'string' && LAST_EXIT('out of memory').test(r.health.lastExit)),
      25_000,
    );
    assertValidReport(report);
    expect(report.health.lastExit).toBe(bad.lastExit);
    expect(runs[0].runner.alive).toBe(false);
    expect(runs[0].runner.stats.lastError?.where).toBe('memory');
    expect(fleet.restartsBySerial()).toEqual({ [bad.serial]: 1, [others[0].serial]: 0, [others[1].serial]: 0 });
    expect(fleet.restarts).toBe(1);
    await eachReportsAgain(others, 'another report from each other camera after the restart');
    expect(others.map((c) => [c.restarts, c.lastExit, c.runner.alive])).toEqual([
      [0, null, true],
      [0, null, true],
    ]);
    expect(fleet.status().map((s) => s.running)).toEqual([true, true, true]);
    expect(formatRestarts(fleet)).toBe(`1 restart in 1 of 3 cameras:\n  ${bad.serial} (active-12): 1 restart, running; last exit: ${bad.lastExit}`);
  }, 60_000);

  it('gives up on a crash-looping camera with the documented message and leaves the rest of the fleet reporting', async () => {
    const { fleet, logs, runs, gaveUp } = await fleetOf([misbehaving('active-12', 'always'), loadProfile('hardened')], SPIN, {
      engine: { cpuBudgetMs: 100 },
      maxRestarts: 2,
    });
    const [bad, good] = fleet;
    await subscriber.waitFor('the supervisor to give up', () => bad.failed !== null, 25_000);
    const failed = 'gave up after 2 restarts within 600 s; last: interrupted (CPU budget)';
    expect(bad.failed).toBe(failed);
    expect(gaveUp).toEqual([{ serial: bad.serial, failed }]);
    expect(logs.records.filter((r) => r.level === 'error' && r.message.startsWith('[host-sim] [supervisor] ')).map((r) => `${r.serial} ${r.message}`)).toEqual([
      `${bad.serial} [host-sim] [supervisor] ${failed}; the camera stays stopped`,
    ]);
    expect(runs.filter((r) => r.serial === bad.serial).map((r) => r.runner.alive)).toEqual([false, false, false]);
    await eachReportsAgain([good], 'another report from the healthy camera after the give-up');
    expect(good.restarts).toBe(0);
    expect(fleet.status().map((s) => [s.serial, s.running, s.restarts, s.failed])).toEqual([
      [bad.serial, false, 2, failed],
      [good.serial, true, 0, null],
    ]);
  }, 60_000);

  it('stopping the fleet while a camera restarts leaves nothing running', async () => {
    let fleet: SimFleet | null = null;
    let stopping: Promise<void> | null = null;
    const log = (r: { message: string }) => {
      if (!stopping && fleet && r.message.startsWith('[host-sim] [supervisor] the engine stopped the agent')) stopping = fleet.stop();
    };
    // The misbehaving camera is the last one started and spins 300 ms after its start: the fleet exists by then.
    const started = await fleetOf([loadProfile('hardened'), misbehaving('active-12', 'yes')], SPIN.replace('setTimer(5,', 'setTimer(300,'), {
      engine: { cpuBudgetMs: 100 },
      log,
    });
    fleet = started.fleet;
    await subscriber.waitFor('the stop during the restart', () => stopping !== null, 25_000);
    await stopping;
    const runs = started.runs;
    // hardened, the first active-12 run, and the run the restart under way started before the stop took it down
    expect(runs).toHaveLength(3);
    for (const run of runs) {
      expect(run.runner.alive, run.serial).toBe(false);
      expect(run.runner.stats.timers, run.serial).toBe(0);
      expect(await refuses(run.vapixPort), `${run.serial} VAPIX :${run.vapixPort}`).toBe(true);
    }
    await sleep(300);
    expect(runs).toHaveLength(3);
    expect(fleet.status().map((s) => s.running)).toEqual([false, false]);
  }, 60_000);
});
