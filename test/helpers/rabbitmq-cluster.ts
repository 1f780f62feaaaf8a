/**
 * A two-node RabbitMQ cluster (Debian's rabbitmq-server 3.10 with rabbitmq_mqtt) on loopback for a test: nodes
 * `vigil-a-<rand>@localhost` and `vigil-b-<rand>@localhost`, each with its own mnesia, logs, config and AMQP,
 * MQTT and distribution ports, sharing one Erlang cookie (HOME) and one epmd on a free port of their own
 * (ERL_EPMD_PORT): nodes find each other through epmd, so the two must share one, and a private port keeps
 * parallel tests (and a system epmd on 4369) apart; the epmd is our child, so nothing outlives stop().
 * Node b joins node a with rabbitmqctl (stop_app, join_cluster, start_app).
 *
 * stopNode/startNode take one node down and bring it back on the same data (it rejoins the cluster by itself).
 * A node takes 14–18 s to start on the shared 2-core machine (more on a busy one): every wait is bounded by
 * RABBITMQ_START_MS; a beforeAll calling startRabbitMqCluster needs RABBITMQ_CLUSTER_START_TIMEOUT_MS.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect } from './ports';
import { EPMD_BIN, RABBITMQ_SERVER_BIN, RABBITMQ_START_MS, exitOf, freePorts, within } from './rabbitmq';

const RABBITMQCTL_BIN = '/usr/lib/rabbitmq/bin/rabbitmqctl';
const STOP_MS = 30_000;
/** One rabbitmqctl call; the three of a join took up to 136 s together beside two CPU hogs (load 15). */
const CTL_MS = 150_000;
/** Two starts (side by side), a join (stop_app, join_cluster, start_app, MQTT again) and a check, each bounded. */
export const RABBITMQ_CLUSTER_START_TIMEOUT_MS = 2 * RABBITMQ_START_MS + 4 * CTL_MS;

export interface ClusterNode {
  /** 'a' or 'b'. */
  id: string;
  /** The Erlang node name, e.g. vigil-a-3f9c1e@localhost. */
  nodename: string;
  host: string;
  /** The MQTT listener. */
  port: number;
  url: string;
  amqpPort: number;
  distPort: number;
  /** Real ms from spawn to the MQTT port accepting, one entry per start (the first one, then each startNode). */
  startsMs: number[];
  running(): boolean;
}

export interface RabbitMqCluster {
  nodes: [ClusterNode, ClusterNode];
  dir: string;
  epmdPort: number;
  /** Real ms the join took (stop_app, join_cluster, start_app, MQTT listening again). */
  joinMs: number;
  /** Stops one node: 'graceful' (SIGTERM, RabbitMQ halts cleanly) or 'kill' (SIGKILL to its process group, a crash). */
  stopNode(id: string, how?: 'graceful' | 'kill'): Promise<void>;
  /** Starts a stopped node again on its data; resolves when its MQTT port accepts. */
  startNode(id: string): Promise<void>;
  /** Runs rabbitmqctl against a node (e.g. ['list_queues', 'name', 'type']); rejects on a non-zero exit. */
  ctl(id: string, args: string[]): Promise<string>;
  /** The running nodes as node `id` sees them (cluster_status). */
  runningNodes(id: string): Promise<string[]>;
  /** Both nodes' console output (warnings and errors), and the CLI's. */
  log(): string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** More rabbitmq.conf lines for both nodes (e.g. 'mqtt.durable_queue_type = quorum'). */
  confLines?: string[];
}

interface NodeProc {
  node: ClusterNode;
  env: NodeJS.ProcessEnv;
  child: ChildProcess | null;
  exited: Promise<void>;
}

