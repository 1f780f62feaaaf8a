// The worklist in a real browser (Debian's Chromium via playwright-core) on the demo: every bundled profile as a
// simulated camera running the real agent bundle, the fleet's action rules making the worklist. Walks it as an
// operator would: the counts agree with /api/actions, a filter changes the rows (and stays in the URL), a camera's
// page shows the evidence (services with a mismatch, a finding's evidence lines, a posture that is not good), and
// the CSV and PDF downloads read back (the CSV parsed, the PDF through pdftotext). Screenshots:
// test-results/screenshots/worklist-*.png.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Demo } from '../../cli/demo';
import type { SimCamera } from '../../host-sim/src/camera';
import type { Fleet } from '../../fleet/src/fleet';
import type { WorklistAnswer } from '../../fleet/src/worklist-query';
import { CSV_COLUMNS } from '../../fleet/src/export-csv';
import { pdfText } from '../../fleet/src/pdf-text';
import { makeReport } from '../../fleet/test/fixtures';
import { parseCsv } from '../helpers/csv';
import { assertValidReport } from '../helpers/schemas';
import { pdfToText } from '../helpers/pdftotext';
import { waitUntil as pollUntil } from '../helpers/wait';
import { launchChromium, SHOTS, startBrowserDemo } from '../helpers/browser';


let demo: Demo;
let fleet: Fleet;
let browser: Browser;
let page: Page;
const cameras = new Map<string, SimCamera>();

// Nine simulated cameras and a browser on a shared 2-core machine: 45 s at most for each wait.
const waitUntil: typeof pollUntil = (what, predicate, options = { timeoutMs: 45_000 }) => pollUntil(what, predicate, options);

async function api(query = ''): Promise<WorklistAnswer> {
  const res = await fetch(`${fleet.url}api/actions?limit=5000${query ? '&' + query : ''}`);
  if (!res.ok) throw new Error(`[vigil] [test] /api/actions?${query} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as WorklistAnswer;
}
const rowIds = () => page.locator('#worklist tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')));
const ids = (a: WorklistAnswer) => a.items.map((x) => x.id);
/** pdftotext -layout pads columns and breaks lines: compare with white space folded. */
const flat = (s: string) => s.replace(/\s+/g, ' ');

/** Waits until the page's rows are the API's items for the same query (both follow the cameras' reports). */
async function rowsMatchApi(query: string): Promise<WorklistAnswer> {
  let last: WorklistAnswer | null = null;
  let shown: (string | null)[] = [];
  try {
    await waitUntil(`the worklist rows to be /api/actions?${query}`, async () => {
      last = await api(query);
      shown = await rowIds();
      return JSON.stringify(shown) === JSON.stringify(ids(last).slice(0, 1000));
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}; page ${JSON.stringify(shown)}; api ${JSON.stringify(last && ids(last))}`);
  }
  return last!;
}

