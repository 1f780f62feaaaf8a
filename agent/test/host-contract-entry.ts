/**
 * Entry of dist/host-contract.js: runs the host contract inside a host's own engine. The host installs
 * `__vigilHost` before evaluating this bundle; the results land in `__vigilContractResults`
 * ([{name, ok, error, ms}]) and `__vigilContractDone` turns true, with a summary line through host.log.
 */
import type { Host } from '../src/host';
import { errorMessage } from '../src/util/errors';
import { runContract, type ContractResult } from './host-contract';

const scope = globalThis as unknown as {
  __vigilHost?: Host;
  __vigilContractResults?: ContractResult[];
  __vigilContractDone?: boolean;
  __vigilContractError?: string;
};

const host = scope.__vigilHost;
scope.__vigilContractDone = false;
if (!host) {
  scope.__vigilContractError = 'no __vigilHost installed';
  scope.__vigilContractDone = true;
} else {
  runContract(host).then(
    (results) => {
      scope.__vigilContractResults = results;
      scope.__vigilContractDone = true;
      const failed = results.filter((r) => !r.ok);
      host.log(failed.length ? 'error' : 'info', `host-contract: ${results.length - failed.length} passed, ${failed.length} failed`);
      for (const f of failed) host.log('error', `host-contract: FAIL ${f.name}: ${f.error}`);
    },
    (err) => {
      scope.__vigilContractError = errorMessage(err);
      scope.__vigilContractDone = true;
      host.log('error', `host-contract: could not run: ${errorMessage(err)}`);
    },
  );
}

export {};
