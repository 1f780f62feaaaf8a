// Slow dashboard clients (issue 15, item 1): 50 connections that sent GET /api/events and never read, plus an
// update flood, made the consumer buffer without bound until it died of heap exhaustion.
import { connect, type Socket } from 'node:net';
import { type ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../test/helpers/wait';
import { FleetConsumer } from '../src/consumer';
import { loadTables } from '../src/data';
import { startDashboard, type DashboardServer } from '../src/http';
import { SqliteStore } from '../src/store/sqlite';
import { SseClients } from '../src/sse';
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
      s.write('GET /api/events HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
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
  it('drops a client whose socket holds more than the bound unwritten, counts it, and keeps writing to the others', () => {
    // A stand-in for ServerResponse (unit test of SseClients alone): what the kernel has not taken stays in
    // writableLength; the slow one never drains, the fast one does at once.
    const response = (drains: boolean) => {
      const r = Object.assign(new EventEmitter(), {
        writableLength: 0, written: 0, destroyed: false,
        writeHead() { return r; },
        write(chunk: string) { r.written += chunk.length; if (!drains) r.writableLength += chunk.length; return drains; },
        destroy() { r.destroyed = true; r.emit('close'); },
        end() {},
      });
      return r;
    };
    const clients = new SseClients(10, 64 * 1024);
    const slow = response(false);
    const fast = response(true);
    clients.add(slow as unknown as ServerResponse, ': hello\n\n');
    clients.add(fast as unknown as ServerResponse, ': hello\n\n');
    const update = `event: camera\ndata: ${'x'.repeat(1000)}\n\n`;
    for (let i = 0; i < 200; i++) clients.send(update);
    expect([slow.destroyed, slow.writableLength <= 64 * 1024, clients.dropped, clients.size]).toEqual([true, true, 1, 1]);
    expect(fast.written).toBe(': hello\n\n'.length + 200 * update.length);
  });
  it('refuses the client past the limit with 503 and a JSON error', async () => {
    const { dash } = await setup({ maxClients: 2 });
    await silentClient(dash.port);
    await silentClient(dash.port);
    await waitUntil('two clients', () => metric(dash.url, 'vigil_fleet_sse_clients').then((n) => n === 2));
    const res = await fetch(dash.url + 'api/events');
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toMatch(/^\[vigil\] \[fleet\] too many live-update clients \(2\)/);
  });
});
