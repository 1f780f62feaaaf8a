/**
 * The embedded MQTT broker for the demo and local runs: Aedes 1.x (MQTT 3.1.1 only) on loopback. Tests
 * start it through test/helpers/broker.ts. Open to anyone unless given `accounts`: then it enforces the
 * ACL of docs/broker-acl.md (broker-acl.ts) through Aedes's authenticate/authorize hooks, as `vigil demo` does.
 */
import { Aedes, type AedesOptions, type Client } from 'aedes';
import { createServer, type Server, type Socket } from 'node:net';
import { aclAllows, type BrokerIdentity } from './broker-acl';
import type { BrokerAccounts } from './broker-accounts';

export interface EmbeddedBroker {
  host: string;
  port: number;
  url: string;
  aedes: Aedes;
  close(): Promise<void>;
}

export interface EmbeddedBrokerOptions {
  host?: string;
  port?: number;
  /** Enforce the ACL for these users; without them anyone may connect and publish anything. */
  accounts?: BrokerAccounts;
  /** The topic prefix the ACL is about (default vigil/v1). */
  prefix?: string;
  /** Told about each refused connect, publish or subscription, once per distinct refusal (passwords never appear). */
  onRefused?: (message: string) => void;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  // Aedes keeps 42 messages per client by default; a camera replaying after an outage needs more.
  const aedes = await Aedes.createBroker({ queueLimit: 10_000, ...(options.accounts ? aclHooks(options.accounts, options.prefix ?? 'vigil/v1', options.onRefused) : {}) });
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

/**
 * Aedes's hooks for the ACL. The identity comes from the login, never from the client id. A refused publish
 * closes the connection (Aedes has no PUBACK-and-drop); a refused subscription gets SUBACK 0x80.
 */
function aclHooks(accounts: BrokerAccounts, prefix: string, onRefused?: (message: string) => void): Partial<AedesOptions> {
  const who = new WeakMap<Client, BrokerIdentity>();
  const told = new Set<string>();
  const refuse = (message: string) => {
    if (told.has(message) || told.size >= 1000) return; // bounded: a flood of refusals cannot grow it or the log
    told.add(message);
    onRefused?.(`[vigil] [broker] refused ${message}`);
  };
  return {
    authenticate(client, username, password, done) {
      const result = accounts.login(client.id, username, password);
      if ('returnCode' in result) {
        refuse(`a connect (client id "${client.id}"): ${result.reason}`);
        done(Object.assign(new Error(result.reason), { returnCode: result.returnCode }), false);
        return;
      }
      who.set(client, result);
      done(null, true);
    },
    authorizePublish(client, packet, done) {
      if (!client) return done(null); // the broker's own messages
      const id = who.get(client);
      if (id && aclAllows(id, 'publish', packet.topic, prefix)) return done(null);
      refuse(`a publish by "${id?.user ?? client.id}" on ${packet.topic}`);
      done(new Error(`not allowed to publish on ${packet.topic}`));
    },
    authorizeSubscribe(client, sub, done) {
      const id = who.get(client);
      if (id && aclAllows(id, 'subscribe', sub.topic, prefix)) return done(null, sub);
      refuse(`a subscription by "${id?.user ?? client.id}" to ${sub.topic}`);
      done(null, null);
    },
  };
}
