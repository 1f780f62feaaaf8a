/**
 * A small MQTT 3.1.1 packet codec, purpose-built for the agent (QuickJS: no Buffer, no TextEncoder).
 *
 * Encode: the packets the agent sends (CONNECT, PUBLISH, PUBACK/PUBREC/PUBREL/PUBCOMP, SUBSCRIBE, PINGREQ,
 * DISCONNECT; it never unsubscribes, so there is no UNSUBSCRIBE encoder). Bad arguments throw VigilError EINVAL.
 * Decode: `decodePacket` takes what a broker sends (CONNACK, PUBLISH qos 0-2, the acks, SUBACK, UNSUBACK,
 * PINGRESP); `decodeAnyPacket` also takes what a client sends (for tests and scripted brokers; it is not
 * referenced by the client, so the bundler leaves it out). `PacketParser` splits a byte stream into packets.
 * Malformed input throws VigilError EPROTO with a message that says what was wrong.
 *
 * MQTT 5 (protocolLevel 5) is an option: CONNECT, PUBLISH and SUBSCRIBE take `properties`
 * (written after the variable header, and before the will topic for the will's own), and the parser, told
 * the level, reads CONNACK/PUBLISH/ack/SUBACK/DISCONNECT properties and reason codes. Level 4 is unchanged.
 */
import { concatBytes, isValidUtf8, utf8Decode, utf8Encode } from '../util/bytes';
import { VigilError } from '../util/errors';
import { topicNameProblem } from './topics';

export type QoS = 0 | 1 | 2;

/** Packet type numbers (the high nibble of the first byte). */
export const CONNECT = 1,
  CONNACK = 2,
  PUBLISH = 3,
  PUBACK = 4,
  PUBREC = 5,
  PUBREL = 6,
  PUBCOMP = 7,
  SUBSCRIBE = 8,
  SUBACK = 9,
  UNSUBSCRIBE = 10,
  UNSUBACK = 11,
  PINGREQ = 12,
  PINGRESP = 13,
  DISCONNECT = 14;

const NAMES = ',CONNECT,CONNACK,PUBLISH,PUBACK,PUBREC,PUBREL,PUBCOMP,SUBSCRIBE,SUBACK,UNSUBSCRIBE,UNSUBACK,PINGREQ,PINGRESP,DISCONNECT'.split(',');

/** The packet's name as the specification writes it, e.g. `PUBACK`. */
export const packetName = (type: number): string => NAMES[type] || `reserved type ${type}`;

export const DEFAULT_MAX_INCOMING_PACKET_BYTES = 256 * 1024;
const MAX_REMAINING_LENGTH = 268_435_455;

export interface Will {
  topic: string;
  payload: Uint8Array | string;
  qos: 0 | 1;
  retain: boolean;
  /** MQTT 5 will properties (messageExpiryInterval, contentType…). */
  properties?: Properties;
}

/** MQTT 5 properties, named as mqtt-packet names them; user properties as ordered pairs. */
export interface Properties {
  payloadFormatIndicator?: number;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Uint8Array;
  subscriptionIdentifier?: number;
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Uint8Array;
  requestProblemInformation?: number;
  willDelayInterval?: number;
  requestResponseInformation?: number;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQoS?: number;
  retainAvailable?: number;
  userProperties?: Array<[string, string]>;
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: number;
  subscriptionIdentifiersAvailable?: number;
  sharedSubscriptionAvailable?: number;
}

/**
 * Property id → [name, kind]: b byte, h 2 bytes, i 4 bytes, v variable int, s string, d binary, p string pair.
 * One string, `kind name` per id from 1 on (an empty slot is an id MQTT 5 does not define): as a literal
 * table of arrays it cost ~300 more bytes of the bundle.
 */
const PROPS = (
  ',b payloadFormatIndicator,i messageExpiryInterval,s contentType,,,,,s responseTopic,d correlationData,,' +
  'v subscriptionIdentifier,,,,,,i sessionExpiryInterval,s assignedClientIdentifier,h serverKeepAlive,,' +
  's authenticationMethod,d authenticationData,b requestProblemInformation,i willDelayInterval,' +
  'b requestResponseInformation,s responseInformation,,s serverReference,,,s reasonString,,h receiveMaximum,' +
  'h topicAliasMaximum,h topicAlias,b maximumQoS,b retainAvailable,p userProperties,i maximumPacketSize,' +
  'b wildcardSubscriptionAvailable,b subscriptionIdentifiersAvailable,b sharedSubscriptionAvailable'
)
  .split(',')
  .map((e) => e && ([e.slice(2), e[0]] as [keyof Properties, string]));

