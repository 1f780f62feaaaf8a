/**
 * Sizes: dist/agent.js (minified, gzip), its bytecode, the native binary per architecture and the .eap per
 * architecture, each against a baseline built in the same run with the same tools and flags:
 *   - a hello-world bundle (bench/fixtures/hello.ts) through the same esbuild options and `vigil --compile`;
 *   - QuickJS alone (bench/c/qjs-min.c linked with host-native's own QuickJS objects, same flags, static, stripped);
 *   - an .eap of the same layout holding QuickJS alone and the hello-world bytecode.
 * So each ratio says what the agent (or the host around the engine) adds.
 * Usage: tsx bench/sizes.ts [--no-build] [--quick]
 */
import { build } from 'esbuild';
import { agentOptions, quickjsOptions } from '../build.mjs';
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { NATIVE_BIN, OUT, QUICK, REPO, ensureDir, kib, log, machine, mib, ratio, run, writeResult, type Row } from './lib';

const SCRIPT = 'sizes';
const KB = 1024;
const ARCHS = ['x86_64', 'aarch64', 'armv7hf'] as const;
const EAP_ARCHS = ['aarch64', 'armv7hf'] as const;
const CC: Record<string, [string, string]> = {
  x86_64: ['gcc', 'strip'],
  aarch64: ['aarch64-linux-gnu-gcc', 'aarch64-linux-gnu-strip'],
  armv7hf: ['arm-linux-gnueabihf-gcc', 'arm-linux-gnueabihf-strip'],
};
const CMD = 'npm run bench -- sizes';

