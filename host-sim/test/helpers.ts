// Shared fixtures for host-sim tests: a bundle builder (esbuild, same options as build.mjs), a
// throw-away profile, the contract's echo server and a port with nothing listening.
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTRACT_FIXTURE, ECHO_QUIT, fixtureFileText } from '../../agent/test/host-contract';
import type { LoadedProfile, Profile } from '../src/profiles';
import type { QuickJSRunner } from '../src/quickjs-runner';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function tempDir(tag: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `vigil-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Bundles an entry the way build.mjs does for QuickJS (IIFE, es2022, neutral platform). */
export async function bundleForQuickJS(entry: string, outfile: string): Promise<string> {
  await build({
    bundle: true,
    format: 'iife',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    legalComments: 'none',
    define: { __VIGIL_VERSION__: '"0.0.0-test"' },
    logLevel: 'warning',
    entryPoints: [entry],
    outfile,
    minify: false,
  });
  return outfile;
}

export function minimalProfileData(overrides: Partial<Profile> = {}): Profile {
  return {
    name: 'test',
    description: 'a throw-away profile for tests',
    identity: {
      serialNumber: 'ACCC8E000001',
      prodNbr: 'M3086-V',
      prodFullName: 'AXIS M3086-V Dome Camera',
      prodShortName: 'AXIS M3086-V',
      brand: 'AXIS',
      prodType: 'Dome Camera',
      hardwareId: '9A1',
      soc: 'Ambarella CV25',
      architecture: 'aarch64',
    },
    os: { version: '12.11.77', buildDate: 'Jul 07 2026 10:14' },
    firmware: {},
    vapix: { credentials: { username: 'a0-vigil', password: 'secret' } },
    params: { 'Network.SSH.Enabled': 'no' },
    applications: { allowUnsigned: false, installed: [] },
    platform: { signedOs: true, secureBoot: true, edgeVault: true },
    agent: {},
    ...overrides,
  };
}

/** A profile in a temp folder whose rootfs holds CONTRACT_FIXTURE under /contract. */
export function contractProfile(baseDir: string): LoadedProfile {
  const dir = path.join(baseDir, 'profile');
  const rootfsDir = path.join(dir, 'rootfs');
  const root = path.join(rootfsDir, 'contract');
  mkdirSync(root, { recursive: true });
  for (const d of CONTRACT_FIXTURE.dirs) mkdirSync(path.join(root, d), { recursive: true });
  for (const f of CONTRACT_FIXTURE.files) writeFileSync(path.join(root, f.path), fixtureFileText(f));
  for (const l of CONTRACT_FIXTURE.symlinks) symlinkSync(l.target, path.join(root, l.path));
  return { name: 'test', dir, file: path.join(dir, 'profile.json'), rootfsDir, localdataDir: null, data: minimalProfileData() };
}

/** The contract's echo server (see ECHO_QUIT) on 127.0.0.1. */
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

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
export async function refusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Polls a global of the runner until it is truthy (or throws after timeoutMs). */
export async function waitForGlobal(runner: QuickJSRunner, name: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!runner.getGlobalJson(name)) {
    if (Date.now() > until) throw new Error(`${name} not set within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
