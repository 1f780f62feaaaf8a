#!/usr/bin/env node
// Bundles the agent for QuickJS: agent/src/main.ts -> dist/agent.js, one minified IIFE.
// Also bundles the host contract suite (dist/host-contract.js) so it can run inside each host's engine.
// Fails when the agent is over its size budget (DESIGN.md: 64 KB, aim 40 KB); warns past 60 KiB, so the
// last few KB of headroom are noticed while there is still time to make room.
import { build } from 'esbuild';
import { readFileSync, statSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(fileURLToPath(import.meta.url));
const AGENT_BUDGET_BYTES = 64 * 1024;
const AGENT_WARN_BYTES = 60 * 1024;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/**
 * QuickJS (2025-04-26 natively, 2025-09-13 in wasm) runs ES2022; nothing from Node or the DOM. Exported so
 * that tests bundling their own entries for QuickJS (host-sim/test/helpers.ts) build exactly the same way.
 */
export const quickjsOptions = {
  bundle: true,
  format: 'iife',
  platform: 'neutral',
  target: 'es2022',
  mainFields: ['module', 'main'],
  legalComments: 'none',
  define: { __VIGIL_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
};

export async function buildAgent() {
  mkdirSync(join(root, 'dist'), { recursive: true });
  await build({
    ...quickjsOptions,
    entryPoints: [join(root, 'agent/src/main.ts')],
    outfile: join(root, 'dist/agent.js'),
    minify: true,
    sourcemap: 'external',
  });
  await build({
    ...quickjsOptions,
    entryPoints: [join(root, 'agent/test/host-contract-entry.ts')],
    outfile: join(root, 'dist/host-contract.js'),
    minify: false,
  });
  const bytes = statSync(join(root, 'dist/agent.js')).size;
  const gz = gzipSync(readFileSync(join(root, 'dist/agent.js')), { level: 9 }).length;
  return { bytes, gz };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { bytes, gz } = await buildAgent();
  const kb = (n) => (n / 1024).toFixed(1) + ' KB';
  console.log(`dist/agent.js ${kb(bytes)} minified, ${kb(gz)} gzip (budget ${kb(AGENT_BUDGET_BYTES)})`);
  if (bytes > AGENT_BUDGET_BYTES) {
    console.error(`[vigil] [build] dist/agent.js is ${bytes} bytes, over the ${AGENT_BUDGET_BYTES}-byte budget`);
    process.exit(1);
  }
  if (bytes > AGENT_WARN_BYTES) {
    console.warn(
      `[vigil] [build] warning: dist/agent.js is ${bytes} bytes, past ${AGENT_WARN_BYTES} (60 KiB); ${AGENT_BUDGET_BYTES - bytes} bytes ` +
        `left before the ${AGENT_BUDGET_BYTES}-byte budget fails the build`,
    );
  }
}
