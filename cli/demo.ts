/**
 * The demo as one piece: an embedded broker, the fleet consumer with its dashboard, and every bundled
 * profile as a simulated camera. `vigil demo` runs it; the dashboard's browser test drives the same thing.
 *
 * Each camera also runs its profile's fault script (`faults.script`), so the dashboard shows events with
 * nobody at the keyboard: the tampered camera has /usr/bin/curl changed at 45 s, the exposed camera a new
 * listener on port 4444 at 60 s (both put back two minutes later).
 *
 * The broker enforces the ACL of docs/broker-acl.md with logins generated for this run (broker-accounts.ts):
 * each camera gets its own, the consumer the fleet's; nobody else can connect, let alone command a camera.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker';
import { BrokerAccounts } from './broker-accounts';
import { startSimFleet, type FleetCamera, type SimFleet } from '../host-sim/src/fleet';
import { faultScript, listProfiles, loadProfile, type LoadedProfile } from '../host-sim/src/profiles';
import { silentLogSink, type LogSink } from '../host-sim/src/sim-host';
import { needsPrivateRootfs, preparePrivateRootfs, startFaultScript, type FaultScript, type FaultStep } from '../host-sim/src/faults';
import type { SimCameraOptions } from '../host-sim/src/camera';
import { startFleet, type Fleet } from '../fleet/src/fleet';

export interface DemoOptions {
  bundlePath: string;
  broker: { host: string; port: number };
  http: { host: string; port: number };
  intervalSec: number;
  /** Bundled profile names; all of them by default. */
  profiles?: string[];
  log?: LogSink;
  /** The supervisor's crash-loop policy (default 5 restarts within 600,000 ms), as `vigil sim`'s. */
  maxRestarts?: number;
  restartWindowMs?: number;
  /** Engine limits for every camera (memoryLimitBytes, cpuBudgetMs…). */
  engine?: SimCameraOptions['engine'];
  onRestart?: (camera: FleetCamera, lastExit: string) => void;
  onGiveUp?: (camera: FleetCamera, failed: string) => void;
  /**
   * Timed faults per profile name, in place of the profiles' own `faults.script`; false runs none. A
   * profile missing here runs no script.
   */
  faultScripts?: Record<string, FaultStep[]> | false;
}

export interface Demo {
  broker: EmbeddedBroker;
  /** This run's broker logins: `fleet`, `status` and `camera(serial)` (for tests and the live table; never printed). */
  credentials: BrokerAccounts;
  fleet: Fleet;
  /** Every camera, supervised: restarted when its engine stops the agent at a limit (see host-sim/src/fleet.ts). */
  cameras: SimFleet;
  /** The fault scripts running, one per camera that has steps. */
  scripts: FaultScript[];
  /** Stops the cameras first (so the consumer records them going offline), then the consumer and broker. */
  stop(): Promise<void>;
}

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const log = options.log ?? silentLogSink;
  const credentials = new BrokerAccounts();
  const broker = await startEmbeddedBroker({
    ...options.broker,
    accounts: credentials,
    onRefused: (message) => log({ time: new Date().toISOString(), serial: '-', level: 'warn', message }),
  });
  const stateRoot = mkdtempSync(join(tmpdir(), 'vigil-demo-'));
  let fleet: Fleet | null = null;
  try {
    fleet = await startFleet({ brokerUrl: broker.url, ...credentials.fleet, dbPath: join(stateRoot, 'fleet.db'), http: options.http });
    const profiles = (options.profiles ?? listProfiles()).map((n) => loadProfile(n));
    const stepsOf = (p: LoadedProfile): FaultStep[] =>
      options.faultScripts === false ? [] : options.faultScripts ? (options.faultScripts[p.name] ?? []).map((s) => ({ ...s })) : faultScript(p.data);
    // A camera whose script changes files starts on its private rootfs copy, never the profile's own.
    for (const p of profiles) if (needsPrivateRootfs(stepsOf(p))) preparePrivateRootfs(p, join(stateRoot, p.data.identity.serialNumber));
    const cameras = await startSimFleet({
      profiles,
      count: profiles.length,
      bundlePath: options.bundlePath,
      broker: { host: broker.host, port: broker.port },
      stateRoot,
      overrides: { IntervalSec: String(options.intervalSec) },
      overridesFor: (serial) => {
        const login = credentials.camera(serial);
        return { BrokerUsername: login.username, BrokerPassword: login.password };
      },
      log,
      maxRestarts: options.maxRestarts,
      restartWindowMs: options.restartWindowMs,
      engine: options.engine,
      onRestart: options.onRestart,
      onGiveUp: options.onGiveUp,
    });
    const scripts: FaultScript[] = [];
    const startScript = (camera: FleetCamera): void => {
      const steps = stepsOf(camera.profile);
      if (steps.length === 0) return;
      const say = (message: string, level: 'info' | 'warn' = 'info') => log({ time: new Date().toISOString(), serial: camera.serial, level, message: `[host-sim] [faults] ${message}` });
      scripts.push(
        startFaultScript(steps, {
          camera: () => camera,
          restart: async () => {
            await camera.restart('killed during an outbox write (simulated)');
          },
          log: (m) => say(m, / failed| could not /.test(m) ? 'warn' : 'info'),
        }),
      );
    };
    try {
      for (const camera of cameras) startScript(camera);
    } catch (err) {
      for (const s of scripts) s.stop();
      await cameras.stop();
      throw err;
    }
    const running = fleet;
    let stopping: Promise<void> | null = null;
    return {
      broker,
      credentials,
      fleet: running,
      cameras,
      scripts,
      stop() {
        stopping ??= (async () => {
          for (const s of scripts) s.stop();
          await cameras.stop();
          await running.stop();
          await broker.close();
          rmSync(stateRoot, { recursive: true, force: true });
        })();
        return stopping;
      },
    };
  } catch (err) {
    await fleet?.stop();
    await broker.close();
    rmSync(stateRoot, { recursive: true, force: true });
    throw err;
  }
}