export interface ConnectPacket {
  type: typeof CONNECT;
  /** 4 = MQTT 3.1.1 (the default), 5 = MQTT 5. */
  protocolLevel?: 4 | 5;
  properties?: Properties;
  clientId: string;
  cleanSession: boolean;
  keepaliveSec: number;
  username?: string;
  password?: Uint8Array | string;
  will?: Will;
}

export interface ConnackPacket {
  type: typeof CONNACK;
  sessionPresent: boolean;
  /** 3.1.1 return code, or the MQTT 5 reason code (0 = accepted, ≥ 0x80 refused). */
  returnCode: number;
  properties?: Properties;
}

export interface PublishPacket {
  type: typeof PUBLISH;
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present for qos 1 and 2 (1..65535). */
  id?: number;
  properties?: Properties;
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: a packet id (and in MQTT 5 a reason code and properties). */
export interface AckPacket {
  type: typeof PUBACK | typeof PUBREC | typeof PUBREL | typeof PUBCOMP | typeof UNSUBACK;
  id: number;
  /** MQTT 5: 0 when absent; UNSUBACK has one per topic in `reasonCodes`. */
  reasonCode?: number;
  reasonCodes?: number[];
  properties?: Properties;
}

export interface SubscribePacket {
  type: typeof SUBSCRIBE;
  id: number;
  subscriptions: Array<{ topic: string; qos: QoS }>;
  properties?: Properties;
}

export interface SubackPacket {
  type: typeof SUBACK;
  id: number;
  /** Granted qos per subscription, in order; 0x80 = refused (MQTT 5: any code ≥ 0x80). */
  granted: number[];
  properties?: Properties;
}

export interface UnsubscribePacket {
  type: typeof UNSUBSCRIBE;
  id: number;
  topics: string[];
}

export interface EmptyPacket {
  type: typeof PINGREQ | typeof PINGRESP | typeof DISCONNECT;
  /** MQTT 5 DISCONNECT: why (0x8E = session taken over by another client with the same id). */
  reasonCode?: number;
  properties?: Properties;
}

/** Decoded CONNECT: binary fields come back as bytes. */
export interface DecodedConnect extends ConnectPacket {
  password?: Uint8Array;
  will?: Will & { payload: Uint8Array };
}

export type Packet =
  | DecodedConnect
  | ConnackPacket
  | PublishPacket
  | AckPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | EmptyPacket;

export type PacketDecoder = (type: number, flags: number, body: Uint8Array, level?: number) => Packet;

const protoError = (message: string) => new VigilError('mqtt', 'EPROTO', message);
const argError = (message: string) => new VigilError('mqtt', 'EINVAL', message);

// ---- encode -------------------------------------------------------------------------------------------

type Part = Uint8Array | number[];

const u16 = (n: number): number[] => [(n >> 8) & 255, n & 255];

/** A length-prefixed binary field (MQTT strings are this over UTF-8). */
const field = (bytes: Uint8Array, what: string): Part[] => {
  if (bytes.length > 65535) throw argError(`${what} is longer than 65535 bytes`);
  return [u16(bytes.length), bytes];
};

const bin = (data: Uint8Array | string): Uint8Array => (typeof data === 'string' ? utf8Encode(data) : data);
const str = (text: string, what: string): Part[] => field(utf8Encode(text), what);

const checkId = (id: number): number => {
  if (!(id >= 1 && id <= 65535 && id % 1 === 0)) throw argError(`packet id ${id} is not in 1..65535`);
  return id;
};

const checkTopicName = (topic: string): string => {
  const problem = topicNameProblem(topic);
  if (problem) throw argError(problem);
  return topic;
};

const varint = (n: number): number[] => {
  const out: number[] = [];
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 128;
    out.push(digit);
  } while (n > 0);
  return out;
};

