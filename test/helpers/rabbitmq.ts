/**
 * Starts Debian's RabbitMQ (rabbitmq-server 3.10, with its rabbitmq_mqtt plugin) as a private node on loopback
 * for a test: its own node name, data, logs, plugins file, config and Erlang cookie (HOME) in a temp dir, and
 * its own epmd on a free loopback port, so it clashes neither with another test's node nor with a system one.
 * .ci/run installs the package; a missing binary is an error, not a skip.
 *
 * RabbitMQ takes seconds to start (16 s measured on the shared 2-core machine, 5–8 s when idle): call it in a
 * beforeAll with its own timeout (RABBITMQ_START_TIMEOUT_MS). stop() asks the node to halt (SIGTERM), then
 * kills its process group if it has not gone within a bound, then stops the epmd it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, freePort } from './ports';

export const RABBITMQ_SERVER_BIN = '/usr/lib/rabbitmq/bin/rabbitmq-server';
export const EPMD_BIN = '/usr/bin/epmd';
/** How long a test waits for the MQTT listener; a beforeAll calling startRabbitMq needs more than this. */
export const RABBITMQ_START_MS = 90_000;
export const RABBITMQ_START_TIMEOUT_MS = RABBITMQ_START_MS + 30_000;
const STOP_MS = 30_000;

export interface RabbitMq {
  host: string;
  /** The MQTT listener. */
  port: number;
  url: string;
  dir: string;
  /** Real ms from spawn to the MQTT port accepting connections. */
  startedInMs: number;
  log(): string;
  stop(): Promise<void>;
}

/** n distinct free loopback ports. */
export const freePorts = async (n: number): Promise<number[]> => {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return Array.from(ports);
};

export const exitOf = (child: ChildProcess): Promise<void> => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

export const within = (ms: number, p: Promise<void>): Promise<boolean> =>
  new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });

export async function startRabbitMq(options: { port?: number } = {}): Promise<RabbitMq> {
  if (!existsSync(RABBITMQ_SERVER_BIN)) throw new Error(`[vigil] [test] ${RABBITMQ_SERVER_BIN} is missing: apt-get install rabbitmq-server (.ci/apt-packages.txt)`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rabbitmq-'));
  const [amqpPort, distPort, epmdPort, freeMqtt] = await freePorts(4);
  const port = options.port ?? freeMqtt;
  writeFileSync(
    join(dir, 'rabbitmq.conf'),
    [
      `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
      `mqtt.listeners.tcp.default = 127.0.0.1:${port}`,
      // anonymous MQTT clients log in as the default user (guest), which may connect over loopback only
      'mqtt.allow_anonymous = true',
      'log.console = true',
      'log.console.level = warning',
      'log.file = false',
    ].join('\n') + '\n',
  );
  writeFileSync(join(dir, 'enabled_plugins'), '[rabbitmq_mqtt].\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir, // the Erlang cookie is made here
    RABBITMQ_NODENAME: `vigil-${port}@localhost`,
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins-expand'),
    RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
    RABBITMQ_DIST_PORT: String(distPort),
    // the distribution listener on loopback too (it listens on every interface by default)
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  let output = '';
  // Our own epmd, as a child (not the -daemon erl would start, which outlives the node).
  const epmd = spawn(EPMD_BIN, ['-port', String(epmdPort), '-address', '127.0.0.1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  epmd.stderr?.on('data', (d) => (output += `[epmd] ${d}`));
  const epmdDeadline = Date.now() + 10_000;
  while (!(await canConnect(epmdPort))) {
    if (epmd.exitCode !== null || Date.now() > epmdDeadline) {
      epmd.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`[vigil] [test] epmd did not listen on ${epmdPort}: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const t0 = Date.now();
  // detached: its own process group, so that stop() can end the Erlang VM and its helpers together
  const child = spawn(RABBITMQ_SERVER_BIN, [], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = exitOf(child);
  let spawnError: Error | null = null;
  child.once('error', (e) => (spawnError = e));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGTERM'); // RabbitMQ halts gracefully on SIGTERM
      } catch {
        // already gone
      }
      if (!(await within(STOP_MS, exited))) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await exited;
      }
    }
    epmd.kill('SIGTERM');
    await within(5_000, exitOf(epmd));
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = t0 + RABBITMQ_START_MS;
  for (;;) {
    if (spawnError) {
      await stop();
      throw new Error(`[vigil] [test] cannot start ${RABBITMQ_SERVER_BIN}: ${(spawnError as Error).message}`);
    }
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`[vigil] [test] rabbitmq-server exited with ${child.exitCode}: ${output}`);
    }
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`[vigil] [test] RabbitMQ did not listen for MQTT on ${port} within ${RABBITMQ_START_MS / 1000} s: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host: '127.0.0.1', port, url: `mqtt://127.0.0.1:${port}`, dir, startedInMs: Date.now() - t0, log: () => output, stop };
}
