/**
 * A 30-minute broker outage at a 10 s interval, with the default outbox, against embedded Aedes and
 * Mosquitto — on a simulated clock: the agent runs on a FakeHost whose time the test advances, bridged to
 * the real broker, so 30 minutes take a few seconds. Mosquitto runs with its default queue limit for an
 * online subscriber (max_queued_messages 1000) lowered to 100, to show the paced replay stays within it.
 * Also: a duplicate client id, and the MQTT 5 option against Mosquitto (Aedes 1.x speaks 3.1.1 only).
 * The clock never moves while the agent awaits the broker's CONNACK (the harness's paced clock, on by
 * default), so load cannot decide what the agent sees.
 */
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentHarness, SERIAL, deliveryAccount } from '../helpers/agent-harness';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';

let h: AgentHarness | null = null;
let mosquitto: Mosquitto | null = null;

afterEach(async () => {
  await h?.close();
  h = null;
  await mosquitto?.stop();
  mosquitto = null;
});

const brokers: Array<{ name: string; make(config: Record<string, string>, observerVersion?: 4 | 5): Promise<AgentHarness> }> = [
  { name: 'embedded Aedes', make: async (config) => new AgentHarness({ config }) },
  {
    name: 'Mosquitto',
    make: async (config, observerVersion) => {
      mosquitto = await startMosquitto({ extraLines: ['max_queued_messages 100'] });
      return new AgentHarness({ config, broker: { host: mosquitto.host, port: mosquitto.port }, observerVersion });
    },
  },
];

/**
 * Another device configured with the same client id, driven by the agent's own events instead of timers:
 * each time the agent's connection is accepted, the intruder connects once with the same id over a raw
 * MQTT 3.1.1 socket, and the real broker hands it the session. The clock stands still from the agent's
 * CONNACK until the agent has let go of the connection it lost, so every session the intruder ends lasts
 * 0 simulated ms: load changes how long the test takes, not what the agent sees.
 */
class Intruder {
  readonly sockets: net.Socket[] = [];
  /** Accepted agent connections the intruder has taken over. */
  takeovers = 0;

  constructor(private readonly h: AgentHarness) {
    h.onStep(() => this.afterAccepted());
  }

  /** Connections the agent has had accepted: it logs each right after CONNACK. */
  accepted(): number {
    return this.h.logs('info').filter((m) => /\[mqtt\] connected to /.test(m)).length;
  }

  private async afterAccepted(): Promise<void> {
    while (this.takeovers < this.accepted()) {
      this.takeovers++;
      await this.takeOver();
      await this.h.whileStopped('the agent to let go of the connection taken over', () => this.h.agentConnections() === 0);
    }
  }

  /** Connects with the agent's client id and waits for the broker's CONNACK. */
  private async takeOver(): Promise<void> {
    const socket = net.connect(this.h.brokerPort, this.h.brokerHost);
    this.sockets.push(socket);
    socket.on('error', () => {}); // the broker cuts it when the agent takes the id back
    const connack = new Promise<number>((resolve, reject) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (p) => {
        if (p.cmd === 'connack') resolve((p as mqttPacket.IConnackPacket).returnCode ?? -1);
      });
      socket.on('data', (d) => parser.parse(d));
      socket.on('close', () => reject(new Error('[test] [intruder] the broker closed the connection before CONNACK')));
    });
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: SERIAL, keepalive: 0 }));
    expect(await connack).toBe(0);
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
  }
}

describe.each(brokers)('a 30-minute outage over $name', (broker) => {
  it('delivers every report after the broker returns, with the default outbox, paced', async () => {
    h = await broker.make({ IntervalSec: '10' });
    await h.startBroker();
    h.start();
    await h.until('the first report', () => h?.reports().length);
    h.brokerDown();
    await h.run(30 * 60_000, 1000);
    const queued = (await h.fake.fs.list('/data/outbox')).length;
    expect(queued).toBeGreaterThanOrEqual(180);
    const from = h.stats.reportPublishes;
    h.brokerUp();
    const harness = h;
    const settled = await harness.until('a report built after the replay', () => harness.reports().find((r) => r.seq > queued + 1 && r.health.queueDepth === 0), {
      stepMs: 100,
      maxSteps: 5000,
    });
    const account = deliveryAccount(h.reports());
    expect(account.missing).toEqual([]);
    expect(account.doubledSeqs).toEqual([]);
    expect(settled.health.dropped).toBe(0);
    expect(settled.health.reconnects).toBeGreaterThanOrEqual(1);
    // paced: at most 8 awaiting PUBACK, at most 8 + 10 in any second of the (simulated) clock
    expect(h.stats.maxOutstanding).toBeLessThanOrEqual(8);
    const times = h.stats.publishTimes.slice(from);
    for (const t of times) expect(times.filter((u) => u >= t && u < t + 1000).length).toBeLessThanOrEqual(18);
    const queuedReport = h.reports().find((r) => r.health.queueDepth >= 170);
    expect(queuedReport?.health.oldestQueuedAgeSec).toBeGreaterThanOrEqual(1690);
  }, 120_000);
});

