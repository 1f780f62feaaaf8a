import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lintImports } from '../scripts/lint.mjs';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'vigil-lint-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('import direction', () => {
  it('finds no wrong-way import in the repository', () => {
    expect(lintImports(resolve(__dirname, '..'))).toEqual([]);
  });

  it('rejects a Node import in the agent', () => {
    const root = tree({ 'agent/src/x.ts': "import { readFileSync } from 'node:fs';\n" });
    try {
      expect(lintImports(root)).toEqual([expect.stringContaining('agent/src/x.ts: imports "node:fs"')]);
    } finally {
      rmSync(root, { recursive: true });
    }
  });

  it('rejects an agent import of another top-level folder', () => {
    const root = tree({ 'agent/src/x.ts': "import { y } from '../../fleet/src/y';\n", 'fleet/src/y.ts': 'export const y = 1;\n' });
    try {
      expect(lintImports(root)).toEqual([expect.stringContaining('imports fleet/src/y')]);
    } finally {
      rmSync(root, { recursive: true });
    }
  });

  it('rejects a fleet import of agent internals but accepts its public types', () => {
    const root = tree({
      'fleet/src/a.ts': "import type { Report } from '../../agent/src/report/types';\nimport { Agent } from '../../agent/src/agent';\n",
    });
    try {
      expect(lintImports(root)).toEqual([expect.stringContaining('fleet/src/a.ts: imports agent/src/agent')]);
    } finally {
      rmSync(root, { recursive: true });
    }
  });

  it('lets tests import whatever they need', () => {
    const root = tree({ 'agent/src/x.test.ts': "import { describe } from 'vitest';\n" });
    try {
      expect(lintImports(root)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true });
    }
  });
});
