// The MQTT session's reconnects against a broker scripted packet by packet on the FakeHost clock: a refused
// CONNACK backs off long, reconnectNow() (settings changed) retries at once, and what each failure logs.
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeHost } from '../../test/fake-host';
import { ScriptedBroker } from '../../../test/helpers/mqtt-scripted-broker';
import { parseConfig } from '../config';
import { makeLog } from '../log';
import { createSession, type MqttSession } from './session';
import { CONNECT, DISCONNECT, PUBLISH, SUBSCRIBE } from './codec';
import { deviceTopics } from './topics';

let fake: FakeHost;
let broker: ScriptedBroker;
let config: ReturnType<typeof parseConfig>;
let session: MqttSession;
let opened: number;

const settle = async () => {
  for (let i = 0; i < 5; i++) {
    await fake.advance(0);
    await new Promise((resolve) => setImmediate(resolve));
  }
};

/** A session for camera ACCC8EF3A1C2 with the given parameters, against the scripted broker. */
const start = (params: Record<string, string> = {}) => {
  config = parseConfig({ BrokerHost: 'broker', BrokerPort: '1883', ...params });
  opened = 0;
  session = createSession({
    host: fake,
    agentConf: config,
    agentVer: '0.0.0-test',
    log: makeLog(fake),
    counters: { session: 0 },
    save: async () => {},
    stopping: () => false,
    serialNow: () => 'ACCC8EF3A1C2',
    topics: () => deviceTopics('ACCC8EF3A1C2'),
    onOpen: () => opened++,
    onReady: () => {},
    onClose: () => {},
    onMessage: () => {},
  });
  session.ensureConnected();
};

/** Answers the birth (PUBLISH state) and the subscription, as a broker that accepts the session does. */
const acknowledgeEverything = () => {
  broker.onPacket = (p) => {
    if (p.type === PUBLISH && p.qos) broker.send({ cmd: 'puback', messageId: p.id });
    if (p.type === SUBSCRIBE) broker.send({ cmd: 'suback', messageId: p.id, granted: [1] });
  };
};

const lines = () => fake.logs.map((l) => l.message);

beforeEach(() => {
  fake = new FakeHost();
  broker = new ScriptedBroker(fake);
  acknowledgeEverything();
});

describe('a refused CONNACK', () => {
  it('is logged once with the broker reason and the settings to check, and retried no sooner than 30 s later', async () => {
    broker.autoConnack = { returnCode: 4, sessionPresent: false };
    start({ BrokerUsername: 'cam', BrokerPassword: 'wrong' });
    await settle();
    expect(broker.connections).toBe(1);
    expect(lines().filter((m) => m.includes('cannot connect'))).toEqual([
      expect.stringMatching(
        /^\[vigil\] \[mqtt\] cannot connect \(ECONNACK\): broker:1883 refused the connection: bad user name or password \(CONNACK 4\); check BrokerUsername, BrokerPassword and the broker's ACL; attempt 1, next in \d+ s$/,
      ),
    ]);
    await fake.advance(29_999);
    expect(broker.connections).toBe(1);
  });

  it('is retried at once by reconnectNow() after the credentials changed', async () => {
    broker.autoConnack = { returnCode: 4, sessionPresent: false };
    start({ BrokerUsername: 'cam', BrokerPassword: 'wrong' });
    await settle();
    broker.autoConnack = { returnCode: 0, sessionPresent: false };
    config.brokerConf.password = 'right';
    session.reconnectNow();
    await settle();
    expect(broker.connections).toBe(2);
    expect(session.connected).toBe(true);
  });
});

describe('reconnectNow()', () => {
  it('closes an open connection with DISCONNECT and opens a new one with the current settings at once', async () => {
    start();
    await settle();
    expect(session.connected).toBe(true);
    config.brokerConf.keepaliveSec = 30;
    session.reconnectNow();
    await settle();
    expect(broker.of(DISCONNECT)).toHaveLength(1);
    const connects = broker.of(CONNECT);
    expect(connects).toHaveLength(2);
    expect(connects[1]).toMatchObject({ keepaliveSec: 30 });
    expect(session.connected).toBe(true);
    expect(opened).toBe(2);
    // a planned reconnect is not a lost connection
    expect(lines().some((m) => m.includes('connection lost'))).toBe(false);
  });

  it('follows an attempt under way with a new one', async () => {
    broker.autoConnack = null; // the CONNACK is held back: the attempt is under way
    start();
    await settle();
    session.reconnectNow();
    broker.send({ cmd: 'connack', returnCode: 0, sessionPresent: false });
    await settle();
    expect(broker.connections).toBe(2);
  });
});

describe('what a failed attempt logs', () => {
  it('says a refused TCP connection once, without repeating the speaker or the code', async () => {
    fake.unserve('broker', 1883);
    start();
    await settle();
    expect(lines()).toEqual([expect.stringMatching(/^\[vigil\] \[mqtt\] cannot connect \(ECONNREFUSED\) to broker:1883; attempt 1, next in \d+ s$/)]);
  });

  it('hints at MqttVersion when a broker closes an MQTT 5 CONNECT without a CONNACK', async () => {
    // RabbitMQ 3.10 does this: it reads the CONNECT and closes the connection, no CONNACK
    fake.unserve('broker', 1883);
    fake.serve('broker', 1883, (peer) => peer.onData(() => peer.end()));
    start({ MqttVersion: '5' });
    await settle();
    expect(lines()).toEqual([
      expect.stringMatching(
        /^\[vigil\] \[mqtt\] cannot connect \(ECLOSED\): broker:1883 closed the connection; a 3\.1\.1-only broker does that to MQTT 5: set MqttVersion 3\.1\.1; attempt 1, next in \d+ s$/,
      ),
    ]);
  });

  it('does not hint at MqttVersion when a 3.1.1 CONNECT is closed', async () => {
    broker.autoConnack = null;
    broker.onPacket = (p) => p.type === CONNECT && broker.peer.end();
    start();
    await settle();
    expect(lines()).toEqual([expect.stringMatching(/^\[vigil\] \[mqtt\] cannot connect \(ECLOSED\): broker:1883 closed the connection; attempt 1, next in \d+ s$/)]);
  });
});

describe('a broker that answers pings but never acknowledges', () => {
  it('is logged once as a lost connection and reconnected', async () => {
    start({ KeepaliveSec: '10' });
    await settle();
    broker.onPacket = () => {}; // from now on: PINGRESP only
    session.publishState(session.client as never, 'online', 'test').catch(() => {});
    await fake.advance(15_000);
    await settle();
    expect(lines().filter((m) => m.includes('connection lost'))).toEqual(['[vigil] [mqtt] connection lost (ETIMEDOUT): no PUBACK from broker:1883 within 15 s']);
    acknowledgeEverything();
    await fake.advance(1_000); // the first reconnect waits 0–1 s
    await settle();
    expect(broker.connections).toBe(2);
    expect(session.connected).toBe(true);
  });
});
