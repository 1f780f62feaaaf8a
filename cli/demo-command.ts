/**
 * `vigil demo`: the demo's flags, then the demo (demo.ts) with the dashboard's URL and the live fleet table.
 * Usage errors are thrown; cli/main.ts prints them as `[vigil] [cli] …` and exits 2.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { DEFAULT_BUNDLE, SUPERVISION_FLAGS, parseInterval, requireBundle, supervision, supervisorLines, untilSignal, writeRestarts } from '../host-sim/src/cli-flags';
import { lineLogSink } from '../host-sim/src/sim-host';
import { StatusTable as FleetTable } from '../fleet/src/status-table';
import { startDemo } from './demo';

export const DEMO_USAGE = `vigil demo [--port N] [--host H] [--http H:P] [--interval S] [--no-table] [--max-restarts N] …

Starts an embedded MQTT broker (Aedes) on H:N (default 127.0.0.1:1883), the fleet consumer with its
dashboard (default http://127.0.0.1:8080), runs every bundled profile as a simulated camera inside
QuickJS-wasm, and prints the dashboard's URL and a live table (camera, model, AXIS OS, findings,
integrity, online). Ctrl-C stops the cameras (each publishes "offline"), the consumer and the broker.
Cameras run their profile's faults.script: the tampered camera has a file changed at 45 s, the exposed
camera a new listener at 60 s, so the dashboard shows events without anyone touching a camera.
The broker enforces docs/broker-acl.md with logins generated for this run and never printed: each camera
its own (user name = serial = client id), the consumer and the table theirs; anonymous clients are refused.

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
`;

/** `signal` ends the demo as SIGINT does (for in-process callers and tests). */
export async function runDemo(argv: string[], signal?: AbortSignal): Promise<number> {
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
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got "${values.port}"`);
  const interval = parseInterval(values.interval) as number;
  const bundlePath = resolve(values.bundle ?? DEFAULT_BUNDLE);
  requireBundle(bundlePath);

  const httpMatch = /^([^:]+|\[[^\]]+\]):(\d+)$/.exec(values.http);
  if (!httpMatch || Number(httpMatch[2]) > 65535) throw new Error(`--http must look like HOST:PORT, got "${values.http}"`);

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
  process.stderr.write('[vigil] [demo] the broker admits only the logins generated for this run (docs/broker-acl.md): each camera its own, the consumer and this table theirs\n');
  const table = new FleetTable({ broker: { host: demo.broker.host, port: demo.broker.port }, ...demo.credentials.status, live: !values['no-table'] && process.stdout.isTTY === true });
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
