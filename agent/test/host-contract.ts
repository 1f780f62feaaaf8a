/**
 * The host contract: one behavioural suite that every Host runs (FakeHost in Node, SimHost inside
 * QuickJS-wasm, the native host on x86_64 and under qemu). Portable: no Node APIs, only the Host object
 * and agent/src/util, because dist/host-contract.js runs this very file inside the engine.
 *
 * A harness (1) materialises CONTRACT_FIXTURE under its root, (2) starts a TCP echo server that follows
 * ECHO_PROTOCOL, (3) hands the host config keys ContractRoot, ContractEchoHost, ContractEchoPort,
 * ContractRefusedPort and DataDir, then runs every case in CONTRACT_CASES.
 */
import type { Host, HostErrorCode, LogLevel } from '../src/host';
import { toArrayBuffer, utf8Decode, utf8Encode } from '../src/util/bytes';
import { errorCode, errorMessage } from '../src/util/errors';

// ---- fixture, as data --------------------------------------------------------------------------------

export interface FixtureFile {
  /** Relative to ContractRoot. */
  path: string;
  /** ASCII text, or `repeat` × `size` for a large file. */
  content?: string;
  repeat?: string;
  size: number;
  sha256: string;
}

/** A file that is not a regular file: content reads must refuse it at once (ENOTFILE), never block on it. */
export interface FixtureSpecial {
  /** Relative to ContractRoot. */
  path: string;
  /** `fifo`: a named pipe nobody writes to (mkfifo). `zero`: a character device 1:5, as /dev/zero (mknod). */
  kind: 'fifo' | 'zero';
}

export interface ContractFixture {
  files: FixtureFile[];
  dirs: string[];
  symlinks: Array<{ path: string; target: string }>;
  specials: FixtureSpecial[];
  /** A read cap between the small files and the big one. */
  readCap: number;
}

const HELLO = 'hello, vigil\n';

export const CONTRACT_FIXTURE: ContractFixture = {
  dirs: ['nested', 'nested/deeper'],
  files: [
    { path: 'hello.txt', content: HELLO, size: 13, sha256: '815525cfd9b92f4d6707f74459ffc157949043623f12f383596ee7919a6277de' },
    { path: 'empty.txt', content: '', size: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
    { path: 'nested/deeper/file.txt', content: 'nested file\n', size: 12, sha256: '414f8e9fd34ff68f66cbdab5ec63a5e738aa107f3454fa7edb51f49528abf9c6' },
    { path: 'big.bin', repeat: 'a', size: 70000, sha256: '66915c0872933db504e7578828dd85b7e74a4e0a061f9756793b89c4151bd4b5' },
  ],
  symlinks: [
    { path: 'link-to-hello', target: 'hello.txt' },
    { path: 'link-to-fifo', target: 'fifo' },
  ],
  specials: [
    { path: 'fifo', kind: 'fifo' },
    { path: 'zero', kind: 'zero' },
  ],
  readCap: 65536,
};

/** The bytes of a fixture file, for harnesses that write it out. */
export function fixtureFileText(file: FixtureFile): string {
  if (file.content !== undefined) return file.content;
  let out = '';
  const unit = file.repeat ?? 'a';
  while (out.length < file.size) out += unit;
  return out.slice(0, file.size);
}

/**
 * The echo server every harness starts: it sends back each byte it receives, except that once the bytes
 * received so far contain ECHO_QUIT it stops echoing and closes its side (an orderly end of stream).
 */
export const ECHO_QUIT = 'QUIT';

// ---- environment and assertions -----------------------------------------------------------------------

export interface ContractEnv {
  /** Device path under which CONTRACT_FIXTURE was materialised. */
  root: string;
  dataDir: string;
  echoHost: string;
  echoPort: number;
  refusedPort: number;
}

export function contractEnv(host: Host): ContractEnv {
  const c = host.config();
  const need = (name: string): string => {
    const v = c[name];
    if (typeof v !== 'string' || v.length === 0) throw new Error(`[vigil] [host-contract] config lacks ${name}`);
    return v;
  };
  return {
    root: need('ContractRoot').replace(/\/+$/, ''),
    dataDir: need('DataDir').replace(/\/+$/, ''),
    echoHost: need('ContractEchoHost'),
    echoPort: Number(need('ContractEchoPort')),
    refusedPort: Number(need('ContractRefusedPort')),
  };
}

export class ContractAssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContractAssertionError';
  }
}

