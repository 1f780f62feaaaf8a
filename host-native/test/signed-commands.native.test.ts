// Signed commands on the native agent (the packaged bytecode, mbedTLS's ECDSA P-256 behind host.crypto.verifyP256),
// against a simulated camera's VAPIX and a real Mosquitto, signed by the fleet's own signer: a signed set-interval
// runs; unsigned it is EPERM, with intervalSec changed after signing ESIGNATURE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import mqtt from 'mqtt';
import { loadProfile } from '../../host-sim/src/profiles';
import { buildConfig } from '../../host-sim/src/sim-host';
import { VapixServer } from '../../host-sim/src/vapix-server';
import { createCommandSigner } from '../../fleet/src/command-signing';
import { startMosquitto } from '../../test/helpers/mosquitto';
import { Subscriber } from '../../test/helpers/subscriber';
import { testCommandKey } from '../../test/helpers/command-keys';
import { BUILD_TIMEOUT_MS, NATIVE, TARGETS, ensureBuilt, startNative, tempDir } from './helpers';

const PREFIX = 'vigil/v1';
const profile = loadProfile('active-12');
const serial = profile.data.identity.serialNumber;
const key = testCommandKey();
const sign = createCommandSigner(key.privateKeyPem);

describe('signed commands on the native agent', () => {
  const tmp = tempDir('signed-commands');
  beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
  afterAll(() => tmp.cleanup());

  for (const target of TARGETS) {
    it(`runs a signed set-interval and refuses it unsigned or altered ${target.label}`, async () => {
      const broker = await startMosquitto();
      const sub = await Subscriber.connect(broker.url, [`${PREFIX}/#`]);
      const pub = await mqtt.connectAsync(broker.url, { clientId: `fleet-${target.arch}`, reconnectPeriod: 0 });
      const vapix = new VapixServer({ profile: profile.data });
      const vapixPort = await vapix.listen();
      const dir = path.join(tmp.dir, target.arch);
      const config = buildConfig(profile, { BrokerHost: broker.host, BrokerPort: String(broker.port), VapixHost: vapix.host, VapixPort: String(vapixPort), CommandKey: key.publicKey });
      config.VapixUsername = profile.data.vapix.credentials.username;
      config.VapixPassword = profile.data.vapix.credentials.password;
      const configFile = `${dir}.conf`;
      writeFileSync(configFile, Object.entries(config).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
      const agent = startNative(target, ['--stderr', '--no-dbus', '--root', profile.rootfsDir, '--data-dir', path.join(dir, 'localdata'), '--config', configFile, path.join(NATIVE, 'out/agent.qjsbc')]);
      const result = (id: string) =>
        sub.waitFor(`the answer to ${id}; the agent's log:\n${agent.stderr()}`, () => (sub.json(`${PREFIX}/${serial}/cmd-result`) as Array<Record<string, unknown>>).find((r) => r.id === id), 30_000);
      try {
        await sub.waitFor(`a report; the agent's log:\n${agent.stderr()}`, () => sub.json(`${PREFIX}/${serial}/report`).length > 0, 60_000);
        const topic = `${PREFIX}/${serial}/cmd/set-interval`;
        await pub.publishAsync(topic, '{"id":"n-unsigned","intervalSec":60}', { qos: 1 });
        expect(await result('n-unsigned')).toMatchObject({ ok: false, code: 'EPERM' });
        await pub.publishAsync(topic, JSON.stringify({ ...sign(serial, 'set-interval', { id: 'n-altered', intervalSec: 60 }), intervalSec: 3600 }), { qos: 1 });
        expect(await result('n-altered')).toMatchObject({ ok: false, code: 'ESIGNATURE' });
        await pub.publishAsync(topic, JSON.stringify(sign(serial, 'set-interval', { id: 'n-signed', intervalSec: 60 })), { qos: 1 });
        expect(await result('n-signed')).toMatchObject({ ok: true, result: { intervalSec: 60 } });
      } finally {
        agent.process.kill('SIGKILL');
        await pub.endAsync(true);
        await vapix.close();
        await sub.close();
        await broker.stop();
      }
    }, 120_000);
  }
});
