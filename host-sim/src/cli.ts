/**
 * The `vigil` command line: run one simulated camera, or the demo (embedded broker + every profile).
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SimCameraOptions } from './camera';
import { formatRestarts, startSimFleet, type SimFleet } from './fleet';
import { faultScript, listProfiles, loadProfile } from './profiles';
import { needsPrivateRootfs, parseFaultSpec, preparePrivateRootfs, startFaultScript } from './faults';
import { formatLogRecord, lineLogSink, type LogSink } from './sim-host';
import { StatusTable as FleetTable } from '../../fleet/src/status-table';
import { FLEET_USAGE, STATUS_USAGE, runFleet, runStatus } from '../../fleet/src/cli';
import { startDemo } from './demo';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEFAULT_BUNDLE = join(ROOT, 'dist/agent.js');

const USAGE = `vigil — health and security agent for Axis cameras (simulator and tools)

Usage:
  vigil demo [--port N] [--http H:P] [--interval S]
                                            embedded broker + every bundled profile + fleet consumer,
                                            dashboard and live table
  vigil sim --profile NAME|DIR|all --broker URL [--count N] [--interval S] [--state DIR]
                                            run simulated cameras against a broker, each restarted
                                            when its engine stops the agent at a limit
  vigil fleet --broker URL [--db PATH] [--http HOST:PORT]
                                            the fleet consumer: store, evaluation, dashboard, API
  vigil status --broker URL                 the fleet table from the broker's retained messages
  vigil profiles                            list the bundled device profiles
  vigil <command> --help                    help for one command
`;

const HELP: Record<string, string> = {
  demo: `vigil demo [--port N] [--host H] [--http H:P] [--interval S] [--no-table] [--max-restarts N] …

Starts an embedded MQTT broker (Aedes) on H:N (default 127.0.0.1:1883), the fleet consumer with its
dashboard (default http://127.0.0.1:8080), runs every bundled profile as a simulated camera inside
QuickJS-wasm, and prints the dashboard's URL and a live table (camera, model, AXIS OS, findings,
integrity, online). Ctrl-C stops the cameras (each publishes "offline"), the consumer and the broker.
Cameras run their profile's faults.script: the tampered camera has a file changed at 45 s, the exposed
camera a new listener at 60 s, so the dashboard shows events without anyone touching a camera.

  --port N       broker port (default 1883); a clear error if it is taken
  --host H       broker address (default 127.0.0.1)
  --http H:P     dashboard address (default 127.0.0.1:8080; port 0 picks a free one)
  --interval S   report interval in seconds (default 10)
  --no-table     log lines instead of the live table

Supervision: like a camera's process manager, the simulator restarts a camera whose engine stopped the
agent at a limit (CPU budget, memory, stack) on the same data dir, and the agent's next report says why
in health.lastExit. Each restart logs "[host-sim] [supervisor] the engine stopped the agent (REASON);
restarting it (K of N within S s)". After --max-restarts restarts within the window it gives up and logs
"[host-sim] [supervisor] gave up after N restarts within S s; last: REASON; the camera stays stopped".
With the live table only the supervisor's lines are logged; at exit the
restarts are summed up per camera.

  --max-restarts N        restarts within the window before giving up (default 5; 0: never restart)
  --restart-window-ms MS  the window (default 600000)
  --memory-limit BYTES    each camera's JS heap limit (default 16777216)
  --cpu-budget-ms MS      CPU time per JS slice before the engine interrupts it (default 500)
`,
  sim: `vigil sim --profile NAME|DIR|all --broker URL [--count N] [--interval S] [--state DIR]
          [--max-restarts N] [--restart-window-ms MS] [--memory-limit BYTES] [--cpu-budget-ms MS]

Runs simulated cameras: dist/agent.js inside QuickJS-wasm against device profiles, each with a simulated
VAPIX server on loopback, reporting to the broker at URL (mqtt://host:port).

  --profile      a bundled profile name (see \`vigil profiles\`), a profile folder, or "all"
  --count N      run N cameras in this process (fleet mode), round-robin over the profiles, with
                 derived serials; default 1 (or one per profile with "all")
  --broker URL   mqtt://host:port
  --interval S   report interval in seconds (default: the profile's, else 300)
  --state DIR    the camera's writable data dir (default: a temporary folder, removed at exit)
  --bundle FILE  the agent bundle (default dist/agent.js; run \`npm run build\` first)
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
`,
  fleet: FLEET_USAGE,
  status: STATUS_USAGE,
  profiles: `vigil profiles\n\nLists the bundled device profiles with model and AXIS OS version.\n`,
};

/** `signal` ends a running `vigil sim` or `vigil demo` as SIGINT does (for in-process callers and tests). */
export async function main(argv: string[], options: { signal?: AbortSignal } = {}): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 1;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    if (!HELP[command]) return fail(`unknown command "${command}"\n\n${USAGE}`);
    process.stdout.write(HELP[command]);
    return 0;
  }
  try {
    switch (command) {
      case 'demo':
        return await runDemo(rest, options.signal);
      case 'sim':
        return await runSim(rest, options.signal);
      case 'profiles':
        return await runProfiles();
      case 'fleet':
        return await runFleet(rest);
      case 'status':
        return await runStatus(rest);
      default:
        return fail(`unknown command "${command}"\n\n${USAGE}`);
    }
  } catch (err) {
    return fail((err as Error).message);
  }
}

