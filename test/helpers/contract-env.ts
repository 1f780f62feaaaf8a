// What every out-of-process host contract harness needs (agent/test/host-contract.ts): the fixture on
// disk, the echo server, a refused port, the config keys that name them, and one `it` per in-engine case
// result. Used by host-sim/test/host-contract.sim.test.ts and host-native/test/host-contract.native.test.ts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { freePort } from './ports';
import { CONTRACT_CASES, CONTRACT_FIXTURE, ECHO_QUIT, fixtureFileText, type ContractResult, type FixtureSpecial } from '../../agent/test/host-contract';

/** The device path both harnesses materialise the fixture under. */
export const CONTRACT_DEVICE_ROOT = '/contract';

function makeSpecial(file: string, special: FixtureSpecial): void {
  // Node has no mkfifo/mknod; the commands are in coreutils. A device node needs root (CI runs as root).
  const [cmd, args] = special.kind === 'fifo' ? ['mkfifo', [file]] : ['mknod', [file, 'c', '1', '5']];
  try {
    execFileSync(cmd, args, { stdio: 'pipe' });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`[vigil] [test] cannot create the contract's ${special.kind} ${file} with ${cmd} (a device node needs root): ${e.stderr ?? e.message}`);
  }
}

/** CONTRACT_FIXTURE (files, dirs, symlinks, a FIFO and a /dev/zero node) in `dir`, which is created. */
export function writeContractRoot(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const d of CONTRACT_FIXTURE.dirs) mkdirSync(path.join(dir, d), { recursive: true });
  for (const f of CONTRACT_FIXTURE.files) writeFileSync(path.join(dir, f.path), fixtureFileText(f));
  for (const l of CONTRACT_FIXTURE.symlinks) symlinkSync(l.target, path.join(dir, l.path));
  for (const s of CONTRACT_FIXTURE.specials) makeSpecial(path.join(dir, s.path), s);
}

/** The contract's echo server (see ECHO_QUIT) on 127.0.0.1. */
export async function startEchoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let seen = '';
    s.on('data', (d) => {
      seen += d.toString('latin1');
      if (seen.includes(ECHO_QUIT)) s.end();
      else s.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface ContractNetwork {
  /** The contract's config keys (ContractRoot, ContractEchoHost/Port, ContractRefusedPort); DataDir is the host's. */
  config: Record<string, string>;
  close(): Promise<void>;
}

/** Starts the echo server and picks a refused port; the config keys a host hands to the contract. */
export async function startContractNetwork(): Promise<ContractNetwork> {
  const echo = await startEchoServer();
  return {
    config: {
      ContractRoot: CONTRACT_DEVICE_ROOT,
      ContractEchoHost: '127.0.0.1',
      ContractEchoPort: String(echo.port),
      ContractRefusedPort: String(await freePort()),
    },
    close: () => echo.close(),
  };
}

/** Registers `runs every contract case` and one `it` per case, judged on the results the engine produced. */
export function itEachContractCase(results: () => ContractResult[]): void {
  it('runs every contract case', () => {
    expect(results().map((r) => r.name)).toEqual(CONTRACT_CASES.map((c) => c.name));
  });
  for (const c of CONTRACT_CASES) {
    it(c.name, () => {
      const r = results().find((x) => x.name === c.name);
      expect(r, 'the case ran').toBeDefined();
      expect(r?.error ?? null).toBeNull();
      expect(r?.ok).toBe(true);
    });
  }
}
