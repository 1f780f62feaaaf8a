/**
 * Fleet mode: many simulated cameras in one process, cloned from the bundled profiles with derived
 * serials. One wasm module is shared; each camera has its own QuickJS runtime, VAPIX server and state.
 *
 * Every camera runs under the simulator's supervisor (supervisor.ts), as a real camera's agent runs under
 * its process manager: a run the engine stops at a limit (CPU budget, memory, stack) is restarted on the
 * same state dir with Host.info.lastExit saying why, until the supervisor gives up on a crash loop.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SimCamera } from './camera';
import type { LoadedProfile } from './profiles';
import { superviseSimCamera, type SupervisedCamera, type SupervisorOptions } from './supervisor';

/**
 * The profile as camera number `index` of a fleet: the same device, another serial. The serial keeps the
 * profile's 6-digit vendor prefix and puts the index in the last 6 hex digits, so serials stay unique
 * and valid (12 upper-case hex digits) for up to 16,777,216 cameras per prefix.
 */
export function cloneWithSerial(profile: LoadedProfile, index: number, salt: number): LoadedProfile {
  const prefix = profile.data.identity.serialNumber.slice(0, 6);
  const suffix = ((salt * 0x10000 + index) & 0xffffff).toString(16).toUpperCase().padStart(6, '0');
  const serialNumber = prefix + suffix;
  return {
    ...profile,
    name: `${profile.name}#${index}`,
    data: { ...profile.data, identity: { ...profile.data.identity, serialNumber } },
  };
}

/**
 * One supervised camera, usable wherever a SimCamera is: host, runner, VAPIX… are the current run's (they
 * change when the supervisor restarts it), so a caller holding this object never holds a dead run.
 */
export class FleetCamera implements SimCamera {
  readonly serial: string;
  readonly profile: LoadedProfile;
  readonly stateDir: string;
  readonly bundleSha256: string;

  constructor(readonly supervisor: SupervisedCamera) {
    const first = supervisor.camera;
    this.serial = first.serial;
    this.profile = first.profile;
    this.stateDir = first.stateDir;
    this.bundleSha256 = first.bundleSha256;
  }

  get host() {
    return this.supervisor.camera.host;
  }
  get runner() {
    return this.supervisor.camera.runner;
  }
  get vapix() {
    return this.supervisor.camera.vapix;
  }
  get vapixPort() {
    return this.supervisor.camera.vapixPort;
  }
  get started() {
    return this.supervisor.camera.started;
  }
  /** Restarts so far (limit restarts and scripted kills). */
  get restarts(): number {
    return this.supervisor.restarts;
  }
  /** Why the supervisor gave up on this camera (it stays stopped), or null. */
  get failed(): string | null {
    return this.supervisor.failed;
  }
  /** What the current run was told about the previous one (Host.info.lastExit), or null. */
  get lastExit(): string | null {
    return this.supervisor.camera.host.info.lastExit;
  }

  /** Planned stop of the camera: no restart after it. */
  stop(): Promise<void> {
    return this.supervisor.stop();
  }

  /** Power cut: the current run is killed without a goodbye, and not restarted. */
  kill(): Promise<void> {
    return this.supervisor.kill();
  }

  /**
   * Kills the current run as a crash would and restarts it with `lastExit` (the fault script's
   * kill-and-restart). Resolves false, starting nothing, when the supervisor replaced that run meanwhile.
   */
  restart(lastExit: string): Promise<boolean> {
    return this.supervisor.restart(lastExit, this.supervisor.camera);
  }
}

export interface FleetCameraStatus {
  serial: string;
  profile: string;
  /** The current run is alive (false after a stop or when the supervisor gave up). */
  running: boolean;
  restarts: number;
  lastExit: string | null;
  failed: string | null;
}

/** The cameras, in start order, with the fleet's counters and a stop for all of them. */
export type SimFleet = FleetCamera[] & {
  /** Restarts of every camera so far. */
  readonly restarts: number;
  /** Restarts per camera serial (every camera, zeros included). */
  restartsBySerial(): Record<string, number>;
  /** One row per camera: running, restarts, lastExit, failed. */
  status(): FleetCameraStatus[];
  /** Stops every camera (planned), restarts under way included: nothing is left running. */
  stop(): Promise<void>;
};