function fail(message: string): number {
  process.stderr.write(message.startsWith('[vigil]') ? `${message}\n` : `[vigil] [cli] ${message}\n`);
  return 2;
}

function parseBrokerUrl(url: string): { host: string; port: number } {
  const m = /^mqtt:\/\/([^:/]+|\[[^\]]+\])(?::(\d+))?\/?$/.exec(url);
  if (!m) throw new Error(`[vigil] [cli] --broker must look like mqtt://host:port, got "${url}"`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : 1883 };
}

function parseInterval(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 86400) throw new Error(`[vigil] [cli] --interval must be 1..86400 seconds, got "${text}"`);
  return n;
}

function requireBundle(path: string): void {
  if (!existsSync(path)) throw new Error(`[vigil] [cli] ${path} not found: run \`npm run build\` first`);
}

/** Resolves on SIGINT/SIGTERM, when `signal` aborts, or when `also` resolves, with what it was. */
function untilSignal(signal?: AbortSignal, also?: Promise<string>): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      signal?.removeEventListener('abort', aborted);
      resolve(why);
    };
    const aborted = () => done('abort');
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
    if (signal?.aborted) return done('abort');
    signal?.addEventListener('abort', aborted, { once: true });
    void also?.then(done);
  });
}

const SUPERVISION_FLAGS = {
  'max-restarts': { type: 'string' },
  'restart-window-ms': { type: 'string' },
  'memory-limit': { type: 'string' },
  'cpu-budget-ms': { type: 'string' },
} as const;

function intFlag(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) throw new Error(`[vigil] [cli] --${name} must be an integer ${min}..${max}, got "${text}"`);
  return n;
}

/** The supervisor's policy and the engine's limits from --max-restarts, --restart-window-ms, --memory-limit, --cpu-budget-ms. */
function supervision(values: Partial<Record<keyof typeof SUPERVISION_FLAGS, string>>): {
  maxRestarts?: number;
  restartWindowMs?: number;
  engine: NonNullable<SimCameraOptions['engine']>;
} {
  const engine: NonNullable<SimCameraOptions['engine']> = {};
  const memory = intFlag('memory-limit', values['memory-limit'], 64 * 1024, 2 ** 31);
  const cpu = intFlag('cpu-budget-ms', values['cpu-budget-ms'], 1, 3_600_000);
  if (memory !== undefined) engine.memoryLimitBytes = memory;
  if (cpu !== undefined) engine.cpuBudgetMs = cpu;
  return {
    maxRestarts: intFlag('max-restarts', values['max-restarts'], 0, 1_000_000),
    restartWindowMs: intFlag('restart-window-ms', values['restart-window-ms'], 1, 2_147_483_647),
    engine,
  };
}

/** The supervisor's lines only: what `vigil demo` logs under its live table. */
function supervisorLines(write: (line: string) => void): LogSink {
  return (r) => {
    if (r.message.startsWith('[host-sim] [supervisor] ')) write(formatLogRecord(r));
  };
}

function writeRestarts(tag: string, fleet: SimFleet): void {
  const text = formatRestarts(fleet);
  if (text) process.stderr.write(`[vigil] [${tag}] ${text}\n`);
}

