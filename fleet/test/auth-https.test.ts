// The dashboard over HTTPS (--https-cert/--https-key), with test certificates made by openssl (issue 15 item 9).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../test/helpers/broker';
import { makePki, type TestPki } from '../../test/helpers/certs';
import { call } from '../../test/helpers/http-call';
import { runUser } from '../src/auth/user-command';
import { startFleet, type Fleet } from '../src/fleet';

let broker: EmbeddedBroker;
let pki: TestPki;
let fleet: Fleet;
let users: string;

beforeAll(async () => {
  pki = makePki();
  users = join(mkdtempSync(join(tmpdir(), 'vigil-auth-https-')), 'users.json');
  const input = new PassThrough();
  input.end('a long operator password\n');
  const sink = new PassThrough().resume();
  expect(await runUser(['add', 'olga', '--role', 'operator', '--users', users], { out: sink, err: sink, input, env: {} })).toBe(0);
  broker = await startEmbeddedBroker({ port: 0 });
  fleet = await startFleet({ brokerUrl: broker.url, sweepMs: 0, http: { host: '127.0.0.1', port: 0, usersFile: users, tls: { certFile: pki.serverCert, keyFile: pki.serverKey } } });
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  await broker?.close();
});

describe('the dashboard over HTTPS', () => {
  it('serves the login page with the given certificate, verified against its CA', async () => {
    expect(fleet.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const a = await call(fleet.url + 'login', { ca: pki.read(pki.caCert) });
    expect(a.status).toBe(200);
    expect(a.body).toContain('<form method="post" action="/login">');
  });

  it('marks the session cookie Secure', async () => {
    const a = await call(fleet.url + 'login', {
      method: 'POST', ca: pki.read(pki.caCert), headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'olga', password: 'a long operator password' }),
    });
    expect(a.status).toBe(200);
    expect(String(a.headers['set-cookie'])).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
  });

  it('checks the Origin of a POST against https://', async () => {
    const host = new URL(fleet.url).host;
    const a = await call(fleet.url + 'logout', { method: 'POST', ca: pki.read(pki.caCert), headers: { origin: `http://${host}` } });
    expect(a.status).toBe(403);
  });

  it('refuses to start when the certificate file cannot be read, in one line', async () => {
    await expect(startFleet({ brokerUrl: broker.url, sweepMs: 0, http: { host: '127.0.0.1', port: 0, tls: { certFile: join(pki.dir, 'missing.pem'), keyFile: pki.serverKey } } }))
      .rejects.toThrow(/^\[vigil\] \[fleet\] cannot read the HTTPS certificate .*missing\.pem: ENOENT/);
  });

  it('refuses to start with a key that is not PEM, saying so', async () => {
    await expect(startFleet({ brokerUrl: broker.url, sweepMs: 0, http: { host: '127.0.0.1', port: 0, tls: { certFile: pki.serverCert, keyFile: pki.caCert } } }))
      .rejects.toThrow(/^\[vigil\] \[fleet\] cannot serve HTTPS with the given certificate and key/);
  });
});