export const assert = {
  ok(value: unknown, message: string): void {
    if (!value) throw new ContractAssertionError(message);
  },
  equal<T>(actual: T, expected: T, what: string): void {
    if (actual !== expected) {
      throw new ContractAssertionError(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    }
  },
  async rejects(promise: Promise<unknown>, code: HostErrorCode, what: string): Promise<void> {
    let settled = false;
    try {
      await promise;
      settled = true;
    } catch (err) {
      const got = errorCode(err);
      if (got !== code) throw new ContractAssertionError(`${what}: expected ${code}, got ${got} (${errorMessage(err)})`);
      if (errorMessage(err).length === 0) throw new ContractAssertionError(`${what}: the ${code} error has no message`);
    }
    if (settled) throw new ContractAssertionError(`${what}: expected ${code}, but it succeeded`);
  },
};

/** Fails after ms (by the host's own timer) instead of hanging the suite. */
export function within<T>(host: Host, ms: number, what: string, promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = host.clock.setTimer(ms, () => reject(new ContractAssertionError(`${what}: no answer within ${ms} ms`)));
    promise.then(
      (v) => {
        host.clock.clearTimer(timer);
        resolve(v);
      },
      (e) => {
        host.clock.clearTimer(timer);
        reject(e);
      },
    );
  });
}

function sleep(host: Host, ms: number): Promise<void> {
  return new Promise((resolve) => {
    host.clock.setTimer(ms, resolve);
  });
}

function text(buffer: ArrayBuffer): string {
  return utf8Decode(new Uint8Array(buffer));
}

function bytes(s: string): ArrayBuffer {
  return toArrayBuffer(utf8Encode(s));
}

function fixture(path: string): FixtureFile {
  for (const f of CONTRACT_FIXTURE.files) if (f.path === path) return f;
  throw new Error(`no fixture file ${path}`);
}

let scratchCounter = 0;
/** A fresh directory under the data dir, so cases never see each other's files. */
async function scratchDir(host: Host, env: ContractEnv, tag: string): Promise<string> {
  const dir = `${env.dataDir}/contract-${tag}-${host.clock.monotonic() | 0}-${scratchCounter++}`;
  await host.fs.mkdir(dir);
  return dir;
}

async function readAll(host: Host, socket: number, until: (received: string) => boolean): Promise<string> {
  let received = '';
  while (!until(received)) {
    const chunk = await host.net.read(socket);
    if (chunk === null) break;
    received += text(chunk);
  }
  return received;
}

// ---- the cases -------------------------------------------------------------------------------------------

export interface ContractCase {
  name: string;
  run(host: Host, env: ContractEnv): Promise<void>;
}

