/**
 * FakeHost: an in-memory Host for unit tests. Files live in a map, the clock is manual (or real), and
 * sockets connect to in-memory servers registered with `serve()`: the agent's bytes go to a FakePeer,
 * which a test scripts packet by packet (fake-net.ts).
 */
import type {
  DirEntry,
  FileStat,
  FileType,
  Host,
  HostErrorCode,
  LogLevel,
  RuntimeInfo,
  VapixCredentials,
} from '../src/host';
import { HOST_API_VERSION, hostError } from '../src/host';
import { toArrayBuffer } from '../src/util/bytes';
import { utf8Decode, utf8Encode } from '../src/util/text';
import { FakeNetwork, type ServerHandler } from './fake-net';
import { nodeText } from './node-text';
import { verifyP256 } from './p256';
import { sha256Hex } from './sha256';

// FakePeer lives with the fake network; tests that script a peer import it from here, beside the FakeHost.
export type { FakePeer } from './fake-net';

interface FakeNode {
  type: FileType;
  data: Uint8Array;
  mtimeMs: number;
  ino: number;
  mode: number;
  /** For a symlink: its target. */
  target?: string;
  /** Reads fail with this code (an unreadable file). */
  readError?: HostErrorCode;
}

export interface FakeHostOptions {
  /** 'manual' (default): time moves only with advance(). 'real': timers use the JS runtime's setTimeout. */
  clock?: 'manual' | 'real';
  config?: Record<string, string>;
  /** What configOverrides() returns (they are also in config()); absent: the host has no configOverrides. */
  overrides?: Record<string, string>;
  dataDir?: string;
  vapixCredentials?: VapixCredentials;
  startTime?: number;
}

interface ManualTimer {
  id: number;
  due: number;
  callback: () => void;
}

export class FakeHost implements Host {
  readonly apiVersion = HOST_API_VERSION;
  readonly logs: Array<{ level: LogLevel; message: string }> = [];
  readonly info: RuntimeInfo = { name: 'fake', version: '0', bundleSha256: null, lastExit: null };
  readonly text = nodeText;
  configValues: Record<string, string>;
  /** The forced values (FakeHostOptions.overrides), changeable by a test; null without configOverrides. */
  overrideValues: Record<string, string> | null = null;
  dataDir: string;
  /** Set to make every write under the data dir fail, as a full flash does. */
  diskFull = false;
  memoryUsed = 100_000;

  private nodes = new Map<string, FakeNode>();
  private nextIno = 100;
  private readonly network = new FakeNetwork();
  private wall: number;
  private mono = 1000;
  private timers: ManualTimer[] = [];
  private nextTimer = 1;
  private realTimers = new Map<number, unknown>();
  private readonly clockMode: 'manual' | 'real';
  private readonly credentials?: VapixCredentials;

  constructor(options: FakeHostOptions = {}) {
    this.clockMode = options.clock ?? 'manual';
    this.configValues = { ...(options.config ?? {}) };
    if (options.overrides) {
      const forced = (this.overrideValues = { ...options.overrides });
      this.configOverrides = () => ({ ...forced });
    }
    this.dataDir = options.dataDir ?? '/data';
    this.wall = options.startTime ?? Date.UTC(2026, 10, 25, 12, 0, 0);
    this.credentials = options.vapixCredentials;
    this.nodes.set('/', this.makeNode('dir', new Uint8Array(0)));
    if (this.credentials) {
      const creds = this.credentials;
      this.vapixCredentials = () => Promise.resolve({ ...creds });
    }
  }

  vapixCredentials?: () => Promise<VapixCredentials>;

  // ---- test controls -------------------------------------------------------------------------------

  addFile(path: string, content: string | Uint8Array, options: { mtimeMs?: number; mode?: number } = {}): void {
    this.ensureParents(path);
    const data = typeof content === 'string' ? utf8Encode(content) : content.slice();
    const existing = this.nodes.get(path);
    const node = this.makeNode('file', data);
    if (existing && existing.type === 'file') node.ino = existing.ino;
    node.mtimeMs = options.mtimeMs ?? this.wall;
    if (options.mode !== undefined) node.mode = options.mode;
    this.nodes.set(path, node);
  }

  addDir(path: string): void {
    this.ensureParents(path);
    if (!this.nodes.has(path)) this.nodes.set(path, this.makeNode('dir', new Uint8Array(0)));
  }

