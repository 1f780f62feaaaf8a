import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lintImports } from '../scripts/lint.mjs';
import { lintNativeLinks } from '../scripts/lint-native.mjs';
import { lintFileSizes } from '../scripts/lint-size.mjs';

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

describe('the command line above both parts', () => {
  function lint(files: Record<string, string>): string[] {
    const root = tree(files);
    try {
      return lintImports(root);
    } finally {
      rmSync(root, { recursive: true });
    }
  }

  it('rejects host-sim importing fleet and fleet importing host-sim, tests included', () => {
    expect(
      lint({
        'host-sim/src/a.ts': "import { startFleet } from '../../fleet/src/fleet';\n",
        'fleet/test/b.test.ts': "import { startEmbeddedBroker } from '../../host-sim/src/broker';\n",
        'fleet/src/fleet.ts': 'export const startFleet = 1;\n',
        'host-sim/src/broker.ts': 'export const startEmbeddedBroker = 1;\n',
      }),
    ).toEqual([
      expect.stringContaining('host-sim/src/a.ts: imports fleet/src/fleet.ts; host-sim/ never imports fleet/'),
      expect.stringContaining('fleet/test/b.test.ts: imports host-sim/src/broker.ts; fleet/ never imports host-sim/'),
    ]);
  });

  it('rejects a fleet test that reaches the simulator through a shared test helper', () => {
    expect(
      lint({
        'fleet/test/a.test.ts': "import { start } from '../../test/helpers/sim';\n",
        'test/helpers/sim.ts': "export { start } from '../../host-sim/src/camera';\n",
        'host-sim/src/camera.ts': 'export const start = 1;\n',
      }),
    ).toEqual([expect.stringContaining('fleet/test/a.test.ts: imports test/helpers/sim.ts, which reaches host-sim/ (test/helpers/sim.ts → host-sim/src/camera.ts)')]);
  });

  it('lets cli/ and end-to-end tests import both parts, and every test use a neutral helper from test/helpers/', () => {
    expect(
      lint({
        'cli/demo.ts': "import { a } from '../host-sim/src/a';\nimport { b } from '../fleet/src/b';\nimport { c } from './broker';\n",
        'cli/broker.ts': "import { Aedes } from 'aedes';\n",
        'test/e2e/x.test.ts': "import { a } from '../../host-sim/src/a';\nimport { b } from '../../fleet/src/b';\n",
        'test/helpers/broker.ts': "export { c } from '../../cli/broker';\n",
        'fleet/test/b.test.ts': "import { c } from '../../test/helpers/broker';\n",
        'host-sim/test/a.test.ts': "import { c } from '../../test/helpers/broker';\n",
        'host-sim/src/a.ts': 'export const a = 1;\n',
        'fleet/src/b.ts': 'export const b = 1;\n',
      }),
    ).toEqual([]);
  });

  it('rejects other code importing both parts, and a part importing cli/', () => {
    expect(
      lint({
        'scripts/x.mjs': "import { a } from '../host-sim/src/a.ts';\nimport { b } from '../fleet/src/b.ts';\n",
        'fleet/src/c.ts': "import { demo } from '../../cli/demo';\n",
        'cli/demo.ts': 'export const demo = 1;\n',
        'host-sim/src/a.ts': 'export const a = 1;\n',
        'fleet/src/b.ts': 'export const b = 1;\n',
      }),
    ).toEqual([
      expect.stringContaining('fleet/src/c.ts: imports cli/demo.ts; cli/ sits above the parts'),
      expect.stringContaining('scripts/x.mjs: imports both host-sim/ and fleet/; only cli/ puts the two together'),
    ]);
  });

  it('rejects product code importing test helpers, and lets tests use them', () => {
    expect(
      lint({
        'cli/broker.ts': "import { waitUntil } from '../test/helpers/wait';\n",
        'fleet/src/a.ts': "import { x } from '../test/helpers';\n",
        'fleet/test/helpers.ts': 'export const x = 1;\n',
        'fleet/test/a.test.ts': "import { waitUntil } from '../../test/helpers/wait';\n",
        'test/helpers/wait.ts': 'export const waitUntil = 1;\n',
      }),
    ).toEqual([
      expect.stringContaining('fleet/src/a.ts: imports fleet/test/helpers.ts; product code never imports test code'),
      expect.stringContaining('cli/broker.ts: imports test/helpers/wait.ts; product code never imports test code'),
    ]);
  });

  it('lets every part but the agent import schemas/, which imports nothing of the project', () => {
    expect(
      lint({
        'fleet/src/validate.ts': "import { schemaValidator } from '../../schemas/validator';\n",
        'host-sim/src/profiles.ts': "import { schemaValidator } from '../../schemas/validator';\n",
        'host-native/test/m.test.ts': "import { schemaValidator } from '../../schemas/validator';\n",
        'test/helpers/schemas.ts': "import { schemaValidator } from '../../schemas/validator';\n",
        'schemas/validator.ts': "import Ajv from 'ajv';\nimport { readFileSync } from 'node:fs';\n",
      }),
    ).toEqual([]);
    expect(
      lint({
        'agent/src/x.ts': "import { schemaValidator } from '../../schemas/validator';\n",
        'schemas/validator.ts': "import { log } from '../fleet/src/log';\n",
        'fleet/src/log.ts': 'export const log = 1;\n',
      }),
    ).toEqual([
      expect.stringContaining('agent/src/x.ts: imports schemas/validator.ts; the agent imports nothing outside agent/'),
      expect.stringContaining("schemas/validator.ts: imports fleet/src/log.ts; schemas/ is a leaf"),
    ]);
  });
});

