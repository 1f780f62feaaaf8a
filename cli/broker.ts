/**
 * The embedded MQTT broker for the demo and local runs: Aedes 1.x (MQTT 3.1.1 only) on loopback. Tests
 * start it through test/helpers/broker.ts.
 */
import { Aedes } from 'aedes';
import { createServer, type Server, type Socket } from 'node:net';

export interface EmbeddedBroker {
  host: string;
  port: number;
  url: string;
  aedes: Aedes;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(options: { host?: string; port?: number } = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  // Aedes keeps 42 messages per client by default; a camera replaying after an outage needs more.
  const aedes = await Aedes.createBroker({ queueLimit: 10_000 });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      aedes.close();
      if (err.code === 'EADDRINUSE') {
        reject(new Error(`[vigil] [broker] ${host}:${options.port} is already in use; choose another port with --port`));
      } else reject(new Error(`[vigil] [broker] cannot listen on ${host}:${options.port}: ${err.message}`));
    });
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  return {
    host,
    port,
    url: `mqtt://${host}:${port}`,
    aedes,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}
