// The host contract for what a host says about itself and takes from the agent: config, memory, info and log.
import type { LogLevel } from '../src/host';
import { assert, type ContractCase } from './host-contract-support';

export const HOST_INFO_CASES: ContractCase[] = [
  {
    name: 'config returns only strings',
    async run(host) {
      const c = host.config();
      const names = Object.keys(c);
      assert.ok(names.length > 0, 'config is not empty');
      for (const k of names) assert.equal(typeof c[k], 'string', `config ${k}`);
    },
  },
  {
    name: 'configOverrides (where present) returns strings that config() has too',
    async run(host) {
      if (!host.configOverrides) return;
      const forced = host.configOverrides();
      const c = host.config();
      for (const k of Object.keys(forced)) {
        assert.equal(typeof forced[k], 'string', `configOverrides ${k}`);
        assert.equal(c[k], forced[k], `config ${k} equals the forced value`);
      }
    },
  },
  {
    name: 'memory() returns numbers',
    async run(host) {
      const m = host.memory();
      assert.ok(typeof m.usedBytes === 'number' && m.usedBytes >= 0, `usedBytes ${m.usedBytes}`);
      assert.ok(typeof m.limitBytes === 'number' && m.limitBytes >= 0, `limitBytes ${m.limitBytes}`);
    },
  },
  {
    name: 'info names the host',
    async run(host) {
      assert.equal(typeof host.info.name, 'string', 'info.name');
      assert.equal(typeof host.info.version, 'string', 'info.version');
      assert.ok(host.info.bundleSha256 === null || /^[0-9a-f]{64}$/.test(host.info.bundleSha256), 'bundleSha256');
    },
  },
  {
    name: 'log accepts each level',
    async run(host) {
      const levels: LogLevel[] = ['debug', 'info', 'warn', 'error'];
      for (const level of levels) host.log(level, `host-contract: log at ${level}`);
    },
  },
];
