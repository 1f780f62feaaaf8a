/**
 * A small MQTT 3.1.1 packet codec, purpose-built for the agent (QuickJS: no Buffer, no TextEncoder).
 *
 * Encode: the packets a client sends (CONNECT, PUBLISH, PUBACK/PUBREC/PUBREL/PUBCOMP, SUBSCRIBE, UNSUBSCRIBE,
 * PINGREQ, DISCONNECT). Bad arguments throw VigilError EINVAL.
 * Decode: `decodePacket` takes what a broker sends (CONNACK, PUBLISH qos 0-2, the acks, SUBACK, UNSUBACK,
 * PINGRESP); `decodeAnyPacket` also takes what a client sends (for tests and scripted brokers; it is not
 * referenced by the client, so the bundler leaves it out). `PacketParser` splits a byte stream into packets.
 * Malformed input throws VigilError EPROTO with a message that says what was wrong.
 *
 * MQTT 5 later: CONNECT carries `protocolLevel` (only 4 is accepted now). A v5 encoder adds a `properties`
 * field to the packet objects and writes it where v5 puts it (after the variable header of every packet,
 * after the will flag in CONNECT's payload); the parser would take the level and read properties likewise.
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
}

export interface ConnectPacket {
  type: typeof CONNECT;
  /** 4 = MQTT 3.1.1, the only level implemented; the field is where MQTT 5 (level 5) will branch. */
  protocolLevel?: 4;
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
  returnCode: number;
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
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: a packet id and nothing else. */
export interface AckPacket {
  type: typeof PUBACK | typeof PUBREC | typeof PUBREL | typeof PUBCOMP | typeof UNSUBACK;
  id: number;
}

export interface SubscribePacket {
  type: typeof SUBSCRIBE;
  id: number;
  subscriptions: Array<{ topic: string; qos: QoS }>;
}

export interface SubackPacket {
  type: typeof SUBACK;
  id: number;
  /** Granted qos per subscription, in order; 0x80 = refused. */
  granted: number[];
}

export interface UnsubscribePacket {
  type: typeof UNSUBSCRIBE;
  id: number;
  topics: string[];
}

