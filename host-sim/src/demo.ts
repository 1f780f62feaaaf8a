/**
 * The demo as one piece: an embedded broker, the fleet consumer with its dashboard, and every bundled
 * profile as a simulated camera. `vigil demo` runs it; the dashboard's browser test drives the same thing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker';
import { startSimFleet } from './fleet';
import { listProfiles, loadProfile } from './profiles';
import { silentLogSink, type LogSink } from './sim-host';
import type { SimCamera } from './camera';
import { startFleet, type Fleet } from '../../fleet/src/fleet';

export interface DemoOptions {
  bundlePath: string;
  broker: { host: string; port: number };
  http: { host: string; port: number };
  intervalSec: number;
  /** Bundled profile names; all of them by default. */
  profiles?: string[];
  log?: LogSink;
}

export interface Demo {
  broker: EmbeddedBroker;
  fleet: Fleet;
  cameras: SimCamera[];
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
    });
    const running = fleet;
    let stopping: Promise<void> | null = null;
    return {
      broker,
      fleet: running,
      cameras,
      stop() {
        stopping ??= (async () => {
          await Promise.all(cameras.map((c) => c.stop()));
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
