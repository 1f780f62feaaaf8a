// package.conf as acap-build writes it, the vendor ID and OS range from configuration, and the signing
// readiness check, without a native build (fixtures in testdata/package-conf/, written in acap-build's shape).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { schemaValidator } from '../../schemas/validator';
import { REPO, tempDir } from './helpers';
// @ts-expect-error: plain ESM without types
import { packageConf, vendorHomePageLink } from '../package-conf.mjs';
// @ts-expect-error: plain ESM without types
import { compareOsVersions, readPackaging, resolveOsRanges, resolveVendorId } from '../package-config.mjs';
// @ts-expect-error: plain ESM without types
import { signingProblems } from '../signing-check.mjs';

const DATA = path.join(__dirname, 'testdata/package-conf');
const fixture = (name: string) => readFileSync(path.join(DATA, name), 'utf8');
const json = (name: string) => JSON.parse(fixture(name));
const PACKAGING = { vendorId: null, sdkAxisOs: '12.11', newestTestedAxisOs: '12.11' };

describe('package.conf', () => {
  it('matches acap-build for an app with a settings page, a CGI, a post-install script and an extra file', () => {
    expect(packageConf(json('web-app.manifest.json'), 'aarch64', ['model.tflite'])).toBe(fixture('web-app.package.conf'));
  });

  it('matches acap-build for a minimal 1.7.3 manifest, with every default key written', () => {
    expect(packageConf(json('minimal.manifest.json'), 'armv7hf', [])).toBe(fixture('minimal.package.conf'));
  });

  it('links a vendor URL without a scheme as written, the link text without a scheme either way', () => {
    expect(vendorHomePageLink('www.example.com')).toBe('<a href="www.example.com" target="_blank">www.example.com</a>');
    expect(vendorHomePageLink('http://example.com/a')).toBe('<a href="http://example.com/a" target="_blank">example.com/a</a>');
  });

  it('refuses a value over two lines, which would break the KEY="value" format', () => {
    const m = json('minimal.manifest.json');
    m.acapPackageConf.setup.vendor = 'Example\nOptics';
    expect(() => packageConf(m, 'armv7hf', [])).toThrow(/VENDOR must be one line/);
  });
});

