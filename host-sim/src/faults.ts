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
 *   file-change:/usr/bin/curl@45+60   bytes appended to a file of the camera's rootfs; put back after 60 s
 *   file-add:/usr/bin/.x@45       a new file in the rootfs (file-remove:PATH takes one away)
 *   param:Network.SSH.Enabled=yes@30+60   a VAPIX parameter (param.cgi) set; the old value back after 60 s
 *   listen:23/tcp@60              a LISTEN socket in /proc/net/tcp (tcp, udp, tcp6 or udp6; tcp by default)
 *
 * File and socket faults never write the profile's own rootfs/: the camera gets a private copy of it
 * beside its state dir (<stateDir>.device/rootfs, kept across restarts as a camera's flash is), and set
 * parameters are kept in <stateDir>.device/params.json for the same reason (device-changes.ts).
 */
import type { SimCamera } from './camera';
import { applyDeviceFault, devicePath, PARAM_NAME, privateRootfs } from './device-changes';
import type { WritePoint } from './host/device';
import type { VapixFault, VapixFaultMode } from './profiles';
import type { ProcNetProto } from './procnet';

// The CLI, the demo and the end-to-end tests prepare a camera's private rootfs through this module.
export { preparePrivateRootfs } from './device-changes';

export type FaultKind =
  | 'broker-down'
  | 'broker-restart'
  | 'drop'
  | 'drop-during-replay'
  | 'kill-during-write'
  | 'disk-full'
  | 'clock-jump'
  | 'vapix'
  | 'file-change'
  | 'file-add'
  | 'file-remove'
  | 'param'
  | 'listen';

export type { WritePoint };

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
  /** file-change, file-add, file-remove: the device path (inside the rootfs). */
  path?: string;
  /** param: the parameter's full name without `root.`, and the value it is set to. */
  param?: string;
  to?: string;
  /** listen: the port and the /proc/net table (tcp by default). */
  port?: number;
  proto?: ProcNetProto;
}

export const FAULT_KINDS: FaultKind[] = [
  'broker-down',
  'broker-restart',
  'drop',
  'drop-during-replay',
  'kill-during-write',
  'disk-full',
  'clock-jump',
  'vapix',
  'file-change',
  'file-add',
  'file-remove',
  'param',
  'listen',
];
const FILE_KINDS: FaultKind[] = ['file-change', 'file-add', 'file-remove'];
const PROTOS: ProcNetProto[] = ['tcp', 'udp', 'tcp6', 'udp6'];
const MAX_PATH = 1024;
const MAX_PARAM_VALUE = 1024;
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
    case 'file-change':
    case 'file-add':
    case 'file-remove':
      if (arg === undefined) throw bad(`give the file, e.g. ${kind}:/usr/bin/curl@45`);
      step.path = arg;
      break;
    case 'param': {
      const eq = (arg ?? '').indexOf('=');
      if (arg === undefined || eq < 0) throw bad('give the parameter and its value, e.g. param:Network.SSH.Enabled=yes@30');
      step.param = arg.slice(0, eq);
      step.to = arg.slice(eq + 1);
      break;
    }
    case 'listen': {
      const lm = /^(\d{1,5})(?:\/([a-z0-9]+))?$/.exec(arg ?? '');
      if (!lm) throw bad('give the port, e.g. listen:23/tcp@60');
      step.port = Number(lm[1]);
      step.proto = (lm[2] ?? 'tcp') as ProcNetProto;
      break;
    }
    default:
      if (arg !== undefined) throw bad(`${kind} takes no argument`);
  }
  const problem = stepProblem(step);
  if (problem) throw bad(problem);
  return step;
}

/**
 * What is wrong with a file, param or listen step (from `--fault` or a profile's script), or null. Paths
 * stay inside the rootfs: absolute, no `..`, no control characters.
 */
