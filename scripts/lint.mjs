#!/usr/bin/env node
// Checks the architecture's one rule: dependencies point inward (DESIGN.md, Layout).
// - agent/ (code, not its tests) imports only files inside agent/, never Node or npm packages: it runs in QuickJS.
// - host-sim/, host-native/ and fleet/ code may import from agent/ only its public types: host.ts and report/.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[^.\w])import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;
const AGENT_PUBLIC = [/^agent\/src\/host\.ts$/, /^agent\/src\/report\/types\.ts$/];

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'testdata' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !/\.d\.m?ts$/.test(name)) out.push(p);
  }
  return out;
}

function isTest(rel) {
  return /\.test\.ts$/.test(rel) || /(^|\/)test\//.test(rel) && !/^agent\/test\//.test(rel);
}

/** Returns the list of violations under root, as `file: message` lines. */
export function lintImports(root) {
  const problems = [];
  const toRel = (p) => relative(root, p).split(sep).join('/');
  for (const top of ['agent', 'host-sim', 'host-native', 'fleet']) {
    let files = [];
    try {
      files = walk(join(root, top));
    } catch {
      continue;
    }
    for (const file of files) {
      const rel = toRel(file);
      if (isTest(rel)) continue;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT_RE)) {
        const spec = m[1] ?? m[2] ?? m[3];
        const target = spec.startsWith('.') ? toRel(resolve(dirname(file), spec)) : null;
        const withTs = target && !/\.(ts|mts|js|mjs|json)$/.test(target) ? `${target}.ts` : target;
        if (top === 'agent') {
          // agent/test/ helpers (FakeHost, the contract suite) are portable too: same rule as agent/src.
          if (!target) problems.push(`${rel}: imports "${spec}"; the agent imports nothing outside agent/`);
          else if (!target.startsWith('agent/')) problems.push(`${rel}: imports ${target}; the agent imports nothing outside agent/`);
        } else if (target && target.startsWith('agent/') && !AGENT_PUBLIC.some((re) => re.test(withTs))) {
          problems.push(`${rel}: imports ${target}; outside agent/ only agent/src/host.ts and agent/src/report/types.ts may be imported`);
        }
      }
    }
  }
  return problems;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const problems = lintImports(root);
  for (const p of problems) console.error(`[vigil] [lint] ${p}`);
  if (problems.length > 0) process.exit(1);
  console.log('[vigil] [lint] imports point inward');
}
