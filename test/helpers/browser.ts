/**
 * The browser tests' shared parts: Debian's Chromium launched as this machine needs it (headless, no sandbox as
 * root, and no background networking: the closed network refuses those connections by the dozen), where the
 * screenshots go, and the demo with every bundled profile waited for until each camera has reported.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { startDemo, type Demo, type DemoOptions } from '../../cli/demo';
import type { SimCamera } from '../../host-sim/src/camera';
import type { Fleet } from '../../fleet/src/fleet';
import { waitUntil } from './wait';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BUNDLE = join(ROOT, 'dist/agent.js');
export const CHROMIUM = '/usr/bin/chromium';
/** Where the browser tests' screenshots go (made on first use). */
export const SHOTS = join(ROOT, 'test-results/screenshots');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`[vigil] [test] ${CHROMIUM} is missing: .ci/run installs the chromium package`);
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface BrowserDemo {
  demo: Demo;
  fleet: Fleet;
  /** The demo's cameras by profile name. */
  cameras: Map<string, SimCamera>;
  /** Every camera's log records, as JSON lines (the tail goes into a failure's message). */
  camLogs: string[];
}

/**
 * startDemo (what `vigil demo` runs) on free loopback ports at a 2 s interval, once every camera has reported
 * (45 s at most). `faultScripts` as DemoOptions has it.
 */
export async function startBrowserDemo(faultScripts: DemoOptions['faultScripts']): Promise<BrowserDemo> {
  if (!existsSync(BUNDLE)) throw new Error(`[vigil] [test] ${BUNDLE} is missing: run npm run build first`);
  const camLogs: string[] = [];
  const demo = await startDemo({
    bundlePath: BUNDLE,
    broker: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    intervalSec: 2,
    log: (r) => void camLogs.push(JSON.stringify(r)),
    faultScripts,
  });
  const fleet = demo.fleet;
  const cameras = new Map(demo.cameras.map((cam) => [cam.profile.name, cam] as const));
  try {
    await waitUntil('a report from every simulated camera', () => [...cameras.values()].every((c) => (fleet.consumer.camera(c.serial)?.reports ?? 0) > 0), { timeoutMs: 45_000 });
  } catch (err) {
    await demo.stop().catch(() => undefined);
    throw new Error(`${(err as Error).message}; fleet ${JSON.stringify(fleet.consumer.counters)}; cameras:\n${camLogs.slice(-30).join('\n')}`);
  }
  return { demo, fleet, cameras, camLogs };
}
