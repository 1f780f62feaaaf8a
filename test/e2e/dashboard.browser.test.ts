// The demo's dashboard in a real browser (Debian's Chromium via playwright-core): startDemo() is what
// `vigil demo` runs (embedded broker, the fleet consumer, every bundled profile as a simulated camera running
// the real agent bundle). Filters to end-of-life cameras, opens one camera's page, and sees it go offline
// live when its simulated camera stops. The demo's scripted faults (a file changed on the tampered camera, a
// listener on the exposed one) show up in the fleet page's recent events, live; a device's hostile summary
// is shown as text; a rebaseline by command shows on the camera's page with what it absorbed.
// Screenshots: test-results/screenshots/.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Demo } from '../../cli/demo';
import { listProfiles } from '../../host-sim/src/profiles';
import type { SimCamera } from '../../host-sim/src/camera';
import { parseFaultSpec, startFaultScript, type FaultScript } from '../../host-sim/src/faults';
import type { Fleet } from '../../fleet/src/fleet';
import { waitUntil as pollUntil } from '../helpers/wait';
import { launchChromium, SHOTS, startBrowserDemo } from '../helpers/browser';

const PROFILES = listProfiles();

let demo: Demo;
let fleet: Fleet;
let browser: Browser;
let page: Page;
const cameras = new Map<string, SimCamera>();
const scripts: FaultScript[] = [];

// A demo of nine cameras in a browser: 45 s at most for each step.
const waitUntil: typeof pollUntil = (what, predicate, options = { timeoutMs: 45_000 }) => pollUntil(what, predicate, options);

beforeAll(async () => {
  // A 2 s interval so a camera's page has a few reports to chart within the test's time; the demo's drama
  // (the profiles' faults.script, 45 s and 60 s in) brought forward to 5 s.
  const d = await startBrowserDemo({ tampered: [parseFaultSpec('file-change:/usr/bin/curl@5')], exposed: [parseFaultSpec('listen:4444/tcp@5')] });
  ({ demo, fleet } = d);
  for (const [name, cam] of d.cameras) cameras.set(name, cam);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
}, 120_000);

afterAll(async () => {
  for (const script of scripts) script.stop();
  await browser?.close();
  await demo?.stop();
});

