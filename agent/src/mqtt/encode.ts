/** Encoders of the packets the agent sends (CONNECT, PUBLISH, the acks, SUBSCRIBE, PINGREQ, DISCONNECT). */
import { concatBytes } from '../util/bytes';
import { argError, bin, field, str, u16, varint, type Part } from './field-writer';
import { CONNECT, DISCONNECT, PINGREQ, PUBLISH, PUBREL, SUBSCRIBE, packetName, type AckPacket, type ConnectPacket, type QoS } from './packet-types';
import { encodeProperties, type Properties } from './properties';
import { topicNameProblem } from './topics';

const MAX_REMAINING_LENGTH = 268_435_455;

const checkId = (id: number): number => {
  if (!(id >= 1 && id <= 65535 && id % 1 === 0)) throw argError(`packet id ${id} is not in 1..65535`);
  return id;
};

const checkTopicName = (topic: string): string => {
  const problem = topicNameProblem(topic);
  if (problem) throw argError(problem);
  return topic;
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
  if (v5) parts.push(...encodeProperties(p.props));
  parts.push(...str(p.clientId, 'client id'));
  if (will) {
    if (v5) parts.push(...encodeProperties(will.props));
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
  props?: Properties;
}

export const encodePublish = (p: PublishOptions): Uint8Array => {
  const parts = str(checkTopicName(p.topic), 'topic');
  if (p.qos > 0) parts.push(u16(checkId(p.id as number)));
  if (p.props) parts.push(...encodeProperties(p.props));
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
