/**
 * SimHost: the Node implementation of Host for one simulated camera.
 *
 * - fs: device paths map onto the profile's rootfs/ (read-only by contract), except the data dir, which
 *   maps onto a writable per-camera state directory (seeded once from the profile's localdata/). Paths
 *   are resolved component by component with symlinks interpreted as device paths (as under chroot), so
 *   neither `..` nor a symlink can leave the root.
 * - net: node:net / node:tls, pull-based reads (the socket is paused while no read is pending).
 * - crypto: node:crypto; sha256File streams, and one token bucket per host paces all of it by maxBytesPerSec.
 * - clock: Date.now (plus a wall offset for simulated clock jumps), performance.now, setTimeout.
 * - log: structured records with the camera serial, to an injectable sink.
 */
import { createHash, randomBytes as nodeRandomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fsp, readFileSync, type Stats } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type {
  ConnectOptions,
  DirEntry,
  FileStat,
  FileType,
  Host,
  HostErrorCode,
  LogLevel,
  RuntimeInfo,
  RuntimeMemory,
  VapixCredentials,
} from '../../agent/src/host';
import { HOST_API_VERSION } from '../../agent/src/host';
import type { LoadedProfile } from './profiles';
import { compareOsVersions } from './profiles';

export const DEFAULT_DATA_DIR = '/usr/local/packages/vigil/localdata';
/** AXIS OS from which an ACAP gets VAPIX credentials over D-Bus (GetCredentials GA, reference §3.1). */
export const VAPIX_DBUS_CREDENTIALS_SINCE = '11.9';

export const HOST_SIM_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

export type HostSimError = Error & { code: HostErrorCode };

const ours = new WeakSet<Error>();

export function hostError(code: HostErrorCode, message: string): HostSimError {
  const err = new Error(`${code}: ${message}`) as HostSimError;
  err.code = code;
  ours.add(err);
  return err;
}

// ---- logging ------------------------------------------------------------------------------------------

export interface LogRecord {
  time: string;
  serial: string;
  level: LogLevel;
  message: string;
}

export type LogSink = (record: LogRecord) => void;

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** One JSON line per record on stderr, from `minLevel` up. */
export function stderrLogSink(minLevel: LogLevel = 'info'): LogSink {
  return (r) => {
    if (LEVEL_RANK[r.level] >= LEVEL_RANK[minLevel]) process.stderr.write(JSON.stringify(r) + '\n');
  };
}

export const silentLogSink: LogSink = () => {};

/** Keeps records in memory (tests). */
export function memoryLogSink(): LogSink & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const sink = ((r: LogRecord) => {
    records.push(r);
  }) as LogSink & { records: LogRecord[] };
  sink.records = records;
  return sink;
}

// ---- options ------------------------------------------------------------------------------------------

export interface SimHostOptions {
  profile: LoadedProfile;
  /** Writable per-camera directory that backs the data dir (created if missing). */
  stateDir: string;
  /** Config values over the profile's agent parameters (BrokerHost, BrokerPort, VapixPort…). */
  overrides?: Record<string, string>;
  log?: LogSink;
  bundleSha256?: string | null;
  lastExit?: string | null;
  /** The clock sha256File paces itself by; tests inject a virtual one to check the cap without waiting. */
  hashClock?: HashClock;
  /** The folder the device's files come from; the profile's rootfs/ when absent (faults.ts gives a private copy). */
  rootfsDir?: string;
}

/** Time for the hash rate cap: a monotonic reading and a wait. */
export interface HashClock {
  monotonic(): number;
  sleep(ms: number): Promise<void>;
}

const realHashClock: HashClock = {
  monotonic: () => performance.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** Opens for a content read without blocking: a FIFO with no writer would block open(2) forever. */
const READ_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY;

/**
 * Opens a resolved host path for a content read: open without blocking, then fstat the open file (not the
 * path, which may have been swapped since) and refuse anything but a regular file. The handle is closed on
 * refusal.
 */
async function openRegular(real: string, devicePath: string): Promise<{ handle: fsp.FileHandle; st: Stats }> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(real, READ_FLAGS);
  } catch (err) {
    throw fsError(err, devicePath);
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw hostError('EISDIR', devicePath);
    if (!st.isFile()) throw hostError('ENOTFILE', `${devicePath} is not a regular file`);
    return { handle, st };
  } catch (err) {
    await handle.close();
    throw fsError(err, devicePath);
  }
}

