/**
 * One loopback listener for the VAPIX servers of every camera in a thread, for fleets past a process's open
 * file limit: a listener per camera is one open file per camera (10,000 cameras, 10,000 files, plus one
 * broker connection each), where the limit here is often 20,000 for the whole process.
 *
 * A connection is routed to its camera's VapixServer by the client's local port: the camera's own host
 * (SimSockets, host/net.ts) claims that port as soon as its connection to this listener is up, and whichever
 * of the claim and the accepted socket comes second hands the socket over (VapixServer.accept). The HTTP the
 * agent speaks, the server's answers and its fault rules are the same as with a listener of its own.
 */
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { VapixServer } from './vapix-server';

/** An accepted socket nobody claims within this long is not a camera's: closed. */
const UNCLAIMED_MS = 10_000;

export class SharedVapixListener {
  readonly host = '127.0.0.1';
  private readonly claims = new Map<number, VapixServer>();
  private readonly unclaimed = new Map<number, net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {
    server.on('connection', (socket) => this.route(socket));
  }

  static async open(): Promise<SharedVapixListener> {
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    server.unref();
    return new SharedVapixListener(server, (server.address() as AddressInfo).port);
  }

  /** The camera's side, connected from `localPort`: that connection is `vapix`'s. Released when `client` closes. */
  claim(localPort: number, vapix: VapixServer, client: net.Socket): void {
    const accepted = this.unclaimed.get(localPort);
    if (accepted) {
      this.unclaimed.delete(localPort);
      vapix.accept(accepted);
      return;
    }
    this.claims.set(localPort, vapix);
    client.once('close', () => {
      if (this.claims.get(localPort) === vapix) this.claims.delete(localPort);
    });
  }

  private route(socket: net.Socket): void {
    const port = socket.remotePort;
    if (port === undefined) return void socket.destroy();
    const vapix = this.claims.get(port);
    if (vapix) {
      this.claims.delete(port);
      vapix.accept(socket);
      return;
    }
    this.unclaimed.set(port, socket);
    const timer = setTimeout(() => {
      if (this.unclaimed.get(port) !== socket) return;
      this.unclaimed.delete(port);
      socket.destroy();
    }, UNCLAIMED_MS);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      if (this.unclaimed.get(port) === socket) this.unclaimed.delete(port);
    });
  }

  /** Connections waiting for their camera, and claims waiting for their connection (tests). */
  get pending(): { unclaimed: number; claims: number } {
    return { unclaimed: this.unclaimed.size, claims: this.claims.size };
  }
}

let shared: Promise<SharedVapixListener> | null = null;

/** The thread's shared listener, opened on first use and kept (unref'ed) for the thread's life. */
export function sharedVapixListener(): Promise<SharedVapixListener> {
  shared ??= SharedVapixListener.open();
  return shared;
}
