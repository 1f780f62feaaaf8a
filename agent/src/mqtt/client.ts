/**
 * One MQTT 3.1.1 session over `host.net`: connect, publish (qos 0/1), subscribe, receive, keepalive,
 * disconnect. No reconnect and no queue: the session (session.ts) makes a new client per connection attempt
 * and the agent keeps unsent reports in its outbox.
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
 * MQTT 5 (protocolLevel 5): CONNECT carries `connectProperties`, publish() takes `properties` (message expiry,
 * content type, user properties…), a PUBACK reason code ≥ 0x80 rejects the publish with EPUBACK and
 * `reasonCode`, a DISCONNECT from the broker ends the session with EDISCONNECT and its `reasonCode` (0x8E =
 * another client took over the session: a duplicate client id). The broker's Maximum Packet Size is
 * honoured: a larger PUBLISH is refused with E2BIG before it is sent, never sent oversize.
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
  DISCONNECT,
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
  packetName,
  type Packet,
  type Properties,
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
  /** 4 = MQTT 3.1.1 (default), 5 = MQTT 5. */
  protocolLevel?: 4 | 5;
  /** MQTT 5 CONNECT properties. */
  connectProperties?: Properties;
}

export interface MessageInfo {
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** MQTT 5 properties of the message (correlationData, responseTopic, userProperties…). */
  properties?: Properties;
}

export interface CloseReason {
  code: string;
  message: string;
  /** The MQTT 5 reason code of a DISCONNECT from the broker. */
  reasonCode?: number;
}

export type ConnackError = VigilError & { returnCode: number };

export type MqttClientState = 'new' | 'connecting' | 'open' | 'closing' | 'closed';

// Reason texts as one string each: an array or object literal of them costs more bytes in the bundle.
const CONNACK_REASONS = ',unacceptable protocol version,identifier rejected,server unavailable,bad user name or password,not authorized'.split(',');

/** MQTT 5 reason codes 0x80.. (CONNACK, PUBACK, DISCONNECT) a person may need to read; '' = no text. */
const REASONS_5 = (
  'unspecified error,malformed packet,protocol error,implementation specific error,unsupported protocol version,' +
  'client identifier not valid,bad user name or password,not authorized,server unavailable,server busy,banned,' +
  'server shutting down,,keep alive timeout,session taken over,,topic name invalid,,,receive maximum exceeded,,' +
  'packet too large,,quota exceeded,,payload format invalid,,,use another server,server moved,,connection rate exceeded'
).split(',');

export const reason5 = (code: number): string => `${REASONS_5[code - 0x80] || 'reason'} (0x${code.toString(16)})`;

interface Pending {
  ack: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

const noop = () => {};
const err = (code: string, message: string) => new VigilError('mqtt', code, message);
/** Drops the `[vigil] [mqtt] ` speaker tag of a nested message so that it is not repeated. */
const strip = (message: string): string => message.replace(/^\[vigil\] \[mqtt\] /, '');

// Private members are `#` names: the minifier shortens those, not TypeScript's `private` ones.
export class MqttClient {
  #st: MqttClientState = 'new';
  #socket = -1;
  readonly #parser: PacketParser;
  readonly #peer: string;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #qos2 = new Set<number>();
  #writes: Promise<unknown> = Promise.resolve();
  #timer = -1;
  #lastTx = 0;
  #lastRx = 0;
  #pinged = false;
  #closeReason: CloseReason | null = null;
  #messageCbs: Array<(topic: string, payload: Uint8Array, info: MessageInfo) => void> = [];
  #closeCbs: Array<(reason: CloseReason) => void> = [];
  #connecting: { resolve(v: { sessionPresent: boolean }): void; reject(e: Error): void } | null = null;
  #connectError: Error | null = null;
  readonly #v5: boolean;
  readonly #host: Host;
  // host.clock and host.net apart: each `this.#host.` costs bundle bytes, and the bundle is size-budgeted
  readonly #clock: Host['clock'];
  readonly #net: Host['net'];
  readonly #options: MqttClientOptions;
  /** The broker's limits, from an MQTT 5 CONNACK (Infinity / 65535 when it gave none). */
  maxOutgoingPacketBytes = Infinity;
  receiveMaximum = 65535;
  /** The MQTT 5 CONNACK properties, once connected. */
  connackProperties: Properties = {};

