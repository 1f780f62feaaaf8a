/**
 * One MQTT 3.1.1 session over `host.net`: connect, publish (qos 0/1), subscribe, receive, keepalive,
 * disconnect. No reconnect and no queue: the session (session.ts) makes a new client per connection attempt
 * and the agent keeps unsent reports in its outbox.
 *
 * API:
 *   createMqttClient(host: Host, options: MqttClientOptions): MqttClient
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
 * half-open connection is noticed. A PUBACK or SUBACK not come within 1.5 × keepaliveSec ends the
 * session with ETIMEDOUT too ("no PUBACK from … within 15 s", where silence says "nothing received"): a
 * broker that answers PINGREQ but never acknowledges would otherwise stall the in-flight window silently.
 * After close no timer is left. Credentials never appear in messages. Messages embed a host's or a nested
 * error's text without its `CODE: ` or speaker tag (errorDetail), so nothing is said twice.
 */
import type { Host } from '../host';
import { areaLog, makeLog } from '../log';
import { toArrayBuffer } from '../util/bytes';
import { errorCode, errorDetail, ignore } from '../util/errors';
import { mqttError as err } from './errors';
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
} from './codec';
import { CONNACK_AS_5, REASONS_5, reason5 } from './reasons';
import { topicFilterProblem } from './topics';

import type { CloseReason, ConnackError, MessageInfo, MqttClient, MqttClientOptions, MqttClientState } from './client-types';

export { reason5 };
export type { CloseReason, ConnackError, MessageInfo, MqttClient, MqttClientOptions, MqttClientState };