beforeAll(async () => {
  // No fault scripts: the worklist stays what the profiles are, so the page and the API can be compared.
  const d = await startBrowserDemo(false);
  ({ demo, fleet } = d);
  for (const [name, cam] of d.cameras) cameras.set(name, cam);
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

describe('the worklist in Chromium', () => {
  it('is the first view, ranked highest risk first, with counts that agree with /api/actions', async () => {
    await page.goto(fleet.url);
    await page.locator('#worklist tbody tr').first().waitFor();
    const answer = await rowsMatchApi('');
    expect(answer.items.length).toBeGreaterThan(cameras.size);
    const risks = answer.items.map((a) => a.risk);
    expect(risks).toEqual([...risks].sort((a, b) => b - a));
    expect(await page.locator('[data-count="actions"] b').textContent()).toBe(String(answer.counts.total));
    expect(await page.locator('[data-count="cameras"] b').textContent()).toBe(String(answer.counts.cameras));
    for (const [u, n] of Object.entries(answer.counts.byUrgency)) expect(await page.locator(`[data-count="${u}"] b`).textContent()).toBe(String(n));
    for (const [k, n] of Object.entries(answer.counts.byKind)) if (n > 0) expect(await page.locator(`[data-count="${k}"] b`).textContent()).toBe(String(n));
    await page.screenshot({ path: join(SHOTS, 'worklist.png'), fullPage: true });
    await page.screenshot({ path: join(SHOTS, 'worklist-top.png') });
  });

  it("shows the data's dates and their age from the server", async () => {
    const answer = await api();
    const dates = await page.locator('#data-dates').textContent();
    expect(dates).toContain(`lifecycle ${answer.data.lifecycle} (${answer.dataAgeDays.lifecycle} days old)`);
    expect(dates).toContain(`advisories ${answer.data.advisories}`);
    expect(await page.locator('#data-stale').isHidden()).toBe(!answer.dataStale);
  });

  it('gives each row its urgency, a link to the camera, the title, why and the control', async () => {
    const first = (await api()).items[0];
    const row = page.locator(`#worklist tbody tr[data-id="${first.id}"]`);
    expect(await row.locator('.badge').textContent()).toBe(first.urgency);
    expect(await row.locator('a').getAttribute('href')).toBe(`/camera/${first.serial}`);
    const text = await row.innerText();
    expect(text).toContain(first.title);
    expect(text).toContain(first.control ?? '—');
    if (first.why.length) expect(text).toContain(first.why[0]);
  });

  it('filters by urgency: the rows change to the API answer for that urgency, and the URL keeps it', async () => {
    const all = (await api()).items.length;
    const urgency = 'high';
    await page.selectOption('#f-urgency', urgency);
    const answer = await rowsMatchApi(`urgency=${urgency}`);
    expect(answer.items.length).toBeGreaterThan(0);
    expect(answer.items.length).toBeLessThan(all);
    expect(await page.locator('#worklist tbody tr').evaluateAll((trs) => [...new Set(trs.map((tr) => tr.getAttribute('data-urgency')))])).toEqual([urgency]);
    expect(new URL(page.url()).searchParams.get('urgency')).toBe(urgency);
    expect(await page.locator('#wl-shown').textContent()).toContain(`${answer.matched.total} of ${answer.counts.total} actions`);
    await page.screenshot({ path: join(SHOTS, 'worklist-high.png'), fullPage: true });
  });

  it('filters by kind on top of the urgency, and a shared link opens the same view', async () => {
    await page.selectOption('#f-kind', 'harden');
    const answer = await rowsMatchApi('urgency=high&kind=harden');
    expect(answer.items.every((a) => a.kind === 'harden' && a.urgency === 'high')).toBe(true);
    const link = page.url();
    expect(link).toContain('kind=harden');
    await page.goto(link);
    await rowsMatchApi('urgency=high&kind=harden');
    expect(await page.locator('#f-urgency').inputValue()).toBe('high');
    expect(await page.locator('#f-kind').inputValue()).toBe('harden');
  });

  it("searches the serial, model and title, here one camera's serial", async () => {
    const serial = cameras.get('exposed')!.serial;
    await page.selectOption('#f-kind', '');
    await page.selectOption('#f-urgency', '');
    await page.fill('#wq', serial.toLowerCase());
    const answer = await rowsMatchApi(`q=${serial.toLowerCase()}`);
    expect(answer.items.length).toBeGreaterThan(0);
    expect(new Set(answer.items.map((a) => a.serial))).toEqual(new Set([serial]));
  });
});

describe('recent alerts on the worklist', () => {
  it('lists the newest alerts of /api/alerts, each with its severity and a link to the camera', async () => {
    await waitUntil('an alert', async () => ((await (await fetch(`${fleet.url}api/alerts?limit=20`)).json()) as { alerts: unknown[] }).alerts.length > 0);
    await page.goto(fleet.url);
    await page.locator('#alert-list li').first().waitFor();
    expect(await page.locator('#alerts').isVisible()).toBe(true);
    const { alerts } = (await (await fetch(`${fleet.url}api/alerts?limit=20`)).json()) as { alerts: { id: string; serial: string; kind: string; severity: string }[] };
    const shown = await page.locator('#alert-list li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-serial') + ' ' + li.getAttribute('data-kind')));
    // Alerts may come between the page's answer and this one: its newest five are still among these 20.
    expect(shown.length).toBeGreaterThan(0);
    expect(alerts.map((a) => a.serial + ' ' + a.kind)).toEqual(expect.arrayContaining(shown.slice(0, 5)));
    const first = page.locator('#alert-list li').first();
    expect(await first.locator('a').getAttribute('href')).toMatch(/^\/camera\/[A-Za-z0-9_-]+$/);
    expect(['info', 'low', 'medium', 'high', 'critical']).toContain(await first.locator('.badge').textContent());
    await page.locator('#alerts').screenshot({ path: join(SHOTS, 'worklist-alerts.png') });
  });
});

