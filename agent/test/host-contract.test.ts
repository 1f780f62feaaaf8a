// The host contract against the in-memory FakeHost (real clock), one `it` per case. The same cases run
// inside QuickJS-wasm against SimHost in host-sim/test/host-contract.sim.test.ts.
import { describe, it } from 'vitest';
import { FakeHost } from './fake-host';
import { CONTRACT_CASES, CONTRACT_FIXTURE, ECHO_QUIT, contractEnv, fixtureFileText } from './host-contract';
import { utf8Decode } from '../src/util/text';

function makeFakeHost(): FakeHost {
  const host = new FakeHost({
    clock: 'real',
    dataDir: '/data',
    config: {
      ContractRoot: '/contract',
      DataDir: '/data',
      ContractEchoHost: '127.0.0.1',
      ContractEchoPort: '7',
      ContractRefusedPort: '9',
    },
    // as a lab's --set would force it
    overrides: { ContractRefusedPort: '9' },
  });
  host.addDir('/data');
  host.addDir('/contract');
  for (const d of CONTRACT_FIXTURE.dirs) host.addDir(`/contract/${d}`);
  for (const f of CONTRACT_FIXTURE.files) host.addFile(`/contract/${f.path}`, fixtureFileText(f));
  for (const l of CONTRACT_FIXTURE.symlinks) host.addSymlink(`/contract/${l.path}`, l.target);
  for (const x of CONTRACT_FIXTURE.specials) host.addSpecial(`/contract/${x.path}`, x.kind === 'fifo' ? 0o10644 : 0o20644);
  host.serve('127.0.0.1', 7, (peer) => {
    let seen = '';
    peer.onData((bytes) => {
      seen += utf8Decode(bytes);
      if (seen.indexOf(ECHO_QUIT) >= 0) peer.end();
      else peer.send(bytes);
    });
  });
  return host;
}

describe('host contract: FakeHost', () => {
  const host = makeFakeHost();
  const env = contractEnv(host);
  for (const c of CONTRACT_CASES) {
    it(c.name, () => c.run(host, env));
  }
});
