/**
 * Timed fault injection for one simulated camera, scripted in a profile (`faults.script`) or on the command
 * line (`vigil sim --fault SPEC`, repeatable). A step starts `at` seconds after the camera starts and, when
 * it has a duration (`for`), ends by itself.
 *
 * CLI spec: `KIND[:ARG]@AT[+FOR]`, e.g.
 *   broker-down@0+30              connections to the broker refused for the first 30 s
 *   broker-restart@60+5           the connection dropped at 60 s and refused for 5 s (a restart seen from the camera)
 *   drop@45                       the connection dropped once
 *   drop-during-replay:3@30       the next connection dropped after 3 PUBLISHes (mid-replay)
 *   kill-during-write:before-rename@40   the agent killed inside its next outbox write (partial-tmp,
 *                                 before-rename or after-rename); the camera restarts with the same data dir
 *   disk-full@20+30               every write to the data dir fails with ENOSPC for 30 s
 *   clock-jump:-3600@25           the wall clock jumps by -3600 s (backwards) or +N s (forwards)
 *   vapix:hang@10+20              VAPIX hangs (or slow[:ms], status500, garbage) for 20 s
 */
import type { SimCamera } from './camera';
import type { VapixFault, VapixFaultMode } from './profiles';

export type FaultKind =
  | 'broker-down'
  | 'broker-restart'
  | 'drop'
  | 'drop-during-replay'
  | 'kill-during-write'
  | 'disk-full'
  | 'clock-jump'
  | 'vapix';

export type WritePoint = 'partial-tmp' | 'before-rename' | 'after-rename';

export interface FaultStep {
  kind: FaultKind;
  /** Seconds after the start. */
  at: number;
  /** Seconds the fault lasts (broker-down, broker-restart, disk-full, vapix); forever when absent. */
  for?: number;
  /** drop-during-replay: PUBLISHes before the drop; clock-jump: seconds (negative = backwards). */
  value?: number;
  /** kill-during-write: where the write is cut. */
  point?: WritePoint;
  /** vapix: the failure mode, its delay and the paths it applies to. */
  mode?: VapixFaultMode;
  delayMs?: number;
  paths?: string[];
}

export const FAULT_KINDS: FaultKind[] = ['broker-down', 'broker-restart', 'drop', 'drop-during-replay', 'kill-during-write', 'disk-full', 'clock-jump', 'vapix'];
const WRITE_POINTS: WritePoint[] = ['partial-tmp', 'before-rename', 'after-rename'];
const VAPIX_MODES: VapixFaultMode[] = ['garbage', 'status500', 'slow', 'hang'];

/** The longest AT or FOR, in seconds: a Node timer's limit (the profile schema has the same maximum). */
export const MAX_FAULT_SEC = 2147483;

/** Parses one `--fault` spec; throws an error that says what is wrong and shows the syntax. */
export function parseFaultSpec(spec: string): FaultStep {
  const bad = (why: string) => new Error(`[vigil] [faults] --fault "${spec}": ${why} (syntax KIND[:ARG]@AT[+FOR], kinds: ${FAULT_KINDS.join(', ')})`);
  const m = /^([a-z-]+)(?::([^@]+))?@(\d+(?:\.\d+)?)(?:\+(\d+(?:\.\d+)?))?$/.exec(spec.trim());
  if (!m) throw bad('not understood');
  const kind = m[1] as FaultKind;
  if (FAULT_KINDS.indexOf(kind) < 0) throw bad(`unknown kind "${m[1]}"`);
  const step: FaultStep = { kind, at: Number(m[3]) };
  if (m[4] !== undefined) step.for = Number(m[4]);
  // A Node timer longer than 2^31-1 ms fires at once: refuse it, as the profile schema does.
  if (step.at > MAX_FAULT_SEC || (step.for ?? 0) > MAX_FAULT_SEC) throw bad(`AT and FOR are at most ${MAX_FAULT_SEC} s (24.8 days)`);
  const arg = m[2];
  switch (kind) {
    case 'drop-during-replay':
      step.value = arg === undefined ? 3 : Number(arg);
      if (!Number.isInteger(step.value) || step.value < 0) throw bad('the argument is a number of PUBLISHes');
      break;
    case 'clock-jump':
      step.value = Number(arg);
      if (arg === undefined || !Number.isFinite(step.value)) throw bad('give the jump in seconds, e.g. clock-jump:-3600@25');
      break;
    case 'kill-during-write':
      step.point = (arg ?? 'before-rename') as WritePoint;
      if (WRITE_POINTS.indexOf(step.point) < 0) throw bad(`the point is one of ${WRITE_POINTS.join(', ')}`);
      break;
    case 'vapix': {
      const [mode, ms] = (arg ?? '').split(':');
      if (VAPIX_MODES.indexOf(mode as VapixFaultMode) < 0) throw bad(`the VAPIX mode is one of ${VAPIX_MODES.join(', ')}`);
      step.mode = mode as VapixFaultMode;
      if (ms !== undefined) step.delayMs = Number(ms);
      break;
    }
    default:
      if (arg !== undefined) throw bad(`${kind} takes no argument`);
  }
  return step;
}

