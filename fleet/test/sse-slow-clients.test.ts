// Slow dashboard clients (issue 15, item 1): 50 connections that sent GET /api/events and never read, plus an
// update flood, made the consumer buffer without bound until it died of heap exhaustion.
import { connect, type Socket } from 'node:net';
import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../test/helpers/wait';
import { FleetConsumer } from '../src/consumer';
import { loadTables } from '../src/data';
import { startDashboard, type DashboardServer } from '../src/http';
import { SqliteStore } from '../src/store/sqlite';
import { T0 } from './fixtures';

let store: SqliteStore;
let dash: DashboardServer | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await dash?.close();
  await store?.close();
});

async function setup(sse: { maxClients?: number; maxBufferedBytes?: number }) {
  store = new SqliteStore(':memory:');
  const consumer = new FleetConsumer({ brokerUrl: 'mqtt://127.0.0.1:1', store, tables: loadTables(), sweepMs: 0, now: () => T0 });
  dash = await startDashboard({ consumer, store, sse });
  return { consumer, dash };
}

/** A client that asks for the live updates and never reads a byte. */
function silentClient(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' }, () => {
      s.pause();
      s.write('GET /api/events HTTP/1.1\r\nhost: x\r\n\r\n');
      resolve(s);
    });
    sockets.push(s);
  });
}

const metric = async (url: string, name: string) => {
  const text = await (await fetch(url + 'metrics')).text();
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
};

describe('SSE clients', () => {
  it('drops clients that never read during an update flood, counts them, and a reading client still gets events', async () => {
    const { consumer, dash } = await setup({ maxBufferedBytes: 64 * 1024 });
    for (let i = 0; i < 5; i++) await silentClient(dash.port);
    let received = 0;
    const reader = get(dash.url + 'api/events', (res) => res.on('data', (d: Buffer) => (received += (d.toString().match(/event: camera/g) ?? []).length)));
    await waitUntil('six clients', () => metric(dash.url, 'vigil_fleet_sse_clients').then((n) => n === 6));
    const pad = 'x'.repeat(1000);
    let n = 0;
    await waitUntil('the silent clients dropped', async () => {
      for (let i = 0; i < 500; i++) consumer.emit('camera', { serial: `CAM${n++ % 2000}`, pad });
      return (await metric(dash.url, 'vigil_fleet_sse_clients_dropped_total')) === 5;
    }, { pollMs: 100, timeoutMs: 120_000 });
    await waitUntil('the reader got camera updates', () => received > 0);
    expect(await metric(dash.url, 'vigil_fleet_sse_clients')).toBe(1);
    reader.destroy();
  }, 150_000);
  it('refuses the client past the limit with 503 and a JSON error', async () => {
    const { dash } = await setup({ maxClients: 2 });
    await silentClient(dash.port);
    await silentClient(dash.port);
    await waitUntil('two clients', () => metric(dash.url, 'vigil_fleet_sse_clients').then((n) => n === 2));
    const res = await fetch(dash.url + 'api/events');
    expect(res.status).toBe(503);
    expect((await res.json()).error).toMatch(/^\[vigil\] \[fleet\] too many live-update clients \(2\)/);
  });
});
