// The native host's link graph, read from its sources: which .c file uses a function or global that another
// .c file defines (declared in a header). It must be a DAG with main.c at the top: nothing depends on main.c,
// and no two files depend on each other through any chain (issue 11: the 7-file cycle through main.c).
// host-native/test/link-graph.native.test.ts checks the same on the built objects with nm.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const COMMENT_RE = /\/\*[\s\S]*?\*\/|\/\/[^\n]*/g;
const STRING_RE = /"(?:[^"\\\n]|\\.)*"/g;
/** A prototype or extern declaration in a header: `type name(...);` or `extern type name;`. */
const DECL_RE = /(?:^|\n)\s*(?:extern\s+)?[A-Za-z_][\w\s*]*?\b([A-Za-z_]\w*)\s*(?:\([^;{]*\)\s*(?:__attribute__\s*\(\([^;]*\)\))?\s*;|(?:\[[^\]]*\])?\s*;)/g;

const strip = (text) => text.replace(COMMENT_RE, ' ').replace(STRING_RE, '""');

/** Returns the problems, as `file: message` lines, for the C files in `dir` (relative to root). */
export function lintNativeLinks(root, dir = 'host-native/src') {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  const names = readdirSync(abs).sort();
  const sources = new Map(names.filter((n) => n.endsWith('.c')).map((n) => [n, strip(readFileSync(join(abs, n), 'utf8'))]));
  const declared = new Set();
  for (const h of names.filter((n) => n.endsWith('.h'))) {
    for (const m of strip(readFileSync(join(abs, h), 'utf8')).matchAll(DECL_RE)) declared.add(m[1]);
  }
  // Who defines each declared symbol: a function body at the start of a line, or a global without extern.
  const definer = new Map();
  for (const [file, text] of sources) {
    for (const symbol of declared) {
      const fn = new RegExp(`(?:^|\\n)[A-Za-z_][^\\n;]*\\b${symbol}\\s*\\([^;]*?\\)\\s*\\{`);
      const global = new RegExp(`(?:^|\\n)(?!extern)[A-Za-z_][\\w\\s*]*\\b${symbol}\\s*(?:\\[[^\\]]*\\])?\\s*(?:=|;)`);
      if (fn.test(text) || global.test(text)) definer.set(symbol, file);
    }
  }
  const edges = new Map();
  for (const [file, text] of sources) {
    const deps = new Set();
    for (const [symbol, owner] of definer) {
      if (owner !== file && new RegExp(`\\b${symbol}\\b`).test(text)) deps.add(owner);
    }
    edges.set(file, deps);
  }
  const problems = [];
  for (const [file, deps] of edges) {
    if (deps.has('main.c')) problems.push(`${dir}/${file}: uses what main.c defines; main.c is the top of the host and nothing depends on it`);
  }
  // Cycles, depth first; each reported once by its chain.
  const state = new Map();
  const stack = [];
  const visit = (file) => {
    state.set(file, 'open');
    stack.push(file);
    for (const dep of edges.get(file) ?? []) {
      if (state.get(dep) === 'open') {
        const chain = [...stack.slice(stack.indexOf(dep)), dep];
        problems.push(`${dir}/${dep}: a dependency cycle between C files (${chain.join(' → ')}); give what they share its own file`);
      } else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of edges.keys()) if (!state.has(file)) visit(file);
  return problems;
}
