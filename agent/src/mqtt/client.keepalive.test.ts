// MqttClient: keepalive — PINGREQ on silence and ETIMEDOUT when the broker goes quiet, on the FakeHost clock.
import { beforeEach, describe, expect, it } from 'vitest';
import { broker, connected, fake, startScriptedBroker, track } from '../../../test/helpers/mqtt-scripted-broker';
import { PINGREQ, PUBLISH } from './codec';

beforeEach(startScriptedBroker);

describe('keepalive', () => {
  it('sends PINGREQ after keepaliveSec of silence and stays open while PINGRESPs come back', async () => {
    const { client, closes } = await connected({ keepaliveSec: 10 });
    await fake.advance(9_999);
    expect(broker.of(PINGREQ)).toHaveLength(0);
    await fake.advance(1);
    expect(broker.of(PINGREQ)).toHaveLength(1);
    await fake.advance(60_000);
    expect(broker.of(PINGREQ)).toHaveLength(7);
    expect(closes).toEqual([]);
    expect(client.state).toBe('open');
  });

  it('sends no PINGREQ while packets flow both ways', async () => {
    const { client } = await connected({ keepaliveSec: 10 });
    broker.onPacket = (p) => p.type === PUBLISH && broker.send({ cmd: 'puback', messageId: p.id });
    for (let i = 0; i < 10; i++) {
      await fake.advance(5_000);
      await client.publish('t', 'x', { qos: 1 });
    }
    expect(broker.of(PINGREQ)).toHaveLength(0);
  });

  it('closes with ETIMEDOUT when nothing arrives within 1.5 × keepalive, rejecting pending publishes', async () => {
    broker.autoPingresp = false;
    const { client, closes } = await connected({ keepaliveSec: 10 });
    const pending = track(client.publish('t', 'x', { qos: 1 }));
    await fake.advance(10_000);
    expect(broker.of(PINGREQ)).toHaveLength(1);
    await fake.advance(4_999);
    expect(closes).toEqual([]);
    await fake.advance(1);
    expect(closes).toEqual([{ code: 'ETIMEDOUT', message: '[vigil] [mqtt] nothing received from broker:1883 for 15000 ms (keepalive 10 s)' }]);
    expect(pending.error.code).toBe('ECLOSED');
    expect(broker.peer.closed).toBe(true);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('notices a half-open connection even while the agent keeps sending', async () => {
    broker.autoPingresp = false;
    const { client, closes } = await connected({ keepaliveSec: 10 });
    for (let i = 0; i < 7 && closes.length === 0; i++) {
      await client.publish('t', 'x', { qos: 0 });
      await fake.advance(2_000);
    }
    await fake.advance(2_000);
    expect(broker.of(PINGREQ)).toHaveLength(1);
    expect(closes.map((c) => c.code)).toEqual(['ETIMEDOUT']);
  });

  it('runs no timer at all with keepalive 0', async () => {
    await connected({ keepaliveSec: 0 });
    expect(fake.pendingTimers()).toBe(0);
    await fake.advance(3_600_000);
    expect(broker.of(PINGREQ)).toHaveLength(0);
  });
});
