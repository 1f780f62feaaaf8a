/**
 * The simulator's commands: `vigil sim` (simulated cameras against a broker) and `vigil profiles`. cli/main.ts
 * dispatches to runSim / runProfiles; both return the exit code (0 ok, 2 usage or a bad profile, 3 crash loop).
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatRestartRows, startSimFleet, type SimFleet } from './fleet';
import { DEFAULT_PER_WORKER, DEFAULT_START_RATE, startSimThreads, type SimThreads, type SimThreadsOptions } from './sim-threads';
import { faultScript, listProfiles, loadProfile } from './profiles';
import { needsPrivateRootfs, parseFaultSpec, preparePrivateRootfs, startFaultScript } from './faults';
import { lineLogSink } from './sim-host';
import { SIM_BROKER_FLAGS, SIM_BROKER_USAGE, simBroker } from './broker-flags';
import { DEFAULT_BUNDLE, FILES_PER_CAMERA, SUPERVISION_FLAGS, fileLimitWarning, parseInterval, requireBundle, supervision, untilSignal, writeRestarts } from './cli-flags';

export const SIM_USAGE = `vigil sim --profile NAME|DIR|all --broker URL [--count N] [--interval S] [--state DIR]
          [--per-worker N] [--start-rate N]
          [--max-restarts N] [--restart-window-ms MS] [--memory-limit BYTES] [--cpu-budget-ms MS]

Runs simulated cameras: dist/agent.js inside QuickJS-wasm against device profiles, each with a simulated
VAPIX server on loopback, reporting to the broker at URL (mqtt://host:port or mqtts://host:port).

  --profile      a bundled profile name (see \`vigil profiles\`), a profile folder, or "all"
  --count N      run N cameras (fleet mode), round-robin over the profiles, with derived serials;
                 default 1 (or one per profile with "all"); more than --per-worker run in worker threads
  --per-worker N cameras per worker thread (default ${DEFAULT_PER_WORKER}): past N, the cameras are split over
                 ceil(count / N) threads, each with its own wasm module (one module's memory caps at 2 GiB)
  --start-rate N camera starts per second over all threads, so the broker is not hit by every connect
                 at once (default ${DEFAULT_START_RATE} with worker threads; unpaced in one thread)
${SIM_BROKER_USAGE}
  --interval S   report interval in seconds (default: the profile's, else 300)
  --state DIR    the camera's writable data dir (default: a temporary folder, removed at exit)
  --bundle FILE  the agent bundle (default dist/agent.js; run \`npm run build\` first)
  --command-key KEY
                 the fleet's command-signing public key (as \`vigil fleet keygen\` prints it): the cameras
                 then run set-interval, rebaseline and rebirth only when signed (docs/delivery.md)
  --fault SPEC   a timed fault for a single camera, repeatable, added to the profile's faults.script:
                 KIND[:ARG]@AT[+FOR] with AT and FOR in seconds, e.g.
                   broker-down@0+30  broker-restart@60+5  drop@45  drop-during-replay:3@30
                   kill-during-write:before-rename@40 (partial-tmp, before-rename, after-rename)
                   disk-full@20+30  clock-jump:-3600@25  vapix:hang@10+20 (slow[:ms], status500, garbage)
                   file-change:/usr/bin/curl@45+60  file-add:/usr/bin/.x@45  file-remove:/etc/group@45
                   param:Network.SSH.Enabled=yes@30+60  listen:23/tcp@60 (tcp, udp, tcp6, udp6)
                 file and listen faults change a private copy of the rootfs (beside the state dir),
                 never the profile's; with +FOR the file, parameter or socket is put back;
                 a kill restarts the camera through its supervisor (counted as a restart, not towards
                 --max-restarts)

Supervision: like a camera's process manager, the simulator restarts a camera whose engine stopped the
agent at a limit (CPU budget, memory, stack) on the same data dir, and the agent's next report says why
in health.lastExit. Each restart logs "[host-sim] [supervisor] the engine stopped the agent (REASON);
restarting it (K of N within S s)". After --max-restarts restarts within the window it gives up and logs
"[host-sim] [supervisor] gave up after N restarts within S s; last: REASON; the camera stays stopped".
At exit the restarts are summed up per camera; when the supervisor has given up on every
camera, vigil sim exits with code 3 (as the native host does on a crash loop).

  --max-restarts N        restarts within the window before giving up (default 5; 0: never restart)
  --restart-window-ms MS  the window (default 600000)
  --memory-limit BYTES    each camera's JS heap limit (default 16777216)
  --cpu-budget-ms MS      CPU time per JS slice before the engine interrupts it (default 500)
`;

export const PROFILES_USAGE = `vigil profiles\n\nLists the bundled device profiles with model and AXIS OS version.\n`;

/** `vigil sim ARGS` (without "sim"); `signal` ends it as SIGINT does (for in-process callers and tests). */
export async function runSim(argv: string[], signal?: AbortSignal): Promise<number> {
  try {
    return await simulate(argv, signal);
  } catch (err) {
    return fail((err as Error).message);
  }
}

