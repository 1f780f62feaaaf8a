/**
 * `vigil fleet` at start, as a process manager sees it (issue 15 item 7): a broker that is down is waited for
 * with capped exponential backoff (one line per attempt, with the next delay) and consumed once it is up; a
 * TLS or credentials misconfiguration ends the process with exit code 1 and one line. The real CLI, a real
 * Mosquitto (plain, TLS, with a password file), certificates made by openssl at test time.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { cliRig } from '../helpers/cli-rig';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { freePort } from '../helpers/ports';
import { runVigil, type VigilRun } from '../helpers/vigil-cli';

const rig = cliRig('start');

const fleet = (args: string[], env?: NodeJS.ProcessEnv) => (rig.run = runVigil(['fleet', '--db', ':memory:', '--http', 'off', ...args], { env }));

/** stderr without the consumer's info lines: what a fatal start must reduce to one line. */
const problems = (r: VigilRun) => r.errLines().filter((l) => !l.startsWith('[vigil] [fleet] info: '));

describe('vigil fleet with a broker that is down at start', () => {
  it('retries with a doubling delay, one line per attempt, and consumes once the broker is up', async () => {
    const port = await freePort();
    const r = fleet(['--broker', `mqtt://127.0.0.1:${port}`]);
    await r.waitForOutput(/attempt 3, retrying in 4 s/);
    const attempts = r.errLines().filter((l) => l.includes('cannot reach'));
    expect(attempts.slice(0, 3)).toEqual([1, 2, 4].map((s, i) =>
      `[vigil] [fleet] warn: cannot reach mqtt://127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port}); attempt ${i + 1}, retrying in ${s} s`));
    // nothing else is said per attempt (before the fix: an error line and a "reconnecting" line every second)
    expect(r.errLines().filter((l) => !l.includes('cannot reach') && !l.startsWith('[vigil] [fleet] info: alerts'))).toEqual([]);
    rig.mosquitto = await startMosquitto({ port });
    await r.waitForOutput(/\[vigil\] \[fleet\] consuming mqtt:\/\/127\.0\.0\.1:\d+/, 120_000);
    expect(r.stderr()).toContain(`[vigil] [fleet] info: connected to mqtt://127.0.0.1:${port}`);
    await r.stop();
    expect(r.child.exitCode).toBe(0);
  }, 180_000);
});

describe('vigil fleet stopped while it waits for the broker', () => {
  it('exits 0 with one line on SIGTERM, as a process manager stops it, instead of dying by the signal', async () => {
    const port = await freePort();
    const r = fleet(['--broker', `mqtt://127.0.0.1:${port}`]);
    await r.waitForOutput(/attempt 1, retrying in 1 s/);
    r.child.kill('SIGTERM');
    expect(await r.exited(60_000)).toBe(0);
    expect(problems(r).filter((l) => !l.includes('cannot reach'))).toEqual([`[vigil] [fleet] stopped before mqtt://127.0.0.1:${port} could be reached`]);
  }, 120_000);
});

