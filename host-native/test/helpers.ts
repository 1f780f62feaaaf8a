// Shared by the host-native tests: builds the native binaries once (host-native/build.sh is idempotent and
// quick when out/ is fresh), runs them natively or under qemu-user, and the contract's echo server.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTRACT_FIXTURE, ECHO_QUIT, fixtureFileText } from '../../agent/test/host-contract';

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

/** CONTRACT_FIXTURE under <root>/contract. */
export function writeContractRoot(root: string): void {
  const base = path.join(root, 'contract');
  mkdirSync(base, { recursive: true });
  for (const d of CONTRACT_FIXTURE.dirs) mkdirSync(path.join(base, d), { recursive: true });
  for (const f of CONTRACT_FIXTURE.files) writeFileSync(path.join(base, f.path), fixtureFileText(f));
  for (const l of CONTRACT_FIXTURE.symlinks) symlinkSync(l.target, path.join(base, l.path));
}

export async function startEchoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let seen = '';
    s.on('data', (d) => {
      seen += d.toString('latin1');
      if (seen.includes(ECHO_QUIT)) s.end();
      else s.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export async function refusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
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