export function stepProblem(step: FaultStep): string | null {
  if (FILE_KINDS.includes(step.kind)) {
    const p = step.path;
    if (typeof p !== 'string' || !p.startsWith('/')) return 'the path is a device path starting with /';
    if (p.length > MAX_PATH) return `the path is longer than ${MAX_PATH} characters`;
    if (/[\u0000-\u001f\u007f]/.test(p)) return 'the path has a control character';
    if (p.split('/').includes('..')) return 'the path must stay inside the rootfs (no ..)';
    if (devicePath(p) === '/') return 'the path names the rootfs itself, not a file';
  }
  if (step.kind === 'param') {
    if (typeof step.param !== 'string' || !PARAM_NAME.test(step.param)) return 'the parameter name is like Network.SSH.Enabled (letters, digits, _, dots)';
    if (typeof step.to !== 'string' || step.to.length > MAX_PARAM_VALUE || /[\u0000-\u001f\u007f]/.test(step.to)) {
      return `the parameter value is one line of at most ${MAX_PARAM_VALUE} characters`;
    }
  }
  if (step.kind === 'listen') {
    if (!Number.isInteger(step.port) || (step.port as number) < 1 || (step.port as number) > 65535) return 'the port is 1..65535';
    if (!PROTOS.includes(step.proto ?? 'tcp')) return `the protocol is one of ${PROTOS.join(', ')}`;
  }
  return null;
}

/** Steps that change the rootfs, so the camera needs a private copy of it. */
export function needsPrivateRootfs(steps: FaultStep[]): boolean {
  return steps.some((s) => FILE_KINDS.includes(s.kind) || s.kind === 'listen');
}

/** How a step is named in the log: its kind and what it acts on. */
function label(step: FaultStep): string {
  if (FILE_KINDS.includes(step.kind)) return `${step.kind} ${step.path}`;
  if (step.kind === 'param') return `param ${step.param}=${step.to}`;
  if (step.kind === 'listen') return `listen ${step.port}/${step.proto ?? 'tcp'}`;
  return step.kind;
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
  // A profile's script is checked by the schema; check again here, before anything runs.
  for (const step of steps) {
    const problem = stepProblem(step);
    if (problem) throw new Error(`[vigil] [faults] fault ${step.kind} at ${step.at} s: ${problem}`);
  }
  const started = Date.now();
  const timers = new Set<NodeJS.Timeout>();
  const applied: FaultScript['applied'] = [];
  const active = new Set<FaultStep>();
  const undo = new Map<FaultStep, (now: SimCamera) => void>();
  const log = target.log ?? (() => {});
  // The switch to a private rootfs happens now, not in the middle of the first change.
  if (needsPrivateRootfs(steps)) privateRootfs(target.camera(), log);
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
    log(`fault ${label(step)} ends`);
    const c = target.camera();
    const put = undo.get(step);
    if (put) {
      undo.delete(step);
      try {
        put(c);
      } catch (err) {
        log(`fault ${label(step)} could not be undone: ${(err as Error).message}`);
      }
    }
    switch (step.kind) {
      case 'broker-down':
      case 'broker-restart':
        c.host.device.brokerDown = false;
        break;
      case 'disk-full':
        c.host.device.diskFull = false;
        break;
      case 'vapix':
        c.vapix.setFaults([]);
        break;
      default:
    }
  };

  const begin = (step: FaultStep) => {
    applied.push({ step, atMs: Date.now() - started, what: 'start' });
    log(`fault ${label(step)} starts`);
    const c = target.camera();
    switch (step.kind) {
      case 'file-change':
      case 'file-add':
      case 'file-remove':
      case 'param':
      case 'listen':
        try {
          undo.set(step, applyDeviceFault(step, c, log));
        } catch (err) {
          // A timer has no caller to throw to: say what failed and leave the camera as it is.
          log(`fault ${label(step)} failed: ${(err as Error).message}`);
          return;
        }
        break;
      case 'broker-down':
        c.host.device.brokerDown = true;
        c.host.dropBrokerConnections();
        break;
      case 'broker-restart':
        c.host.device.brokerDown = true;
        c.host.dropBrokerConnections();
        if (step.for === undefined) step.for = 2;
        break;
      case 'drop':
        c.host.dropBrokerConnections();
        return;
      case 'drop-during-replay':
        c.host.device.dropAfterPublishes = step.value ?? 3;
        return;
      case 'kill-during-write':
        c.host.device.crashOnWrite = {
          match: /\/outbox\//,
          point: step.point ?? 'before-rename',
          onCrash: () => {
            log(`agent killed during an outbox write (${step.point})`);
            target.restart().catch((err) => log(`restart failed: ${(err as Error).message}`));
          },
        };
        return;
      case 'disk-full':
        c.host.device.diskFull = true;
        break;
      case 'clock-jump':
        c.host.device.wallOffsetMs += (step.value ?? 0) * 1000;
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
