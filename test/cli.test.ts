import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildAgent } from '../build.mjs';
import { main } from '../cli/main';
import { FLEET_NODE_OPTIONS } from '../fleet/src/node-options';
import { startEmbeddedBroker } from './helpers/broker';
import { loadProfile } from '../host-sim/src/profiles';
import { Subscriber } from './helpers/subscriber';
import { assertValidReport } from './helpers/schemas';
import type { Report } from '../agent/src/report/types';

const VIGIL = resolve(__dirname, '../bin/vigil.mjs');

function vigil(args: string[]) {
  const r = spawnSync(process.execPath, [VIGIL, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('vigil command line', () => {
  it('prints usage with --help and exits 0', () => {
    const r = vigil(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('vigil demo');
    expect(r.out).toContain('vigil sim');
  });

  it('runs as an executable, its first line starting Node with the fleet consumer\'s options', () => {
    expect(readFileSync(VIGIL, 'utf8').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${FLEET_NODE_OPTIONS}`);
    const r = spawnSync(VIGIL, ['--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('vigil fleet');
  });

  it('prints help for each command', () => {
    for (const command of ['demo', 'sim', 'profiles']) {
      const r = vigil([command, '--help']);
      expect(r.code, command).toBe(0);
      expect(r.out, command).toContain(`vigil ${command}`);
    }
  });

  it('rejects an unknown command with a clear error and exit code 2', () => {
    const r = vigil(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('[vigil] [cli] unknown command "frobnicate"');
  });

  it('lists every bundled profile with its serial and AXIS OS version', () => {
    const r = vigil(['profiles']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/lts2020-eol\s+ACCC8E5E61F4\s+P1445-LE\s+AXIS OS 9\.80\.3\.12/);
    expect(r.out.trim().split('\n').length).toBeGreaterThanOrEqual(9);
  });

  it('requires --broker for sim', () => {
    const r = vigil(['sim', '--profile', 'hardened']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--broker is required');
  });

  it('rejects a malformed broker URL', () => {
    const r = vigil(['sim', '--profile', 'hardened', '--broker', 'http://x']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--broker must look like mqtt://host:port');
  });

  it('names the profile file and problem for an unknown profile', () => {
    const r = vigil(['sim', '--profile', 'no-such-profile', '--broker', 'mqtt://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('no-such-profile');
  });

  it('says clearly that the demo port is taken', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await new Promise<{ code: number | null; err: string }>((resolveRun) => {
        // spawnSync would block the event loop that serves the port; run it asynchronously.
        import('node:child_process').then(({ spawn }) => {
          const child = spawn(process.execPath, [VIGIL, 'demo', '--port', String(port), '--no-table']);
          let err = '';
          child.stderr.on('data', (d) => (err += d));
          child.on('exit', (code) => resolveRun({ code, err }));
        });
      });
      expect(r.code).toBe(2);
      expect(r.err).toContain(`127.0.0.1:${port} is already in use; choose another port with --port`);
    } finally {
      server.close();
    }
  });
});

describe('vigil sim under its supervisor (cli main() in process)', () => {
  const BUNDLE = resolve(__dirname, '../dist/agent.js');
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length) await (cleanups.pop() as () => Promise<void> | void)();
  });

  function tmp(): string {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-sup-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** Runs main() with stderr captured until `signal` aborts (or main returns by itself). */
  function run(args: string[], signal?: AbortSignal): { code: Promise<number>; err: () => string } {
    let err = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
    const code = main(args, { signal }).finally(() => spy.mockRestore());
    return { code, err: () => err };
  }

  it('documents --max-restarts, --restart-window-ms, --memory-limit and --cpu-budget-ms and the give-up message in vigil sim --help', () => {
    const r = vigil(['sim', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--max-restarts N', '--restart-window-ms MS', '--memory-limit BYTES', '--cpu-budget-ms MS']) expect(r.out).toContain(flag);
    expect(r.out).toContain('gave up after N restarts within S s; last: REASON; the camera stays stopped');
  });

  it('rejects a --max-restarts that is not a whole number', () => {
    const r = vigil(['sim', '--profile', 'hardened', '--broker', 'mqtt://127.0.0.1:1', '--max-restarts', '2.5']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('[vigil] [cli] --max-restarts must be an integer 0..1000000, got "2.5"');
  });

  it('restarts a camera whose engine stopped the agent at its CPU budget, and its next report carries health.lastExit', async () => {
    if (!existsSync(BUNDLE)) await buildAgent();
    const broker = await startEmbeddedBroker();
    cleanups.push(() => broker.close());
    const serial = loadProfile('active-12').data.identity.serialNumber;
    const subscriber = await Subscriber.connect(broker.url, [`vigil/v1/${serial}/report`]);
    cleanups.push(() => subscriber.close());
    const dir = tmp();
    // dist/agent.js behind a first run that spins (see test/e2e/engine-limits.test.ts)
    const agent = readFileSync(BUNDLE, 'utf8');
    const strict = '"use strict";';
    expect(agent.startsWith(strict)).toBe(true);
    const bundle = join(dir, 'first-run-spins.js');
    writeFileSync(bundle, `${strict}\nif (!__vigilHost.info.lastExit) {\n__vigilHost.clock.setTimer(5, function () { for (;;) {} });\n} else {\n${agent.slice(strict.length)}\n}\n`);
    const stop = new AbortController();
    const sim = run(['sim', '--profile', 'active-12', '--broker', broker.url, '--bundle', bundle, '--interval', '1', '--cpu-budget-ms', '100', '--state', join(dir, 'state')], stop.signal);
    try {
      const report = await subscriber.waitFor(
        'a report with health.lastExit',
        () => subscriber.json(`vigil/v1/${serial}/report`).find((r) => /^interrupted \(CPU budget\) at .*; restarted by the host$/.test(String((r as Report).health?.lastExit))) as Report | undefined,
        25_000,
      );
      assertValidReport(report);
    } finally {
      stop.abort();
    }
    expect(await sim.code).toBe(0);
    expect(sim.err()).toContain(`${serial} warn  [host-sim] [supervisor] the engine stopped the agent (interrupted (CPU budget)); restarting it (1 of 5 within 600 s)`);
    expect(sim.err()).toMatch(new RegExp(`\\[vigil\\] \\[sim\\] 1 restart in 1 of 1 camera:\\n  ${serial} \\(active-12\\): 1 restart, running; last exit: interrupted \\(CPU budget\\) at `));
  }, 60_000);

  it('restarts a camera killed by --fault kill-during-write through its supervisor, and the restarted agent reports why', async () => {
    if (!existsSync(BUNDLE)) await buildAgent();
    const broker = await startEmbeddedBroker();
    cleanups.push(() => broker.close());
    const serial = loadProfile('active-12').data.identity.serialNumber;
    const subscriber = await Subscriber.connect(broker.url, [`vigil/v1/${serial}/report`]);
    cleanups.push(() => subscriber.close());
    const dir = tmp();
    const stop = new AbortController();
    // Broker down for the first 4 s, so reports go to the outbox; the first write after 1 s kills the agent.
    const args = ['sim', '--profile', 'active-12', '--broker', broker.url, '--bundle', BUNDLE, '--interval', '1', '--state', join(dir, 'state')];
    const sim = run([...args, '--fault', 'broker-down@0+4', '--fault', 'kill-during-write:before-rename@1'], stop.signal);
    try {
      await subscriber.waitFor(
        'a report from the restarted agent',
        () => subscriber.json(`vigil/v1/${serial}/report`).find((r) => (r as Report).health?.lastExit === 'killed during an outbox write (simulated)'),
        25_000,
      );
    } finally {
      stop.abort();
    }
    expect(await sim.code).toBe(0);
    expect(sim.err()).toContain('[host-sim] [supervisor] the camera was killed (killed during an outbox write (simulated)); restarting it');
    expect(sim.err()).toContain('[vigil] [sim] camera restarted with the same data dir');
    expect(sim.err()).toContain(`[vigil] [sim] 1 restart in 1 of 1 camera:\n  ${serial} (active-12): 1 restart, running; last exit: killed during an outbox write (simulated)`);
  }, 60_000);

  it('exits 3 with the documented message when the supervisor gives up on its only camera', async () => {
    const dir = tmp();
    const bundle = join(dir, 'always-spins.js');
    writeFileSync(bundle, '__vigilHost.clock.setTimer(1, function () { for (;;) {} });');
    const sim = run(['sim', '--profile', 'active-12', '--broker', 'mqtt://127.0.0.1:1', '--bundle', bundle, '--cpu-budget-ms', '50', '--max-restarts', '1']);
    expect(await sim.code).toBe(3);
    expect(sim.err()).toContain('[host-sim] [supervisor] gave up after 1 restarts within 600 s; last: interrupted (CPU budget); the camera stays stopped');
    expect(sim.err()).toContain('[vigil] [sim] the supervisor gave up on every camera (crash loop); exiting with code 3');
  });
});

describe('vigil fleet: a fatal start ends the process (issue 15, item 7)', () => {
  it('exits 1 with one line when the dashboard port is in use, leaving nothing running', async () => {
    const { spawn } = await import('node:child_process');
    const broker = await startEmbeddedBroker({ port: 0 });
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, [VIGIL, 'fleet', '--broker', broker.url, '--db', ':memory:', '--http', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      // Bounded only so a regression fails instead of hanging the suite: the exit itself is what is tested.
      const code = await new Promise<number | string>((resolve) => {
        const guard = setTimeout(() => {
          child.kill('SIGKILL');
          resolve('still running after 60 s');
        }, 60_000);
        child.on('exit', (c) => {
          clearTimeout(guard);
          resolve(c ?? -1);
        });
      });
      expect(code).toBe(1);
      expect(err.trim().split('\n').filter((l) => !/ info: /.test(l))).toEqual([`[vigil] [fleet] cannot serve the dashboard on 127.0.0.1:${port}: the port is in use; choose another with --http`]);
    } finally {
      holder.close();
      await broker.close();
    }
  }, 90_000);
});
