// The dashboard on a network address needs accounts; without accounts (loopback) cross-site POSTs are still
// refused; vigil fleet user keeps passwords off the command line (issue 15 item 9).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../test/helpers/broker';
import { call } from '../../test/helpers/http-call';
import { verifyPassword } from '../src/auth/accounts';
import { isLoopback } from '../src/auth/bind-policy';
import { runUser } from '../src/auth/user-command';
import { runFleet } from '../src/cli';
import { startFleet } from '../src/fleet';
import { makeReport } from './fixtures';
import { captureIo } from '../../test/helpers/capture-io';

let broker: EmbeddedBroker;
const dir = mkdtempSync(join(tmpdir(), 'vigil-auth-bind-'));

beforeAll(async () => {
  broker = await startEmbeddedBroker({ port: 0 });
});

afterAll(async () => {
  await broker.close();
});

describe('binding a network address', () => {
  it('vigil fleet --http 0.0.0.0:PORT without --users exits 1 with one line saying what to do', async () => {
    const r = captureIo();
    expect(await runFleet(['--broker', broker.url, '--db', ':memory:', '--http', '0.0.0.0:0'], r.io)).toBe(1);
    const lines = r.err().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[vigil\] \[fleet\] refusing to serve the dashboard on 0\.0\.0\.0:0 without accounts: .*--users FILE/);
  });

  it('serves a network address with accounts, asking for a login', async () => {
    const users = join(dir, 'users.json');
    const r = captureIo('network operator pw\n');
    expect(await runUser(['add', 'nora', '--role', 'operator', '--users', users], r.io)).toBe(0);
    const fleet = await startFleet({ brokerUrl: broker.url, sweepMs: 0, http: { host: '0.0.0.0', port: 0, usersFile: users } });
    try {
      expect((await call(`http://127.0.0.1:${fleet.dashboard!.port}/api/fleet`)).status).toBe(401);
    } finally {
      await fleet.stop();
    }
  });

  it('serves a network address without accounts only with --insecure-no-auth, and warns', async () => {
    const warnings: string[] = [];
    const fleet = await startFleet({ brokerUrl: broker.url, sweepMs: 0, http: { host: '0.0.0.0', port: 0, insecureNoAuth: true }, log: (level, m) => level === 'warn' && warnings.push(m) });
    try {
      expect((await call(`http://127.0.0.1:${fleet.dashboard!.port}/api/fleet`)).status).toBe(200);
      expect(warnings.join('\n')).toMatch(/no accounts \(--insecure-no-auth\)/);
    } finally {
      await fleet.stop();
    }
  });

  it('counts 127.0.0.0/8, ::1 and localhost as loopback, and nothing else', () => {
    expect(['127.0.0.1', '127.3.2.1', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'].map(isLoopback)).toEqual([true, true, true, true, true, true]);
    expect(['0.0.0.0', '::', '10.0.0.1', '192.168.1.5', 'fleet.lan', '128.0.0.1'].map(isLoopback)).toEqual([false, false, false, false, false, false]);
  });
});

describe('a dashboard without accounts (loopback)', () => {
  it('refuses a cross-site POST (a page elsewhere making the browser retire a camera) with 403', async () => {
    const fleet = await startFleet({ brokerUrl: broker.url, sweepMs: 0, http: { host: '127.0.0.1', port: 0 } });
    try {
      await fleet.consumer.ingest('vigil/v1/CAMOPEN1/report', JSON.stringify(makeReport({ serial: 'CAMOPEN1' })));
      const retire = (origin?: string) => call(fleet.url + 'api/cameras/CAMOPEN1/retire', { method: 'POST', headers: origin ? { origin } : {} });
      const a = await retire('http://evil.example');
      expect(a.status).toBe(403);
      expect(a.json().error).toMatch(/^\[vigil\] \[fleet\] a POST from "http:\/\/evil\.example" is not from this dashboard/);
      expect(fleet.consumer.camera('CAMOPEN1')?.retiredAt ?? null).toBeNull();
      // The CLI sends no Origin and the dashboard's own page sends its own: both still work.
      expect((await retire()).status).toBe(200);
      expect((await retire(new URL(fleet.url).origin)).status).toBe(200);
    } finally {
      await fleet.stop();
    }
  });
});

describe('vigil fleet user', () => {
  it('adds a user with the password from standard input, storing only its hash', async () => {
    const users = join(dir, 'stdin-users.json');
    const r = captureIo('from standard input\n');
    expect(await runUser(['add', 'sam', '--role', 'viewer', '--users', users], r.io)).toBe(0);
    expect(r.out()).toBe(`[vigil] [fleet] added sam (viewer) in ${users}\n`);
    const [u] = JSON.parse(readFileSync(users, 'utf8')).users;
    expect(u).toMatchObject({ name: 'sam', role: 'viewer' });
    expect(await verifyPassword('from standard input', u.password)).toBe(true);
    expect(await verifyPassword('from standard inpuT', u.password)).toBe(false);
  });

  it('refuses a password on the command line', async () => {
    const r = captureIo();
    expect(await runUser(['add', 'sam', '--role', 'viewer', '--users', join(dir, 'x.json'), '--password', 'hunter2hunter2'], r.io)).toBe(2);
    expect(r.err()).toMatch(/^\[vigil\] \[fleet\] unknown option --password \(the password comes from VIGIL_FLEET_PASSWORD or standard input\)/);
  });

  it('refuses a password shorter than 10 characters', async () => {
    const r = captureIo('short\n');
    expect(await runUser(['add', 'sam', '--role', 'viewer', '--users', join(dir, 'y.json')], r.io)).toBe(1);
    expect(r.err()).toBe('[vigil] [fleet] the password must have at least 10 characters\n');
  });

  it('refuses to start a dashboard whose users file holds a plain password', async () => {
    const users = join(dir, 'plain.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(users, JSON.stringify({ schema: 'vigil.users/1', users: [{ name: 'pat', role: 'operator', password: 'plaintext-password', createdAt: '2026-12-01T00:00:00Z' }] }));
    await expect(startFleet({ brokerUrl: broker.url, sweepMs: 0, http: { host: '127.0.0.1', port: 0, usersFile: users } })).rejects.toThrow(/password must be a scrypt hash .*never the password itself/);
  });
});
