/**
 * What file, socket and parameter faults change on a simulated device, and keep beside its state dir as a
 * camera's flash keeps them: a private copy of the profile's rootfs (<stateDir>.device/rootfs) and the VAPIX
 * parameters set (<stateDir>.device/params.json). The profile's own rootfs/ is never written.
 */
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync, appendFileSync } from 'node:fs';
import * as path from 'node:path';
import type { SimCamera } from './camera';
import type { FaultStep } from './faults';
import { PROFILES_DIR, type LoadedProfile } from './profiles';
import { formatProcNet, TCP_LISTEN, UDP_UNCONNECTED } from './procnet';

/** As the profile schema's parameter names. */
export const PARAM_NAME = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9_]+)+$/;

/** `/a//b/./c` → `/a/b/c` (`..` is refused before this). */
export function devicePath(p: string): string {
  return '/' + p.split('/').filter((x) => x.length > 0 && x !== '.').join('/');
}

const inside = (dir: string, p: string) => p === dir || p.startsWith(dir + path.sep);

/** The folder beside a camera's state dir that holds what faults changed on the device. */
export function deviceStateDir(stateDir: string): string {
  return path.resolve(stateDir) + '.device';
}

/** What a previous fault left on the device: its private rootfs (null when none) and the parameters set. */
export function loadDeviceState(stateDir: string): { rootfsDir: string | null; params: Record<string, string> } {
  const dir = deviceStateDir(stateDir);
  const rootfsDir = existsSync(path.join(dir, 'rootfs')) ? path.join(dir, 'rootfs') : null;
  let params: Record<string, string> = {};
  try {
    const raw = JSON.parse(readFileSync(path.join(dir, 'params.json'), 'utf8')) as unknown;
    if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
      params = Object.fromEntries(Object.entries(raw as Record<string, unknown>).filter(([k, v]) => PARAM_NAME.test(k) && typeof v === 'string')) as Record<string, string>;
    }
  } catch {
    // none saved (or unreadable): the profile's parameters
  }
  return { rootfsDir, params };
}

/**
 * Copies the profile's rootfs to <stateDir>.device/rootfs unless there is a copy already; returns it.
 * startSimCamera picks the copy up, so a camera started (or restarted) after this sees it from the start.
 */
export function preparePrivateRootfs(profile: LoadedProfile, stateDir: string): string {
  const dir = path.join(deviceStateDir(stateDir), 'rootfs');
  // The copy is written by faults: never inside the bundled profiles or the profile it copies (checked
  // before anything is made there, on the real path of the nearest folder that exists).
  let existing = path.dirname(dir);
  while (!existsSync(existing)) existing = path.dirname(existing);
  const real = path.join(realpathSync(existing), path.relative(existing, path.dirname(dir)));
  for (const guarded of [PROFILES_DIR, profile.dir]) {
    const g = existsSync(guarded) ? realpathSync(guarded) : path.resolve(guarded);
    if (inside(g, real)) throw new Error(`[vigil] [faults] the camera's state dir ${stateDir} is inside ${guarded}: its rootfs copy would change a profile`);
  }
  if (existsSync(dir)) return dir;
  mkdirSync(path.dirname(dir), { recursive: true });
  try {
    // verbatimSymlinks: a link stays the device path it was (cp would rewrite it to a host path).
    cpSync(profile.rootfsDir, dir, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`[vigil] [faults] cannot copy the rootfs of ${profile.name} to ${dir}: ${(err as Error).message}`);
  }
  return dir;
}

/**
 * The camera's private rootfs, switched to (and made) when it still reads the profile's own. A switch
 * while the agent runs gives every file a new inode: contents hash the same, but a symlink (never hashed)
 * then shows as changed. Callers that can should preparePrivateRootfs before the camera starts.
 */
export function privateRootfs(c: SimCamera, log: (m: string) => void): string {
  if (c.host.device.rootfsDir !== c.profile.rootfsDir) return c.host.device.rootfsDir;
  const dir = preparePrivateRootfs(c.profile, c.stateDir);
  c.host.device.rootfsDir = dir;
  log(`the camera now reads a private copy of its rootfs (${dir}); made while it ran, its symlinks may show as changed`);
  return dir;
}

/**
 * The host path of a device path in a private rootfs, for writing: its folder must really be inside the
 * rootfs (a symlinked folder may point anywhere on this machine). With `create`, missing folders are made.
 */
