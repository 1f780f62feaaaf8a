/**
 * `vigil fleet` and `vigil status`. cli/main.ts dispatches to runFleet / runStatus; both return the
 * exit code (0 ok, 1 failure, 2 usage).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { FleetConsumer, type CameraView } from './consumer';
import { loadTables } from './data';
import { BROKER_FLAGS, BROKER_USAGE, brokerConnection, type BrokerConnection } from './broker-flags';
import { startFleet } from './fleet';
import { silentLog, stderrLog } from './log';
import { COMMAND_USAGE, runCommand, runKeygen } from './command-cli';
import { createCommandSigner, type CommandSigner } from './command-signing';
import { RETIRE_USAGE, runRetire } from './retire-command';
import { runUser, USER_USAGE } from './auth/user-command';
import { dirname, join } from 'node:path';
import { SqliteStore } from './store/sqlite';

interface Io {
  out: Writable;
  err: Writable;
}
const stdio: Io = { out: process.stdout, err: process.stderr };

export const FLEET_USAGE = `usage: vigil fleet --broker URL [--db PATH] [--http HOST:PORT] [--shared GROUP] [options]

Consumes the camera fleet's state, report and event messages, stores them, evaluates them
(AXIS OS track and support, advisories, hardening, integrity) and serves a dashboard.

  --broker URL            mqtt://host:port or mqtts://… (required)
  --db PATH|URL           SQLite file (default ./vigil-fleet.db; ':memory:' keeps nothing), or
                          postgres://user@host/db: one PostgreSQL shared by any number of consumers
                          (the password from PGPASSWORD or ~/.pgpass, never only in the URL)
  --http HOST:PORT        dashboard, JSON API and /metrics (default 127.0.0.1:8080; 'off' for none)
  --shared GROUP          MQTT 5 shared subscriptions ($share/GROUP/…): consumers of one group split the
                          messages; with a PostgreSQL --db they keep one truth (docs/scale.md)
  --client-id ID          this consumer's MQTT client id (default: one derived from host, --db and
                          --shared); consumers sharing from one host need one each
  --prefix PREFIX         topic prefix (default vigil/v1)
  --data DIR              lifecycle.json, advisories.json, actions.json (default: the bundled fleet/data/);
                          reloaded when they change, a bad change keeps the tables in use
${BROKER_USAGE}
  --missing-intervals N   a camera is missing after N report intervals without a report (default 3)
  --retention-days N      history kept (default 30)
  --max-payload BYTES     larger payloads are quarantined (default 131072)
  --allow-host NAME       a host name the dashboard answers to besides IP addresses, localhost and the
                          --http address (against DNS rebinding); repeatable or comma-separated
  --users FILE            dashboard accounts (vigil fleet user add): then every page, /api/* and /metrics
                          need a login (or Authorization: Basic); viewers read, operators also act
  --https-cert FILE       serve the dashboard over HTTPS with this PEM certificate (chain included)…
  --https-key FILE        …and this PEM private key (both or neither)
  --audit-log FILE        operator actions, one JSON line each (default vigil-audit.jsonl beside the
                          --db file; in memory only with --db :memory:)
  --insecure-no-auth      serve a non-loopback --http address without --users (only behind a proxy that
                          authenticates); without it, that is refused
  --command-key FILE      the fleet's P-256 private key (vigil fleet keygen): the dashboard's operator
                          commands are signed with it (cameras with a CommandKey refuse unsigned ones)
  --command-counter-file FILE
                          keeps the signing counter so it never goes back across restarts
  --webhook URL           POST each alert there (JSON, signed); repeatable
  --webhook-secret-file FILE
                          the webhooks' HMAC-SHA256 key (else VIGIL_WEBHOOK_SECRET; never on the command line)
  --alert-days N          alert when support ends within N days (default lifecycle.json's endingSoonDays)
  --quiet-minutes N       a cleared condition that returns within N minutes does not alert again (default 60)
  --alerts-mqtt on|off    publish alerts on <prefix>/fleet/alert (default on)
  --verbose               debug logging
  -h, --help              this text

${RETIRE_USAGE}
${COMMAND_USAGE}
${USER_USAGE}`;

export const STATUS_USAGE = `usage: vigil status --broker URL [--username NAME] [--prefix PREFIX] [--wait MS]

Prints the fleet table from the broker's retained state and reports, evaluated like the dashboard.
It connects with a client id of its own (vigil-status-…) and a clean session, so it never takes a
consumer's session; under use_username_as_clientid give it a user of its own (fleet-status in
docs/broker-acl.md), not a consumer's.

  --broker URL            mqtt://host:port or mqtts://… (required)
  --prefix PREFIX         topic prefix (default vigil/v1)
  --wait MS               how long to wait at most for retained messages (default 3000)
${BROKER_USAGE}
  -h, --help              this text
`;

type Flags = Record<string, string | true>;

function parse(argv: string[], valued: string[], bool: string[]): Flags | string {
  const flags: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      flags.help = true;
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.startsWith('--') ? a.slice(2, eq > 0 ? eq : undefined) : null;
    if (name === null) return `unexpected argument "${a}"`;
    if (bool.includes(name)) flags[name] = true;
    else if (valued.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || (eq < 0 && v.startsWith('--'))) return `--${name} needs a value`;
      flags[name] = v;
    } else return `unknown option --${name}`;
  }
  return flags;
}

function int(flags: Flags, name: string, min: number): number | undefined | string {
  const v = flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) return `--${name} must be an integer ≥ ${min}, got "${v}"`;
  return n;
}

export function parseHostPort(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

function brokerProblem(url: string): string | null {
  try {
    const u = new URL(url);
    if (!['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'tls:', 'ws:', 'wss:'].includes(u.protocol)) return `--broker: unsupported scheme ${u.protocol}`;
    return null;
  } catch {
    return `--broker: "${url}" is not a URL (e.g. mqtt://127.0.0.1:1883)`;
  }
}

/** The broker's URL, credentials and TLS files, or null once the one line saying what is wrong was written. */
function connection(url: string, flags: Flags, io: Io): BrokerConnection | null {
  try {
    return brokerConnection(url, flags);
  } catch (err) {
    io.err.write(`${(err as Error).message}\n`);
    return null;
  }
}

