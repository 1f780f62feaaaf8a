/** The MqttClient's API types (client.ts re-exports them); the API itself is described in client.ts. */
import type { TlsOptions } from '../host';
import type { VigilError } from '../util/errors';
import type { Properties, QoS, Will } from './codec';

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
  props?: Properties;
}

export interface CloseReason {
  code: string;
  message: string;
  /** The MQTT 5 reason code of a DISCONNECT from the broker. */
  reasonCode?: number;
}

export type ConnackError = VigilError & { returnCode: number };

export type MqttClientState = 'new' | 'connecting' | 'open' | 'closing' | 'closed';

/** One MQTT session; see the API above. */
export interface MqttClient {
  readonly state: MqttClientState;
  /** The broker's Receive Maximum, from an MQTT 5 CONNACK (65535 when it gave none). */
  readonly brokerReceiveMaximum: number;
  connect(): Promise<{ sessionPresent: boolean }>;
  publish(topic: string, payload: Uint8Array | string, options: { qos: 0 | 1; retain?: boolean; props?: Properties }): Promise<void>;
  subscribe(subscriptions: Array<{ topic: string; qos: 0 | 1 }>): Promise<number[]>;
  onMessage(callback: (topic: string, payload: Uint8Array, info: MessageInfo) => void): void;
  onClose(callback: (reason: CloseReason) => void): void;
  disconnect(): Promise<void>;
}
