import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FakeHost } from '../../../test/fake-host';
import { loadTestdata, makeContext, serveVapix } from '../../../test/vapix-fixture';
import { collectIntegrity, platformFacts, rebaseline } from './integrity';

const PATHS = '/usr/bin,/usr/sbin,/etc/passwd,/etc/group';
const INPUT = { soc: 'Axis Artpec-8', osVersion: '12.11.77' };
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const BASELINE = '/data/baseline.json';

/** A camera loaded from a testdata case, with sha256File calls counted. */
function camera(testCase = 'valid', params: Record<string, string> = {}) {
  const fake = new FakeHost();
  serveVapix(fake, loadTestdata(fake, fs, `${import.meta.dirname}/testdata/${testCase}`));
  const hashed: string[] = [];
  const sha256File = fake.crypto.sha256File;
  fake.crypto.sha256File = (path, rate) => {
    hashed.push(path);
    return sha256File(path, rate);
  };
  const ctx = makeContext(fake, { IntegrityPaths: PATHS, ...params });
  return { fake, ctx, hashed, run: () => collectIntegrity(ctx, INPUT) };
}

describe('collectIntegrity: file baseline', () => {
  it('records a baseline on the first run', async () => {
    const { fake, run, hashed } = camera();
    const { value, errors } = await run();
    expect(errors).toEqual([]);
    expect(value.status).toBe('baseline-created');
    expect(value.baseline).toEqual({ createdAt: '2026-11-25T12:00:00.000Z', files: 7 });
    expect(value.changes).toEqual([]);
    expect(hashed).toHaveLength(7);
    expect(JSON.parse(fake.fileText(BASELINE) as string).files['/usr/sbin/sshd'][4]).toBe(sha('\x7fELF\x02\x01\x01\x00dropbear sshd 2024.85\n'));
  });

  it('hashes at the configured rate', async () => {
    const { fake, ctx } = camera('valid', { HashBytesPerSec: '1048576' });
    const rates: number[] = [];
    const inner = fake.crypto.sha256File;
    fake.crypto.sha256File = (p, rate) => (rates.push(rate), inner(p, rate));
    await collectIntegrity(ctx, INPUT);
    expect(new Set(rates)).toEqual(new Set([1048576]));
  });

  it('is ok on an unchanged second run and hashes nothing', async () => {
    const { run, hashed } = camera();
    await run();
    hashed.length = 0;
    const { value, errors } = await run();
    expect(errors).toEqual([]);
    expect(value).toMatchObject({ status: 'ok', changes: [], totalChanges: 0, baseline: { files: 7 } });
    expect(hashed).toEqual([]);
  });

  it('does not rewrite the baseline when nothing changed', async () => {
    const { fake, run } = camera();
    await run();
    const before = fake.fileText(BASELINE);
    fake.diskFull = true;
    const { errors } = await run();
    expect(errors).toEqual([]);
    expect(fake.fileText(BASELINE)).toBe(before);
  });

  it('reports a modified file as changed with its hashes before and after', async () => {
    const { fake, run, hashed } = camera();
    await run();
    fake.addFile('/usr/sbin/sshd', 'patched sshd', { mtimeMs: Date.UTC(2026, 10, 26) });
    hashed.length = 0;
    const { value } = await run();
    expect(value.status).toBe('changed');
    expect(value.changes).toEqual([
      { path: '/usr/sbin/sshd', change: 'changed', before: sha('\x7fELF\x02\x01\x01\x00dropbear sshd 2024.85\n'), after: sha('patched sshd') },
    ]);
    expect(value.totalChanges).toBe(1);
    expect(hashed).toEqual(['/usr/sbin/sshd']);
  });

  it('keeps reporting a change until a rebaseline', async () => {
    const { fake, ctx, run } = camera();
    await run();
    fake.addFile('/usr/sbin/sshd', 'patched sshd', { mtimeMs: Date.UTC(2026, 10, 26) });
    expect((await run()).value.status).toBe('changed');
    expect((await run()).value.status).toBe('changed');
    await fake.advance(60_000);
    const re = await rebaseline(ctx);
    expect(re).toEqual({ value: { createdAt: '2026-11-25T12:01:00.000Z', files: 7 }, errors: [] });
    expect((await run()).value).toMatchObject({ status: 'ok', baseline: { createdAt: '2026-11-25T12:01:00.000Z' } });
  });

  it('treats a touched file with the same content as unchanged and hashes it only once', async () => {
    const { fake, run, hashed } = camera();
    await run();
    fake.addFile('/etc/passwd', fake.fileText('/etc/passwd') as string, { mtimeMs: Date.UTC(2026, 10, 26) });
    hashed.length = 0;
    expect((await run()).value.status).toBe('ok');
    expect(hashed).toEqual(['/etc/passwd']);
    hashed.length = 0;
    expect((await run()).value.status).toBe('ok');
    expect(hashed).toEqual([]);
  });

  it('reports added and removed files', async () => {
    const { fake, run } = camera();
    await run();
    fake.addFile('/usr/bin/nc', 'netcat');
    fake.deletePath('/usr/bin/curl');
    const { value } = await run();
    expect(value.changes).toEqual([
      { path: '/usr/bin/curl', change: 'removed', before: sha('\x7fELF\x02\x01\x01\x00curl 8.9.1 (aarch64-axis-linux-gnu)\n') },
      { path: '/usr/bin/nc', change: 'added', after: sha('netcat') },
    ]);
  });

  it('records symlinks as links and never follows them, even in a loop', async () => {
    const { fake, run, hashed } = camera();
    fake.addSymlink('/usr/bin/self', '/usr/bin');
    fake.addSymlink('/usr/bin/a', 'b');
    fake.addSymlink('/usr/bin/b', 'a');
    fake.addSymlink('/usr/bin/sh', 'busybox');
    const { value, errors } = await run();
    expect(errors).toEqual([]);
    expect(value.baseline?.files).toBe(11);
    expect(hashed).not.toContain('/usr/bin/self');
    expect((await run()).value.status).toBe('ok');
  });

  it('reports a symlink pointed elsewhere as changed', async () => {
    const { fake, run } = camera();
    fake.addSymlink('/usr/bin/sh', 'busybox');
    await run();
    fake.deletePath('/usr/bin/sh');
    fake.addSymlink('/usr/bin/sh', '/tmp/evil');
    const { value } = await run();
    expect(value.changes).toEqual([{ path: '/usr/bin/sh', change: 'changed' }]);
  });

  it('reports an unreadable file without failing the baseline', async () => {
    const { fake, run } = camera('valid', { IntegrityPaths: PATHS + ',/etc/shadow' });
    fake.addFile('/etc/shadow', 'root:$6$x:19000:0:99999:7:::\n');
    fake.makeUnreadable('/etc/shadow');
    const { value, errors } = await run();
    expect(value.status).toBe('baseline-created');
    expect(value.baseline?.files).toBe(8);
    expect(errors).toEqual([
      { collector: 'integrity', code: 'EACCES', message: '[vigil] [integrity] 1 path(s) not fully checked: /etc/shadow (EACCES)' },
    ]);
  });

  it('still notices an unreadable file whose stat changed', async () => {
    const { fake, run } = camera('valid', { IntegrityPaths: PATHS + ',/etc/shadow' });
    fake.addFile('/etc/shadow', 'root:$6$x:19000:0:99999:7:::\n');
    fake.makeUnreadable('/etc/shadow');
    await run();
    fake.addFile('/etc/shadow', 'root::19000:0:99999:7:::\n', { mtimeMs: Date.UTC(2026, 10, 26) });
    fake.makeUnreadable('/etc/shadow');
    const { value } = await run();
    expect(value.changes).toEqual([{ path: '/etc/shadow', change: 'changed' }]);
  });

  it('reports a configured path that does not exist', async () => {
    const { run } = camera('missing');
    const { value, errors } = await run();
    expect(value).toMatchObject({ status: 'baseline-created', baseline: { files: 3 } });
    expect(errors).toContainEqual({
      collector: 'integrity',
      code: 'ENOENT',
      message: '[vigil] [integrity] 1 path(s) not fully checked: /usr/sbin (ENOENT)',
    });
  });

  it('stops at IntegrityMaxFiles and then reports no removals', async () => {
    const { run } = camera('valid', { IntegrityMaxFiles: '3' });
    expect((await run()).value.baseline?.files).toBe(3);
    const { value, errors } = await run();
    expect(value.status).toBe('ok');
    expect(errors.map((e) => e.code)).toEqual(['ELIMIT']);
  });

  it('reports a corrupt baseline and records a new one', async () => {
    const { fake, run } = camera('malformed');
    const { value, errors } = await run();
    expect(value.status).toBe('baseline-created');
    expect(errors.find((e) => e.code === 'ECORRUPT')?.message).toBe(
      '[vigil] [integrity] /data/baseline.json is not a valid baseline; recording a new one',
    );
    expect(JSON.parse(fake.fileText(BASELINE) as string).v).toBe(1);
    expect((await run()).value.status).toBe('ok');
  });

  it('records a new baseline when IntegrityPaths changed', async () => {
    const { fake, run } = camera();
    await run();
    const { value, errors } = await collectIntegrity(makeContext(fake, { IntegrityPaths: '/usr/bin' }), INPUT);
    expect(value).toMatchObject({ status: 'baseline-created', baseline: { files: 3 } });
    expect(errors.map((e) => e.code)).toEqual(['EBASELINE']);
  });

  it('keeps an unreadable baseline and reports an error status', async () => {
    const { fake, run } = camera();
    await run();
    fake.makeUnreadable(BASELINE, 'EIO');
    const { value, errors } = await run();
    expect(value).toMatchObject({ status: 'error', baseline: null, changes: [] });
    expect(errors.map((e) => e.code)).toEqual(['EIO']);
  });

  it('reports a full disk on the first run as an error', async () => {
    const { fake, run } = camera();
    fake.diskFull = true;
    const { value, errors } = await run();
    expect(value).toMatchObject({ status: 'error', baseline: null });
    expect(errors).toEqual([{ collector: 'integrity', code: 'ENOSPC', message: '[vigil] [integrity] cannot write /data/baseline.json: ENOSPC: /data' }]);
  });

  it('still returns the comparison when the disk is full on a baseline write', async () => {
    const { fake, run } = camera();
    await run();
    fake.addFile('/etc/passwd', fake.fileText('/etc/passwd') as string, { mtimeMs: Date.UTC(2026, 10, 26) }); // stat refresh → write
    fake.addFile('/usr/bin/curl', 'trojan', { mtimeMs: Date.UTC(2026, 10, 26) });
    fake.diskFull = true;
    const { value, errors } = await run();
    expect(value.status).toBe('changed');
    expect(value.changes.map((c) => c.path)).toEqual(['/usr/bin/curl']);
    expect(errors.map((e) => e.code)).toEqual(['ENOSPC']);
  });
});

