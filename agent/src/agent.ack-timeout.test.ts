/**
 * The agent against a broker that answers PINGREQ but leaves its reports unacknowledged (scripted packet by
 * packet on the FakeHost, clock advanced by the test): the session ends after 1.5 × keepalive, that is
 * logged once, and the reports not acknowledged go again on the next connection, still queued meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AgentHarness } from '../../test/helpers/agent-harness';
import { ScriptedBroker } from '../../test/helpers/mqtt-scripted-broker';
import { PUBLISH, SUBSCRIBE } from './mqtt/codec';
import { utf8Decode } from './util/text';

let h: AgentHarness;

afterEach(async () => {
  await h?.close();
});

describe('a broker that never sends the PUBACK of a report', () => {
  it('is noticed within 1.5 × keepalive, logged once, and the report is sent again after the reconnect', async () => {
    h = new AgentHarness({ config: { KeepaliveSec: '10', IntervalSec: '3600' } });
    await h.startBroker();
    h.fake.unserve('broker', 1883);
    const broker = new ScriptedBroker(h.fake);
    const reportSeqs: Array<{ connection: number; seq: number }> = [];
    broker.onPacket = (p) => {
      if (p.type === SUBSCRIBE) broker.send({ cmd: 'suback', messageId: p.id, granted: [1] });
      if (p.type !== PUBLISH || !p.qos) return;
      if (!p.topic.endsWith('/report')) return broker.send({ cmd: 'puback', messageId: p.id });
      reportSeqs.push({ connection: broker.connections, seq: JSON.parse(utf8Decode(p.payload)).seq });
      if (broker.connections > 1) broker.send({ cmd: 'puback', messageId: p.id }); // the first connection never acknowledges
    };
    h.start();
    await h.until('the first report on the wire', () => reportSeqs.length >= 1);
    const lostAt = h.fake.clock.monotonic();
    await h.until('the acknowledgement timeout', () => h.logs('warn').some((m) => m.includes('connection lost')), { stepMs: 500 });
    expect(h.fake.clock.monotonic() - lostAt).toBeLessThanOrEqual(15_500);
    // not lost, not counted as sent: still queued
    expect((await h.fake.fs.list('/data/outbox')).length).toBe(1);
    await h.until('the report on the second connection', () => reportSeqs.find((r) => r.connection === 2));
    await h.run(1_000); // its PUBACK is in: the report leaves the outbox
    expect(await h.fake.fs.list('/data/outbox')).toEqual([]);
    expect(reportSeqs).toEqual([
      { connection: 1, seq: 1 },
      { connection: 2, seq: 1 },
    ]);
    expect(h.logs('warn').filter((m) => m.includes('connection lost'))).toEqual(['[vigil] [mqtt] connection lost (ETIMEDOUT): no PUBACK from broker:1883 within 15 s']);
  });
});
