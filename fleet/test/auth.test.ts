// Dashboard accounts, sessions, roles, CSRF and the audited operator commands (issue 15 item 9), on the real
// server on loopback and a real Mosquitto. The sessions' clock is the test's, so expiry needs no waiting.
import mqtt, { type MqttClient } from 'mqtt';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, cookieOf, type Answer } from '../../test/helpers/http-call';
import { startMosquitto, type Mosquitto } from '../../test/helpers/mosquitto';
import { waitUntil } from '../../test/helpers/wait';
import { runUser } from '../src/auth/user-command';
import { runRetire } from '../src/retire-command';
import { startFleet, type Fleet } from '../src/fleet';
import { makeReport } from './fixtures';

const SERIAL = 'CAMAUTH1';
const PASSWORDS = { alice: 'correct horse battery', victor: 'viewer password 1' };
let dir: string;
let broker: Mosquitto;
let fleet: Fleet;
let pub: MqttClient;
let clock = Date.parse('2026-12-01T12:00:00Z');
const IDLE_MS = 30 * 60_000;
const ABSOLUTE_MS = 8 * 3_600_000;
const signed: string[] = [];

async function addUser(name: string, role: string, password: string, users: string): Promise<number> {
  const input = new PassThrough();
  input.end(password + '\n');
  const sink = new PassThrough().resume();
  return runUser(['add', name, '--role', role, '--users', users], { out: sink, err: sink, input, env: {} });
}

const origin = () => new URL(fleet.url).origin;
const url = (path: string) => fleet.url + path.replace(/^\//, '');

async function login(name: string, password: string): Promise<{ answer: Answer; cookie: string; csrf: string }> {
  const answer = await call(url('/login'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) });
  return { answer, cookie: cookieOf(answer), csrf: answer.status === 200 ? answer.json().csrf : '' };
}

/** A POST as the dashboard's page sends it: the session cookie, the CSRF token, this dashboard's Origin. */
const post = (path: string, s: { cookie: string; csrf?: string }, headers: Record<string, string> = {}) =>
  call(url(path), { method: 'POST', headers: { cookie: s.cookie, origin: origin(), 'content-type': 'application/json', ...(s.csrf ? { 'x-csrf-token': s.csrf } : {}), ...headers }, body: '{}' });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-auth-'));
  const users = join(dir, 'users.json');
  expect(await addUser('alice', 'operator', PASSWORDS.alice, users)).toBe(0);
  expect(await addUser('victor', 'viewer', PASSWORDS.victor, users)).toBe(0);
  broker = await startMosquitto();
  fleet = await startFleet({
    brokerUrl: broker.url, sweepMs: 0, auditLog: join(dir, 'audit.jsonl'),
    http: { host: '127.0.0.1', port: 0, usersFile: users, maxLoginFailures: 5, sessions: { idleMs: IDLE_MS, absoluteMs: ABSOLUTE_MS, now: () => clock } },
    signCommand: (serial, name, body) => {
      signed.push(`${serial}/${name}`);
      return { ...body, sig: `test-signature-of-${serial}-${name}` };
    },
  });
  pub = await mqtt.connectAsync(broker.url, { clientId: 'test-auth-pub', reconnectPeriod: 0 });
  await pub.publishAsync(`vigil/v1/${SERIAL}/report`, JSON.stringify(makeReport({ serial: SERIAL })), { qos: 1, retain: true });
  await waitUntil('the camera', () => fleet.consumer.camera(SERIAL) !== null, { timeoutMs: 20_000 });
});

afterAll(async () => {
  await pub?.endAsync();
  await fleet?.stop();
  await broker?.stop();
});

