// The dashboard server's security headers and Host allow-list (issue 15 item 9), on the real HTTP server.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../test/helpers/broker';
import { hostAllowed, hostName } from '../src/http-guard';
import { startFleet, type Fleet } from '../src/fleet';

let broker: EmbeddedBroker;
let fleet: Fleet;

/** A GET with a Host header of our choosing (fetch does not let a caller set Host). */
const get = (path: string, host: string | null): Promise<{ status: number; headers: Record<string, unknown>; body: string }> =>
  new Promise((resolve, reject) => {
    const url = new URL(fleet.url);
    const req = request({ host: url.hostname, port: url.port, path, ...(host === null ? { setHost: false } : { headers: { host } }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });

beforeAll(async () => {
  broker = await startEmbeddedBroker({ port: 0 });
  fleet = await startFleet({ brokerUrl: broker.url, http: { host: '127.0.0.1', port: 0, allowHosts: ['vigil.example.net'] }, sweepMs: 0 });
});

afterAll(async () => {
  await fleet.stop();
  await broker.close();
});

describe('the dashboard answers only to its own names (DNS rebinding)', () => {
  it('refuses a request whose Host is another site that resolved to loopback, with 421 and what to do', async () => {
    const r = await get('/api/fleet', 'attacker.example:8080');
    expect(r.status).toBe(421);
    expect(JSON.parse(r.body).error).toMatch(/^\[vigil\] \[fleet\] Host "attacker\.example:8080" is not one .* --allow-host/);
  });

  it('answers localhost, the bound address and a name given with --allow-host', async () => {
    const port = new URL(fleet.url).port;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `vigil.example.net:${port}`, 'VIGIL.example.net.']) {
      expect((await get('/api/fleet', host)).status, host).toBe(200);
    }
  });

  it('refuses a request without a Host header', async () => {
    expect((await get('/api/fleet', null)).status).toBeGreaterThanOrEqual(400);
  });
});

describe('the security headers', () => {
  it('sends a content security policy, nosniff, no framing and no referrer on a page', async () => {
    const r = await get('/', 'localhost');
    expect(r.status).toBe(200);
    expect(r.headers['content-security-policy']).toContain("default-src 'self'");
    expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect([r.headers['x-content-type-options'], r.headers['x-frame-options'], r.headers['referrer-policy']]).toEqual(['nosniff', 'DENY', 'no-referrer']);
  });

  it('sends them on an API error and on a refused Host too', async () => {
    for (const [path, host] of [['/nothing-here', 'localhost'], ['/', 'evil.example']]) {
      expect((await get(path, host)).headers['x-content-type-options'], `${host}${path}`).toBe('nosniff');
    }
  });
});

describe('reading a Host header', () => {
  it('takes the name without its port, IPv6 literals without brackets, and refuses malformed ones', () => {
    expect([hostName('Example.COM:80'), hostName('[::1]:8080'), hostName('a b'), hostName('x:y:z'), hostName(undefined)]).toEqual(['example.com', '::1', null, null, null]);
  });

  it('allows IP literals, which no other site can borrow, and refuses unknown names', () => {
    expect([hostAllowed('10.1.2.3:8080', '0.0.0.0', []), hostAllowed('[::1]', '127.0.0.1', []), hostAllowed('fleet.lan', '0.0.0.0', []), hostAllowed('fleet.lan:80', '0.0.0.0', ['fleet.lan'])]).toEqual([true, true, false, true]);
  });
});