export interface EmptyPacket {
  type: typeof PINGREQ | typeof PINGRESP | typeof DISCONNECT;
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

export type PacketDecoder = (type: number, flags: number, body: Uint8Array) => Packet;

const protoError = (message: string) => new VigilError('mqtt', 'EPROTO', message);
const argError = (message: string) => new VigilError('mqtt', 'EINVAL', message);

// ---- encode -------------------------------------------------------------------------------------------

type Part = Uint8Array | number[];

const u16 = (n: number): number[] => [(n >> 8) & 255, n & 255];

/** A length-prefixed binary field (MQTT strings are this over UTF-8). */
function field(bytes: Uint8Array, what: string): Part[] {
  if (bytes.length > 65535) throw argError(`${what} is longer than 65535 bytes`);
  return [u16(bytes.length), bytes];
}

const bin = (data: Uint8Array | string): Uint8Array => (typeof data === 'string' ? utf8Encode(data) : data);
const str = (text: string, what: string): Part[] => field(utf8Encode(text), what);

function checkId(id: number): number {
  if (!(id >= 1 && id <= 65535 && id % 1 === 0)) throw argError(`packet id ${id} is not in 1..65535`);
  return id;
}

function checkTopicName(topic: string): string {
  const problem = topicNameProblem(topic);
  if (problem) throw argError(problem);
  return topic;
}

/** Assembles a packet: fixed header (type, flags, remaining length) and the given parts. */
function frame(type: number, flags: number, parts: Part[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  if (length > MAX_REMAINING_LENGTH) throw argError(`${packetName(type)} of ${length} bytes is larger than MQTT allows`);
  const header = [(type << 4) | flags];
  do {
    let digit = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) digit |= 128;
    header.push(digit);
  } while (length > 0);
  return concatBytes([new Uint8Array(header), ...parts.map((p) => (p instanceof Uint8Array ? p : new Uint8Array(p)))]);
}

export function encodeConnect(p: Omit<ConnectPacket, 'type'>): Uint8Array {
  if ((p.protocolLevel ?? 4) !== 4) throw argError(`protocol level ${p.protocolLevel} is not implemented (only 4, MQTT 3.1.1)`);
  if (!(p.keepaliveSec >= 0 && p.keepaliveSec <= 65535)) throw argError(`keepalive ${p.keepaliveSec} s is not in 0..65535`);
  if (p.password !== undefined && p.username === undefined) throw argError('MQTT 3.1.1 allows a password only with a user name');
  if (!p.clientId && !p.cleanSession) throw argError('an empty client id needs a clean session');
  const will = p.will;
  const flags =
    (p.username !== undefined ? 0x80 : 0) |
    (p.password !== undefined ? 0x40 : 0) |
    (will ? (will.retain ? 0x20 : 0) | (will.qos << 3) | 0x04 : 0) |
    (p.cleanSession ? 0x02 : 0);
  const parts: Part[] = [[0, 4, 77, 81, 84, 84, 4, flags, ...u16(p.keepaliveSec)], ...str(p.clientId, 'client id')];
  if (will) parts.push(...str(checkTopicName(will.topic), 'will topic'), ...field(bin(will.payload), 'will payload'));
  if (p.username !== undefined) parts.push(...str(p.username, 'user name'));
  if (p.password !== undefined) parts.push(...field(bin(p.password), 'password'));
  return frame(CONNECT, 0, parts);
}

export interface PublishOptions {
  topic: string;
  payload: Uint8Array | string;
  qos: QoS;
  retain?: boolean;
  dup?: boolean;
  /** Required for qos 1 and 2. */
  id?: number;
}

export function encodePublish(p: PublishOptions): Uint8Array {
  const parts = str(checkTopicName(p.topic), 'topic');
  if (p.qos > 0) parts.push(u16(checkId(p.id as number)));
  parts.push(bin(p.payload));
  return frame(PUBLISH, (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0), parts);
}

/** PUBACK, PUBREC, PUBREL (flags 0b0010, as the specification requires) or PUBCOMP. */
export function encodeAck(type: AckPacket['type'], id: number): Uint8Array {
  return frame(type, type === PUBREL ? 2 : 0, [u16(checkId(id))]);
}

export function encodeSubscribe(id: number, subscriptions: Array<{ topic: string; qos: QoS }>): Uint8Array {
  if (subscriptions.length === 0) throw argError('SUBSCRIBE needs at least one topic filter');
  const parts: Part[] = [u16(checkId(id))];
  for (const s of subscriptions) parts.push(...str(s.topic, 'topic filter'), [s.qos]);
  return frame(SUBSCRIBE, 2, parts);
}

export function encodeUnsubscribe(id: number, topics: string[]): Uint8Array {
  if (topics.length === 0) throw argError('UNSUBSCRIBE needs at least one topic filter');
  const parts: Part[] = [u16(checkId(id))];
  for (const t of topics) parts.push(...str(t, 'topic filter'));
  return frame(UNSUBSCRIBE, 2, parts);
}

export const encodePingreq = (): Uint8Array => new Uint8Array([PINGREQ << 4, 0]);
export const encodeDisconnect = (): Uint8Array => new Uint8Array([DISCONNECT << 4, 0]);

// ---- decode -------------------------------------------------------------------------------------------

/** Reads fields of one packet body; running off its end is a protocol error. */
class Reader {
  at = 0;
  constructor(
    readonly b: Uint8Array,
    readonly what: string,
  ) {}
  take(n: number): Uint8Array {
    if (this.at + n > this.b.length) throw protoError(`${this.what} is truncated`);
    return this.b.subarray(this.at, (this.at += n));
  }
  u8(): number {
    return this.take(1)[0];
  }
  u16(): number {
    const b = this.take(2);
    return (b[0] << 8) | b[1];
  }
  id(): number {
    const id = this.u16();
    if (id === 0) throw protoError(`${this.what} has packet id 0`);
    return id;
  }
  bytes(): Uint8Array {
    return this.take(this.u16());
  }
  str(what: string): string {
    const b = this.bytes();
    if (!isValidUtf8(b)) throw protoError(`${this.what} has a ${what} that is not valid UTF-8`);
    const s = utf8Decode(b);
    if (s.indexOf('\0') >= 0) throw protoError(`${this.what} has a ${what} containing U+0000`);
    return s;
  }
  left(): number {
    return this.b.length - this.at;
  }
  end(): void {
    if (this.left() !== 0) throw protoError(`${this.what} has ${this.left()} unexpected trailing bytes`);
  }
}

function checkQos(q: number, what: string): QoS {
  if (q > 2) throw protoError(`${what} has qos ${q}`);
  return q as QoS;
}

/** Decodes one packet that a broker sends to a client (the fixed header flags are already checked). */
export function decodePacket(type: number, flags: number, body: Uint8Array): Packet {
  const r = new Reader(body, packetName(type));
  let p: Packet;
  switch (type) {
    case CONNACK: {
      const ack = r.u8();
      if (ack & 0xfe) throw protoError('CONNACK has reserved acknowledge flags set');
      p = { type, sessionPresent: ack === 1, returnCode: r.u8() };
      break;
    }
    case PUBLISH: {
      const topic = r.str('topic');
      const problem = topicNameProblem(topic);
      if (problem) throw protoError(`PUBLISH is invalid: ${problem}`);
      const qos = ((flags >> 1) & 3) as QoS;
      p = { type, topic, qos, retain: (flags & 1) === 1, dup: (flags & 8) === 8, payload: new Uint8Array(0) };
      if (qos) p.id = r.id();
      p.payload = r.take(r.left());
      break;
    }
    case PUBACK:
    case PUBREC:
    case PUBREL:
    case PUBCOMP:
    case UNSUBACK:
      p = { type, id: r.id() };
      break;
    case SUBACK: {
      const id = r.id();
      const granted = Array.from(r.take(r.left()));
      if (!granted.length) throw protoError('SUBACK has no return codes');
      for (const g of granted) if (g > 2 && g !== 0x80) throw protoError(`SUBACK has return code ${g}`);
      p = { type, id, granted };
      break;
    }
    case PINGRESP:
      p = { type };
      break;
    default:
      throw protoError(`a broker does not send ${packetName(type)}`);
  }
  r.end();
  return p;
}

/** Decodes any packet, including those a client sends (CONNECT, SUBSCRIBE…): for tests and scripted brokers. */
export function decodeAnyPacket(type: number, flags: number, body: Uint8Array): Packet {
  const r = new Reader(body, packetName(type));
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
}

export interface ParserOptions {
  /** Largest whole packet (fixed header included) accepted; larger ones fail before their body is buffered. */
  maxPacketBytes?: number;
  /** decodePacket (client side, the default) or decodeAnyPacket. */
  decode?: PacketDecoder;
}

/**
 * Splits a byte stream into packets. Chunks may split or combine packets anyhow. It holds at most one
 * packet's body (bounded by maxPacketBytes) plus up to 4 header bytes. After an error it stays failed.
 */
export class PacketParser {
  private readonly max: number;
  private readonly decode: PacketDecoder;
  private header: number[] = [];
  private body: Uint8Array | null = null;
  private filled = 0;
  private failed: VigilError | null = null;