describe('vigil fleet with its --http port in use', () => {
  it('exits 1 with one line at once, though the broker is down too', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const httpPort = (server.address() as AddressInfo).port;
    try {
      const r = (rig.run = runVigil(['fleet', '--db', ':memory:', '--http', `127.0.0.1:${httpPort}`, '--broker', `mqtt://127.0.0.1:${await freePort()}`]));
      expect(await r.exited()).toBe(1);
      expect(problems(r)).toEqual([`[vigil] [fleet] cannot serve the dashboard on 127.0.0.1:${httpPort}: the port is in use; choose another with --http`]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  }, 60_000);
});

describe('vigil fleet with a TLS misconfiguration at start', () => {
  it('exits 1 with one line when the broker certificate is not signed by the --ca given', async () => {
    const port = await rig.tlsBroker();
    const r = fleet(['--broker', `mqtts://127.0.0.1:${port}`, '--ca', rig.pki.otherCaCert]);
    expect(await r.exited()).toBe(1);
    expect(problems(r)).toEqual([expect.stringMatching(
      new RegExp(`^\\[vigil\\] \\[fleet\\] cannot connect to mqtts://127\\.0\\.0\\.1:${port}: TLS: the broker's certificate is not signed by a trusted CA \\([A-Z_]+\\); give its CA with --ca$`),
    )]);
  }, 120_000);

  it('exits 1 with one line when the broker certificate is for another host name', async () => {
    // a certificate from the right CA, but for CN=elsewhere.example and no subject alternative names
    const other = rig.pki.client('elsewhere.example');
    const port = await rig.tlsBroker({ cert: other.cert, key: other.key });
    const r = fleet(['--broker', `mqtts://127.0.0.1:${port}`, '--ca', rig.pki.caCert]);
    expect(await r.exited()).toBe(1);
    expect(problems(r)).toEqual([expect.stringMatching(/^\[vigil\] \[fleet\] cannot connect to mqtts:\/\/127\.0\.0\.1:\d+: TLS: the broker's certificate is not valid for this host name/)]);
  }, 120_000);

  it('exits 1 with one line when --cert and --key are not a certificate and key', async () => {
    const bad = join(rig.dir, 'not-a-cert.pem');
    writeFileSync(bad, 'not a certificate\n');
    const r = fleet(['--broker', 'mqtts://127.0.0.1:8883', '--cert', bad, '--key', bad]);
    expect(await r.exited()).toBe(1);
    expect(problems(r)).toEqual([`[vigil] [fleet] --cert ${bad} and --key ${bad} are not a usable PEM certificate and key: PEM routines::no start line`]);
  }, 60_000);

  it('exits 1 with one line when the --ca file cannot be read', async () => {
    const missing = join(rig.dir, 'no-such-ca.pem');
    const r = fleet(['--broker', 'mqtts://127.0.0.1:8883', '--ca', missing]);
    expect(await r.exited()).toBe(1);
    expect(problems(r)).toEqual([`[vigil] [fleet] cannot read --ca ${missing}: ENOENT`]);
  }, 60_000);

  it('connects with --ca, --cert and --key to a broker that requires a client certificate', async () => {
    const client = rig.pki.client('fleet');
    const port = await rig.tlsBroker({ extra: ['require_certificate true'] });
    const r = fleet(['--broker', `mqtts://localhost:${port}`, '--ca', rig.pki.caCert, '--cert', client.cert, '--key', client.key]);
    await r.waitForOutput(/\[vigil\] \[fleet\] consuming mqtts:\/\/localhost:\d+/);
  }, 120_000);
});

describe('vigil fleet broker credentials', () => {
  async function passwordBroker(): Promise<void> {
    const passwd = join(rig.dir, 'passwd');
    execFileSync('mosquitto_passwd', ['-c', '-b', passwd, 'fleet', 'fleet-secret']);
    rig.mosquitto = await startMosquitto({ extraListenerLines: ['allow_anonymous false', `password_file ${passwd}`] });
  }

  it('takes the password from --password-file and never prints it', async () => {
    await passwordBroker();
    const file = join(rig.dir, 'password');
    writeFileSync(file, 'fleet-secret\n');
    const r = fleet(['--broker', (rig.mosquitto as Mosquitto).url, '--username', 'fleet', '--password-file', file]);
    await r.waitForOutput(/\[vigil\] \[fleet\] consuming/);
    expect(r.stdout() + r.stderr()).not.toContain('fleet-secret');
  }, 60_000);

  it('takes the user and password from VIGIL_BROKER_USERNAME and VIGIL_BROKER_PASSWORD', async () => {
    await passwordBroker();
    const r = fleet(['--broker', (rig.mosquitto as Mosquitto).url], { VIGIL_BROKER_USERNAME: 'fleet', VIGIL_BROKER_PASSWORD: 'fleet-secret' });
    await r.waitForOutput(/\[vigil\] \[fleet\] consuming/);
    expect(r.stdout() + r.stderr()).not.toContain('fleet-secret');
  }, 60_000);

  it('accepts credentials in the URL and logs the URL without them', async () => {
    await passwordBroker();
    const m = rig.mosquitto as Mosquitto;
    const r = fleet(['--broker', `mqtt://fleet:fleet-secret@127.0.0.1:${m.port}`]);
    await r.waitForOutput(/\[vigil\] \[fleet\] consuming/);
    expect(r.stdout()).toContain(`[vigil] [fleet] consuming mqtt://127.0.0.1:${m.port}`);
    expect(r.stdout() + r.stderr()).not.toContain('fleet-secret');
  }, 60_000);

  it('exits 1 with one line, without the password, when the broker refuses the credentials', async () => {
    await passwordBroker();
    const r = fleet(['--broker', (rig.mosquitto as Mosquitto).url], { VIGIL_BROKER_USERNAME: 'fleet', VIGIL_BROKER_PASSWORD: 'wrong-secret' });
    expect(await r.exited()).toBe(1);
    expect(problems(r)).toEqual([expect.stringMatching(/^\[vigil\] \[fleet\] cannot connect to mqtt:\/\/127\.0\.0\.1:\d+: the broker refused the connection: .*\(CONNACK [45]\); check the user name and password$/)]);
    expect(r.stdout() + r.stderr()).not.toContain('wrong-secret');
  }, 60_000);
});

describe('vigil status with a broker that is down', () => {
  it('exits 1 with one line at once (a one-shot does not wait for the broker)', async () => {
    const port = await freePort();
    const r = (rig.run = runVigil(['status', '--broker', `mqtt://127.0.0.1:${port}`]));
    expect(await r.exited()).toBe(1);
    expect(r.errLines()).toEqual([`[vigil] [fleet] cannot connect to mqtt://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`]);
  }, 60_000);
});
