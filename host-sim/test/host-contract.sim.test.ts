// The host contract inside QuickJS-wasm against SimHost: dist/host-contract.js's source is bundled
// as build.mjs does, run once in the engine, and each case's in-engine result becomes one `it`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { CONTRACT_CASES, type ContractResult } from '../../agent/test/host-contract';
import { QuickJSRunner } from '../src/quickjs-runner';
import { SimHost, memoryLogSink } from '../src/sim-host';
import { ROOT, bundleForQuickJS, contractProfile, refusedPort, startEchoServer, tempDir, waitForGlobal } from './helpers';

describe('host contract: SimHost inside QuickJS-wasm', () => {
  const tmp = tempDir('contract');
  const logs = memoryLogSink();
  let results: ContractResult[] = [];
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  let runner: QuickJSRunner;
  let host: SimHost;

  beforeAll(async () => {
    const bundle = await bundleForQuickJS(path.join(ROOT, 'agent/test/host-contract-entry.ts'), path.join(tmp.dir, 'host-contract.js'));
    echo = await startEchoServer();
    host = new SimHost({
      profile: contractProfile(tmp.dir),
      stateDir: path.join(tmp.dir, 'state'),
      log: logs,
      overrides: {
        ContractRoot: '/contract',
        ContractEchoHost: '127.0.0.1',
        ContractEchoPort: String(echo.port),
        ContractRefusedPort: String(await refusedPort()),
      },
    });
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
    await echo?.close();
    tmp.cleanup();
  });

  it('runs every contract case', () => {
    expect(results.map((r) => r.name)).toEqual(CONTRACT_CASES.map((c) => c.name));
  });

  for (const c of CONTRACT_CASES) {
    it(c.name, () => {
      const r = results.find((x) => x.name === c.name);
      expect(r, 'the case ran').toBeDefined();
      expect(r?.error ?? null).toBeNull();
      expect(r?.ok).toBe(true);
    });
  }

  it('reports the summary through host.log with the camera serial', () => {
    const summary = logs.records.find((r) => /^host-contract: \d+ passed/.test(r.message));
    expect(summary?.message).toMatch(/host-contract: \d+ passed, 0 failed/);
    expect(summary?.serial).toBe('ACCC8E000001');
  });

  it('left no engine errors behind', () => {
    expect(runner.stats.errors).toBe(0);
  });
});
