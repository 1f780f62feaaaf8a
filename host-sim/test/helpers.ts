// Shared fixtures for host-sim tests: a bundle builder (esbuild, build.mjs's own options), a throw-away
// profile, and a thread that is not running (blocked, or preempted as the budget's clocks see it). The
// contract's echo server and fixture writer are in test/helpers/contract-env.ts.
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { quickjsOptions } from '../../build.mjs';
import { writeContractRoot } from '../../test/helpers/contract-env';
import type { LoadedProfile, Profile } from '../src/profiles';
import type { QuickJSRunner } from '../src/quickjs-runner';
import { engineThreadClocks, type BudgetClocks } from '../src/quickjs/cpu-budget';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function tempDir(tag: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `vigil-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Bundles an entry as build.mjs does for QuickJS, with a test version and unminified. */
export async function bundleForQuickJS(entry: string, outfile: string): Promise<string> {
  await build({ ...quickjsOptions, define: { __VIGIL_VERSION__: '"0.0.0-test"' }, entryPoints: [entry], outfile, minify: false });
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
  writeContractRoot(path.join(rootfsDir, 'contract'));
  return { name: 'test', dir, file: path.join(dir, 'profile.json'), rootfsDir, localdataDir: null, data: minimalProfileData() };
}

export { startEchoServer } from '../../test/helpers/contract-env';

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

/**
 * Blocks this thread for `ms` without using CPU (a futex wait): from inside a host call, what a thread that is
 * preempted or stopped (SIGSTOP) looks like to the engine — wall time passes, the thread's CPU time does not.
 */
export function blockThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Budget clocks of a machine so busy that the engine's thread is preempted for a whole second between any
 * two interrupt polls: wall time jumps at every reading, CPU time is the thread's real one.
 */
export function preemptedClocks(): BudgetClocks {
  let wall = 0;
  return { wallMs: () => (wall += 1000), cpuMs: () => engineThreadClocks.cpuMs() };
}
