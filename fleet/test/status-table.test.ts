// The terminal table of `vigil demo` / `vigil status`, fed from the retained messages of a real broker (Aedes).
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../test/helpers/broker';
import { StatusTable } from '../src/status-table';
import { makeReport, statePayload } from './fixtures';

let cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function tableAfter(messages: Array<[string, string]>): Promise<StatusTable> {
  const broker = await startEmbeddedBroker({ port: 0 });
  cleanups.push(() => broker.close());
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`);
  for (const [topic, payload] of messages) await pub.publishAsync(topic, payload, { qos: 1, retain: true });
  await pub.endAsync();
  const table = new StatusTable({ broker: { host: '127.0.0.1', port: broker.port } });
  cleanups.push(() => table.stop());
  await table.start();
  const deadline = Date.now() + 5000;
  while (table.rows.size < new Set(messages.map(([t]) => t.split('/')[2])).size || [...table.rows.values()].some((r) => r.reports === 0 || r.online === null)) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the retained messages');
    await new Promise((r) => setTimeout(r, 20));
  }
  return table;
}

function withLastExit(serial: string, lastExit: string | null): string {
  const r = makeReport({ serial });
  r.health.lastExit = lastExit;
  return JSON.stringify(r);
}

describe('StatusTable', () => {
  it('shows why a camera restarted, without the time, in the LAST EXIT column', async () => {
    const table = await tableAfter([
      ['vigil/v1/ACCC8E000001/state', statePayload('online', 'connected', 2)],
      ['vigil/v1/ACCC8E000001/report', withLastExit('ACCC8E000001', 'out of memory at 2026-11-25T12:00:00.000Z; restarted by the host')],
      ['vigil/v1/ACCC8E000002/state', statePayload('online', 'connected', 1)],
      ['vigil/v1/ACCC8E000002/report', withLastExit('ACCC8E000002', null)],
    ]);
    const lines = table.render().split('\n');
    expect(lines[0]).toMatch(/LAST EXIT$/);
    expect(lines.find((l) => l.startsWith('ACCC8E000001'))).toMatch(/yes\s+1\s+out of memory$/);
    expect(lines.find((l) => l.startsWith('ACCC8E000002'))).toMatch(/yes\s+1\s+-$/);
  });

  it('marks a camera whose retained state is offline as not online', async () => {
    const table = await tableAfter([
      ['vigil/v1/ACCC8E000003/state', statePayload('offline', 'shutdown', 4)],
      ['vigil/v1/ACCC8E000003/report', withLastExit('ACCC8E000003', null)],
    ]);
    expect(table.render().split('\n').find((l) => l.startsWith('ACCC8E000003'))).toMatch(/\bNO\b/);
  });
});
