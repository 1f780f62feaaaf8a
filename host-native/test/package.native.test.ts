// `npm run package`: the .eap files, their members, reproducibility, the SBOM, and the binaries' kind.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { schemaValidator } from '../../schemas/validator';
import { BUILD_TIMEOUT_MS, NATIVE, REPO, ensureBuilt, tempDir } from './helpers';
// @ts-expect-error: plain ESM without types
import { EAP_ARCHS, buildPackages } from '../package.mjs';
// @ts-expect-error: plain ESM without types
import { readPackaging } from '../package-config.mjs';
// @ts-expect-error: plain ESM without types
import { signingProblems } from '../signing-check.mjs';

const EPOCH = '1767225600';
const MEMBERS = ['vigil', 'package.conf', 'param.conf', 'LICENSE', 'manifest.json', 'agent.qjsbc', 'vigil.spdx.json'];
// package.conf's keys in acap-build's order (LICENSE_CHECK_ARGS only with copyProtection.customOptions)
const CONF_KEYS = 'PACKAGENAME APPTYPE APPNAME APPID LICENSENAME LICENSEPAGE VENDOR REQEMBDEVVERSION APPMAJORVERSION APPMINORVERSION APPMICROVERSION APPGRP APPUSR APPOPTS OTHERFILES SETTINGSPAGEFILE SETTINGSPAGETEXT VENDORHOMEPAGELINK PREUPGRADESCRIPT POSTINSTALLSCRIPT STARTMODE HTTPCGIPATHS'.split(' ');
const FILE_KIND: Record<string, RegExp> = {
  aarch64: /ELF 64-bit LSB executable, ARM aarch64,.*statically linked/,
  armv7hf: /ELF 32-bit LSB executable, ARM, EABI5.*statically linked/,
};

interface Output {
  arch: string;
  eap: string;
  eapBytes: number;
  binaryBytes: number;
}

function unpack(eap: string, dir: string): void {
  execFileSync('tar', ['-xzf', eap, '-C', dir]);
}