describe('the fleet dashboard in Chromium', () => {
  it('shows every simulated camera with its counts', async () => {
    await page.goto(fleet.url + 'cameras');
    await page.locator('#cameras tbody tr').nth(PROFILES.length - 1).waitFor();
    expect(await page.locator('#cameras tbody tr').count()).toBe(PROFILES.length);
    expect(await page.locator('[data-count="cameras"] b').textContent()).toBe(String(PROFILES.length));
    await page.screenshot({ path: join(SHOTS, 'fleet.png'), fullPage: true });
  });
  it('shows an outdated count card that agrees with the fleet API', async () => {
    expect(await page.locator('[data-count="outdated"] b').textContent()).toBe(String(fleet.consumer.counts().support.outdated));
  });

  it('filters to the end-of-life cameras', async () => {
    await page.selectOption('#f-support', 'end-of-life');
    const rows = page.locator('#cameras tbody tr');
    const eol = [cameras.get('lts2020-eol')!.serial, cameras.get('legacy-840')!.serial].sort();
    expect((await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-serial')))).sort()).toEqual(eol);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-support')))).toEqual(['end-of-life', 'end-of-life']);
    expect(page.url()).toContain('support=end-of-life');
    await page.screenshot({ path: join(SHOTS, 'fleet-end-of-life.png'), fullPage: true });
  });

  it('sorts the table by a column when its header is clicked', async () => {
    await page.selectOption('#f-support', '');
    await page.click('th[data-key="osVersion"]');
    const versions = await page.locator('#cameras tbody tr td:nth-child(3)').allTextContents();
    const numeric = versions.map((v) => v.replace(/[^\d.]/g, ''));
    const sorted = [...numeric].sort((a, b) => {
      const x = a.split('.').map(Number), y = b.split('.').map(Number);
      for (let i = 0; i < 4; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
      return 0;
    });
    expect(numeric).toEqual(sorted);
    await page.selectOption('#f-support', 'end-of-life');
  });

  it('sorts the table by the hardening measure (the penalty, which does not floor), worst last', async () => {
    await page.selectOption('#f-support', '');
    await page.click('th[data-key="hardening"]');
    const penalties = (await page.locator('#cameras tbody tr td[data-penalty]').evaluateAll((tds) => tds.map((td) => td.getAttribute('data-penalty')))).map(Number);
    expect(penalties).toHaveLength(PROFILES.length);
    expect(penalties).toEqual([...penalties].sort((a, b) => a - b));
    const exposed = cameras.get('exposed')!.serial;
    expect(await page.locator(`#cameras tbody tr[data-serial="${exposed}"] td[data-penalty]`).textContent()).toBe(
      (['high', 'medium', 'low'] as const).map((s) => [fleet.consumer.camera(exposed)!.evaluation!.findingCounts[s], s]).filter(([n]) => Number(n) > 0).map(([n, s]) => `${n} ${s}`).join(' · '),
    );
  });

  it('shows each camera\'s posture, and never good for the tampered camera (an unsigned app under AllowUnsigned)', async () => {
    for (const [name, cam] of cameras) {
      expect(await page.locator(`#cameras tbody tr[data-serial="${cam.serial}"] td[data-posture]`).getAttribute('data-posture'), name).toBe(fleet.consumer.camera(cam.serial)!.evaluation!.posture);
    }
    expect(await page.locator(`#cameras tbody tr[data-serial="${cameras.get('tampered')!.serial}"] td[data-posture]`).getAttribute('data-posture')).not.toBe('good');
    await page.selectOption('#f-support', 'end-of-life');
  });

  it("opens an end-of-life camera's page with its evaluation and history", async () => {
    const serial = cameras.get('lts2020-eol')!.serial;
    // This camera reports every 2 s: wait for a few reports so its charts have a line to draw.
    await waitUntil('three reports from the end-of-life camera', () => (fleet.consumer.camera(serial)?.reports ?? 0) >= 3);
    await page.click(`#cameras tbody tr[data-serial="${serial}"] a`);
    await page.waitForURL(`**/camera/${serial}`);
    await page.locator('h1').filter({ hasText: serial }).waitFor();
    const text = await page.locator('#camera').innerText();
    expect(text).toContain('LTS 2020');
    expect(text).toContain('end-of-life');
    expect(await page.locator('.chart svg').count()).toBe(4);
    await page.screenshot({ path: join(SHOTS, 'camera-eol.png'), fullPage: true });
  });

  it('shows the camera go offline live when its simulated camera stops', async () => {
    const cam = cameras.get('lts2020-eol')!;
    expect(await page.locator('#status').getAttribute('data-status')).toBe('online');
    await cam.stop();
    await page.locator('#status[data-status="offline"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('#status').innerText()).toBe('offline');
    await page.screenshot({ path: join(SHOTS, 'camera-offline.png'), fullPage: true });
    await page.goto(fleet.url + 'cameras');
    await page.locator(`#cameras tbody tr[data-serial="${cam.serial}"][data-status="offline"]`).waitFor();
    await page.screenshot({ path: join(SHOTS, 'fleet-after-offline.png'), fullPage: true });
  });
});