function fail(message: string): number {
  process.stderr.write(message.startsWith('[vigil]') ? `${message}\n` : `[vigil] [cli] ${message}\n`);
  return 2;
}

async function simulate(argv: string[], signal?: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      profile: { type: 'string' },
      broker: { type: 'string' },
      interval: { type: 'string' },
      state: { type: 'string' },
      bundle: { type: 'string' },
      count: { type: 'string' },
      fault: { type: 'string', multiple: true },
      'per-worker': { type: 'string' },
      'start-rate': { type: 'string' },
      'command-key': { type: 'string' },
      ...SIM_BROKER_FLAGS,
      ...SUPERVISION_FLAGS,
    },
    strict: true,
  });
  const cliFaults = (values.fault ?? []).map(parseFaultSpec);
  if (!values.profile) return fail('--profile is required (see `vigil profiles`)');
  if (!values.broker) return fail('--broker is required, e.g. mqtt://127.0.0.1:1883');
  const { host: brokerHost, port: brokerPort, url: brokerUrl, overrides: brokerOverrides, dataFiles } = simBroker(values.broker, values);
  const broker = { host: brokerHost, port: brokerPort };
  const interval = parseInterval(values.interval);
  const policy = supervision(values);
  const bundlePath = resolve(values.bundle ?? DEFAULT_BUNDLE);
  requireBundle(bundlePath);
  const profiles = values.profile === 'all' ? listProfiles().map((n) => loadProfile(n)) : [loadProfile(values.profile)];
  const count = values.count === undefined ? profiles.length : Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 100_000) return fail(`--count must be 1..100000, got "${values.count}"`);
  const perWorker = positiveInt('per-worker', values['per-worker']) ?? DEFAULT_PER_WORKER;
  const fileWarning = fileLimitWarning(count, count > perWorker ? FILES_PER_CAMERA.sharedListener : FILES_PER_CAMERA.ownListener);
  if (fileWarning) process.stderr.write(fileWarning + '\n');
  const startRate = positiveInt('start-rate', values['start-rate']);
  const stateDir = values.state ? resolve(values.state) : mkdtempSync(join(tmpdir(), 'vigil-sim-'));
  const overrides: Record<string, string> = { ...brokerOverrides, ...(interval ? { IntervalSec: String(interval) } : {}) };
  if (values['command-key'] !== undefined) overrides.CommandKey = values['command-key'];
  const logLevel = count > 20 ? 'warn' : 'info';
  if (count > perWorker) {
    if (cliFaults.length) process.stderr.write('[vigil] [sim] --fault applies to a single camera; ignored\n');
    const specs = values.profile === 'all' ? listProfiles() : [resolveProfileSpec(values.profile)];
    try {
      return await simulateInThreads(
        { profiles: specs, count, perWorker, startRatePerSec: startRate, bundlePath, broker, stateRoot: stateDir, overrides, dataFiles, logLevel, ...policy },
        brokerUrl,
        signal,
      );
    } finally {
      if (!values.state) rmSync(stateDir, { recursive: true, force: true });
    }
  }
  // File and listen faults change a private rootfs copy: made before the camera starts, so its baseline is the copy's.
  if (profiles.length === 1 && count === 1 && needsPrivateRootfs([...faultScript(profiles[0].data), ...cliFaults])) {
    preparePrivateRootfs(profiles[0], join(stateDir, profiles[0].data.identity.serialNumber));
  }
  // Like the native host on a crash loop, `vigil sim` ends (exit 3) once its supervisors gave up on every camera.
  let cameras: SimFleet | null = null;
  let allGaveUp: (why: string) => void = () => {};
  const gaveUp = new Promise<string>((r) => (allGaveUp = r));
  const checkAllGaveUp = () => {
    if (cameras && cameras.every((c) => c.failed)) allGaveUp('gave-up');
  };
  // Listening from before the first camera starts: a Ctrl-C while 200 cameras start would otherwise end the
  // process at once (Node's default), with no camera stopped cleanly (no offline state, outboxes not flushed).
  const stopRequested = untilSignal(signal, gaveUp);
  try {
    cameras = await startSimFleet({
      profiles,
      count,
      bundlePath,
      broker,
      stateRoot: stateDir,
      overrides,
      dataFiles,
      startIntervalMs: startRate ? 1000 / startRate : 0,
      log: lineLogSink((line) => process.stderr.write(line + '\n'), logLevel),
      ...policy,
      onGiveUp: checkAllGaveUp,
    });
  } catch (err) {
    if (!values.state) rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  const fleet = cameras;
  checkAllGaveUp();
  const what = fleet.length === 1 ? `camera ${fleet[0].serial} (${fleet[0].profile.name})` : `${fleet.length} cameras`;
  process.stderr.write(`[vigil] [sim] ${what} reporting to ${brokerUrl}; Ctrl-C stops\n`);
  // Timed faults (profile faults.script and --fault) drive a single camera; a kill restarts it on the same
  // data dir through its supervisor, which also serializes it with a restart after a limit.
  const steps = fleet.length === 1 ? [...faultScript(fleet[0].profile.data), ...cliFaults] : [];
  if (cliFaults.length && fleet.length !== 1) process.stderr.write('[vigil] [sim] --fault applies to a single camera; ignored\n');
  const script = steps.length
    ? startFaultScript(steps, {
        camera: () => fleet[0],
        restart: async () => {
          const restarted = await fleet[0].restart('killed during an outbox write (simulated)');
          process.stderr.write(
            restarted
              ? '[vigil] [sim] camera restarted with the same data dir\n'
              : '[vigil] [sim] the killed run was already replaced (or the camera stopped): no second restart\n',
          );
        },
        log: (m) => process.stderr.write(`[vigil] [sim] ${m}\n`),
      })
    : null;
  const why = await stopRequested;
  script?.stop();
  if (why === 'gave-up') process.stderr.write('[vigil] [sim] the supervisor gave up on every camera (crash loop); exiting with code 3\n');
  await fleet.stop();
  writeRestarts('sim', fleet);
  if (!values.state) rmSync(stateDir, { recursive: true, force: true });
  return why === 'gave-up' ? 3 : 0;
}

function positiveInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 1_000_000) throw new Error(`[vigil] [cli] --${name} must be an integer 1..1000000, got "${text}"`);
  return n;
}

/** A profile as a worker thread loads it: a bundled name stays a name, a folder becomes absolute. */
function resolveProfileSpec(spec: string): string {
  return listProfiles().includes(spec) ? spec : resolve(spec);
}

/**
 * The cameras over worker threads (sim-threads.ts): runs until Ctrl-C / the signal, the supervisors gave up on
 * every camera (exit 3, as in one thread), or a worker died (exit 1, after stopping the others).
 */
async function simulateInThreads(options: SimThreadsOptions, brokerUrl: string, signal?: AbortSignal): Promise<number> {
  const starting = new AbortController();
  let ended: (why: string) => void = () => {};
  const why = untilSignal(signal, new Promise<string>((r) => (ended = r)));
  void why.then(() => starting.abort());
  let threads: SimThreads;
  try {
    threads = await startSimThreads({ ...options, signal: starting.signal });
  } catch (err) {
    ended('failed');
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  void threads.ended.then(ended);
  process.stderr.write(`[vigil] [sim] ${threads.cameras} cameras in ${threads.workers} worker threads reporting to ${brokerUrl}; Ctrl-C stops\n`);
  const reason = await why;
  if (reason === 'gave-up') process.stderr.write('[vigil] [sim] the supervisor gave up on every camera (crash loop); exiting with code 3\n');
  const { status, wasmBytes } = await threads.stop();
  const wasm = wasmBytes.reduce((a, b) => a + b, 0);
  // The bench reads this line (bench/sim-scale.ts).
  process.stderr.write(`[vigil] [sim] wasm memory: ${(wasm / 2 ** 20).toFixed(1)} MiB in ${wasmBytes.length} threads (${(wasm / 1024 / Math.max(1, status.length)).toFixed(0)} KiB per camera)\n`);
  const text = formatRestartRows(status);
  if (text) process.stderr.write(`[vigil] [sim] ${text}\n`);
  return reason === 'gave-up' ? 3 : reason === 'died' ? 1 : 0;
}

export async function runProfiles(): Promise<number> {
  for (const name of listProfiles()) {
    const p = loadProfile(name);
    process.stdout.write(`${name.padEnd(14)} ${p.data.identity.serialNumber}  ${p.data.identity.prodNbr.padEnd(16)} AXIS OS ${p.data.os.version.padEnd(11)} ${p.data.description}\n`);
  }
  return 0;
}
