/** Decoders of one packet body: `decodePacket` for what a broker sends the agent, `decodeAnyPacket` for any
 * packet (tests and scripted brokers). Malformed input throws VigilError EPROTO. */
import { utf8Decode } from '../util/text';
import { protoError, reader } from './field-reader';
import {
  CONNACK,
  CONNECT,
  DISCONNECT,
  PINGREQ,
  PINGRESP,
  PUBACK,
  PUBCOMP,
  PUBLISH,
  SUBACK,
  SUBSCRIBE,
  UNSUBACK,
  UNSUBSCRIBE,
  packetName,
  type AckPacket,
  type DecodedConnect,
  type EmptyPacket,
  type Packet,
  type PublishPacket,
  type QoS,
} from './packet-types';
import { topicNameProblem } from './topics';

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
    if (r.left()) q.props = r.props();
    return q;
  };
  let p: Packet;
  if (type === CONNACK) {
    const ack = r.u8();
    if (ack & 0xfe) throw protoError('CONNACK has reserved acknowledge flags set');
    p = { type, sessionPresent: ack === 1, returnCode: r.u8() };
    if (v5) p.props = r.props();
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
      pub.props = r.props();
      checkTopic();
    }
    pub.payload = r.take(r.left());
    p = pub;
  } else if (type === SUBACK || (v5 && type === UNSUBACK)) {
    const id = r.id();
    const properties = v5 ? r.props() : undefined;
    const codes = [...r.take(r.left())];
    if (!codes.length) throw protoError(`${name} has no ${v5 ? 'reason' : 'return'} codes`);
    if (!v5) for (const g of codes) if (g > 2 && g !== 0x80) throw protoError(`SUBACK has return code ${g}`);
    p = type === SUBACK ? { type, id, granted: codes } : { type: UNSUBACK, id, reasonCodes: codes };
    if (properties) p.props = properties;
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
