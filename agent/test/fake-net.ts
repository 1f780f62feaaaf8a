/**
 * FakeHost's network: in-memory servers registered with `serve()`, and the scripted sockets to them. The agent's
 * bytes go to a FakePeer, which a test scripts packet by packet (as Aedes tests do with duplexPair).
 */
import type { ConnectOptions, HostErrorCode } from '../src/host';
import { hostError } from '../src/host';
import { toArrayBuffer } from '../src/util/bytes';
import { utf8Encode } from '../src/util/text';

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

export type ServerHandler = (peer: FakePeer) => void;

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

/** The servers and open sockets of one FakeHost; `net` is its Host.net. */
export class FakeNetwork {
  private servers = new Map<string, ServerHandler>();
  private sockets = new Map<number, FakeSocket>();
  private nextSocket = 1;

  /** Registers an in-memory server; connections to host:port reach the handler. */
  serve(host: string, port: number, handler: ServerHandler): void {
    this.servers.set(`${host}:${port}`, handler);
  }

  unserve(host: string, port: number): void {
    this.servers.delete(`${host}:${port}`);
  }

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
}
