/**
 * End to end, MQTT 5: the real dist/agent.js with MqttVersion=5 against Debian's Mosquitto (Aedes 1.x speaks
 * 3.1.1 only), run by both engines that carry it to a camera — QuickJS-wasm in the simulator, and the native
 * C host on x86_64 — observed by an MQTT.js subscriber speaking MQTT 5 so the properties are visible.
 * outage.test.ts covers the same option with the agent in Node on a FakeHost; this file checks that the
 * MQTT 5 code paths also work inside QuickJS, where only the bundle and the host's sockets are real.
 *
 * Each test starts its own Mosquitto (free port), subscriber, VAPIX server and agent, and stops them all.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientPublishOptions, type MqttClient } from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimCamera } from '../../host-sim/src/camera';
import { loadProfile } from '../../host-sim/src/profiles';
import { buildConfig, silentLogSink } from '../../host-sim/src/sim-host';
import { VapixServer } from '../../host-sim/src/vapix-server';
import { NATIVE, TARGETS, startNative } from '../../host-native/test/helpers';
import { buildAgent } from '../../build.mjs';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { assertValidReport } from '../helpers/schemas';

const REPO = join(__dirname, '../..');
const BUNDLE = join(REPO, 'dist/agent.js');
const PREFIX = 'vigil/v1';
const PROFILE = loadProfile('lts2024');
const SERIAL = PROFILE.data.identity.serialNumber;
const topic = (leaf: string) => `${PREFIX}/${SERIAL}/${leaf}`;
const V5 = { MqttVersion: '5' };

interface Message {
  topic: string;
  payload: string;
  retain: boolean;
  properties: Record<string, unknown>;
}

/** An MQTT 5 MQTT.js client that records every message with its properties, and can send commands. */
class V5Observer {
  readonly messages: Message[] = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (t, payload, packet) =>
      this.messages.push({ topic: t, payload: payload.toString('utf8'), retain: packet.retain, properties: (packet.properties ?? {}) as Record<string, unknown> }),
    );
  }

  static async connect(url: string, filters: string[]): Promise<V5Observer> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `test-v5-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    const o = new V5Observer(client);
    await o.client.subscribeAsync(filters, { qos: 1 });
    return o;
  }

  on(t: string): Message[] {
    return this.messages.filter((m) => m.topic === t);
  }

  async waitFor<T>(what: string, predicate: () => T | undefined | null | false, context: () => string, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = predicate();
      if (v) return v;
      if (Date.now() > deadline) {
        const seen = this.messages.map((m) => `${m.topic} ${m.payload.slice(0, 120)}`).join('\n');
        throw new Error(`[vigil] [test] timed out waiting for ${what}; received:\n${seen}\n${context()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  publish(t: string, payload: string, options: IClientPublishOptions): Promise<unknown> {
    return this.client.publishAsync(t, payload, options);
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}

/** One running agent: stop() is the planned shutdown (offline), kill() the crash (the will). */
interface RunningAgent {
  /** What the engine has to say when a wait times out (the native host's stderr). */
  context(): string;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** The first of stop() and kill() ends the agent; a later call (afterEach's kill) waits for that one. */
function ending(a: RunningAgent): RunningAgent {
  let ended: Promise<void> | null = null;
  return { context: a.context, stop: () => (ended ??= a.stop()), kill: () => (ended ??= a.kill()) };
}

interface Engine {
  name: string;
  prepare(): Promise<void>;
  start(broker: Mosquitto, dir: string): Promise<RunningAgent>;
}

const engines: Engine[] = [
  {
    name: 'QuickJS-wasm in the simulator',
    prepare: async () => {
      if (!existsSync(BUNDLE)) await buildAgent();
    },
    start: async (broker, dir) => {
      const camera = await startSimCamera({
        profile: PROFILE,
        bundlePath: BUNDLE,
        broker: { host: broker.host, port: broker.port },
        stateDir: join(dir, 'state'),
        overrides: V5,
        log: silentLogSink,
      });
      expect(camera.started, 'the bundle started in QuickJS').toMatchObject({ ok: true });
      return ending({ context: () => '', stop: () => camera.stop(), kill: () => camera.kill() });
    },
  },
  {
    name: 'the native host on x86_64',
    prepare: async () => {
      if (!existsSync(BUNDLE)) await buildAgent();
      // Only the x86_64 binary is needed here; build.sh is idempotent and quick when out/ is fresh.
      execFileSync('bash', [join(NATIVE, 'build.sh'), 'x86_64'], { cwd: NATIVE, stdio: 'pipe', timeout: 10 * 60_000 });
    },
    start: async (broker, dir) => {
      const target = TARGETS.find((t) => t.arch === 'x86_64')!;
      const vapix = new VapixServer({ profile: PROFILE.data });
      const vapixPort = await vapix.listen();
      const dataDir = join(dir, 'localdata');
      if (PROFILE.localdataDir && existsSync(PROFILE.localdataDir)) cpSync(PROFILE.localdataDir, dataDir, { recursive: true });
      // As agent-e2e.native.test.ts: VAPIX credentials as parameters, since a PC has no system D-Bus.
      const config = buildConfig(PROFILE, { BrokerHost: broker.host, BrokerPort: String(broker.port), VapixHost: vapix.host, VapixPort: String(vapixPort), ...V5 });
      config.VapixUsername = PROFILE.data.vapix.credentials.username;
      config.VapixPassword = PROFILE.data.vapix.credentials.password;
      const configFile = join(dir, 'vigil.conf');
      writeFileSync(configFile, Object.entries(config).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
      // The bundle itself, not out/agent.qjsbc: the same dist/agent.js the simulator runs.
      const agent = startNative(target, ['--stderr', '--no-dbus', '--root', PROFILE.rootfsDir, '--data-dir', dataDir, '--config', configFile, BUNDLE]);
      const end = async (signal: NodeJS.Signals) => {
        try {
          if (agent.process.exitCode === null && agent.process.signalCode === null) agent.process.kill(signal);
          const exit = await agent.exited;
          if (signal === 'SIGTERM') expect(exit, `a clean exit on SIGTERM; stderr:\n${agent.stderr()}`).toEqual({ code: 0, signal: null });
        } finally {
          await vapix.close();
        }
      };
      return ending({
        context: () => `native stderr:\n${agent.stderr()}`,
        stop: () => end('SIGTERM'),
        kill: () => end('SIGKILL'),
      });
    },
  },
];

describe.each(engines)('MQTT 5 end to end, dist/agent.js in $name against Mosquitto', (engine) => {
  let broker: Mosquitto | null = null;
  let observer: V5Observer | null = null;
  let agent: RunningAgent | null = null;
  let dir = '';

  beforeAll(() => engine.prepare(), 10 * 60_000);

  /** A fresh broker, an MQTT 5 observer of everything the camera publishes, and the agent with MqttVersion=5. */
  async function start(): Promise<{ obs: V5Observer; running: RunningAgent; broker: Mosquitto }> {
    dir = mkdtempSync(join(tmpdir(), 'vigil-e2e-mqtt5-'));
    broker = await startMosquitto();
    observer = await V5Observer.connect(broker.url, [`${PREFIX}/#`]);
    agent = await engine.start(broker, dir);
    return { obs: observer, running: agent, broker };
  }

  const online = (obs: V5Observer) => obs.on(topic('state')).find((m) => JSON.parse(m.payload).state === 'online');

  afterEach(async () => {
    // Ends the agent if the test did not; after a stop() or kill() it only waits for that one.
    await agent?.kill().catch(() => undefined);
    agent = null;
    await observer?.close().catch(() => undefined);
    observer = null;
    await broker?.stop();
    broker = null;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = '';
  });

  it('publishes a schema-valid report with payload format indicator, JSON content type and schema/seq/reportId user properties', async () => {
    const { obs, running } = await start();
    const m = await obs.waitFor('the first report', () => obs.on(topic('report'))[0], running.context);
    const report = JSON.parse(m.payload) as { seq: number; reportId: string; deviceId: string };
    assertValidReport(report);
    expect(report.deviceId).toBe(SERIAL);
    expect(m.properties).toMatchObject({
      payloadFormatIndicator: true,
      contentType: 'application/json',
      userProperties: { schema: 'vigil.report/1', seq: String(report.seq), reportId: report.reportId },
    });
  }, 90_000);

  it('leaves the online state retained, with the JSON properties, for a subscriber that comes later', async () => {
    const { obs, running, broker: b } = await start();
    await obs.waitFor('the online state', () => online(obs), running.context);
    const late = await V5Observer.connect(b.url, [topic('state')]);
    try {
      const m = await late.waitFor('the retained state', () => late.on(topic('state'))[0], running.context, 10_000);
      expect(m.retain).toBe(true);
      expect(JSON.parse(m.payload)).toMatchObject({ state: 'online', reason: 'connected', session: 1 });
      expect(m.properties).toMatchObject({ payloadFormatIndicator: true, contentType: 'application/json' });
    } finally {
      await late.close();
    }
  }, 90_000);

  it('answers a command sent with a response topic and correlation data on cmd-result, with the same correlation data', async () => {
    const { obs, running } = await start();
    // The agent subscribes to its commands right after announcing online; wait for a report to be sure.
    await obs.waitFor('the first report', () => obs.on(topic('report'))[0], running.context);
    const correlation = Buffer.from('corr-v5-1');
    await obs.publish(topic('cmd/report-now'), '{}', { qos: 1, properties: { responseTopic: topic('cmd-result'), correlationData: correlation } });
    const m = await obs.waitFor('the cmd-result', () => obs.on(topic('cmd-result'))[0], running.context);
    // With no id in the payload, the correlation data is the request id.
    expect(JSON.parse(m.payload)).toMatchObject({ id: 'corr-v5-1', command: 'report-now', ok: true, result: { queued: true } });
    expect(Buffer.from(m.properties.correlationData as Buffer).toString('utf8')).toBe('corr-v5-1');
    expect(m.properties).toMatchObject({ payloadFormatIndicator: true, contentType: 'application/json' });
  }, 90_000);

  it('publishes the offline state with the JSON properties, and no will, when stopped', async () => {
    const { obs, running } = await start();
    await obs.waitFor('the online state', () => online(obs), running.context);
    await running.stop();
    const m = await obs.waitFor('the offline state', () => obs.on(topic('state')).find((x) => JSON.parse(x.payload).state === 'offline'), running.context, 10_000);
    expect(JSON.parse(m.payload)).toMatchObject({ state: 'offline', reason: 'shutdown', session: 1 });
    expect(m.properties).toMatchObject({ payloadFormatIndicator: true, contentType: 'application/json' });
    expect(obs.on(topic('state')).some((x) => JSON.parse(x.payload).state === 'lost')).toBe(false);
  }, 90_000);

  it('has the broker publish the will, lost with the JSON properties, when killed without a goodbye', async () => {
    const { obs, running } = await start();
    await obs.waitFor('the online state', () => online(obs), running.context);
    await running.kill();
    const m = await obs.waitFor('the will', () => obs.on(topic('state')).find((x) => JSON.parse(x.payload).state === 'lost'), running.context, 10_000);
    expect(JSON.parse(m.payload)).toMatchObject({ state: 'lost', reason: 'connection-lost', session: 1 });
    expect(m.properties).toMatchObject({ payloadFormatIndicator: true, contentType: 'application/json' });
    expect(obs.on(topic('state')).some((x) => JSON.parse(x.payload).state === 'offline')).toBe(false);
  }, 90_000);
});
