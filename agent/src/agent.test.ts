/**
 * The agent's main loop on a FakeHost (manual clock, in-memory flash) against a real Aedes in process
 * (test/helpers/agent-harness.ts). Time moves only when a test advances it; nothing here depends on how
 * fast the machine is.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AgentHarness, SERIAL, deliveryAccount } from '../../test/helpers/agent-harness';
import { backoffDelay } from './mqtt/session';
import { PacketParser, decodeAnyPacket, CONNECT, type Packet } from './mqtt/codec';
import mqttPacket from 'mqtt-packet';

let h: AgentHarness;

afterEach(async () => {
  await h?.close();
});

async function started(config: Record<string, string> = {}): Promise<AgentHarness> {
  h = new AgentHarness({ config });
  return h.startUntilFirstReport();
}

const queued = async () => (h.fake.exists('/data/outbox') ? (await h.fake.fs.list('/data/outbox')).length : 0);

describe('start-up and state', () => {
  it('logs a clear error for an invalid config and tries again 30 s later', async () => {
    h = new AgentHarness({ config: { BrokerHost: '', IntervalSec: 'often' } });
    await h.startBroker();
    h.start();
    await h.settle();
    const errors = h.logs('error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^\[vigil\] \[config\] .*BrokerHost is required; IntervalSec must be an integer from 1 to 3600, got "often"; retrying in 30 s$/);
    h.fake.configValues.BrokerHost = 'broker';
    h.fake.configValues.IntervalSec = '10';
    await h.run(29_000);
    expect(h.reports()).toHaveLength(0);
    await h.until('a report once the config is fixed', () => h.reports().length >= 1);
  });

  it('announces online with session 1 and sends reports with increasing seq and distinct reportIds', async () => {
    await started();
    await h.until('three reports', () => h.reports().length >= 3, { stepMs: 500 });
    expect(h.json('state')[0]).toMatchObject({ state: 'online', reason: 'connected', session: 1 });
    // A step can bring more than one report when the broker is slow (a loaded machine): check all of them.
    const r = h.reports();
    expect(r.map((x) => x.seq)).toEqual(r.map((_, i) => i + 1));
    expect(new Set(r.map((x) => x.reportId)).size).toBe(r.length);
    expect(r[0].reportId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('keeps the session counter, seq and dropped counter across a restart', async () => {
    await started();
    await h.until('two reports', () => h.reports().length >= 2, { stepMs: 500 });
    await h.agent?.stop();
    h.start();
    await h.until('a report from the second run', () => h.reports().length >= 3 && h.json('state').length >= 3, { stepMs: 10 });
    const states = h.json('state').map((s) => `${s.state}/${s.session}`);
    expect(states).toEqual(['online/1', 'offline/1', 'online/2']);
    const account = deliveryAccount(h.reports());
    expect(account.missing).toEqual([]);
    expect(account.doubledSeqs).toEqual([]);
  });

  it('publishes offline itself before a planned stop, with the session counter', async () => {
    await started();
    await h.agent?.stop();
    await h.settle(20);
    expect(h.json('state').at(-1)).toMatchObject({ state: 'offline', reason: 'shutdown', session: 1 });
  });

  it('registers a will that says lost with the same session counter', async () => {
    await started();
    h.dropConnections();
    await h.until('the will', () => h.json('state').some((s) => s.state === 'lost'), { stepMs: 10 });
    expect(h.json('state').find((s) => s.state === 'lost')).toMatchObject({ state: 'lost', reason: 'connection-lost', session: 1 });
  });
});

describe('the outbox', () => {
  it('keeps reports on flash while the broker is down and delivers every one, oldest first, when it returns', async () => {
    await started();
    h.brokerDown();
    await h.run(60_000, 500);
    expect(await queued()).toBeGreaterThanOrEqual(5);
    h.brokerUp();
    await h.until('seven reports', () => h.reports().length >= 7, { stepMs: 500 });
    const seqs = h.reports().map((r) => r.seq);
    expect(seqs.slice(0, 7)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await h.until('an empty outbox', () => h.reports().at(-1)?.health.queueDepth === 0 || undefined, { stepMs: 500 });
  });

  it('drops the oldest report when full and the next report counts it, so the gap is accounted for exactly', async () => {
    await started({ OutboxMaxReports: '3' });
    h.brokerDown();
    await h.run(70_000, 500); // seven more reports into a queue of three
    h.brokerUp();
    // a report built with an empty queue comes after everything older was delivered or dropped
    const settled = await h.until('a report built after the replay', () => h.reports().find((r) => r.seq > 8 && r.health.queueDepth === 0), { stepMs: 500 });
    const account = deliveryAccount(h.reports().filter((r) => r.seq <= settled.seq));
    expect(account.missing.length).toBeGreaterThan(0);
    expect(settled.health.dropped).toBe(account.missing.length);
    expect(account.doubledSeqs).toEqual([]);
  });

  it('keeps reports in memory when the data dir is full, logs it once, and delivers them', async () => {
    await started();
    h.brokerDown();
    h.fake.diskFull = true;
    await h.run(40_000, 500);
    expect(h.logs('error').filter((m) => m.includes('cannot write report'))).toHaveLength(1);
    expect(h.logs('warn').filter((m) => m.includes('cannot save state.json'))).toHaveLength(1);
    h.fake.diskFull = false;
    h.brokerUp();
    await h.until('reports 1..5', () => h.reports().some((r) => r.seq >= 5), { stepMs: 500 });
    const account = deliveryAccount(h.reports());
    expect(account.missing).toEqual([]);
  });

  it('finds reports queued by an earlier run on flash and sends them first', async () => {
    await started();
    h.brokerDown();
    await h.run(30_000, 500);
    const before = await queued();
    expect(before).toBeGreaterThan(0);
    await h.agent?.stop();
    h.brokerUp();
    h.start();
    await h.until('every seq delivered', () => {
      const a = deliveryAccount(h.reports());
      return a.maxSeq >= 5 && a.missing.length === 0;
    });
    expect(h.logs('info').some((m) => /queued reports found on flash/.test(m))).toBe(true);
  });

  it('drops a queued report it cannot read back, counted, instead of stalling the queue', async () => {
    await started();
    h.brokerDown();
    await h.run(20_000, 500);
    const names = (await h.fake.fs.list('/data/outbox')).map((e) => e.name).sort();
    h.fake.makeUnreadable(`/data/outbox/${names[0]}`, 'EIO');
    h.brokerUp();
    await h.until('a later report', () => h.reports().some((r) => r.seq >= 5), { stepMs: 500 });
    expect(h.logs('error').some((m) => /unreadable, dropped/.test(m))).toBe(true);
    // a report built with an empty queue comes after the drop, and counts it
    const settled = await h.until('a report built after the replay', () => h.reports().find((r) => r.health.queueDepth === 0 && r.seq > 5), { stepMs: 500 });
    const account = deliveryAccount(h.reports().filter((r) => r.seq <= settled.seq));
    expect(account.missing).toHaveLength(1);
    expect(settled.health.dropped).toBe(1);
  });

  it('paces the replay: never more than ReplayInflight reports await their PUBACK, and no faster than ReplayPerSec', async () => {
    await started({ ReplayInflight: '4', ReplayPerSec: '5' });
    h.brokerDown();
    await h.run(200_000, 1000); // 20 reports queued
    const from = h.stats.reportPublishes;
    h.brokerUp();
    await h.until('every report delivered', () => deliveryAccount(h.reports()).maxSeq >= 21 && deliveryAccount(h.reports()).missing.length === 0, { stepMs: 50 });
    expect(h.stats.maxOutstanding).toBeLessThanOrEqual(4);
    const times = h.stats.publishTimes.slice(from);
    // a token bucket of 4: in any 1 s window at most 4 + 5 publishes
    for (let i = 0; i < times.length; i++) {
      const inWindow = times.filter((t) => t >= times[i] && t < times[i] + 1000).length;
      expect(inWindow).toBeLessThanOrEqual(9);
    }
  });
});

describe('reconnecting', () => {
  it('backs off exponentially with full jitter up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoffDelay(n, 1000, 60_000, 0.999999))).toEqual([
      1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000,
    ]);
    expect(backoffDelay(10, 1000, 60_000, 0)).toBe(0);
    expect(backoffDelay(3, 1000, 60_000, 0.5)).toBe(2000);
  });

  it('waits longer after each failed attempt, and never longer than ReconnectMaxSec', async () => {
    h = new AgentHarness({ config: { ReconnectMaxSec: '20' } });
    await h.startBroker();
    h.fake.unserve('broker', 1883);
    const attempts: number[] = [];
    const connect = h.fake.net.connect;
    h.fake.net.connect = (o) => {
      if (o.host === 'broker') attempts.push(h.fake.clock.monotonic());
      return connect(o);
    };
    // the largest jitter draw: each delay is its ceiling
    h.fake.crypto.randomBytes = (n: number) => new Uint8Array(n).fill(255).buffer;
    h.start();
    await h.until('eight attempts', () => attempts.length >= 8, { stepMs: 250 });
    const gaps = attempts.slice(1).map((t, i) => Math.round((t - attempts[i]) / 1000));
    expect(gaps).toEqual([1, 2, 4, 8, 16, 20, 20]);
    expect(h.logs('warn').filter((m) => m.includes('cannot connect'))).toHaveLength(1);
  });

  it('logs a refused CONNACK once and backs off for at least 30 s between attempts', async () => {
    h = new AgentHarness({
      config: { BrokerUsername: 'cam', BrokerPassword: 'wrong-secret' },
      aedes: {
        // the observer (no user name) may connect; the camera's credentials are wrong
        authenticate: (_c, user, _p, done) => (user ? done(Object.assign(new Error('no'), { returnCode: 4 as const }), false) : done(null, true)),
      },
    });
    await h.startBroker();
    const attempts: number[] = [];
    const connect = h.fake.net.connect;
    h.fake.net.connect = (o) => {
      if (o.host === 'broker') attempts.push(h.fake.clock.monotonic());
      return connect(o);
    };
    h.start();
    await h.until('four attempts', () => attempts.length >= 4, { stepMs: 5000 });
    const refused = h.logs('error').filter((m) => m.includes('refused the connection'));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatch(/bad user name or password \(CONNACK 4\).*check BrokerUsername, BrokerPassword/);
    for (let i = 1; i < attempts.length; i++) expect(attempts[i] - attempts[i - 1]).toBeGreaterThanOrEqual(30_000);
    expect(h.fake.logs.some((l) => l.message.includes('wrong-secret'))).toBe(false);
  });

  it('says closed after CONNACK (another client with this id, or an ACL/quota) when the broker keeps closing right after CONNACK, and backs off for minutes', async () => {
    h = new AgentHarness();
    await h.startBroker();
    // a broker that accepts, then closes as soon as another client with the same id would have arrived
    h.fake.unserve('broker', 1883);
    const connects: number[] = [];
    h.fake.serve('broker', 1883, (peer) => {
      const parser = new PacketParser({ decode: decodeAnyPacket });
      peer.onData((bytes) => {
        for (const p of parser.push(bytes) as Packet[]) {
          if (p.type === CONNECT) {
            connects.push(h.fake.clock.monotonic());
            peer.send(new Uint8Array(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false })));
            h.fake.clock.setTimer(200, () => peer.end());
          }
        }
      });
    });
    h.start();
    await h.until('five connections', () => connects.length >= 5, { stepMs: 1000, maxSteps: 3000 });
    const dup = h.logs('error').filter((m) => m.includes('closed after CONNACK'));
    expect(dup).toHaveLength(1);
    expect(dup[0]).toMatch(/^\[vigil\] \[mqtt\] 3 connections closed after CONNACK; another client with this id \("ACCC8EF3A1C2"\), or an ACL\/quota; next attempts \d+ s apart$/);
    expect(connects[3] - connects[2]).toBeGreaterThanOrEqual(30_000);
    expect(connects[4] - connects[3]).toBeGreaterThanOrEqual(60_000);
  });

  it('notices a half-open connection through keepalive and reconnects', async () => {
    await started({ KeepaliveSec: '10' });
    const before = h.stats.connections;
    // the broker stops answering (a cable pulled somewhere between): nothing reaches the agent any more
    const peerSend = h.fake.net.read;
    let silent = true;
    h.fake.net.read = (id) => (silent ? new Promise(() => {}) : peerSend(id));
    await h.until('the keepalive timeout', () => h.logs('warn').some((m) => /nothing received .*keepalive 10 s/.test(m)), { stepMs: 1000 });
    silent = false;
    await h.until('a new connection', () => h.stats.connections > before, { stepMs: 1000 });
  });
});

describe('commands', () => {
  const results = () => h.json('cmd-result');
  // small steps: a command's round trip through the broker must not let rate limits expire by itself
  const soon = { stepMs: 10 };
  const lastResult = () => results().at(-1) as Record<string, any>;

  it('runs report-now and answers with the request id', async () => {
    await started();
    await h.command('report-now', '{"id":"c1"}');
    await h.until('the result', () => results().length >= 1, soon);
    expect(results()[0]).toMatchObject({ id: 'c1', command: 'report-now', ok: true, result: { queued: true } });
    await h.until('the extra report', () => h.reports().length >= 2);
  });

  it('sets the interval, and the schedule follows it', async () => {
    await started();
    await h.command('set-interval', '{"id":"c2","intervalSec":60}');
    await h.until('the result', () => results().length >= 1, soon);
    expect(results()[0]).toMatchObject({ id: 'c2', ok: true, result: { intervalSec: 60 } });
    const at = await h.until('two reports at the new interval', () => {
      const r = h.reports().filter((x) => x.intervalSec === 60);
      return r.length >= 2 && r;
    }, { stepMs: 1000 });
    expect(Date.parse(at[1].sentAt) - Date.parse(at[0].sentAt)).toBe(60_000);
  });

  it('records a new integrity baseline on rebaseline', async () => {
    await started();
    await h.command('rebaseline', '{"id":"c3"}');
    await h.until('the result', () => results().length >= 1, soon);
    expect(results()[0]).toMatchObject({ id: 'c3', ok: true });
    expect(results()[0].result.baseline.files).toBeGreaterThan(0);
  });

  it('announces online again and sends a report on rebirth', async () => {
    await started();
    await h.command('rebirth', '{"id":"c4"}');
    await h.until('the rebirth', () => h.json('state').some((s) => s.reason === 'rebirth') && h.reports().length >= 2);
    expect(h.json('state').at(-1)).toMatchObject({ state: 'online', reason: 'rebirth', session: 1 });
  });

  it.each([
    ['an unknown command', 'reboot', '{"id":"e1"}', 'EUNKNOWN', /unknown command "reboot"/],
    ['a payload that is not JSON', 'report-now', '{"id":', 'EINVAL', /must be a JSON object/],
    ['a JSON array', 'report-now', '[1]', 'EINVAL', /must be a JSON object/],
    ['an unknown field', 'rebirth', '{"id":"e2","force":true}', 'EINVAL', /unknown field "force"/],
    ['an interval that is not an integer', 'set-interval', '{"id":"e3","intervalSec":"10"}', 'EINVAL', /intervalSec must be an integer from 10 to 3600/],
    ['an interval out of range', 'set-interval', '{"id":"e4","intervalSec":0}', 'EINVAL', /intervalSec must be an integer/],
    ['an id that is not a short word', 'report-now', '{"id":"x y"}', 'EINVAL', /id must be a string/],
    ['a payload over 1 KiB', 'report-now', JSON.stringify({ id: 'e5', pad: 'x'.repeat(2000) }), 'E2BIG', /over the limit of 1024/],
  ])('answers %s with an error result', async (_what, name, payload, code, message) => {
    await started();
    await h.command(name, payload);
    await h.until('the result', () => results().length >= 1, soon);
    expect(lastResult()).toMatchObject({ command: name, ok: false, code });
    expect(lastResult().error).toMatch(message);
  });

  it('rate-limits a state-changing command and says when to try again', async () => {
    await started();
    await h.command('set-interval', '{"id":"r1","intervalSec":30}');
    await h.until('the first result', () => results().length >= 1, soon);
    await h.command('set-interval', '{"id":"r2","intervalSec":40}');
    await h.until('the second result', () => results().length >= 2, soon);
    expect(results()[1]).toMatchObject({ id: 'r2', ok: false, code: 'ERATE' });
    expect(results()[1].error).toMatch(/rate-limited to once every 10 s; try again in \d+ s/);
  });

  it('answers a redelivered command again without running it twice', async () => {
    await started();
    await h.command('rebirth', '{"id":"d1"}');
    await h.until('the first result', () => results().length >= 1, soon);
    await h.command('rebirth', '{"id":"d1"}');
    await h.until('the second result', () => results().length >= 2, soon);
    expect(results()[1]).toMatchObject({ id: 'd1', ok: true });
    expect(h.json('state').filter((s) => s.reason === 'rebirth')).toHaveLength(1);
  });

  it('ignores a retained command, which would otherwise run again on every reconnect', async () => {
    await started();
    await h.command('report-now', '{"id":"k1"}', { retain: true });
    await h.agent?.stop();
    h.start();
    await h.until('the second run connected', () => h.json('state').filter((s) => s.state === 'online').length >= 2);
    await h.settle(20);
    expect(results().filter((r) => r.id === 'k1').length).toBeLessThanOrEqual(1);
    expect(h.logs('warn').some((m) => /ignored a retained report-now command/.test(m))).toBe(true);
    await (h.observer as any).publishAsync(`vigil/v1/${SERIAL}/cmd/report-now`, '', { qos: 1, retain: true });
  });
});
