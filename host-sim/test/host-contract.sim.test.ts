// The host contract inside QuickJS-wasm against SimHost: dist/host-contract.js's source is bundled
// as build.mjs does, run once in the engine, and each case's in-engine result becomes one `it`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import type { ContractResult } from '../../agent/test/host-contract';
import { itEachContractCase, startContractNetwork, type ContractNetwork } from '../../test/helpers/contract-env';
import { QuickJSRunner } from '../src/quickjs-runner';
import { SimHost } from '../src/sim-host';
import { memoryLogSink } from '../src/host/log';
import { ROOT, bundleForQuickJS, contractProfile, tempDir, waitForGlobal } from './helpers';

describe('host contract: SimHost inside QuickJS-wasm', () => {
  const tmp = tempDir('contract');
  const logs = memoryLogSink();
  let results: ContractResult[] = [];
  let network: ContractNetwork;
  let runner: QuickJSRunner;
  let host: SimHost;

  beforeAll(async () => {
    const bundle = await bundleForQuickJS(path.join(ROOT, 'agent/test/host-contract-entry.ts'), path.join(tmp.dir, 'host-contract.js'));
    network = await startContractNetwork();
    host = new SimHost({ profile: contractProfile(tmp.dir), stateDir: path.join(tmp.dir, 'state'), log: logs, overrides: network.config });
    await host.prepare();
    runner = await QuickJSRunner.create({ host });
    host.attachRuntime(runner);
    const started = runner.startFile(bundle);
    expect(started).toEqual({ ok: true });
    await waitForGlobal(runner, '__vigilContractDone');
    expect(runner.getGlobalJson('__vigilContractError')).toBeUndefined();
    results = runner.getGlobalJson<ContractResult[]>('__vigilContractResults') ?? [];
  });

  afterAll(async () => {
    await runner?.stop();
    host?.close();
    await network?.close();
    tmp.cleanup();
  });

  itEachContractCase(() => results);

  it('reports the summary through host.log with the camera serial', () => {
    const summary = logs.records.find((r) => /^host-contract: \d+ passed/.test(r.message));
    expect(summary?.message).toMatch(/host-contract: \d+ passed, 0 failed/);
    expect(summary?.serial).toBe('ACCC8E000001');
  });

  it('left no engine errors behind', () => {
    expect(runner.stats.errors).toBe(0);
  });
});