  addSymlink(path: string, target: string): void {
    this.ensureParents(path);
    const node = this.makeNode('symlink', new Uint8Array(0));
    node.target = target;
    this.nodes.set(path, node);
  }

  /** A FIFO, device or socket: stat and list say `other`; readFile and sha256File refuse it (ENOTFILE). */
  addSpecial(path: string, mode = 0o10644): void {
    this.ensureParents(path);
    const node = this.makeNode('other', new Uint8Array(0));
    node.mode = mode;
    this.nodes.set(path, node);
  }

  /** A file that exists but cannot be read (EACCES by default). */
  makeUnreadable(path: string, code: HostErrorCode = 'EACCES'): void {
    const node = this.nodes.get(path);
    if (!node) throw new Error(`no such fake file ${path}`);
    node.readError = code;
  }

  deletePath(path: string): void {
    for (const key of Array.from(this.nodes.keys())) {
      if (key === path || key.startsWith(path + '/')) this.nodes.delete(key);
    }
  }

  fileText(path: string): string | undefined {
    const node = this.nodes.get(path);
    if (!node || node.type !== 'file') return undefined;
    return utf8Decode(node.data);
  }

  exists(path: string): boolean {
    return this.nodes.has(path);
  }

  /** Registers an in-memory server; connections to host:port reach the handler. */
  serve(host: string, port: number, handler: ServerHandler): void {
    this.network.serve(host, port, handler);
  }

  unserve(host: string, port: number): void {
    this.network.unserve(host, port);
  }


  /** Advances the manual clocks, firing due timers in order and letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const target = this.mono + ms;
    for (;;) {
      await flushMicrotasks();
      this.timers.sort((a, b) => a.due - b.due || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.due > target) break;
      this.timers.shift();
      this.wall += next.due - this.mono;
      this.mono = next.due;
      next.callback();
    }
    this.wall += target - this.mono;
    this.mono = target;
    await flushMicrotasks();
  }

  /** Moves the wall clock only, as NTP or a user would. */
  jumpWallClock(ms: number): void {
    this.wall += ms;
  }

  pendingTimers(): number {
    return this.clockMode === 'manual' ? this.timers.length : this.realTimers.size;
  }

  // ---- Host ----------------------------------------------------------------------------------------

  readonly fs = {
    readFile: async (path: string, maxBytes: number): Promise<ArrayBuffer> => {
      const node = this.readable(path);
      if (node.data.length > maxBytes) throw hostError('EFBIG', `${path} is larger than ${maxBytes} bytes`);
      return toArrayBuffer(node.data);
    },
    list: async (path: string): Promise<DirEntry[]> => {
      const node = this.resolve(path);
      if (node.type !== 'dir') throw hostError('ENOTDIR', path);
      if (node.readError) throw hostError(node.readError, path);
      const prefix = path === '/' ? '/' : path.replace(/\/+$/, '') + '/';
      const out: DirEntry[] = [];
      for (const [key, child] of this.nodes) {
        if (key.startsWith(prefix) && key.length > prefix.length && key.indexOf('/', prefix.length) < 0) {
          out.push({ name: key.slice(prefix.length), type: child.type });
        }
      }
      return out;
    },
    stat: async (path: string): Promise<FileStat> => {
      const node = this.nodes.get(normalize(path));
      if (!node) throw hostError('ENOENT', path);
      return { type: node.type, size: node.data.length, mtimeMs: node.mtimeMs, ino: node.ino, mode: node.mode };
    },
    writeFileAtomic: async (path: string, data: ArrayBuffer): Promise<void> => {
      this.checkWritable(path);
      if (this.diskFull) throw hostError('ENOSPC', path);
      const parent = path.slice(0, path.lastIndexOf('/')) || '/';
      if (!this.nodes.has(parent)) throw hostError('ENOENT', parent);
      this.addFile(path, new Uint8Array(data.slice(0)));
    },
    remove: async (path: string): Promise<void> => {
      this.checkWritable(path);
      const node = this.nodes.get(path);
      if (!node) throw hostError('ENOENT', path);
      if (node.type === 'dir') throw hostError('EISDIR', path);
      this.nodes.delete(path);
    },
    mkdir: async (path: string): Promise<void> => {
      this.checkWritable(path);
      if (this.diskFull && !this.nodes.has(path)) throw hostError('ENOSPC', path);
      const node = this.nodes.get(path);
      if (node && node.type !== 'dir') throw hostError('ENOTDIR', path);
      this.addDir(path);
    },
  };

