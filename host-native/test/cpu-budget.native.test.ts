// The CPU budget counts the agent's CPU, not wall time (issue 11): on the camera the agent shares the CPU
// with video, and a slice that is preempted or stopped has not looped. A SIGSTOP in the middle of a slice,
// longer than the budget, must not get the agent interrupted or restarted; a real infinite loop still is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { BUILD_TIMEOUT_MS, TARGETS, ensureBuilt, runNative, startNative, tempDir } from './helpers';

/** x86_64 natively and the camera's aarch64 under qemu-user. */
const MAIN_TARGETS = TARGETS.filter((t) => t.arch !== 'armv7hf');
const BUDGET_MS = 300;
/** How long the process is stopped: five budgets, so wall-time accounting cannot miss it. */
const STOPPED_MS = 1500;

const tmp = tempDir('cpu-budget');
let n = 0;

function script(body: string): string {
  const file = path.join(tmp.dir, `s${n++}.js`);
  writeFileSync(file, `const h = globalThis.__vigilHost;\nconst out = (globalThis.__out = { lastExit: h.info.lastExit });\n` +
    `const bytes = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0)).buffer;\n${body}\n`);
  return file;
}

function dataDir(): string {
  const d = path.join(tmp.dir, `data${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/*
 * One slice (a promise job) that tells the test it has started (the write goes to the kernel synchronously),
 * then works in small chunks until it has seen a gap in wall time of at least a second since the write or
 * between two chunks (the SIGSTOP), and 50 chunks more: QuickJS asks the interrupt handler once every 10000 backward jumps, so
 * it is asked after the stop for sure. Its CPU is the chunks before the signal arrived and the 50 after (a
 * few ms natively), far under the budget on any machine; its wall time is over the budget by the stop. A restarted run (lastExit set) does
 * nothing, so the output of the last run says whether there was one.
 */
const STOPPED_SLICE = (port: number) => `
if (!h.info.lastExit) h.net.connect({ host: '127.0.0.1', port: ${port} }).then((id) => {
  let last = h.clock.monotonic(), x = 0;
  h.net.write(id, bytes('go\\n'));
  out.gapMs = 0;
  out.chunks = 0;
  for (let after = 0; after < 50; after += out.gapMs >= 1000 ? 1 : 0) {
    for (let i = 0; i < 1000; i++) x = (x * 31 + i) | 0;
    const now = h.clock.monotonic();
    out.gapMs = Math.max(out.gapMs, now - last);
    last = now;
    out.chunks++;
  }
  out.x = x;
  return h.net.write(id, bytes('done\\n')).then(() => h.net.close(id));
});`;

/** A signal to a process that may have ended meanwhile. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already: the test's expectations say why
  }
}

beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

describe('the CPU budget counts CPU', () => {
  for (const target of MAIN_TARGETS) {
    it(`does not interrupt a slice stopped with SIGSTOP for longer than the budget, nor restart it, ${target.label}`, async () => {
      let agentPid = 0;
      const seen: string[] = [];
      const server = net.createServer((s) => {
        s.on('error', () => undefined);
        s.on('data', (d) => {
          for (const line of d.toString().split('\n').filter(Boolean)) {
            seen.push(line);
            if (line === 'go') {
              process.kill(agentPid, 'SIGSTOP');
              setTimeout(() => signal(agentPid, 'SIGCONT'), STOPPED_MS);
            }
          }
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const port = (server.address() as net.AddressInfo).port;
        const p = startNative(target, ['--stderr', '--cpu-budget-ms', String(BUDGET_MS), '--data-dir', dataDir(), '--print-global', '__out', script(STOPPED_SLICE(port))]);
        agentPid = p.process.pid ?? 0;
        const exit = await p.exited;
        const out = JSON.parse(p.stdout().trim().split('\n').pop() || 'null');
        expect(p.stderr()).not.toContain('ran over its CPU budget');
        expect(p.stderr()).not.toContain('restarting it');
        expect(exit, p.stderr()).toEqual({ code: 0, signal: null });
        expect(out.lastExit).toBeNull();
        // The stop did land in the slice, and lasted longer than the budget.
        expect(out.gapMs).toBeGreaterThanOrEqual(1000);
        expect(seen).toEqual(['go', 'done']);
      } finally {
        server.close();
      }
    }, 120_000);

    it(`still interrupts an infinite loop at the budget and restarts the agent, ${target.label}`, async () => {
      const r = await runNative(target, ['--stderr', '--cpu-budget-ms', String(BUDGET_MS), '--data-dir', dataDir(), '--print-global', '__out', script(`
        if (!h.info.lastExit) h.clock.setTimer(1, () => { for (;;) {} });
        else h.clock.setTimer(1, () => { out.second = 'alive'; });`)], { timeoutMs: 90_000 });
      const out = JSON.parse(r.stdout.trim().split('\n').pop() || 'null');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`a JS slice ran over its CPU budget of ${BUDGET_MS} ms and was interrupted`);
      expect(out.lastExit).toMatch(/^interrupted \(CPU budget\) at .*; restarted by the host$/);
      expect(out.second).toBe('alive');
    }, 120_000);
  }
});
