/**
 * FakeHost: an in-memory Host for unit tests. Files live in a map, the clock is manual (or real), and
 * sockets connect to in-memory servers registered with `serve()`: the agent's bytes go to a FakePeer,
 * which a test scripts packet by packet (as Aedes tests do with duplexPair).
 */
import type {
  ConnectOptions,
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
import { toArrayBuffer, utf8Decode, utf8Encode } from '../src/util/bytes';
import { sha256Hex } from './sha256';

// Tests that script a failing host call take it from here, beside the FakeHost.
export { hostError };

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

export interface FakePeer {
  /** Everything the agent wrote, chunk by chunk. */
  readonly received: Uint8Array[];
  readonly options: ConnectOptions;
  onData(callback: (bytes: Uint8Array) => void): void;
  onClose(callback: () => void): void;
  /** Bytes from the peer to the agent. */
  send(bytes: Uint8Array | string): void;
  /** Orderly end of stream from the peer side: the agent's read resolves null. */
  end(): void;
  /** The connection fails: the agent's pending (or next) read rejects with this code. */
  fail(code: HostErrorCode): void;
  readonly closed: boolean;
}

type ServerHandler = (peer: FakePeer) => void;

interface FakeSocket {
  peer: FakePeerImpl;
  inbox: Uint8Array[];
  ended: boolean;
  error: HostErrorCode | null;
  pendingRead: { resolve: (v: ArrayBuffer | null) => void; reject: (e: Error) => void } | null;
}

class FakePeerImpl implements FakePeer {
  readonly received: Uint8Array[] = [];
  closed = false;
  dataCallbacks: Array<(bytes: Uint8Array) => void> = [];
  closeCallbacks: Array<() => void> = [];
  constructor(
    readonly options: ConnectOptions,
    private readonly socket: () => FakeSocket,
  ) {}
  onData(callback: (bytes: Uint8Array) => void): void {
    this.dataCallbacks.push(callback);
  }
  onClose(callback: () => void): void {
    this.closeCallbacks.push(callback);
  }
  send(bytes: Uint8Array | string): void {
    if (this.closed) return;
    const s = this.socket();
    s.inbox.push(typeof bytes === 'string' ? utf8Encode(bytes) : bytes.slice());
    deliver(s);
  }
  end(): void {
    if (this.closed) return;
    const s = this.socket();
    s.ended = true;
    deliver(s);
    this.markClosed();
  }
  fail(code: HostErrorCode): void {
    if (this.closed) return;
    const s = this.socket();
    s.error = code;
    deliver(s);
    this.markClosed();
  }
  markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const cb of this.closeCallbacks) cb();
  }
}

function deliver(s: FakeSocket): void {
  if (!s.pendingRead) return;
  const pending = s.pendingRead;
  if (s.inbox.length > 0) {
    s.pendingRead = null;
    pending.resolve(toArrayBuffer(s.inbox.shift() as Uint8Array));
  } else if (s.error) {
    s.pendingRead = null;
    pending.reject(hostError(s.error, 'connection failed'));
  } else if (s.ended) {
    s.pendingRead = null;
    pending.resolve(null);
  }
}

export interface FakeHostOptions {
  /** 'manual' (default): time moves only with advance(). 'real': timers use the JS runtime's setTimeout. */
  clock?: 'manual' | 'real';
  config?: Record<string, string>;
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
  configValues: Record<string, string>;
  dataDir: string;
  /** Set to make every write under the data dir fail, as a full flash does. */
  diskFull = false;
  memoryUsed = 100_000;

  private nodes = new Map<string, FakeNode>();
  private nextIno = 100;
  private servers = new Map<string, ServerHandler>();
  private sockets = new Map<number, FakeSocket>();
  private nextSocket = 1;
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
    this.servers.set(`${host}:${port}`, handler);
  }

  unserve(host: string, port: number): void {
    this.servers.delete(`${host}:${port}`);
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

  readonly net = {
    connect: async (options: ConnectOptions): Promise<number> => {
      await Promise.resolve();
      const handler = this.servers.get(`${options.host}:${options.port}`);
      if (!handler) throw hostError('ECONNREFUSED', `${options.host}:${options.port}`);
      const id = this.nextSocket++;
      const socket: FakeSocket = {
        peer: new FakePeerImpl(options, () => socket),
        inbox: [],
        ended: false,
        error: null,
        pendingRead: null,
      };
      this.sockets.set(id, socket);
      handler(socket.peer);
      return id;
    },
    read: (id: number): Promise<ArrayBuffer | null> => {
      const s = this.sockets.get(id);
      if (!s) return Promise.reject(hostError('EBADF', `socket ${id}`));
      if (s.pendingRead) return Promise.reject(hostError('EINVAL', `socket ${id} already has a read pending`));
      return new Promise<ArrayBuffer | null>((resolve, reject) => {
        s.pendingRead = { resolve, reject };
        deliver(s);
      });
    },
    write: async (id: number, data: ArrayBuffer): Promise<void> => {
      const s = this.sockets.get(id);
      if (!s) throw hostError('EBADF', `socket ${id}`);
      if (s.peer.closed) throw hostError(s.error ?? 'ECLOSED', `socket ${id}`);
      const bytes = new Uint8Array(data.slice(0));
      s.peer.received.push(bytes);
      for (const cb of s.peer.dataCallbacks) cb(bytes);
    },
    close: (id: number): void => {
      const s = this.sockets.get(id);
      if (!s) return;
      this.sockets.delete(id);
      if (s.pendingRead) {
        s.pendingRead.resolve(null);
        s.pendingRead = null;
      }
      s.peer.markClosed();
    },
  };

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
    return { ...this.configValues };
  }

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
