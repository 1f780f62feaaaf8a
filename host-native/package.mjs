#!/usr/bin/env node
// `npm run package`: one .eap per camera architecture, in the layout Axis's acap-build produces
// (reference axis-os.md §2), byte for byte reproducible from the same inputs:
//   vigil (the static host), package.conf, param.conf, LICENSE, manifest.json (architecture set),
//   agent.qjsbc (the bundle as QuickJS bytecode) and vigil.spdx.json (the SBOM).
// GNU tar, names sorted, owner/group 0, mtime SOURCE_DATE_EPOCH, then gzip -n -9.
// File name: acap-build's rule {friendlyName or appName}_{major}_{minor}_{patch}_{arch}.eap.
// The vendor ID and the AXIS OS range come from configuration (package-config.mjs); `--release` (or
// VIGIL_RELEASE=1) refuses Axis's placeholder vendor ID. Each .eap is checked ready for Axis's signing.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPackaging, resolveOsRanges, resolveVendorId } from './package-config.mjs';
import { packageConf, paramConf } from './package-conf.mjs';
import { signingProblems } from './signing-check.mjs';

export { packageConf, paramConf };

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
export const EAP_ARCHS = ['aarch64', 'armv7hf'];
const EAP_BUDGET = 800 * 1024;
const BINARY_BUDGET = 1.5 * 1024 * 1024;

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

function sourceDateEpoch() {
  if (process.env.SOURCE_DATE_EPOCH) return Number(process.env.SOURCE_DATE_EPOCH);
  try {
    return Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: repo, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()) || 0;
  } catch {
    return 0;
  }
}

function dpkgVersion(pkg) {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || null;
  } catch {
    return null;
  }
}

/** SPDX 2.3 (JSON) of what is inside one .eap. */
export function sbom({ arch, version, epoch, binarySha, bytecodeSha }) {
  const cache = join(here, '.cache');
  const libc = dpkgVersion(arch === 'aarch64' ? 'libc6-dev-arm64-cross' : 'libc6-dev-armhf-cross');
  const created = new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const pkg = (id, name, v, extra) => ({ SPDXID: `SPDXRef-${id}`, name, versionInfo: v, downloadLocation: 'NOASSERTION', filesAnalyzed: false, ...extra });
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `vigil-${version}-${arch}`,
    documentNamespace: `https://vigil.invalid/spdx/vigil-${version}-${arch}-${binarySha.slice(0, 16)}`,
    creationInfo: { created, creators: ['Tool: host-native/package.mjs'] },
    packages: [
      pkg('vigil', 'vigil', version, {
        supplier: 'Organization: Vigil project',
        licenseConcluded: 'Apache-2.0',
        licenseDeclared: 'Apache-2.0',
        checksums: [{ algorithm: 'SHA256', checksumValue: binarySha }],
        comment: `Static ${arch} executable (host-native) and the agent bundle; the agent has no npm runtime dependencies (esbuild bundles only agent/src).`,
      }),
      pkg('agent-bundle', 'vigil agent bundle (agent.qjsbc)', version, {
        licenseConcluded: 'Apache-2.0',
        licenseDeclared: 'Apache-2.0',
        checksums: [{ algorithm: 'SHA256', checksumValue: bytecodeSha }],
        comment: 'dist/agent.js compiled to QuickJS 2025-04-26 bytecode; no third-party npm code inside.',
      }),
      pkg('quickjs', 'quickjs', '2025.04.26-1', {
        supplier: 'Organization: Debian',
        licenseConcluded: 'MIT',
        licenseDeclared: 'MIT',
        checksums: [{ algorithm: 'SHA256', checksumValue: sha256(join(cache, 'quickjs_2025.04.26.orig.tar.xz')) }],
        comment: 'Debian trixie source package quickjs 2025.04.26-1 (upstream QuickJS 2025-04-26); checksum of the orig tarball.',
        externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: 'pkg:deb/debian/quickjs@2025.04.26-1?arch=source' }],
      }),
      pkg('mbedtls', 'mbedtls', '2.28.3-1', {
        supplier: 'Organization: Debian',
        licenseConcluded: 'Apache-2.0',
        licenseDeclared: 'Apache-2.0 OR GPL-2.0-or-later',
        checksums: [{ algorithm: 'SHA256', checksumValue: sha256(join(cache, 'mbedtls_2.28.3.orig.tar.gz')) }],
        comment: 'Debian bookworm source package mbedtls 2.28.3-1, built with host-native/src/mbedtls_config.h (TLS 1.2 client).',
        externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: 'pkg:deb/debian/mbedtls@2.28.3-1?arch=source' }],
      }),
      pkg('glibc', 'glibc (static)', libc ?? 'NOASSERTION', {
        supplier: 'Organization: Debian',
        licenseConcluded: 'LGPL-2.1-or-later',
        licenseDeclared: 'LGPL-2.1-or-later',
        comment: `Linked statically from Debian bookworm ${arch === 'aarch64' ? 'libc6-dev-arm64-cross' : 'libc6-dev-armhf-cross'}.`,
      }),
    ],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-vigil' },
      ...['agent-bundle', 'quickjs', 'mbedtls', 'glibc'].map((id) => ({ spdxElementId: 'SPDXRef-vigil', relationshipType: 'CONTAINS', relatedSpdxElement: `SPDXRef-${id}` })),
    ],
  };
}

