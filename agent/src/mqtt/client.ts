/**
 * One MQTT 3.1.1 session over `host.net`: connect, publish (qos 0/1), subscribe, receive, keepalive,
 * disconnect. No reconnect and no queue: the agent's main loop makes a new client per connection attempt
 * and keeps unsent reports in its outbox.
 *
 * API:
 *   new MqttClient(host: Host, options: MqttClientOptions)
 *   connect(): Promise<{ sessionPresent: boolean }>        once per client; rejects ECONNACK (with
 *       `returnCode` 1..5), ETIMEDOUT (no CONNACK within connectTimeoutMs), the host's code (ECONNREFUSED,
 *       ETLS…), EPROTO, or ELOCAL (disconnect() during connect)
 *   publish(topic, payload: Uint8Array | string, { qos: 0 | 1, retain?: boolean }): Promise<void>
 *       qos 0: resolves once written; qos 1: on the matching PUBACK. Rejects ECLOSED if the session ends
 *       first (or was not open), EINVAL for a bad topic.
 *   subscribe(subscriptions: Array<{ topic, qos: 0 | 1 }>): Promise<number[]>   granted qos, 0x80 = refused
 *   unsubscribe(topics: string[]): Promise<void>
 *   onMessage(cb(topic, payload: Uint8Array, info: { qos, retain, dup }))   called synchronously, in order;
 *       a qos 1 message is PUBACKed after the callbacks ran (also when one throws: that is logged, and a
 *       redelivery would fail the same way). A qos 2 message (a broker bug: the agent subscribes with qos
 *       ≤ 1) is still handled by the book: delivered once, PUBREC, PUBREL → PUBCOMP.
 *   onClose(cb({ code, message }))   exactly once per client, whatever ended it: ECLOSED (broker closed),
 *       a host code (ECONNRESET…), EPROTO, ETIMEDOUT (keepalive or CONNACK), ECONNACK, ELOCAL (disconnect()).
 *       Registered after the end, it is called at once.
 *   disconnect(): Promise<void>   sends DISCONNECT, closes the socket; resolves once closed. Harmless twice.
 *   readonly state: 'new' | 'connecting' | 'open' | 'closing' | 'closed'
 *
 * Keepalive (keepaliveSec > 0): a PINGREQ goes out when nothing was sent, or nothing received, for
 * keepaliveSec; when nothing at all arrives for 1.5 × keepaliveSec the session ends with ETIMEDOUT, so a
 * half-open connection is noticed. After close no timer is left. Credentials never appear in messages.
 */
import type { Host, TlsOptions } from '../host';
import { toArrayBuffer } from '../util/bytes';
import { VigilError, errorCode, errorMessage } from '../util/errors';
import {
  CONNACK,
  PINGRESP,
  PUBACK,
  PUBCOMP,
  PUBLISH,
  PUBREC,
  PUBREL,
  PacketParser,
  SUBACK,
  UNSUBACK,
  encodeAck,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePublish,
  encodeSubscribe,
  encodeUnsubscribe,
  packetName,
  type Packet,
  type QoS,
  type Will,
} from './codec';
import { topicFilterProblem } from './topics';

export interface MqttClientOptions {
  host: string;
  port: number;
  tls?: TlsOptions;
  /** Covers TCP (and TLS) connect and the CONNACK. */
  connectTimeoutMs: number;
  clientId: string;
  username?: string;
  password?: string;
  /** 0 disables keepalive. */
  keepaliveSec: number;
  cleanSession: boolean;
  will?: Will;
  /** Incoming packets larger than this end the session with EPROTO (default 256 KiB). */
  maxIncomingPacketBytes?: number;
}

export interface MessageInfo {
  qos: QoS;
  retain: boolean;
  dup: boolean;
}

export interface CloseReason {
  code: string;
  message: string;
}

export type ConnackError = VigilError & { returnCode: number };

export type MqttClientState = 'new' | 'connecting' | 'open' | 'closing' | 'closed';