function rootfsPath(root: string, device: string, create = false): string {
  const realRoot = realpathSync(root);
  const full = path.join(root, devicePath(device));
  let existing = path.dirname(full);
  while (!existsSync(existing)) existing = path.dirname(existing);
  if (!inside(realRoot, realpathSync(existing))) throw new Error(`[vigil] [faults] ${device} leads out of the rootfs`);
  const parent = path.dirname(full);
  if (create) mkdirSync(parent, { recursive: true });
  if (!inside(realRoot, realpathSync(parent))) throw new Error(`[vigil] [faults] ${device} leads out of the rootfs`);
  return full;
}

interface Saved {
  bytes: Buffer | null;
  link: string | null;
  mode: number;
  atime: Date;
  mtime: Date;
}

function save(full: string): Saved {
  const st = lstatSync(full);
  if (st.isSymbolicLink()) return { bytes: null, link: readlinkSync(full), mode: st.mode, atime: st.atime, mtime: st.mtime };
  return { bytes: readFileSync(full), link: null, mode: st.mode, atime: st.atime, mtime: st.mtime };
}

function putBack(full: string, s: Saved): void {
  rmSync(full, { force: true });
  if (s.link !== null) {
    symlinkSync(s.link, full);
    return;
  }
  writeFileSync(full, s.bytes as Buffer, { mode: s.mode & 0o7777 });
  // The same bytes and times: the agent's stat check sees the file as it was in its baseline.
  utimesSync(full, s.atime, s.mtime);
}

/** Changes the rootfs or a parameter for one step; returns what puts it back (on the camera running then). */
export function applyDeviceFault(step: FaultStep, c: SimCamera, log: (m: string) => void): (now: SimCamera) => void {
  if (step.kind === 'param') {
    const name = step.param as string;
    const before = c.vapix.paramOverride(name);
    c.vapix.setParam(name, step.to as string);
    saveParams(c);
    return (now) => {
      now.vapix.setParam(name, before);
      saveParams(now);
    };
  }
  const root = privateRootfs(c, log);
  if (step.kind === 'listen') {
    const proto = step.proto ?? 'tcp';
    const full = rootfsPath(root, `/proc/net/${proto}`, true);
    const created = !existsSync(full);
    const text = created ? formatProcNet(proto, []) : readFileSync(full, 'utf8');
    const rows = Math.max(0, text.split("\n").filter((l) => l.trim().length > 0).length - 1);
    const wide = c.profile.data.identity.architecture === 'aarch64' ? 16 : 8;
    const any = proto.endsWith('6') ? '::' : '0.0.0.0';
    const state = proto.startsWith('udp') ? UDP_UNCONNECTED : TCP_LISTEN;
    const row = formatProcNet(proto, [{ local: any, localPort: step.port as number, state, inode: 90000 + (step.port as number) }], wide).split('\n')[1];
    // The kernel numbers rows from 0; this one comes after the ones there.
    const line = row.replace(/^\s*0:/, (m) => `${rows}:`.padStart(m.length));
    writeFileSync(full, (text.endsWith('\n') || text === '' ? text : text + '\n') + line + '\n');
    log(`/proc/net/${proto} has a LISTEN socket on port ${step.port}`);
    return () => {
      if (created) return rmSync(full, { force: true });
      const lines = readFileSync(full, 'utf8').split('\n');
      const i = lines.indexOf(line);
      if (i >= 0) lines.splice(i, 1);
      writeFileSync(full, lines.join('\n'));
    };
  }
  const device = step.path as string;
  if (step.kind === 'file-add') {
    const full = rootfsPath(root, device, true);
    if (existsSync(full) || isLink(full)) throw new Error(`[vigil] [faults] file-add ${device}: it exists already`);
    writeFileSync(full, `#!/bin/sh\n# added by the simulator's fault script (file-add)\n`, { mode: 0o755 });
    return () => rmSync(full, { force: true });
  }
  const full = rootfsPath(root, device);
  if (!existsSync(full) && !isLink(full)) throw new Error(`[vigil] [faults] ${step.kind} ${device}: no such file in the rootfs`);
  const st = lstatSync(full);
  if (step.kind === 'file-change' && !st.isFile()) throw new Error(`[vigil] [faults] file-change ${device}: not a regular file`);
  if (step.kind === 'file-remove' && !st.isFile() && !st.isSymbolicLink()) throw new Error(`[vigil] [faults] file-remove ${device}: not a file or a symlink`);
  const saved = save(full);
  if (step.kind === 'file-change') appendFileSync(full, `\n# changed by the simulator's fault script (file-change)\n`);
  else unlinkSync(full);
  return () => putBack(full, saved);
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Keeps the set parameters beside the state dir, so a restarted camera (a new VAPIX server) still has them. */
function saveParams(c: SimCamera): void {
  const dir = deviceStateDir(c.stateDir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'params.json'), JSON.stringify(c.vapix.paramOverrides(), null, 2) + '\n');
}