describe('accounts', () => {
  it('keeps only a salted scrypt hash of each password in an owner-only file, never the password itself', () => {
    const file = join(dir, 'users.json');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(PASSWORDS.alice);
    expect(text).not.toContain(PASSWORDS.victor);
    const hashes = JSON.parse(text).users.map((u: { password: string }) => u.password);
    for (const h of hashes) expect(h).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(hashes[0].split('$')[4]).not.toBe(hashes[1].split('$')[4]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses a wrong password with 401 and no session cookie', async () => {
    const { answer } = await login('alice', 'not her password');
    expect(answer.status).toBe(401);
    expect(answer.json().error).toBe('[vigil] [fleet] wrong user name or password');
    expect(answer.headers['set-cookie']).toBeUndefined();
  });

  it('refuses an unknown user exactly as a wrong password', async () => {
    const { answer } = await login('mallory', 'whatever password');
    expect([answer.status, answer.json().error]).toEqual([401, '[vigil] [fleet] wrong user name or password']);
  });
});

describe('without a session', () => {
  it('sends a page to the login form, keeping where it was going', async () => {
    const a = await call(url('/camera/' + SERIAL));
    expect(a.status).toBe(303);
    expect(a.headers.location).toBe(`/login?next=${encodeURIComponent('/camera/' + SERIAL)}`);
  });

  it('answers the JSON API, the live updates and /metrics with 401 in the API error style', async () => {
    for (const path of ['/api/fleet', `/api/cameras/${SERIAL}`, '/api/events', '/metrics', '/api/audit']) {
      const a = await call(url(path));
      expect(a.status, path).toBe(401);
      expect(a.json().error, path).toMatch(/^\[vigil\] \[fleet\] log in first/);
    }
  });

  it('still serves the login page, the static files and /healthz', async () => {
    for (const path of ['/login', '/static/style.css', '/static/common.js', '/healthz']) expect((await call(url(path))).status, path).toBe(200);
  });
});

describe('sessions', () => {
  it('logs in with the form and sets an HttpOnly, SameSite=Strict cookie with a random 32-byte id', async () => {
    const a = await call(url('/login'), {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: origin() },
      body: new URLSearchParams({ name: 'victor', password: PASSWORDS.victor, next: '/cameras' }).toString(),
    });
    expect(a.status).toBe(303);
    expect(a.headers.location).toBe('/cameras');
    const set = String(a.headers['set-cookie']);
    expect(set).toMatch(/^vigil_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=28800$/);
    expect((await call(url('/api/fleet'), { headers: { cookie: cookieOf(a) } })).status).toBe(200);
  });

  it('does not follow a login form to another site', async () => {
    const a = await call(url('/login'), {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: origin() },
      body: new URLSearchParams({ name: 'victor', password: PASSWORDS.victor, next: '//evil.example/' }).toString(),
    });
    expect([a.status, a.headers.location]).toEqual([303, '/']);
  });

  it('ends a session idle for longer than the idle expiry', async () => {
    const s = await login('victor', PASSWORDS.victor);
    clock += IDLE_MS - 1000;
    expect((await call(url('/api/fleet'), { headers: { cookie: s.cookie } })).status).toBe(200);
    clock += IDLE_MS + 1000;
    expect((await call(url('/api/fleet'), { headers: { cookie: s.cookie } })).status).toBe(401);
  });

  it('ends a session at its absolute expiry however busy it is', async () => {
    const s = await login('victor', PASSWORDS.victor);
    // A request every 15 minutes keeps it from going idle, for 8 hours...
    for (let elapsed = IDLE_MS / 2; elapsed <= ABSOLUTE_MS; elapsed += IDLE_MS / 2) {
      clock += IDLE_MS / 2;
      expect((await call(url('/api/fleet'), { headers: { cookie: s.cookie } })).status, `after ${elapsed / 60_000} min`).toBe(200);
    }
    // ...and not a minute longer.
    clock += 60_000;
    expect((await call(url('/api/fleet'), { headers: { cookie: s.cookie } })).status).toBe(401);
  });

  it('ends the session at logout', async () => {
    const s = await login('victor', PASSWORDS.victor);
    const out = await post('/logout', s);
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie'])).toMatch(/^vigil_session=; .*Max-Age=0/);
    expect((await call(url('/api/fleet'), { headers: { cookie: s.cookie } })).status).toBe(401);
  });

  it('cuts the session\'s open live-update stream at logout', async () => {
    const s = await login('victor', PASSWORDS.victor);
    let first = '';
    const closed = new Promise<void>((resolve, reject) => {
      const req = request(url('/api/events'), { headers: { cookie: s.cookie } }, (res) => {
        expect(res.statusCode).toBe(200);
        res.setEncoding('utf8');
        res.on('data', (d) => (first += d));
        res.on('close', () => resolve());
        res.on('error', () => resolve());
      });
      req.on('error', (err) => (first ? resolve() : reject(err)));
      req.end();
    });
    await waitUntil('the first live update', () => first.includes('event: counts'), { timeoutMs: 20_000 });
    expect((await post('/logout', s)).status).toBe(200);
    await closed;
  });

  it('tells the page who is logged in and its CSRF token', async () => {
    const s = await login('alice', PASSWORDS.alice);
    expect((await call(url('/api/session'), { headers: { cookie: s.cookie } })).json()).toEqual({ auth: true, user: 'alice', role: 'operator', csrf: s.csrf });
  });
});