describe("a camera's evidence, opened from the worklist", () => {
  it('opens the exposed camera from its row: services with a mismatch marked, listening sockets as address:port', async () => {
    const serial = cameras.get('exposed')!.serial;
    await page.locator(`#worklist tbody tr[data-serial="${serial}"] a`).first().click();
    await page.waitForURL(`**/camera/${serial}`);
    await page.locator('#services tbody tr').first().waitFor();
    const report = fleet.consumer.camera(serial)!.report!;
    expect(await page.locator('#services tbody tr').count()).toBe(report.services.entries.length);
    // Telnet listens with no parameter that controls it (configured unknown): a mismatch.
    const telnet = page.locator('#services tbody tr[data-service="telnet"]');
    expect(await telnet.getAttribute('data-mismatch')).toBe('true');
    expect(await telnet.innerText()).toMatch(/tcp6? [\d.:[\]]+:23/);
    expect(await page.locator('#services tbody tr.mismatch').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'worklist-camera-exposed.png'), fullPage: true });
    await page.screenshot({ path: join(SHOTS, 'worklist-camera-exposed-top.png') });
  });

  it("shows each finding with its evidence lines and control, and the hardening measure as severity counts", async () => {
    const serial = cameras.get('exposed')!.serial;
    const c = fleet.consumer.camera(serial)!;
    const f = c.report!.services.findings.find((x) => x.evidence.length > 0)!;
    const li = page.locator(`#findings li[data-finding="${f.id}"]`);
    expect(await li.locator('ul.evidence li').allTextContents()).toEqual(f.evidence);
    expect(await li.innerText()).toContain(`control ${f.control}`);
    const counts = c.evaluation!.findingCounts;
    expect(await page.locator('#hardening').textContent()).toContain(`${counts.high} high`);
    expect(await page.locator('#findings h2').textContent()).not.toContain('/100');
  });

  it("shows the posture, not good, with its reasons; the camera's actions; CVSS per advisory; platform and firmware", async () => {
    const serial = cameras.get('exposed')!.serial;
    const c = fleet.consumer.camera(serial)!;
    expect(await page.locator('#posture').getAttribute('data-posture')).toBe(c.evaluation!.posture);
    expect(c.evaluation!.posture).not.toBe('good');
    expect(await page.locator('#posture li').allTextContents()).toEqual(c.evaluation!.postureReasons);
    expect(await page.locator('#actions li[data-action]').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-action')))).toEqual(fleet.consumer.actionsFor(serial)!.map((a) => a.id));
    for (const a of c.evaluation!.advisories) expect(await page.locator(`#advisories tr[data-advisory="${a.id}"] td[data-cvss]`).textContent()).toBe(a.cvss === null ? '—' : a.cvss.toFixed(1));
    expect(await page.locator('#platform').innerText()).toContain(c.report!.device.soc!);
    expect(await page.locator('#firmware [data-firmware]').getAttribute('data-firmware')).toBe('committed');
  });

  it('never shows the tampered camera (an unsigned app under AllowUnsigned) as good', async () => {
    const serial = cameras.get('tampered')!.serial;
    await page.goto(`${fleet.url}camera/${serial}`);
    await page.locator('#posture').waitFor();
    expect(await page.locator('#posture').getAttribute('data-posture')).not.toBe('good');
    expect((await page.locator('#posture').innerText()).toLowerCase()).toContain('unsigned');
    await page.screenshot({ path: join(SHOTS, 'worklist-camera-tampered.png'), fullPage: true });
  });
});

