// host.configOverrides() of the native host: what --config files and --set give (they win over the camera's
// settings page, agent/src/settings.ts), never param.conf's defaults, which are only in host.config().
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BUILD_TIMEOUT_MS, TARGETS, ensureBuilt, runNative, tempDir } from './helpers';

const native = TARGETS[0];
const tmp = tempDir('overrides');

beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

async function hostSays(args: string[]): Promise<{ config: Record<string, string>; forced: Record<string, string> }> {
  const file = path.join(tmp.dir, 'script.js');
  writeFileSync(file, 'const h = globalThis.__vigilHost;\nglobalThis.__out = { config: h.config(), forced: h.configOverrides() };\n');
  const r = await runNative(native, ['--stderr', '--data-dir', path.join(tmp.dir, 'data'), ...args, '--print-global', '__out', file]);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? 'null');
}

describe('host.configOverrides natively', () => {
  it('has the --config and --set values and none of param.conf, whose defaults stay in config()', async () => {
    writeFileSync(path.join(tmp.dir, 'param.conf'), 'BrokerHost="" type="string"\nIntervalSec="300" type="int"\nTopicPrefix="vigil/v1" type="string"\n');
    writeFileSync(path.join(tmp.dir, 'lab.conf'), 'BrokerHost=broker.lab\n');
    const got = await hostSays(['--param-conf', path.join(tmp.dir, 'param.conf'), '--config', path.join(tmp.dir, 'lab.conf'), '--set', 'IntervalSec=30']);
    expect(got.forced).toEqual({ BrokerHost: 'broker.lab', IntervalSec: '30' });
    expect(got.config).toMatchObject({ BrokerHost: 'broker.lab', IntervalSec: '30', TopicPrefix: 'vigil/v1' });
  });

  it('leaves the DataDir the host defaults to out of the forced values', async () => {
    const got = await hostSays([]);
    expect(got.config.DataDir).toBe('/usr/local/packages/vigil/localdata');
    expect(got.forced.DataDir).toBeUndefined();
  });
});