describe('collectIntegrity: apps and platform', () => {
  it('passes installed apps, their signature status, ApplicationID, License and VendorHomePage through', async () => {
    const { value } = await camera().run();
    expect(value.apps).toEqual([
      {
        name: 'vigil',
        niceName: 'Vigil',
        vendor: 'Vigil project',
        version: '0.1.0',
        status: 'Running',
        signatureStatus: 'Signed',
        applicationId: '',
        license: 'None',
        vendorHomePage: 'https://example.invalid/vigil',
      },
      {
        name: 'objectanalytics',
        niceName: 'AXIS Object Analytics',
        vendor: 'Axis Communications',
        version: '1.4.13',
        status: 'Running',
        signatureStatus: 'Signed',
        applicationId: '415316',
        license: 'None',
        vendorHomePage: 'http://www.axis.com',
      },
      {
        name: 'legacy_counter',
        niceName: 'People Counter & Stats',
        vendor: 'Acme & Sons',
        version: '2.3.1',
        status: 'Stopped',
        signatureStatus: 'Unsigned',
        applicationId: null,
        license: 'Invalid',
        vendorHomePage: null,
      },
    ]);
    expect(value.allowUnsignedApps).toBe(false);
  });

  /** A camera from the valid case whose list.cgi answers with testdata/<file>. */
  const listing = (file: string) => {
    const { fake, run } = camera();
    serveVapix(fake, { '/axis-cgi/applications/list.cgi': fs.readFileSync(`${import.meta.dirname}/testdata/${file}`, 'utf8') });
    return run();
  };

  it('reads the signature from SignedStatus where a camera sends that spelling instead of SignatureStatus', async () => {
    const { value, errors } = await listing('valid/applications-signed-status.xml');
    expect(errors).toEqual([]);
    expect(value.apps.map((a) => [a.name, a.signatureStatus, a.applicationId, a.license, a.vendorHomePage])).toEqual([
      ['doorwatch', 'Signed', '52871', 'Valid', 'www.example.com'],
      ['testbuild', 'Unsigned', '', 'None', null],
    ]);
  });

  it('reports no signature status (null) for the documented list.cgi shape, which has no such attribute', async () => {
    const { value, errors } = await listing('missing/applications-no-signature.xml');
    expect(errors).toEqual([]);
    expect(value.apps).toEqual([
      {
        name: 'VideoMotionDetection',
        niceName: 'AXIS Video Motion Detection',
        vendor: 'Axis Communications',
        version: '4.4-5',
        status: 'Stopped',
        signatureStatus: null,
        applicationId: '8546',
        license: 'None',
        vendorHomePage: 'https://www.axis.com',
      },
      { name: 'vmd', niceName: null, vendor: null, version: '4.2-1', status: 'Running', signatureStatus: null, applicationId: null, license: null, vendorHomePage: null },
    ]);
  });

  it('skips an application without a Name and keeps the attributes it can read of a broken one', async () => {
    const { value, errors } = await listing('malformed/applications-bad-attributes.xml');
    expect(errors).toEqual([]);
    expect(value.apps).toEqual([
      { name: 'half', niceName: null, vendor: null, version: null, status: null, signatureStatus: 'Signed', applicationId: null, license: 'Valid', vendorHomePage: 'http://example.com/?a=1&b=2' },
    ]);
  });

  it('derives platform facts from the SoC and OS version it is given', async () => {
    const { value } = await camera().run();
    expect(value.platform).toEqual({ signedOs: true, secureBoot: true, edgeVault: true });
  });

  it("reports the agent's own bundle hash from the host", async () => {
    const { fake, run } = camera();
    fake.info.bundleSha256 = sha('bundle');
    expect((await run()).value.agentBundleSha256).toBe(sha('bundle'));
  });

  it('reports missing app endpoints: no apps with an error, AllowUnsigned unknown', async () => {
    const { value, errors } = await camera('missing').run();
    expect(value.apps).toEqual([]);
    expect(value.allowUnsignedApps).toBeNull();
    expect(errors.map((e) => e.code)).toEqual(['EHTTP', 'ENOENT']);
  });

  it('reports malformed app answers and still checks the files', async () => {
    const { value, errors } = await camera('malformed').run();
    expect(value.apps).toEqual([]);
    expect(value.allowUnsignedApps).toBeNull();
    expect(value.status).toBe('baseline-created');
    expect(errors.map((e) => e.message)).toEqual([
      '[vigil] [vapix] applications/list.cgi: device replied result="error": Internal error',
      '[vigil] [vapix] applications/config.cgi AllowUnsigned: answer is not a VAPIX XML reply',
      '[vigil] [integrity] /data/baseline.json is not a valid baseline; recording a new one',
    ]);
  });
});

