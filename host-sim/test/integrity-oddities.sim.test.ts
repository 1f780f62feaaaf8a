// The integrity collector against file-system oddities on a real temp rootfs, through SimHost (issue 7,
// ROBUSTNESS.md): symbolic-link loops, a FIFO, a file far over the read cap, names with a newline or bytes
// that are not UTF-8, a directory replaced by a file between scans. The same properties run against the
// FakeHost in agent/src/collectors/integrity/integrity.robustness.test.ts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectIntegrity } from '../../agent/src/collectors/integrity/integrity';
import { parseConfig } from '../../agent/src/config';
import { createVapixClient } from '../../agent/src/vapix/vapix';
import { SimHost } from '../src/sim-host';
import { minimalProfileData, tempDir } from './helpers';

const INPUT = { soc: 'Axis Artpec-8', osVersion: '12.11.77' };
let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

/** A SimHost over a fresh rootfs whose /usr/bin the caller fills; the collector's context on it. */
async function camera(fill: (bin: string) => void) {
  const t = tempDir('integrity-odd');
  cleanups.push(t.cleanup);
  const dir = path.join(t.dir, 'profile');
  const rootfsDir = path.join(dir, 'rootfs');
  const bin = path.join(rootfsDir, 'usr/bin');
  mkdirSync(bin, { recursive: true });
  fill(bin);
  const host = new SimHost({
    profile: { name: 'odd', dir, file: path.join(dir, 'profile.json'), rootfsDir, localdataDir: null, data: minimalProfileData() },
    stateDir: path.join(t.dir, 'state'),
    overrides: { VapixPort: '1', BrokerHost: '127.0.0.1' },
  });
  await host.prepare();
  cleanups.push(() => host.close());
  const config = parseConfig({ ...host.config(), IntegrityPaths: '/usr/bin', HashBytesPerSec: '0' });
  const ctx = { host, agentConf: config, vapixApi: createVapixClient(host, { ...config.vapixConf, timeoutMs: 200 }) };
  return { bin, ctx, run: () => collectIntegrity(ctx, INPUT) };
}

describe('integrity collector on a real rootfs through SimHost', () => {
  it('records a symbolic-link loop as links and finishes the scan', async () => {
    const { run } = await camera((bin) => {
      symlinkSync('/usr/bin/loop-b', path.join(bin, 'loop-a'));
      symlinkSync('/usr/bin/loop-a', path.join(bin, 'loop-b'));
      symlinkSync('/usr/bin', path.join(bin, 'self'));
      writeFileSync(path.join(bin, 'tool'), 'x');
    });
    const { value } = await run();
    expect(value).toMatchObject({ status: 'baseline-created', baseline: { files: 4 } });
  });

  it('records a FIFO without opening it, so the scan cannot block on it', async () => {
    const { run } = await camera((bin) => execFileSync('mkfifo', [path.join(bin, 'pipe')]));
    const { value } = await run();
    expect(value).toMatchObject({ status: 'baseline-created', baseline: { files: 1 } });
  });

  it('hashes a file far larger than any read cap by streaming it', async () => {
    const { run, ctx } = await camera((bin) => {
      writeFileSync(path.join(bin, 'huge'), '');
      truncateSync(path.join(bin, 'huge'), 64 << 20);
    });
    await run();
    const base = JSON.parse(Buffer.from(await ctx.host.fs.readFile(`${ctx.agentConf.dataDir}/baseline.json`, 1 << 20)).toString());
    expect(base.files['/usr/bin/huge'][4]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('detects a change to a file whose name holds a newline', async () => {
    const { bin, run } = await camera((b) => writeFileSync(path.join(b, 'two\nlines'), 'a'));
    await run();
    writeFileSync(path.join(bin, 'two\nlines'), 'bb');
    utimesSync(path.join(bin, 'two\nlines'), new Date(2030, 0, 1), new Date(2030, 0, 1));
    const { value } = await run();
    expect(value.changes.map((c) => [c.path, c.change])).toEqual([['/usr/bin/two\nlines', 'changed']]);
  });

  it('integrity-invalid-utf8-name-invisible: a file added under a name that is not UTF-8 is reported as added', async () => {
    const { bin, run } = await camera((b) => writeFileSync(path.join(b, 'tool'), 'x'));
    await run();
    writeFileSync(Buffer.concat([Buffer.from(bin + '/evil-'), Buffer.from([0xff, 0xfe])]), 'implant');
    const { value, errors } = await run();
    expect(value.changes).toEqual([{ path: '/usr/bin/evil-\ufffd\ufffd', change: 'added' }]);
    expect(errors.map((e) => e.code)).toContain('EILSEQ');
  });

  it('reports a directory replaced by a file between scans: its files removed, the file added', async () => {
    const { bin, run } = await camera((b) => {
      mkdirSync(path.join(b, 'sub'));
      writeFileSync(path.join(b, 'sub/a'), 'a');
      writeFileSync(path.join(b, 'sub/b'), 'b');
    });
    await run();
    rmSync(path.join(bin, 'sub'), { recursive: true });
    writeFileSync(path.join(bin, 'sub'), 'now a file');
    const { value } = await run();
    expect(value.changes.map((c) => [c.path, c.change])).toEqual([
      ['/usr/bin/sub', 'added'],
      ['/usr/bin/sub/a', 'removed'],
      ['/usr/bin/sub/b', 'removed'],
    ]);
  });
});
