// The host contract for files that are not regular files (a FIFO, a character device): content reads refuse
// them at once with ENOTFILE instead of blocking or reading forever; stat and list call them `other`.
import { assert, within, type ContractCase } from './host-contract-support';

export const SPECIAL_FILE_CASES: ContractCase[] = [
  {
    name: 'fifo-read-blocks: readFile of a FIFO without a writer rejects ENOTFILE at once',
    async run(host, env) {
      // A blocking open(2) of a FIFO waits for a writer forever: the host must not even try.
      await within(host, 2000, 'readFile', assert.rejects(host.fs.readFile(`${env.root}/fifo`, 1024), 'ENOTFILE', 'readFile'));
    },
  },
  {
    name: 'fifo-read-blocks: readFile through a symlink to a FIFO rejects ENOTFILE at once',
    async run(host, env) {
      await within(host, 2000, 'readFile', assert.rejects(host.fs.readFile(`${env.root}/link-to-fifo`, 1024), 'ENOTFILE', 'readFile'));
    },
  },
  {
    name: 'fifo-read-blocks: sha256File of a FIFO without a writer rejects ENOTFILE at once',
    async run(host, env) {
      await within(host, 2000, 'sha256File', assert.rejects(host.crypto.sha256File(`${env.root}/fifo`, 0), 'ENOTFILE', 'sha256File'));
    },
  },
  {
    name: 'readFile of a character device rejects ENOTFILE',
    async run(host, env) {
      // /dev/zero reports size 0 and never ends: a cap on the bytes read would hide that it is no file.
      await within(host, 2000, 'readFile', assert.rejects(host.fs.readFile(`${env.root}/zero`, 1024), 'ENOTFILE', 'readFile'));
    },
  },
  {
    name: 'device-hash-endless: sha256File of a character device rejects ENOTFILE',
    async run(host, env) {
      // Uncapped, an endless device would otherwise be hashed until the agent is killed.
      await within(host, 2000, 'sha256File', assert.rejects(host.crypto.sha256File(`${env.root}/zero`, 0), 'ENOTFILE', 'sha256File'));
    },
  },
  {
    name: 'stat and list report a FIFO and a device as other',
    async run(host, env) {
      assert.equal((await host.fs.stat(`${env.root}/fifo`)).type, 'other', 'stat fifo');
      assert.equal((await host.fs.stat(`${env.root}/zero`)).type, 'other', 'stat zero');
      const byName: Record<string, string> = {};
      for (const e of await host.fs.list(env.root)) byName[e.name] = e.type;
      assert.equal(byName['fifo'], 'other', 'list fifo');
      assert.equal(byName['zero'], 'other', 'list zero');
    },
  },
];
