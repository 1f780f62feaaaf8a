/**
 * host.net for the simulator: node:net / node:tls with pull-based reads (a socket is paused while no read is
 * pending, the agent's back-pressure). Connections to the configured broker are the target of the device's
 * network faults (broker down, dropped during replay).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { ConnectOptions, HostError, HostErrorCode, HostFs, HostNet } from '../../../agent/src/host';
import { hostError } from '../../../agent/src/host';
import type { SimDevice } from './device';

interface SimSocket {
  socket: net.Socket;
  /** A connection to the configured broker (the target of network faults). */
  broker: boolean;
  chunks: Buffer[];
  ended: boolean;
  error: HostError | null;
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

export interface SocketsOptions {
  device: SimDevice;
  /** The broker the device's network faults act on (BrokerHost, BrokerPort of the config). */
  broker: { host: string; port: string };
  /** Reads the TLS files the agent names (device paths). */
  fs: HostFs;
  /** True once the host is closed: nothing new is opened. */
  closed(): boolean;
  /** Told of every connection once it is up (the shared VAPIX listener claims its camera's, vapix-listener.ts). */
  onConnected?: (socket: net.Socket, host: string, port: number) => void;
}

/** The sockets of one host, by id. */
export class SimSockets {
  private readonly sockets = new Map<number, SimSocket>();
  /** Connections still being set up: closeAll() aborts them, so none is adopted after the host closed. */
  private readonly connecting = new Set<() => void>();
  private nextSocket = 1;
  private readonly device: SimDevice;
  private readonly closed: () => boolean;

  constructor(private readonly options: SocketsOptions) {
    this.device = options.device;
    this.closed = options.closed;
  }

  private async readPem(devicePath: string): Promise<Buffer> {
    try {
      return Buffer.from(await this.options.fs.readFile(devicePath, 1 << 20));
    } catch (err) {
      throw hostError('ETLS', `cannot read ${devicePath}: ${(err as Error).message}`);
    }
  }

  readonly net: HostNet = {
    connect: async (options: ConnectOptions): Promise<number> => {
      if (this.closed()) throw hostError('ECLOSED', 'the host is closed');
      if (!options || typeof options.host !== 'string' || typeof options.port !== 'number') {
        throw hostError('EINVAL', 'connect needs host and port');
      }
      const timeoutMs = options.timeoutMs > 0 ? options.timeoutMs : 10_000;
      const target = `${options.host}:${options.port}`;
      const toBroker = this.isBroker(options.host, options.port);
      if (toBroker && this.device.brokerDown) throw hostError('ECONNREFUSED', `${target}: connect ECONNREFUSED (simulated: broker down)`);
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
      if (this.closed()) {
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
        const finish = (err: HostError | null) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          this.connecting.delete(abort);
          socket.removeListener('error', onError);
          if (!err && this.closed()) err = hostError('ECLOSED', `${target}: the host closed while connecting`);
          if (err) {
            socket.destroy();
            reject(err);
            return;
          }
          const id = this.nextSocket++;
          this.options.onConnected?.(socket, options.host, options.port);
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
      if (s.broker && this.device.dropAfterPublishes !== null && data.byteLength > 0 && new Uint8Array(data)[0] >> 4 === 3) {
        if (this.device.dropAfterPublishes <= 0) {
          this.device.dropAfterPublishes = null;
          s.socket.destroy();
          return Promise.reject(hostError('ECONNRESET', `socket ${id}: connection reset (simulated: dropped during replay)`));
        }
        this.device.dropAfterPublishes--;
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
    return host === this.options.broker.host && String(port) === this.options.broker.port;
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

  /** Sockets open now. */
  count(): number {
    return this.sockets.size;
  }

  /** Aborts every connection being set up and closes every socket (the host is closing). */
  closeAll(): void {
    for (const abort of Array.from(this.connecting)) abort();
    this.connecting.clear();
    for (const id of Array.from(this.sockets.keys())) this.net.close(id);
  }
}

function connectError(err: Error, target: string, useTls: boolean): HostError {
  const code = (err as { code?: string }).code ?? '';
  const mapped = NETWORK_CODES[code];
  if (mapped) return hostError(mapped, `${target}: ${err.message}`);
  if (useTls || /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH)/.test(code) || code === 'EPROTO') {
    return hostError('ETLS', `${target}: ${code ? code + ' ' : ''}${err.message}`);
  }
  return hostError('EIO', `${target}: ${err.message}`);
}
