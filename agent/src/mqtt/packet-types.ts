/** MQTT packets as the codec models them: the type numbers, their names, and one interface per packet kind. */
import type { Properties } from './properties';

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

export interface Will {
  topic: string;
  payload: Uint8Array | string;
  qos: 0 | 1;
  retain: boolean;
  /** MQTT 5 will properties (messageExpiryInterval, contentType…). */
  props?: Properties;
}

export interface ConnectPacket {
  type: typeof CONNECT;
  /** 4 = MQTT 3.1.1 (the default), 5 = MQTT 5. */
  protocolLevel?: 4 | 5;
  props?: Properties;
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
  props?: Properties;
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
  props?: Properties;
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: a packet id (and in MQTT 5 a reason code and properties). */
export interface AckPacket {
  type: typeof PUBACK | typeof PUBREC | typeof PUBREL | typeof PUBCOMP | typeof UNSUBACK;
  id: number;
  /** MQTT 5: 0 when absent; UNSUBACK has one per topic in `reasonCodes`. */
  reasonCode?: number;
  reasonCodes?: number[];
  props?: Properties;
}

export interface SubscribePacket {
  type: typeof SUBSCRIBE;
  id: number;
  subscriptions: Array<{ topic: string; qos: QoS }>;
  props?: Properties;
}

export interface SubackPacket {
  type: typeof SUBACK;
  id: number;
  /** Granted qos per subscription, in order; 0x80 = refused (MQTT 5: any code ≥ 0x80). */
  granted: number[];
  props?: Properties;
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
  props?: Properties;
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
