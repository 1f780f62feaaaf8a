// Shared by the host-native tests: builds the native binaries once (host-native/build.sh is idempotent and
// quick when out/ is fresh) and runs them natively or under qemu-user. The contract's echo server and
// fixture writer are in test/helpers/contract-env.ts, shared with host-sim.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export { startEchoServer } from '../../test/helpers/contract-env';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const NATIVE = path.join(REPO, 'host-native');

export type Arch = 'x86_64' | 'aarch64' | 'armv7hf';

export interface Target {
  arch: Arch;
  /** How the binary is started: directly, or through qemu-user. */
  runner: string[];
  binary: string;
  label: string;
}

export const TARGETS: Target[] = [
  { arch: 'x86_64', runner: [], binary: path.join(NATIVE, 'out/x86_64/vigil'), label: 'natively on x86_64' },
  { arch: 'aarch64', runner: ['qemu-aarch64'], binary: path.join(NATIVE, 'out/aarch64/vigil'), label: 'under qemu-aarch64' },
  { arch: 'armv7hf', runner: ['qemu-arm'], binary: path.join(NATIVE, 'out/armv7hf/vigil'), label: 'under qemu-arm' },
];

/** A from-scratch build takes a few minutes on 2 cores (QuickJS and mbedTLS for three architectures). */
export const BUILD_TIMEOUT_MS = 20 * 60_000;

let built = false;
/** dist/ (esbuild) and every native binary plus out/agent.qjsbc. */
export function ensureBuilt(): void {
  if (built) return;
  if (!existsSync(path.join(REPO, 'dist/agent.js')) || !existsSync(path.join(REPO, 'dist/host-contract.js'))) {
    execFileSync('node', ['build.mjs'], { cwd: REPO, stdio: 'pipe' });
  }
  try {
    execFileSync('bash', [path.join(NATIVE, 'build.sh')], { cwd: NATIVE, stdio: 'pipe', timeout: BUILD_TIMEOUT_MS });
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
    throw new Error(`[vigil] [test] host-native/build.sh failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  built = true;
}

export function tempDir(tag: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `vigil-native-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface NativeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the binary to completion (or kills it after timeoutMs). */
export function runNative(target: Target, args: string[], options: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<NativeRun> {
  const child = startNative(target, args, options);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.process.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.process.once('exit', (code, signal) => {
      clearTimeout(timer);
      // Let the pipes drain.
      setImmediate(() => resolve({ code, signal, stdout: child.stdout(), stderr: child.stderr() }));
    });
  });
}

export interface NativeProcess {
  process: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startNative(target: Target, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): NativeProcess {
  const [cmd, ...rest] = [...target.runner, target.binary, ...args];
  const child = spawn(cmd, rest, { cwd: options.cwd ?? REPO, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { process: child, stdout: () => out, stderr: () => err, exited };
}