  constructor(options: ParserOptions = {}) {
    this.max = options.maxPacketBytes ?? DEFAULT_MAX_INCOMING_PACKET_BYTES;
    this.decode = options.decode ?? decodePacket;
  }

  /** Feeds bytes; returns the packets they complete. Throws VigilError EPROTO on malformed input. */
  push(chunk: Uint8Array): Packet[] {
    if (this.failed) throw this.failed;
    try {
      return this.consume(chunk);
    } catch (e) {
      this.failed = e instanceof VigilError ? e : protoError(`cannot decode: ${String(e)}`);
      this.header = [];
      this.body = null;
      throw this.failed;
    }
  }

  /** True when no partial packet is buffered. */
  get idle(): boolean {
    return this.header.length === 0;
  }

  private consume(chunk: Uint8Array): Packet[] {
    const out: Packet[] = [];
    let i = 0;
    while (i < chunk.length) {
      const h = this.header;
      if (!this.body) {
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
        if (h.length + length > this.max) {
          throw protoError(`${packetName(h[0] >> 4)} of ${h.length + length} bytes exceeds the limit of ${this.max} bytes`);
        }
        this.body = new Uint8Array(length);
        this.filled = 0;
      }
      const n = Math.min(this.body.length - this.filled, chunk.length - i);
      this.body.set(chunk.subarray(i, i + n), this.filled);
      this.filled += n;
      i += n;
      if (this.filled === this.body.length) {
        const body = this.body;
        this.body = null;
        this.header = [];
        out.push(this.decode(h[0] >> 4, h[0] & 15, body));
      }
    }
    return out;
  }
}
