/**
 * The demo as one piece: an embedded broker, the fleet consumer with its dashboard, and every bundled
 * profile as a simulated camera. `vigil demo` runs it; the dashboard's browser test drives the same thing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker';
import { startSimFleet, type FleetCamera, type SimFleet } from './fleet';
import { listProfiles, loadProfile } from './profiles';
import { silentLogSink, type LogSink } from './sim-host';
import type { SimCameraOptions } from './camera';
import { startFleet, type Fleet } from '../../fleet/src/fleet';

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
}

export interface Demo {
  broker: EmbeddedBroker;
  fleet: Fleet;
  /** Every camera, supervised: restarted when its engine stops the agent at a limit (see fleet.ts). */
  cameras: SimFleet;
  /** Stops the cameras first (so the consumer records them going offline), then the consumer and broker. */
  stop(): Promise<void>;
}

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const broker = await startEmbeddedBroker(options.broker);
  const stateRoot = mkdtempSync(join(tmpdir(), 'vigil-demo-'));
  let fleet: Fleet | null = null;
  try {
    fleet = await startFleet({ brokerUrl: broker.url, dbPath: join(stateRoot, 'fleet.db'), http: options.http });
    const cameras = await startSimFleet({
      profiles: (options.profiles ?? listProfiles()).map((n) => loadProfile(n)),
      count: (options.profiles ?? listProfiles()).length,
      bundlePath: options.bundlePath,
      broker: { host: broker.host, port: broker.port },
      stateRoot,
      overrides: { IntervalSec: String(options.intervalSec) },
      log: options.log ?? silentLogSink,
      maxRestarts: options.maxRestarts,
      restartWindowMs: options.restartWindowMs,
      engine: options.engine,
      onRestart: options.onRestart,
      onGiveUp: options.onGiveUp,
    });
    const running = fleet;
    let stopping: Promise<void> | null = null;
    return {
      broker,
      fleet: running,
      cameras,
      stop() {
        stopping ??= (async () => {
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