function licenseText() {
  const own = readFileSync(join(repo, 'LICENSE'), 'utf8');
  const qjs = readFileSync(join(here, '.cache/quickjs/LICENSE'), 'utf8');
  return `${own}\n\n==== Third-party code in this package ====\n\n` +
    `QuickJS 2025-04-26 (MIT):\n\n${qjs}\n\n` +
    'mbedTLS 2.28.3 (Apache-2.0, the license above).\n\n' +
    'GNU C Library (LGPL-2.1-or-later), linked statically: its source is Debian bookworm\'s glibc source package;\n' +
    'the object files of this program are available on request to relink against a modified library.\n';
}

export function buildPackages({ skipBuild = false, release = false, env = process.env, packaging = readPackaging(), warn = console.warn } = {}) {
  if (!skipBuild) {
    execFileSync('node', ['build.mjs'], { cwd: repo, stdio: 'inherit' });
    execFileSync('bash', [join(here, 'build.sh'), 'x86_64', ...EAP_ARCHS], { cwd: here, stdio: 'inherit' });
  }
  const manifest = readJson(join(repo, 'manifest.json'));
  const pkg = readJson(join(repo, 'package.json'));
  const setup = manifest.acapPackageConf.setup;
  setup.vendorId = resolveVendorId({ env, packaging, manifestVendorId: setup.vendorId, release, warn });
  setup.compatibleOsVersions = resolveOsRanges(setup.compatibleOsVersions, packaging);
  if (setup.version !== pkg.version) throw new Error(`[vigil] [package] manifest.json version ${setup.version} differs from package.json ${pkg.version}`);
  const epoch = sourceDateEpoch();
  const bytecode = join(here, 'out/agent.qjsbc');
  const outputs = [];
  for (const arch of EAP_ARCHS) {
    const stage = join(here, `out/eap-${arch}`);
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(stage, { recursive: true });
    const binary = join(here, `out/${arch}/vigil`);
    copyFileSync(binary, join(stage, setup.appName));
    copyFileSync(bytecode, join(stage, 'agent.qjsbc'));
    const m = JSON.parse(JSON.stringify(manifest));
    delete m.$schema;
    m.acapPackageConf.setup.architecture = arch;
    // 4-space indent, no final newline: how acap-build serializes the manifest it packs
    writeFileSync(join(stage, 'manifest.json'), JSON.stringify(m, null, 4));
    const extra = ['agent.qjsbc', 'vigil.spdx.json'];
    writeFileSync(join(stage, 'package.conf'), packageConf(m, arch, extra));
    writeFileSync(join(stage, 'param.conf'), paramConf(m));
    writeFileSync(join(stage, 'LICENSE'), licenseText());
    const doc = sbom({ arch, version: setup.version, epoch, binarySha: sha256(binary), bytecodeSha: sha256(bytecode) });
    writeFileSync(join(stage, 'vigil.spdx.json'), JSON.stringify(doc, null, 2) + '\n');
    const members = [setup.appName, 'package.conf', 'param.conf', 'LICENSE', 'manifest.json', ...extra];
    for (const f of members) {
      chmodSync(join(stage, f), f === setup.appName ? 0o755 : 0o644);
      utimesSync(join(stage, f), epoch, epoch);
    }
    const base = `${(setup.friendlyName ?? setup.appName).replace(/ /g, '_')}_${setup.version.split(/[.+-]/).slice(0, 3).join('_')}_${arch}`;
    const eap = join(here, `out/${base}.eap`);
    const tar = execFileSync('tar', ['--format=gnu', '--owner=0', '--group=0', '--numeric-owner', '--sort=name', `--mtime=@${epoch}`, '-C', stage, '-cf', '-', ...members], { maxBuffer: 64 << 20 });
    const gz = execFileSync('gzip', ['-n', '-9', '-c'], { input: tar, maxBuffer: 64 << 20 });
    const problems = signingProblems(gz, { release });
    if (problems.length) throw new Error(`[vigil] [package] ${base}.eap is not ready for Axis's signing: ${problems.join('; ')}`);
    writeFileSync(eap, gz);
    writeFileSync(join(here, `out/${base}.spdx.json`), JSON.stringify(doc, null, 2) + '\n');
    outputs.push({ arch, eap, eapBytes: gz.length, binaryBytes: statSync(binary).size });
  }
  return outputs;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const release = process.argv.includes('--release') || process.env.VIGIL_RELEASE === '1';
  let outputs;
  try {
    outputs = buildPackages({ skipBuild: process.argv.includes('--skip-build'), release });
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
  let over = false;
  for (const o of outputs) {
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
    console.log(`${o.arch.padEnd(8)} binary ${kb(o.binaryBytes)} (budget ${kb(BINARY_BUDGET)})  ${o.eap.replace(repo + '/', '')} ${kb(o.eapBytes)} (budget ${kb(EAP_BUDGET)})`);
    if (o.binaryBytes > BINARY_BUDGET || o.eapBytes > EAP_BUDGET) over = true;
  }
  if (over) {
    console.error('[vigil] [package] over the size budget');
    process.exit(1);
  }
}