describe('the lts2022-uncommitted camera (firmware not committed)', () => {
  it('shows the pending rollback with the version it returns to and its deadline, mismatches for Telnet and SSH, and no good posture', async () => {
    const cam = cameras.get('lts2022-uncommitted')!;
    const report = fleet.consumer.camera(cam.serial)!.report!;
    const fw = report.os.firmware!;
    expect(fw.pendingRollback).toBe(true);
    await page.goto(`${fleet.url}camera/${cam.serial}`);
    await page.locator('#firmware [data-firmware]').waitFor();
    expect(await page.locator('#firmware [data-firmware]').getAttribute('data-firmware')).toBe('pending-rollback');
    const firmware = await page.locator('#firmware').innerText();
    // The page shows a report between `report` and this one (it reloads live).
    const shown = fleet.consumer.camera(cam.serial)!.report!;
    expect(firmware).toContain(fw.inactiveVersion!);
    // The deadline is the shown report's sentAt + timeToRollbackSec: between that of the report before the page
    // loaded and that of the report after.
    const deadline = Date.parse(/Rollback deadline\s+(\S+)/.exec(firmware)![1]);
    const at = (r: typeof report) => Date.parse(r.sentAt) + r.os.firmware!.timeToRollbackSec! * 1000;
    expect(deadline).toBeGreaterThanOrEqual(Math.min(at(report), at(shown)));
    expect(deadline).toBeLessThanOrEqual(Math.max(at(report), at(shown)));
    expect(await page.locator('#posture').getAttribute('data-posture')).not.toBe('good');
    expect(await page.locator('#services tr[data-service="telnet"]').getAttribute('data-mismatch')).toBe('true');
    expect(await page.locator('#services tr[data-service="ssh"]').getAttribute('data-mismatch')).toBe('true');
    // Clients are not servers: an NTP client with no socket, a DHCP client on 68/546, are no mismatch.
    expect(await page.locator('#services tr[data-service="ntp"]').getAttribute('data-mismatch')).toBe('false');
    expect(await page.locator('#services tr[data-service="dhcp"]').getAttribute('data-mismatch')).toBe('false');
    await page.screenshot({ path: join(SHOTS, 'worklist-camera-uncommitted.png'), fullPage: true });
  });
});

