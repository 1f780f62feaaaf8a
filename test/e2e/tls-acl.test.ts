/**
 * TLS, mutual TLS and the broker ACL against Mosquitto, with a simulated camera (dist/agent.js in
 * QuickJS-wasm; TLS is done by SimHost with node:tls). Certificates, the password file and the ACL file are
 * generated here (openssl, mosquitto_passwd); none are committed. The ACL is read from docs/broker-acl.md
 * (test/helpers/documented-broker.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startSimCamera, type SimCamera } from '../../host-sim/src/camera';
import { memoryLogSink } from '../../host-sim/src/sim-host';
import { loadProfile } from '../../host-sim/src/profiles';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { passwordOf, startAclBroker } from '../helpers/documented-broker';
import { Subscriber } from '../helpers/subscriber';
import { makePki, type TestPki } from '../helpers/certs';
import { buildAgent } from '../../build.mjs';

const BUNDLE = join(__dirname, '../../dist/agent.js');
const PROFILE = 'hardened';
const SERIAL = loadProfile(PROFILE).data.identity.serialNumber;
const DATA = '/usr/local/packages/vigil/localdata';

let pki: TestPki;
let mosquitto: Mosquitto | null = null;
let camera: SimCamera | null = null;
let stateDir = '';
let logs = memoryLogSink();

beforeAll(async () => {
  if (!existsSync(BUNDLE)) await buildAgent();
  pki = makePki();
});

afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

afterEach(async () => {
  await camera?.stop().catch(() => undefined);
  camera = null;
  await mosquitto?.stop();
  mosquitto = null;
  rmSync(stateDir, { recursive: true, force: true });
});

/** Starts the camera with files copied into its data dir (device paths under DATA). */
async function startCamera(port: number, files: Record<string, string>, overrides: Record<string, string>): Promise<SimCamera> {
  stateDir = mkdtempSync(join(tmpdir(), 'vigil-tls-'));
  mkdirSync(stateDir, { recursive: true });
  for (const [name, from] of Object.entries(files)) copyFileSync(from, join(stateDir, name));
  logs = memoryLogSink();
  camera = await startSimCamera({
    profile: PROFILE,
    bundlePath: BUNDLE,
    broker: { host: '127.0.0.1', port },
    stateDir,
    log: logs,
    overrides: { IntervalSec: '1', ReconnectMaxSec: '1', ...overrides },
  });
  return camera;
}