const CONNACK_REASONS = [
  '',
  'unacceptable protocol version',
  'identifier rejected',
  'server unavailable',
  'bad user name or password',
  'not authorized',
];

interface Pending {
  ack: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

const noop = () => {};
/** Drops the `[vigil] [mqtt] ` speaker tag of a nested message so that it is not repeated. */
const strip = (message: string): string => message.replace(/^\[vigil\] \[mqtt\] /, '');

export class MqttClient {
  private st: MqttClientState = 'new';
  private socket = -1;
  private readonly parser: PacketParser;
  private readonly peer: string;
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private qos2 = new Set<number>();
  private writes: Promise<unknown> = Promise.resolve();
  private timer = -1;
  private lastTx = 0;
  private lastRx = 0;
  private pinged = false;
  private closeReason: CloseReason | null = null;
  private messageCbs: Array<(topic: string, payload: Uint8Array, info: MessageInfo) => void> = [];
  private closeCbs: Array<(reason: CloseReason) => void> = [];
  private connecting: { resolve(v: { sessionPresent: boolean }): void; reject(e: Error): void } | null = null;
  private connectError: Error | null = null;

  constructor(
    private readonly host: Host,
    private readonly options: MqttClientOptions,
  ) {
    this.parser = new PacketParser({ maxPacketBytes: options.maxIncomingPacketBytes });
    this.peer = `${options.host}:${options.port}`;
  }

  get state(): MqttClientState {
    return this.st;
  }

  connect(): Promise<{ sessionPresent: boolean }> {
    if (this.st !== 'new') return Promise.reject(this.err('EINVAL', 'connect() may be called once per client'));
    const o = this.options;
    const result = new Promise<{ sessionPresent: boolean }>((resolve, reject) => (this.connecting = { resolve, reject }));
    let connectPacket: Uint8Array;
    try {
      connectPacket = encodeConnect(o);
    } catch (e) {
      this.connectError = e as Error;
      this.close(errorCode(e), errorMessage(e));
      return result;
    }
    this.st = 'connecting';
    this.timer = this.host.clock.setTimer(o.connectTimeoutMs, () =>
      this.close('ETIMEDOUT', `no CONNACK from ${this.peer} within ${o.connectTimeoutMs} ms`),
    );
    this.host.net.connect({ host: o.host, port: o.port, tls: o.tls, timeoutMs: o.connectTimeoutMs }).then(
      (socket) => {
        if (this.st !== 'connecting') return this.host.net.close(socket);
        this.socket = socket;
        this.lastRx = this.now();
        this.send(connectPacket).catch(noop);
        this.readLoop(socket);
      },
      (e) => this.close(errorCode(e), `cannot connect to ${this.peer}: ${errorMessage(e)}`),
    );
    return result;
  }

  publish(topic: string, payload: Uint8Array | string, options: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    return this.request(options.qos ? PUBACK : 0, (id) =>
      encodePublish({ topic, payload, qos: options.qos, retain: options.retain, id }),
    ) as Promise<void>;
  }

  subscribe(subscriptions: Array<{ topic: string; qos: 0 | 1 }>): Promise<number[]> {
    return this.request(SUBACK, (id) => {
      for (const s of subscriptions) this.checkFilter(s.topic);
      return encodeSubscribe(id, subscriptions);
    }) as Promise<number[]>;
  }

  unsubscribe(topics: string[]): Promise<void> {
    return this.request(UNSUBACK, (id) => {
      for (const t of topics) this.checkFilter(t);
      return encodeUnsubscribe(id, topics);
    }) as Promise<void>;
  }

  onMessage(callback: (topic: string, payload: Uint8Array, info: MessageInfo) => void): void {
    this.messageCbs.push(callback);
  }

  onClose(callback: (reason: CloseReason) => void): void {
    if (this.closeReason) this.callClose(callback, this.closeReason);
    else this.closeCbs.push(callback);
  }

