/**
 * Alerts end to end: dist/agent.js on a simulated camera, Debian's Mosquitto, the real fleet consumer with its
 * SQLite file, and a real HTTP receiver that checks the HMAC signature and fails the first three tries of each alert.
 * Killing the camera (its will) raises exactly one `lost`; the consumer is restarted on the same store while
 * the camera is away; the camera's restart raises exactly one `recovered`; nothing raised before the restart
 * is raised again; the receiver gets each alert on its 4th try at the latest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimCamera, type SimCamera } from '../../host-sim/src/camera';
import { silentLogSink } from '../../host-sim/src/sim-host';
import { startFleet, type Fleet, type FleetOptions } from '../../fleet/src/fleet';
import type { Alert } from '../../fleet/src/alerts/engine';
import { verifyWebhook } from '../../fleet/src/alerts/webhook';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { buildAgent } from '../../build.mjs';
import { waitUntil } from '../helpers/wait';

const BUNDLE = join(__dirname, '../../dist/agent.js');
const SECRET = 'e2e webhook secret';
// Generous: CI shares two cores between sessions.
const WAIT = { timeoutMs: 60_000, pollMs: 100 };

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

describe('alerts over Mosquitto to a real webhook receiver', () => {
  let mosquitto: Mosquitto;
  let server: Server;
  let hookUrl: string;
  const requests: Received[] = [];
  /** The receiver answers 500 to the first three requests of each alert, then 200. */
  const triesOf = new Map<string, number>();
  let fleet: Fleet | null = null;
  let camera: SimCamera | null = null;
  const root = mkdtempSync(join(tmpdir(), 'vigil-e2e-alerts-'));
  const dbPath = join(root, 'fleet.db');
  const stateDir = join(root, 'camera');

  const fleetOptions = (): FleetOptions => ({
    // missing only after 20 intervals: a busy machine's late report must not add a `missing`; this test is about `lost`.
    brokerUrl: mosquitto.url, dbPath, http: null, sweepMs: 500, missingIntervals: 20,
    alerts: { webhooks: [hookUrl], webhookSecret: SECRET, reconcileMs: 0, pollMs: 50, delivery: { baseDelayMs: 100, maxDelayMs: 1000 } },
  });
  const startCamera = () => startSimCamera({ profile: 'lts2024', bundlePath: BUNDLE, broker: mosquitto, stateDir, overrides: { IntervalSec: '2' }, log: silentLogSink });
  /** What the receiver accepted (answered 200), by alert id: a redelivery would show as the same id twice. */
  const accepted = () => requests.filter((r) => r.answered === 200).map((r) => JSON.parse(r.body) as Alert);
  const storedOfKind = async (kind: string) => (await (fleet as Fleet).store.alerts(1000, camera?.serial)).filter((a) => a.kind === kind);

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) await buildAgent();
    mosquitto = await startMosquitto();
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const id = (JSON.parse(body) as Alert).id;
        triesOf.set(id, (triesOf.get(id) ?? 0) + 1);
        const answered = (triesOf.get(id) as number) <= 3 ? 500 : 200;
        requests.push({ headers: req.headers, body, answered });
        res.writeHead(answered).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/vigil`;
    fleet = await startFleet(fleetOptions());
    camera = await startCamera();
    expect(camera.started.ok).toBe(true);
    await waitUntil('two stored reports', async () => ((await (fleet as Fleet).store.history((camera as SimCamera).serial, 10)).length >= 2 ? true : null), WAIT);
  }, 120_000);

  afterAll(async () => {
    await camera?.stop();
    await fleet?.stop();
    await new Promise<void>((r) => server?.close(() => r()));
    await mosquitto?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('raises exactly one lost when the camera dies, delivered on the 4th try', async () => {
    const cam = camera as SimCamera;
    await cam.kill();
    await waitUntil('the lost alert at the receiver', () => accepted().find((a) => a.kind === 'lost'), WAIT);
    expect(await storedOfKind('lost')).toHaveLength(1);
    const lost = accepted().find((a) => a.kind === 'lost') as Alert;
    const tries = requests.filter((r) => (JSON.parse(r.body) as Alert).id === lost.id);
    expect(tries.map((r) => r.answered)).toEqual([500, 500, 500, 200]);
    expect(tries.map((r) => r.headers['x-vigil-delivery-attempt'])).toEqual(['1', '2', '3', '4']);
    expect(new Set(tries.map((r) => r.body)).size).toBe(1);
  }, 90_000);

  it('raises exactly one recovered when the camera returns after a restart of the consumer, and nothing again', async () => {
    const before = (await (fleet as Fleet).store.alerts(1000)).map((a) => a.id).sort();
    await (fleet as Fleet).stop();
    fleet = await startFleet(fleetOptions());
    camera = await startCamera();
    await waitUntil('the recovered alert at the receiver', () => accepted().find((a) => a.kind === 'recovered'), WAIT);
    // Let a few more reports and states arrive: still one of each.
    const reports = (await fleet.store.history(camera.serial, 100)).length;
    await waitUntil('two more reports', async () => ((await (fleet as Fleet).store.history((camera as SimCamera).serial, 100)).length >= reports + 2 ? true : null), WAIT);
    expect(await storedOfKind('lost')).toHaveLength(1);
    expect(await storedOfKind('recovered')).toHaveLength(1);
    const after = await fleet.store.alerts(1000);
    expect(after.filter((a) => !before.includes(a.id)).map((a) => a.kind)).toEqual(['recovered']);
    await waitUntil('every delivery settled', async () => ((await (fleet as Fleet).store.deliveryCounts()).pending === 0 ? true : null), WAIT);
    const got = accepted();
    expect(got.filter((a) => a.kind === 'lost')).toHaveLength(1);
    expect(got.filter((a) => a.kind === 'recovered')).toHaveLength(1);
    expect(new Set(got.map((a) => a.id)).size).toBe(got.length);
    expect(got.map((a) => a.id).sort()).toEqual(after.map((a) => a.id).sort());
  }, 120_000);

  it('signs every request so that the receiver verifies it with the secret and detects a wrong one', () => {
    expect(requests.length).toBeGreaterThan(0);
    for (const r of requests) {
      expect(verifyWebhook(SECRET, r.headers, r.body)).toBe(true);
      expect(verifyWebhook('not the secret', r.headers, r.body)).toBe(false);
    }
  });
});
