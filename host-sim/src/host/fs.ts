/**
 * host.fs for the simulator. Device paths map onto the device's rootfs (read-only by contract), except the
 * data dir, which maps onto a writable per-camera state directory (seeded once from the profile's localdata/).
 * Paths are resolved component by component with symlinks interpreted as device paths (as under chroot), so
 * neither `..` nor a symlink can leave the root.
 */
import { closeSync, constants as fsConstants, fstatSync, lstatSync, openSync, promises as fsp, readSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import type { DirEntry, FileStat, FileType, HostError, HostErrorCode, HostFs } from '../../../agent/src/host';
import { hostError } from '../../../agent/src/host';
import type { LoadedProfile } from '../profiles';
import type { SimDevice } from './device';

/** Opens for a content read without blocking: a FIFO with no writer would block open(2) forever. */
const READ_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY;

/** Temporary files of an atomic write, left behind by a kill in the middle of one. */
const TEMP_FILE = /\.vigil-tmp-\d+-\d+$/;
const SEEDED_MARKER = '.host-sim-seeded';

/**
 * Opens a resolved host path for a content read: open without blocking, then fstat the open file (not the
 * path, which may have been swapped since) and refuse anything but a regular file. The descriptor is closed on
 * refusal. Synchronous (as the native host's reads are): these are local files, and four thread-pool round
 * trips per file (open, fstat, read, close) were a large part of the simulator's CPU per report.
 */
export function openRegular(real: string, devicePath: string): { fd: number; st: Stats } {
  let fd: number;
  try {
    fd = openSync(real, READ_FLAGS);
  } catch (err) {
    throw fsError(err, devicePath);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw hostError('EISDIR', devicePath);
    if (!st.isFile()) throw hostError('ENOTFILE', `${devicePath} is not a regular file`);
    return { fd, st };
  } catch (err) {
    closeSync(fd);
    throw fsError(err, devicePath);
  }
}

const FS_CODES: Record<string, HostErrorCode> = {
  ENOENT: 'ENOENT',
  EACCES: 'EACCES',
  EPERM: 'EACCES',
  EISDIR: 'EISDIR',
  ENOTDIR: 'ENOTDIR',
  ENOSPC: 'ENOSPC',
  EDQUOT: 'ENOSPC',
  ELOOP: 'ELOOP',
  EFBIG: 'EFBIG',
};

const HOST_ERROR_CODES: ReadonlySet<string> = new Set(
  Object.keys({
    ENOENT: 1, EACCES: 1, EISDIR: 1, ENOTFILE: 1, ENOTDIR: 1, EFBIG: 1, ENOSPC: 1, ELOOP: 1, EIO: 1, EINVAL: 1,
    ETIMEDOUT: 1, ECONNREFUSED: 1, ECONNRESET: 1, EHOSTUNREACH: 1, ENOTFOUND: 1, ETLS: 1, EBADF: 1, ECLOSED: 1,
  } satisfies Record<HostErrorCode, 1>),
);

/**
 * A HostError this host made (hostError), as opposed to one of Node's fs errors: those carry `errno` and
 * `syscall`, and a host path in their message, so they are always mapped.
 */
function isHostError(err: unknown): err is HostError {
  return err instanceof Error && HOST_ERROR_CODES.has((err as { code?: unknown }).code as string) && !('errno' in err);
}

/** A Node fs error as a HostError that names the device path (never the host path behind it). */
export function fsError(err: unknown, devicePath: string): HostError {
  if (isHostError(err)) return err;
  const code = (err as { code?: string }).code;
  return hostError((code && FS_CODES[code]) || 'EIO', devicePath);
}

function fileType(st: Stats | { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): FileType {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  return 'other';
}

/** Splits a device path into components, resolving `.` and clamping `..` at the root. */
export function normalizeDevicePath(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return '/' + out.join('/');
}

const MAX_SYMLINK_HOPS = 40;

/**
 * Creates the state directory and, on first start only, seeds it from the profile's localdata/ (a shipped
 * prior baseline, for instance). Temporary files a kill left behind are removed first.
 */
export async function prepareStateDir(stateDir: string, profile: LoadedProfile): Promise<void> {
  await fsp.mkdir(stateDir, { recursive: true });
  const marker = path.join(stateDir, SEEDED_MARKER);
  const seeded = await fsp.stat(marker).then(
    () => true,
    () => false,
  );
  // A kill during an atomic write leaves its temporary file behind: clean up before the agent runs.
  await removeTempFiles(stateDir);
  if (seeded) return;
  if (profile.localdataDir) await fsp.cp(profile.localdataDir, stateDir, { recursive: true, force: false, errorOnExist: false });
  await fsp.writeFile(marker, `seeded from ${profile.name}\n`);
}

async function removeTempFiles(dir: string): Promise<void> {
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await removeTempFiles(p);
    else if (TEMP_FILE.test(e.name)) await fsp.rm(p, { force: true }).catch(() => undefined);
  }
}

/** The device's files: path mapping and resolution, and the host.fs calls on top of them. */
export class DeviceFiles {
  private tmpCounter = 0;

  constructor(
    private readonly simDevice: SimDevice,
    /** Writable host directory that backs the data dir. */
    readonly stateDir: string,
    /** The data dir, a normalised device path. */
    readonly dataDir: string,
  ) {}

  // ---- path mapping ---------------------------------------------------------------------------------------

  private inDataDir(device: string): boolean {
    return device === this.dataDir || device.startsWith(this.dataDir + '/');
  }

  /** The host path backing a normalised device path (no symlinks resolved). */
  private realPath(device: string): string {
    if (this.inDataDir(device)) return path.join(this.stateDir, device.slice(this.dataDir.length));
    return path.join(this.simDevice.rootfsDir, device);
  }

  /**
   * Resolves a device path to a host path inside the root, following symlinks (all of them, or all but
   * the last component for lstat semantics). Symlink targets are device paths.
   */
  async resolve(devicePath: string, followLast: boolean): Promise<{ device: string; real: string }> {
    if (typeof devicePath !== 'string' || devicePath.length === 0) throw hostError('EINVAL', 'path must be a non-empty string');
    const queue = normalizeDevicePath(devicePath).split('/').filter((s) => s.length > 0);
    let resolved: string[] = [];
    let hops = 0;
    while (queue.length > 0) {
      const part = queue.shift() as string;
      if (part === '.') continue;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const candidate = [...resolved, part];
      const device = '/' + candidate.join('/');
      if (queue.length === 0 && !followLast) {
        resolved = candidate;
        break;
      }
      // Synchronous and without throwing: one lstat per component, on every path the agent touches, is the
      // simulator's biggest fs cost as promises (a thread-pool round trip each, an Error for each missing file).
      let st: Stats | undefined;
      try {
        st = lstatSync(this.realPath(device), { throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (!st || !st.isSymbolicLink()) {
        // Missing or unreadable: the operation on the final path reports it with the right code.
        resolved = candidate;
        continue;
      }
      if (++hops > MAX_SYMLINK_HOPS) throw hostError('ELOOP', devicePath);
      const target = await fsp.readlink(this.realPath(device));
      const targetParts = target.split('/').filter((s) => s.length > 0);
      if (target.startsWith('/')) resolved = [];
      queue.unshift(...targetParts);
    }
    const device = '/' + resolved.join('/');
    return { device, real: this.realPath(device) };
  }

  private async resolveWritable(devicePath: string): Promise<{ device: string; real: string }> {
    const normal = normalizeDevicePath(devicePath);
    if (!this.inDataDir(normal)) throw hostError('EACCES', `${devicePath} is outside the data dir`);
    const r = await this.resolve(normal, false);
    if (!this.inDataDir(r.device)) throw hostError('EACCES', `${devicePath} resolves outside the data dir`);
    return r;
  }

  // ---- fs -------------------------------------------------------------------------------------------------

  readonly fs: HostFs = {
    readFile: async (devicePath: string, maxBytes: number): Promise<ArrayBuffer> => {
      const { real } = await this.resolve(devicePath, true);
      const { fd, st } = openRegular(real, devicePath);
      try {
        if (st.size > maxBytes) throw hostError('EFBIG', `${devicePath} is larger than ${maxBytes} bytes`);
        // Read up to cap + 1: a file that grew (or a /proc file that reports size 0) is still capped.
        const buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(st.size + 1, 4096)));
        let total = 0;
        for (;;) {
          if (total === buf.length) break;
          const bytesRead = readSync(fd, buf, total, buf.length - total, total);
          if (bytesRead === 0) break;
          total += bytesRead;
        }
        if (total > maxBytes) throw hostError('EFBIG', `${devicePath} is larger than ${maxBytes} bytes`);
        return buf.buffer.slice(buf.byteOffset, buf.byteOffset + total) as ArrayBuffer;
      } catch (err) {
        throw fsError(err, devicePath);
      } finally {
        closeSync(fd);
      }
    },

    list: async (devicePath: string): Promise<DirEntry[]> => {
      const { real } = await this.resolve(devicePath, true);
      try {
        const entries = await fsp.readdir(real, { withFileTypes: true });
        const out: DirEntry[] = [];
        for (const e of entries) {
          if (TEMP_FILE.test(e.name) || e.name === SEEDED_MARKER) continue;
          out.push({ name: e.name, type: fileType(e) });
        }
        return out;
      } catch (err) {
        throw fsError(err, devicePath);
      }
    },

    stat: async (devicePath: string): Promise<FileStat> => {
      const { real } = await this.resolve(devicePath, false);
      try {
        const st = await fsp.lstat(real);
        return { type: fileType(st), size: st.size, mtimeMs: Math.floor(st.mtimeMs), ino: st.ino, mode: st.mode };
      } catch (err) {
        throw fsError(err, devicePath);
      }
    },

    writeFileAtomic: async (devicePath: string, data: ArrayBuffer): Promise<void> => {
      const { real } = await this.resolveWritable(devicePath);
      if (this.simDevice.diskFull) throw hostError('ENOSPC', `${devicePath}: no space left on device`);
      const tmp = `${real}.vigil-tmp-${process.pid}-${this.tmpCounter++}`;
      const crash = this.simDevice.crashOnWrite && this.simDevice.crashOnWrite.match.test(devicePath) ? this.simDevice.crashOnWrite : null;
      if (crash) this.simDevice.crashOnWrite = null;
      const die = (): Promise<never> => {
        crash?.onCrash();
        return new Promise<never>(() => {});
      };
      try {
        const handle = await fsp.open(tmp, 'w', 0o644);
        try {
          if (crash?.point === 'partial-tmp') {
            await handle.writeFile(new Uint8Array(data).subarray(0, data.byteLength >> 1));
            await handle.close();
            return await die(); // never settles, so the finally below does not close twice
          }
          await handle.writeFile(new Uint8Array(data));
          await handle.sync();
        } finally {
          await handle.close();
        }
        if (crash?.point === 'before-rename') return await die();
        await fsp.rename(tmp, real);
        if (crash?.point === 'after-rename') return await die();
      } catch (err) {
        await fsp.rm(tmp, { force: true }).catch(() => undefined);
        throw fsError(err, devicePath);
      }
    },

    remove: async (devicePath: string): Promise<void> => {
      const { real } = await this.resolveWritable(devicePath);
      try {
        const st = await fsp.lstat(real);
        if (st.isDirectory()) throw hostError('EISDIR', devicePath);
        await fsp.unlink(real);
      } catch (err) {
        throw fsError(err, devicePath);
      }
    },

    mkdir: async (devicePath: string): Promise<void> => {
      const { real } = await this.resolveWritable(devicePath);
      if (this.simDevice.diskFull && !(await fsp.stat(real).then((st) => st.isDirectory(), () => false))) {
        throw hostError('ENOSPC', `${devicePath}: no space left on device`);
      }
      try {
        await fsp.mkdir(real, { recursive: true });
      } catch (err) {
        if ((err as { code?: string }).code === 'EEXIST') throw hostError('ENOTDIR', devicePath);
        throw fsError(err, devicePath);
      }
    },
  };

}
