/**
 * One share of bench/soak-fleet.ts's simulated cameras, in a process of its own: cameras firstIndex …
 * firstIndex + count − 1 of a fleet of `total`, each logging in as its serial (the documented ACL's per-camera
 * users). `vigil sim --count N` cannot do that: its worker threads take one set of config overrides for every
 * camera, and a per-camera password needs a function of the serial (startSimFleet's overridesFor).
 * argv[2] is the JSON options; prints `SIM-STARTED n` once started; on SIGTERM stops every camera (planned
 * stop) and prints `SIM-STOPPED n`.
 */
import { readFileSync } from 'node:fs';
import { startSimFleet } from '../host-sim/src/fleet';
import { listProfiles, loadProfile } from '../host-sim/src/profiles';
import { lineLogSink } from '../host-sim/src/sim-host';

interface Options {
  firstIndex: number;
  count: number;
  total: number;
  broker: { host: string; port: number };
  stateRoot: string;
  interval: number;
  startRate: number;
  bundlePath: string;
  /** serial → password (the bench's password file, as JSON). */
  passwordsFile: string;
}

const o = JSON.parse(process.argv[2]) as Options;
const passwords = JSON.parse(readFileSync(o.passwordsFile, 'utf8')) as Record<string, string>;
const stop = new AbortController();
let stopRequested = false;
process.on('SIGTERM', () => {
  stopRequested = true;
  stop.abort();
});
const fleet = await startSimFleet({
  profiles: listProfiles().map((n) => loadProfile(n)),
  count: o.count,
  firstIndex: o.firstIndex,
  total: o.total,
  startIntervalMs: 1000 / o.startRate,
  signal: stop.signal,
  bundlePath: o.bundlePath,
  broker: o.broker,
  stateRoot: o.stateRoot,
  overrides: { IntervalSec: String(o.interval) },
  overridesFor: (serial) => {
    if (!passwords[serial]) throw new Error(`[vigil] [bench] no broker login for camera ${serial}`);
    return { BrokerUsername: serial, BrokerPassword: passwords[serial] };
  },
  log: lineLogSink((line) => process.stderr.write(line + '\n'), 'warn'),
});
process.stdout.write(`SIM-STARTED ${fleet.length}\n`);
if (!stopRequested) await new Promise<void>((r) => stop.signal.addEventListener('abort', () => r()));
await fleet.stop();
process.stdout.write(`SIM-STOPPED ${fleet.length} restarts=${fleet.restarts}\n`);
process.exit(0);
