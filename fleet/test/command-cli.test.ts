// `vigil fleet command` and `vigil fleet keygen` refuse bad arguments with one clear line and exit 2, before any
// broker is contacted; keygen never overwrites a key.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand, runKeygen } from '../src/command-cli';
import { runCli } from '../../test/helpers/capture-io';

const dir = mkdtempSync(join(tmpdir(), 'vigil-command-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(run: typeof runCommand | typeof runKeygen, argv: string[]) {
  const r = await runCli(run, argv);
  return { ...r, first: r.err.split('\n')[0] };
}

describe('vigil fleet command', () => {
  const base = ['--key', join(dir, 'none.key'), '--broker', 'mqtt://127.0.0.1:1'];
  it.each([
    [['S1'], 'command takes SERIAL and NAME'],
    [['S/1', 'rebaseline', ...base], '"S/1" is not a camera serial (letters, digits, _ and -)'],
    [['S1', 'format-disk', ...base], 'unknown command "format-disk"'],
    [['S1', 'rebaseline', '--broker', 'mqtt://127.0.0.1:1'], '--key FILE is required'],
    [['S1', 'set-interval', ...base], 'set-interval needs --interval-sec from 10 to 3600, got ""'],
    [['S1', 'set-interval', '--interval-sec', '86400', ...base], 'set-interval needs --interval-sec from 10 to 3600, got "86400"'],
    [['S1', 'rebaseline', '--interval-sec', '60', ...base], '--interval-sec is for set-interval only'],
    [['S1', 'rebaseline', '--password', 'x', ...base], 'unknown option --password'],
  ])('refuses %j: %s', async (argv, message) => {
    const r = await cli(runCommand, argv);
    expect(r.code).toBe(2);
    expect(r.first).toBe(`[vigil] [fleet] ${message}`);
  });

  it('says which key file it cannot read, with exit code 1', async () => {
    const r = await cli(runCommand, ['S1', 'rebaseline', ...base]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^\[vigil\] \[fleet\] ENOENT: no such file or directory, open '.*none\.key'\n$/);
  });
});

describe('vigil fleet keygen', () => {
  it('writes the key with mode 0600 and refuses to overwrite an existing file', async () => {
    const file = join(dir, 'fleet.key');
    expect((await cli(runKeygen, ['--out', file])).code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const before = readFileSync(file, 'utf8');
    const again = await cli(runKeygen, ['--out', file]);
    expect(again.code).toBe(1);
    expect(again.first).toMatch(/^\[vigil\] \[fleet\] cannot write the key to .*fleet\.key: EEXIST/);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('needs --out', async () => {
    const r = await cli(runKeygen, []);
    expect(r.code).toBe(2);
    expect(r.first).toBe('[vigil] [fleet] keygen takes only --out FILE');
  });
});