describe('the native host link graph', () => {
  it('finds no dependency cycle between the C files of the repository, and nothing depending on main.c', () => {
    expect(lintNativeLinks(resolve(__dirname, '..'))).toEqual([]);
  });

  it('rejects a C file that uses what main.c defines (the old include cycle through main.c)', () => {
    const root = tree({
      'host-native/src/host.h': 'extern int vigil_budget;\nvoid vigil_fs_init(void);\n',
      'host-native/src/main.c': '#include "host.h"\nint vigil_budget = 5;\nint main(void) { vigil_fs_init(); return 0; }\n',
      'host-native/src/host_fs.c': '#include "host.h"\nvoid vigil_fs_init(void) {\n    (void)vigil_budget;\n}\n',
    });
    try {
      const problems = lintNativeLinks(root);
      expect(problems).toContainEqual(expect.stringContaining('host-native/src/host_fs.c: uses what main.c defines'));
      expect(problems).toContainEqual(expect.stringContaining('(host_fs.c → main.c → host_fs.c)'));
    } finally {
      rmSync(root, { recursive: true });
    }
  });

  it('rejects two C files that depend on each other, and accepts them once the shared part has its own file', () => {
    const cyclic = {
      'host-native/src/a.h': 'void a_run(void);\n',
      'host-native/src/b.h': 'int b_value(void);\n',
      'host-native/src/a.c': '#include "a.h"\n#include "b.h"\nvoid a_run(void) { b_value(); }\nint a_helper(void) { return 1; }\n',
      'host-native/src/b.c': '#include "a.h"\n#include "b.h"\nint b_value(void) {\n    a_run();\n    return 0;\n}\n',
    };
    const root = tree(cyclic);
    const fixed = tree({ ...cyclic, 'host-native/src/b.c': '#include "b.h"\nint b_value(void) {\n    return 0; /* a_run() no more */\n}\n' });
    try {
      expect(lintNativeLinks(root)).toEqual([expect.stringContaining('a dependency cycle between C files (a.c → b.c → a.c)')]);
      expect(lintNativeLinks(fixed)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true });
      rmSync(fixed, { recursive: true });
    }
  });
});

describe('file sizes', () => {
  it('finds no source file in the repository past 450 lines', () => {
    expect(lintFileSizes(resolve(__dirname, '..'))).toEqual([]);
  });

  it('rejects a source file one line past the limit and accepts one at it, data and fixtures not counted', () => {
    const lines = (n: number) => 'x;\n'.repeat(n);
    const root = tree({
      'fleet/src/long.ts': lines(451),
      'fleet/src/full.ts': lines(450),
      'host-native/src/long.c': lines(451),
      'agent/src/collectors/x/testdata/valid/big.sh': lines(900),
      'schemas/big.json': lines(900),
    });
    try {
      expect(lintFileSizes(root).sort()).toEqual([
        'fleet/src/long.ts: 451 lines, past 450; split it along a concept it already names',
        'host-native/src/long.c: 451 lines, past 450; split it along a concept it already names',
      ]);
    } finally {
      rmSync(root, { recursive: true });
    }
  });
});