/** MQTT 5 properties: their length as a variable integer, then id + value for each one present. */
export const encodeProperties = (props: Properties | undefined): Part[] => {
  const parts: Part[] = [];
  let length = 0;
  const add = (p: Part) => {
    parts.push(p);
    length += p.length;
  };
  if (props) {
    PROPS.forEach((def, id) => {
      if (!def) return;
      const [name, kind] = def;
      const v = props[name];
      if (v === undefined) return;
      const values = kind === 'p' ? (v as Array<[string, string]>) : [v];
      for (const value of values) {
        const n = value as number;
        const pair = value as [string, string];
        add([id]);
        for (const f of kind === 'b'
          ? [[n & 255]]
          : kind === 'h'
            ? [u16(n)]
            : kind === 'i'
              ? [u16(n >>> 16), u16(n)]
              : kind === 'v'
                ? [varint(n)]
                : kind === 's'
                  ? str(value as string, name)
                  : kind === 'd'
                    ? field(value as Uint8Array, name)
                    : [...str(pair[0], name), ...str(pair[1], name)])
          add(f);
      }
    });
  }
  return [varint(length), ...parts];
};

/** Assembles a packet: fixed header (type, flags, remaining length) and the given parts. */
const frame = (type: number, flags: number, parts: Part[]): Uint8Array => {
  let length = 0;
  for (const p of parts) length += p.length;
  if (length > MAX_REMAINING_LENGTH) throw argError(`${packetName(type)} of ${length} bytes is larger than MQTT allows`);
  const header = [(type << 4) | flags, ...varint(length)];
  return concatBytes([new Uint8Array(header), ...parts.map((p) => (p instanceof Uint8Array ? p : new Uint8Array(p)))]);
};

export const encodeConnect = (p: Omit<ConnectPacket, 'type'>): Uint8Array => {
  const level = p.protocolLevel ?? 4;
  if (level !== 4 && level !== 5) throw argError(`protocol level ${p.protocolLevel} is not implemented (4, MQTT 3.1.1, or 5, MQTT 5)`);
  const v5 = level === 5;
  if (!(p.keepaliveSec >= 0 && p.keepaliveSec <= 65535)) throw argError(`keepalive ${p.keepaliveSec} s is not in 0..65535`);
  if (!v5 && p.password !== undefined && p.username === undefined) throw argError('MQTT 3.1.1 allows a password only with a user name');
  if (!p.clientId && !p.cleanSession) throw argError('an empty client id needs a clean session');
  const will = p.will;
  const flags =
    (p.username !== undefined ? 0x80 : 0) |
    (p.password !== undefined ? 0x40 : 0) |
    (will ? (will.retain ? 0x20 : 0) | (will.qos << 3) | 0x04 : 0) |
    (p.cleanSession ? 0x02 : 0);
  const parts: Part[] = [[0, 4, 77, 81, 84, 84, level, flags, ...u16(p.keepaliveSec)]];
  if (v5) parts.push(...encodeProperties(p.properties));
  parts.push(...str(p.clientId, 'client id'));
  if (will) {
    if (v5) parts.push(...encodeProperties(will.properties));
    parts.push(...str(checkTopicName(will.topic), 'will topic'), ...field(bin(will.payload), 'will payload'));
  }
  if (p.username !== undefined) parts.push(...str(p.username, 'user name'));
  if (p.password !== undefined) parts.push(...field(bin(p.password), 'password'));
  return frame(CONNECT, 0, parts);
};

export interface PublishOptions {
  topic: string;
  payload: Uint8Array | string;
  qos: QoS;
  retain?: boolean;
  dup?: boolean;
  /** Required for qos 1 and 2. */
  id?: number;
  /** MQTT 5 only: written (possibly empty) exactly when present. */
  properties?: Properties;
}

export const encodePublish = (p: PublishOptions): Uint8Array => {
  const parts = str(checkTopicName(p.topic), 'topic');
  if (p.qos > 0) parts.push(u16(checkId(p.id as number)));
  if (p.properties) parts.push(...encodeProperties(p.properties));
  parts.push(bin(p.payload));
  return frame(PUBLISH, (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0), parts);
};

