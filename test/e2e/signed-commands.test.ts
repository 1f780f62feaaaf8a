/**
 * End to end, signed commands: `vigil fleet keygen` makes the fleet's key, a simulated camera (dist/agent.js in
 * QuickJS-wasm, the simulator's node:crypto verification) takes its public key as CommandKey, and
 * `vigil fleet command` sends through Debian's Mosquitto. A signed command runs; an unsigned one, one signed by
 * another key, and the fleet's own signed command replayed after the camera restarts are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startSimCamera, type SimCamera } from '../../host-sim/src/camera';
import { loadProfile } from '../../host-sim/src/profiles';
import { silentLogSink } from '../../host-sim/src/sim-host';
import { runCommand, runKeygen } from '../../fleet/src/command-cli';
import { createCommandSigner } from '../../fleet/src/command-signing';
import { startFleet } from '../../fleet/src/fleet';
import { buildAgent } from '../../build.mjs';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { waitUntil } from '../helpers/wait';
import { runCli } from '../helpers/capture-io';

const BUNDLE = join(__dirname, '../../dist/agent.js');

describe('signed commands through Mosquitto to a simulated camera', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-e2e-signed-'));
  const keyFile = join(root, 'fleet.key');
  const otherKey = join(root, 'other.key');
  let broker: Mosquitto;
  let camera: SimCamera;
  let observer: MqttClient;
  let publicKey = '';
  const seen: Array<{ topic: string; payload: string }> = [];
  const results = () => seen.filter((m) => m.topic.endsWith('/cmd-result')).map((m) => JSON.parse(m.payload) as Record<string, any>);

  const start = async () => {
    camera = await startSimCamera({
      profile: loadProfile('lts2024'),
      bundlePath: BUNDLE,
      broker,
      stateDir: join(root, 'state'),
      overrides: { IntervalSec: '2', CommandKey: publicKey },
      log: silentLogSink,
    });
    expect(camera.started.ok).toBe(true);
  };
  const reports = () => seen.filter((m) => m.topic === `vigil/v1/${camera.serial}/report`).length;

  beforeAll(async () => {
    if (!existsSync(BUNDLE) || !readFileSync(BUNDLE, 'utf8').includes('vigil-cmd/1')) await buildAgent();
    const made = await runCli(runKeygen, ['--out', keyFile]);
    expect(made.code, made.err).toBe(0);
    publicKey = made.out.trim().split('\n').pop() as string;
    expect((await runCli(runKeygen, ['--out', otherKey])).code).toBe(0);
    broker = await startMosquitto();
    observer = await mqtt.connectAsync(broker.url, { clientId: `observer-${process.pid}`, reconnectPeriod: 0 });
    observer.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
    await observer.subscribeAsync('vigil/v1/#', { qos: 1 });
    await start();
    await waitUntil('the first report', () => reports() >= 1);
  }, 60_000);

  afterAll(async () => {
    await camera?.stop();
    await observer?.endAsync(true);
    await broker?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('keygen writes a private key only its owner can read and prints a 91-byte SPKI key', () => {
    expect(Buffer.from(publicKey, 'base64')).toHaveLength(91);
    expect(readFileSync(keyFile, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('runs a set-interval that `vigil fleet command` signed, and the CLI prints the answer', async () => {
    const r = await runCli(runCommand, [camera.serial, 'set-interval', '--interval-sec', '20', '--id', 'e2e-1', '--key', keyFile, '--broker', broker.url]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe(`[vigil] [fleet] ${camera.serial} ran set-interval e2e-1: {"intervalSec":20}\n`);
  }, 30_000);

  it('refuses an unsigned rebaseline with EPERM', async () => {
    await observer.publishAsync(`vigil/v1/${camera.serial}/cmd/rebaseline`, '{"id":"e2e-unsigned"}', { qos: 1 });
    const r = await waitUntil('the answer', () => results().find((x) => x.id === 'e2e-unsigned'));
    expect(r).toMatchObject({ ok: false, code: 'EPERM' });
  }, 30_000);

  it('refuses a rebaseline signed with another key, and the CLI says so with exit code 1', async () => {
    const r = await runCli(runCommand, [camera.serial, 'rebaseline', '--id', 'e2e-other', '--key', otherKey, '--broker', broker.url]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^\\[vigil\\] \\[fleet\\] ${camera.serial} refused rebaseline e2e-other: ESIGNATURE `));
  }, 30_000);

  it('refuses the same signed command replayed after the camera restarted (EREPLAY)', async () => {
    const sent = seen.find((m) => m.topic.endsWith('/cmd/set-interval') && m.payload.includes('"e2e-1"'));
    expect(sent).toBeDefined();
    await camera.stop();
    const before = reports();
    await start();
    await waitUntil('a report after the restart', () => reports() > before);
    seen.length = 0;
    await observer.publishAsync((sent as { topic: string }).topic, (sent as { payload: string }).payload, { qos: 1 });
    const r = await waitUntil('the answer', () => results().find((x) => x.id === 'e2e-1'));
    expect(r).toMatchObject({ ok: false, code: 'EREPLAY' });
  }, 60_000);

  it("runs the dashboard's operator rebaseline when the consumer signs it (--command-key), and refuses it unsigned", async () => {
    const post = async (url: string) => {
      const res = await fetch(new URL(`api/cameras/${camera.serial}/command/rebaseline`, url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      const body = (await res.json()) as { commandId?: string; signed?: boolean; error?: string };
      expect(res.status, body.error).toBe(202);
      return body;
    };
    const signedFleet = await startFleet({ brokerUrl: broker.url, signCommand: createCommandSigner(readFileSync(keyFile, 'utf8')) });
    try {
      await waitUntil('the consumer knows the camera', async () => (await fetch(new URL(`api/cameras/${camera.serial}`, signedFleet.url as string))).ok);
      const sent = await post(signedFleet.url as string);
      expect(sent.signed).toBe(true);
      const r = await waitUntil('the answer', () => results().find((x) => x.id === sent.commandId));
      expect(r).toMatchObject({ ok: true, command: 'rebaseline' });
    } finally {
      await signedFleet.stop();
    }
    const unsignedFleet = await startFleet({ brokerUrl: broker.url });
    try {
      await waitUntil('the consumer knows the camera', async () => (await fetch(new URL(`api/cameras/${camera.serial}`, unsignedFleet.url as string))).ok);
      const sent = await post(unsignedFleet.url as string);
      expect(sent.signed).toBe(false);
      const r = await waitUntil('the answer', () => results().find((x) => x.id === sent.commandId));
      expect(r).toMatchObject({ ok: false, code: 'EPERM' });
    } finally {
      await unsignedFleet.stop();
    }
  }, 90_000);
});
