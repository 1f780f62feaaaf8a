/**
 * `vigil sim --count N` stopped with Ctrl-C while its cameras are still starting: every camera that came online
 * says offline and the command exits 0 (before the fix, Node's default SIGINT ended the process mid-start with
 * no camera stopped; the shared-consumers e2e saw it as exit code null).
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { Subscriber } from '../helpers/subscriber';
import { waitUntil } from '../helpers/wait';

const VIGIL = resolve(__dirname, '../../bin/vigil.mjs');
let mosquitto: Mosquitto;
let states: Subscriber;

beforeAll(async () => {
  mosquitto = await startMosquitto();
  states = await Subscriber.connect(mosquitto.url, ['vigil/v1/+/state']);
}, 60_000);

afterAll(async () => {
  await states?.close();
  await mosquitto?.stop();
});

describe('vigil sim stopped while its cameras start', () => {
  it('stops every camera that started cleanly and exits 0', async () => {
    const sim = spawn(process.execPath, [VIGIL, 'sim', '--profile', 'lts2024', '--count', '40', '--start-rate', '2', '--interval', '60', '--broker', mosquitto.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    sim.stdout?.on('data', (d) => (out += d));
    sim.stderr?.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => sim.once('exit', (code) => r(code)));
    const last = () => {
      const m = new Map<string, string>();
      for (const x of states.messages) m.set(x.topic, (JSON.parse(x.payload.toString('utf8')) as { state: string }).state);
      return m;
    };
    await waitUntil('a first camera online', () => [...last().values()].includes('online'), { timeoutMs: 180_000, pollMs: 100 });
    expect(out).not.toMatch(/cameras reporting/);
    sim.kill('SIGINT');
    expect(await exited, out.slice(-2000)).toBe(0);
    await waitUntil('every started camera offline', () => [...last().values()].every((s) => s === 'offline'), { timeoutMs: 30_000 });
    expect(last().size).toBeGreaterThan(0);
  }, 300_000);
});
