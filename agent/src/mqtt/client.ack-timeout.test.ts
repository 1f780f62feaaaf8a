// MqttClient: a broker that answers PINGREQ but never acknowledges — the session ends after a bounded time
// (1.5 × keepalive, as for silence), on the FakeHost clock, instead of the window stalling.
import { beforeEach, describe, expect, it } from 'vitest';
import { broker, connected, fake, settle, startScriptedBroker, track } from '../../../test/helpers/mqtt-scripted-broker';
import { PINGREQ, PUBLISH } from './codec';

beforeEach(startScriptedBroker);

describe('an acknowledgement that never comes', () => {
  it('ends the session with ETIMEDOUT 1.5 × keepalive after a PUBACK was due, though PINGRESPs keep coming', async () => {
    const { client, closes } = await connected({ keepaliveSec: 10 });
    const p = track(client.publish('t', 'x', { qos: 1 }));
    await settle();
    await fake.advance(14_999);
    expect(broker.of(PINGREQ).length).toBeGreaterThanOrEqual(1);
    expect(closes).toEqual([]);
    await fake.advance(1);
    expect(closes).toEqual([{ code: 'ETIMEDOUT', message: '[vigil] [mqtt] no PUBACK from broker:1883 within 15 s' }]);
    expect(p.error.code).toBe('ECLOSED');
    expect(broker.peer.closed).toBe(true);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('ends the session when a SUBACK never comes', async () => {
    const { client, closes } = await connected({ keepaliveSec: 10 });
    const s = track(client.subscribe([{ topic: 'cmd/+', qos: 1 }]));
    await fake.advance(15_000);
    expect(closes.map((c) => c.message)).toEqual(['[vigil] [mqtt] no SUBACK from broker:1883 within 15 s']);
    expect(s.error.code).toBe('ECLOSED');
  });

  it('times the oldest unacknowledged publish, not the newest', async () => {
    const { client, closes } = await connected({ keepaliveSec: 10 });
    broker.onPacket = (p) => {
      // the first publish is never acknowledged, later ones are
      if (p.type === PUBLISH && broker.of(PUBLISH).length > 1) broker.send({ cmd: 'puback', messageId: p.id });
    };
    track(client.publish('t', 'first', { qos: 1 }));
    for (let i = 0; i < 5; i++) {
      await fake.advance(2_000);
      await client.publish('t', `later ${i}`, { qos: 1 });
    }
    await fake.advance(4_999);
    expect(closes).toEqual([]);
    await fake.advance(1);
    expect(closes.map((c) => c.code)).toEqual(['ETIMEDOUT']);
  });

  it('leaves a session alone while every PUBACK comes in time', async () => {
    const { client, closes } = await connected({ keepaliveSec: 10 });
    broker.onPacket = (p) => p.type === PUBLISH && broker.send({ cmd: 'puback', messageId: p.id });
    for (let i = 0; i < 20; i++) {
      await client.publish('t', 'x', { qos: 1 });
      await fake.advance(10_000);
    }
    expect(closes).toEqual([]);
    expect(client.state).toBe('open');
  });
});
