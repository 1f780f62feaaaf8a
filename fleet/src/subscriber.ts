/**
 * The consumer's MQTT side: connects, subscribes (again on every new session), collects messages into a
 * group-commit batch, hands the batch to the store and acknowledges only after its commit. One batch is in the
 * store at a time; the next one collects meanwhile (the broker's inflight window bounds it). A store failure
 * sends no PUBACK and drops the connection, so a persistent session gets the messages redelivered.
 */
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { BROKER_DROPPED_TOPIC, BrokerDropWatch, type BrokerDrops } from './broker-drops';
import { HeldPubacks, type HeldPuback } from './held-pubacks';
import type { Counters, RawMessage } from './ingest/context';
import type { FleetLog } from './log';
import { watchSessionTakeover } from './session-takeover';
import { RETRY_FIRST_MS, classifyStartError, watchRetries } from './broker-retry';
import { redactUrl } from './store/redact-url';

/** Ends a client at once and for good: no reconnect timer is left to keep the process alive. */
function endNow(client: MqttClient): void {
  client.options.reconnectPeriod = 0;
  client.end(true);
}

export interface SubscriberOptions {
  brokerUrl: string;
  filters: string[];
  clientId?: string;
  clean?: boolean;
  username?: string;
  password?: string;
  /** CA, client certificate and key for mqtts:// (PEM); the system CAs when no ca is given. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /**
   * true (default): a broker that cannot be reached at start is retried with backoff until it answers; false
   * (`vigil status`, a one-shot): the first failure rejects.
   */
  waitForBroker?: boolean;
  protocolVersion: 4 | 5;
  /** MQTT 5: the largest packet this consumer accepts (CONNECT maximumPacketSize); the broker does not send larger ones. */
  maxPacketBytes?: number;
  /** Watch the broker's dropped-message count ($SYS, broker-drops.ts). Default true. */
  watchBrokerDrops?: boolean;
  /** Say so when the broker has not sent its dropped count this long after subscribing. Default 30 s. */
  brokerDropsSilenceMs?: number;
  /** Up to this many messages share one store transaction; 1 commits every message on its own. */
  batchMax: number;
  counters: Counters;
  log: FleetLog;
  now: () => number;
  /** Decides and stores a batch; rejects only when the store fails (nothing was stored). */
  ingest(batch: RawMessage[]): Promise<unknown>;
  /** After a failed batch commit: the in-memory view is rebuilt from the store. */
  reload(): Promise<void>;
}

/** How long the broker keeps a persistent MQTT 5 session of a consumer that is gone (a day). */
export const SESSION_EXPIRY_SEC = 86_400;

/** A message waiting for its batch, with the PUBACK it is owed (null: none, QoS 0). */
interface Pending {
  message: RawMessage;
  ack: HeldPuback | null;
}

function connectProperties(o: SubscriberOptions): NonNullable<IClientOptions['properties']> {
  return {
    // MQTT 5 ends a session at disconnect unless it is given an expiry: a persistent session must outlive a
    // crash of the consumer so its unacknowledged messages wait for its restart.
    ...(o.clean === false ? { sessionExpiryInterval: SESSION_EXPIRY_SEC } : {}),
    ...(o.maxPacketBytes ? { maximumPacketSize: o.maxPacketBytes } : {}),
  };
}

export class FleetSubscriber {
  private client: MqttClient | null = null;
  private acks: HeldPubacks | null = null;
  private redeliverPending = false;
  private pending: Pending[] = [];
  private flushScheduled = false;
  /** The batch in the store now; flush() chains after it. */
  private flushing: Promise<void> | null = null;
  private readonly drops: BrokerDropWatch;

  constructor(private readonly options: SubscriberOptions) {
    this.drops = new BrokerDropWatch(options.log, options.now);
  }

