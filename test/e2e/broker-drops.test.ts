/**
 * "Acknowledged then dropped" is visible as loss (issue 15 item 2): real Mosquitto with the documented ACL, a
 * tiny max_queued_messages and a 1 s sys_interval; the consumer is stopped while a camera's reports arrive, and
 * when it is back it warns with the broker's dropped count and shows it on /metrics and /healthz.
 */
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { FleetConsumer } from '../../fleet/src/consumer';
import { loadTables } from '../../fleet/src/data';
import type { LogLevel } from '../../fleet/src/log';
import { startDashboard } from '../../fleet/src/http';
import { SqliteStore } from '../../fleet/src/store/sqlite';
import { FleetSubscriber } from '../../fleet/src/subscriber';
import { passwordOf, startAclBroker, type AclBroker } from '../helpers/documented-broker';
import { waitUntil } from '../helpers/wait';

let broker: AclBroker | null = null;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await broker?.stop();
  broker = null;
});

const QUEUE = 10;
const PUBLISHED = 30;

const stores = new Map<FleetConsumer, SqliteStore>();

function consumerAs(user: string, logs: string[]): FleetConsumer {
  const store = new SqliteStore(':memory:');
  const consumer = new FleetConsumer({
    brokerUrl: (broker as AclBroker).url, store, tables: loadTables(), clean: false, username: user, password: passwordOf(user), sweepMs: 0,
    log: (level: LogLevel, m: string) => logs.push(`${level}: ${m}`),
  });
  stores.set(consumer, store);
  cleanups.push(async () => {
    await consumer.stop();
    await store.close();
  });
  return consumer;
}

/** A started FleetSubscriber as `user` that stores nothing, saying the drop count is unknown after `silenceMs`. */
async function silentSubscriber(b: AclBroker, user: string, silenceMs: number): Promise<{ sub: FleetSubscriber; logs: string[] }> {
  const logs: string[] = [];
  const sub = new FleetSubscriber({
    brokerUrl: b.url, filters: ['vigil/v1/+/report'], username: user, password: passwordOf(user), protocolVersion: 4,
    batchMax: 1, counters: {} as never, log: (level: LogLevel, m: string) => logs.push(`${level}: ${m}`), now: Date.now, brokerDropsSilenceMs: silenceMs,
    ingest: async () => undefined, reload: async () => undefined,
  });
  await sub.start();
  cleanups.push(() => sub.stop());
  return { sub, logs };
}

describe('the broker\'s dropped messages', () => {
  it('are logged as a warning and shown on /metrics and /healthz after the consumer comes back to a broker that dropped reports', async () => {
    broker = await startAclBroker(['cam1'], [`max_queued_messages ${QUEUE}`, 'sys_interval 1']);
    const logs: string[] = [];
    const first = consumerAs('fleet-1', logs);
    await first.start();
    await first.stop();
    const camera = await mqtt.connectAsync(broker.url, { username: 'cam1', password: passwordOf('cam1'), reconnectPeriod: 0 });
    cleanups.push(() => camera.endAsync(true));
    // Every one is PUBACKed to the camera; past the queue limit the broker drops them.
    for (let i = 0; i < PUBLISHED; i++) await camera.publishAsync('vigil/v1/cam1/report', '{}', { qos: 1 });
    expect(logs.filter((l) => l.includes('dropped'))).toEqual([]);

    const back = consumerAs('fleet-1', logs);
    await back.start();
    const warning = await waitUntil('the drop warning', () => logs.find((l) => l.includes('the broker dropped')));
    const n = Number(/dropped (\d+) messages/.exec(warning)?.[1]);
    expect(n).toBeGreaterThanOrEqual(PUBLISHED - QUEUE);
    expect(warning).toMatch(/^warn: .*acknowledged.*lost.*max_queued_messages/);
    const dashboard = await startDashboard({ consumer: back, store: stores.get(back) as SqliteStore, port: 0 });
    cleanups.push(() => dashboard.close());
    expect(await (await fetch(`${dashboard.url}metrics`)).text()).toContain(`\nvigil_fleet_broker_dropped_messages ${n}\n`);
    expect(await (await fetch(`${dashboard.url}healthz`)).json()).toEqual({ broker: true, brokerDropped: { total: n, seen: n } });
    expect(logs.filter((l) => l.includes('the broker dropped'))).toHaveLength(1);
  });

  it('are read with the documented ACL: a fleet user is allowed $SYS/broker/publish/messages/dropped', async () => {
    broker = await startAclBroker([], ['sys_interval 1']);
    const logs: string[] = [];
    const consumer = consumerAs('fleet-2', logs);
    await consumer.start();
    await waitUntil('the broker\'s count', () => consumer.brokerDrops.total !== null);
    expect(consumer.brokerDrops.total).toBe(0);
    expect(logs.filter((l) => /refused|dropped|not published/.test(l))).toEqual([]);
  });

  it('are unknown, and the consumer says so once, when the ACL does not let its user read them (Mosquitto grants the subscription and sends nothing)', async () => {
    broker = await startAclBroker([], ['sys_interval 1']);
    // fleet-status may read state and reports, not $SYS (docs/broker-acl.md).
    const { sub, logs } = await silentSubscriber(broker, 'fleet-status', 500);
    const line = await waitUntil('the notice', () => logs.find((l) => l.includes('has not published')));
    expect(line).toMatch(/ACL does not let this user read it.*go unnoticed; a report lost meanwhile still shows as a gap/);
    expect(sub.brokerDrops.total).toBeNull();
    expect(sub.connected).toBe(true);
  });

  it('are unknown to a consumer that subscribes more than a minute after the last change, and it says why (Mosquitto expires its retained $SYS values after 60 s)', async () => {
    broker = await startAclBroker([], ['sys_interval 1']);
    // The count is 0 from the start and never changes: its retained copy expires 60 s after the broker published it.
    await new Promise((r) => setTimeout(r, 62_000));
    const { sub, logs } = await silentSubscriber(broker, 'fleet-1', 3000);
    const line = await waitUntil('the notice', () => logs.find((l) => l.includes('has not published')));
    expect(line).toMatch(/Mosquitto sends it only within 60 s of a change/);
    expect(sub.brokerDrops.total).toBeNull();
  }, 120_000);
});