export interface FaultScriptTarget {
  /** The camera now running (it changes after a kill-and-restart). */
  camera(): SimCamera;
  /** Kills the running camera (power cut) and starts it again with the same data dir. */
  restart(): Promise<void>;
  log?(message: string): void;
}

export interface FaultScript {
  /** Steps applied so far, in order, with the time they were applied (ms after start). */
  readonly applied: Array<{ step: FaultStep; atMs: number; what: 'start' | 'end' }>;
  /** Cancels what has not happened yet and ends the faults still active. */
  stop(): void;
}

/** Runs steps against a camera on real timers. */
export function startFaultScript(steps: FaultStep[], target: FaultScriptTarget): FaultScript {
  const started = Date.now();
  const timers = new Set<NodeJS.Timeout>();
  const applied: FaultScript['applied'] = [];
  const active = new Set<FaultStep>();
  const log = target.log ?? (() => {});
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, Math.max(0, ms));
    timers.add(t);
  };

  const end = (step: FaultStep) => {
    if (!active.delete(step)) return;
    applied.push({ step, atMs: Date.now() - started, what: 'end' });
    log(`fault ${step.kind} ends`);
    const c = target.camera();
    switch (step.kind) {
      case 'broker-down':
      case 'broker-restart':
        c.host.brokerDown = false;
        break;
      case 'disk-full':
        c.host.diskFull = false;
        break;
      case 'vapix':
        c.vapix.setFaults([]);
        break;
      default:
    }
  };

  const begin = (step: FaultStep) => {
    applied.push({ step, atMs: Date.now() - started, what: 'start' });
    log(`fault ${step.kind} starts`);
    const c = target.camera();
    switch (step.kind) {
      case 'broker-down':
        c.host.brokerDown = true;
        c.host.dropBrokerConnections();
        break;
      case 'broker-restart':
        c.host.brokerDown = true;
        c.host.dropBrokerConnections();
        if (step.for === undefined) step.for = 2;
        break;
      case 'drop':
        c.host.dropBrokerConnections();
        return;
      case 'drop-during-replay':
        c.host.dropAfterPublishes = step.value ?? 3;
        return;
      case 'kill-during-write':
        c.host.crashOnWrite = {
          match: /\/outbox\//,
          point: step.point ?? 'before-rename',
          onCrash: () => {
            log(`agent killed during an outbox write (${step.point})`);
            target.restart().catch((err) => log(`restart failed: ${(err as Error).message}`));
          },
        };
        return;
      case 'disk-full':
        c.host.diskFull = true;
        break;
      case 'clock-jump':
        c.host.wallOffsetMs += (step.value ?? 0) * 1000;
        return;
      case 'vapix': {
        const rule: VapixFault = { mode: step.mode ?? 'status500' };
        if (step.delayMs !== undefined) rule.delayMs = step.delayMs;
        if (step.paths) rule.paths = step.paths;
        c.vapix.setFaults([rule]);
        break;
      }
    }
    active.add(step);
    if (step.for !== undefined) later(step.for * 1000, () => end(step));
  };

  for (const step of steps) later(step.at * 1000, () => begin(step));
  return {
    applied,
    stop() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const step of Array.from(active)) end(step);
    },
  };
}
