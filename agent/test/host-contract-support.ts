/**
 * What every part of the host contract shares: the fixture (as data), the environment a harness hands the
 * host, the assertions and the helpers the cases use. Portable like the cases: no Node APIs.
 */
import type { Host, HostErrorCode } from '../src/host';
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

/** The content of hello.txt. */
export const HELLO = 'hello, vigil\n';

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

// The fixture and the echo traffic are ASCII. These two stay byte-per-character on purpose: the text codec is
// itself under test (host-contract-text.ts), and the suite runs in the engine with no codec installed.

/** Bytes as text, one character per byte (Latin-1). */
export function text(buffer: ArrayBuffer): string {
  const b = new Uint8Array(buffer);
  let out = '';
  for (let i = 0; i < b.length; i += 4096) out += String.fromCharCode.apply(null, Array.from(b.subarray(i, i + 4096)));
  return out;
}

/** A string of characters below U+0100 as one byte each. */
export function bytes(s: string): ArrayBuffer {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out.buffer;
}

export function fixture(path: string): FixtureFile {
  for (const f of CONTRACT_FIXTURE.files) if (f.path === path) return f;
  throw new Error(`no fixture file ${path}`);
}

/** One behaviour every host must show; `run` throws (a ContractAssertionError or the host's error) when it does not. */
export interface ContractCase {
  name: string;
  run(host: Host, env: ContractEnv): Promise<void>;
}
