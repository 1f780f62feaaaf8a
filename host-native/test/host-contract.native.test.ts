// The host contract against the native binary: dist/host-contract.js runs inside the native QuickJS,
// natively on x86_64 and under qemu-aarch64 / qemu-arm; each case's in-engine result becomes one `it`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import type { ContractResult } from '../../agent/test/host-contract';
import { CONTRACT_DEVICE_ROOT, itEachContractCase, startContractNetwork, writeContractRoot, type ContractNetwork } from '../../test/helpers/contract-env';
import { BUILD_TIMEOUT_MS, REPO, TARGETS, ensureBuilt, runNative, tempDir } from './helpers';

for (const target of TARGETS) {
  describe(`host contract: the native host ${target.label}`, () => {
    const tmp = tempDir(`contract-${target.arch}`);
    let network: ContractNetwork;
    let results: ContractResult[] = [];
    let stderr = '';

    beforeAll(async () => {
      ensureBuilt();
      const root = path.join(tmp.dir, 'root');
      writeContractRoot(path.join(root, CONTRACT_DEVICE_ROOT));
      network = await startContractNetwork();
      const settings = Object.entries({ DataDir: '/data', ...network.config }).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
      const run = await runNative(target, [
        '--stderr',
        '--root', root,
        '--data-dir', path.join(tmp.dir, 'data'),
        ...settings,
        '--print-global', '__vigilContractResults',
        path.join(REPO, 'dist/host-contract.js'),
      ]);
      stderr = run.stderr;
      expect(run.code, `exit code; stderr:\n${run.stderr}`).toBe(0);
      const last = run.stdout.trim().split('\n').pop() ?? 'null';
      results = (JSON.parse(last) as ContractResult[] | null) ?? [];
    }, BUILD_TIMEOUT_MS);

    afterAll(async () => {
      await network?.close();
      tmp.cleanup();
    });

    itEachContractCase(() => results);

    it('logs the summary line and no unhandled rejection', () => {
      expect(stderr).toMatch(/host-contract: \d+ passed, 0 failed/);
      expect(stderr).not.toMatch(/unhandled promise rejection/);
    });
  });
}
