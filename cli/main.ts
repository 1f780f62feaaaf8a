/**
 * The `vigil` command line (bin/vigil.mjs): the commands and their help, dispatched to the part that owns
 * each one: the demo here in cli/, `sim` and `profiles` in host-sim/, `fleet` and `status` in fleet/.
 */
import { FLEET_USAGE, STATUS_USAGE, runFleet, runStatus } from '../fleet/src/cli';
import { PROFILES_USAGE, SIM_USAGE, runProfiles, runSim } from '../host-sim/src/cli';
import { DEMO_USAGE, runDemo } from './demo-command';

const USAGE = `vigil — health and security agent for Axis cameras (simulator and tools)

Usage:
  vigil demo [--port N] [--http H:P] [--interval S]
                                            embedded broker + every bundled profile + fleet consumer,
                                            dashboard and live table
  vigil sim --profile NAME|DIR|all --broker URL [--count N] [--interval S] [--state DIR]
                                            run simulated cameras against a broker, each restarted
                                            when its engine stops the agent at a limit
  vigil fleet --broker URL [--db PATH] [--http HOST:PORT]
                                            the fleet consumer: store, evaluation, dashboard, API, alerts
  vigil fleet retire|unretire SERIAL        decommission a camera (asks the running consumer)
  vigil fleet command SERIAL NAME --key FILE --broker URL
                                            send one signed command and print the camera's answer
  vigil fleet keygen --out FILE             the command-signing key; prints the cameras' CommandKey
  vigil status --broker URL                 the fleet table from the broker's retained messages
  vigil profiles                            list the bundled device profiles
  vigil <command> --help                    help for one command
`;

const HELP: Record<string, string> = {
  demo: DEMO_USAGE,
  sim: SIM_USAGE,
  fleet: FLEET_USAGE,
  status: STATUS_USAGE,
  profiles: PROFILES_USAGE,
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
