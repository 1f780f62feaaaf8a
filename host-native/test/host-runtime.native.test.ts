// What the native runtime adds around the Host: orderly stop on SIGTERM, the CPU budget, the memory
// limit, unhandled rejections, name resolution without NSS, and TLS with verification (mbedTLS).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { BUILD_TIMEOUT_MS, TARGETS, ensureBuilt, runNative, startEchoServer, startNative, tempDir } from './helpers';

const native = TARGETS[0];
const tmp = tempDir('runtime');
let n = 0;

function script(body: string): string {
  const file = path.join(tmp.dir, `s${n++}.js`);
  writeFileSync(file, `const h = globalThis.__vigilHost;\nconst out = (globalThis.__out = []);\n${body}\n`);
  return file;
}

/** Runs a script and returns what it pushed to `out` plus its log. */
async function run(body: string, args: string[] = [], env?: NodeJS.ProcessEnv, target = native) {
  const r = await runNative(target, ['--stderr', '--data-dir', path.join(tmp.dir, 'data'), ...args, '--print-global', '__out', script(body)], { env: env ? { ...process.env, ...env } : undefined });
  const last = r.stdout.trim().split('\n').pop() ?? 'null';
  return { ...r, out: (JSON.parse(last) ?? []) as unknown[] };
}

beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

describe('the native runtime', () => {
  it('prints its options with --help and exits 0', async () => {
    const r = await runNative(native, ['--help']);
    expect(r.code).toBe(0);
    for (const opt of ['--root', '--data-dir', '--config', '--compile', '--stderr', '--memory-limit']) expect(r.stdout).toContain(opt);
  });

  it('calls __vigilAgent.stop() on SIGTERM and exits 0 once it settled', async () => {
    const p = startNative(native, ['--stderr', '--data-dir', path.join(tmp.dir, 'data'), script(`
      h.clock.setTimer(600000, () => {});
      globalThis.__vigilAgent = { stop: () => new Promise((r) => h.clock.setTimer(50, () => { h.log('info', 'agent stopped cleanly'); r(); })) };
      h.log('info', 'ready');`)]);
    for (let i = 0; i < 100 && !p.stderr().includes('ready'); i++) await new Promise((r) => setTimeout(r, 20));
    p.process.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.stderr()).toContain('agent stopped cleanly');
  });

  it('gives up on a stop() that never settles after --stop-timeout-ms', async () => {
    const p = startNative(native, ['--stderr', '--stop-timeout-ms', '200', '--data-dir', path.join(tmp.dir, 'data'), script(`
      h.clock.setTimer(600000, () => {});
      globalThis.__vigilAgent = { stop: () => new Promise(() => {}) };
      h.log('info', 'ready');`)]);
    for (let i = 0; i < 100 && !p.stderr().includes('ready'); i++) await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    p.process.kill('SIGTERM');
    expect((await p.exited).code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(p.stderr()).toContain('did not stop within 200 ms');
  });

  it('interrupts a runaway slice after the CPU budget, and the restarted run serves timers', async () => {
    // The interrupt stops the run; the host starts the bundle again (engine-limits.native.test.ts), which
    // runs away only once.
    const r = await run(`
      if (!h.info.lastExit) h.clock.setTimer(1, () => { for (;;) {} });
      h.clock.setTimer(10, () => out.push('alive'));`, ['--cpu-budget-ms', '100']);
    expect(r.stderr).toMatch(/interrupted/);
    expect(r.out).toEqual(['alive']);
  });

  it('ends a runaway allocation with a catchable out-of-memory error under the memory limit', async () => {
    const r = await run(`
      try { const a = []; for (;;) a.push(new Array(100000).fill(1)); } catch (e) { out.push(String(e)); }`, ['--memory-limit', String(8 << 20)]);
    expect(String(r.out[0])).toMatch(/out of memory/);
  });

  it('logs an unhandled promise rejection, and not a handled one', async () => {
    const r = await run(`Promise.reject(new Error('nobody listens')); Promise.reject(new Error('caught later')).catch(() => {});`);
    expect(r.stderr).toContain('unhandled promise rejection: Error: nobody listens');
    expect(r.stderr).not.toContain('caught later');
  });

  it('hands config files, --set and param.conf defaults to config() with the right precedence', async () => {
    const dir = path.join(tmp.dir, 'cfg');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'param.conf'), 'BrokerHost="" type="string"\nIntervalSec="300" type="int"\nTopicPrefix="vigil/v1" type="string"\n');
    writeFileSync(path.join(dir, 'vigil.conf'), '# lab\nBrokerHost = broker.lab\nIntervalSec=60\n');
    const r = await run(`out.push(h.config());`, ['--param-conf', path.join(dir, 'param.conf'), '--config', path.join(dir, 'vigil.conf'), '--set', 'IntervalSec=30']);
    expect(r.out[0]).toMatchObject({ BrokerHost: 'broker.lab', IntervalSec: '30', TopicPrefix: 'vigil/v1' });
  });
});