describe('roles', () => {
  it('lets a viewer read the fleet and a camera', async () => {
    const s = await login('victor', PASSWORDS.victor);
    for (const path of ['/api/fleet', `/api/cameras/${SERIAL}`, '/cameras', `/camera/${SERIAL}`]) expect((await call(url(path), { headers: { cookie: s.cookie } })).status, path).toBe(200);
  });

  it('refuses a viewer\'s command, retire and audit read with 403', async () => {
    const s = await login('victor', PASSWORDS.victor);
    for (const path of [`/api/cameras/${SERIAL}/command/report-now`, `/api/cameras/${SERIAL}/retire`]) {
      const a = await post(path, s);
      expect(a.status, path).toBe(403);
      expect(a.json().error, path).toMatch(/^\[vigil\] \[fleet\] POST .* needs the operator role; this account is a viewer$/);
    }
    expect((await call(url('/api/audit'), { headers: { cookie: s.cookie } })).status).toBe(403);
    expect(fleet.consumer.camera(SERIAL)?.retiredAt ?? null).toBeNull();
  });

  it('accepts Authorization: Basic for scripts, and refuses a wrong one with 401', async () => {
    const basic = (name: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${name}:${pw}`).toString('base64')}` });
    expect((await call(url('/metrics'), { headers: basic('victor', PASSWORDS.victor) })).status).toBe(200);
    expect((await call(url('/metrics'), { headers: basic('victor', 'wrong password!') })).status).toBe(401);
  });
});

describe('CSRF', () => {
  it('refuses an operator\'s POST without the CSRF token with 403', async () => {
    const s = await login('alice', PASSWORDS.alice);
    const a = await post(`/api/cameras/${SERIAL}/command/report-now`, { cookie: s.cookie });
    expect(a.status).toBe(403);
    expect(a.json().error).toMatch(/CSRF token in the X-CSRF-Token header/);
  });

  it('refuses an operator\'s POST with another session\'s CSRF token with 403', async () => {
    const s = await login('alice', PASSWORDS.alice);
    const other = await login('alice', PASSWORDS.alice);
    expect((await post(`/api/cameras/${SERIAL}/command/report-now`, { cookie: s.cookie, csrf: other.csrf })).status).toBe(403);
  });

  it('refuses a POST from another origin even with the right token, with 403', async () => {
    const s = await login('alice', PASSWORDS.alice);
    const a = await post(`/api/cameras/${SERIAL}/retire`, s, { origin: 'http://evil.example' });
    expect(a.status).toBe(403);
    expect(a.json().error).toMatch(/"http:\/\/evil\.example" is not from this dashboard/);
    expect(fleet.consumer.camera(SERIAL)?.retiredAt ?? null).toBeNull();
  });
});