describe('the .eap packages', () => {
  let first: Output[] = [];
  let firstBytes: Buffer[] = [];
  const warnings: string[] = [];
  const tmp = tempDir('eap');
  const env = { ...process.env, VIGIL_VENDOR_ID: '' };

  beforeAll(() => {
    ensureBuilt();
    process.env.SOURCE_DATE_EPOCH = EPOCH;
    first = buildPackages({ skipBuild: true, env, warn: (l: string) => warnings.push(l) }) as Output[];
    firstBytes = first.map((o) => readFileSync(o.eap));
  }, BUILD_TIMEOUT_MS);

  it('are named by acap-build\'s rule, one per camera architecture', () => {
    const version = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version.split('.').join('_');
    expect(first.map((o) => path.basename(o.eap))).toEqual(EAP_ARCHS.map((a: string) => `vigil_${version}_${a}.eap`));
  });

  it('each unpack to the executable, package.conf, param.conf, LICENSE, manifest.json, the bytecode and the SBOM, in that order', () => {
    for (const o of first) {
      const list = execFileSync('tar', ['-tvzf', o.eap]).toString().trim().split('\n');
      expect(list.map((l) => l.split(/\s+/).pop())).toEqual(MEMBERS);
      for (const l of list) expect(l).toMatch(/^-rw[-x]r-[-x]r-[-x] 0\/0 /);
      expect(list[0]).toMatch(/^-rwxr-xr-x /);
    }
  });

  it('hold a static ARM executable of the right kind, per `file`', () => {
    for (const o of first) {
      const dir = path.join(tmp.dir, `file-${o.arch}`);
      execFileSync('mkdir', ['-p', dir]);
      unpack(o.eap, dir);
      const kind = execFileSync('file', ['-b', path.join(dir, 'vigil')]).toString();
      expect(kind).toMatch(FILE_KIND[o.arch]);
      const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
      expect(manifest.acapPackageConf.setup.architecture).toBe(o.arch);
      const conf = readFileSync(path.join(dir, 'package.conf'), 'utf8');
      expect(conf).toContain(`APPTYPE="${o.arch}"`);
      expect(conf).toContain('APPNAME="vigil"');
      expect(conf).toContain('STARTMODE="respawn"');
      expect(conf).toContain('APPOPTS="agent.qjsbc"');
      expect(conf).toContain('LICENSENAME="Available"');
      expect(conf).toMatch(/^VENDORHOMEPAGELINK='<a href="https:\/\/example.invalid\/vigil" target="_blank">example.invalid\/vigil<\/a>'$/m);
      expect(conf.split('\n').filter(Boolean).map((l) => l.split('=')[0])).toEqual(CONF_KEYS);
      const params = readFileSync(path.join(dir, 'param.conf'), 'utf8');
      expect(params).toContain('BrokerPassword="" type="password:maxlen=128"');
      expect(readFileSync(path.join(dir, 'agent.qjsbc'))).toEqual(readFileSync(path.join(NATIVE, 'out/agent.qjsbc')));
    }
  });

  it('are ready for Axis\'s signing: one gzip stream, the manifest valid, package.conf agreeing with it', () => {
    const validate = schemaValidator('manifest.schema.json', { strict: false });
    for (const o of first) expect(signingProblems(readFileSync(o.eap), { validate }), o.eap).toEqual([]);
  });

  it('carry compatibleOsVersions with acap-build\'s min and a max no higher than the newest AXIS OS tested', () => {
    const packaging = readPackaging();
    const dir = path.join(tmp.dir, 'os');
    execFileSync('mkdir', ['-p', dir]);
    unpack(first[0].eap, dir);
    const setup = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')).acapPackageConf.setup;
    expect(setup.compatibleOsVersions).toEqual([{ min: packaging.sdkAxisOs, max: packaging.newestTestedAxisOs }]);
  });

  it('warn loudly that a build with the placeholder vendor ID is for development cameras only', () => {
    expect(warnings.some((w) => /placeholder.*development cameras/.test(w))).toBe(true);
  });

  it('carry the vendor ID from VIGIL_VENDOR_ID, and a release build refuses the placeholder', () => {
    const outs = buildPackages({ skipBuild: true, release: true, env: { ...env, VIGIL_VENDOR_ID: '5a3c9e0b71' } }) as Output[];
    for (const o of outs) expect(signingProblems(readFileSync(o.eap), { release: true })).toEqual([]);
    expect(() => buildPackages({ skipBuild: true, release: true, env })).toThrow(/release build refused/);
  });

  it('are the same bytes when packaged a second time', () => {
    const again = buildPackages({ skipBuild: true, env, warn: () => {} }) as Output[];
    again.forEach((o, i) => expect(readFileSync(o.eap).equals(firstBytes[i]), o.eap).toBe(true));
  });

  it('hold a binary that a second build from scratch reproduces byte for byte', () => {
    const out = path.join('out', 'repro-armv7hf');
    rmSync(path.join(NATIVE, out), { recursive: true, force: true });
    const version = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;
    execFileSync('make', ['-s', 'ARCH=armv7hf', `OUT=${out}`, `VERSION=${version}`, '-j2'], { cwd: NATIVE, stdio: 'pipe' });
    expect(readFileSync(path.join(NATIVE, out, 'vigil')).equals(readFileSync(path.join(NATIVE, 'out/armv7hf/vigil')))).toBe(true);
    rmSync(path.join(NATIVE, out), { recursive: true, force: true });
  }, 10 * 60_000);

  it('carry an SPDX SBOM with QuickJS, mbedTLS, the C library and the bundle, with checksums', () => {
    const dir = path.join(tmp.dir, 'sbom');
    execFileSync('mkdir', ['-p', dir]);
    unpack(first[0].eap, dir);
    const doc = JSON.parse(readFileSync(path.join(dir, 'vigil.spdx.json'), 'utf8'));
    expect(doc.spdxVersion).toBe('SPDX-2.3');
    const byName = Object.fromEntries(doc.packages.map((p: { name: string }) => [p.name, p]));
    expect(byName.quickjs.versionInfo).toBe('2025.04.26-1');
    expect(byName.quickjs.checksums[0].checksumValue).toBe('ec81da5b3249ed648dbc7df4a1654988910e66a118d9b71cb63534216efcfbbe');
    expect(byName.mbedtls.versionInfo).toBe('2.28.3-1');
    expect(byName['glibc (static)']).toBeDefined();
    const bundle = doc.packages.find((p: { SPDXID: string }) => p.SPDXID === 'SPDXRef-agent-bundle');
    const bc = execFileSync('sha256sum', [path.join(dir, 'agent.qjsbc')]).toString().split(' ')[0];
    expect(bundle.checksums[0].checksumValue).toBe(bc);
  });

  it('stay within the size budgets (binary 1.5 MB stripped, .eap 800 KB)', () => {
    for (const o of first) {
      console.log(`${o.arch}: binary ${o.binaryBytes} bytes, ${path.basename(o.eap)} ${o.eapBytes} bytes`);
      expect(o.binaryBytes).toBeLessThanOrEqual(1.5 * 1024 * 1024);
      expect(statSync(o.eap).size).toBeLessThanOrEqual(800 * 1024);
    }
  });
});

describe('the bytecode', () => {
  beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);

  it('is the same bytes when compiled under qemu-aarch64 and qemu-arm as on x86_64', () => {
    const tmp = tempDir('bytecode');
    try {
      const agent = path.join(REPO, 'dist/agent.js');
      const a64 = path.join(tmp.dir, 'a64.qjsbc');
      const arm = path.join(tmp.dir, 'arm.qjsbc');
      execFileSync('qemu-aarch64', [path.join(NATIVE, 'out/aarch64/vigil'), '--compile', agent, a64]);
      execFileSync('qemu-arm', [path.join(NATIVE, 'out/armv7hf/vigil'), '--compile', agent, arm]);
      const x86 = readFileSync(path.join(NATIVE, 'out/agent.qjsbc'));
      expect(readFileSync(a64).equals(x86)).toBe(true);
      expect(readFileSync(arm).equals(x86)).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });
});
