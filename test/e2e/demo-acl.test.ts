// `vigil demo`'s embedded broker enforces docs/broker-acl.md (issue 15 item 4): startDemo() as the demo runs
// it, real Aedes, real simulated cameras running the agent bundle. Before the fix anyone could connect and
// publish cmd/rebaseline to the tampered camera.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from '../../cli/demo';
import { waitUntil } from '../helpers/wait';

const BUNDLE = resolve(__dirname, '../../dist/agent.js');
// A camera login given by the demo for a serial that runs no simulated camera, so using it takes over nobody.
const CAM_A = 'ACCC8E00ACA1';

let demo: Demo;
let victim: string;
let observer: MqttClient;
const seen: Array<{ topic: string; payload: string }> = [];
const clients: MqttClient[] = [];

const connect = async (options: IClientOptions): Promise<MqttClient> => {
  const c = await mqtt.connectAsync(demo.broker.url, { reconnectPeriod: 0, ...options });
  clients.push(c);
  return c;
};
const asCameraA = (clientId = CAM_A) => connect({ ...demo.credentials.camera(CAM_A), clientId });
const refusal = (options: IClientOptions) => mqtt.connectAsync(demo.broker.url, { reconnectPeriod: 0, ...options }).then(
  (c) => (c.end(true), 'connected'),
  (err: Error & { code?: number }) => `refused ${err.code}`,
);

/** Publishes what the ACL forbids: Aedes closes the connection before the message goes anywhere. */
const publishRefused = async (client: MqttClient, topic: string): Promise<void> => {
  const closed = new Promise<void>((r) => client.once('close', () => r()));
  client.publish(topic, '{"id":"forged-1"}', { qos: 1 }, () => undefined);
  await closed;
};

/** A message through the broker to the observer, so that it has seen everything published before it. */
const sentinel = async (): Promise<void> => {
  const cam = await asCameraA();
  const body = `{"sentinel":${seen.length}}`;
  await cam.publishAsync(`vigil/v1/${CAM_A}/event`, body, { qos: 1 });
  await waitUntil('the sentinel at the observer', () => seen.some((s) => s.payload === body));
  await cam.endAsync();
};

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error(`[vigil] [test] ${BUNDLE} is missing: run npm run build first`);
  demo = await startDemo({
    bundlePath: BUNDLE,
    broker: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    intervalSec: 60,
    profiles: ['tampered', 'hardened'],
    faultScripts: false,
  });
  victim = demo.cameras.find((c) => c.profile.name === 'tampered')!.serial;
  // The cameras and the consumer log in with the demo's generated credentials.
  await waitUntil('a report from both cameras at the consumer', () => demo.cameras.every((c) => (demo.fleet.consumer.camera(c.serial)?.reports ?? 0) > 0), { timeoutMs: 90_000 });
  observer = await mqtt.connectAsync(demo.broker.url, { ...demo.credentials.fleet, clientId: 'vigil-fleet-test-observer', reconnectPeriod: 0 });
  observer.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
  await observer.subscribeAsync('vigil/v1/#', { qos: 1 });
}, 120_000);

afterEach(async () => {
  while (clients.length) await clients.pop()!.endAsync(true);
});

afterAll(async () => {
  await observer?.endAsync(true);
  await demo?.stop();
});

describe("the demo's embedded broker", () => {
  it('refuses a client without credentials', async () => {
    expect(await refusal({ clientId: 'anonymous-1' })).toBe('refused 5');
  });

  it('refuses a guessed password for the fleet user and for a camera', async () => {
    expect(await refusal({ username: 'fleet-1', password: 'fleet', clientId: 'vigil-fleet-guess' })).toBe('refused 4');
    expect(await refusal({ username: victim, password: 'secret', clientId: victim })).toBe('refused 4');
  });

  it("refuses camera A's login with another client id, which would take over or resume that client's session", async () => {
    expect(await refusal({ ...demo.credentials.camera(CAM_A), clientId: victim })).toBe('refused 2');
  });

  it("lets camera A publish its own report and subscribe to its own commands", async () => {
    const cam = await asCameraA();
    expect((await cam.subscribeAsync(`vigil/v1/${CAM_A}/cmd/+`, { qos: 1 })).map((g) => g.qos)).toEqual([1]);
    await cam.publishAsync(`vigil/v1/${CAM_A}/report`, '{"own":true}', { qos: 1 });
    await waitUntil("camera A's own report at the observer", () => seen.some((s) => s.topic === `vigil/v1/${CAM_A}/report` && s.payload === '{"own":true}'));
  });

  it("closes camera A's connection when it publishes on camera B's report topic, and B's topic gets nothing", async () => {
    await publishRefused(await asCameraA(), `vigil/v1/${victim}/report`);
    await sentinel();
    expect(seen.filter((s) => s.payload.includes('forged-1'))).toEqual([]);
  });

  it("closes camera A's connection when it publishes on its own cmd/rebaseline, and nothing is delivered", async () => {
    await publishRefused(await asCameraA(), `vigil/v1/${CAM_A}/cmd/rebaseline`);
    await sentinel();
    expect(seen.filter((s) => s.topic.includes('/cmd/'))).toEqual([]);
  });

  it("refuses camera A's subscriptions to another camera's topics and to the whole prefix", async () => {
    const cam = await asCameraA();
    const filters = [`vigil/v1/${victim}/cmd/#`, `vigil/v1/${victim}/report`, 'vigil/v1/#', '#'];
    // mqtt.js rejects a SUBACK that refuses every filter; its packet still carries the return codes.
    const suback = await cam.subscribeAsync(filters, { qos: 1 }).then(
      () => null,
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted ?? null,
    );
    expect(suback).toEqual([128, 128, 128, 128]);
  });

  it('gives an outsider no way to publish cmd/rebaseline to the tampered camera: refused at connect, and the read-only login is closed on it', async () => {
    expect(await refusal({ clientId: 'outsider' })).toBe('refused 5');
    const table = await connect({ ...demo.credentials.status, clientId: 'vigil-table-test' });
    await publishRefused(table, `vigil/v1/${victim}/cmd/rebaseline`);
    await sentinel();
    expect(seen.filter((s) => s.topic === `vigil/v1/${victim}/cmd/rebaseline` || s.topic === `vigil/v1/${victim}/cmd-result`)).toEqual([]);
  });

  it('lets the fleet user publish cmd/rebaseline to the tampered camera, which answers it', async () => {
    const fleet = await connect({ ...demo.credentials.fleet, clientId: 'vigil-fleet-test-commander' });
    await fleet.publishAsync(`vigil/v1/${victim}/cmd/rebaseline`, '{"id":"acl-fleet-1"}', { qos: 1 });
    const result = await waitUntil('the camera\'s cmd-result', () => seen.find((s) => s.topic === `vigil/v1/${victim}/cmd-result` && s.payload.includes('acl-fleet-1')), { timeoutMs: 60_000 });
    expect(JSON.parse(result.payload)).toMatchObject({ id: 'acl-fleet-1', command: 'rebaseline' });
  });
});