export async function main(): Promise<void> {
  const m = machine();
  const startedAt = new Date().toISOString();
  const out = ensureDir(path.join(OUT, 'sizes'));
  const noBuild = process.argv.includes('--no-build');
  if (!noBuild) {
    log(SCRIPT, 'building: node host-native/package.mjs (= npm run package: esbuild, native builds, .eap)');
    try {
      run('node', ['host-native/package.mjs']);
    } catch (err) {
      // Over a size budget exits 1 after writing everything: measure what was built.
      log(SCRIPT, `npm run package said: ${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? (err as Error).message}`);
    }
  }
  const agentJs = path.join(REPO, 'dist/agent.js');
  const agentBytes = statSync(agentJs).size;
  const agentGz = gzipSync(readFileSync(agentJs), { level: 9 }).length;

  // Baseline bundle through the same esbuild options as build.mjs (its exported options, not a copy).
  const helloJs = path.join(out, 'hello.js');
  await build({ ...quickjsOptions, entryPoints: [path.join(REPO, 'bench/fixtures/hello.ts')], outfile: helloJs, minify: true });
  const helloBytes = statSync(helloJs).size;
  const helloGz = gzipSync(readFileSync(helloJs), { level: 9 }).length;
  const helloBc = path.join(out, 'hello.qjsbc');
  run(NATIVE_BIN, ['--compile', helloJs, helloBc]);
  const bcBytes = statSync(path.join(REPO, 'host-native/out/agent.qjsbc')).size;
  const helloBcBytes = statSync(helloBc).size;

  // QuickJS alone, per architecture, from host-native's own objects.
  const engine: Record<string, number> = {};
  const binary: Record<string, number> = {};
  for (const arch of ARCHS) {
    const obj = path.join(REPO, `host-native/out/${arch}/obj`);
    const qjsObjs = readdirSync(obj).filter((f) => f.startsWith('qjs-') && f.endsWith('.o')).map((f) => path.join(obj, f));
    const [cc, strip] = CC[arch];
    const exe = path.join(out, `qjs-min-${arch}`);
    const flags = ['-Os', '-D_FILE_OFFSET_BITS=64', '-ffunction-sections', '-fdata-sections', '-fno-asynchronous-unwind-tables', '-fno-unwind-tables', '-fwrapv', '-D_GNU_SOURCE'];
    run(cc, [...flags, '-isystem', path.join(REPO, 'host-native/.cache/quickjs'), '-c', '-o', exe + '.o', path.join(REPO, 'bench/c/qjs-min.c')]);
    run(cc, ['-static', '-Wl,--gc-sections', '-Wl,--build-id=none', '-o', exe + '-unstripped', exe + '.o', ...qjsObjs, '-lm']);
    run(strip, ['-s', '-o', exe, exe + '-unstripped']);
    engine[arch] = statSync(exe).size;
    binary[arch] = statSync(path.join(REPO, `host-native/out/${arch}/vigil`)).size;
  }

  // .eap: the real one, and the same layout with QuickJS alone + hello bytecode, tar + gzip -9 like package.mjs.
  const eap: Record<string, number> = {};
  const eapBase: Record<string, number> = {};
  for (const arch of EAP_ARCHS) {
    const real = readdirSync(path.join(REPO, 'host-native/out')).find((f) => f.endsWith(`_${arch}.eap`));
    if (!real) throw new Error(`[vigil] [bench] no .eap for ${arch} in host-native/out (run npm run package)`);
    eap[arch] = statSync(path.join(REPO, 'host-native/out', real)).size;
    const stage = path.join(REPO, `host-native/out/eap-${arch}`);
    const base = path.join(out, `eap-base-${arch}`);
    rmSync(base, { recursive: true, force: true });
    ensureDir(base);
    const members = readdirSync(stage).sort();
    for (const f of members) copyFileSync(path.join(stage, f), path.join(base, f));
    copyFileSync(path.join(out, `qjs-min-${arch}`), path.join(base, 'vigil'));
    copyFileSync(helloBc, path.join(base, 'agent.qjsbc'));
    const tar = run('bash', ['-c', `tar --format=gnu --owner=0 --group=0 --numeric-owner --sort=name --mtime=@0 -C '${base}' -cf - ${members.join(' ')} | gzip -n -9 -c | wc -c`]);
    eapBase[arch] = Number(tar.trim());
  }

  // What the minified bundle is made of: esbuild's metafile, same options as build.mjs, bytes per source file.
  const meta = await build({ ...agentOptions, outfile: path.join(out, 'agent-meta.js'), metafile: true, write: true, logLevel: 'silent' });
  const inputs = Object.values(meta.metafile.outputs).flatMap((o) => Object.entries(o.inputs));
  const byDir = new Map<string, number>();
  for (const [file, info] of inputs) {
    const key = file.replace(/^agent\/src\//, '').replace(/\/[^/]+$/, '/') || file;
    byDir.set(key, (byDir.get(key) ?? 0) + info.bytesInOutput);
  }
  const topFiles = inputs.sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput).slice(0, 8).map(([f, i]) => `${f.replace(/^agent\/src\//, '')} ${kib(i.bytesInOutput)}`);
  const dirs = [...byDir.entries()].sort((a, b) => b[1] - a[1]).map(([d, n]) => `${d} ${kib(n)}`);

  const rows: Row[] = [
    {
      id: 'a1', what: 'dist/agent.js, minified', budget: '≤ 64 KiB (aim 40 KiB)', measured: `${agentBytes.toLocaleString('en-US')} B (${kib(agentBytes)})`,
      baseline: `hello-world bundle ${helloBytes} B`, ratio: `+${kib(agentBytes - helloBytes)}`, verdict: agentBytes <= 64 * KB ? 'met' : 'miss', command: `${CMD}   # or: node build.mjs && wc -c dist/agent.js`,
      note: agentBytes > 40 * KB ? `${kib(agentBytes - 40 * KB)} over the 40 KiB aim; ${kib(64 * KB - agentBytes)} left under the budget` : undefined,
    },
    {
      id: 'a2', what: 'dist/agent.js, gzip -9', budget: '— (none)', measured: `${agentGz.toLocaleString('en-US')} B (${kib(agentGz)})`,
      baseline: `the minified dist/agent.js ${agentBytes.toLocaleString('en-US')} B (hello-world gzip ${helloGz} B)`, ratio: `${(agentBytes / agentGz).toFixed(2)}:1 compression`, verdict: 'info', command: CMD,
    },
    {
      id: 'a3', what: 'bytecode host-native/out/agent.qjsbc', budget: '— (inside the .eap budget)', measured: `${bcBytes.toLocaleString('en-US')} B (${kib(bcBytes)})`,
      baseline: `the minified dist/agent.js ${agentBytes.toLocaleString('en-US')} B (hello-world bytecode ${helloBcBytes} B)`, ratio: `${ratio(bcBytes, agentBytes)} of the minified source`, verdict: 'info', command: `${CMD}   # or: host-native/build.sh x86_64`,
    },
    ...ARCHS.map((arch): Row => ({
      id: `b-${arch}`, what: `native binary, static, stripped: ${arch}${arch === 'x86_64' ? ' (tests only, not shipped)' : ''}`,
      budget: arch === 'x86_64' ? '— (no .eap for x86_64)' : '≤ 1.5 MiB', measured: `${binary[arch].toLocaleString('en-US')} B (${mib(binary[arch])})`,
      baseline: `QuickJS alone ${engine[arch].toLocaleString('en-US')} B (${mib(engine[arch])})`, ratio: `${ratio(binary[arch], engine[arch])} (host + mbedTLS +${kib(binary[arch] - engine[arch])})`,
      verdict: arch === 'x86_64' ? 'info' : binary[arch] <= 1.5 * 1024 * KB ? 'met' : 'miss', command: `${CMD}   # or: host-native/build.sh ${arch} && stat -c %s host-native/out/${arch}/vigil`,
    })),
    ...EAP_ARCHS.map((arch): Row => ({
      id: `c-${arch}`, what: `.eap ${arch}`, budget: '≤ 800 KiB', measured: `${eap[arch].toLocaleString('en-US')} B (${kib(eap[arch])})`,
      baseline: `same layout, QuickJS alone + hello bytecode ${eapBase[arch].toLocaleString('en-US')} B`, ratio: `${ratio(eap[arch], eapBase[arch])} (+${kib(eap[arch] - eapBase[arch])})`,
      verdict: eap[arch] <= 800 * KB ? 'met' : 'miss', command: `${CMD}   # or: npm run package`,
      note: eap[arch] > 800_000 && eap[arch] <= 800 * KB ? `met as 800 KiB (package.mjs checks 800×1024); over 800,000 B if "KB" means 1000` : undefined,
    })),
  ];
  const notes = [`dist/agent.js by folder (esbuild metafile, minified bytes): ${dirs.join(', ')}`, `largest files: ${topFiles.join(', ')}`];
  writeResult({ script: SCRIPT, order: 1, quick: QUICK, startedAt, machine: m, rows, notes });
  for (const n of notes) log(SCRIPT, n);
  for (const r of rows) log(SCRIPT, `${r.what}: ${r.measured} | ${r.baseline} | ${r.ratio} | ${r.verdict}`);
}

if (process.argv[1] && process.argv[1].endsWith("sizes.ts")) await main();