describe('the vendor ID from configuration', () => {
  const quiet = () => {};

  it('takes VIGIL_VENDOR_ID over packaging.json over the manifest', () => {
    const args = { packaging: { ...PACKAGING, vendorId: 'abcdef0123' }, manifestVendorId: '0123456789', release: true, warn: quiet };
    expect(resolveVendorId({ ...args, env: { VIGIL_VENDOR_ID: '5a3c9e0b71' } })).toBe('5a3c9e0b71');
    expect(resolveVendorId({ ...args, env: {} })).toBe('abcdef0123');
  });

  it.each(['0123456789', '1234567890'])('refuses the placeholder %s for a release build', (id) => {
    expect(() => resolveVendorId({ env: {}, packaging: PACKAGING, manifestVendorId: id, release: true, warn: quiet })).toThrow(/release build refused: vendorId \d+ \(from manifest.json\) is Axis's example placeholder/);
  });

  it('warns loudly about the placeholder for a development build, naming the finding it causes', () => {
    const lines: string[] = [];
    const id = resolveVendorId({ env: {}, packaging: PACKAGING, manifestVendorId: '0123456789', release: false, warn: (l: string) => lines.push(l) });
    expect(id).toBe('0123456789');
    expect(lines).toEqual([expect.stringMatching(/^\[vigil\] \[package\] WARNING: .*development cameras.*unsigned-apps-allowed/)]);
  });

  it('refuses a vendor ID that is not 10 hex digits', () => {
    expect(() => resolveVendorId({ env: { VIGIL_VENDOR_ID: '12345' }, packaging: PACKAGING, release: false, warn: quiet })).toThrow(/"12345" from VIGIL_VENDOR_ID is not 10 hex digits/);
  });
});

describe('compatibleOsVersions', () => {
  it('gets the SDK\'s AXIS OS as min where the manifest gives none, as acap-build does', () => {
    expect(resolveOsRanges([{ max: '12.11' }], PACKAGING)).toEqual([{ min: '12.11', max: '12.11' }]);
    expect(resolveOsRanges([{ min: '12.0', max: '12.11' }], PACKAGING)).toEqual([{ min: '12.0', max: '12.11' }]);
  });

  it('refuses a max above the newest AXIS OS tested, or no max at all', () => {
    expect(() => resolveOsRanges([{ max: '13' }], PACKAGING)).toThrow(/max 13 is higher than 12.11, the newest AXIS OS tested/);
    expect(() => resolveOsRanges([{ min: '12.0' }], PACKAGING)).toThrow(/has no max/);
  });

  it('in manifest.json has every max at most the newest AXIS OS in host-native/packaging.json', () => {
    const packaging = readPackaging();
    const manifest = JSON.parse(readFileSync(path.join(REPO, 'manifest.json'), 'utf8'));
    const ranges = resolveOsRanges(manifest.acapPackageConf.setup.compatibleOsVersions, packaging);
    for (const r of ranges) expect(compareOsVersions(r.max, packaging.newestTestedAxisOs)).toBeLessThanOrEqual(0);
    expect(ranges[0].min).toBe(packaging.sdkAxisOs);
  });

  it('compares versions part by part, a missing part as 0', () => {
    expect(compareOsVersions('12.11', '12.11.0')).toBe(0);
    expect(compareOsVersions('12.11.77', '12.11')).toBeGreaterThan(0);
    expect(compareOsVersions('9.80.3.12', '10.12')).toBeLessThan(0);
  });
});

describe('the signing readiness check', () => {
  const validate = schemaValidator('manifest.schema.json', { strict: false });

  /** A gzip'd tar in the .eap layout from the web-app fixture, with `change` applied to the staged files. */
  function eap(change: (files: Record<string, string>) => void = () => {}): Buffer {
    const tmp = tempDir('sign');
    try {
      const manifest = json('web-app.manifest.json');
      manifest.acapPackageConf.setup.compatibleOsVersions = [{ min: '12.11', max: '12.11' }];
      const files: Record<string, string> = {
        door_watch: '#!/bin/sh\n',
        'package.conf': packageConf(manifest, 'aarch64', []),
        'param.conf': '',
        LICENSE: 'Apache-2.0\n',
        'manifest.json': JSON.stringify(manifest, null, 4),
      };
      change(files);
      const stage = path.join(tmp.dir, 'stage');
      mkdirSync(stage);
      for (const [name, text] of Object.entries(files)) writeFileSync(path.join(stage, name), text);
      const tar = execFileSync('tar', ['--format=gnu', '--owner=0', '--group=0', '--numeric-owner', '-C', stage, '-cf', '-', ...Object.keys(files)]);
      return execFileSync('gzip', ['-n', '-9', '-c'], { input: tar });
    } finally {
      tmp.cleanup();
    }
  }

  it('finds nothing wrong with a package in acap-build\'s layout', () => {
    expect(signingProblems(eap(), { release: true, validate })).toEqual([]);
  });

  it('refuses bytes after the gzip stream, where Axis appends its signature', () => {
    expect(signingProblems(Buffer.concat([eap(), Buffer.from('SIGNATURE')]))).toEqual(['9 bytes after the gzip stream (already signed, or not one gzip member)']);
  });

  it('refuses a file that is not gzip', () => {
    expect(signingProblems(Buffer.from('PK\u0003\u0004 a zip file, not an eap'))).toEqual(["not a gzip'd tar: not a gzip file"]);
  });

  it('refuses the placeholder vendor ID in a release, and a manifest the schema rejects', () => {
    const placeholder = eap((f) => (f['manifest.json'] = f['manifest.json'].replace('5a3c9e0b71', '0123456789')));
    expect(signingProblems(placeholder, { release: true })).toEqual(["manifest vendorId 0123456789 is Axis's example placeholder"]);
    expect(signingProblems(placeholder, { release: false })).toEqual([]);
    const badGroup = eap((f) => {
      const m = JSON.parse(f['manifest.json']);
      m.resources = { linux: { user: { groups: ['root'] } } };
      f['manifest.json'] = JSON.stringify(m);
    });
    expect(signingProblems(badGroup, { validate })).toEqual([expect.stringMatching(/^manifest.json fails the manifest schema/)]);
  });

  it('refuses a missing architecture, an empty LICENSE and a package.conf that disagrees with the manifest', () => {
    const broken = eap((f) => {
      const m = JSON.parse(f['manifest.json']);
      delete m.acapPackageConf.setup.architecture;
      f['manifest.json'] = JSON.stringify(m);
      f.LICENSE = '\n';
      f['package.conf'] = f['package.conf'].replace('APPMINORVERSION="2"', 'APPMINORVERSION="9"');
    });
    expect(signingProblems(broken)).toEqual([
      'manifest architecture null is not aarch64 or armv7hf',
      'LICENSE is missing or empty',
      'package.conf APPTYPE="aarch64" but manifest.json says null',
      'package.conf APPMINORVERSION="9" but manifest.json says "2"',
    ]);
  });
});
