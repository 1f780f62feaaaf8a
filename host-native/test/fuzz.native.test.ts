// The coverage-guided fuzzers over the native host's input paths (fuzz/README.md): each one replays the
// inputs of the bugs it found (fuzz/regressions/<fuzzer>/<bug>) and then fuzzes for a bounded time
// (VIGIL_FUZZ_SECONDS, default 20 s each). A crash, sanitizer report, leak or hang fails the test.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { NATIVE } from './helpers';

const FUZZ = path.join(NATIVE, 'fuzz');
const FUZZERS = ['fuzz_dbus', 'fuzz_dns', 'fuzz_config', 'fuzz_js'];
const SECONDS = Number(process.env.VIGIL_FUZZ_SECONDS ?? 20);
const BUNDLE = path.join(NATIVE, 'out/fuzz/fuzz-parsers.js');

function regressions(fuzzer: string): string[] {
  try {
    return readdirSync(path.join(FUZZ, 'regressions', fuzzer)).sort();
  } catch {
    return [];
  }
}

beforeAll(() => {
  execFileSync('bash', [path.join(FUZZ, 'build.sh')], { stdio: 'pipe', timeout: 20 * 60_000 });
});

describe.each(FUZZERS)('%s', (fuzzer) => {
  const cases = regressions(fuzzer);
  if (cases.length) {
    it.each(cases)(`no longer crashes on the input of bug %s`, (name) => {
      const r = spawnSync(path.join(NATIVE, 'out/fuzz', fuzzer), [path.join(FUZZ, 'regressions', fuzzer, name)], {
        env: { ...process.env, VIGIL_FUZZ_BUNDLE: BUNDLE },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status, r.stderr.slice(-3000)).toBe(0);
    });
  }

  it(`runs coverage-guided for ${SECONDS} s without a crash`, () => {
    const r = spawnSync('bash', [path.join(FUZZ, 'run.sh'), '-t', String(SECONDS), fuzzer], { encoding: 'utf8', timeout: (SECONDS + 120) * 1000 });
    console.log(r.stdout.trim());
    expect(r.status, r.stderr.slice(-3000)).toBe(0);
  }, (SECONDS + 180) * 1000);
});