export interface SimFleetOptions extends Omit<SupervisorOptions, 'profile' | 'stateDir' | 'onRestart' | 'onGiveUp'> {
  profiles: LoadedProfile[];
  /** Cameras in all, taken round-robin from the profiles. */
  count: number;
  /**
   * This fleet runs cameras firstIndex … firstIndex + count − 1 of a fleet of `total` (default: 0 and count):
   * a worker thread's share (sim-threads.ts), with the serials the whole fleet would give them.
   */
  firstIndex?: number;
  total?: number;
  /** Waits this long between two cameras' starts, ms (default 0): paces the connects to the broker. */
  startIntervalMs?: number;
  /** Stops starting cameras once aborted (the fleet resolves with those started). */
  signal?: AbortSignal;
  /** Each camera's state goes in <stateRoot>/<serial>. */
  stateRoot: string;
  /** Config overrides for one camera, over `overrides` (e.g. its own BrokerUsername/BrokerPassword). */
  overridesFor?: (serial: string) => Record<string, string>;
  /** Called after the supervisor restarted a camera, with why the previous run ended. */
  onRestart?: (camera: FleetCamera, lastExit: string) => void;
  /** Called when the supervisor gives up on a camera (crash loop, or a restart that failed). */
  onGiveUp?: (camera: FleetCamera, failed: string) => void;
}

export async function startSimFleet(options: SimFleetOptions): Promise<SimFleet> {
  const { profiles, count, stateRoot, onRestart, onGiveUp, overridesFor, firstIndex = 0, total = count, startIntervalMs = 0, signal, ...cameraOptions } = options;
  if (profiles.length === 0) throw new Error('[vigil] [sim] a fleet needs at least one profile');
  const bundleCode = cameraOptions.bundleCode ?? readFileSync(cameraOptions.bundlePath, 'utf8');
  const cameras: FleetCamera[] = [];
  const t0 = performance.now();
  try {
    for (let i = firstIndex; i < firstIndex + count; i++) {
      if (signal?.aborted) break;
      const wait = t0 + (i - firstIndex) * startIntervalMs - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const base = profiles[i % profiles.length];
      // Copies of the same profile get distinct serials; a single camera keeps the profile's own.
      const profile = total === profiles.length ? base : cloneWithSerial(base, Math.floor(i / profiles.length), i % profiles.length);
      const serial = profile.data.identity.serialNumber;
      // The view exists once superviseSimCamera resolves; a restart always takes longer than that (it stops a run first).
      let view: FleetCamera | null = null;
      const supervisor = await superviseSimCamera({
        ...cameraOptions,
        bundleCode,
        profile,
        overrides: overridesFor ? { ...cameraOptions.overrides, ...overridesFor(serial) } : cameraOptions.overrides,
        stateDir: join(stateRoot, serial),
        onRestart: (_run, lastExit) => {
          if (view) onRestart?.(view, lastExit);
        },
        onGiveUp: (failed) => {
          if (view) onGiveUp?.(view, failed);
        },
      });
      view = new FleetCamera(supervisor);
      cameras.push(view);
    }
  } catch (err) {
    await Promise.all(cameras.map((c) => c.stop()));
    throw err;
  }
  return asSimFleet(cameras);
}

function asSimFleet(cameras: FleetCamera[]): SimFleet {
  // Not enumerable: the fleet still reads, spreads and compares as the plain array of cameras it was.
  return Object.defineProperties(cameras, {
    restarts: { get: () => cameras.reduce((n, c) => n + c.restarts, 0) },
    restartsBySerial: { value: () => Object.fromEntries(cameras.map((c) => [c.serial, c.restarts])) },
    status: {
      value: (): FleetCameraStatus[] =>
        cameras.map((c) => ({ serial: c.serial, profile: c.profile.name, running: c.runner.alive && !c.failed, restarts: c.restarts, lastExit: c.lastExit, failed: c.failed })),
    },
    stop: { value: () => Promise.all(cameras.map((c) => c.stop())).then(() => undefined) },
  }) as SimFleet;
}

/**
 * What the supervisors did, for the CLI: one line per camera restarted or given up (at most `max`, then a
 * count), or null when no camera was restarted.
 */
export function formatRestarts(fleet: SimFleet, max = 20): string | null {
  return formatRestartRows(fleet.status(), max);
}

/** formatRestarts over status rows (from one fleet, or from every worker thread's). */
export function formatRestartRows(status: FleetCameraStatus[], max = 20): string | null {
  const rows = status.filter((s) => s.restarts > 0 || s.failed);
  if (rows.length === 0) return null;
  const restarts = status.reduce((n, s) => n + s.restarts, 0);
  const lines = rows.slice(0, max).map((s) => {
    const what = s.failed ? `gave up (${s.failed})` : `running; last exit: ${s.lastExit ?? 'none'}`;
    return `  ${s.serial} (${s.profile}): ${s.restarts} restart${s.restarts === 1 ? '' : 's'}, ${what}`;
  });
  if (rows.length > max) lines.push(`  … and ${rows.length - max} more`);
  return [`${restarts} restart${restarts === 1 ? '' : 's'} in ${rows.length} of ${status.length} camera${status.length === 1 ? '' : 's'}:`, ...lines].join('\n');
}
