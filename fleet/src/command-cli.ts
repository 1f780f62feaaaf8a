/**
 * `vigil fleet command SERIAL NAME …`: sends one command, signed with the fleet's key (command-signing.ts), to
 * `<prefix>/<serial>/cmd/<name>` and prints the camera's answer from `cmd-result`. `vigil fleet keygen --out FILE`:
 * makes the key pair and prints the public key the cameras take in their CommandKey parameter.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Writable } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { createCommandSigner, generateCommandKey } from './command-signing';
import { COMMAND_INTERVAL_MIN_SEC, REPORT_INTERVAL_MAX_SEC } from '../../agent/src/interval-bounds';

export const COMMAND_USAGE = `usage: vigil fleet command SERIAL NAME --key FILE --broker URL [--interval-sec N] [options]
       vigil fleet keygen --out FILE

command: sends NAME (set-interval, rebaseline, rebirth, report-now) to one camera, signed with the
fleet's P-256 key, and prints the camera's answer. Exit 0 when the camera ran it, 1 when it refused or
did not answer.
  --key FILE           the fleet's private key (PEM, from keygen)
  --broker URL         mqtt://host:port or mqtts://… (required)
  --interval-sec N     the new report interval (set-interval only; 10..3600)
  --id ID              the command's id (default: one made up)
  --counter-file FILE  keeps the signing counter, so it never goes back across runs (default: none;
                       the counter is the clock's ms, which is enough while the clock does not go back)
  --prefix PREFIX      topic prefix (default vigil/v1)
  --username NAME      broker user; the password from VIGIL_BROKER_PASSWORD or --password-file
  --password-file FILE the broker password (first line)
  --wait MS            how long to wait for the answer (default 15000)
keygen: writes a new private key to FILE (mode 0600, never over an existing file) and prints the
public key: set it as the CommandKey parameter of every camera (vigil sim --command-key KEY).
`;

interface Io {
  out: Writable;
  err: Writable;
}

const VALUED = ['key', 'broker', 'interval-sec', 'id', 'counter-file', 'prefix', 'username', 'password-file', 'wait', 'out'];

interface Parsed {
  flags: Record<string, string>;
  args: string[];
  help: boolean;
}

function parseArgs(argv: string[]): Parsed | string {
  const flags: Record<string, string> = {};
  const args: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') help = true;
    else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq > 0 ? eq : undefined);
      if (!VALUED.includes(name)) return `unknown option --${name}`;
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || (eq < 0 && v.startsWith('--'))) return `--${name} needs a value`;
      flags[name] = v;
    } else args.push(a);
  }
  return { flags, args, help };
}

/** Says a usage problem with the usage text; exit code 2. */
const usageError = (io: Io) => (msg: string) => {
  io.err.write(`[vigil] [fleet] ${msg}\n\n${COMMAND_USAGE}`);
  return 2;
};

/** The parsed arguments, or the exit code when that already decided it (a usage problem: 2; --help: 0). */
function parseOrExit(argv: string[], io: Io): Parsed | number {
  const p = parseArgs(argv);
  if (typeof p === 'string') return usageError(io)(p);
  if (p.help) {
    io.out.write(COMMAND_USAGE);
    return 0;
  }
  return p;
}