describe('a camera nobody wrote a profile for, published by hand', () => {
  // The camera: AXIS OS 10.12 on LTS 2022, Telnet listening with no parameter, SSH on in the parameters but
  // not listening, an unsigned app running under AllowUnsigned, firmware not committed. Its strings are hostile.
  const serial = 'ACCC8E00BEEF';
  const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
  const sentAt = new Date().toISOString();

  beforeAll(async () => {
    const report = makeReport({ serial, version: '10.12.228', soc: 'Axis Artpec-7', model: 'P3245-LVE', sentAt, intervalSec: 2 });
    report.os.firmware = { activeVersion: '10.12.228', inactiveVersion: '10.12.220', committed: false, pendingRollback: true, timeToRollbackSec: 1800, lastUpgradeAt: sentAt };
    report.services.entries = [
      { name: 'telnet', configured: 'unknown', listening: [{ proto: 'tcp', address: '0.0.0.0', port: 23 }] },
      { name: 'ssh', configured: 'on', listening: [] },
      { name: 'https', configured: 'on', listening: [{ proto: 'tcp6', address: '::', port: 443 }] },
    ];
    report.services.totalListening = 2;
    report.services.findings = [{ id: 'telnet-listening', control: 'E1', severity: 'high', summary: 'Telnet is listening', evidence: ['listening tcp 0.0.0.0:23', hostile] }];
    report.integrity.allowUnsignedApps = true;
    report.integrity.apps = [{ name: `Überwachung 中文 ${hostile}`, niceName: null, vendor: null, version: '1.0', status: 'Running', signatureStatus: 'Unsigned' }];
    assertValidReport(report);
    // The demo's broker admits a camera's topics only to that camera's login (broker-accounts.ts gives one for any serial).
    const pub = await mqtt.connectAsync(demo.broker.url, { ...demo.credentials.camera(serial), clientId: serial, reconnectPeriod: 0 });
    try {
      await pub.publishAsync(`vigil/v1/${serial}/report`, JSON.stringify(report), { qos: 1 });
    } finally {
      await pub.endAsync();
    }
    await waitUntil('the hand-made camera in the fleet', () => fleet.consumer.camera(serial)?.reports === 1);
  });

  it('is in the worklist with an integrity action for its pending rollback', async () => {
    await page.goto(`${fleet.url}?q=${serial}`);
    const answer = await rowsMatchApi(`q=${serial}`);
    expect(answer.items.some((a) => a.kind === 'integrity' && /rollback|commit/i.test(a.title + a.why.join(' ')))).toBe(true);
  });

  it('shows the pending rollback with the version it returns to and the deadline, and a posture that is not good', async () => {
    await page.locator(`#worklist tbody tr[data-serial="${serial}"] a`).first().click();
    await page.waitForURL(`**/camera/${serial}`);
    await page.locator('#firmware [data-firmware]').waitFor();
    expect(await page.locator('#firmware [data-firmware]').getAttribute('data-firmware')).toBe('pending-rollback');
    const firmware = await page.locator('#firmware').innerText();
    expect(firmware).toContain('10.12.220');
    expect(firmware).toContain(new Date(Date.parse(sentAt) + 1800_000).toISOString());
    expect(await page.locator('#posture').getAttribute('data-posture')).not.toBe('good');
    await page.screenshot({ path: join(SHOTS, 'worklist-camera-rollback.png'), fullPage: true });
  });

  it('marks both mismatches: Telnet listening with no parameter, SSH on but not listening', async () => {
    expect(await page.locator('#services tr[data-service="telnet"]').getAttribute('data-mismatch')).toBe('true');
    expect(await page.locator('#services tr[data-service="ssh"]').getAttribute('data-mismatch')).toBe('true');
    expect(await page.locator('#services tr[data-service="https"]').getAttribute('data-mismatch')).toBe('false');
    expect(await page.locator('#services tr[data-service="https"]').innerText()).toContain('tcp6 [::]:443');
  });

  it("shows the device's hostile strings as text, running nothing", async () => {
    expect(await page.locator('#findings li[data-finding="telnet-listening"] ul.evidence li').allTextContents()).toEqual(['listening tcp 0.0.0.0:23', hostile]);
    expect(await page.locator('#camera').innerText()).toContain(`Überwachung 中文 ${hostile}`);
    expect(await page.locator('#camera img, #camera script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  });
});

describe('the exports, downloaded from the worklist', () => {
  it('downloads the CSV of the filtered worklist: its rows are the API items for the same filter', async () => {
    await page.goto(`${fleet.url}?urgency=high`);
    await rowsMatchApi('urgency=high');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
    expect(download.suggestedFilename()).toMatch(/^vigil-actions-\d{4}-\d{2}-\d{2}\.csv$/);
    const rows = parseCsv(readFileSync((await download.path())!, 'utf8'));
    const answer = await api('urgency=high');
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    const col = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
    expect(rows.slice(1).map((r) => r[col('id')])).toEqual(ids(answer));
    expect(rows.slice(1).every((r) => r[col('urgency')] === 'high')).toBe(true);
    expect(rows.slice(1).map((r) => r[col('serial')])).toEqual(answer.items.map((a) => a.serial));
  });

  it('downloads the PDF report and reads back the fleet summary, a camera serial and an action title', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#pdf')]);
    expect(download.suggestedFilename()).toMatch(/^vigil-report-\d{4}-\d{2}-\d{2}\.pdf$/);
    const pdf = readFileSync((await download.path())!);
    await download.saveAs(join(SHOTS, 'worklist-report.pdf'));
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    // Page footers fall between the lines of a title broken over a page: read without them.
    const text = flat(pdfToText(pdf).replace(/Vigil fleet report · \S+ · page \d+ of \d+/g, ' '));
    const answer = await api();
    expect(text).toContain('Fleet summary');
    expect(text).toContain(`Cameras: ${fleet.consumer.counts().total}`);
    expect(text).toContain(`Actions: ${answer.counts.total} on ${answer.counts.cameras} cameras`);
    expect(text).toContain(cameras.get('exposed')!.serial);
    expect(text).toContain(flat(pdfText(answer.items[0].title)));
    expect(text).toContain(`lifecycle ${answer.data.lifecycle}`);
    // The hand-made camera's app name (German and Chinese, and markup) is in an action title: mapped into
    // WinAnsi (the Chinese as ?), not dropped, not crashing the report.
    const app = answer.items.find((a) => a.serial === 'ACCC8E00BEEF' && a.title.includes('Überwachung'));
    expect(app).toBeDefined();
    expect(text).toContain(flat(pdfText(app!.title)));
    expect(flat(pdfText(app!.title))).toContain('Überwachung ?? <img');
  });
});

describe("the data's age", () => {
  it('warns on the worklist when the lifecycle data is older than 90 days, and stops once it is fresh again', async () => {
    const fresh = fleet.consumer.tables;
    const old = new Date(Date.now() - 120 * 86_400_000).toISOString().slice(0, 10);
    fleet.consumer.reloadTables({ ...fresh, lifecycle: { ...fresh.lifecycle, updated: old } });
    try {
      await page.goto(fleet.url);
      await page.locator('#data-stale').waitFor();
      expect(await page.locator('#data-stale').textContent()).toContain('older than 90 days');
      // 121 only if the clock passes midnight (UTC) in between.
      expect(await page.locator('#data-dates').textContent()).toMatch(new RegExp(`lifecycle ${old} \\((120|121) days old\\)`));
      await page.screenshot({ path: join(SHOTS, 'worklist-stale-data.png') });
    } finally {
      fleet.consumer.reloadTables(fresh);
    }
    await page.goto(fleet.url);
    await page.locator('#worklist tbody tr').first().waitFor();
    expect(await page.locator('#data-stale').isHidden()).toBe(true);
  });
});

describe('a retired camera', () => {
  it('leaves the worklist and its counts, and is marked retired on the camera table and its page', async () => {
    const serial = cameras.get('legacy-840')!.serial;
    expect((await api(`serial=${serial}`)).items.length).toBeGreaterThan(0);
    const res = await fetch(`${fleet.url}api/cameras/${serial}/retire`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'replaced by a Q1656' }) });
    expect(res.status).toBe(200);
    await page.goto(fleet.url);
    const answer = await rowsMatchApi('');
    expect(answer.items.some((a) => a.serial === serial)).toBe(false);
    expect(await page.locator(`#worklist tbody tr[data-serial="${serial}"]`).count()).toBe(0);
    expect(await page.locator('[data-count="cameras"] b').textContent()).toBe(String(answer.counts.cameras));
    await page.goto(`${fleet.url}cameras`);
    await page.locator(`#cameras tbody tr[data-serial="${serial}"] .s-retired`).waitFor();
    await page.goto(`${fleet.url}camera/${serial}`);
    await page.locator('#retired').waitFor();
    expect(await page.locator('#retired').textContent()).toContain('replaced by a Q1656');
  });
});