/** Every value of a repeatable option (`--name V` or `--name=V`), and the arguments without them. */
function takeRepeated(argv: string[], name: string): { values: string[]; rest: string[] } | string {
  const values: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) return `--${name} needs a value`;
      values.push(v);
    } else if (argv[i].startsWith(`--${name}=`)) values.push(argv[i].slice(name.length + 3));
    else rest.push(argv[i]);
  }
  return { values, rest };
}

export async function runFleet(argv: string[], io: Io = stdio, signal?: AbortSignal): Promise<number> {
  if (argv[0] === 'retire' || argv[0] === 'unretire') return runRetire(argv[0], argv.slice(1), io);
  if (argv[0] === 'command') return runCommand(argv.slice(1), io);
  if (argv[0] === 'keygen') return runKeygen(argv.slice(1), io);
  if (argv[0] === 'user') return runUser(argv.slice(1), io);
  const hooks = takeRepeated(argv, 'webhook');
  if (typeof hooks === 'string') {
    io.err.write(`[vigil] [fleet] ${hooks}\n\n${FLEET_USAGE}`);
    return 2;
  }
  const allowed = takeRepeated(hooks.rest, 'allow-host');
  if (typeof allowed === 'string') {
    io.err.write(`[vigil] [fleet] ${allowed}\n\n${FLEET_USAGE}`);
    return 2;
  }
  const allowHosts = allowed.values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  const flags = parse(allowed.rest, ['broker', 'db', 'http', 'shared', 'client-id', 'prefix', 'data', ...BROKER_FLAGS, 'missing-intervals', 'retention-days', 'max-payload', 'webhook-secret-file', 'alert-days', 'quiet-minutes', 'alerts-mqtt', 'users', 'https-cert', 'https-key', 'audit-log', 'command-key', 'command-counter-file'], ['verbose', 'insecure-no-auth']);
  const usage = (msg: string) => {
    io.err.write(`[vigil] [fleet] ${msg}\n\n${FLEET_USAGE}`);
    return 2;
  };
  if (typeof flags === 'string') return usage(flags);
  if (flags.help) {
    io.out.write(FLEET_USAGE);
    return 0;
  }
  if (typeof flags.broker !== 'string') return usage('--broker URL is required');
  const bp = brokerProblem(flags.broker);
  if (bp) return usage(bp);
  let http: { host: string; port: number } | null = { host: '127.0.0.1', port: 8080 };
  if (flags.http === 'off') http = null;
  else if (typeof flags.http === 'string') {
    http = parseHostPort(flags.http);
    if (!http) return usage(`--http must be HOST:PORT, got "${flags.http}"`);
  }
  const nums: Record<string, number | undefined> = {};
  for (const [name, min] of [['missing-intervals', 1], ['retention-days', 1], ['max-payload', 1024], ['alert-days', 1], ['quiet-minutes', 0]] as const) {
    const v = int(flags, name, min);
    if (typeof v === 'string') return usage(v);
    nums[name] = v;
  }
  for (const url of hooks.values) {
    try {
      if (!['http:', 'https:'].includes(new URL(url).protocol)) return usage(`--webhook must be an http:// or https:// URL, got "${url}"`);
    } catch {
      return usage(`--webhook must be an http:// or https:// URL, got "${url}"`);
    }
  }
  if (flags['alerts-mqtt'] !== undefined && flags['alerts-mqtt'] !== 'on' && flags['alerts-mqtt'] !== 'off') return usage('--alerts-mqtt must be on or off');
  let webhookSecret = process.env.VIGIL_WEBHOOK_SECRET || null;
  if (typeof flags['webhook-secret-file'] === 'string') {
    try {
      webhookSecret = readFileSync(flags['webhook-secret-file'], 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      io.err.write(`[vigil] [fleet] cannot read the webhook secret: ${(err as Error).message}\n`);
      return 1;
    }
    if (!webhookSecret) return usage(`--webhook-secret-file ${flags['webhook-secret-file']} is empty`);
  }
  if (flags.shared !== undefined && (typeof flags.shared !== 'string' || !/^[^/+#]+$/.test(flags.shared))) return usage('--shared GROUP must be a name without /, + or #');
  if ((typeof flags['https-cert'] === 'string') !== (typeof flags['https-key'] === 'string')) return usage('--https-cert and --https-key go together');
  const tls = typeof flags['https-cert'] === 'string' && typeof flags['https-key'] === 'string' ? { certFile: flags['https-cert'], keyFile: flags['https-key'] } : undefined;
  const db = typeof flags.db === 'string' ? flags.db : './vigil-fleet.db';
  const auditLog = typeof flags['audit-log'] === 'string' ? flags['audit-log'] : db === ':memory:' || db === '' ? null : /^postgres(ql)?:/.test(db) ? './vigil-audit.jsonl' : join(dirname(db), 'vigil-audit.jsonl');
  let signCommand: CommandSigner | undefined;
  if (typeof flags['command-key'] === 'string') {
    try {
      signCommand = createCommandSigner(readFileSync(flags['command-key'], 'utf8'), typeof flags['command-counter-file'] === 'string' ? flags['command-counter-file'] : undefined);
    } catch (err) {
      const msg = (err as Error).message;
      io.err.write(`${msg.startsWith('[vigil]') ? msg : `[vigil] [fleet] cannot use the command key ${flags['command-key']}: ${msg}`}\n`);
      return 1;
    }
  } else if (flags['command-counter-file'] !== undefined) return usage('--command-counter-file goes with --command-key');
  const broker = connection(flags.broker, flags, io);
  if (!broker) return 1;
  const log = stderrLog(flags.verbose ? 'debug' : 'info');
  let fleet;
  // A broker that is down is waited for (not fatal): a stop meanwhile (Ctrl-C, a process manager's SIGTERM) is a
  // clean exit with one line, not a death by signal. Nothing is consumed yet, so there is nothing to flush.
  const stoppedWaiting = () => {
    io.err.write(`[vigil] [fleet] stopped before ${broker.url} could be reached\n`);
    process.exit(0);
  };
  process.once('SIGINT', stoppedWaiting);
  process.once('SIGTERM', stoppedWaiting);
  try {
    fleet = await startFleet({
      brokerUrl: broker.url, username: broker.username, password: broker.password, tls: broker.tls, db, auditLog, signCommand,
      http: http && { ...http, allowHosts, tls, usersFile: typeof flags.users === 'string' ? flags.users : null, insecureNoAuth: flags['insecure-no-auth'] === true },
      clientId: typeof flags['client-id'] === 'string' ? flags['client-id'] : undefined,
      shared: typeof flags.shared === 'string' ? flags.shared : null, prefix: typeof flags.prefix === 'string' ? flags.prefix : undefined,
      dataDir: typeof flags.data === 'string' ? flags.data : undefined,
      missingIntervals: nums['missing-intervals'], retentionDays: nums['retention-days'], maxPayloadBytes: nums['max-payload'], log,
      alerts: { webhooks: hooks.values, webhookSecret, supportEndingDays: nums['alert-days'], quietMinutes: nums['quiet-minutes'], mqtt: flags['alerts-mqtt'] !== 'off' },
    });
  } catch (err) {
    io.err.write(`${(err as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', stoppedWaiting);
    process.off('SIGTERM', stoppedWaiting);
  }
  io.out.write(`[vigil] [fleet] consuming ${broker.url}${fleet.url ? `; dashboard at ${fleet.url}` : ''}\n`);
  await new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    signal?.addEventListener('abort', done, { once: true });
  });
  io.out.write('[vigil] [fleet] stopping\n');
  await fleet.stop();
  return 0;
}

export function renderTable(cameras: CameraView[]): string {
  const header = ['CAMERA', 'MODEL', 'AXIS OS', 'TRACK', 'SUPPORT', 'STATUS', 'POSTURE', 'FINDINGS H/M/L', 'ADVISORIES', 'INTEGRITY'];
  const rows = cameras.map((c) => {
    const e = c.evaluation;
    const f = e?.hardeningPenalty === null || !e ? '-' : `${e.findingCounts.high}/${e.findingCounts.medium}/${e.findingCounts.low}`;
    return [c.serial, c.model ?? '?', c.osVersion ?? '?', e?.trackName ?? '?', e?.support ?? 'unknown', c.status, e?.posture ?? 'unknown', f,
      String(e?.advisories.length ?? 0), e?.integrity ?? 'unknown'];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}

export async function runStatus(argv: string[], io: Io = stdio): Promise<number> {
  const flags = parse(argv, ['broker', 'prefix', 'wait', ...BROKER_FLAGS], []);
  const usage = (msg: string) => {
    io.err.write(`[vigil] [fleet] ${msg}\n\n${STATUS_USAGE}`);
    return 2;
  };
  if (typeof flags === 'string') return usage(flags);
  if (flags.help) {
    io.out.write(STATUS_USAGE);
    return 0;
  }
  if (typeof flags.broker !== 'string') return usage('--broker URL is required');
  const bp = brokerProblem(flags.broker);
  if (bp) return usage(bp);
  const wait = int(flags, 'wait', 100);
  if (typeof wait === 'string') return usage(wait);
  const broker = connection(flags.broker, flags, io);
  if (!broker) return 1;
  const store = new SqliteStore(':memory:');
  // A one-shot: a broker that cannot be reached is an error at once, not waited for.
  const consumer = new FleetConsumer({
    brokerUrl: broker.url, username: broker.username, password: broker.password, tls: broker.tls, waitForBroker: false,
    store, tables: loadTables(), prefix: typeof flags.prefix === 'string' ? flags.prefix : undefined, sweepMs: 0, log: silentLog,
    // Its own id and a clean session: it must never resume (and wipe) a consumer's persistent session.
    clientId: `vigil-status-${process.pid}-${randomBytes(4).toString('hex')}`, clean: true, watchBrokerDrops: false,
  });
  try {
    await consumer.start();
    // Retained messages arrive right after SUBACK; stop once they have gone quiet.
    const deadline = Date.now() + (wait ?? 3000);
    let last = Date.now();
    const touch = () => (last = Date.now());
    consumer.on('camera', touch);
    consumer.on('quarantine', touch);
    while (Date.now() < deadline && Date.now() - last < 400) await new Promise((r) => setTimeout(r, 50));
    const cams = consumer.cameras();
    io.out.write(cams.length ? renderTable(cams) + '\n' : `[vigil] [fleet] no cameras under ${consumer.prefix}/ on ${broker.url}\n`);
    return 0;
  } catch (err) {
    io.err.write(`${(err as Error).message}\n`);
    return 1;
  } finally {
    await consumer.stop();
    await store.close();
  }
}