export const CONTRACT_CASES: ContractCase[] = [
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
  {
    name: 'sha256 of bytes matches the known digest',
    async run(host) {
      assert.equal(host.crypto.sha256(bytes('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'abc');
      assert.equal(host.crypto.sha256(new ArrayBuffer(0)), fixture('empty.txt').sha256, 'empty');
    },
  },
  {
    name: 'sha256File of a file equals the known digest',
    async run(host, env) {
      for (const f of CONTRACT_FIXTURE.files) {
        assert.equal(await host.crypto.sha256File(`${env.root}/${f.path}`, 0), f.sha256, f.path);
      }
    },
  },
  {
    name: 'sha256File with a rate cap still returns the digest',
    async run(host, env) {
      const f = fixture('big.bin');
      // 1 MB/s over 70 KB: paced, but well under a second.
      assert.equal(await host.crypto.sha256File(`${env.root}/${f.path}`, 1 << 20), f.sha256, f.path);
    },
  },
  {
    name: 'sha256File of a missing file rejects ENOENT',
    async run(host, env) {
      await assert.rejects(host.crypto.sha256File(`${env.root}/no-such-file`, 0), 'ENOENT', 'sha256File');
    },
  },
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
  {
    name: 'randomBytes returns the requested length',
    async run(host) {
      const a = host.crypto.randomBytes(32);
      assert.ok(a instanceof ArrayBuffer, 'randomBytes returns an ArrayBuffer');
      assert.equal(a.byteLength, 32, 'length');
      assert.equal(host.crypto.randomBytes(0).byteLength, 0, 'zero length');
      const b = host.crypto.randomBytes(32);
      assert.ok(host.crypto.sha256(a) !== host.crypto.sha256(b), 'two draws differ');
    },
  },
  {
    name: 'clock.now is epoch milliseconds',
    async run(host) {
      const now = host.clock.now();
      assert.ok(now > Date.UTC(2020, 0, 1) && now < Date.UTC(2100, 0, 1), `now() = ${now}`);
    },
  },
  {
    name: 'clock.monotonic never decreases',
    async run(host) {
      let last = host.clock.monotonic();
      for (let i = 0; i < 2000; i++) {
        const t = host.clock.monotonic();
        assert.ok(t >= last, `monotonic went back from ${last} to ${t}`);
        last = t;
      }
      await sleep(host, 5);
      assert.ok(host.clock.monotonic() >= last, 'monotonic after a timer');
    },
  },
  {
    name: 'setTimer fires after its delay',
    async run(host) {
      const start = host.clock.monotonic();
      await within(host, 2000, 'timer', sleep(host, 30));
      const elapsed = host.clock.monotonic() - start;
      // Allow 2 ms for timer granularity between two clocks.
      assert.ok(elapsed >= 28, `fired after ${elapsed} ms`);
    },
  },
  {
    name: 'clearTimer prevents the callback from firing',
    async run(host) {
      let fired = false;
      const id = host.clock.setTimer(10, () => {
        fired = true;
      });
      host.clock.clearTimer(id);
      host.clock.clearTimer(id);
      await sleep(host, 40);
      assert.ok(!fired, 'the cleared timer fired');
    },
  },
  {
    name: 'net connect, write and read round-trip through an echo server',
    async run(host, env) {
      const s = await within(host, 5000, 'connect', host.net.connect({ host: env.echoHost, port: env.echoPort, timeoutMs: 3000 }));
      try {
        assert.equal(typeof s, 'number', 'socket id type');
        await host.net.write(s, bytes('ping-1 '));
        await host.net.write(s, bytes('ping-2'));
        const got = await within(host, 5000, 'echo', readAll(host, s, (r) => r.length >= 13));
        assert.equal(got, 'ping-1 ping-2', 'echo');
      } finally {
        host.net.close(s);
      }
    },
  },
  {
    name: 'connect to a refused port rejects ECONNREFUSED',
    async run(host, env) {
      await within(
        host,
        5000,
        'connect',
        assert.rejects(host.net.connect({ host: env.echoHost, port: env.refusedPort, timeoutMs: 3000 }), 'ECONNREFUSED', 'connect'),
      );
    },
  },
  {
    name: 'read resolves null after the peer closes',
    async run(host, env) {
      const s = await within(host, 5000, 'connect', host.net.connect({ host: env.echoHost, port: env.echoPort, timeoutMs: 3000 }));
      try {
        await host.net.write(s, bytes(ECHO_QUIT));
        let chunk: ArrayBuffer | null = new ArrayBuffer(0);
        while (chunk !== null) chunk = await within(host, 5000, 'read', host.net.read(s));
        assert.equal(chunk, null, 'end of stream');
      } finally {
        host.net.close(s);
      }
    },
  },
  {
    name: 'close is idempotent and a pending read resolves null',
    async run(host, env) {
      const s = await within(host, 5000, 'connect', host.net.connect({ host: env.echoHost, port: env.echoPort, timeoutMs: 3000 }));
      const pending = host.net.read(s);
      host.net.close(s);
      host.net.close(s);
      assert.equal(await within(host, 2000, 'pending read', pending), null, 'pending read');
    },
  },
  {
    name: 'read of an unknown socket rejects EBADF',
    async run(host) {
      await assert.rejects(host.net.read(987654), 'EBADF', 'read');
    },
  },
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