  disconnect(): Promise<void> {
    const done = new Promise<void>((resolve) => this.onClose(() => resolve()));
    if (this.st === 'open') {
      this.st = 'closing';
      const bye = () => this.close('ELOCAL', `disconnected from ${this.peer} by the agent`);
      this.send(encodeDisconnect()).then(bye, bye);
    } else if (this.st !== 'closing') {
      this.close('ELOCAL', `disconnected from ${this.peer} by the agent`);
    }
    return done;
  }

  // ---- internals ---------------------------------------------------------------------------------------

  private err(code: string, message: string): VigilError {
    return new VigilError('mqtt', code, message);
  }

  private now(): number {
    return this.host.clock.monotonic();
  }

  private checkFilter(topic: string): void {
    const problem = topicFilterProblem(topic);
    if (problem) throw this.err('EINVAL', problem);
  }

  /** Sends a packet; with ack ≠ 0, resolves with the acknowledgement's value instead of on write. */
  private request(ack: number, build: (id: number) => Uint8Array): Promise<unknown> {
    if (this.st !== 'open') {
      return Promise.reject(this.err('ECLOSED', `not connected to ${this.peer} (${this.st})`));
    }
    let id = 0;
    if (ack) {
      if (this.pending.size >= 65535) return Promise.reject(this.err('EBUSY', 'all 65535 packet ids are in flight'));
      while (this.pending.has(this.nextId)) this.nextId = (this.nextId % 65535) + 1;
      id = this.nextId;
      this.nextId = (id % 65535) + 1;
    }
    let bytes: Uint8Array;
    try {
      bytes = build(id);
    } catch (e) {
      return Promise.reject(e);
    }
    const written = this.send(bytes);
    if (!ack) return written;
    written.catch(noop); // a failed write closes the session, which rejects the pending entry
    return new Promise((resolve, reject) => this.pending.set(id, { ack, resolve, reject }));
  }

  /** Writes one packet, in order after the previous ones. A failed write ends the session. */
  private send(bytes: Uint8Array): Promise<void> {
    const socket = this.socket;
    const data = toArrayBuffer(bytes);
    const p = this.writes
      .then(() => {
        if (this.st === 'closed') throw 0; // nothing to report: close() already did
        return this.host.net.write(socket, data);
      })
      .then(
        () => {
          this.lastTx = this.now();
        },
        (e) => {
          this.close(errorCode(e), `write to ${this.peer} failed: ${errorMessage(e)}`);
          throw this.err('ECLOSED', `connection to ${this.peer} is closed`);
        },
      );
    this.writes = p.catch(noop);
    return p;
  }

  private async readLoop(socket: number): Promise<void> {
    for (;;) {
      let chunk: ArrayBuffer | null;
      try {
        chunk = await this.host.net.read(socket);
      } catch (e) {
        this.close(errorCode(e), `connection to ${this.peer} failed: ${errorMessage(e)}`);
        return;
      }
      if (this.st === 'closed') return;
      if (chunk === null) {
        this.close('ECLOSED', `${this.peer} closed the connection`);
        return;
      }
      try {
        for (const packet of this.parser.push(new Uint8Array(chunk))) {
          if ((this.st as MqttClientState) === 'closed') return; // a handler may have ended the session
          this.lastRx = this.now();
          this.pinged = false;
          this.handle(packet);
        }
      } catch (e) {
        this.close(errorCode(e), `${strip(errorMessage(e))} (from ${this.peer})`);
        return;
      }
    }
  }