  readonly net = this.network.net;

  readonly crypto = {
    sha256: (data: ArrayBuffer): string => sha256Hex(new Uint8Array(data)),
    sha256File: async (path: string, _maxBytesPerSec: number): Promise<string> => {
      return sha256Hex(this.readable(path).data);
    },
    randomBytes: (length: number): ArrayBuffer => {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) out[i] = Math.floor(Math.random() * 256);
      return out.buffer;
    },
    verifyP256,
  };

  readonly clock = {
    now: (): number => (this.clockMode === 'manual' ? this.wall : Date.now()),
    monotonic: (): number => (this.clockMode === 'manual' ? this.mono : performanceNow()),
    setTimer: (delayMs: number, callback: () => void): number => {
      const id = this.nextTimer++;
      if (this.clockMode === 'manual') {
        this.timers.push({ id, due: this.mono + Math.max(0, delayMs), callback });
      } else {
        const g = globalThis as unknown as { setTimeout(cb: () => void, ms: number): unknown };
        this.realTimers.set(
          id,
          g.setTimeout(() => {
            this.realTimers.delete(id);
            callback();
          }, delayMs),
        );
      }
      return id;
    },
    clearTimer: (id: number): void => {
      if (this.clockMode === 'manual') {
        this.timers = this.timers.filter((t) => t.id !== id);
      } else {
        const handle = this.realTimers.get(id);
        if (handle !== undefined) {
          (globalThis as unknown as { clearTimeout(h: unknown): void }).clearTimeout(handle);
          this.realTimers.delete(id);
        }
      }
    },
  };

  log(level: LogLevel, message: string): void {
    this.logs.push({ level, message });
  }

  config(): Record<string, string> {
    return { ...this.configValues, ...(this.overrideValues ?? {}) };
  }

  configOverrides?: () => Record<string, string>;

  memory(): { usedBytes: number; limitBytes: number } {
    return { usedBytes: this.memoryUsed, limitBytes: 16 << 20 };
  }

  // ---- internals ---------------------------------------------------------------------------------

  private makeNode(type: FileType, data: Uint8Array): FakeNode {
    return { type, data, mtimeMs: this.wall, ino: this.nextIno++, mode: type === 'dir' ? 0o40755 : 0o100644 };
  }

  private ensureParents(path: string): void {
    const parts = path.split('/').filter((p) => p.length > 0);
    let at = '';
    for (let i = 0; i < parts.length - 1; i++) {
      at += '/' + parts[i];
      const node = this.nodes.get(at);
      if (!node) this.nodes.set(at, this.makeNode('dir', new Uint8Array(0)));
    }
  }

  /** Follows symlinks (up to 8, then ELOOP), as open(2) does. */
  private resolve(path: string, depth = 0): FakeNode {
    const node = this.nodes.get(normalize(path));
    if (!node) throw hostError('ENOENT', path);
    if (node.type === 'symlink') {
      if (depth >= 8) throw hostError('ELOOP', path);
      const target = node.target as string;
      const abs = target[0] === '/' ? target : path.slice(0, path.lastIndexOf('/') + 1) + target;
      return this.resolve(abs, depth + 1);
    }
    return node;
  }

  /** The node a content read (readFile, sha256File) may read, as the real hosts judge it. */
  private readable(path: string): FakeNode {
    const node = this.resolve(path);
    if (node.type === 'dir') throw hostError('EISDIR', path);
    if (node.type !== 'file') throw hostError('ENOTFILE', `${path} is not a regular file`);
    if (node.readError) throw hostError(node.readError, path);
    return node;
  }

  private checkWritable(path: string): void {
    const p = normalize(path);
    if (p !== this.dataDir && !p.startsWith(this.dataDir + '/')) {
      throw hostError('EACCES', `${path} is outside the data dir`);
    }
  }
}

function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return '/' + out.join('/');
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function performanceNow(): number {
  const g = globalThis as unknown as { performance?: { now(): number } };
  return g.performance ? g.performance.now() : Date.now();
}