export async function startRabbitMqCluster(options: ClusterOptions = {}): Promise<RabbitMqCluster> {
  for (const bin of [RABBITMQ_SERVER_BIN, RABBITMQCTL_BIN, EPMD_BIN]) {
    if (!existsSync(bin)) throw new Error(`[vigil] [test] ${bin} is missing: apt-get install rabbitmq-server (.ci/apt-packages.txt)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rabbitmq-cluster-'));
  const tag = randomBytes(3).toString('hex');
  const [epmdPort, ...ports] = await freePorts(7);
  // One cookie for both nodes and the CLI (HOME is the cluster dir); Erlang wants it private to its owner.
  writeFileSync(join(dir, '.erlang.cookie'), randomBytes(20).toString('hex').toUpperCase(), { mode: 0o400 });
  writeFileSync(join(dir, 'enabled_plugins'), '[rabbitmq_mqtt].\n');
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
  };
  let output = '';
  const say = (who: string, d: unknown) => (output += String(d).replace(/^(?=.)/gm, `[${who}] `));

  const procs: NodeProc[] = ['a', 'b'].map((id, i) => {
    const [amqpPort, mqttPort, distPort] = ports.slice(i * 3, i * 3 + 3);
    const nodeDir = join(dir, id);
    mkdirSync(nodeDir);
    writeFileSync(
      join(nodeDir, 'rabbitmq.conf'),
      [
        `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
        `mqtt.listeners.tcp.default = 127.0.0.1:${mqttPort}`,
        'mqtt.allow_anonymous = true',
        'log.console = true',
        'log.console.level = warning',
        'log.file = false',
        ...(options.confLines ?? []),
      ].join('\n') + '\n',
    );
    const nodename = `vigil-${id}-${tag}@localhost`;
    const env: NodeJS.ProcessEnv = {
      ...base,
      RABBITMQ_NODENAME: nodename,
      RABBITMQ_MNESIA_BASE: join(nodeDir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(nodeDir, 'log'),
      RABBITMQ_CONFIG_FILE: join(nodeDir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(nodeDir, 'advanced.config'),
      RABBITMQ_PLUGINS_EXPAND_DIR: join(nodeDir, 'plugins-expand'),
      RABBITMQ_FEATURE_FLAGS_FILE: join(nodeDir, 'feature_flags'),
      RABBITMQ_PID_FILE: join(nodeDir, 'rabbitmq.pid'),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    };
    const proc: NodeProc = { env, child: null, exited: Promise.resolve(), node: null as unknown as ClusterNode };
    proc.node = {
      id, nodename, host: '127.0.0.1', port: mqttPort, url: `mqtt://127.0.0.1:${mqttPort}`, amqpPort, distPort, startsMs: [],
      running: () => proc.child !== null && proc.child.exitCode === null && proc.child.signalCode === null,
    };
    return proc;
  });
  const procOf = (id: string): NodeProc => {
    const p = procs.find((x) => x.node.id === id);
    if (!p) throw new Error(`[vigil] [test] no cluster node '${id}'`);
    return p;
  };

  // Our own epmd, as a child (not the -daemon erl would start, which outlives the nodes).
  const epmd = spawn(EPMD_BIN, ['-port', String(epmdPort), '-address', '127.0.0.1'], { env: base, stdio: ['ignore', 'pipe', 'pipe'] });
  epmd.stderr?.on('data', (d) => say('epmd', d));
  const epmdExited = exitOf(epmd);

  const waitMqtt = async (p: NodeProc, what: string): Promise<void> => {
    const deadline = Date.now() + RABBITMQ_START_MS;
    for (;;) {
      if (what === 'start' && !p.node.running()) throw new Error(`[vigil] [test] RabbitMQ node ${p.node.nodename} exited while starting: ${output}`);
      if (await canConnect(p.node.port)) return;
      if (Date.now() > deadline) throw new Error(`[vigil] [test] RabbitMQ node ${p.node.nodename} did not listen for MQTT on ${p.node.port} within ${RABBITMQ_START_MS / 1000} s (${what}): ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const startNode = async (id: string): Promise<void> => {
    const p = procOf(id);
    if (p.node.running()) return;
    const t0 = Date.now();
    // detached: its own process group, so stopNode ends the Erlang VM and its helpers together
    const child = spawn(RABBITMQ_SERVER_BIN, [], { env: p.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d) => say(id, d));
    child.stderr?.on('data', (d) => say(id, d));
    child.once('error', (e) => say(id, `spawn error: ${e.message}\n`));
    p.child = child;
    p.exited = exitOf(child);
    await waitMqtt(p, 'start');
    p.node.startsMs.push(Date.now() - t0);
  };

  const stopNode = async (id: string, how: 'graceful' | 'kill' = 'graceful'): Promise<void> => {
    const p = procOf(id);
    const child = p.child;
    if (!child?.pid || !p.node.running()) return;
    const group = (signal: NodeJS.Signals) => {
      try {
        process.kill(-(child.pid as number), signal);
      } catch {
        // already gone
      }
    };
    group(how === 'kill' ? 'SIGKILL' : 'SIGTERM'); // RabbitMQ halts gracefully on SIGTERM
    if (!(await within(STOP_MS, p.exited))) {
      group('SIGKILL');
      await p.exited;
    }
    // the VM's helpers (erl_child_setup, inet_gethost) share its group: make sure none is left
    group('SIGKILL');
  };

  const ctl = (id: string, args: string[]): Promise<string> => {
    const p = procOf(id);
    return new Promise((resolve, reject) => {
      execFile(RABBITMQCTL_BIN, ['-n', p.node.nodename, ...args], { env: p.env, timeout: CTL_MS }, (err, stdout, stderr) => {
        say(`ctl ${id}`, `${args.join(' ')}\n${stderr}`);
        if (err) reject(new Error(`[vigil] [test] rabbitmqctl -n ${p.node.nodename} ${args.join(' ')}: ${err.message} ${stderr}`));
        else resolve(stdout);
      });
    });
  };

  const runningNodes = async (id: string): Promise<string[]> => {
    const status = JSON.parse(await ctl(id, ['cluster_status', '--formatter', 'json'])) as { running_nodes?: string[] };
    return (status.running_nodes ?? []).slice().sort();
  };

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // b first: a node that stops last is the one the other waits for at its next start; order does not matter here
      for (const p of procs.slice().reverse()) await stopNode(p.node.id);
      epmd.kill('SIGTERM');
      if (!(await within(5_000, epmdExited))) epmd.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    const epmdDeadline = Date.now() + 10_000;
    while (!(await canConnect(epmdPort))) {
      if (epmd.exitCode !== null || Date.now() > epmdDeadline) throw new Error(`[vigil] [test] epmd did not listen on ${epmdPort}: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all(procs.map((p) => startNode(p.node.id)));
    const [a, b] = procs.map((p) => p.node);
    const t0 = Date.now();
    await ctl('b', ['stop_app']);
    await ctl('b', ['join_cluster', a.nodename]);
    await ctl('b', ['start_app']);
    await waitMqtt(procOf('b'), 'join');
    const joinMs = Date.now() - t0;
    const running = await runningNodes('a');
    if (running.join() !== [a.nodename, b.nodename].sort().join()) throw new Error(`[vigil] [test] the cluster runs ${running.join(', ')}, not both nodes: ${output}`);
    return { nodes: [a, b], dir, epmdPort, joinMs, stopNode, startNode, ctl, runningNodes, log: () => output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
