/**
 * One simulated camera: a VAPIX server for its profile, a SimHost, and a QuickJS runtime running the
 * bundle against that host. The CLI and the end-to-end tests start cameras through startSimCamera.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { QuickJSRunner, type QuickJSRunnerOptions, type RunResult } from './quickjs-runner';
import { SimHost, type LogSink } from './sim-host';
import { loadProfile, type LoadedProfile, type VapixFault } from './profiles';
import { AppSettings, VapixServer } from './vapix-server';
import type { SharedVapixListener } from './vapix-listener';
import { buildConfig } from './sim-host';
import { loadDeviceState } from './device-changes';

export interface SimCameraOptions {
  /** A bundled profile name, a profile folder, or an already loaded profile. */
  profile: string | LoadedProfile;
  /** dist/agent.js (or dist/host-contract.js). */
  bundlePath: string;
  /** The bundle's text, when the caller already has it (fleet mode reads it once). */
  bundleCode?: string;
  /** The broker as a forced value (--config); absent: the camera's settings name it (`settings`). */
  broker?: { host: string; port: number };
  /**
   * The app's settings on the camera's page (root.vigil.* in param.cgi) over the profile's `agent` values; the
   * agent reads them every cycle, and `camera.vapix.app` changes them mid-run.
   */
  settings?: Record<string, string>;
  /** Writable per-camera directory backing the data dir; survives restarts of the camera. */
  stateDir: string;
  /** Forced config values (host.configOverrides), over the profile's and the camera's settings page. */
  overrides?: Record<string, string>;
  log?: LogSink;
  /** Engine limits and variant (memoryLimitBytes, cpuBudgetMs, variant, module…). */
  engine?: Omit<QuickJSRunnerOptions, 'host'>;
  /** Replaces the profile's VAPIX faults. */
  vapixFaults?: VapixFault[];
  /**
   * Serve VAPIX on this listener, shared with the thread's other cameras, instead of one of the camera's own
   * (vapix-listener.ts): one open file less per camera. camera.vapixPort is then the shared listener's.
   */
  sharedVapix?: SharedVapixListener;
  /** Why the previous run ended, reported through Host.info.lastExit. */
  lastExit?: string | null;
  /**
   * Files put in the data dir before the agent starts, by name (owner-only): the broker's CA, client certificate
   * and key given to `vigil sim`, which the agent reads at the device paths its Broker*File settings name.
   */
  dataFiles?: Record<string, string>;
}

export interface SimCamera {
  serial: string;
  profile: LoadedProfile;
  host: SimHost;
  runner: QuickJSRunner;
  vapix: VapixServer;
  vapixPort: number;
  stateDir: string;
  bundleSha256: string;
  /** The outcome of evaluating the bundle (an error here means the agent never started). */
  started: RunResult;
  /** Stops the agent (planned: `__vigilAgent.stop()`), disposes the runtime, closes host and VAPIX. */
  stop(): Promise<void>;
  /**
   * Ends the camera abruptly (power cut, crash): sockets are destroyed without an MQTT DISCONNECT, so the
   * broker publishes the agent's last will. The engine is disposed without calling `__vigilAgent.stop()`.
   */
  kill(): Promise<void>;
}

export async function startSimCamera(options: SimCameraOptions): Promise<SimCamera> {
  const profile = typeof options.profile === 'string' ? loadProfile(options.profile) : options.profile;
  const code = options.bundleCode ?? readFileSync(options.bundlePath, 'utf8');
  const bundleSha256 = createHash('sha256').update(code).digest('hex');

  // What fault scripts changed on this device (a private rootfs, parameters) outlives a restart, as flash does.
  const device = loadDeviceState(options.stateDir);
  // The settings page holds what param.conf would (the profile's values, VAPIX credentials on an OS without D-Bus).
  const app = new AppSettings(undefined, buildConfig(profile, options.settings ?? {}));
  const vapix = new VapixServer({ profile: profile.data, params: device.params, app });
  if (options.vapixFaults) vapix.setFaults(options.vapixFaults);
  const shared = options.sharedVapix;
  const vapixPort = shared ? vapix.attach(shared) : await vapix.listen();

  const host = new SimHost({
    profile,
    stateDir: options.stateDir,
    overrides: {
      ...(options.broker ? { BrokerHost: options.broker.host, BrokerPort: String(options.broker.port) } : {}),
      VapixHost: vapix.host,
      VapixPort: String(vapixPort),
      ...(options.overrides ?? {}),
    },
    log: options.log,
    bundleSha256,
    lastExit: options.lastExit ?? null,
    rootfsDir: device.rootfsDir ?? undefined,
    onConnected: shared
      ? (socket, _host, port) => {
          if (port === shared.port && socket.localPort !== undefined) shared.claim(socket.localPort, vapix, socket);
        }
      : undefined,
  });
  let runner: QuickJSRunner | null = null;
  try {
    await host.prepare();
    for (const [name, text] of Object.entries(options.dataFiles ?? {})) writeFileSync(path.join(host.stateDir, name), text, { mode: 0o600 });
    runner = await QuickJSRunner.create({ ...(options.engine ?? {}), host });
    host.attachRuntime(runner);
    const started = runner.start(code, path.basename(options.bundlePath));
    const r = runner;
    let stopping: Promise<void> | null = null;
    let killing: Promise<void> | null = null;
    return {
      serial: profile.data.identity.serialNumber,
      profile,
      host,
      runner: r,
      vapix,
      vapixPort,
      stateDir: host.stateDir,
      bundleSha256,
      started,
      stop() {
        if (killing) return killing;
        if (!stopping) {
          stopping = (async () => {
            try {
              // The agent says goodbye through the host, so the host stays open until the runtime is gone;
              // host calls that settle later find a disposed runner and are dropped.
              await r.stop();
            } finally {
              host.close();
              await vapix.close();
            }
          })();
        }
        return stopping;
      },
      kill() {
        // Also cuts a planned stop short: runner.kill() is safe while stop() waits for the agent.
        if (!killing) {
          killing = (async () => {
            host.close();
            r.kill();
            await vapix.close();
            if (stopping) await stopping.catch(() => undefined);
          })();
        }
        return killing;
      },
    };
  } catch (err) {
    if (runner) await runner.stop().catch(() => undefined);
    host.close();
    await vapix.close();
    throw err;
  }
}