describe('platformFacts', () => {
  it('knows signed OS from the version: enforced from 9.20.1, none before 8.30.1', () => {
    expect(platformFacts(null, '9.20.1').signedOs).toBe(true);
    expect(platformFacts(null, '9.80.3.12').signedOs).toBe(true);
    expect(platformFacts(null, '9.10.1').signedOs).toBeNull();
    expect(platformFacts(null, '8.30.1').signedOs).toBeNull();
    expect(platformFacts(null, '8.20.1').signedOs).toBe(false);
    expect(platformFacts(null, 'unknown').signedOs).toBeNull();
  });

  it('knows secure boot and Edge Vault for ARTPEC-8 and ARTPEC-9 only', () => {
    expect(platformFacts('Axis Artpec-9', '12.11.77')).toMatchObject({ secureBoot: true, edgeVault: true });
    expect(platformFacts('ARTPEC-8', '12.11.77')).toMatchObject({ secureBoot: true, edgeVault: true });
    expect(platformFacts('Axis Artpec-7', '12.11.77')).toMatchObject({ secureBoot: null, edgeVault: null });
    expect(platformFacts('Ambarella S2L (Flattened Device Tree)', '9.80.1')).toMatchObject({ secureBoot: null, edgeVault: null });
    expect(platformFacts(null, null)).toEqual({ signedOs: null, secureBoot: null, edgeVault: null });
  });
});
