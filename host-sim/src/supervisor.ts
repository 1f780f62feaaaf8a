/**
 * The simulator's supervisor: what the camera's process manager plus the native host do for the agent. It
 * runs one simulated camera and, when the engine stops the agent at a limit (memory limit, CPU budget,
 * stack), stops that run cleanly (`__vigilAgent.stop()` bounded by the runner's stop timeout, every handle
 * disposed) and starts a fresh engine on the same state dir, with Host.info.lastExit saying why, so the
 * agent's next report carries it in `health.lastExit` (issue 7).
 *
 * It watches QuickJSRunner.exitReason, which the runner sets when an engine error reaches it; it does not
 * change the runner or the camera.
 */
import { startSimCamera, type SimCamera, type SimCameraOptions } from './camera';

export interface SupervisorOptions extends SimCameraOptions {
  /** How often the runner's exit reason is checked, ms; default 200. */
  checkMs?: number;
  /** Gives up (leaves the camera stopped) after this many restarts in a row; default 5. */
  maxRestarts?: number;
  /** Engine options for the restarted runs (default: the same as the first run). */
  restartEngine?: SimCameraOptions['engine'];
  /** Called after each restart with the new run and why the previous one ended. */
  onRestart?: (camera: SimCamera, lastExit: string) => void;
  /** Wall clock for the lastExit text; default Date.now. */
  now?: () => number;
}

export interface SupervisedCamera {
  /** The current run. */
  readonly camera: SimCamera;
  readonly restarts: number;
  /** Set when the supervisor gave up (too many restarts) or a restart failed. */
  readonly failed: string | null;
  /** Stops supervising and stops the current run (planned stop). */
  stop(): Promise<void>;
}

export async function superviseSimCamera(options: SupervisorOptions): Promise<SupervisedCamera> {
  const now = options.now ?? Date.now;
  const maxRestarts = options.maxRestarts ?? 5;
  let camera = await startSimCamera(options);
  let restarts = 0;
  let failed: string | null = null;
  let stopped = false;
  let busy = false;

  const check = async () => {
    if (busy || stopped || failed) return;
    const reason = camera.runner.exitReason;
    if (!reason) return;
    busy = true;
    try {
      const lastExit = `${reason} at ${new Date(now()).toISOString()}; restarted by the host`;
      await camera.stop().catch(() => undefined);
      if (stopped) return;
      if (restarts >= maxRestarts) {
        failed = `gave up after ${restarts} restarts; last: ${reason}`;
        return;
      }
      camera = await startSimCamera({ ...options, engine: options.restartEngine ?? options.engine, lastExit });
      restarts++;
      options.onRestart?.(camera, lastExit);
    } catch (err) {
      failed = `restart failed: ${(err as Error).message}`;
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void check(), options.checkMs ?? 200);
  timer.unref?.();

  return {
    get camera() {
      return camera;
    },
    get restarts() {
      return restarts;
    },
    get failed() {
      return failed;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      while (busy) await new Promise((r) => setTimeout(r, 20));
      await camera.stop();
    },
  };
}
