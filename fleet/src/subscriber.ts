/**
 * The consumer's MQTT side: connects, subscribes (again on every new session), hands each message to ingest in a
 * group-commit batch, and acknowledges only after the commit. A store failure sends no PUBACK and drops the
 * connection, so a persistent session gets the message redelivered.
 */
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { HeldPubacks, type HeldPuback } from './held-pubacks';
import type { Counters } from './ingest/context';
import type { FleetLog } from './log';
import type { FleetStore } from './store/types';

export interface SubscriberOptions {
  brokerUrl: string;
  filters: string[];
  clientId?: string;
  clean?: boolean;
  username?: string;
  password?: string;
  protocolVersion: 4 | 5;
  /** Up to this many messages share one store transaction; 1 commits every message on its own. */
  batchMax: number;
  store: FleetStore;
  counters: Counters;
  log: FleetLog;
  now: () => number;
  /** Ingests one message; throws only when the store fails. */
  ingest(topic: string, payload: Buffer, retained: boolean): void;
  /** After a failed batch commit: the in-memory view is rebuilt from the store. */
  reload(): void;
}

export class FleetSubscriber {
  private client: MqttClient | null = null;
  private acks: HeldPubacks | null = null;
  private redeliverPending = false;
  /** A batch transaction is open; PUBACKs wait in pendingAcks for its commit. */
  private batchOpen = false;
  private flushScheduled = false;
  private pendingAcks: HeldPuback[] = [];

  constructor(private readonly options: SubscriberOptions) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  async start(): Promise<void> {
    const o = this.options;
    const opts: IClientOptions = {
      clientId: o.clientId ?? `vigil-fleet-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      clean: o.clean ?? true,
      protocolVersion: o.protocolVersion,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      username: o.username,
      password: o.password,
    };
    const client = mqtt.connect(o.brokerUrl, { ...opts, manualConnect: true });
    const acks = new HeldPubacks(client);
    // MQTT.js hands over one packet at a time and sends its PUBACK when this callback runs without an error:
    // in a batch, the PUBACK is held (the callback gets an error, MQTT.js goes on) and sent after the commit.
    client.handleMessage = (packet, cb) => this.onPacket(packet as IPublishPacket, cb);
    client.on('error', (err) => o.log('warn', `broker ${o.brokerUrl}: ${err.message}`));
    client.on('reconnect', () => o.log('info', `reconnecting to ${o.brokerUrl}`));
    this.client = client;
    this.acks = acks;
    await new Promise<void>((resolve, reject) => {
      const onConnect = () => {
        client.off('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        client.off('connect', onConnect);
        client.end(true);
        reject(new Error(`[vigil] [fleet] cannot connect to ${o.brokerUrl}: ${err.message}`));
      };
      client.once('connect', onConnect);
      client.once('error', onError);
      client.connect();
    });
    try {
      acks.writableStream();
    } catch (err) {
      await client.endAsync(true);
      throw err;
    }
    // Subscribe on every (re)connect: a clean session forgets subscriptions.
    const subscribe = async () => {
      const granted = await client.subscribeAsync(o.filters, { qos: 1 });
      const refused = granted.filter((g) => g.qos === 128 || (g.qos as number) > 2);
      if (refused.length) o.log('error', `the broker refused ${refused.map((g) => g.topic).join(', ')}`);
      return refused;
    };
    const refused = await subscribe();
    if (refused.length) {
      await client.endAsync(true);
      throw new Error(`[vigil] [fleet] the broker refused the subscriptions ${refused.map((g) => g.topic).join(', ')}`);
    }
    client.on('connect', (ack) => {
      if (!ack.sessionPresent) subscribe().catch((err) => o.log('error', `cannot subscribe: ${(err as Error).message}`));
    });
    o.log('info', `consuming ${o.filters.join(', ')} from ${o.brokerUrl}`);
  }

  async stop(): Promise<void> {
    this.flush();
    const c = this.client;
    this.client = null;
    if (c) await c.endAsync(false).catch(() => c.end(true));
  }

  /** Publishes one message (QoS 1, not retained) and resolves on its PUBACK; rejects when not connected or after timeoutMs. */
  async publish(topic: string, payload: string, timeoutMs: number): Promise<void> {
    const c = this.client;
    if (!c || !c.connected) throw new Error(`not connected to ${this.options.brokerUrl}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no PUBACK within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([c.publishAsync(topic, payload, { qos: 1, retain: false }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** MQTT.js's handleMessage: cb() sends the PUBACK; cb(err) withholds it so the broker redelivers. */
  private onPacket(packet: IPublishPacket, cb: (err?: Error) => void): void {
    const o = this.options;
    let result: Error | undefined;
    try {
      if (o.batchMax > 1 && !this.batchOpen) {
        o.store.begin();
        this.batchOpen = true;
      }
      o.ingest(packet.topic, packet.payload as Buffer, packet.retain === true);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_')) {
        o.counters.storeErrors++;
        o.log('error', `cannot store a message from ${packet.topic}; not acknowledged, the broker will redeliver: ${(err as Error).message}`);
        result = err as Error;
      } else {
        // A fault of ours on this input: redelivery would only repeat it. Keep the message for a human.
        o.log('error', `cannot handle a message from ${packet.topic}: ${(err as Error).stack ?? err}`);
        try {
          const buf = Buffer.from(packet.payload as Buffer);
          o.counters.invalid.internal = (o.counters.invalid.internal ?? 0) + 1;
          o.store.quarantine({ receivedMs: o.now(), topic: packet.topic, serial: null, reason: `internal: ${(err as Error).message}`.slice(0, 1000), size: buf.length, excerpt: buf.subarray(0, 512).toString('utf8') });
        } catch {
          // the store is failing too; the log line above is what is left
        }
      }
    }
    if (result) cb(result);
    else if (this.batchOpen && this.acks) {
      const held = this.acks.hold(packet, cb);
      if (held) this.pendingAcks.push(held);
    } else cb();
    if (this.batchOpen) {
      // Commit when the batch is full, or once the packets already received have been handled.
      if (this.pendingAcks.length >= o.batchMax || result) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          this.flush();
        });
      }
    }
    // The broker resends an unacknowledged message only on a new connection of the same session: drop
    // this one (MQTT.js reconnects after reconnectPeriod) so a persistent session gets it redelivered.
    this.dropConnectionIf(result !== undefined);
  }

  private dropConnectionIf(condition: boolean): void {
    if (condition && !this.redeliverPending && this.client) {
      this.redeliverPending = true;
      const c = this.client;
      setImmediate(() => {
        this.redeliverPending = false;
        c.stream?.destroy();
      });
    }
  }

  /** Commits the open batch, then sends its PUBACKs. A failed commit sends none and reconnects. */
  flush(): void {
    if (!this.batchOpen) return;
    const o = this.options;
    this.batchOpen = false;
    const acks = this.pendingAcks.splice(0);
    try {
      o.store.commit();
    } catch (err) {
      try {
        o.store.rollback();
      } catch {
        // nothing more to undo
      }
      o.counters.storeErrors += acks.length;
      o.log('error', `cannot commit ${acks.length} message(s); not acknowledged, the broker will redeliver: ${(err as Error).message}`);
      o.reload();
      this.dropConnectionIf(true);
      return;
    }
    if (this.client) for (const a of acks) this.acks?.send(a);
  }
}
