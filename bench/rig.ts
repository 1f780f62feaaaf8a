/**
 * The test rig of the native and simulator benchmarks: Debian's Mosquitto on a free port (as the tests
 * start it), a simulated camera's VAPIX server and rootfs, config files, and the bench bundles.
 */
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildConfig } from '../host-sim/src/sim-host';
import { loadProfile, type LoadedProfile } from '../host-sim/src/profiles';
import { VapixServer } from '../host-sim/src/vapix-server';
import { startMosquitto, type Mosquitto } from '../test/helpers/mosquitto';
import { NATIVE_BIN, OUT, REPO, ensureDir, run } from './lib';

export { startMosquitto, type Mosquitto };

export const PREFIX = 'vigil/v1';

/** dist/agent.js with bench/fixtures/warp-prelude.js in front, as source and as bytecode. */
export function warpBundle(): { js: string; code: string; qjsbc: string } {
  const dir = ensureDir(path.join(OUT, 'bundles'));
  const js = path.join(dir, 'agent-warp.js');
  const code = readFileSync(path.join(REPO, 'bench/fixtures/warp-prelude.js'), 'utf8') + '\n' + readFileSync(path.join(REPO, 'dist/agent.js'), 'utf8');
  writeFileSync(js, code);
  const qjsbc = path.join(dir, 'agent-warp.qjsbc');
  run(NATIVE_BIN, ['--compile', js, qjsbc]);
  return { js, code, qjsbc };
}

/** The hello-world baseline bundle as bytecode (built by sizes.ts, or here). */
export async function helloBundle(): Promise<string> {
  const dir = ensureDir(path.join(OUT, 'bundles'));
  const js = path.join(dir, 'hello.js');
  const { build } = await import('esbuild');
  await build({
    entryPoints: [path.join(REPO, 'bench/fixtures/hello.ts')], outfile: js, bundle: true, format: 'iife', platform: 'neutral',
    target: 'es2022', legalComments: 'none', minify: true, logLevel: 'warning',
  });
  const qjsbc = path.join(dir, 'hello.qjsbc');
  run(NATIVE_BIN, ['--compile', js, qjsbc]);
  return qjsbc;
}

export interface NativeCamera {
  profile: LoadedProfile;
  vapix: VapixServer;
  /** Arguments for host-native/out/x86_64/vigil (without the bundle). */
  args(tag: string, extra: Record<string, string>): string[];
  close(): Promise<void>;
}

/** One simulated camera (VAPIX server + rootfs) for native agents, reporting to `broker`. */
export async function nativeCamera(profileName: string, broker: { host: string; port: number }): Promise<NativeCamera> {
  const profile = loadProfile(profileName);
  const vapix = new VapixServer({ profile: profile.data });
  const vapixPort = await vapix.listen();
  const base = ensureDir(path.join(OUT, 'native'));
  return {
    profile,
    vapix,
    args(tag, extra) {
      const dir = path.join(base, tag);
      rmSync(dir, { recursive: true, force: true });
      const dataDir = ensureDir(path.join(dir, 'localdata'));
      if (profile.localdataDir && existsSync(profile.localdataDir)) cpSync(profile.localdataDir, dataDir, { recursive: true });
      const config = buildConfig(profile, { BrokerHost: broker.host, BrokerPort: String(broker.port), VapixHost: vapix.host, VapixPort: String(vapixPort), ...extra });
      config.VapixUsername = profile.data.vapix.credentials.username;
      config.VapixPassword = profile.data.vapix.credentials.password;
      const configFile = path.join(dir, 'agent.conf');
      writeFileSync(configFile, Object.entries(config).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
      return ['--stderr', '--no-dbus', '--root', profile.rootfsDir, '--data-dir', dataDir, '--config', configFile];
    },
    async close() {
      await vapix.close();
    },
  };
}

/** Settings that make the agent run cycles back to back (with the warp prelude) and keep up publishing. */
export const WARP_CONFIG = { IntervalSec: '3600', ReplayPerSec: '1000', ReplayInflight: '100' };
