// The dashboard with accounts in a real browser (Debian's Chromium via playwright-core): an operator is sent to
// the login page, logs in, clicks Rebaseline on a camera's page (the page sends the CSRF token), the command
// reaches the camera's topic on a real Mosquitto, and the camera page's audit list shows it (issue 15 item 9).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUser } from '../../fleet/src/auth/user-command';
import { startFleet, type Fleet } from '../../fleet/src/fleet';
import { makeReport } from '../../fleet/test/fixtures';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { waitUntil } from '../helpers/wait';
import { launchChromium, SHOTS } from '../helpers/browser';

const SERIAL = 'CAMBROWSER1';
const PASSWORD = 'browser operator password';

let broker: Mosquitto;
let fleet: Fleet;
let camera: MqttClient;
let browser: Browser;
let page: Page;
const commands: Array<{ topic: string; body: Record<string, unknown> }> = [];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-auth-browser-'));
  const users = join(dir, 'users.json');
  const input = new PassThrough();
  input.end(PASSWORD + '\n');
  const sink = new PassThrough().resume();
  expect(await runUser(['add', 'otto', '--role', 'operator', '--users', users], { out: sink, err: sink, input, env: {} })).toBe(0);
  broker = await startMosquitto();
  fleet = await startFleet({ brokerUrl: broker.url, sweepMs: 0, auditLog: join(dir, 'audit.jsonl'), http: { host: '127.0.0.1', port: 0, usersFile: users } });
  camera = await mqtt.connectAsync(broker.url, { clientId: 'test-auth-browser-camera', reconnectPeriod: 0 });
  camera.on('message', (topic, payload) => commands.push({ topic, body: JSON.parse(payload.toString()) }));
  await camera.subscribeAsync(`vigil/v1/${SERIAL}/cmd/#`, { qos: 1 });
  await camera.publishAsync(`vigil/v1/${SERIAL}/report`, JSON.stringify(makeReport({ serial: SERIAL })), { qos: 1 });
  await waitUntil('the camera at the fleet', () => fleet.consumer.camera(SERIAL) !== null, { timeoutMs: 20_000 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('dialog', (d) => void d.accept());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await camera?.endAsync();
  await fleet?.stop();
  await broker?.stop();
});

describe('the dashboard with accounts in Chromium', () => {
  it('sends a camera page without a session to the login page', async () => {
    await page.goto(`${fleet.url}camera/${SERIAL}`);
    expect(new URL(page.url()).pathname).toBe('/login');
  });

  it('logs in and comes back to the camera page, with the user in the header', async () => {
    await page.fill('#name', 'otto');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`**/camera/${SERIAL}`), page.click('#login')]);
    await page.locator('#user').waitFor();
    expect(await page.locator('#user').textContent()).toBe('otto (operator)');
  });

  it('sends a rebaseline from its button to the camera and shows it in the audit', async () => {
    await page.locator('button[data-action="rebaseline"]').click();
    await page.locator('#audit li', { hasText: 'rebaseline' }).waitFor({ timeout: 20_000 });
    const line = await page.locator('#audit li').first().textContent();
    expect(line).toMatch(/ · otto · rebaseline · ok · dash-[0-9a-f]{16}$/);
    await waitUntil('the command at the camera', () => commands.length > 0, { timeoutMs: 20_000 });
    expect(commands[0].topic).toBe(`vigil/v1/${SERIAL}/cmd/rebaseline`);
    expect(line).toContain(String(commands[0].body.id));
    await page.screenshot({ path: join(SHOTS, 'auth-camera-rebaseline.png'), fullPage: true });
  });

  it('logs out, after which the API asks for a login again', async () => {
    await Promise.all([page.waitForURL('**/login'), page.click('#logout')]);
    const status = await page.evaluate(async () => (await fetch('/api/fleet')).status);
    expect(status).toBe(401);
  });
});