/** PUBACK, PUBREC, PUBREL (flags 0b0010, as the specification requires) or PUBCOMP. */
export const encodeAck = (type: AckPacket['type'], id: number): Uint8Array => frame(type, type === PUBREL ? 2 : 0, [u16(checkId(id))]);

/** With `properties` (MQTT 5), they are written after the packet id (the option byte's qos bits are the same). */
export const encodeSubscribe = (id: number, subscriptions: Array<{ topic: string; qos: QoS }>, properties?: Properties): Uint8Array => {
  if (subscriptions.length === 0) throw argError('SUBSCRIBE needs at least one topic filter');
  const parts: Part[] = [u16(checkId(id))];
  if (properties) parts.push(...encodeProperties(properties));
  for (const s of subscriptions) parts.push(...str(s.topic, 'topic filter'), [s.qos]);
  return frame(SUBSCRIBE, 2, parts);
};

export const encodePingreq = (): Uint8Array => new Uint8Array([PINGREQ << 4, 0]);
export const encodeDisconnect = (): Uint8Array => new Uint8Array([DISCONNECT << 4, 0]);

// ---- decode -------------------------------------------------------------------------------------------

/**
 * Reads fields of one packet body; running off its end is a protocol error. A closure rather than a class:
 * its state stays in local variables, which the minifier shortens (`this.at` it cannot).
 */
const reader = (b: Uint8Array, what: string) => {
  let at = 0;
  const left = () => b.length - at;
  const take = (n: number): Uint8Array => {
    if (at + n > b.length) throw protoError(`${what} is truncated`);
    return b.subarray(at, (at += n));
  };
  const u8 = () => take(1)[0];
  const u16 = () => {
    const x = take(2);
    return (x[0] << 8) | x[1];
  };
  const bytes = () => take(u16());
  const str = (name: string): string => {
    const x = bytes();
    if (!isValidUtf8(x)) throw protoError(`${what} has a ${name} that is not valid UTF-8`);
    const s = utf8Decode(x);
    if (s.indexOf('\0') >= 0) throw protoError(`${what} has a ${name} containing U+0000`);
    return s;
  };
  const varint = (): number => {
    let n = 0;
    for (let mul = 1; ; mul *= 128) {
      if (mul > 128 * 128 * 128) throw protoError(`${what} has a variable integer longer than 4 bytes`);
      const x = u8();
      n += (x & 127) * mul;
      if (!(x & 128)) return n;
    }
  };
  return {
    left,
    take,
    u8,
    u16,
    bytes,
    str,
    varint,
    id(): number {
      const id = u16();
      if (id === 0) throw protoError(`${what} has packet id 0`);
      return id;
    },
    /** MQTT 5 properties; a property that may appear once and appears twice is a protocol error. */
    props(): Properties {
      const end = varint() + at;
      if (end > b.length) throw protoError(`${what} properties are truncated`);
      const out: Properties = {};
      const o = out as Record<string, unknown>;
      while (at < end) {
        const id = varint();
        const def = PROPS[id];
        if (!def) throw protoError(`${what} has unknown property ${id}`);
        const [name, kind] = def;
        if (kind !== 'p' && name in o) throw protoError(`${what} has property ${name} twice`);
        if (kind === 'p') (out.userProperties = out.userProperties || []).push([str(name), str(name)]);
        else {
          o[name] =
            kind === 'b' ? u8() : kind === 'h' ? u16() : kind === 'i' ? u16() * 65536 + u16() : kind === 'v' ? varint() : kind === 's' ? str(name) : bytes().slice();
        }
      }
      if (at !== end) throw protoError(`${what} properties overrun their length`);
      return out;
    },
    end(): void {
      if (left() !== 0) throw protoError(`${what} has ${left()} unexpected trailing bytes`);
    },
  };
};

const checkQos = (q: number, what: string): QoS => {
  if (q > 2) throw protoError(`${what} has qos ${q}`);
  return q as QoS;
};

/**
 * Decodes one packet that a broker sends to a client (the fixed header flags are already checked). With
 * level 5 (MQTT 5) it also reads reason codes and properties, and takes DISCONNECT.
 */
