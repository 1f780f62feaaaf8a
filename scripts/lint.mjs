#!/usr/bin/env node
// Checks the architecture's rules: dependencies point inward (DESIGN.md, Layout).
// - agent/ (code, not its tests) imports only files inside agent/, never Node or npm packages: it runs in QuickJS.
// - host-sim/, host-native/, fleet/, cli/ and schemas/ code may import from agent/ only its public types: host.ts and report/.
// - host-sim/ and fleet/ never reach each other, tests included, not even through a shared helper; cli/ is the
//   only code that imports both, and no part imports cli/ (it sits above them).
// - schemas/ is a leaf: everyone but the agent may import it, and it imports nothing of the project's.
// - Product code never imports test code (test/, <part>/test/, *.test.ts, bench/).
// - The native host's C files depend on each other without a cycle, main.c at the top (lint-native.mjs).
// - No source file is past ~450 lines (lint-size.mjs).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lintNativeLinks } from './lint-native.mjs';
import { lintFileSizes } from './lint-size.mjs';

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[^.\w])import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;
// The agent's public surface: the Host seam, the report types, the signed-command wire format (the fleet signs
// the very text the agent verifies, so one definition keeps the two from drifting apart), and the report
// interval's bounds (the fleet holds a report's claimed interval and its set-interval command to the agent's rule).
const AGENT_PUBLIC = [/^agent\/src\/host\.ts$/, /^agent\/src\/report\/types\.ts$/, /^agent\/src\/command-signature\.ts$/, /^agent\/src\/interval-bounds\.ts$/];
const TOPS = ['agent', 'host-sim', 'host-native', 'fleet', 'cli', 'schemas', 'test', 'bench', 'scripts', 'bin'];
/** The two parts that never reach each other; cli/ puts them together. */
const SEPARATE = { 'host-sim': 'fleet', fleet: 'host-sim' };
const PARTS = ['agent', 'host-sim', 'host-native', 'fleet', 'schemas'];
const SOURCE_RE = /\.(ts|mts|js|mjs)$/;

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'testdata' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (SOURCE_RE.test(name) && !/\.d\.m?ts$/.test(name)) out.push(p);
  }
  return out;
}

/** Tests and what only tests use: *.test.ts, any test/ folder, and the benchmark rigs in bench/. */
function isTestSide(rel) {
  return /\.test\.ts$/.test(rel) || /(^|\/)test\//.test(rel) || rel.startsWith('bench/');
}

/** Test code exempt from the product rules; agent/test/ helpers (FakeHost, the contract suite) are portable agent code. */
function isTest(rel) {
  return /\.test\.ts$/.test(rel) || (isTestSide(rel) && !/^agent\/test\//.test(rel));
}

const topOf = (rel) => rel.split('/')[0];

/** Returns the list of violations under root, as `file: message` lines. */
export function lintImports(root) {
  const toRel = (p) => relative(root, p).split(sep).join('/');
  const files = [];
  for (const top of TOPS) {
    if (existsSync(join(root, top))) files.push(...walk(join(root, top)));
  }
  // file -> [{ spec, target }]: target is the repository path it resolves to, or null for a package.
  const graph = new Map();
  for (const file of files) {
    const rel = toRel(file);
    const text = readFileSync(file, 'utf8');
    const edges = [];
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[1] ?? m[2] ?? m[3];
      edges.push({ spec, target: spec.startsWith('.') ? resolveTarget(root, toRel(resolve(dirname(file), spec))) : null });
    }
    graph.set(rel, edges);
  }

  // The first chain of imports from `start` into `part`, or null (depth first, each file once).
  const reach = (start, part) => {
    const seen = new Set([start]);
    const visit = (rel) => {
      for (const { target } of graph.get(rel) ?? []) {
        if (!target || seen.has(target)) continue;
        seen.add(target);
        if (topOf(target) === part) return [target];
        const rest = graph.has(target) ? visit(target) : null;
        if (rest) return [target, ...rest];
      }
      return null;
    };
    return visit(start);
  };

  const problems = [];
  for (const [rel, edges] of graph) {
    const top = topOf(rel);
    const test = isTest(rel);
    const say = (message) => problems.push(`${rel}: ${message}`);
    for (const { spec, target } of edges) {
      const targetTop = target && topOf(target);
      if (top === 'agent' && !test) {
        if (!target) say(`imports "${spec}"; the agent imports nothing outside agent/`);
        else if (targetTop !== 'agent') say(`imports ${target}; the agent imports nothing outside agent/`);
        continue;
      }
      if (!target) continue;
      if (!test && targetTop === 'agent' && ['host-sim', 'host-native', 'fleet', 'cli', 'schemas'].includes(top) && !AGENT_PUBLIC.some((re) => re.test(target))) {
        say(`imports ${target}; outside agent/ only agent/src/host.ts, agent/src/report/types.ts, agent/src/command-signature.ts and agent/src/interval-bounds.ts may be imported`);
      }
      if (top === 'schemas' && !test && targetTop !== 'schemas') say(`imports ${target}; schemas/ is a leaf that imports nothing of the project's`);
      if (PARTS.includes(top) && targetTop === 'cli') say(`imports ${target}; cli/ sits above the parts and none of them imports it (tests use test/helpers/)`);
      if (!isTestSide(rel) && isTestSide(target)) say(`imports ${target}; product code never imports test code (test/, */test/, *.test.ts, bench/)`);
      const other = SEPARATE[top];
      if (other && targetTop === other) {
        say(`imports ${target}; ${top}/ never imports ${other}/ (tests included: shared test helpers live in test/helpers/)`);
      } else if (other && targetTop !== top && graph.has(target)) {
        const chain = reach(target, other);
        if (chain) say(`imports ${target}, which reaches ${other}/ (${[target, ...chain].join(' → ')}); ${top}/ never reaches ${other}/, tests included`);
      }
    }
    // (host-sim/ and fleet/ files that do are told so above.)
    if (top !== 'cli' && !SEPARATE[top] && !isTestSide(rel)) {
      const tops = new Set(edges.map((e) => e.target && topOf(e.target)));
      if (tops.has('host-sim') && tops.has('fleet')) say('imports both host-sim/ and fleet/; only cli/ puts the two together');
    }
  }
  return problems;
}

/** The repository path an import of `target` (extension optional) loads. */
function resolveTarget(root, target) {
  if (/\.(ts|mts|js|mjs|json)$/.test(target)) return target;
  for (const candidate of [`${target}.ts`, `${target}.mts`, `${target}/index.ts`]) if (existsSync(join(root, candidate))) return candidate;
  return `${target}.ts`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const problems = [...lintImports(root), ...lintNativeLinks(root), ...lintFileSizes(root)];
  for (const p of problems) console.error(`[vigil] [lint] ${p}`);
  if (problems.length > 0) process.exit(1);
  console.log('[vigil] [lint] imports point inward; the native host has no dependency cycle; no source file is too long');
}