interface Pending {
  ack: number;
  /** Monotonic ms when it was sent. */
  at: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

const refuse = (code: string, message: string) => Promise.reject(err(code, message));

// A factory of closures, not a class: local variables minify to one letter, `this.#field` does not.
export const createMqttClient = (host: Host, options: MqttClientOptions): MqttClient => {
  const { clock, net } = host;
  const say = areaLog(makeLog(host), 'mqtt');
  const v5 = options.protocolLevel === 5;
  const parser = new PacketParser({ maxPacketBytes: options.maxIncomingPacketBytes, protocolLevel: v5 ? 5 : 4 });
  const peer = `${options.host}:${options.port}`;
  let st: MqttClientState = 'new';
  let socket = -1;
  const pending = new Map<number, Pending>();
  let nextId = 1;
  const qos2 = new Set<number>();
  let writes: Promise<unknown> = Promise.resolve();
  let timer = -1;
  let lastTx = 0;
  let lastRx = 0;
  let pinged = false;
  let closeReason: CloseReason | null = null;
  const messageCbs: Array<(topic: string, payload: Uint8Array, info: MessageInfo) => void> = [];
  let closeCbs: Array<(reason: CloseReason) => void> = [];
  let connecting: { resolve(v: { sessionPresent: boolean }): void; reject(e: Error): void } | null = null;
  let connectError: Error | null = null;
  /** The broker's Maximum Packet Size, from an MQTT 5 CONNACK. */
  let maxOutgoingPacketBytes = Infinity;
  let receiveMaximum = 65535;

  const now = (): number => clock.monotonic();

  /** Sends a packet; with ack ≠ 0, resolves with the acknowledgement's value instead of on write. */
  const request = (ack: number, build: (id: number) => Uint8Array): Promise<unknown> => {
    if (st !== 'open') {
      return refuse('ECLOSED', `not connected to ${peer} (${st})`);
    }
    let id = 0;
    if (ack) {
      if (pending.size >= 65535) return refuse('EBUSY', 'all 65535 packet ids are in flight');
      while (pending.has(nextId)) nextId = (nextId % 65535) + 1;
      id = nextId;
      nextId = (id % 65535) + 1;
    }
    let bytes: Uint8Array;
    try {
      bytes = build(id);
    } catch (e) {
      return Promise.reject(e);
    }
    const written = send(bytes);
    if (!ack) return written;
    written.catch(ignore); // a failed write closes the session, which rejects the pending entry
    return new Promise((resolve, reject) => {
      pending.set(id, { ack, at: now(), resolve, reject });
      if (pending.size === 1) {
        // the first acknowledgement awaited: the timer must now also watch for it
        clock.clearTimer(timer);
        schedule();
      }
    });
  };

  /** Writes one packet, in order after the previous ones. A failed write ends the session. */
  const send = (bytes: Uint8Array): Promise<void> => {
    const s = socket;
    const data = toArrayBuffer(bytes);
    const p = writes
      .then(() => {
        if (st === 'closed') throw 0; // nothing to report: close() already did
        return net.write(s, data);
      })
      .then(
        () => {
          lastTx = now();
        },
        (e) => {
          close(errorCode(e), `write to ${peer} failed: ${errorDetail(e)}`);
          throw err('ECLOSED', `connection to ${peer} is closed`);
        },
      );
    writes = p.catch(ignore);
    return p;
  };

  const readLoop = async (s: number): Promise<void> => {
    for (;;) {
      let chunk: ArrayBuffer | null;
      try {
        chunk = await net.read(s);
      } catch (e) {
        close(errorCode(e), `connection to ${peer} failed: ${errorDetail(e)}`);
        return;
      }
      if (st === 'closed') return;
      if (chunk === null) {
        close('ECLOSED', `${peer} closed the connection`);
        return;
      }
      try {
        for (const packet of parser.push(new Uint8Array(chunk))) {
          if ((st as MqttClientState) === 'closed') return; // a handler may have ended the session
          lastRx = now();
          pinged = false;
          handle(packet);
        }
      } catch (e) {
        close(errorCode(e), `${errorDetail(e)} (from ${peer})`);
        return;
      }
    }
  };

  const handle = (p: Packet): void => {
    if (st === 'closing') return; // DISCONNECT is queued: nothing may follow it, not even a PUBACK
    if (st === 'connecting') {
      if (p.type !== CONNACK) throw err('EPROTO', `expected CONNACK, got ${packetName(p.type)}`);
      const rc = p.returnCode;
      if (rc !== 0) {
        const reason = v5 ? reason5(rc) : (REASONS_5[CONNACK_AS_5[rc] as number] ?? 'unknown return code');
        const message = `${peer} refused the connection: ${reason} (CONNACK ${rc})`;
        const e = err('ECONNACK', message) as ConnackError;
        e.returnCode = rc;
        connectError = e;
        close('ECONNACK', message);
        return;
      }
      st = 'open';
      const props = p.props || {};
      if (props.maximumPacketSize) maxOutgoingPacketBytes = props.maximumPacketSize;
      if (props.receiveMaximum) receiveMaximum = props.receiveMaximum;
      if (props.serverKeepAlive !== undefined) options.keepaliveSec = props.serverKeepAlive;
      clock.clearTimer(timer);
      timer = -1;
      schedule();
      const c = connecting;
      connecting = null;
      c?.resolve({ sessionPresent: p.sessionPresent });
      return;
    }
    switch (p.type) {
      case PUBLISH: {
        const id = p.id as number;
        if (p.qos < 2 || !qos2.has(id)) {
          for (const cb of messageCbs) {
            try {
              cb(p.topic, p.payload, { qos: p.qos, retain: p.retain, dup: p.dup, props: p.props });
            } catch (e) {
              say('error', `message handler for ${p.topic} failed: ${errorDetail(e)}`);
            }
          }
        }
        if (p.qos === 2) qos2.add(id);
        if (p.qos) send(encodeAck(p.qos === 1 ? PUBACK : PUBREC, id)).catch(ignore);
        return;
      }
      case PUBREL:
        qos2.delete(p.id);
        send(encodeAck(PUBCOMP, p.id)).catch(ignore);
        return;
      case PUBACK:
      case SUBACK: {
        const entry = pending.get(p.id);
        if (!entry || entry.ack !== p.type) return; // not ours (a late or duplicate ack): ignored
        pending.delete(p.id);
        const rc = p.type === PUBACK ? p.reasonCode || 0 : 0;
        if (rc >= 0x80) {
          const e = err('EPUBACK', `${peer} did not accept the message: ${reason5(rc)}`) as ConnackError;
          e.returnCode = rc;
          entry.reject(e);
        } else entry.resolve(p.type === SUBACK ? p.granted : undefined);
        return;
      }
      case DISCONNECT: {
        const rc = p.reasonCode || 0;
        close('EDISCONNECT', `${peer} ended the session: ${reason5(rc)}`, rc);
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
  };

  /**
   * One timer serves keepalive and acknowledgements: it pings when due, ends a silent connection, and ends
   * one whose broker answers pings but leaves the oldest PUBACK or SUBACK unsent as long (else
   * the in-flight window would stall silently; what was not acknowledged is sent again after the reconnect).
   */
  const schedule = (): void => {
    const ka = options.keepaliveSec * 1000;
    const ackMs = ka * 1.5;
    const t = now();
    // silence first: when nothing arrives at all, that is what to say
    if (ka && t - lastRx >= ka * 1.5) {
      close('ETIMEDOUT', `nothing received from ${peer} for ${ka * 1.5} ms (keepalive ${ka / 1000} s)`);
      return;
    }
    const oldest = ackMs ? pending.values().next().value : undefined;
    if (oldest && t - oldest.at >= ackMs) {
      close('ETIMEDOUT', `no ${packetName(oldest.ack)} from ${peer} within ${ackMs / 1000} s`);
      return;
    }
    let due = oldest ? oldest.at + ackMs : Infinity;
    if (ka) {
      if (!pinged && (t - lastTx >= ka || t - lastRx >= ka)) {
        pinged = true;
        send(encodePingreq()).catch(ignore);
      }
      due = Math.min(due, lastRx + ka * 1.5, pinged ? Infinity : Math.min(lastTx, lastRx) + ka);
    }
    if (due === Infinity) return;
    timer = clock.setTimer(Math.max(1, due - t), () => {
      timer = -1;
      schedule();
    });
  };

  const close = (code: string, message: string, reasonCode?: number): void => {
    if (st === 'closed') return;
    st = 'closed';
    if (timer >= 0) clock.clearTimer(timer);
    timer = -1;
    if (socket >= 0) net.close(socket);
    const detail = errorDetail(message);
    const reason: CloseReason = { code, message: `[vigil] [mqtt] ${detail}` };
    if (reasonCode !== undefined) reason.reasonCode = reasonCode;
    closeReason = reason;
    if (connecting) {
      connecting.reject(connectError ?? err(code, detail));
      connecting = null;
    }
    const waiting = [...pending.values()];
    pending.clear();
    for (const p of waiting) p.reject(err('ECLOSED', `connection closed before the acknowledgement (${code}: ${detail})`));
    const cbs = closeCbs;
    closeCbs = [];
    for (const cb of cbs) callClose(cb, reason);
  };

  const callClose = (cb: (reason: CloseReason) => void, reason: CloseReason): void => {
    try {
      cb({ ...reason });
    } catch (e) {
      say('error', `close handler failed: ${errorDetail(e)}`);
    }
  };

  const onClose = (callback: (reason: CloseReason) => void): void => {
    if (closeReason) callClose(callback, closeReason);
    else closeCbs.push(callback);
  };

  return {
    get state() {
      return st;
    },
    get brokerReceiveMaximum() {
      return receiveMaximum;
    },

    connect() {
      if (st !== 'new') return refuse('EINVAL', 'connect() may be called once per client');
      const o = options;
      const result = new Promise<{ sessionPresent: boolean }>((resolve, reject) => (connecting = { resolve, reject }));
      let connectPacket: Uint8Array;
      try {
        connectPacket = encodeConnect({ ...o, protocolLevel: v5 ? 5 : 4, props: o.connectProperties });
      } catch (e) {
        connectError = e as Error;
        close(errorCode(e), errorDetail(e));
        return result;
      }
      st = 'connecting';
      timer = clock.setTimer(o.connectTimeoutMs, () => close('ETIMEDOUT', `no CONNACK from ${peer} within ${o.connectTimeoutMs} ms`));
      net.connect({ host: o.host, port: o.port, tls: o.tls, timeoutMs: o.connectTimeoutMs }).then(
        (s) => {
          if (st !== 'connecting') return net.close(s);
          socket = s;
          lastRx = now();
          send(connectPacket).catch(ignore);
          readLoop(s);
        },
        (e) => {
          // the host's text without its code and peer: `cannot connect to a:1883: connect ECONNREFUSED …`
          const text = errorDetail(e);
          close(errorCode(e), `cannot connect to ${peer}${text && ': ' + text}`);
        },
      );
      return result;
    },

    publish(topic, payload, opts) {
      return request(opts.qos ? PUBACK : 0, (id) => {
        const bytes = encodePublish({ topic, payload, qos: opts.qos, retain: opts.retain, id, props: v5 ? opts.props || {} : undefined });
        if (bytes.length > maxOutgoingPacketBytes) {
          throw err('E2BIG', `PUBLISH of ${bytes.length} bytes to ${topic} is over the broker's maximum packet size of ${maxOutgoingPacketBytes} bytes`);
        }
        return bytes;
      }) as Promise<void>;
    },

    subscribe(subscriptions) {
      return request(SUBACK, (id) => {
        for (const s of subscriptions) {
          const problem = topicFilterProblem(s.topic);
          if (problem) throw err('EINVAL', problem);
        }
        return encodeSubscribe(id, subscriptions, v5 ? {} : undefined);
      }) as Promise<number[]>;
    },

    onMessage(callback) {
      messageCbs.push(callback);
    },

    onClose,

    disconnect() {
      const done = new Promise<void>((resolve) => onClose(() => resolve()));
      const bye = () => close('ELOCAL', `disconnected from ${peer} by the agent`);
      if (st === 'open') {
        st = 'closing';
        send(encodeDisconnect()).then(bye, bye);
      } else if (st !== 'closing') bye();
      return done;
    },
  };
};
