// SimHost in Node (no engine): the fs never leaves the profile's rootfs, the data dir is the only
// writable place and is seeded once from localdata/, config and credentials follow the AXIS OS version,
// TLS failures are ETLS with a reason, and sha256File paces itself.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { SimHost } from '../src/sim-host';
import { DEFAULT_DATA_DIR, buildConfig } from '../src/host/config';
import { normalizeDevicePath } from '../src/host/fs';
import { memoryLogSink } from '../src/host/log';
import type { LoadedProfile } from '../src/profiles';
import { contractProfile, minimalProfileData, tempDir } from './helpers';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await (cleanups.pop() as () => void | Promise<void>)();
});

function setup(mutate?: (p: LoadedProfile) => void) {
  const tmp = tempDir('simhost');
  const profile = contractProfile(tmp.dir);
  mutate?.(profile);
  const host = new SimHost({ profile, stateDir: path.join(tmp.dir, 'state'), log: memoryLogSink() });
  cleanups.push(() => {
    host.close();
    tmp.cleanup();
  });
  return { host, profile, tmp };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return (err as { code: string }).code;
  }
}

const text = (b: ArrayBuffer) => Buffer.from(b).toString('utf8');

describe('SimHost fs', () => {
  it('normalises .. at the device root', () => {
    expect(normalizeDevicePath('/../../etc/passwd')).toBe('/etc/passwd');
    expect(normalizeDevicePath('../../etc/passwd')).toBe('/etc/passwd');
    expect(normalizeDevicePath('/a/./b/../c//')).toBe('/a/c');
  });

  it('cannot read ../../etc/passwd of the machine', async () => {
    const { host } = setup();
    expect(await codeOf(host.fs.readFile('../../etc/passwd', 1 << 20))).toBe('ENOENT');
    expect(await codeOf(host.fs.readFile('/contract/../../../../etc/passwd', 1 << 20))).toBe('ENOENT');
  });

  it('interprets an absolute symlink inside the root, so it cannot point out', async () => {
    const { host, profile, tmp } = setup();
    const outside = path.join(tmp.dir, 'outside-secret.txt');
    writeFileSync(outside, 'secret');
    symlinkSync('/etc/passwd', path.join(profile.rootfsDir, 'contract/to-etc-passwd'));
    symlinkSync(outside, path.join(profile.rootfsDir, 'contract/to-outside'));
    symlinkSync('../../../../../../../../' + outside, path.join(profile.rootfsDir, 'contract/dotdot-out'));
    expect(await codeOf(host.fs.readFile('/contract/to-etc-passwd', 1 << 20))).toBe('ENOENT');
    expect(await codeOf(host.fs.readFile('/contract/to-outside', 1 << 20))).toBe('ENOENT');
    expect(await codeOf(host.fs.readFile('/contract/dotdot-out', 1 << 20))).toBe('ENOENT');
    expect(await codeOf(host.crypto.sha256File('/contract/to-outside', 0))).toBe('ENOENT');
    expect(await codeOf(host.fs.list('/contract/to-outside'))).toBe('ENOENT');
  });

  it('follows an absolute symlink to a device path within the root', async () => {
    const { host, profile } = setup();
    symlinkSync('/contract/hello.txt', path.join(profile.rootfsDir, 'contract/abs-hello'));
    expect(text(await host.fs.readFile('/contract/abs-hello', 100))).toBe('hello, vigil\n');
  });

  it('rejects a symlink loop with ELOOP', async () => {
    const { host, profile } = setup();
    symlinkSync('loop-b', path.join(profile.rootfsDir, 'contract/loop-a'));
    symlinkSync('loop-a', path.join(profile.rootfsDir, 'contract/loop-b'));
    expect(await codeOf(host.fs.readFile('/contract/loop-a', 100))).toBe('ELOOP');
  });

  it('names the device path, never the host path, in errors', async () => {
    const { host, tmp } = setup();
    const err = await host.fs.readFile('/nope/x', 10).catch((e: Error) => e);
    expect((err as Error).message).toBe('ENOENT: /nope/x');
    expect((err as Error).message).not.toContain(tmp.dir);
  });

  it('writes only under the data dir, and not through a symlink that leaves it', async () => {
    const { host, tmp } = setup();
    await host.prepare();
    const state = path.join(tmp.dir, 'state');
    await host.fs.writeFileAtomic(`${DEFAULT_DATA_DIR}/ok.txt`, new TextEncoder().encode('ok').buffer as ArrayBuffer);
    expect(readFileSync(path.join(state, 'ok.txt'), 'utf8')).toBe('ok');
    symlinkSync('/contract', path.join(state, 'escape'));
    expect(await codeOf(host.fs.writeFileAtomic(`${DEFAULT_DATA_DIR}/escape/hello.txt`, new ArrayBuffer(1)))).toBe('EACCES');
    expect(await codeOf(host.fs.writeFileAtomic('/contract/new.txt', new ArrayBuffer(1)))).toBe('EACCES');
    expect(await codeOf(host.fs.mkdir('/tmp/x'))).toBe('EACCES');
  });

  it('seeds the data dir from the profile localdata/ on first start only', async () => {
    const tmp = tempDir('seed');
    cleanups.push(() => tmp.cleanup());
    const profile = contractProfile(tmp.dir);
    const localdata = path.join(profile.dir, 'localdata');
    mkdirSync(localdata, { recursive: true });
    writeFileSync(path.join(localdata, 'baseline.json'), '{"shipped":true}');
    profile.localdataDir = localdata;
    const stateDir = path.join(tmp.dir, 'state');
    const first = new SimHost({ profile, stateDir, log: memoryLogSink() });
    await first.prepare();
    expect(text(await first.fs.readFile(`${DEFAULT_DATA_DIR}/baseline.json`, 100))).toBe('{"shipped":true}');
    await first.fs.writeFileAtomic(`${DEFAULT_DATA_DIR}/baseline.json`, new TextEncoder().encode('{"mine":true}').buffer as ArrayBuffer);
    const second = new SimHost({ profile, stateDir, log: memoryLogSink() });
    await second.prepare();
    expect(text(await second.fs.readFile(`${DEFAULT_DATA_DIR}/baseline.json`, 100))).toBe('{"mine":true}');
    expect((await second.fs.list(DEFAULT_DATA_DIR)).map((e) => e.name)).toEqual(['baseline.json']);
  });
});