export function runKeygen(argv: string[], io: Io): number {
  const usage = usageError(io);
  const p = parseOrExit(argv, io);
  if (typeof p === 'number') return p;
  if (!p.flags.out || p.args.length || Object.keys(p.flags).length > 1) return usage('keygen takes only --out FILE');
  const { privateKeyPem, publicKey } = generateCommandKey();
  try {
    writeFileSync(p.flags.out, privateKeyPem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    io.err.write(`[vigil] [fleet] cannot write the key to ${p.flags.out}: ${(err as Error).message}\n`);
    return 1;
  }
  io.out.write(`[vigil] [fleet] private key written to ${p.flags.out}; set this public key as each camera's CommandKey:\n${publicKey}\n`);
  return 0;
}

export async function runCommand(argv: string[], io: Io): Promise<number> {
  const usage = usageError(io);
  const p = parseOrExit(argv, io);
  if (typeof p === 'number') return p;
  const { flags } = p;
  const [serial, name, extra] = p.args;
  if (!serial || !name || extra !== undefined) return usage('command takes SERIAL and NAME');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(serial)) return usage(`"${serial}" is not a camera serial (letters, digits, _ and -)`);
  if (!['set-interval', 'rebaseline', 'rebirth', 'report-now'].includes(name)) return usage(`unknown command "${name}"`);
  if (!flags.key) return usage('--key FILE is required');
  if (!flags.broker) return usage('--broker URL is required');
  const body: Record<string, unknown> = { id: flags.id ?? `cli-${Date.now().toString(36)}` };
  if (name === 'set-interval') {
    const n = Number(flags['interval-sec']);
    if (!Number.isInteger(n) || n < COMMAND_INTERVAL_MIN_SEC || n > REPORT_INTERVAL_MAX_SEC) {
      return usage(`set-interval needs --interval-sec from ${COMMAND_INTERVAL_MIN_SEC} to ${REPORT_INTERVAL_MAX_SEC}, got "${flags['interval-sec'] ?? ''}"`);
    }
    body.intervalSec = n;
  } else if (flags['interval-sec'] !== undefined) return usage('--interval-sec is for set-interval only');
  const wait = Number(flags.wait ?? 15000);
  if (!Number.isInteger(wait) || wait < 100) return usage(`--wait must be an integer ≥ 100, got "${flags.wait}"`);
  let password = process.env.VIGIL_BROKER_PASSWORD;
  let signed: Record<string, unknown>;
  try {
    if (flags['password-file']) password = readFileSync(flags['password-file'], 'utf8').split('\n')[0];
    signed = createCommandSigner(readFileSync(flags.key, 'utf8'), flags['counter-file'])(serial, name, body);
  } catch (err) {
    io.err.write(`${(err as Error).message.replace(/^(?!\[vigil\])/, '[vigil] [fleet] ')}\n`);
    return 1;
  }
  const prefix = (flags.prefix ?? 'vigil/v1').replace(/\/+$/, '');
  let client: MqttClient | null = null;
  try {
    // Its own client id, clean: never a consumer's session (under use_username_as_clientid the ACL decides).
    client = await mqtt.connectAsync(flags.broker, {
      clientId: `vigil-cmd-${hostname()}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      clean: true, reconnectPeriod: 0, connectTimeout: Math.min(wait, 10_000), username: flags.username, password,
    });
    const c = client;
    const answer = new Promise<Record<string, unknown> | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), wait);
      c.on('message', (_topic, payload) => {
        try {
          const r = JSON.parse(payload.toString()) as Record<string, unknown>;
          if (r.id === body.id && r.command === name) {
            clearTimeout(timer);
            resolve(r);
          }
        } catch {
          // not an answer of ours
        }
      });
    });
    await c.subscribeAsync(`${prefix}/${serial}/cmd-result`, { qos: 1 });
    await c.publishAsync(`${prefix}/${serial}/cmd/${name}`, JSON.stringify(signed), { qos: 1, retain: false });
    const r = await answer;
    if (!r) {
      io.err.write(`[vigil] [fleet] ${serial} did not answer ${name} ${body.id} within ${wait} ms (offline, or another prefix?)\n`);
      return 1;
    }
    if (r.ok !== true) {
      io.err.write(`[vigil] [fleet] ${serial} refused ${name} ${body.id}: ${String(r.code)} ${String(r.error)}\n`);
      return 1;
    }
    io.out.write(`[vigil] [fleet] ${serial} ran ${name} ${body.id}: ${JSON.stringify(r.result)}\n`);
    return 0;
  } catch (err) {
    io.err.write(`[vigil] [fleet] cannot send ${name} through ${flags.broker}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await client?.endAsync(true).catch(() => {});
  }
}