  constructor(host: Host, options: MqttClientOptions) {
    this.#host = host;
    this.#clock = host.clock;
    this.#net = host.net;
    this.#options = options;
    this.#v5 = options.protocolLevel === 5;
    this.#parser = new PacketParser({ maxPacketBytes: options.maxIncomingPacketBytes, protocolLevel: this.#v5 ? 5 : 4 });
    this.#peer = `${options.host}:${options.port}`;
  }

  get state(): MqttClientState {
    return this.#st;
  }

  connect(): Promise<{ sessionPresent: boolean }> {
    if (this.#st !== 'new') return Promise.reject(err('EINVAL', 'connect() may be called once per client'));
    const o = this.#options;
    const result = new Promise<{ sessionPresent: boolean }>((resolve, reject) => (this.#connecting = { resolve, reject }));
    let connectPacket: Uint8Array;
    try {
      connectPacket = encodeConnect({ ...o, protocolLevel: this.#v5 ? 5 : 4, properties: o.connectProperties });
    } catch (e) {
      this.#connectError = e as Error;
      this.#close(errorCode(e), errorMessage(e));
      return result;
    }
    this.#st = 'connecting';
    this.#timer = this.#clock.setTimer(o.connectTimeoutMs, () =>
      this.#close('ETIMEDOUT', `no CONNACK from ${this.#peer} within ${o.connectTimeoutMs} ms`),
    );
    this.#net.connect({ host: o.host, port: o.port, tls: o.tls, timeoutMs: o.connectTimeoutMs }).then(
      (socket) => {
        if (this.#st !== 'connecting') return this.#net.close(socket);
        this.#socket = socket;
        this.#lastRx = this.#now();
        this.#send(connectPacket).catch(noop);
        this.#readLoop(socket);
      },
      (e) => this.#close(errorCode(e), `cannot connect to ${this.#peer}: ${errorMessage(e)}`),
    );
    return result;
  }

  publish(topic: string, payload: Uint8Array | string, options: { qos: 0 | 1; retain?: boolean; properties?: Properties }): Promise<void> {
    return this.#request(options.qos ? PUBACK : 0, (id) => {
      const bytes = encodePublish({ topic, payload, qos: options.qos, retain: options.retain, id, properties: this.#v5 ? options.properties || {} : undefined });
      if (bytes.length > this.maxOutgoingPacketBytes) {
        throw err('E2BIG', `PUBLISH of ${bytes.length} bytes to ${topic} is over the broker's maximum packet size of ${this.maxOutgoingPacketBytes} bytes`);
      }
      return bytes;
    }) as Promise<void>;
  }

  subscribe(subscriptions: Array<{ topic: string; qos: 0 | 1 }>): Promise<number[]> {
    return this.#request(SUBACK, (id) => {
      for (const s of subscriptions) {
        const problem = topicFilterProblem(s.topic);
        if (problem) throw err('EINVAL', problem);
      }
      return encodeSubscribe(id, subscriptions, this.#v5 ? {} : undefined);
    }) as Promise<number[]>;
  }

  onMessage(callback: (topic: string, payload: Uint8Array, info: MessageInfo) => void): void {
    this.#messageCbs.push(callback);
  }

  onClose(callback: (reason: CloseReason) => void): void {
    if (this.#closeReason) this.#callClose(callback, this.#closeReason);
    else this.#closeCbs.push(callback);
  }

  disconnect(): Promise<void> {
    const done = new Promise<void>((resolve) => this.onClose(() => resolve()));
    const bye = () => this.#close('ELOCAL', `disconnected from ${this.#peer} by the agent`);
    if (this.#st === 'open') {
      this.#st = 'closing';
      this.#send(encodeDisconnect()).then(bye, bye);
    } else if (this.#st !== 'closing') bye();
    return done;
  }

  // ---- internals ---------------------------------------------------------------------------------------

  #now(): number {
    return this.#clock.monotonic();
  }

  /** Sends a packet; with ack ≠ 0, resolves with the acknowledgement's value instead of on write. */
  #request(ack: number, build: (id: number) => Uint8Array): Promise<unknown> {
    if (this.#st !== 'open') {
      return Promise.reject(err('ECLOSED', `not connected to ${this.#peer} (${this.#st})`));
    }
    let id = 0;
    if (ack) {
      if (this.#pending.size >= 65535) return Promise.reject(err('EBUSY', 'all 65535 packet ids are in flight'));
      while (this.#pending.has(this.#nextId)) this.#nextId = (this.#nextId % 65535) + 1;
      id = this.#nextId;
      this.#nextId = (id % 65535) + 1;
    }
    let bytes: Uint8Array;
    try {
      bytes = build(id);
    } catch (e) {
      return Promise.reject(e);
    }
    const written = this.#send(bytes);
    if (!ack) return written;
    written.catch(noop); // a failed write closes the session, which rejects the pending entry
    return new Promise((resolve, reject) => this.#pending.set(id, { ack, resolve, reject }));
  }

  /** Writes one packet, in order after the previous ones. A failed write ends the session. */
  #send(bytes: Uint8Array): Promise<void> {
    const socket = this.#socket;
    const data = toArrayBuffer(bytes);
    const p = this.#writes
      .then(() => {
        if (this.#st === 'closed') throw 0; // nothing to report: close() already did
        return this.#net.write(socket, data);
      })
      .then(
        () => {
          this.#lastTx = this.#now();
        },
        (e) => {
          this.#close(errorCode(e), `write to ${this.#peer} failed: ${errorMessage(e)}`);
          throw err('ECLOSED', `connection to ${this.#peer} is closed`);
        },
      );
    this.#writes = p.catch(noop);
    return p;
  }

  async #readLoop(socket: number): Promise<void> {
    for (;;) {
      let chunk: ArrayBuffer | null;
      try {
        chunk = await this.#net.read(socket);
      } catch (e) {
        this.#close(errorCode(e), `connection to ${this.#peer} failed: ${errorMessage(e)}`);
        return;
      }
      if (this.#st === 'closed') return;
      if (chunk === null) {
        this.#close('ECLOSED', `${this.#peer} closed the connection`);
        return;
      }
      try {
        for (const packet of this.#parser.push(new Uint8Array(chunk))) {
          if ((this.#st as MqttClientState) === 'closed') return; // a handler may have ended the session
          this.#lastRx = this.#now();
          this.#pinged = false;
          this.#handle(packet);
        }
      } catch (e) {
        this.#close(errorCode(e), `${strip(errorMessage(e))} (from ${this.#peer})`);
        return;
      }
    }
  }

  #handle(p: Packet): void {
    if (this.#st === 'closing') return; // DISCONNECT is queued: nothing may follow it, not even a PUBACK
    if (this.#st === 'connecting') {
      if (p.type !== CONNACK) throw err('EPROTO', `expected CONNACK, got ${packetName(p.type)}`);
      const rc = p.returnCode;
      if (rc !== 0) {
        const reason = this.#v5 ? reason5(rc) : (CONNACK_REASONS[rc] ?? 'unknown return code');
        const message = `${this.#peer} refused the connection: ${reason} (CONNACK ${rc})`;
        const e = err('ECONNACK', message) as ConnackError;
        e.returnCode = rc;
        this.#connectError = e;
        this.#close('ECONNACK', message);
        return;
      }
      this.#st = 'open';
      const props = (this.connackProperties = p.properties || {});
      if (props.maximumPacketSize) this.maxOutgoingPacketBytes = props.maximumPacketSize;
      if (props.receiveMaximum) this.receiveMaximum = props.receiveMaximum;
      if (props.serverKeepAlive !== undefined) this.#options.keepaliveSec = props.serverKeepAlive;
      this.#clock.clearTimer(this.#timer);
      this.#timer = -1;
      this.#schedule();
      const c = this.#connecting;
      this.#connecting = null;
      c?.resolve({ sessionPresent: p.sessionPresent });
      return;
    }
    switch (p.type) {
      case PUBLISH: {
        const id = p.id as number;
        if (p.qos < 2 || !this.#qos2.has(id)) {
          for (const cb of this.#messageCbs) {
            try {
              cb(p.topic, p.payload, { qos: p.qos, retain: p.retain, dup: p.dup, properties: p.properties });
            } catch (e) {
              this.#host.log('error', `[vigil] [mqtt] message handler for ${p.topic} failed: ${errorMessage(e)}`);
            }
          }
        }
        if (p.qos === 2) this.#qos2.add(id);
        if (p.qos) this.#send(encodeAck(p.qos === 1 ? PUBACK : PUBREC, id)).catch(noop);
        return;
      }
      case PUBREL:
        this.#qos2.delete(p.id);
        this.#send(encodeAck(PUBCOMP, p.id)).catch(noop);
        return;
      case PUBACK:
      case SUBACK: {
        const entry = this.#pending.get(p.id);
        if (!entry || entry.ack !== p.type) return; // not ours (a late or duplicate ack): ignored
        this.#pending.delete(p.id);
        const rc = p.type === PUBACK ? p.reasonCode || 0 : 0;
        if (rc >= 0x80) {
          const e = err('EPUBACK', `${this.#peer} did not accept the message: ${reason5(rc)}`) as ConnackError;
          e.returnCode = rc;
          entry.reject(e);
        } else entry.resolve(p.type === SUBACK ? p.granted : undefined);
        return;
      }
      case DISCONNECT: {
        const rc = p.reasonCode || 0;
        this.#close('EDISCONNECT', `${this.#peer} ended the session: ${reason5(rc)}`, rc);
        return;
      }
      case PINGRESP:
      case PUBREC: // we never publish qos 2: ignored like any unknown ack
      case PUBCOMP:
      case UNSUBACK: // we never unsubscribe: ignored likewise
        return;
      default:
        throw err('EPROTO', `unexpected ${packetName(p.type)}`);
    }
  }

  /** One timer serves keepalive: it pings when due and ends a silent connection. */
  #schedule(): void {
    const ka = this.#options.keepaliveSec * 1000;
    if (!ka) return;
    const now = this.#now();
    if (now - this.#lastRx >= ka * 1.5) {
      this.#close('ETIMEDOUT', `nothing received from ${this.#peer} for ${ka * 1.5} ms (keepalive ${ka / 1000} s)`);
      return;
    }
    if (!this.#pinged && (now - this.#lastTx >= ka || now - this.#lastRx >= ka)) {
      this.#pinged = true;
      this.#send(encodePingreq()).catch(noop);
    }
    const due = Math.min(this.#lastRx + ka * 1.5, this.#pinged ? Infinity : Math.min(this.#lastTx, this.#lastRx) + ka);
    this.#timer = this.#clock.setTimer(Math.max(1, due - now), () => {
      this.#timer = -1;
      this.#schedule();
    });
  }

  #close(code: string, message: string, reasonCode?: number): void {
    if (this.#st === 'closed') return;
    this.#st = 'closed';
    if (this.#timer >= 0) this.#clock.clearTimer(this.#timer);
    this.#timer = -1;
    if (this.#socket >= 0) this.#net.close(this.#socket);
    const detail = strip(message);
    const reason: CloseReason = { code, message: `[vigil] [mqtt] ${detail}` };
    if (reasonCode !== undefined) reason.reasonCode = reasonCode;
    this.#closeReason = reason;
    if (this.#connecting) {
      this.#connecting.reject(this.#connectError ?? err(code, detail));
      this.#connecting = null;
    }
    const pending = Array.from(this.#pending.values());
    this.#pending.clear();
    for (const p of pending) p.reject(err('ECLOSED', `connection closed before the acknowledgement (${detail})`));
    const cbs = this.#closeCbs;
    this.#closeCbs = [];
    for (const cb of cbs) this.#callClose(cb, reason);
  }

  #callClose(cb: (reason: CloseReason) => void, reason: CloseReason): void {
    try {
      cb({ ...reason });
    } catch (e) {
      this.#host.log('error', `[vigil] [mqtt] close handler failed: ${errorMessage(e)}`);
    }
  }
}