  /** What the broker says it dropped (Mosquitto's $SYS count), for /metrics and /healthz. */
  get brokerDrops(): BrokerDrops {
    return this.drops.drops;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  async start(): Promise<void> {
    const o = this.options;
    const opts: IClientOptions = {
      clientId: o.clientId ?? `vigil-fleet-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      clean: o.clean ?? true,
      protocolVersion: o.protocolVersion,
      reconnectPeriod: RETRY_FIRST_MS,
      // After the start, a refused CONNACK (a password changed at the broker) is retried with backoff too.
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      ...(o.tls ?? {}),
      username: o.username,
      password: o.password,
      // maximumPacketSize: the broker must not send a larger packet (MQTT 5 §3.1.2.11.4; Mosquitto drops it), so a
      // 100 MB publish is never buffered here. MQTT.js would read it whole first, then close the connection.
      ...(o.protocolVersion === 5 && Object.keys(connectProperties(o)).length ? { properties: connectProperties(o) } : {}),
    };
    const client = mqtt.connect(o.brokerUrl, { ...opts, manualConnect: true });
    const acks = new HeldPubacks(client);
    // MQTT.js hands over one packet at a time and sends its PUBACK when this callback runs without an error:
    // in a batch, the PUBACK is held (the callback gets an error, MQTT.js goes on) and sent after the commit.
    client.handleMessage = (packet, cb) => this.onPacket(packet as IPublishPacket, cb);
    let failed = false;
    watchRetries(client, o.brokerUrl, o.log, () => failed);
    watchSessionTakeover(client, opts.clientId as string, opts.clean === false, o.log, o.now);
    this.client = client;
    this.acks = acks;
    // A broker that is down (refused, unreachable, reset) is waited for, with backoff (broker-retry.ts); a TLS
    // failure or refused credentials cannot get better by retrying and end the start with one line.
    await new Promise<void>((resolve, reject) => {
      const onConnect = () => {
        client.off('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        const failure = classifyStartError(err);
        if (!failure.fatal && o.waitForBroker !== false) return;
        failed = true;
        client.off('connect', onConnect);
        client.off('error', onError);
        this.client = null;
        endNow(client);
        reject(new Error(`[vigil] [fleet] cannot connect to ${redactUrl(o.brokerUrl)}: ${failure.reason}`));
      };
      client.on('connect', onConnect);
      client.on('error', onError);
      client.connect();
    });
    try {
      acks.writableStream();
    } catch (err) {
      this.client = null;
      endNow(client);
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
      this.client = null;
      endNow(client);
      throw new Error(`[vigil] [fleet] the broker refused the subscriptions ${refused.map((g) => g.topic).join(', ')}`);
    }
    // Not fatal when refused: only Mosquitto has this topic, and its ACL must allow it (docs/broker-acl.md).
    let dropsRefusedLogged = false;
    const watchDrops = async () => {
      if (o.watchBrokerDrops === false) return;
      const granted = await client.subscribeAsync(BROKER_DROPPED_TOPIC, { qos: 0 });
      if (granted.some((g) => g.qos === 128 || (g.qos as number) > 2) && !dropsRefusedLogged) {
        dropsRefusedLogged = true;
        o.log('warn', `the broker refused ${BROKER_DROPPED_TOPIC}: messages it drops after acknowledging them will go unnoticed; allow the consumer's user to read it (docs/broker-acl.md)`);
      } else this.drops.expectCount(o.brokerDropsSilenceMs ?? 30_000);
    };
    const watchDropsLogged = () => watchDrops().catch((err) => o.log('warn', `cannot subscribe to ${BROKER_DROPPED_TOPIC}: ${(err as Error).message}`));
    await watchDropsLogged();
    client.on('connect', (ack) => {
      if (!ack.sessionPresent) {
        subscribe().catch((err) => o.log('error', `cannot subscribe: ${(err as Error).message}`));
        void watchDropsLogged();
      }
    });
    o.log('info', `consuming ${o.filters.join(', ')} from ${redactUrl(o.brokerUrl)}`);
  }

  async stop(): Promise<void> {
    await this.flush();
    this.drops.stop();
    const c = this.client;
    this.client = null;
    if (!c) return;
    if (!c.connected) return endNow(c);
    c.options.reconnectPeriod = 0;
    await c.endAsync(false).catch(() => endNow(c));
  }

  /** Publishes one message (QoS 1, not retained) and resolves on its PUBACK; rejects when not connected or after timeoutMs. */
  async publish(topic: string, payload: string, timeoutMs: number): Promise<void> {
    const c = this.client;
    if (!c || !c.connected) throw new Error(`not connected to ${redactUrl(this.options.brokerUrl)}`);
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

  /** MQTT.js's handleMessage: every message waits for its batch; a QoS 1 message's PUBACK is held until the commit. */
  private onPacket(packet: IPublishPacket, cb: (err?: Error) => void): void {
    if (packet.topic === BROKER_DROPPED_TOPIC) {
      this.drops.update(packet.payload);
      return cb();
    }
    const ack = this.acks ? this.acks.hold(packet, cb) : (cb(), null);
    this.pending.push({ message: { topic: packet.topic, payload: packet.payload as Buffer, retained: packet.retain === true }, ack });
    // Commit when the batch is full, or once the packets already received have been handled.
    if (this.pending.length >= this.options.batchMax) void this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        void this.flush();
      });
    }
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

  /** Stores what is pending, a batch at a time, and sends each batch's PUBACKs after its commit; resolves when none is left. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    const o = this.options;
    while (this.pending.length) {
      const batch = this.pending.splice(0, o.batchMax);
      try {
        await o.ingest(batch.map((p) => p.message));
      } catch (err) {
        o.counters.storeErrors += batch.length;
        o.log('error', `cannot store ${batch.length} message(s); not acknowledged, the broker will redeliver: ${(err as Error).message}`);
        // The broker resends an unacknowledged message only on a new connection of the same session: drop this one
        // (MQTT.js reconnects after reconnectPeriod) so a persistent session gets them redelivered. What came in
        // after them on this connection is redelivered too: its PUBACKs were held on the same connection.
        const dropped = this.pending.splice(0).length;
        if (dropped) o.log('info', `${dropped} later message(s) are left for redelivery with them`);
        this.dropConnectionIf(true);
        await o.reload().catch((e) => o.log('error', `cannot reload the view from the store: ${(e as Error).message}`));
        // What came in during the reload (a redelivery on the next connection) has no later flush coming: go on.
        continue;
      }
      if (this.client) for (const p of batch) if (p.ack) this.acks?.send(p.ack);
    }
  }
}