describe('SimHost crypto', () => {
  it('paces sha256File by maxBytesPerSec', async () => {
    const { host, profile } = setup();
    writeFileSync(path.join(profile.rootfsDir, 'contract/200k.bin'), Buffer.alloc(200 * 1024, 7));
    const t0 = Date.now();
    // 1 MiB/s, less the burst of one 64 KiB chunk the host's bucket starts with: at least 133 ms.
    await host.crypto.sha256File('/contract/200k.bin', 1 << 20);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(125);
    const t1 = Date.now();
    await host.crypto.sha256File('/contract/200k.bin', 0);
    expect(Date.now() - t1).toBeLessThan(150);
  });
});

describe('SimHost config and credentials', () => {
  it('gives VAPIX credentials as D-Bus would from AXIS OS 11.9, and keeps them out of config', async () => {
    const { host } = setup();
    expect(await host.vapixCredentials?.()).toEqual({ username: 'a0-vigil', password: 'secret' });
    expect(host.config().VapixPassword).toBeUndefined();
  });

  it('puts VAPIX credentials in config before AXIS OS 11.9, with no D-Bus method', () => {
    const { host } = setup((p) => {
      p.data = minimalProfileData({ os: { version: '10.12.228', buildDate: 'Feb 23 2024 22:15' } });
    });
    expect(host.vapixCredentials).toBeUndefined();
    expect(host.config()).toMatchObject({ VapixUsername: 'a0-vigil', VapixPassword: 'secret' });
  });

  it('merges profile agent parameters under the caller overrides, all strings', () => {
    const { profile } = setup((p) => {
      p.data.agent = { IntervalSec: '300', IntegrityPaths: '/usr/bin' };
    });
    const c = buildConfig(profile, { IntervalSec: '10', BrokerHost: '127.0.0.1' });
    expect(c).toMatchObject({ IntervalSec: '10', IntegrityPaths: '/usr/bin', BrokerHost: '127.0.0.1', DataDir: DEFAULT_DATA_DIR });
    for (const v of Object.values(c)) expect(typeof v).toBe('string');
  });

  it('logs structured records with the serial to its sink', () => {
    const sink = memoryLogSink();
    const tmp = tempDir('log');
    cleanups.push(() => tmp.cleanup());
    const host = new SimHost({ profile: contractProfile(tmp.dir), stateDir: path.join(tmp.dir, 's'), log: sink });
    host.log('warn', 'disk almost full');
    expect(sink.records[0]).toMatchObject({ serial: 'ACCC8E000001', level: 'warn', message: 'disk almost full' });
  });
});

function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('SimHost net', () => {
  it('times out a connection whose peer never answers the TLS handshake with ETIMEDOUT', async () => {
    const { host } = setup();
    const peers = new Set<net.Socket>();
    const silent = net.createServer((s) => peers.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const p of peers) p.destroy();
          silent.close(() => r());
        }),
    );
    const port = (silent.address() as net.AddressInfo).port;
    const t0 = Date.now();
    expect(await codeOf(host.net.connect({ host: '127.0.0.1', port, tls: {}, timeoutMs: 200 }))).toBe('ETIMEDOUT');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it.skipIf(!haveOpenssl())('rejects an unverifiable server certificate with ETLS and accepts it with its CA file', async () => {
    const { host, profile, tmp } = setup();
    const key = path.join(tmp.dir, 'key.pem');
    const cert = path.join(profile.rootfsDir, 'contract/ca.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=broker.test', '-addext', 'subjectAltName=DNS:broker.test,IP:127.0.0.1'], { stdio: 'ignore' });
    const server = tls.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (s) => s.end('hi'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;

    const err = await host.net.connect({ host: '127.0.0.1', port, tls: {}, timeoutMs: 3000 }).catch((e: Error & { code: string }) => e);
    expect((err as { code: string }).code).toBe('ETLS');
    expect((err as Error).message).toMatch(/self[- ]signed|unable to verify|SELF_SIGNED/i);

    const wrongName = await host.net.connect({ host: '127.0.0.1', port, tls: { caFile: '/contract/ca.pem', serverName: 'other.test' }, timeoutMs: 3000 }).catch((e: Error & { code: string }) => e);
    expect((wrongName as { code: string }).code).toBe('ETLS');

    const id = await host.net.connect({ host: '127.0.0.1', port, tls: { caFile: '/contract/ca.pem', serverName: 'broker.test' }, timeoutMs: 3000 });
    expect(text((await host.net.read(id)) as ArrayBuffer)).toBe('hi');
    host.net.close(id);
  });
});
