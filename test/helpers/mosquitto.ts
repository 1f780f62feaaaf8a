/**
 * Starts Debian's Mosquitto on a free loopback port for a test, with a config of the test's own.
 * .ci/run installs the package; a missing binary is an error, not a skip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, freePort } from './ports';

export const MOSQUITTO_BIN = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p)) ?? 'mosquitto';

export interface Mosquitto {
  host: string;
  port: number;
  url: string;
  dir: string;
  log(): string;
  stop(): Promise<void>;
}

/** extraListenerLines go under the listener (Mosquitto applies per-listener settings only there). */
export async function startMosquitto(options: { extraListenerLines?: string[]; extraLines?: string[]; port?: number } = {}): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mosquitto-'));
  const port = options.port ?? (await freePort());
  const conf = [
    // As root Mosquitto drops to the mosquitto user unless told otherwise (reference/mqtt.md).
    'user root',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    // Mosquitto silently drops QoS 1 messages past max_queued_messages (default 1000).
    'max_queued_messages 100000',
    ...(options.extraLines ?? []),
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    ...(options.extraListenerLines ?? []),
  ].join('\n');
  writeFileSync(join(dir, 'mosquitto.conf'), conf + '\n');
  let output = '';
  const child: ChildProcess = spawn(MOSQUITTO_BIN, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | null = null;
  child.once('error', (err) => (spawnError = err));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (spawnError) throw new Error(`[vigil] [test] cannot start ${MOSQUITTO_BIN}: ${(spawnError as Error).message}`);
    if (child.exitCode !== null) throw new Error(`[vigil] [test] mosquitto exited with ${child.exitCode}: ${output}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) throw new Error(`[vigil] [test] mosquitto did not listen on ${port}: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: '127.0.0.1',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    log: () => output,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