describe('name resolution without NSS', () => {
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  let dns: dgram.Socket;
  let dnsPort = 0;

  beforeAll(async () => {
    echo = await startEchoServer();
    // A tiny DNS server: broker.test -> 127.0.0.1, anything else NXDOMAIN.
    dns = dgram.createSocket('udp4');
    dns.on('message', (q, rinfo) => {
      let off = 12;
      const labels: string[] = [];
      while (q[off] !== 0) {
        labels.push(q.subarray(off + 1, off + 1 + q[off]).toString());
        off += q[off] + 1;
      }
      const question = q.subarray(12, off + 5);
      const found = labels.join('.') === 'broker.test';
      const head = Buffer.from([q[0], q[1], 0x81, found ? 0x80 : 0x83, 0, 1, 0, found ? 1 : 0, 0, 0, 0, 0]);
      const answer = found ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]) : Buffer.alloc(0);
      dns.send(Buffer.concat([head, question, answer]), rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => dns.bind(0, '127.0.0.1', r));
    dnsPort = dns.address().port;
  });

  afterAll(async () => {
    await echo?.close();
    dns?.close();
  });

  for (const target of TARGETS) {
    it(`resolves localhost from /etc/hosts and a name through DNS, and reports ENOTFOUND, ${target.label}`, async () => {
      const r = await run(`
        const echo = async (host) => {
          const s = await h.net.connect({ host, port: ${echo.port}, timeoutMs: 3000 });
          await h.net.write(s, new Uint8Array([104, 105]).buffer);
          const got = await h.net.read(s);
          h.net.close(s);
          return host + ':' + new Uint8Array(got).length;
        };
        (async () => {
          out.push(await echo('localhost'));
          out.push(await echo('broker.test'));
          try { await h.net.connect({ host: 'missing.test', port: 1, timeoutMs: 3000 }); out.push('connected?'); }
          catch (e) { out.push(e.code); }
        })();`, [], { VIGIL_DNS_SERVER: `127.0.0.1:${dnsPort}` }, target);
      expect(r.out).toEqual(['localhost:2', 'broker.test:2', 'ENOTFOUND']);
    });
  }
});

describe('TLS (mbedTLS, verification on by default)', () => {
  const dir = path.join(tmp.dir, 'tls');
  let server: tls.Server;
  let port = 0;

  beforeAll(async () => {
    mkdirSync(path.join(dir, 'root/certs'), { recursive: true });
    const o = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'root/certs/ca.pem', '-days', '2', '-subj', '/CN=vigil test CA']);
    o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
    writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    o(['x509', '-req', '-in', 'server.csr', '-CA', 'root/certs/ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
    o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'other.key', '-out', 'root/certs/other.pem', '-days', '2', '-subj', '/CN=other CA']);
    server = tls.createServer({ key: readFileSync(path.join(dir, 'server.key')), cert: readFileSync(path.join(dir, 'server.pem')) }, (s) => {
      s.on('error', () => undefined);
      s.on('data', (d) => s.write(d));
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  for (const target of TARGETS) {
    it(`verifies the server by name and by IP address, and rejects ETLS on a wrong CA or name, ${target.label}`, async () => {
      const r = await run(`
        const attempt = async (label, opts) => {
          try {
            const s = await h.net.connect({ port: ${port}, timeoutMs: 5000, ...opts });
            await h.net.write(s, new Uint8Array([1, 2, 3]).buffer);
            const got = await h.net.read(s);
            h.net.close(s);
            out.push(label + ':ok:' + new Uint8Array(got).length);
          } catch (e) { out.push(label + ':' + e.code); }
        };
        (async () => {
          await attempt('name', { host: 'localhost', tls: { caFile: '/certs/ca.pem' } });
          await attempt('ip', { host: '127.0.0.1', tls: { caFile: '/certs/ca.pem' } });
          await attempt('wrong-ca', { host: 'localhost', tls: { caFile: '/certs/other.pem' } });
          await attempt('wrong-name', { host: 'localhost', tls: { caFile: '/certs/ca.pem', serverName: 'broker.example' } });
          await attempt('no-verify', { host: 'localhost', tls: { verify: false } });
          await attempt('missing-ca', { host: 'localhost', tls: { caFile: '/certs/none.pem' } });
        })();`, ['--root', path.join(dir, 'root')], undefined, target);
      expect(r.out).toEqual(['name:ok:3', 'ip:ok:3', 'wrong-ca:ETLS', 'wrong-name:ETLS', 'no-verify:ok:3', 'missing-ca:ETLS']);
    });
  }
});
