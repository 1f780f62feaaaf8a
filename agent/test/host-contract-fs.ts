// The host contract, host.fs: readFile, list, stat, writeFileAtomic (only under the data dir), remove and mkdir.
import type { Host } from '../src/host';
import { toArrayBuffer } from '../src/util/bytes';
import { CONTRACT_FIXTURE, HELLO, assert, bytes, fixture, text, type ContractCase, type ContractEnv } from './host-contract-support';

let scratchCounter = 0;
/** A fresh directory under the data dir, so cases never see each other's files. */
async function scratchDir(host: Host, env: ContractEnv, tag: string): Promise<string> {
  const dir = `${env.dataDir}/contract-${tag}-${host.clock.monotonic() | 0}-${scratchCounter++}`;
  await host.fs.mkdir(dir);
  return dir;
}

export const FS_CASES: ContractCase[] = [
  {
    name: 'readFile returns the bytes of a file',
    async run(host, env) {
      const data = await host.fs.readFile(`${env.root}/hello.txt`, 1024);
      assert.ok(data instanceof ArrayBuffer, 'readFile resolves an ArrayBuffer');
      assert.equal(text(data), HELLO, 'content');
    },
  },
  {
    name: 'readFile of a missing file rejects ENOENT',
    async run(host, env) {
      await assert.rejects(host.fs.readFile(`${env.root}/no-such-file`, 1024), 'ENOENT', 'readFile');
    },
  },
  {
    name: 'readFile of a file larger than the cap rejects EFBIG',
    async run(host, env) {
      await assert.rejects(host.fs.readFile(`${env.root}/big.bin`, CONTRACT_FIXTURE.readCap), 'EFBIG', 'readFile');
    },
  },
  {
    name: 'readFile of a file exactly at the cap succeeds',
    async run(host, env) {
      const data = await host.fs.readFile(`${env.root}/hello.txt`, fixture('hello.txt').size);
      assert.equal(data.byteLength, fixture('hello.txt').size, 'byteLength');
    },
  },
  {
    name: 'list returns entries with their types',
    async run(host, env) {
      const entries = await host.fs.list(env.root);
      const byName: Record<string, string> = {};
      for (const e of entries) byName[e.name] = e.type;
      assert.equal(byName['hello.txt'], 'file', 'hello.txt');
      assert.equal(byName['nested'], 'dir', 'nested');
      assert.equal(byName['link-to-hello'], 'symlink', 'link-to-hello');
      assert.ok(!('.' in byName) && !('..' in byName), 'list leaves out . and ..');
    },
  },
  {
    name: 'list of a missing directory rejects ENOENT',
    async run(host, env) {
      await assert.rejects(host.fs.list(`${env.root}/no-such-dir`), 'ENOENT', 'list');
    },
  },
  {
    name: 'stat reports size, type, mtime and inode of a file',
    async run(host, env) {
      const st = await host.fs.stat(`${env.root}/nested/deeper/file.txt`);
      assert.equal(st.type, 'file', 'type');
      assert.equal(st.size, fixture('nested/deeper/file.txt').size, 'size');
      assert.ok(typeof st.mtimeMs === 'number' && st.mtimeMs > 0, `mtimeMs is a positive number (${st.mtimeMs})`);
      assert.ok(typeof st.ino === 'number' && st.ino > 0, `ino is a positive number (${st.ino})`);
      assert.ok(typeof st.mode === 'number', 'mode is a number');
      const dir = await host.fs.stat(`${env.root}/nested`);
      assert.equal(dir.type, 'dir', 'directory type');
    },
  },
  {
    name: 'stat does not follow a symlink',
    async run(host, env) {
      const st = await host.fs.stat(`${env.root}/link-to-hello`);
      assert.equal(st.type, 'symlink', 'type');
      const target = await host.fs.readFile(`${env.root}/link-to-hello`, 1024);
      assert.equal(text(target), HELLO, 'readFile follows the link');
    },
  },
  {
    name: 'stat of a missing path rejects ENOENT',
    async run(host, env) {
      await assert.rejects(host.fs.stat(`${env.root}/no-such-file`), 'ENOENT', 'stat');
    },
  },
  {
    name: 'writeFileAtomic then readFile round-trips the bytes',
    async run(host, env) {
      const dir = await scratchDir(host, env, 'write');
      const payload = new Uint8Array(300);
      for (let i = 0; i < payload.length; i++) payload[i] = i & 255;
      await host.fs.writeFileAtomic(`${dir}/state.bin`, toArrayBuffer(payload));
      const back = new Uint8Array(await host.fs.readFile(`${dir}/state.bin`, 1024));
      assert.equal(back.length, payload.length, 'length');
      for (let i = 0; i < payload.length; i++) if (back[i] !== payload[i]) assert.equal(back[i], payload[i], `byte ${i}`);
      await host.fs.writeFileAtomic(`${dir}/state.bin`, bytes('second'));
      assert.equal(text(await host.fs.readFile(`${dir}/state.bin`, 1024)), 'second', 'replaced content');
    },
  },
  {
    name: 'writeFileAtomic leaves no temporary file behind',
    async run(host, env) {
      const dir = await scratchDir(host, env, 'tmp');
      await host.fs.writeFileAtomic(`${dir}/a.json`, bytes('{}'));
      const names = (await host.fs.list(dir)).map((e) => e.name);
      assert.equal(names.join(','), 'a.json', 'directory content');
    },
  },
  {
    name: 'writeFileAtomic outside the data dir rejects EACCES',
    async run(host, env) {
      await assert.rejects(host.fs.writeFileAtomic(`${env.root}/hello.txt`, bytes('x')), 'EACCES', 'write into the root');
      await assert.rejects(host.fs.writeFileAtomic(`${env.dataDir}/../escape.txt`, bytes('x')), 'EACCES', 'write via ..');
      assert.equal(text(await host.fs.readFile(`${env.root}/hello.txt`, 1024)), HELLO, 'the file is unchanged');
    },
  },
  {
    name: 'remove deletes a file under the data dir',
    async run(host, env) {
      const dir = await scratchDir(host, env, 'remove');
      await host.fs.writeFileAtomic(`${dir}/gone.txt`, bytes('bye'));
      await host.fs.remove(`${dir}/gone.txt`);
      await assert.rejects(host.fs.stat(`${dir}/gone.txt`), 'ENOENT', 'stat after remove');
    },
  },
  {
    name: 'remove of a missing file rejects ENOENT',
    async run(host, env) {
      const dir = await scratchDir(host, env, 'remove-missing');
      await assert.rejects(host.fs.remove(`${dir}/never-was.txt`), 'ENOENT', 'remove');
    },
  },
  {
    name: 'remove outside the data dir rejects EACCES',
    async run(host, env) {
      await assert.rejects(host.fs.remove(`${env.root}/hello.txt`), 'EACCES', 'remove');
    },
  },
  {
    name: 'mkdir creates parents and is idempotent',
    async run(host, env) {
      const dir = await scratchDir(host, env, 'mkdir');
      await host.fs.mkdir(`${dir}/a/b/c`);
      await host.fs.mkdir(`${dir}/a/b/c`);
      assert.equal((await host.fs.stat(`${dir}/a/b/c`)).type, 'dir', 'type');
    },
  },
];
