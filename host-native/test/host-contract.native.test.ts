// The host contract against the native binary: dist/host-contract.js runs inside the native QuickJS,
// natively on x86_64 and under qemu-aarch64 / qemu-arm; each case's in-engine result becomes one `it`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { CONTRACT_CASES, type ContractResult } from '../../agent/test/host-contract';
import { BUILD_TIMEOUT_MS, REPO, TARGETS, ensureBuilt, refusedPort, runNative, startEchoServer, tempDir, writeContractRoot } from './helpers';

for (const target of TARGETS) {
  describe(`host contract: the native host ${target.label}`, () => {
    const tmp = tempDir(`contract-${target.arch}`);
    let echo: Awaited<ReturnType<typeof startEchoServer>>;
    let results: ContractResult[] = [];
    let stderr = '';

    beforeAll(async () => {
      ensureBuilt();
      writeContractRoot(path.join(tmp.dir, 'root'));
      echo = await startEchoServer();
      const run = await runNative(target, [
        '--stderr',
        '--root', path.join(tmp.dir, 'root'),
        '--data-dir', path.join(tmp.dir, 'data'),
        '--set', 'DataDir=/data',
        '--set', 'ContractRoot=/contract',
        '--set', 'ContractEchoHost=127.0.0.1',
        '--set', `ContractEchoPort=${echo.port}`,
        '--set', `ContractRefusedPort=${await refusedPort()}`,
        '--print-global', '__vigilContractResults',
        path.join(REPO, 'dist/host-contract.js'),
      ]);
      stderr = run.stderr;
      expect(run.code, `exit code; stderr:\n${run.stderr}`).toBe(0);
      const last = run.stdout.trim().split('\n').pop() ?? 'null';
      results = (JSON.parse(last) as ContractResult[] | null) ?? [];
    }, BUILD_TIMEOUT_MS);

    afterAll(async () => {
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

    it('logs the summary line and no unhandled rejection', () => {
      expect(stderr).toMatch(/host-contract: \d+ passed, 0 failed/);
      expect(stderr).not.toMatch(/unhandled promise rejection/);
    });
  });
}
