// MqttClient: CONNECT and its CONNACK — options on the wire, refusals, timeouts and failures before the session.
import { beforeEach, describe, expect, it } from 'vitest';
import { broker, connected, fake, makeClient, settle, startScriptedBroker, track } from '../../../test/helpers/mqtt-scripted-broker';
import { utf8Decode } from '../util/text';
import type { ConnackError } from './client';
import { CONNECT } from './codec';

beforeEach(startScriptedBroker);

describe('connect', () => {
  it('connects with the configured CONNECT and resolves when the broker accepts', async () => {
    const { client } = makeClient({
      username: 'cam',
      password: 'pa55',
      keepaliveSec: 30,
      will: { topic: 'vigil/v1/ACCC8E000001/state', payload: 'offline', qos: 1, retain: true },
      tls: { serverName: 'mqtt.example' },
    });
    const p = client.connect();
    await settle();
    await expect(p).resolves.toEqual({ sessionPresent: false });
    expect(client.state).toBe('open');
    expect(broker.peer.options).toMatchObject({ host: 'broker', port: 1883, timeoutMs: 5000, tls: { serverName: 'mqtt.example' } });
    const [c] = broker.of(CONNECT);
    expect(c).toMatchObject({ clientId: 'ACCC8E000001', cleanSession: true, keepaliveSec: 30, username: 'cam' });
    expect(utf8Decode(c.password as Uint8Array)).toBe('pa55');
    expect(c.will).toMatchObject({ topic: 'vigil/v1/ACCC8E000001/state', qos: 1, retain: true });
    expect(utf8Decode(c.will!.payload)).toBe('offline');
  });

  it('reports session present from the CONNACK', async () => {
    broker.autoConnack = { returnCode: 0, sessionPresent: true };
    const { client } = makeClient({ cleanSession: false });
    const p = client.connect();
    await settle();
    await expect(p).resolves.toEqual({ sessionPresent: true });
  });

  it.each([
    [1, 'unsupported protocol version'], // the MQTT 5 names of the 3.1.1 codes: one list of texts in the bundle
    [2, 'client identifier not valid'],
    [3, 'server unavailable'],
    [4, 'bad user name or password'],
    [5, 'not authorized'],
  ])('rejects a refused CONNACK %i with ECONNACK, its return code and its name', async (rc, name) => {
    broker.autoConnack = { returnCode: rc, sessionPresent: false };
    const { client, closes } = makeClient({ username: 'cam', password: 'hunter2' });
    const p = track(client.connect());
    await settle();
    expect(p.state).toBe('rejected');
    const err = p.error as ConnackError;
    expect(err.code).toBe('ECONNACK');
    expect(err.returnCode).toBe(rc);
    expect(err.message).toBe(`[vigil] [mqtt] broker:1883 refused the connection: ${name} (CONNACK ${rc})`);
    expect(closes).toEqual([{ code: 'ECONNACK', message: err.message }]);
    expect(broker.peer.closed).toBe(true);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('never puts the password into errors, close reasons or logs', async () => {
    broker.autoConnack = { returnCode: 4, sessionPresent: false };
    const { client, closes } = makeClient({ username: 'cam', password: 'hunter2' });
    const p = track(client.connect());
    await settle();
    const text = JSON.stringify([String(p.error?.message), closes, fake.logs]);
    expect(text).not.toContain('hunter2');
  });

  it('rejects with ETIMEDOUT when no CONNACK arrives within connectTimeoutMs, and leaves no timer', async () => {
    broker.autoConnack = null;
    const { client, closes } = makeClient();
    const p = track(client.connect());
    await fake.advance(4999);
    expect(p.state).toBe('pending');
    await fake.advance(1);
    expect(p.state).toBe('rejected');
    expect(p.error.code).toBe('ETIMEDOUT');
    expect(p.error.message).toBe('[vigil] [mqtt] no CONNACK from broker:1883 within 5000 ms');
    expect(closes.map((c) => c.code)).toEqual(['ETIMEDOUT']);
    expect(broker.peer.closed).toBe(true);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('rejects with the host code when the TCP connection is refused', async () => {
    const { client, closes } = makeClient({ host: 'nobody' });
    const p = track(client.connect());
    await settle();
    expect(p.error.code).toBe('ECONNREFUSED');
    // the code is the error's code; the host said nothing more (FakeHost: `ECONNREFUSED: nobody:1883`)
    expect(p.error.message).toBe('[vigil] [mqtt] cannot connect to nobody:1883');
    expect(closes.map((c) => c.code)).toEqual(['ECONNREFUSED']);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('rejects with the host code when the connection fails before the CONNACK', async () => {
    broker.autoConnack = null;
    broker.onPacket = () => {};
    const { client } = makeClient();
    const p = track(client.connect());
    await settle();
    broker.peer.fail('ETLS');
    await settle();
    expect(p.error.code).toBe('ETLS');
  });

  it('rejects with EPROTO when the broker answers CONNECT with something other than CONNACK', async () => {
    broker.autoConnack = null;
    broker.onPacket = (p) => p.type === CONNECT && broker.send({ cmd: 'pingresp' });
    const { client, closes } = makeClient();
    const p = track(client.connect());
    await settle();
    expect(p.error.code).toBe('EPROTO');
    expect(p.error.message).toMatch(/expected CONNACK, got PINGRESP/);
    expect(closes.map((c) => c.code)).toEqual(['EPROTO']);
  });

  it('rejects a second connect() on the same client with EINVAL', async () => {
    const { client } = await connected();
    await expect(client.connect()).rejects.toMatchObject({ code: 'EINVAL' });
    expect(client.state).toBe('open');
  });

  it('rejects options that cannot be encoded without opening a socket, and reports the close', async () => {
    const { client, closes } = makeClient({ password: 'p' });
    await expect(client.connect()).rejects.toMatchObject({ code: 'EINVAL' });
    expect(broker.connections).toBe(0);
    expect(closes.map((c) => c.code)).toEqual(['EINVAL']);
  });
});
