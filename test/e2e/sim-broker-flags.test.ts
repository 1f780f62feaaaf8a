/**
 * `vigil sim` against a TLS broker and a broker with passwords, as a user runs it (issue 15: `vigil sim --broker
 * mqtts://…` with --ca/--cert/--key; credentials from a file or the environment, never only in the URL): the real
 * CLI, a real Mosquitto, certificates made by openssl at test time. A file that cannot be used ends the start with
 * one line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadProfile } from '../../host-sim/src/profiles';
import { cliRig } from '../helpers/cli-rig';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { Subscriber } from '../helpers/subscriber';
import { runVigil } from '../helpers/vigil-cli';

const PROFILE = 'hardened';
const SERIAL = loadProfile(PROFILE).data.identity.serialNumber;

const rig = cliRig('sim-broker');
let sub: Subscriber | null = null;

// Registered after the rig's: runs first, so the subscriber leaves before its broker stops.
afterEach(async () => {
  await sub?.close();
  sub = null;
});

const sim = (args: string[], env?: NodeJS.ProcessEnv) => (rig.run = runVigil(['sim', '--profile', PROFILE, '--interval', '2', ...args], { env }));

describe('vigil sim with an mqtts:// broker', () => {
  it('reports over mutual TLS with --ca, --cert and --key', async () => {
    const tlsPort = await rig.tlsBroker({ extra: ['require_certificate true'] });
    sub = await Subscriber.connect((rig.mosquitto as Mosquitto).url, [`vigil/v1/${SERIAL}/report`]);
    const client = rig.pki.client(SERIAL);
    const r = sim(['--broker', `mqtts://localhost:${tlsPort}`, '--ca', rig.pki.caCert, '--cert', client.cert, '--key', client.key]);
    const s = sub;
    await s.waitFor('a report over mutual TLS', () => s.messages.length > 0, 120_000);
    const keyLine = rig.pki.read(client.key).split('\n')[1];
    expect(r.stdout() + r.stderr()).not.toContain(keyLine);
  }, 180_000);

  it('exits 2 with one line when the --ca file cannot be read', async () => {
    const missing = join(rig.dir, 'no-such-ca.pem');
    const r = sim(['--broker', 'mqtts://localhost:8883', '--ca', missing]);
    expect(await r.exited()).toBe(2);
    expect(r.errLines()).toEqual([`[vigil] [sim] cannot read --ca ${missing}: ENOENT`]);
  }, 60_000);

  it('exits 2 with one line when --cert and --key are not a certificate and key', async () => {
    const bad = join(rig.dir, 'bad.pem');
    writeFileSync(bad, 'not a certificate\n');
    const r = sim(['--broker', 'mqtts://localhost:8883', '--ca', rig.pki.caCert, '--cert', bad, '--key', bad]);
    expect(await r.exited()).toBe(2);
    expect(r.errLines()).toEqual([`[vigil] [sim] --cert ${bad} and --key ${bad} are not a usable PEM certificate and key: PEM routines::no start line`]);
  }, 60_000);
});

describe('vigil sim broker credentials', () => {
  async function passwordBroker(): Promise<void> {
    const passwd = join(rig.dir, 'passwd');
    execFileSync('mosquitto_passwd', ['-c', '-b', passwd, SERIAL, 'cam-secret']);
    execFileSync('mosquitto_passwd', ['-b', passwd, 'watcher', 'watcher-secret']);
    rig.mosquitto = await startMosquitto({ extraListenerLines: ['allow_anonymous false', `password_file ${passwd}`] });
    sub = await Subscriber.connect(`mqtt://watcher:watcher-secret@127.0.0.1:${(rig.mosquitto as Mosquitto).port}`, [`vigil/v1/${SERIAL}/report`]);
  }

  it('logs in with --username and --password-file and never prints the password', async () => {
    await passwordBroker();
    const file = join(rig.dir, 'password');
    writeFileSync(file, 'cam-secret\n');
    const r = sim(['--broker', (rig.mosquitto as Mosquitto).url, '--username', SERIAL, '--password-file', file]);
    const s = sub as Subscriber;
    await s.waitFor('a report with the password from the file', () => s.messages.length > 0, 120_000);
    expect(r.stdout() + r.stderr()).not.toContain('cam-secret');
  }, 180_000);

  it('logs in with VIGIL_BROKER_USERNAME and VIGIL_BROKER_PASSWORD', async () => {
    await passwordBroker();
    const r = sim(['--broker', (rig.mosquitto as Mosquitto).url], { VIGIL_BROKER_USERNAME: SERIAL, VIGIL_BROKER_PASSWORD: 'cam-secret' });
    const s = sub as Subscriber;
    await s.waitFor('a report with the password from the environment', () => s.messages.length > 0, 120_000);
    expect(r.stdout() + r.stderr()).not.toContain('cam-secret');
  }, 180_000);
});
