/**
 * `vigil status` never takes a consumer's session (issue 15 item 2b): real Mosquitto with the documented ACL and
 * use_username_as_clientid; the consumer is fleet-1 with a persistent session, `vigil status` runs as
 * fleet-status (--username, password from VIGIL_BROKER_PASSWORD) while a camera publishes.
 */
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { runStatus } from '../../fleet/src/cli';
import { FleetConsumer } from '../../fleet/src/consumer';
import { loadTables } from '../../fleet/src/data';
import type { LogLevel } from '../../fleet/src/log';
import { SqliteStore } from '../../fleet/src/store/sqlite';
import { passwordOf, startAclBroker, type AclBroker } from '../helpers/documented-broker';
import { waitUntil } from '../helpers/wait';
import { captureIo } from '../helpers/capture-io';

const REPORTS = 200;
let broker: AclBroker | null = null;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await broker?.stop();
  broker = null;
});

function consumerAs(user: string, logs: string[]): FleetConsumer {
  const store = new SqliteStore(':memory:');
  const consumer = new FleetConsumer({
    brokerUrl: (broker as AclBroker).url, store, tables: loadTables(), clean: false, username: user, password: passwordOf(user), sweepMs: 0,
    log: (level: LogLevel, m: string) => logs.push(`${level}: ${m}`),
  });
  cleanups.push(async () => {
    await consumer.stop();
    await store.close();
  });
  return consumer;
}

/** `vigil status --broker URL --username fleet-status`, the password in the environment as documented. */
async function status(): Promise<{ code: number; out: string; err: string }> {
  const t = captureIo();
  const before = process.env.VIGIL_BROKER_PASSWORD;
  process.env.VIGIL_BROKER_PASSWORD = passwordOf('fleet-status');
  try {
    const code = await runStatus(['--broker', (broker as AclBroker).url, '--username', 'fleet-status', '--wait', '500'], t.io);
    return { code, out: t.out(), err: t.err() };
  } finally {
    if (before === undefined) delete process.env.VIGIL_BROKER_PASSWORD;
    else process.env.VIGIL_BROKER_PASSWORD = before;
  }
}

async function camera(): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync((broker as AclBroker).url, { username: 'cam1', password: passwordOf('cam1'), reconnectPeriod: 0 });
  cleanups.push(() => c.endAsync(true));
  return c;
}

describe('vigil status next to a consumer with a persistent session', () => {
  it('leaves a connected consumer\'s session alone: it stays connected and gets every report published meanwhile', async () => {
    broker = await startAclBroker(['cam1']);
    const logs: string[] = [];
    const consumer = consumerAs('fleet-1', logs);
    await consumer.start();
    const cam = await camera();
    const publishing = (async () => {
      for (let i = 0; i < REPORTS; i++) await cam.publishAsync('vigil/v1/cam1/report', '{}', { qos: 1 });
    })();
    const result = await status();
    await publishing;
    expect(result).toMatchObject({ code: 0, err: '' });
    await waitUntil('every report at the consumer', () => consumer.counters.messages >= REPORTS);
    expect(consumer.counters.messages).toBe(REPORTS);
    expect(consumer.connected).toBe(true);
    expect(logs.filter((l) => /taken over|reconnecting/.test(l))).toEqual([]);
  });

  it('leaves a stopped consumer\'s queued reports in its session: all of them arrive when it is back', async () => {
    broker = await startAclBroker(['cam1']);
    const logs: string[] = [];
    const first = consumerAs('fleet-1', logs);
    await first.start();
    await first.stop();
    const cam = await camera();
    for (let i = 0; i < REPORTS; i++) await cam.publishAsync('vigil/v1/cam1/report', '{}', { qos: 1 });
    expect((await status()).code).toBe(0);
    const back = consumerAs('fleet-1', logs);
    await back.start();
    await waitUntil('the queued reports', () => back.counters.messages >= REPORTS);
    expect(back.counters.messages).toBe(REPORTS);
    expect(logs.filter((l) => l.includes('taken over'))).toEqual([]);
  });
});
