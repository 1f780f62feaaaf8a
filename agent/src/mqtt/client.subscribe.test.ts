// MqttClient: SUBSCRIBE and its SUBACK.
import { beforeEach, describe, expect, it } from 'vitest';
import { broker, connected, settle, startScriptedBroker, track } from '../../../test/helpers/mqtt-scripted-broker';
import { SUBSCRIBE } from './codec';

beforeEach(startScriptedBroker);

describe('subscribe', () => {
  it('sends SUBSCRIBE and resolves with the granted qos, 0x80 for a refusal', async () => {
    const { client } = await connected();
    const p = track(client.subscribe([{ topic: 'vigil/v1/x/cmd/+', qos: 1 }, { topic: 'forbidden/#', qos: 1 }]));
    await settle();
    const [sub] = broker.of(SUBSCRIBE);
    expect(sub.subscriptions).toEqual([
      { topic: 'vigil/v1/x/cmd/+', qos: 1 },
      { topic: 'forbidden/#', qos: 1 },
    ]);
    broker.send({ cmd: 'suback', messageId: sub.id, granted: [1, 128] });
    await settle();
    expect(p.value).toEqual([1, 0x80]);
  });

  it('rejects an invalid topic filter with EINVAL without sending anything', async () => {
    const { client } = await connected();
    await expect(client.subscribe([{ topic: 'a/#/b', qos: 1 }])).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(client.subscribe([{ topic: 'a/b+', qos: 1 }])).rejects.toMatchObject({ code: 'EINVAL' });
    expect(broker.of(SUBSCRIBE)).toEqual([]);
  });

  it('does not take a PUBACK with the id of a pending SUBSCRIBE as its acknowledgement', async () => {
    const { client } = await connected();
    const p = track(client.subscribe([{ topic: 'a', qos: 1 }]));
    await settle();
    broker.send({ cmd: 'puback', messageId: broker.of(SUBSCRIBE)[0].id });
    await settle();
    expect(p.state).toBe('pending');
  });
});
