/**
 * The real `vigil` command (bin/vigil.mjs) as a child process, for tests of what a user or a process manager
 * sees: its output as it comes, a wait for a line, and its exit code. Asynchronous (not spawnSync), so the
 * test's own brokers keep running meanwhile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { waitUntil } from './wait';

export const VIGIL = resolve(__dirname, '../../bin/vigil.mjs');

export interface VigilRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stderr's lines so far. */
  errLines(): string[];
  /** Resolves with the exit code (or the signal's name); rejects after timeoutMs. */
  exited(timeoutMs?: number): Promise<number | string>;
  /** Waits until stdout + stderr match `pattern`. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Ends the process if it still runs (SIGTERM, then SIGKILL) and waits for it. */
  stop(): Promise<void>;
}

export function runVigil(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): VigilRun {
  const child = spawn(process.execPath, [VIGIL, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err += d));
  const exit = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? 'unknown')));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    errLines: () => err.split('\n').filter((l) => l !== ''),
    async exited(timeoutMs = 60_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`vigil ${args.join(' ')} still runs after ${timeoutMs} ms; output:\n${out}${err}`)), timeoutMs);
      });
      try {
        return await Promise.race([exit, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async waitForOutput(pattern, timeoutMs = 60_000) {
      await waitUntil(`output matching ${pattern}`, () => pattern.test(out + err) || !running(), { timeoutMs, pollMs: 50 }).catch((e: Error) => {
        throw new Error(`${e.message}; output:\n${out}${err}`);
      });
      if (!pattern.test(out + err)) throw new Error(`vigil exited (${child.exitCode ?? child.signalCode}) before output matching ${pattern}; output:\n${out}${err}`);
    },
    async stop() {
      if (!running()) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exit;
      clearTimeout(killer);
    },
  };
}
