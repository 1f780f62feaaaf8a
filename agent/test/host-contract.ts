/**
 * The host contract: one behavioural suite that every Host runs (FakeHost in Node, SimHost inside
 * QuickJS-wasm, the native host on x86_64 and under qemu). Portable: no Node APIs, only the Host object
 * and agent/src/util, because dist/host-contract.js runs these very files inside the engine. The cases live
 * in one file per capability area (host-contract-<area>.ts); the fixture, the environment and the
 * assertions they share in host-contract-support.ts. This file puts them together and runs them.
 *
 * A harness (1) materialises CONTRACT_FIXTURE under its root, (2) starts a TCP echo server that follows
 * ECHO_PROTOCOL, (3) hands the host config keys ContractRoot, ContractEchoHost, ContractEchoPort,
 * ContractRefusedPort and DataDir, then runs every case in CONTRACT_CASES.
 */
import type { Host } from '../src/host';
import { errorCode, errorMessage } from '../src/util/errors';
import { CLOCK_CASES } from './host-contract-clock';
import { CRYPTO_CASES } from './host-contract-crypto';
import { FS_CASES } from './host-contract-fs';
import { HOST_INFO_CASES } from './host-contract-host-info';
import { NET_CASES } from './host-contract-net';
import { SIGNATURE_CASES } from './host-contract-signature';
import { SPECIAL_FILE_CASES } from './host-contract-special-files';
import { TEXT_CASES } from './host-contract-text';
import { contractEnv, type ContractCase } from './host-contract-support';

export {
  CONTRACT_FIXTURE,
  ContractAssertionError,
  ECHO_QUIT,
  assert,
  contractEnv,
  fixtureFileText,
  within,
  type ContractCase,
  type ContractEnv,
  type ContractFixture,
  type FixtureFile,
  type FixtureSpecial,
} from './host-contract-support';

/** Every case, one capability area after the other (each area's file says what it covers). */
export const CONTRACT_CASES: ContractCase[] = [...FS_CASES, ...CRYPTO_CASES, ...SIGNATURE_CASES, ...SPECIAL_FILE_CASES, ...CLOCK_CASES, ...NET_CASES, ...HOST_INFO_CASES, ...TEXT_CASES];

export interface ContractResult {
  name: string;
  ok: boolean;
  error: string | null;
  ms: number;
}

/** Runs every case in order; a failing case never stops the others. */
export async function runContract(host: Host, cases: ContractCase[] = CONTRACT_CASES): Promise<ContractResult[]> {
  const env = contractEnv(host);
  const results: ContractResult[] = [];
  for (const c of cases) {
    const start = host.clock.monotonic();
    try {
      await c.run(host, env);
      results.push({ name: c.name, ok: true, error: null, ms: host.clock.monotonic() - start });
    } catch (err) {
      const code = errorCode(err);
      const message = errorMessage(err);
      results.push({ name: c.name, ok: false, error: code === 'EIO' ? message : `${code}: ${message}`, ms: host.clock.monotonic() - start });
    }
  }
  return results;
}