interface SimSocket {
  socket: net.Socket;
  /** A connection to the configured broker (the target of network faults). */
  broker: boolean;
  chunks: Buffer[];
  ended: boolean;
  error: HostSimError | null;
  pending: { resolve: (v: ArrayBuffer | null) => void; reject: (e: Error) => void } | null;
}

const NETWORK_CODES: Record<string, HostErrorCode> = {
  ECONNREFUSED: 'ECONNREFUSED',
  ETIMEDOUT: 'ETIMEDOUT',
  ECONNRESET: 'ECONNRESET',
  EPIPE: 'ECONNRESET',
  ENOTFOUND: 'ENOTFOUND',
  EAI_AGAIN: 'ENOTFOUND',
  EHOSTUNREACH: 'EHOSTUNREACH',
  ENETUNREACH: 'EHOSTUNREACH',
};

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

/** A Node fs error as a HostError that names the device path (never the host path behind it). */
function fsError(err: unknown, devicePath: string): HostSimError {
  if (err instanceof Error && ours.has(err)) return err as HostSimError;
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

export class SimHost implements Host {
  readonly apiVersion = HOST_API_VERSION;
  readonly info: RuntimeInfo;
  readonly serial: string;
  readonly profile: LoadedProfile;
  readonly stateDir: string;
  readonly dataDir: string;
  /** Added to Date.now(): a simulated NTP or user clock jump. */
  wallOffsetMs = 0;
  /**
   * Where device paths outside the data dir live: the profile's rootfs/, or a private copy of it that file
   * and socket faults may change (faults.ts), so the profile's own files are never written.
   */
  rootfsDir: string;

  // ---- fault injection (faults.ts scripts these) ----
  /** Every write under the data dir fails with ENOSPC, as a full flash does. */
  diskFull = false;
  /** Connections to the broker are refused (ECONNREFUSED), as when it is down or unreachable. */
  brokerDown = false;
  /** When set, the connection to the broker is dropped before the (n+1)th PUBLISH the agent writes. */
  dropAfterPublishes: number | null = null;
  /**
   * Kills the agent in the middle of an atomic write to a matching path: `partial-tmp` after half the
   * temporary file, `before-rename` with the temporary file complete, `after-rename` with the file in
   * place but the call not yet returned. The write never settles; `onCrash` kills the camera.
   */
  crashOnWrite: { match: RegExp; point: 'partial-tmp' | 'before-rename' | 'after-rename'; onCrash(): void } | null = null;

  private readonly configValues: Record<string, string>;
  private readonly logSink: LogSink;
  private readonly sockets = new Map<number, SimSocket>();
  /** Connections still being set up: close() aborts them, so none is adopted after the host closed. */
  private readonly connecting = new Set<() => void>();
  private nextSocket = 1;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private nextTimer = 1;
  private tmpCounter = 0;
  private memorySource: (() => RuntimeMemory) | null = null;
  private closed = false;
  private readonly credentials: VapixCredentials | null;
  private readonly hashClock: HashClock;

  constructor(options: SimHostOptions) {
    this.hashClock = options.hashClock ?? realHashClock;
    const p = options.profile.data;
    this.profile = options.profile;
    this.rootfsDir = options.rootfsDir ?? options.profile.rootfsDir;
    this.serial = p.identity.serialNumber;
    this.stateDir = path.resolve(options.stateDir);
    this.logSink = options.log ?? stderrLogSink();
    this.configValues = buildConfig(options.profile, options.overrides ?? {});
    this.dataDir = normalizeDevicePath(this.configValues.DataDir || DEFAULT_DATA_DIR);
    this.info = {
      name: 'host-sim',
      version: HOST_SIM_VERSION,
      bundleSha256: options.bundleSha256 ?? null,
      lastExit: options.lastExit ?? null,
    };
    this.credentials = hasDbusCredentials(options.profile) ? { ...p.vapix.credentials } : null;
    if (this.credentials) {
      const creds = this.credentials;
      this.vapixCredentials = () => Promise.resolve({ ...creds });
    }
  }

  /** Local VAPIX credentials, present only when the profile's AXIS OS has D-Bus GetCredentials (≥ 11.9). */
  vapixCredentials?: () => Promise<VapixCredentials>;

  /**
   * Creates the state directory and, on first start only, seeds it from the profile's localdata/
   * (a shipped prior baseline, for instance). Call before the agent runs.
   */
  async prepare(): Promise<void> {
    await fsp.mkdir(this.stateDir, { recursive: true });
    const marker = path.join(this.stateDir, '.host-sim-seeded');
    const seeded = await fsp.stat(marker).then(
      () => true,
      () => false,
    );
    // A kill during an atomic write leaves its temporary file behind: clean up before the agent runs.
    await removeTempFiles(this.stateDir);
    if (seeded) return;
    if (this.profile.localdataDir) await fsp.cp(this.profile.localdataDir, this.stateDir, { recursive: true, force: false, errorOnExist: false });
    await fsp.writeFile(marker, `seeded from ${this.profile.name}\n`);
  }

  /** Where Host.memory() gets its numbers (the QuickJS runner). */
  attachRuntime(source: { memory(): RuntimeMemory }): void {
    this.memorySource = () => source.memory();
  }

  /** Closes every socket and timer. The host answers nothing afterwards. */
  close(): void {
    this.closed = true;
    for (const abort of Array.from(this.connecting)) abort();
    this.connecting.clear();
    for (const id of Array.from(this.sockets.keys())) this.net.close(id);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  // ---- path mapping ---------------------------------------------------------------------------------------

  private inDataDir(device: string): boolean {
    return device === this.dataDir || device.startsWith(this.dataDir + '/');
  }

  /** The host path backing a normalised device path (no symlinks resolved). */
  private realPath(device: string): string {
    if (this.inDataDir(device)) return path.join(this.stateDir, device.slice(this.dataDir.length));
    return path.join(this.rootfsDir, device);
  }

  /**
   * Resolves a device path to a host path inside the root, following symlinks (all of them, or all but
   * the last component for lstat semantics). Symlink targets are device paths.
   */
  private async resolve(devicePath: string, followLast: boolean): Promise<{ device: string; real: string }> {
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
      let st: Stats;
      try {
        st = await fsp.lstat(this.realPath(device));
      } catch {
        // Missing or unreadable: the operation on the final path reports it with the right code.
        resolved = candidate;
        continue;
      }
      if (!st.isSymbolicLink()) {
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

  readonly fs = {
    readFile: async (devicePath: string, maxBytes: number): Promise<ArrayBuffer> => {
      const { real } = await this.resolve(devicePath, true);
      const { handle, st } = await openRegular(real, devicePath);
      try {
        if (st.size > maxBytes) throw hostError('EFBIG', `${devicePath} is larger than ${maxBytes} bytes`);
        // Read up to cap + 1: a file that grew (or a /proc file that reports size 0) is still capped.
        const buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(st.size + 1, 4096)));
        let total = 0;
        for (;;) {
          if (total === buf.length) break;
          const { bytesRead } = await handle.read(buf, total, buf.length - total, total);
          if (bytesRead === 0) break;
          total += bytesRead;
        }
        if (total > maxBytes) throw hostError('EFBIG', `${devicePath} is larger than ${maxBytes} bytes`);
        return buf.buffer.slice(buf.byteOffset, buf.byteOffset + total) as ArrayBuffer;
      } catch (err) {
        throw fsError(err, devicePath);
      } finally {
        await handle.close();
      }
    },

    list: async (devicePath: string): Promise<DirEntry[]> => {
      const { real } = await this.resolve(devicePath, true);
      try {
        const entries = await fsp.readdir(real, { withFileTypes: true });
        const out: DirEntry[] = [];
        for (const e of entries) {
          if (/\.vigil-tmp-\d+-\d+$/.test(e.name) || e.name === '.host-sim-seeded') continue;
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
      if (this.diskFull) throw hostError('ENOSPC', `${devicePath}: no space left on device`);
      const tmp = `${real}.vigil-tmp-${process.pid}-${this.tmpCounter++}`;
      const crash = this.crashOnWrite && this.crashOnWrite.match.test(devicePath) ? this.crashOnWrite : null;
      if (crash) this.crashOnWrite = null;
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
      if (this.diskFull && !(await fsp.stat(real).then((st) => st.isDirectory(), () => false))) {
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

  // ---- net ------------------------------------------------------------------------------------------------

  private async readPem(devicePath: string): Promise<Buffer> {
    try {
      return Buffer.from(await this.fs.readFile(devicePath, 1 << 20));
    } catch (err) {
      throw hostError('ETLS', `cannot read ${devicePath}: ${(err as Error).message}`);
    }
  }

  readonly net = {
    connect: async (options: ConnectOptions): Promise<number> => {
      if (this.closed) throw hostError('ECLOSED', 'the host is closed');
      if (!options || typeof options.host !== 'string' || typeof options.port !== 'number') {
        throw hostError('EINVAL', 'connect needs host and port');
      }
      const timeoutMs = options.timeoutMs > 0 ? options.timeoutMs : 10_000;
      const target = `${options.host}:${options.port}`;
      const toBroker = this.isBroker(options.host, options.port);
      if (toBroker && this.brokerDown) throw hostError('ECONNREFUSED', `${target}: connect ECONNREFUSED (simulated: broker down)`);
      let socket: net.Socket;
      const useTls = !!options.tls;
      if (options.tls) {
        const t = options.tls;
        const secure: tls.ConnectionOptions = {
          host: options.host,
          port: options.port,
          rejectUnauthorized: t.verify !== false,
          minVersion: 'TLSv1.2',
        };
        const name = t.serverName ?? options.host;
        if (!net.isIP(name)) secure.servername = name;
        if (t.serverName) secure.checkServerIdentity = (_host, cert) => tls.checkServerIdentity(t.serverName as string, cert);
        if (t.caFile) secure.ca = await this.readPem(t.caFile);
        if (t.certFile) secure.cert = await this.readPem(t.certFile);
        if (t.keyFile) secure.key = await this.readPem(t.keyFile);
        socket = tls.connect(secure);
      } else {
        socket = net.connect({ host: options.host, port: options.port });
      }
      if (this.closed) {
        // close() ran while the TLS files were read.
        socket.destroy();
        throw hostError('ECLOSED', 'the host is closed');
      }
      return new Promise<number>((resolve, reject) => {
        let done = false;
        const abort = () => finish(hostError('ECLOSED', `${target}: the host closed while connecting`));
        this.connecting.add(abort);
        const timer = setTimeout(() => {
          finish(hostError('ETIMEDOUT', `${target}: not connected within ${timeoutMs} ms`));
          socket.destroy();
        }, timeoutMs);
        const finish = (err: HostSimError | null) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          this.connecting.delete(abort);
          socket.removeListener('error', onError);
          if (!err && this.closed) err = hostError('ECLOSED', `${target}: the host closed while connecting`);
          if (err) {
            socket.destroy();
            reject(err);
            return;
          }
          const id = this.nextSocket++;
          this.adopt(id, socket, toBroker);
          resolve(id);
        };
        const onError = (err: Error) => finish(connectError(err, target, useTls));
        socket.once('error', onError);
        socket.once(useTls ? 'secureConnect' : 'connect', () => finish(null));
      });
    },

    read: (id: number): Promise<ArrayBuffer | null> => {
      const s = this.sockets.get(id);
      if (!s) return Promise.reject(hostError('EBADF', `socket ${id}`));
      if (s.pending) return Promise.reject(hostError('EINVAL', `socket ${id} already has a read pending`));
      return new Promise<ArrayBuffer | null>((resolve, reject) => {
        s.pending = { resolve, reject };
        this.deliver(s);
        if (s.pending) s.socket.resume();
      });
    },

    write: (id: number, data: ArrayBuffer): Promise<void> => {
      const s = this.sockets.get(id);
      if (!s) return Promise.reject(hostError('EBADF', `socket ${id}`));
      if (s.error) return Promise.reject(s.error);
      if (s.socket.destroyed || !s.socket.writable) return Promise.reject(hostError('ECLOSED', `socket ${id} is closed`));
      if (s.broker && this.dropAfterPublishes !== null && data.byteLength > 0 && new Uint8Array(data)[0] >> 4 === 3) {
        if (this.dropAfterPublishes <= 0) {
          this.dropAfterPublishes = null;
          s.socket.destroy();
          return Promise.reject(hostError('ECONNRESET', `socket ${id}: connection reset (simulated: dropped during replay)`));
        }
        this.dropAfterPublishes--;
      }
      return new Promise<void>((resolve, reject) => {
        s.socket.write(new Uint8Array(data), (err) => (err ? reject(connectError(err, `socket ${id}`, false)) : resolve()));
      });
    },

    close: (id: number): void => {
      const s = this.sockets.get(id);
      if (!s) return;
      this.sockets.delete(id);
      s.socket.destroy();
      if (s.pending) {
        const p = s.pending;
        s.pending = null;
        p.resolve(null);
      }
    },
  };

  private isBroker(host: string, port: number): boolean {
    return host === this.configValues.BrokerHost && String(port) === String(this.configValues.BrokerPort || '1883');
  }

  /** Drops every connection to the broker at once (a broker restart or a network cut, seen from the camera). */
  dropBrokerConnections(): number {
    let n = 0;
    for (const s of this.sockets.values()) {
      if (s.broker && !s.socket.destroyed) {
        s.socket.destroy();
        n++;
      }
    }
    return n;
  }

  private adopt(id: number, socket: net.Socket, broker = false): void {
    const s: SimSocket = { socket, broker, chunks: [], ended: false, error: null, pending: null };
    this.sockets.set(id, s);
    socket.setNoDelay(true);
    socket.pause();
    socket.on('data', (chunk: Buffer) => {
      s.chunks.push(chunk);
      this.deliver(s);
    });
    socket.on('end', () => {
      s.ended = true;
      this.deliver(s);
    });
    socket.on('error', (err) => {
      s.error = connectError(err, `socket ${id}`, socket instanceof tls.TLSSocket);
      this.deliver(s);
    });
    socket.on('close', () => {
      s.ended = true;
      this.deliver(s);
    });
  }

  private deliver(s: SimSocket): void {
    const p = s.pending;
    if (!p) return;
    if (s.chunks.length > 0) {
      s.pending = null;
      const chunk = s.chunks.length === 1 ? s.chunks[0] : Buffer.concat(s.chunks);
      s.chunks = [];
      s.socket.pause();
      p.resolve(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer);
    } else if (s.error) {
      s.pending = null;
      p.reject(s.error);
    } else if (s.ended) {
      s.pending = null;
      p.resolve(null);
    }
  }

  // ---- crypto ---------------------------------------------------------------------------------------------

  /**
   * The host's one hashing token bucket (bytes), shared by every sha256File call so that the cap holds across
   * files: pacing per call let a stream of files smaller than a chunk go at full speed (BENCHMARKS.md, miss 1).
   * A read may run the bucket into debt; the next read waits until it is paid back.
   */
  private readonly hashBucket = { tokens: 0, at: Number.NaN };

  /** Refills the bucket at `rate` bytes/s up to `burst` (one chunk) and waits until it is out of debt. */
  private async hashTokens(devicePath: string, rate: number, burst: number): Promise<void> {
    const b = this.hashBucket;
    for (;;) {
      const now = this.hashClock.monotonic();
      b.tokens = Number.isNaN(b.at) ? burst : Math.min(burst, b.tokens + ((now - b.at) * rate) / 1000);
      b.at = now;
      // Less than a byte short is rounding, not debt.
      if (b.tokens > -1) return;
      await this.hashClock.sleep((-b.tokens / rate) * 1000);
      if (this.closed) throw hostError('ECLOSED', `${devicePath}: the host closed while hashing`);
    }
  }

  readonly crypto = {
    sha256: (data: ArrayBuffer): string => createHash('sha256').update(new Uint8Array(data)).digest('hex'),

    sha256File: async (devicePath: string, maxBytesPerSec: number): Promise<string> => {
      const { real } = await this.resolve(devicePath, true);
      const { handle } = await openRegular(real, devicePath);
      try {
        const hash = createHash('sha256');
        const chunkSize = maxBytesPerSec > 0 ? Math.max(4096, Math.min(64 * 1024, Math.floor(maxBytesPerSec / 8))) : 64 * 1024;
        const buf = Buffer.alloc(chunkSize);
        for (;;) {
          if (maxBytesPerSec > 0) await this.hashTokens(devicePath, maxBytesPerSec, chunkSize);
          // A closed host stops hashing (a paced hash of a big file could otherwise outlive the camera).
          if (this.closed) throw hostError('ECLOSED', `${devicePath}: the host closed while hashing`);
          const { bytesRead } = await handle.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          hash.update(buf.subarray(0, bytesRead));
          if (maxBytesPerSec > 0) this.hashBucket.tokens -= bytesRead;
        }
        return hash.digest('hex');
      } catch (err) {
        throw fsError(err, devicePath);
      } finally {
        await handle.close();
      }
    },

    randomBytes: (length: number): ArrayBuffer => {
      if (!(length >= 0 && length <= 1 << 20)) throw hostError('EINVAL', `randomBytes length ${length}`);
      const b = nodeRandomBytes(length);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    },
  };

  // ---- clock ----------------------------------------------------------------------------------------------

  readonly clock = {
    now: (): number => Date.now() + this.wallOffsetMs,
    monotonic: (): number => performance.now(),
    setTimer: (delayMs: number, callback: () => void): number => {
      const id = this.nextTimer++;
      if (this.closed) return id;
      const t = setTimeout(
        () => {
          this.timers.delete(id);
          callback();
        },
        Math.max(0, Math.min(Number(delayMs) || 0, 0x7fffffff)),
      );
      this.timers.set(id, t);
      return id;
    },
    clearTimer: (id: number): void => {
      const t = this.timers.get(id);
      if (t !== undefined) {
        clearTimeout(t);
        this.timers.delete(id);
      }
    },
  };

  /** Timers not yet fired or cleared. */
  pendingTimers(): number {
    return this.timers.size;
  }

  openSockets(): number {
    return this.sockets.size;
  }

  // ---- the rest -------------------------------------------------------------------------------------------

  log(level: LogLevel, message: string): void {
    this.logSink({ time: new Date(this.clock.now()).toISOString(), serial: this.serial, level, message: String(message) });
  }

  config(): Record<string, string> {
    return { ...this.configValues };
  }

  memory(): RuntimeMemory {
    return this.memorySource ? this.memorySource() : { usedBytes: 0, limitBytes: 0 };
  }
}

async function removeTempFiles(dir: string): Promise<void> {
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await removeTempFiles(p);
    else if (/\.vigil-tmp-\d+-\d+$/.test(e.name)) await fsp.rm(p, { force: true }).catch(() => undefined);
  }
}

function connectError(err: Error, target: string, useTls: boolean): HostSimError {
  const code = (err as { code?: string }).code ?? '';
  const mapped = NETWORK_CODES[code];
  if (mapped) return hostError(mapped, `${target}: ${err.message}`);
  if (useTls || /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH)/.test(code) || code === 'EPROTO') {
    return hostError('ETLS', `${target}: ${code ? code + ' ' : ''}${err.message}`);
  }
  return hostError('EIO', `${target}: ${err.message}`);
}

/** True when the profile's AXIS OS has D-Bus GetCredentials (GA in 11.9). */
export function hasDbusCredentials(profile: LoadedProfile): boolean {
  return compareOsVersions(profile.data.os.version, VAPIX_DBUS_CREDENTIALS_SINCE) >= 0;
}

/**
 * The agent's parameters for this camera: the profile's `agent` values, the VAPIX credentials as ACAP
 * parameters when the OS has no D-Bus GetCredentials, then the caller's overrides. All strings.
 */
export function buildConfig(profile: LoadedProfile, overrides: Record<string, string>): Record<string, string> {
  const p = profile.data;
  const out: Record<string, string> = { DataDir: DEFAULT_DATA_DIR };
  for (const [k, v] of Object.entries(p.agent ?? {})) out[k] = String(v);
  if (!hasDbusCredentials(profile)) {
    out.VapixUsername = p.vapix.credentials.username;
    out.VapixPassword = p.vapix.credentials.password;
  }
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined && v !== null) out[k] = String(v);
  return out;
}

/** One human-readable line per record: `2026-11-25T12:00:00.000Z ACCC8E012345 info message`. */
export function formatLogRecord(r: LogRecord): string {
  return `${r.time} ${r.serial} ${r.level.padEnd(5)} ${r.message}`;
}

/** A sink that hands formatted lines to `write` (the CLI's stderr, a live table's log pane…). */
export function lineLogSink(write: (line: string) => void, minLevel: LogLevel = 'debug'): LogSink {
  return (r) => {
    if (LEVEL_RANK[r.level] >= LEVEL_RANK[minLevel]) write(formatLogRecord(r));
  };
}
