// The native host's files depend on each other without a cycle, with main.c at the top (issue 11): which
// object uses which is read from the x86_64 objects themselves with `nm` (every undefined symbol of one
// host object that another one defines is an edge), so no #include can hide a dependency.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, NATIVE, ensureBuilt } from './helpers';

const OBJ = path.join(NATIVE, 'out/x86_64/obj');

/** object -> the host objects whose symbols it uses. */
function linkGraph(): Map<string, Set<string>> {
  // The objects of src/*.c (out/ may still hold one of a file since removed).
  const objects = readdirSync(path.join(NATIVE, 'src')).filter((f) => f.endsWith('.c')).map((f) => f.replace(/\.c$/, '.o'));
  const definedBy = new Map<string, string>();
  const uses = new Map<string, string[]>();
  for (const o of objects) {
    const undefinedHere: string[] = [];
    for (const line of execFileSync('nm', [path.join(OBJ, o)], { encoding: 'utf8' }).split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length === 2 && f[0] === 'U') undefinedHere.push(f[1]);
      else if (f.length === 3 && /^[TDBRCVW]$/.test(f[1])) definedBy.set(f[2], o);
    }
    uses.set(o, undefinedHere);
  }
  const graph = new Map<string, Set<string>>();
  for (const [o, symbols] of uses) {
    graph.set(o, new Set(symbols.map((s) => definedBy.get(s)).filter((d): d is string => !!d && d !== o)));
  }
  return graph;
}

/** A cycle as a path of objects, or null. */
function findCycle(graph: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const visit = (o: string, trail: string[]): string[] | null => {
    state.set(o, 'open');
    for (const d of graph.get(o) ?? []) {
      if (state.get(d) === 'open') return [...trail.slice(trail.indexOf(d)), o, d];
      if (!state.has(d)) {
        const c = visit(d, [...trail, o]);
        if (c) return c;
      }
    }
    state.set(o, 'done');
    return null;
  };
  for (const o of graph.keys()) {
    if (state.has(o)) continue;
    const c = visit(o, []);
    if (c) return c;
  }
  return null;
}

describe('the native host\'s link graph', () => {
  let graph = new Map<string, Set<string>>();
  beforeAll(() => {
    ensureBuilt();
    graph = linkGraph();
  }, BUILD_TIMEOUT_MS);

  it('is read from objects that use each other (a check that the check sees something)', () => {
    expect(graph.get('main.o')?.has('run.o')).toBe(true);
    expect(graph.get('host_net.o')?.has('runtime.o')).toBe(true);
  });

  it('has no cycle: every file depends only on files below it', () => {
    expect(findCycle(graph)).toBeNull();
  });

  it('has main.o at the top: nothing uses what main.c defines', () => {
    expect([...graph].filter(([, deps]) => deps.has('main.o')).map(([o]) => o)).toEqual([]);
  });

  it('keeps the capabilities (host_*.c) off the top-level files: main, args, run, loop', () => {
    const top = new Set(['main.o', 'args.o', 'run.o', 'loop.o']);
    const offenders = [...graph].filter(([o]) => o.startsWith('host_')).flatMap(([o, deps]) => [...deps].filter((d) => top.has(d)).map((d) => `${o} -> ${d}`));
    expect(offenders).toEqual([]);
  });
});
