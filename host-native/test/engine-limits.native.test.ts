// Issue 7 on the native host: when the engine stops the agent at a limit (CPU budget, memory limit, stack),
// the host stops that run cleanly and starts the bundle again in the same process, with
// __vigilHost.info.lastExit saying why ("<reason> at <ISO time>; restarted by the host", the simulator's
// text); a crash loop ends the process with exit 3 and leaves <data>/.vigil-last-exit for the respawn.
// "Stopped at a limit" means an engine error that reached the host uncaught, as host-sim's
// QuickJSRunner.exitReason: one the agent caught itself is not a stop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { loadProfile } from '../../host-sim/src/profiles';
import { buildConfig } from '../../host-sim/src/sim-host';
import { VapixServer } from '../../host-sim/src/vapix-server';
import { startMosquitto } from '../../test/helpers/mosquitto';
import { Subscriber } from '../../test/helpers/subscriber';
import { BUILD_TIMEOUT_MS, REPO, TARGETS, ensureBuilt, runNative, startNative, tempDir, type Target } from './helpers';

const tmp = tempDir('limits');
let n = 0;
const native = TARGETS[0];
/** x86_64 and the camera's aarch64 under qemu-user; the cheap cases on armv7hf too. */
const MAIN_TARGETS = TARGETS.filter((t) => t.arch !== 'armv7hf');

const LAST_EXIT = (reason: string) =>
  new RegExp(`^${reason.replace(/[()]/g, '\\$&')} at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z; restarted by the host$`);

function script(body: string): string {
  const file = path.join(tmp.dir, `s${n++}.js`);
  // QuickJS has no TextEncoder: bytes() is enough for ASCII.
  writeFileSync(
    file,
    `const h = globalThis.__vigilHost;\nconst out = (globalThis.__out = { lastExit: h.info.lastExit, seen: [] });\n` +
      `const bytes = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0)).buffer;\n${body}\n`,
  );
  return file;
}

