/**
 * The simulator's supervisor: what the camera's process manager plus the native host do for the agent. It
 * runs one simulated camera and, when the engine stops the agent at a limit (memory limit, CPU budget,
 * stack), stops that run cleanly (`__vigilAgent.stop()` bounded by the runner's stop timeout, every handle
 * disposed) and starts a fresh engine on the same state dir, with Host.info.lastExit saying why, so the
 * agent's next report carries it in `health.lastExit` (issue 7).
 *
 * It acts on QuickJSRunner.exitReason: at once through the runner's onLimit callback, and by polling as a
 * backstop. The policy is the native host's (host-native/src/host_supervise.c): at most maxRestarts restarts
 * within restartWindowMs, then it gives up and leaves the camera stopped (the native host exits 3 there).
 */
import { startSimCamera, type SimCamera, type SimCameraOptions } from './camera';

export interface SupervisorOptions extends SimCameraOptions {
  /** How often the runner's exit reason is polled, ms; default 200 (onLimit usually comes first). */
  checkMs?: number;
  /** Gives up (leaves the camera stopped) when this many restarts already happened within restartWindowMs; default 5. */
  maxRestarts?: number;
  /** The window maxRestarts counts in, ms; default 600,000 (the native host's --restart-window-ms). */
  restartWindowMs?: number;
  /** Engine options for the restarted runs (default: the same as the first run). */
  restartEngine?: SimCameraOptions['engine'];
  /** Called after each restart with the new run and why the previous one ended. */
  onRestart?: (camera: SimCamera, lastExit: string) => void;
  /** Called once when the supervisor gives up or a restart fails, with `failed`'s text. */
  onGiveUp?: (failed: string) => void;
  /** Wall clock for the lastExit text when the runner did not say when it stopped; default Date.now. */
  now?: () => number;
}

export interface SupervisedCamera {
  /** The current run. */
  readonly camera: SimCamera;
  readonly restarts: number;
  /** Set when the supervisor gave up (too many restarts) or a restart failed. */
  readonly failed: string | null;
  /** Stops supervising and stops the current run (planned stop); a restart under way is let finish first. */
  stop(): Promise<void>;
  /**
   * Kills `run` (default: the current run) as a crash would and starts a fresh run with `lastExit`: what the
   * fault script's kill-and-restart asks for. It takes the same turn as a limit restart, so the two never
   * both start a run: when `run` is no longer the current run by then (the supervisor already replaced it),
   * or the supervisor stopped or gave up, it starts nothing and resolves false. Counted in `restarts`, not
   * in the give-up window (a scripted kill is not a crash loop).
   */
  restart(lastExit: string, run?: SimCamera): Promise<boolean>;
  /** Stops supervising and kills the current run (power cut: no goodbye); a restart under way is let finish first. */
  kill(): Promise<void>;
}

export async function superviseSimCamera(options: SupervisorOptions): Promise<SupervisedCamera> {
  const now = options.now ?? Date.now;
  const maxRestarts = Math.max(0, options.maxRestarts ?? 5);
  const windowMs = options.restartWindowMs ?? 600_000;
  /** performance.now() of each restart, so the window is not fooled by a wall-clock jump. */
  const restartTimes: number[] = [];
  let restarts = 0;
  let failed: string | null = null;
  let stopped = false;
  let busy = false;
  /** Unset only until the first run has started. */
  let camera: SimCamera | undefined;

  const start = (engine: SimCameraOptions['engine'], lastExit: string | null) =>
    startSimCamera({
      ...options,
      lastExit,
      // The runner calls onLimit from inside a slice: act on the next turn, not re-entering the engine.
      engine: { ...(engine ?? {}), onLimit: () => setImmediate(() => void check()) },
    });

  const log = (level: 'warn' | 'error', message: string) =>
    options.log?.({ time: new Date(now()).toISOString(), serial: camera?.serial ?? '', level, message: `[host-sim] [supervisor] ${message}` });

  const giveUp = (text: string) => {
    failed = text;
    log('error', `${text}; the camera stays stopped`);
    options.onGiveUp?.(text);
  };

  const check = async (): Promise<void> => {
    if (busy || stopped || failed || !camera) return;
    const runner = camera.runner;
    const reason = runner.exitReason;
    if (!reason) return;
    busy = true;
    try {
      const lastExit = `${reason} at ${new Date(runner.exitAt ?? now()).toISOString()}; restarted by the host`;
      await camera.stop().catch(() => undefined);
      if (stopped) return;
      const t = performance.now();
      const recent = restartTimes.filter((at) => t - at < windowMs).length;
      if (recent >= maxRestarts) {
        giveUp(`gave up after ${recent} restarts within ${Math.round(windowMs / 1000)} s; last: ${reason}`);
        return;
      }
      log('warn', `the engine stopped the agent (${reason}); restarting it (${recent + 1} of ${maxRestarts} within ${Math.round(windowMs / 1000)} s)`);
      // A stop() meanwhile waits for busy, then stops this new run: nothing is left running.
      camera = await start(options.restartEngine ?? options.engine, lastExit);
      restarts++;
      restartTimes.push(t);
      while (restartTimes.length > maxRestarts) restartTimes.shift();
      options.onRestart?.(camera, lastExit);
    } catch (err) {
      giveUp(`restart failed: ${(err as Error).message}`);
    } finally {
      busy = false;
    }
    recheck();
  };

  /** The new run may have hit a limit while it started (onLimit found us busy). */
  const recheck = () => {
    if (!stopped && !failed && camera?.runner.exitReason) void check();
  };

  const idle = async () => {
    while (busy) await new Promise((r) => setTimeout(r, 20));
  };

  camera = await start(options.engine, options.lastExit ?? null);
  const first = camera;
  const timer = setInterval(() => void check(), options.checkMs ?? 200);
  timer.unref?.();
  // A bundle over its limit at eval set exitReason before we could listen.
  if (first.runner.exitReason) void check();

  return {
    get camera() {
      return camera as SimCamera;
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
      await idle();
      await (camera as SimCamera).stop();
    },
    async kill() {
      stopped = true;
      clearInterval(timer);
      await idle();
      await (camera as SimCamera).kill();
    },
    async restart(lastExit: string, run?: SimCamera) {
      const target = run ?? camera;
      // Waits inline: the test of busy and the taking of it must be one synchronous step.
      while (busy) await new Promise((r) => setTimeout(r, 20));
      if (stopped || failed || camera !== target) return false;
      busy = true;
      try {
        log('warn', `the camera was killed (${lastExit}); restarting it`);
        await (camera as SimCamera).kill();
        if (stopped) return false;
        camera = await start(options.restartEngine ?? options.engine, lastExit);
        restarts++;
        options.onRestart?.(camera, lastExit);
        return true;
      } catch (err) {
        giveUp(`restart failed: ${(err as Error).message}`);
        return false;
      } finally {
        busy = false;
        recheck();
      }
    },
  };
}
