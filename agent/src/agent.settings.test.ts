/**
 * Settings from the camera's own page while the agent runs: the FakeHost's param.cgi answers the app's group
 * `root.vigil.*` (test/helpers/agent-harness.ts setCameraSettings), param.conf is the FakeHost's config(),
 * --config its configOverrides(). A real Aedes; time moves only when a test says so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AgentHarness, SERIAL, type HarnessOptions } from '../../test/helpers/agent-harness';

let h: AgentHarness;

afterEach(async () => {
  await h?.close();
});

async function started(camera: Record<string, string> | null, options: HarnessOptions = {}): Promise<AgentHarness> {
  h = new AgentHarness(options);
  h.setCameraSettings(camera);
  return h.startUntilFirstReport();
}

/** Broker connection attempts (host:port) from the moment of the call. */
function attempts(harness: AgentHarness): string[] {
  const seen: string[] = [];
  const connect = harness.fake.net.connect;
  harness.fake.net.connect = (o) => {
    if (o.host === 'broker') seen.push(`${o.port}@${harness.fake.clock.monotonic()}`);
    return connect(o);
  };
  return seen;
}

const settingsLogs = () => h.logs().filter((m) => m.startsWith('[vigil] [config]'));

describe('settings from the camera', () => {
  it("reports at the camera's IntervalSec over param.conf's", async () => {
    await started({ IntervalSec: '20' });
    expect(h.reports()[0].intervalSec).toBe(20);
  });

  it("keeps a --config IntervalSec over the camera's", async () => {
    await started({ IntervalSec: '20' }, { overrides: { IntervalSec: '5' } });
    expect(h.reports()[0].intervalSec).toBe(5);
  });

  it('reports at a new IntervalSec set on the camera mid-run, without a restart', async () => {
    await started({ IntervalSec: '10' });
    h.setCameraSettings({ IntervalSec: '30' });
    await h.until('a report at the new interval', () => h.reports().find((r) => r.intervalSec === 30), { stepMs: 500 });
    const at = h.stats.publishTimes.length;
    await h.until('two more reports', () => h.stats.publishTimes.length >= at + 2, { stepMs: 500 });
    const [a, b] = h.stats.publishTimes.slice(-2);
    expect(Math.round((b - a) / 1000)).toBe(30);
    expect(settingsLogs()).toContain('[vigil] [config] settings changed: IntervalSec="30"');
  });

  it('keeps the previous IntervalSec for IntervalSec=abc, logs it once, and keeps reporting', async () => {
    await started({ IntervalSec: '10' });
    h.setCameraSettings({ IntervalSec: 'abc' });
    const n = h.reports().length;
    await h.until('five more reports', () => h.reports().length >= n + 5, { stepMs: 500 });
    expect(h.reports().at(-1)?.intervalSec).toBe(10);
    expect(h.logs('warn').filter((m) => m.includes('IntervalSec'))).toEqual(['[vigil] [config] IntervalSec must be an integer from 1 to 3600, got "abc"; keeping IntervalSec="10"']);
  });

  it('keeps the broker connection for BrokerPort=70000 and applies the good value set with it', async () => {
    await started({ IntervalSec: '10' });
    const seen = attempts(h);
    h.setCameraSettings({ IntervalSec: '20', BrokerPort: '70000' });
    await h.until('a report at the new interval', () => h.reports().find((r) => r.intervalSec === 20), { stepMs: 500 });
    expect(seen).toEqual([]);
    expect(h.logs('warn').some((m) => m.startsWith('[vigil] [config] BrokerPort must be an integer from 1 to 65535, got "70000"; keeping BrokerPort='))).toBe(true);
  });

  it('keeps its settings with one log line while param.cgi has no root.vigil group, and applies them once it has', async () => {
    await started(null);
    const n = h.reports().length;
    await h.until('four more reports', () => h.reports().length >= n + 4, { stepMs: 500 });
    expect(settingsLogs()).toEqual(["[vigil] [config] cannot read the camera's settings (param.cgi has no group root.vigil); keeping the ones in use"]);
    h.setCameraSettings({ IntervalSec: '20' });
    await h.until('a report at the interval of the camera', () => h.reports().find((r) => r.intervalSec === 20), { stepMs: 500 });
    expect(settingsLogs()[1]).toBe("[vigil] [config] the camera's settings are readable again");
  });

  it('starts with a clear error while BrokerHost is empty everywhere, and once it is set on the camera', async () => {
    h = new AgentHarness({ config: { BrokerHost: '' } });
    h.setCameraSettings({ BrokerHost: '' });
    await h.startBroker();
    h.start();
    await h.settle();
    expect(h.logs('error')).toEqual(['[vigil] [config] BrokerHost is required; retrying in 30 s']);
    h.setCameraSettings({ BrokerHost: 'broker' });
    await h.until('a report once the camera names the broker', () => h.reports().length >= 1, { stepMs: 1000 });
  });

  it('says offline on the old broker and connects at once to a new BrokerPort set on the camera', async () => {
    await started({ IntervalSec: '10' });
    h.serveBroker('broker', 1884);
    const seen = attempts(h);
    const changedAt = h.fake.clock.monotonic();
    h.setCameraSettings({ IntervalSec: '10', BrokerPort: '1884' });
    await h.until('online on the new port', () => seen.length >= 1 && h.json('state').filter((s) => s.state === 'online').length >= 2, { stepMs: 100 });
    expect(seen.map((s) => s.split('@')[0])).toEqual(['1884']);
    // read at the next cycle (10 s), connected then, not after a backoff
    expect(Number(seen[0].split('@')[1]) - changedAt).toBeLessThanOrEqual(10_000);
    expect(h.json('state').map((s) => `${s.state}/${s.reason ?? ''}`)).toEqual(['online/connected', 'offline/reconfigured', 'online/connected']);
    expect(h.logs('warn').filter((m) => m.includes('connection lost'))).toEqual([]);
  });

  it('retries at once with new credentials set on the camera after a refused CONNACK, not after its long backoff', async () => {
    h = new AgentHarness({
      aedes: {
        authenticate: (_c, user, _p, done) => (user === 'wrong' ? done(Object.assign(new Error('no'), { returnCode: 4 as const }), false) : done(null, true)),
      },
    });
    h.setCameraSettings({ BrokerUsername: 'wrong', BrokerPassword: 'old-secret' });
    const seen = attempts(h);
    await h.startBroker();
    h.start();
    await h.until('the refusal', () => h.logs('error').some((m) => m.includes('CONNACK 4')), { stepMs: 100 });
    const refusedAt = h.fake.clock.monotonic();
    h.setCameraSettings({ BrokerUsername: 'cam', BrokerPassword: 'new-secret' });
    await h.until('a report over the new credentials', () => h.reports().length >= 1, { stepMs: 100 });
    // the next cycle (10 s) read the change; the refusal's backoff is at least 30 s
    expect(Number(seen[1].split('@')[1]) - refusedAt).toBeLessThanOrEqual(10_000);
    expect(settingsLogs()).toContain('[vigil] [config] settings changed: BrokerUsername="cam", BrokerPassword');
    expect(h.fake.logs.some((l) => /old-secret|new-secret/.test(l.message))).toBe(false);
  });

  it('moves to a new TopicPrefix set on the camera: offline under the old prefix, online and reports under the new one', async () => {
    await started({ IntervalSec: '10' });
    await h.observer?.subscribeAsync('site2/#', { qos: 1 });
    h.setCameraSettings({ IntervalSec: '10', TopicPrefix: 'site2/v1' });
    const under = (prefix: string, leaf: string) => h.received.filter((m) => m.topic === `${prefix}/${SERIAL}/${leaf}`).map((m) => JSON.parse(m.payload));
    await h.until('a report under the new prefix', () => under('site2/v1', 'report').length >= 1, { stepMs: 100 });
    expect(under('vigil/v1', 'state').map((s) => s.state)).toEqual(['online', 'offline']);
    expect(under('site2/v1', 'state').map((s) => s.state)).toEqual(['online']);
  });
});
