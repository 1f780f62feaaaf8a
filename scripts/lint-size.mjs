// One concept per file: a source file past ~450 lines is asking to be split (issue 11). Counts the lines of
// every tracked-looking source file under the project's folders; generated files are named here, with why.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export const MAX_LINES = 450;
const SOURCE_RE = /\.(ts|mts|js|mjs|c|h|py|sh)$/;
const TOPS = ['agent', 'host-sim', 'host-native', 'fleet', 'cli', 'schemas', 'test', 'bench', 'scripts', 'bin'];
const SKIP_DIRS = new Set(['node_modules', 'testdata', 'out', 'dist', 'corpus', 'regressions', 'profiles']);
/** Generated files, exempt: none today. */
const GENERATED = new Set([]);

function walk(dir, out) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (SKIP_DIRS.has(name) || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (SOURCE_RE.test(name)) out.push(p);
  }
  return out;
}

/** Returns `file: message` lines for source files under root longer than max lines. */
export function lintFileSizes(root, max = MAX_LINES) {
  const problems = [];
  for (const top of TOPS) {
    for (const file of walk(join(root, top), [])) {
      const rel = relative(root, file).split(sep).join('/');
      if (GENERATED.has(rel)) continue;
      const text = readFileSync(file, 'utf8');
      const lines = text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
      if (lines > max) problems.push(`${rel}: ${lines} lines, past ${max}; split it along a concept it already names`);
    }
  }
  return problems;
}