export const decodePacket = (type: number, flags: number, body: Uint8Array, level = 4): Packet => {
  const v5 = level === 5;
  const name = packetName(type);
  const r = reader(body, name);
  /** MQTT 5 PUBACK…PUBCOMP and DISCONNECT: a reason code (0 when absent), then properties if any. */
  const reason = <T extends AckPacket | EmptyPacket>(q: T): T => {
    q.reasonCode = r.left() ? r.u8() : 0;
    if (r.left()) q.properties = r.props();
    return q;
  };
  let p: Packet;
  if (type === CONNACK) {
    const ack = r.u8();
    if (ack & 0xfe) throw protoError('CONNACK has reserved acknowledge flags set');
    p = { type, sessionPresent: ack === 1, returnCode: r.u8() };
    if (v5) p.properties = r.props();
  } else if (type === PUBLISH) {
    const topic = r.str('topic');
    const problem = topicNameProblem(topic);
    const checkTopic = () => {
      if (problem) throw protoError(`PUBLISH is invalid: ${problem}`);
    };
    // MQTT 5 checks the topic after the properties (a topic alias may stand in for an empty topic; the
    // agent never allows aliases, so it is an error all the same).
    if (!v5) checkTopic();
    const qos = ((flags >> 1) & 3) as QoS;
    const pub: PublishPacket = { type, topic, qos, retain: (flags & 1) === 1, dup: (flags & 8) === 8, payload: new Uint8Array(0) };
    if (qos) pub.id = r.id();
    if (v5) {
      pub.properties = r.props();
      checkTopic();
    }
    pub.payload = r.take(r.left());
    p = pub;
  } else if (type === SUBACK || (v5 && type === UNSUBACK)) {
    const id = r.id();
    const properties = v5 ? r.props() : undefined;
    const codes = Array.from(r.take(r.left()));
    if (!codes.length) throw protoError(`${name} has no ${v5 ? 'reason' : 'return'} codes`);
    if (!v5) for (const g of codes) if (g > 2 && g !== 0x80) throw protoError(`SUBACK has return code ${g}`);
    p = type === SUBACK ? { type, id, granted: codes } : { type: UNSUBACK, id, reasonCodes: codes };
    if (properties) p.properties = properties;
  } else if (type >= PUBACK && type <= PUBCOMP) {
    p = { type: type as AckPacket['type'], id: r.id() };
    if (v5) reason(p);
  } else if (type === UNSUBACK) {
    p = { type, id: r.id() }; // MQTT 3.1.1: only the packet id
  } else if (type === PINGRESP) {
    p = { type };
  } else if (v5 && type === DISCONNECT) {
    p = reason({ type });
  } else throw protoError(`a broker does not send ${name}${v5 ? ' (MQTT 5)' : ''}`);
  r.end();
  return p;
};

/** Decodes any packet, including those a client sends (CONNECT, SUBSCRIBE…): for tests and scripted brokers. */
export const decodeAnyPacket = (type: number, flags: number, body: Uint8Array): Packet => {
  const r = reader(body, packetName(type));
  let p: Packet;
  switch (type) {
    case CONNECT: {
      const name = utf8Decode(r.bytes());
      const level = r.u8();
      if (name !== 'MQTT' || level !== 4) throw protoError(`CONNECT has protocol ${name} level ${level}, not MQTT 4`);
      const f = r.u8();
      if (f & 1) throw protoError('CONNECT has the reserved flag set');
      if (f & 0x40 && !(f & 0x80)) throw protoError('CONNECT has a password without a user name');
      const willQos = checkQos((f >> 3) & 3, 'CONNECT will');
      if (!(f & 4) && f & 0x38) throw protoError('CONNECT has will qos or retain without a will');
      const c: DecodedConnect = { type, protocolLevel: 4, cleanSession: (f & 2) === 2, keepaliveSec: r.u16(), clientId: '' };
      c.clientId = r.str('client id');
      if (f & 4) {
        const topic = r.str('will topic');
        if (willQos > 1) throw protoError('CONNECT has will qos 2, which this codec does not model');
        c.will = { topic, payload: r.bytes(), qos: willQos as 0 | 1, retain: (f & 0x20) === 0x20 };
      }
      if (f & 0x80) c.username = r.str('user name');
      if (f & 0x40) c.password = r.bytes();
      p = c;
      break;
    }
    case SUBSCRIBE:
    case UNSUBSCRIBE: {
      const id = r.id();
      const subs: Array<{ topic: string; qos: QoS }> = [];
      while (r.left() > 0) {
        const topic = r.str('topic filter');
        subs.push({ topic, qos: type === SUBSCRIBE ? checkQos(r.u8(), 'SUBSCRIBE') : 0 });
      }
      if (!subs.length) throw protoError(`${packetName(type)} has no topic filters`);
      p = type === SUBSCRIBE ? { type, id, subscriptions: subs } : { type, id, topics: subs.map((s) => s.topic) };
      break;
    }
    case PINGREQ:
    case DISCONNECT:
      p = { type };
      break;
    default:
      return decodePacket(type, flags, body);
  }
  r.end();
  return p;
};

