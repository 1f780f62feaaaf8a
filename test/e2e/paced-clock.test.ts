/**
 * The harness's paced clock (test/helpers/agent-harness.ts) against a real Aedes whose CONNACK to the agent
 * is held back in real time, as a loaded machine would: the simulated clock must wait for a late CONNACK,
 * and must not wait for ever for one that never comes. The agent's connect timeout is 10 s of simulated
 * time, which an unpaced `until` covers in a few real milliseconds.
 */
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { AedesOptions } from 'aedes';
import { AgentHarness, SERIAL } from '../helpers/agent-harness';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';

let h: AgentHarness | null = null;
let mosquitto: Mosquitto | null = null;
let proxy: net.Server | null = null;
const delays: NodeJS.Timeout[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  await h?.close();
  h = null;
  for (const t of delays.splice(0)) clearTimeout(t);
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  proxy = null;
  await mosquitto?.stop();
  mosquitto = null;
});

/**
 * A loopback proxy to Mosquitto that holds back what Mosquitto sends the agent (a CONNECT naming SERIAL)
 * for `ms` of real time, as a descheduled broker process would; the observer passes straight through.
 */
async function lateMosquitto(ms: number): Promise<{ host: string; port: number }> {
  const m = await startMosquitto();
  mosquitto = m;
  const server = net.createServer((client) => {
    const upstream = net.connect(m.port, m.host);
    sockets.push(client, upstream);
    let late: boolean | null = null;
    client.on('data', (d) => {
      if (late === null) late = d.includes(SERIAL);
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (late) delays.push(setTimeout(() => client.write(d), ms));
      else client.write(d);
    });
    for (const s of [client, upstream]) {
      s.on('error', () => undefined);
      s.on('close', () => (s === client ? upstream : client).destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy = server;
  return { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
}

/** Aedes that answers the agent (client id SERIAL) only after `ms` of real time; null: never. The observer is let in at once. */
function lateBroker(ms: number | null): AedesOptions {
  return {
    authenticate: (client, _user, _password, done) => {
      if (client.id !== SERIAL) return done(null, true);
      if (ms !== null) delays.push(setTimeout(() => done(null, true), ms));
    },
  };
}

const timeouts = (harness: AgentHarness) => harness.logs('warn').filter((m) => /cannot connect \(ETIMEDOUT\)/.test(m));

describe('the paced clock', () => {
  it('waits for a CONNACK that comes 2 s late in real time: the agent connects on its first attempt', async () => {
    h = new AgentHarness({ aedes: lateBroker(2000) });
    await h.startBroker();
    h.start();
    const harness = h;
    await h.until('the first report', () => harness.reports().length >= 1);
    expect(timeouts(h)).toEqual([]);
    expect(h.stats.connections).toBe(1);
    expect(h.pacing).toMatchObject({ held: 1, expired: 0 });
    expect(h.pacing.longestHoldMs).toBeGreaterThanOrEqual(1500);
  });

  it('waits for a Mosquitto CONNACK that comes 2 s late in real time: the agent connects on its first attempt', async () => {
    h = new AgentHarness({ broker: await lateMosquitto(2000) });
    await h.startBroker();
    h.start();
    const harness = h;
    await h.until('the first report', () => harness.reports().length >= 1);
    expect(timeouts(h)).toEqual([]);
    expect(h.stats.connections).toBe(1);
    expect(h.pacing).toMatchObject({ held: 1, expired: 0 });
    expect(h.pacing.longestHoldMs).toBeGreaterThanOrEqual(1500);
  });

  it('without pacing, the same late CONNACK loses to the 10 s connect timeout (the race it removes)', async () => {
    h = new AgentHarness({ aedes: lateBroker(2000), pace: false });
    await h.startBroker();
    h.start();
    const harness = h;
    await h.until('a connect timeout', () => timeouts(harness).length >= 1);
    expect(h.reports()).toEqual([]);
    expect(h.pacing).toMatchObject({ held: 0, expired: 0 });
  });

  it('holds the clock at most holdMs per attempt when the broker never answers: the agent times out and retries', async () => {
    h = new AgentHarness({ aedes: lateBroker(null), pace: { holdMs: 200 } });
    await h.startBroker();
    h.start();
    const harness = h;
    const t0 = Date.now();
    // the agent warns once per kind of problem, so count its attempts instead
    await h.until('a third attempt', () => harness.stats.connections >= 3);
    expect(timeouts(h).length).toBeGreaterThan(0);
    expect(h.pacing.expired).toBeGreaterThanOrEqual(2);
    expect(h.pacing.longestHoldMs).toBeLessThanOrEqual(200);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('with the default hold, a broker that never answers costs about 5 s of real time per attempt, not a hang', async () => {
    h = new AgentHarness({ aedes: lateBroker(null) });
    await h.startBroker();
    h.start();
    const harness = h;
    const t0 = Date.now();
    await h.until('a connect timeout', () => timeouts(harness).length >= 1);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(4900);
    expect(took).toBeLessThan(20_000);
    expect(h.pacing.expired).toBe(1);
  });
});