describe.each(brokers)('a duplicate client id over $name', (broker) => {
  it('is recognised when another client keeps taking over the id, logged once, and backed off instead of flapping', async () => {
    h = await broker.make({});
    await h.startBroker();
    const intruder = new Intruder(h);
    h.start();
    try {
      const duplicate = () => (h as AgentHarness).logs('error').filter((m) => m.includes('closed after CONNACK'));
      // three sessions ended right after CONNACK are needed; the backoff between them is seconds
      const detected = await h.until('the duplicate client id error', () => duplicate()[0], { maxSteps: 1200 });
      expect(intruder.takeovers).toBe(3);
      expect(detected).toMatch(/^\[vigil\] \[mqtt\] 3 connections closed after CONNACK; another client with this id \("ACCC8EF3A1C2"\), or an ACL\/quota; next attempts \d+ s apart$/);
      const connections = h.stats.connections;
      // the intruder keeps taking over each connection the agent makes
      await h.run(60_000, 100);
      // minutes between attempts now (30-60 s after the third, 60-120 s after the fourth): at most one more connection
      expect(h.stats.connections - connections).toBeLessThanOrEqual(1);
      // and the next takeover is not logged again
      await h.until('a fourth connection, taken over', () => intruder.takeovers >= 4, { maxSteps: 1200 });
      expect(duplicate()).toHaveLength(1);
    } finally {
      intruder.close();
    }
  }, 60_000);
});

describe('MQTT 5 against Mosquitto', () => {
  it('publishes reports with message expiry, content type and seq/reportId user properties', async () => {
    h = await brokers[1].make({ MqttVersion: '5', MessageExpirySec: '86400' }, 5);
    await h.startBroker();
    h.start();
    await h.until('the first report', () => h?.received.find((m) => m.topic.endsWith('/report')));
    const m = h.received.find((x) => x.topic === `vigil/v1/${SERIAL}/report`);
    const report = JSON.parse(m?.payload ?? '{}');
    expect(m?.properties).toMatchObject({
      contentType: 'application/json',
      payloadFormatIndicator: true,
      userProperties: { schema: 'vigil.report/1', seq: String(report.seq), reportId: report.reportId },
    });
    // Mosquitto forwards the remaining expiry (≤ what was set)
    expect(m?.properties?.messageExpiryInterval).toBeGreaterThan(86000);
    expect(h.json('state')[0]).toMatchObject({ state: 'online', session: 1 });
  });

  it('answers a command with the request correlation data', async () => {
    h = await brokers[1].make({ MqttVersion: '5' }, 5);
    await h.startBroker();
    h.start();
    await h.until('the first report', () => h?.reports().length);
    await h.command('report-now', '{}', { properties: { correlationData: Buffer.from('corr-7') } });
    const harness = h;
    const result = await harness.whileStopped('the result', () => harness.received.find((x) => x.topic.endsWith('/cmd-result')));
    expect(JSON.parse(result.payload)).toMatchObject({ id: 'corr-7', command: 'report-now', ok: true });
    expect(Buffer.from(result.properties?.correlationData as Buffer).toString()).toBe('corr-7');
  });

  it('publishes the will as lost when the connection dies', async () => {
    h = await brokers[1].make({ MqttVersion: '5' }, 5);
    await h.startBroker();
    h.start();
    await h.until('the first report', () => h?.reports().length);
    h.dropConnections();
    const harness = h;
    await harness.whileStopped('the will', () => harness.json('state').find((s) => s.state === 'lost'));
  });
});