describe('operator commands', () => {
  it('publishes an operator\'s rebaseline on the camera\'s cmd topic through Mosquitto and audits who sent it', async () => {
    const seen: Array<{ topic: string; body: Record<string, unknown>; retain: boolean }> = [];
    const sub = await mqtt.connectAsync(broker.url, { clientId: 'test-auth-camera', reconnectPeriod: 0 });
    sub.on('message', (topic, payload, packet) => seen.push({ topic, body: JSON.parse(payload.toString()), retain: packet.retain }));
    await sub.subscribeAsync(`vigil/v1/${SERIAL}/cmd/#`, { qos: 1 });
    try {
      const s = await login('alice', PASSWORDS.alice);
      const a = await post(`/api/cameras/${SERIAL}/command/rebaseline`, s);
      expect(a.status).toBe(202);
      const { commandId } = a.json();
      expect(commandId).toMatch(/^dash-[0-9a-f]{16}$/);
      await waitUntil('the command at the camera', () => seen.length > 0, { timeoutMs: 20_000 });
      expect(seen[0]).toMatchObject({ topic: `vigil/v1/${SERIAL}/cmd/rebaseline`, retain: false, body: { id: commandId } });
      const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.find((l) => l.commandId === commandId)).toEqual({ at: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/), user: 'alice', role: 'operator', action: 'rebaseline', serial: SERIAL, commandId, result: 'ok' });
      const api = (await call(url(`/api/audit?serial=${SERIAL}`), { headers: { cookie: s.cookie } })).json();
      expect(api.audit[0]).toMatchObject({ user: 'alice', action: 'rebaseline', commandId });
    } finally {
      await sub.endAsync();
    }
  });

  it('signs each command with the configured signer before publishing it', async () => {
    const seen: Array<Record<string, unknown>> = [];
    const sub = await mqtt.connectAsync(broker.url, { clientId: 'test-auth-camera-2', reconnectPeriod: 0 });
    sub.on('message', (_topic, payload) => seen.push(JSON.parse(payload.toString())));
    await sub.subscribeAsync(`vigil/v1/${SERIAL}/cmd/report-now`, { qos: 1 });
    try {
      const s = await login('alice', PASSWORDS.alice);
      const a = await post(`/api/cameras/${SERIAL}/command/report-now`, s);
      expect(a.status).toBe(202);
      await waitUntil('the command at the camera', () => seen.length > 0, { timeoutMs: 20_000 });
      expect(seen[0]).toEqual({ id: a.json().commandId, sig: `test-signature-of-${SERIAL}-report-now` });
    } finally {
      await sub.endAsync();
    }
  });

  it('audits an operator\'s retire and unretire', async () => {
    const s = await login('alice', PASSWORDS.alice);
    expect((await call(url(`/api/cameras/${SERIAL}/retire`), { method: 'POST', headers: { cookie: s.cookie, origin: origin(), 'x-csrf-token': s.csrf, 'content-type': 'application/json' }, body: '{"reason":"test"}' })).status).toBe(200);
    expect((await post(`/api/cameras/${SERIAL}/unretire`, s)).status).toBe(200);
    const audit = (await call(url('/api/audit?limit=2'), { headers: { cookie: s.cookie } })).json().audit;
    expect(audit.map((e: { action: string; user: string; result: string; detail?: string }) => [e.action, e.user, e.result, e.detail])).toEqual([['unretire', 'alice', 'ok', undefined], ['retire', 'alice', 'ok', 'test']]);
  });

  it('lets vigil fleet retire --user act with the password from VIGIL_FLEET_PASSWORD, audited as that user', async () => {
    const sink = new PassThrough().resume();
    const args = ['CAMAUTH1', '--url', fleet.url, '--user', 'alice', '--reason', 'from the CLI'];
    expect(await runRetire('retire', args, { out: sink, err: sink }, fetch, { VIGIL_FLEET_PASSWORD: PASSWORDS.alice })).toBe(0);
    expect(await runRetire('unretire', ['CAMAUTH1', '--url', fleet.url, '--user', 'alice'], { out: sink, err: sink }, fetch, { VIGIL_FLEET_PASSWORD: PASSWORDS.alice })).toBe(0);
    const s = await login('alice', PASSWORDS.alice);
    expect((await call(url('/api/audit?limit=2'), { headers: { cookie: s.cookie } })).json().audit[1]).toMatchObject({ action: 'retire', user: 'alice', detail: 'from the CLI', result: 'ok' });
    const err = new PassThrough();
    let text = '';
    err.on('data', (d) => (text += d));
    expect(await runRetire('retire', ['CAMAUTH1', '--url', fleet.url], { out: sink, err }, fetch, {})).toBe(1);
    expect(text).toMatch(/^\[vigil\] \[fleet\] log in first/);
  });

  it('answers a command for an unknown camera with 404 and audits the attempt', async () => {
    const s = await login('alice', PASSWORDS.alice);
    expect((await post('/api/cameras/NOSUCHCAM/command/rebaseline', s)).status).toBe(404);
    expect((await call(url('/api/audit?limit=1'), { headers: { cookie: s.cookie } })).json().audit[0]).toMatchObject({ action: 'rebaseline', serial: 'NOSUCHCAM', result: 'not-found', user: 'alice' });
  });

  it('has no command but report-now and rebaseline from the dashboard', async () => {
    const s = await login('alice', PASSWORDS.alice);
    const a = await post(`/api/cameras/${SERIAL}/command/set-interval`, s);
    expect(a.status).toBe(404);
    expect(a.json().error).toBe('[vigil] [fleet] no dashboard command set-interval; known: report-now, rebaseline');
  });
});

describe('login attempts', () => {
  it('refuses an address with 429 after 5 failed logins, until the window has passed', async () => {
    clock += 16 * 60_000;
    for (let i = 0; i < 5; i++) expect((await login('alice', 'wrong password ' + i)).answer.status).toBe(401);
    const blocked = await login('alice', PASSWORDS.alice);
    expect(blocked.answer.status).toBe(429);
    expect(blocked.answer.json().error).toMatch(/too many failed logins from 127\.0\.0\.1; try again in \d+ s/);
    clock += 16 * 60_000;
    expect((await login('alice', PASSWORDS.alice)).answer.status).toBe(200);
  });
});