  private handle(p: Packet): void {
    if (this.st === 'closing') return; // DISCONNECT is queued: nothing may follow it, not even a PUBACK
    if (this.st === 'connecting') {
      if (p.type !== CONNACK) throw this.err('EPROTO', `expected CONNACK, got ${packetName(p.type)}`);
      const rc = p.returnCode;
      if (rc !== 0) {
        const reason = CONNACK_REASONS[rc] ?? 'unknown return code';
        const message = `${this.peer} refused the connection: ${reason} (CONNACK ${rc})`;
        const e = this.err('ECONNACK', message) as ConnackError;
        e.returnCode = rc;
        this.connectError = e;
        this.close('ECONNACK', message);
        return;
      }
      this.st = 'open';
      this.host.clock.clearTimer(this.timer);
      this.timer = -1;
      this.schedule();
      const c = this.connecting;
      this.connecting = null;
      c?.resolve({ sessionPresent: p.sessionPresent });
      return;
    }
    switch (p.type) {
      case PUBLISH: {
        const id = p.id as number;
        if (p.qos < 2 || !this.qos2.has(id)) {
          for (const cb of this.messageCbs) {
            try {
              cb(p.topic, p.payload, { qos: p.qos, retain: p.retain, dup: p.dup });
            } catch (e) {
              this.host.log('error', `[vigil] [mqtt] message handler for ${p.topic} failed: ${errorMessage(e)}`);
            }
          }
        }
        if (p.qos === 2) this.qos2.add(id);
        if (p.qos) this.send(encodeAck(p.qos === 1 ? PUBACK : PUBREC, id)).catch(noop);
        return;
      }
      case PUBREL:
        this.qos2.delete(p.id);
        this.send(encodeAck(PUBCOMP, p.id)).catch(noop);
        return;
      case PUBACK:
      case SUBACK:
      case UNSUBACK: {
        const entry = this.pending.get(p.id);
        if (!entry || entry.ack !== p.type) return; // not ours (a late or duplicate ack): ignored
        this.pending.delete(p.id);
        entry.resolve(p.type === SUBACK ? p.granted : undefined);
        return;
      }
      case PINGRESP:
      case PUBREC: // we never publish qos 2: ignored like any unknown ack
      case PUBCOMP:
        return;
      default:
        throw this.err('EPROTO', `unexpected ${packetName(p.type)}`);
    }
  }

  /** One timer serves keepalive: it pings when due and ends a silent connection. */
  private schedule(): void {
    const ka = this.options.keepaliveSec * 1000;
    if (!ka) return;
    const now = this.now();
    if (now - this.lastRx >= ka * 1.5) {
      this.close('ETIMEDOUT', `nothing received from ${this.peer} for ${ka * 1.5} ms (keepalive ${ka / 1000} s)`);
      return;
    }
    if (!this.pinged && (now - this.lastTx >= ka || now - this.lastRx >= ka)) {
      this.pinged = true;
      this.send(encodePingreq()).catch(noop);
    }
    const due = Math.min(this.lastRx + ka * 1.5, this.pinged ? Infinity : Math.min(this.lastTx, this.lastRx) + ka);
    this.timer = this.host.clock.setTimer(Math.max(1, due - now), () => {
      this.timer = -1;
      this.schedule();
    });
  }

  private close(code: string, message: string): void {
    if (this.st === 'closed') return;
    this.st = 'closed';
    if (this.timer >= 0) this.host.clock.clearTimer(this.timer);
    this.timer = -1;
    if (this.socket >= 0) this.host.net.close(this.socket);
    const detail = strip(message);
    const reason = { code, message: `[vigil] [mqtt] ${detail}` };
    this.closeReason = reason;
    if (this.connecting) {
      this.connecting.reject(this.connectError ?? this.err(code, detail));
      this.connecting = null;
    }
    const pending = Array.from(this.pending.values());
    this.pending.clear();
    for (const p of pending) p.reject(this.err('ECLOSED', `connection closed before the acknowledgement (${detail})`));
    const cbs = this.closeCbs;
    this.closeCbs = [];
    for (const cb of cbs) this.callClose(cb, reason);
  }

  private callClose(cb: (reason: CloseReason) => void, reason: CloseReason): void {
    try {
      cb({ ...reason });
    } catch (e) {
      this.host.log('error', `[vigil] [mqtt] close handler failed: ${errorMessage(e)}`);
    }
  }
}
