/**
 * Where the brokers of the matrix differ, as the agent meets it (BrokerKind's flags, measured): a broker that
 * speaks only MQTT 3.1.1 refuses the agent's MQTT 5 CONNECT (RabbitMQ closes it, Aedes answers a 3.1.1 CONNACK)
 * and the agent says which setting to change; the retained `state` reaches a late subscriber of its exact
 * topic everywhere, and through a wildcard only on a broker that delivers retained messages to wildcard
 * subscriptions (not RabbitMQ); QoS 2 is downgraded to 1 on RabbitMQ (harmless: the agent uses QoS ≤ 1).
 */
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentHarness, SERIAL } from '../helpers/agent-harness';
import { BROKER_MATRIX, type BrokerUnderTest } from '../helpers/brokers-under-test';

describe.each(BROKER_MATRIX)('the agent over $name', (kind) => {
  let broker: BrokerUnderTest;
  let h: AgentHarness | null = null;

  beforeAll(async () => {
    broker = await kind.start();
  }, kind.startTimeoutMs);

  afterEach(async () => {
    await h?.close();
    h = null;
  });

  afterAll(async () => {
    await broker?.close();
  });

  /** What a consumer connecting after the agent's birth gets retained on `filter`, within a generous bound. */
  const retainedFor = async (filter: string): Promise<string[]> => {
    const late = await mqtt.connectAsync(broker.url, { clientId: `late-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0, protocolVersion: 4 });
    const got: string[] = [];
    late.on('message', (topic, _payload, packet) => packet.retain && got.push(topic));
    await late.subscribeAsync(filter, { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1500)); // retained messages come right after SUBACK; this only bounds "none"
    await late.endAsync(true);
    return got;
  };

  it(`${kind.qos2 ? 'grants and delivers' : 'downgrades to QoS 1'} a QoS 2 subscription (the agent subscribes and publishes at QoS ≤ 1)`, async () => {
    const client = await mqtt.connectAsync(broker.url, { clientId: `qos2-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0, protocolVersion: 4 });
    try {
      const got = new Promise<number>((resolve) => client.on('message', (_t, _p, packet) => resolve(packet.qos)));
      const granted = await client.subscribeAsync('vigil-test/qos2', { qos: 2 });
      await client.publishAsync('vigil-test/qos2', 'x', { qos: 2 });
      expect([granted[0].qos, await got]).toEqual(kind.qos2 ? [2, 2] : [1, 1]);
    } finally {
      await client.endAsync(true);
    }
  }, 30_000);

  it.runIf(!kind.mqtt5)('with MqttVersion 5 is refused and says to set MqttVersion 3.1.1', async () => {
    h = new AgentHarness({ config: { MqttVersion: '5' }, broker: { host: broker.host, port: broker.port } });
    await h.startBroker();
    h.start();
    const harness = h;
    const line = await harness.until('the MqttVersion hint', () => harness.logs('warn').find((m) => m.includes('MqttVersion')));
    expect(line).toMatch(/^\[vigil\] \[mqtt\] cannot connect \((ECLOSED|ECONNRESET|EPROTO)\): .*; a 3\.1\.1-only broker does that to MQTT 5: set MqttVersion 3\.1\.1; attempt 1, next in \d+ s$/);
    expect(harness.reports()).toEqual([]);
  }, 60_000);

  it('hands the retained state to a late subscriber of its exact topic', async () => {
    h = new AgentHarness({ broker: { host: broker.host, port: broker.port } });
    await h.startBroker();
    h.start();
    const harness = h;
    await harness.until('the first report', () => harness.reports().length);
    expect(await retainedFor(`vigil/v1/${SERIAL}/state`)).toEqual([`vigil/v1/${SERIAL}/state`]);
  }, 60_000);

  it(`${kind.retainedOnWildcard ? 'hands' : 'does not hand'} the retained state to a late wildcard subscriber`, async () => {
    h = new AgentHarness({ broker: { host: broker.host, port: broker.port } });
    await h.startBroker();
    h.start();
    const harness = h;
    await harness.until('the first report', () => harness.reports().length);
    const got = await retainedFor('vigil/v1/+/state');
    expect(got).toEqual(kind.retainedOnWildcard ? [`vigil/v1/${SERIAL}/state`] : []);
  }, 60_000);
});
