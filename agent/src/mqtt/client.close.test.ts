// MqttClient: disconnect() and the close report — once, to every callback, whatever else fails.
import { beforeEach, describe, expect, it } from 'vitest';
import { broker, connected, fake, makeClient, settle, startScriptedBroker, track } from '../../../test/helpers/mqtt-scripted-broker';
import type { CloseReason } from './client';
import { DISCONNECT } from './codec';

beforeEach(startScriptedBroker);

describe('disconnect and close', () => {
  it('sends DISCONNECT, closes the socket, reports ELOCAL once and leaves no timer', async () => {
    const { client, closes } = await connected();
    expect(fake.pendingTimers()).toBe(1);
    await client.disconnect();
    expect(broker.packets[broker.packets.length - 1]).toEqual({ type: DISCONNECT });
    expect(broker.peer.closed).toBe(true);
    expect(client.state).toBe('closed');
    expect(closes).toEqual([{ code: 'ELOCAL', message: '[vigil] [mqtt] disconnected from broker:1883 by the agent' }]);
    expect(fake.pendingTimers()).toBe(0);
    await client.disconnect();
    expect(closes).toHaveLength(1);
    expect(broker.of(DISCONNECT)).toHaveLength(1);
  });

  it('rejects a pending connect with ELOCAL when disconnect() is called during it', async () => {
    broker.autoConnack = null;
    const { client, closes } = makeClient();
    const p = track(client.connect());
    await settle();
    await client.disconnect();
    expect(p.error.code).toBe('ELOCAL');
    expect(closes.map((c) => c.code)).toEqual(['ELOCAL']);
    expect(broker.of(DISCONNECT)).toEqual([]);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('reports the close exactly once, even when the socket also fails afterwards', async () => {
    const { client, closes } = await connected();
    broker.peer.end();
    await settle();
    await client.disconnect();
    broker.peer.fail('ECONNRESET');
    await fake.advance(100_000);
    expect(closes.map((c) => c.code)).toEqual(['ECLOSED']);
  });

  it('calls a close callback registered after the close at once, with the same reason', async () => {
    const { client } = await connected();
    broker.peer.end();
    await settle();
    const late: CloseReason[] = [];
    client.onClose((r) => late.push(r));
    expect(late).toEqual([{ code: 'ECLOSED', message: '[vigil] [mqtt] broker:1883 closed the connection' }]);
  });

  it('keeps closing when a close callback throws, and logs it', async () => {
    const { client, closes } = await connected();
    client.onClose(() => {
      throw new Error('oops');
    });
    const after: string[] = [];
    client.onClose((r) => after.push(r.code));
    await client.disconnect();
    expect(closes).toHaveLength(1);
    expect(after).toEqual(['ELOCAL']);
    expect(fake.logs.map((l) => l.message)).toEqual(['[vigil] [mqtt] close handler failed: oops']);
  });
});