export interface ParserOptions {
  /** Largest whole packet (fixed header included) accepted; larger ones fail before their body is buffered. */
  maxPacketBytes?: number;
  /** decodePacket (client side, the default) or decodeAnyPacket. */
  decode?: PacketDecoder;
  /** 4 (default) or 5: passed to the decoder. */
  protocolLevel?: number;
}

/**
 * Splits a byte stream into packets. Chunks may split or combine packets anyhow. It holds at most one
 * packet's body (bounded by maxPacketBytes) plus up to 4 header bytes. After an error it stays failed.
 */
export class PacketParser {
  readonly #max: number;
  readonly #decode: PacketDecoder;
  readonly #level: number;
  #header: number[] = [];
  #filled = 0;
  #failed: VigilError | null = null;
  /** The body being filled (public for the tests that check nothing is allocated ahead of the data). */
  body: Uint8Array | null = null;

  constructor(options: ParserOptions = {}) {
    this.#max = options.maxPacketBytes ?? DEFAULT_MAX_INCOMING_PACKET_BYTES;
    this.#decode = options.decode ?? decodePacket;
    this.#level = options.protocolLevel ?? 4;
  }

  /** Feeds bytes; returns the packets they complete. Throws VigilError EPROTO on malformed input. */
  push(chunk: Uint8Array): Packet[] {
    if (this.#failed) throw this.#failed;
    try {
      return this.#consume(chunk);
    } catch (e) {
      this.#failed = e instanceof VigilError ? e : protoError(`cannot decode: ${String(e)}`);
      this.#header = [];
      this.body = null;
      throw this.#failed;
    }
  }

  /** True when no partial packet is buffered. */
  get idle(): boolean {
    return this.#header.length === 0;
  }

  #consume(chunk: Uint8Array): Packet[] {
    const out: Packet[] = [];
    let i = 0;
    while (i < chunk.length) {
      const h = this.#header;
      let body = this.body;
      if (!body) {
        const b = chunk[i++];
        h.push(b);
        if (h.length === 1) {
          const type = b >> 4;
          const flags = b & 15;
          if (type === 0 || type === 15) throw protoError(`packet type ${type} is reserved`);
          if (type === PUBLISH ? (flags & 6) === 6 : flags !== ([PUBREL, SUBSCRIBE, UNSUBSCRIBE].indexOf(type) >= 0 ? 2 : 0)) {
            throw protoError(`${packetName(type)} has reserved flag bits 0x${flags.toString(16)}`);
          }
          continue;
        }
        if (b & 128) {
          if (h.length === 5) throw protoError('remaining length is longer than 4 bytes');
          continue;
        }
        let length = 0;
        for (let k = h.length - 1; k >= 1; k--) length = length * 128 + (h[k] & 127);
        if (h.length + length > this.#max) {
          throw protoError(`${packetName(h[0] >> 4)} of ${h.length + length} bytes exceeds the limit of ${this.#max} bytes`);
        }
        body = this.body = new Uint8Array(length);
        this.#filled = 0;
      }
      const n = Math.min(body.length - this.#filled, chunk.length - i);
      body.set(chunk.subarray(i, (i += n)), this.#filled);
      if ((this.#filled += n) === body.length) {
        this.body = null;
        this.#header = [];
        out.push(this.#decode(h[0] >> 4, h[0] & 15, body, this.#level));
      }
    }
    return out;
  }
}
