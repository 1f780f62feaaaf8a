/**
 * Events from the agent's main loop: FakeHost (manual clock, in-memory flash) against a real Aedes in
 * process (test/helpers/agent-harness.ts). A changed file under IntegrityPaths (/usr/bin, /etc/passwd)
 * must give one integrity-drift event on `<prefix>/<serial>/event`, at QoS 1, through an outage too.
 */
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { AgentHarness, SERIAL } from '../../test/helpers/agent-harness';
import { assertValidEvent } from '../../test/helpers/schemas';

let h: AgentHarness;
let sub: MqttClient | null = null;

afterEach(async () => {
  await sub?.endAsync(true);
  sub = null;
  await h?.close();
});

async function started(): Promise<AgentHarness> {
  h = new AgentHarness();
  return h.startUntilFirstReport();
}

const events = () => h.json('event');
const queuedEvents = async () => (h.fake.exists('/data/events/outbox') ? (await h.fake.fs.list('/data/events/outbox')).length : 0);
const tamper = () => h.fake.addFile('/etc/passwd', 'root::0:0:root:/root:/bin/sh\nmallory::0:0::/:/bin/sh\n');

describe('events from the agent', () => {
  it('publishes one integrity-drift on <prefix>/<serial>/event at QoS 1, valid against the schema, after a file changes', async () => {
    await started();
    sub = await mqtt.connectAsync(`mqtt://${h.brokerHost}:${h.brokerPort}`, { clientId: `qos-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    const qos: number[] = [];
    sub.on('message', (_t, _p, packet) => qos.push(packet.qos));
    await sub.subscribeAsync(`vigil/v1/${SERIAL}/event`, { qos: 1 });
    tamper();
    const [e] = await h.until('the event', () => events().length >= 1 && events());
    assertValidEvent(e);
    expect(e).toMatchObject({ deviceId: SERIAL, kind: 'integrity-drift', severity: 'high', details: { files: { added: ['changed /etc/passwd'] } } });
    await h.until('the QoS-1 subscriber got it', () => qos.length >= 1);
    // delivered at the lower of publish and subscription QoS: 1 means the agent published at QoS 1 (or more)
    expect(qos).toEqual([1]);
    expect(h.received.find((m) => m.topic.endsWith('/event'))?.retain).toBe(false);
  });

  it('does not publish the same drift again in the following cycles', async () => {
    await started();
    tamper();
    await h.until('the event', () => events().length >= 1);
    const reports = h.reports().length;
    await h.until('three more reports', () => h.reports().length >= reports + 3, { stepMs: 500 });
    expect(events()).toHaveLength(1);
  });

  it('keeps an event found during an outage on flash and delivers it once after the reconnect', async () => {
    await started();
    h.brokerDown();
    tamper();
    await h.run(25_000, 500);
    expect(await queuedEvents()).toBe(1);
    expect(events()).toHaveLength(0);
    h.brokerUp();
    await h.until('the event', () => events().length >= 1, { stepMs: 500 });
    await h.run(20_000, 500);
    expect(await queuedEvents()).toBe(0);
    expect(events().map((e) => e.kind)).toEqual(['integrity-drift']);
  });

  it('delivers an event queued during an outage once, after an agent restart in between', async () => {
    await started();
    h.brokerDown();
    tamper();
    await h.run(15_000, 500);
    await h.agent?.stop();
    h.start();
    await h.run(15_000, 500);
    expect(await queuedEvents()).toBe(1);
    h.brokerUp();
    await h.until('the event', () => events().length >= 1, { stepMs: 500 });
    await h.run(20_000, 500);
    expect(events().map((e) => e.kind)).toEqual(['integrity-drift']);
    expect(await queuedEvents()).toBe(0);
  });

  it('keeps at most 32 events waiting, dropping the oldest, and says so in the log', async () => {
    await started();
    h.brokerDown();
    // a new file each cycle: each cycle's drift differs, so each gives an event
    for (let i = 0; i < 34; i++) {
      h.fake.addFile(`/usr/bin/tool${i}`, 'x');
      await h.run(10_000, 500);
    }
    expect(await queuedEvents()).toBe(32);
    expect(h.logs('warn').filter((m) => m.includes('[vigil] [events] event queue full'))).toHaveLength(2);
    h.brokerUp();
    await h.until('32 events', () => events().length >= 32, { stepMs: 500 });
    const added = events().map((e) => e.details.files.added[0]);
    expect(added[0]).toBe('added /usr/bin/tool2');
    expect(added.at(-1)).toBe('added /usr/bin/tool33');
  });

  it('logs a full data dir once, and still delivers the event found meanwhile', async () => {
    await started();
    h.fake.diskFull = true;
    tamper();
    await h.run(40_000, 500);
    expect(h.logs('warn').filter((m) => m.includes('[vigil] [events]'))).toHaveLength(1);
    await h.until('the event', () => events().length >= 1, { stepMs: 500 });
    h.fake.diskFull = false;
    await h.run(20_000, 500);
    expect(events()).toHaveLength(1);
    expect(h.fake.fileText('/data/events.json')).toContain('changed /etc/passwd');
  });

  it('neither repeats nor misses a drift across an agent restart', async () => {
    await started();
    tamper();
    await h.until('the first event', () => events().length >= 1);
    await h.agent?.stop();
    h.fake.addFile('/usr/bin/parhandclient-wrapper', '#!/bin/sh\nexec /tmp/evil\n');
    h.start();
    await h.until('the second event', () => events().length >= 2, { stepMs: 500 });
    await h.run(20_000, 500);
    const all = events();
    expect(all).toHaveLength(2);
    expect(all[1].details.files.added).toEqual(['changed /usr/bin/parhandclient-wrapper']);
    expect(new Set(all.map((e) => e.eventId)).size).toBe(2);
  });

  it('reports a restart after a limit once, as agent-restart, on the first cycle of the start', async () => {
    h = new AgentHarness();
    h.fake.info.lastExit = 'memory-limit';
    await h.startBroker();
    h.start();
    await h.until('three reports', () => h.reports().length >= 3, { stepMs: 500 });
    const restarts = events().filter((e) => e.kind === 'agent-restart');
    expect(restarts).toHaveLength(1);
    assertValidEvent(restarts[0]);
    expect(restarts[0]).toMatchObject({ severity: 'medium', seq: 1, details: { lastExit: 'memory-limit' } });
  });

  it('publishes no new drift event when a rebaseline clears the drift, only the rebaseline event', async () => {
    await started();
    tamper();
    await h.until('the event', () => events().length >= 1);
    await h.command('rebaseline', '{"id":"rb1"}');
    await h.until('the rebaseline result', () => h.json('cmd-result').length >= 1);
    const reports = h.reports().length;
    await h.until('two more reports', () => h.reports().length >= reports + 2, { stepMs: 500 });
    expect(events().map((e) => e.kind)).toEqual(['integrity-drift', 'rebaseline']);
    expect(h.reports().at(-1)?.integrity.status).toBe('ok');
  });
});
