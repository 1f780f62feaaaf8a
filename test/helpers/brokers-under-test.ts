// The brokers the end-to-end tests run against, one describe.each row each: the embedded Aedes (the demo's
// own), Debian's Mosquitto and Debian's RabbitMQ with its MQTT plugin, on `port` when given, else a free one.
// Each row says where its broker differs, so a test needing a feature skips (or expects refusal on) a broker
// without it.
import { startEmbeddedBroker } from './broker';
import { startMosquitto } from './mosquitto';
import { RABBITMQ_START_TIMEOUT_MS, startRabbitMq } from './rabbitmq';

export interface BrokerUnderTest {
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

export interface BrokerKind {
  name: string;
  start(port?: number): Promise<BrokerUnderTest>;
  /** Accepts an MQTT 5 CONNECT (RabbitMQ 3.10 closes the connection without a CONNACK; Aedes 1.x answers a 3.1.1 CONNACK 1). */
  mqtt5: boolean;
  /** Delivers retained messages to a wildcard subscription (RabbitMQ: only to an exact-topic one). */
  retainedOnWildcard: boolean;
  /** Grants and delivers QoS 2 (RabbitMQ grants QoS 1 for a QoS 2 subscription and delivers at QoS 1). */
  qos2: boolean;
  /** A bound for a beforeAll that starts it (RabbitMQ takes seconds). */
  startTimeoutMs: number;
}

const AEDES: BrokerKind = { name: 'embedded Aedes', start: (port) => startEmbeddedBroker({ port }), mqtt5: false, retainedOnWildcard: true, qos2: true, startTimeoutMs: 10_000 };

const MOSQUITTO: BrokerKind = {
  name: 'Mosquitto',
  start: async (port) => {
    const m = await startMosquitto({ port });
    return { host: m.host, port: m.port, url: m.url, close: () => m.stop() };
  },
  mqtt5: true,
  retainedOnWildcard: true,
  qos2: true,
  startTimeoutMs: 20_000,
};

const RABBITMQ: BrokerKind = {
  name: 'RabbitMQ',
  start: async (port) => {
    const r = await startRabbitMq({ port });
    return { host: r.host, port: r.port, url: r.url, close: () => r.stop() };
  },
  mqtt5: false,
  retainedOnWildcard: false,
  qos2: false,
  startTimeoutMs: RABBITMQ_START_TIMEOUT_MS,
};

/** Every broker: for suites that start a broker once (a beforeAll) and work on all three. */
export const BROKER_MATRIX: BrokerKind[] = [AEDES, MOSQUITTO, RABBITMQ];

/**
 * Aedes and Mosquitto: the suites that start (and restart) a broker per test, or read retained state through a
 * wildcard subscription, run on these two; a RabbitMQ start costs 5–20 s.
 */
export const BROKERS_UNDER_TEST: BrokerKind[] = [AEDES, MOSQUITTO];