async function runSim(argv: string[], signal?: AbortSignal): Promise<number> {
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
      ...SUPERVISION_FLAGS,
    },
    strict: true,
  });
  const cliFaults = (values.fault ?? []).map(parseFaultSpec);
  if (!values.profile) return fail('--profile is required (see `vigil profiles`)');
  if (!values.broker) return fail('--broker is required, e.g. mqtt://127.0.0.1:1883');
  const broker = parseBrokerUrl(values.broker);
  const interval = parseInterval(values.interval);
  const policy = supervision(values);
  const bundlePath = resolve(values.bundle ?? DEFAULT_BUNDLE);
  requireBundle(bundlePath);
  const profiles = values.profile === 'all' ? listProfiles().map((n) => loadProfile(n)) : [loadProfile(values.profile)];
  const count = values.count === undefined ? profiles.length : Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 100_000) return fail(`--count must be 1..100000, got "${values.count}"`);
  const stateDir = values.state ? resolve(values.state) : mkdtempSync(join(tmpdir(), 'vigil-sim-'));
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
  try {
    cameras = await startSimFleet({
      profiles,
      count,
      bundlePath,
      broker,
      stateRoot: stateDir,
      overrides: interval ? { IntervalSec: String(interval) } : {},
      log: lineLogSink((line) => process.stderr.write(line + '\n'), count > 20 ? 'warn' : 'info'),
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
  process.stderr.write(`[vigil] [sim] ${what} reporting to ${values.broker}; Ctrl-C stops\n`);
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
  const why = await untilSignal(signal, gaveUp);
  script?.stop();
  if (why === 'gave-up') process.stderr.write('[vigil] [sim] the supervisor gave up on every camera (crash loop); exiting with code 3\n');
  await fleet.stop();
  writeRestarts('sim', fleet);
  if (!values.state) rmSync(stateDir, { recursive: true, force: true });
  return why === 'gave-up' ? 3 : 0;
}

async function runProfiles(): Promise<number> {
  for (const name of listProfiles()) {
    const p = loadProfile(name);
    process.stdout.write(`${name.padEnd(14)} ${p.data.identity.serialNumber}  ${p.data.identity.prodNbr.padEnd(16)} AXIS OS ${p.data.os.version.padEnd(11)} ${p.data.description}\n`);
  }
  return 0;
}

async function runDemo(argv: string[], signal?: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '1883' },
      host: { type: 'string', default: '127.0.0.1' },
      interval: { type: 'string', default: '10' },
      http: { type: 'string', default: '127.0.0.1:8080' },
      'no-table': { type: 'boolean', default: false },
      bundle: { type: 'string' },
      ...SUPERVISION_FLAGS,
    },
    strict: true,
  });
  const policy = supervision(values);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return fail(`--port must be 0..65535, got "${values.port}"`);
  const interval = parseInterval(values.interval) as number;
  const bundlePath = resolve(values.bundle ?? DEFAULT_BUNDLE);
  requireBundle(bundlePath);

  const httpMatch = /^([^:]+|\[[^\]]+\]):(\d+)$/.exec(values.http);
  if (!httpMatch || Number(httpMatch[2]) > 65535) return fail(`--http must look like HOST:PORT, got "${values.http}"`);

  const demo = await startDemo({
    bundlePath,
    broker: { host: values.host, port },
    http: { host: httpMatch[1].replace(/^\[|\]$/g, ''), port: Number(httpMatch[2]) },
    intervalSec: interval,
    log: values['no-table'] ? lineLogSink((line) => process.stderr.write(line + '\n'), 'info') : supervisorLines((line) => process.stderr.write(line + '\n')),
    ...policy,
  });
  process.stderr.write(`[vigil] [demo] broker listening on ${demo.broker.url}\n`);
  process.stderr.write(`[vigil] [demo] dashboard at ${demo.fleet.url}\n`);
  process.stderr.write(`[vigil] [demo] ${demo.cameras.length} simulated cameras reporting every ${interval} s; Ctrl-C stops\n`);
  const table = new FleetTable({ broker: { host: demo.broker.host, port: demo.broker.port }, live: !values['no-table'] && process.stdout.isTTY === true });
  await table.start();
  const printer = values['no-table'] || process.stdout.isTTY ? null : setInterval(() => process.stdout.write(table.render() + '\n\n'), interval * 1000);
  await untilSignal(signal);
  if (printer) clearInterval(printer);
  process.stderr.write('[vigil] [demo] stopping cameras…\n');
  await table.stop();
  await demo.stop();
  writeRestarts('demo', demo.cameras);
  return 0;
}