describe('recent events on the fleet page', () => {
  const item = (profile: string, kind: string) => `#event-list li[data-serial="${cameras.get(profile)!.serial}"][data-kind="${kind}"]`;

  it("lists the demo's scripted events with a severity badge and a link to the camera", async () => {
    await page.goto(fleet.url + 'cameras');
    await page.locator(item('tampered', 'integrity-drift')).first().waitFor({ timeout: 45_000 });
    await page.locator(item('exposed', 'service-change')).first().waitFor({ timeout: 45_000 });
    const drift = page.locator(item('tampered', 'integrity-drift')).first();
    expect(await drift.locator('.badge').textContent()).toBe('high');
    expect(await drift.locator('a').getAttribute('href')).toBe(`/camera/${cameras.get('tampered')!.serial}`);
    expect(await drift.locator('.summary').textContent()).toContain('/usr/bin/curl');
    expect(await page.locator(item('exposed', 'service-change')).first().locator('.summary').textContent()).toContain('4444');
    expect(await page.locator('#no-events').isHidden()).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'fleet-events.png'), fullPage: true });
  });

  it('shows a new event live, on top, when a fault is scripted while the page is open', async () => {
    const cam = cameras.get('tampered')!;
    const before = await page.locator(item('tampered', 'integrity-drift')).count();
    scripts.push(startFaultScript([parseFaultSpec('file-add:/usr/bin/.dropper@0')], { camera: () => cam, restart: async () => {} }));
    await page.locator('#event-list li').first().filter({ hasText: '.dropper' }).waitFor({ timeout: 45_000 });
    expect(await page.locator(item('tampered', 'integrity-drift')).count()).toBe(before + 1);
  });

  it("shows a device's hostile summary as text, running nothing", async () => {
    const serial = cameras.get('hardened')!.serial;
    const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    // The demo's broker admits a camera's topics only to that camera's login (the last test: the camera's own connection is taken over).
    const pub = await mqtt.connectAsync(demo.broker.url, { ...demo.credentials.camera(serial), clientId: serial, reconnectPeriod: 0 });
    try {
      const event = { schema: 'vigil.event/1', deviceId: serial, eventId: 'ev-hostile-0001', seq: 1, at: new Date().toISOString(), kind: 'service-change', severity: 'high', summary: hostile, details: {} };
      await pub.publishAsync(`vigil/v1/${serial}/event`, JSON.stringify(event), { qos: 1 });
    } finally {
      await pub.endAsync();
    }
    const li = page.locator(`#event-list li[data-serial="${serial}"]`).filter({ hasText: 'onerror' });
    await li.waitFor({ timeout: 20_000 });
    expect(await li.locator('.summary').textContent()).toBe(hostile);
    expect(await page.locator('#event-list img, #event-list script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await page.screenshot({ path: join(SHOTS, 'fleet-events-hostile.png'), fullPage: true });
  });

  it('shows a bidi control in device text as a visible <U+202E>, so it cannot reorder what is displayed', async () => {
    const serial = cameras.get('hardened')!.serial;
    // "report\u202Eexe.pdf" displays as "reportfdp.exe" when the control is rendered: the spoof of issue 15 item 9.
    const spoof = 'report\u202Eexe.pdf';
    const pub = await mqtt.connectAsync(demo.broker.url, { ...demo.credentials.camera(serial), clientId: serial, reconnectPeriod: 0 });
    try {
      const event = { schema: 'vigil.event/1', deviceId: serial, eventId: 'ev-bidi-0001', seq: 2, at: new Date().toISOString(), kind: 'service-change', severity: 'high', summary: spoof, details: {} };
      await pub.publishAsync(`vigil/v1/${serial}/event`, JSON.stringify(event), { qos: 1 });
    } finally {
      await pub.endAsync();
    }
    const li = page.locator(`#event-list li[data-serial="${serial}"]`).filter({ hasText: 'exe.pdf' });
    await li.waitFor({ timeout: 20_000 });
    const shown = await li.locator('.summary').textContent();
    expect(shown).toBe('report<U+202E>exe.pdf');
    expect(shown).not.toContain('\u202E');
  });

  it("shows a rebaseline by command on the camera's page, live, naming what the new baseline absorbed", async () => {
    const cam = cameras.get('tampered')!;
    await page.goto(fleet.url + 'camera/' + cam.serial);
    await page.locator('#integrity').waitFor();
    const pub = await mqtt.connectAsync(demo.broker.url, { ...demo.credentials.fleet, clientId: 'vigil-fleet-browser-test-operator', reconnectPeriod: 0 });
    try {
      await pub.publishAsync(`vigil/v1/${cam.serial}/cmd/rebaseline`, '{"id":"c-browser"}', { qos: 1 });
    } finally {
      await pub.endAsync();
    }
    const li = page.locator('#events li[data-kind="rebaseline"]');
    await li.waitFor({ timeout: 45_000 });
    expect(await li.textContent()).toMatch(/rebaseline by command c-browser: \d+ files? differed: .*added \/usr\/bin\/\.dropper/);
    expect(await li.locator('.badge').textContent()).toBe('high');
    await page.screenshot({ path: join(SHOTS, 'camera-rebaseline.png'), fullPage: true });
  });
});