function dataDir(): string {
  const d = path.join(tmp.dir, `data${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Runs a script to its end; `out` is what the last run left in globalThis.__out. */
async function run(body: string, args: string[] = [], target: Target = native, data = dataDir()) {
  const r = await runNative(target, ['--stderr', '--data-dir', data, ...args, '--print-global', '__out', script(body)], { timeoutMs: 90_000 });
  const last = r.stdout.trim().split('\n').pop() || 'null';
  return { ...r, data, out: JSON.parse(last) as { lastExit: string | null; seen: unknown[] } | null };
}

const restarts = (stderr: string) => (stderr.match(/restarting it/g) ?? []).length;

beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

describe('the native host restarts an agent the engine stopped at a limit', () => {
  for (const target of TARGETS) {
    it(`restarts a bundle that spins in a timer past its CPU budget, and the next run sees lastExit, ${target.label}`, async () => {
      const r = await run(
        `if (!h.info.lastExit) h.clock.setTimer(1, () => { for (;;) {} });
         else h.clock.setTimer(1, () => out.seen.push('second run alive'));`,
        ['--cpu-budget-ms', '100'],
        target,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.out?.lastExit).toMatch(LAST_EXIT('interrupted (CPU budget)'));
      expect(r.out?.seen).toEqual(['second run alive']);
      expect(restarts(r.stderr)).toBe(1);
      expect(r.stderr).toContain('the engine stopped the agent at a limit (interrupted (CPU budget))');
    }, 120_000);

    it(`restarts a bundle that grows its heap without bound under --memory-limit, ${target.label}`, async () => {
      const r = await run(
        `if (!h.info.lastExit) { const a = []; for (;;) a.push(new Array(100000).fill(1)); }`,
        ['--memory-limit', String(8 << 20)],
        target,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.out?.lastExit).toMatch(LAST_EXIT('out of memory'));
      expect(restarts(r.stderr)).toBe(1);
    }, 120_000);
  }

  it('restarts a bundle whose promise job overflows the stack', async () => {
    const r = await run(`if (!h.info.lastExit) Promise.resolve().then(() => { const f = () => f() + 1; f(); });`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.out?.lastExit).toMatch(LAST_EXIT('stack overflow'));
  });

  it('restarts on an interrupted async timer callback, whose rejection nobody handles', async () => {
    const r = await run(`if (!h.info.lastExit) h.clock.setTimer(1, async () => { for (;;) {} });`, ['--cpu-budget-ms', '100']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.out?.lastExit).toMatch(LAST_EXIT('interrupted (CPU budget)'));
  });

  it('stops the run cleanly before the restart: calls stop(), closes its sockets, drops its timers', async () => {
    const events: string[] = [];
    let conns = 0;
    const server = net.createServer((s) => {
      const k = ++conns;
      s.on('data', (d) => events.push(`${k} data ${d.toString().trim()}`));
      s.on('close', () => events.push(`${k} closed`));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const r = await run(`
        const run = h.info.lastExit ? 'second' : 'first';
        globalThis.__vigilAgent = { stop: () => { h.log('info', 'stop() of the ' + run + ' run'); return Promise.resolve(); } };
        h.net.connect({ host: '127.0.0.1', port: ${port} }).then(async (id) => {
          await h.net.write(id, bytes(run + '\\n'));
          if (run === 'first') {
            h.clock.setTimer(400, () => h.log('info', 'a timer of the first run fired'));
            h.clock.setTimer(1, () => { for (;;) {} });
          } else {
            h.clock.setTimer(100, () => h.net.close(id));
          }
        });`, ['--cpu-budget-ms', '100']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('stop() of the first run');
      expect(r.stderr).not.toContain('a timer of the first run fired');
      await new Promise((res) => setTimeout(res, 100));
      expect(events).toContain('1 data first');
      expect(events).toContain('2 data second');
      // The second run closes its socket 100 ms after it started: the first one was closed before that,
      // by the restart, not at the process's exit.
      expect(events.indexOf('1 closed')).toBeGreaterThanOrEqual(0);
      expect(events.indexOf('1 closed')).toBeLessThan(events.indexOf('2 closed'));
    } finally {
      server.close();
    }
  });

  for (const target of TARGETS) {
    it(`gives up on a crash loop with exit 3 and leaves .vigil-last-exit for the next process, ${target.label}`, async () => {
      const data = dataDir();
      const r = await run(`h.clock.setTimer(1, () => { for (;;) {} });`, ['--cpu-budget-ms', '50', '--max-restarts', '3'], target, data);
      expect(r.code, r.stderr).toBe(3);
      expect(restarts(r.stderr)).toBe(3);
      expect(r.stderr).toMatch(/\[vigil\] \[native\] crash loop: 3 restarts within 600 s, the last run stopped by interrupted \(CPU budget\); giving up \(exit 3\)/);
      const file = readFileSync(path.join(data, '.vigil-last-exit'), 'utf8').trim();
      expect(file).toMatch(/^interrupted \(CPU budget\) at \S+Z; the host gave up after 3 restarts; restarted by the process manager$/);
      // The respawned process reports it once, and consumes the file.
      const next = await run(`h.clock.setTimer(1, () => {});`, [], target, data);
      expect(next.code).toBe(0);
      expect(next.out?.lastExit).toBe(file);
      expect(existsSync(path.join(data, '.vigil-last-exit'))).toBe(false);
    }, 120_000);
  }

  it('counts only the restarts within --restart-window-ms toward a crash loop', async () => {
    // Four runs spin, each 300 ms after it started: with one restart allowed per 200 ms, no restart is the
    // second within its window, so the host keeps restarting until the fifth run, which ends normally.
    const r = await run(
      `const file = h.config().DataDir + '/runs';
       h.fs.readFile(file, 16).then((b) => Number(String.fromCharCode(...new Uint8Array(b))), () => 0).then(async (runs) => {
         await h.fs.writeFileAtomic(file, bytes(String(runs + 1)));
         if (runs < 4) h.clock.setTimer(300, () => { for (;;) {} });
         else out.seen.push('run ' + (runs + 1));
       });`,
      ['--cpu-budget-ms', '50', '--max-restarts', '1', '--restart-window-ms', '200'],
    );
    expect(r.code, r.stderr).toBe(0);
    expect(restarts(r.stderr)).toBe(4);
    expect(r.out?.seen).toEqual(['run 5']);
  });
});

describe('an error the agent caught is not a stop', () => {
  it('does not restart an agent that catches an interrupt through a promise .catch', async () => {
    const r = await run(
      `h.clock.setTimer(1, () => { (async () => { for (;;) {} })().catch((e) => out.seen.push(String(e))); });`,
      ['--cpu-budget-ms', '100'],
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.out).toEqual({ lastExit: null, seen: ['InternalError: interrupted'] });
    expect(restarts(r.stderr)).toBe(0);
  });

  it('does not restart an agent that catches an out-of-memory error in a try/catch', async () => {
    const r = await run(
      `h.clock.setTimer(1, () => { try { const a = []; for (;;) a.push(new Array(100000).fill(1)); } catch (e) { out.seen.push(String(e)); } });`,
      ['--memory-limit', String(8 << 20)],
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.out).toEqual({ lastExit: null, seen: ['InternalError: out of memory'] });
    expect(restarts(r.stderr)).toBe(0);
  });

  it('restarts an agent whose try/catch wraps a runaway loop: QuickJS interrupts are uncatchable', async () => {
    const r = await run(
      `if (!h.info.lastExit) h.clock.setTimer(1, () => { try { for (;;) {} } catch (e) { out.seen.push('caught'); } });`,
      ['--cpu-budget-ms', '100'],
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.out).toEqual({ lastExit: expect.stringMatching(LAST_EXIT('interrupted (CPU budget)')), seen: [] });
  });
});

describe('the native host ends a run with its hashing in flight', () => {
  it('sigterm-during-sha256file-aborts: exits 0 on SIGTERM while a paced sha256File is running', async () => {
    const root = path.join(tmp.dir, 'hash-root');
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, 'big'), Buffer.alloc(1 << 20));
    const p = startNative(native, ['--stderr', '--root', root, '--data-dir', dataDir(), script(`
      h.crypto.sha256File('/big', 10000).then(() => h.log('info', 'hashed'), (e) => h.log('info', 'hash ended: ' + e.message));
      h.log('info', 'ready');`)]);
    for (let i = 0; i < 100 && !p.stderr().includes('ready'); i++) await new Promise((r) => setTimeout(r, 20));
    p.process.kill('SIGTERM');
    expect(await p.exited, p.stderr()).toEqual({ code: 0, signal: null });
    expect(p.stderr()).toContain('hash ended: EIO: /big: the host is stopping');
  });
});

/** Runs a prelude and then the real dist/agent.js (one "use strict" IIFE; inside a function its directive
 * still applies) against the active-12 camera and Mosquitto, until `reports` reports were published. */
async function agentReports(target: Target, tag: string, prelude: string, reports: number) {
  const profile = loadProfile('active-12');
  const broker = await startMosquitto();
  const sub = await Subscriber.connect(broker.url, ['vigil/v1/#']);
  const vapix = new VapixServer({ profile: profile.data });
  const vapixPort = await vapix.listen();
  const dir = path.join(tmp.dir, `agent-${tag}-${target.arch}`);
  const data = path.join(dir, 'localdata');
  if (profile.localdataDir && existsSync(profile.localdataDir)) cpSync(profile.localdataDir, data, { recursive: true });
  mkdirSync(data, { recursive: true });
  const config = buildConfig(profile, { BrokerHost: broker.host, BrokerPort: String(broker.port), VapixHost: vapix.host, VapixPort: String(vapixPort) });
  config.VapixUsername = profile.data.vapix.credentials.username;
  config.VapixPassword = profile.data.vapix.credentials.password;
  const configFile = path.join(dir, 'agent.conf');
  writeFileSync(configFile, Object.entries(config).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const bundle = path.join(dir, 'guarded-agent.js');
  writeFileSync(bundle, `${prelude}\n(function () {\n${readFileSync(path.join(REPO, 'dist/agent.js'), 'utf8')}\n})();\n`);
  const agent = startNative(target, ['--stderr', '--no-dbus', '--root', profile.rootfsDir, '--data-dir', data, '--config', configFile, bundle]);
  try {
    const topic = `vigil/v1/${profile.data.identity.serialNumber}/report`;
    await sub.waitFor(`${reports} report(s) from the agent; its log:\n${agent.stderr()}`, () => sub.json(topic).length >= reports, 90_000);
    const got = sub.json(topic) as Array<{ health: { lastExit: string | null } }>;
    agent.process.kill('SIGTERM');
    return { lastExits: got.map((r) => r.health.lastExit), exit: await agent.exited, stderr: agent.stderr() };
  } finally {
    if (agent.process.exitCode === null) agent.process.kill('SIGKILL');
    await vapix.close();
    await sub.close();
    await broker.stop();
  }
}

describe.each(MAIN_TARGETS)('the real agent after a restart, $label', (target) => {
  it('says why in its next report: health.lastExit carries the reason', async () => {
    // Runs away before the agent starts, on the first run only; the second run is the plain agent.
    const r = await agentReports(target, 'early', `if (!__vigilHost.info.lastExit) { __vigilHost.clock.setTimer(1, () => { for (;;) {} }); } else`, 1);
    expect(r.lastExits[0]).toMatch(LAST_EXIT('interrupted (CPU budget)'));
    expect(restarts(r.stderr)).toBe(1);
    expect(r.exit, r.stderr).toEqual({ code: 0, signal: null });
  }, 150_000);

  it('stops a live agent (MQTT up, one report out) at a limit, and the report after the restart says why', async () => {
    // On the first run, a slice runs away just after the first report went out (seen in the bytes the agent
    // writes), while the agent has its connection and timers up.
    const prelude = `if (!__vigilHost.info.lastExit) {
      const net = __vigilHost.net, write = net.write;
      let armed = false;
      net.write = (id, data) => {
        if (!armed && String.fromCharCode(...new Uint8Array(data)).includes('/report')) {
          armed = true;
          __vigilHost.clock.setTimer(50, () => { for (;;) {} });
        }
        return write(id, data);
      };
    }`;
    const r = await agentReports(target, 'late', prelude, 2);
    expect(r.lastExits[0]).toBeNull();
    expect(r.lastExits[1]).toMatch(LAST_EXIT('interrupted (CPU budget)'));
    expect(r.stderr).toContain('[vigil] [agent] stopped');
    expect(restarts(r.stderr)).toBe(1);
    expect(r.exit, r.stderr).toEqual({ code: 0, signal: null });
  }, 150_000);
});