async function waitForLog(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = logs.records.find((r) => pattern.test(r.message));
    if (hit) {
      if (process.env.VIGIL_SHOW_ERRORS) console.log(hit.message);
      return hit.message;
    }
    if (Date.now() > deadline) throw new Error(`no log matching ${pattern}; got:\n${logs.records.map((r) => r.message).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tlsListener(cert: string, key: string, extra: string[] = []): string[] {
  return [`cafile ${pki.caCert}`, `certfile ${cert}`, `keyfile ${key}`, ...extra];
}

describe('TLS against a Mosquitto TLS listener', () => {
  async function tlsBroker(cert = pki.serverCert, key = pki.serverKey, extra: string[] = []): Promise<{ tlsPort: number; plainUrl: string }> {
    // the helper's listener is plain (for the observer); the TLS listener is a second one
    const { freePort } = await import('../helpers/ports');
    const tlsPort = await freePort();
    mosquitto = await startMosquitto({ extraLines: [`listener ${tlsPort} 127.0.0.1`, 'allow_anonymous true', ...tlsListener(cert, key, extra)] });
    return { tlsPort, plainUrl: mosquitto.url };
  }

  it('verifies the broker with the CA file and delivers reports', async () => {
    const { tlsPort, plainUrl } = await tlsBroker();
    const sub = await Subscriber.connect(plainUrl, [`vigil/v1/${SERIAL}/report`]);
    try {
      await startCamera(tlsPort, { 'ca.pem': pki.caCert }, { BrokerTls: 'yes', BrokerCaFile: `${DATA}/ca.pem`, BrokerServerName: 'localhost', BrokerPassword: 'pw-never-logged', BrokerUsername: 'cam' });
      await sub.waitFor('a report over TLS', () => sub.messages.length > 0);
      expect(logs.records.some((r) => r.message.includes('pw-never-logged'))).toBe(false);
    } finally {
      await sub.close();
    }
  });

  it('connects with mutual TLS when the broker requires a client certificate', async () => {
    const { tlsPort, plainUrl } = await tlsBroker(pki.serverCert, pki.serverKey, ['require_certificate true', 'use_identity_as_username true']);
    const client = pki.client(SERIAL);
    const sub = await Subscriber.connect(plainUrl, [`vigil/v1/${SERIAL}/report`]);
    try {
      await startCamera(tlsPort, { 'ca.pem': pki.caCert, 'client.pem': client.cert, 'client.key': client.key }, {
        BrokerTls: 'yes',
        BrokerCaFile: `${DATA}/ca.pem`,
        BrokerCertFile: `${DATA}/client.pem`,
        BrokerKeyFile: `${DATA}/client.key`,
      });
      await sub.waitFor('a report over mutual TLS', () => sub.messages.length > 0);
      const keyText = pki.read(client.key).split('\n')[1];
      expect(logs.records.some((r) => r.message.includes(keyText))).toBe(false);
    } finally {
      await sub.close();
    }
  });

  it('says the certificate is not signed by a trusted CA when BrokerCaFile is another CA', async () => {
    const { tlsPort } = await tlsBroker();
    await startCamera(tlsPort, { 'ca.pem': pki.otherCaCert }, { BrokerTls: 'yes', BrokerCaFile: `${DATA}/ca.pem`, BrokerServerName: 'localhost' });
    const line = await waitForLog(/cannot connect \(ETLS\)/);
    expect(line).toMatch(/TLS: the broker's certificate is not signed by a trusted CA \(BrokerCaFile \/usr\/local\/packages\/vigil\/localdata\/ca.pem\)/);
  });

  it('says the certificate has expired', async () => {
    const { tlsPort } = await tlsBroker(pki.expiredCert, pki.expiredKey);
    await startCamera(tlsPort, { 'ca.pem': pki.caCert }, { BrokerTls: 'yes', BrokerCaFile: `${DATA}/ca.pem`, BrokerServerName: 'localhost' });
    const line = await waitForLog(/cannot connect \(ETLS\)/);
    expect(line).toMatch(/TLS: the broker's certificate has expired or is not yet valid/);
  });

  it('says the certificate is not valid for the server name', async () => {
    const { tlsPort } = await tlsBroker();
    await startCamera(tlsPort, { 'ca.pem': pki.caCert }, { BrokerTls: 'yes', BrokerCaFile: `${DATA}/ca.pem`, BrokerServerName: 'broker.example.com' });
    const line = await waitForLog(/cannot connect \(ETLS\)/);
    expect(line).toMatch(/TLS: the broker's certificate is not valid for "broker.example.com"/);
  });

  it('says the handshake was refused when the broker requires a client certificate and none is configured', async () => {
    const { tlsPort } = await tlsBroker(pki.serverCert, pki.serverKey, ['require_certificate true']);
    await startCamera(tlsPort, { 'ca.pem': pki.caCert }, { BrokerTls: 'yes', BrokerCaFile: `${DATA}/ca.pem`, BrokerServerName: 'localhost' });
    const line = await waitForLog(/cannot connect \((ETLS|ECONNRESET|ECLOSED)\)/);
    expect(line).toMatch(/client certificate|closed the connection|reset/);
  });
});

describe('the broker ACL (docs/broker-acl.md) on Mosquitto', () => {
  // The ACL file is docs/broker-acl.md's own block, with its per-instance fleet users (fleet-1, fleet-2, fleet-status).
  async function aclBroker(): Promise<void> {
    mosquitto = await startAclBroker([SERIAL, 'ACCC8E999999']);
  }

  const fleetClient = () => mqtt.connectAsync((mosquitto as Mosquitto).url, { username: 'fleet-1', password: passwordOf('fleet-1'), reconnectPeriod: 0 });

  it('lets a camera publish under its own serial, and the fleet command it', async () => {
    await aclBroker();
    const fleet = await fleetClient();
    const got: Array<{ topic: string; payload: string }> = [];
    fleet.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
    await fleet.subscribeAsync('vigil/v1/#', { qos: 1 });
    try {
      await startCamera((mosquitto as Mosquitto).port, {}, { BrokerUsername: SERIAL, BrokerPassword: passwordOf(SERIAL) });
      const until = async (what: string, f: () => boolean) => {
        const deadline = Date.now() + 15_000;
        while (!f()) {
          if (Date.now() > deadline) throw new Error(`no ${what}: ${JSON.stringify(got.map((g) => g.topic))}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await until('report', () => got.some((g) => g.topic === `vigil/v1/${SERIAL}/report`));
      await fleet.publishAsync(`vigil/v1/${SERIAL}/cmd/rebirth`, '{"id":"acl-1"}', { qos: 1 });
      await until('command result', () => got.some((g) => g.topic === `vigil/v1/${SERIAL}/cmd-result`));
      expect(JSON.parse(got.find((g) => g.topic.endsWith('/cmd-result'))?.payload ?? '{}')).toMatchObject({ id: 'acl-1', ok: true });
    } finally {
      await fleet.endAsync(true);
    }
  });

  it('drops what a camera publishes for another serial or on its own command topics, even with a spoofed client id', async () => {
    await aclBroker();
    const fleet = await fleetClient();
    const got: string[] = [];
    fleet.on('message', (topic) => got.push(topic));
    await fleet.subscribeAsync('vigil/v1/#', { qos: 1 });
    // a camera's credentials, claiming the other camera's client id
    const cam = await mqtt.connectAsync((mosquitto as Mosquitto).url, { username: SERIAL, password: passwordOf(SERIAL), clientId: 'ACCC8E999999', reconnectPeriod: 0 });
    try {
      await cam.publishAsync('vigil/v1/ACCC8E999999/report', '{"forged":true}', { qos: 1 });
      await cam.publishAsync(`vigil/v1/${SERIAL}/cmd/rebaseline`, '{"id":"self"}', { qos: 1 });
      await cam.publishAsync(`vigil/v1/${SERIAL}/report`, '{"sentinel":true}', { qos: 1 });
      const deadline = Date.now() + 5000;
      while (!got.includes(`vigil/v1/${SERIAL}/report`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(got).toEqual([`vigil/v1/${SERIAL}/report`]);
    } finally {
      await cam.endAsync(true);
      await fleet.endAsync(true);
    }
  });

  it('refuses a camera with a wrong password, and the agent logs it once', async () => {
    await aclBroker();
    await startCamera((mosquitto as Mosquitto).port, {}, { BrokerUsername: SERIAL, BrokerPassword: 'wrong-secret' });
    const line = await waitForLog(/refused the connection/);
    expect(line).toMatch(/not authorized \(CONNACK 5\)|bad user name or password \(CONNACK 4\)/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(logs.records.filter((r) => /refused the connection/.test(r.message))).toHaveLength(1);
    expect(logs.records.some((r) => r.message.includes('wrong-secret'))).toBe(false);
  });
});
