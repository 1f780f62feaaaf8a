import { describe, expect, it } from 'vitest';
import { reportPdf } from '../src/export-pdf';
import type { FleetCounts } from '../src/fleet-view';
import { pdfText } from '../src/pdf-text';
import { answerQuery, parseFilter } from '../src/worklist-query';
import { pdfToText } from '../../test/helpers/pdftotext';
import { FIXTURE_ITEMS, item, worklistOf } from './worklist-fixture';

const NOW = Date.parse('2026-12-02T01:00:00Z');
const COUNTS: FleetCounts = {
  total: 4, retired: 1, status: { online: 3, missing: 0, offline: 1, lost: 0, unknown: 0 },
  support: { supported: 1, 'ending-soon': 1, outdated: 0, 'end-of-life': 2, unknown: 0 }, integrity: { ok: 3, changed: 1 }, posture: { 'at-risk': 2, attention: 1, good: 1, unknown: 0 }, withAdvisories: 2,
};
const answer = (items = FIXTURE_ITEMS, data?: Parameters<typeof worklistOf>[1]) => answerQuery(worklistOf(items, data), parseFilter(new URLSearchParams('limit=5000')), NOW);
/** pdftotext -layout breaks lines and pads columns: compare with runs of white space folded. */
const flat = (s: string) => s.replace(/\s+/g, ' ');

describe('PDF text mapping', () => {
  it('keeps WinAnsi characters, including the Windows-1252 extras', () => {
    expect(pdfText('Größe café – “quoted” € …')).toBe('Größe café – “quoted” € …');
  });
  it('maps arrows and comparison signs to ASCII look-alikes', () => {
    expect(pdfText('10.12 → 11.11 ≥ 2')).toBe('10.12 -> 11.11 >= 2');
  });
  it('drops accents it cannot encode and replaces what has no WinAnsi form with ?', () => {
    expect(pdfText('Łódź ő 中文 😀')).toBe('?ódz o ?? ?');
  });
  it('turns control characters into spaces and a lone surrogate into ?', () => {
    expect(pdfText('a\u0000b\u0007c\u009bd\ud800e')).toBe('a b c d?e');
  });
  it('cuts a long string with an ellipsis', () => {
    expect(pdfText('x'.repeat(50), 10)).toBe('x'.repeat(10) + '…');
  });
  it('reads null and numbers as text', () => {
    expect(pdfText(null)).toBe('');
    expect(pdfText(12.5)).toBe('12.5');
  });
});

describe('the PDF report', () => {
  it('is a PDF whose text has the fleet summary, the data dates, each camera and each action', async () => {
    const pdf = await reportPdf({ worklist: answer(), counts: COUNTS, nowMs: NOW });
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const text = flat(pdfToText(pdf));
    expect(text).toContain('Vigil fleet report');
    expect(text).toContain('Fleet summary');
    expect(text).toContain('Cameras: 4 (and 1 retired, counted nowhere else)');
    expect(text).toContain('end-of-life 2');
    expect(text).toContain('By posture: at-risk 2 · attention 1 · good 1 · unknown 0');
    expect(text).toContain('By urgency: critical 1 · high 2 · medium 1 · low 1');
    expect(text).toContain('lifecycle 2026-11-01');
    expect(text).toContain('advisories 2026-11-15');
    expect(text).toContain('Generated 2026-12-02T01:00:00.000Z');
    for (const a of FIXTURE_ITEMS) expect(text).toContain(a.serial);
    expect(text).toContain('[HIGH] Upgrade to AXIS OS 11.11.150');
    expect(text).toContain('Fixes: CVE-2024-7784, CVE-2025-0324');
    expect(text).toContain('Control: B8');
    expect(text).not.toContain('older than 90 days');
  });
  it('does not crash on device text outside WinAnsi, and shows it mapped', async () => {
    const hostile = item({ serial: 'ACCC8E0000FF', rule: 'integrity/app', kind: 'integrity', title: 'Check app 中文 → Łódź 😀 \u0000\ud800', why: ['\u202e evil'], model: 'Ⅷ-model' });
    const text = flat(pdfToText(await reportPdf({ worklist: answer([hostile]), counts: COUNTS, nowMs: NOW })));
    expect(text).toContain('Check app ?? -> ?ódz ?');
    expect(text).toContain('ACCC8E0000FF VIII-model');
  });
  it('warns when the lifecycle data is older than 90 days', async () => {
    const text = flat(pdfToText(await reportPdf({ worklist: answer(FIXTURE_ITEMS, { lifecycle: '2026-01-10', advisories: '2026-11-15', actions: '2026-11-20' }), counts: COUNTS, nowMs: NOW })));
    expect(text).toContain('older than 90 days');
    expect(text).toContain('(326 days old)');
  });
  it('lists at most maxCameras cameras and maxActionsPerCamera actions, and says so', async () => {
    const many = Array.from({ length: 30 }, (_, i) => item({ serial: `CAM${String(i).padStart(3, '0')}`, rule: 'harden/a', risk: 100 - i }));
    many.push(item({ serial: 'CAM000', rule: 'harden/b', risk: 1 }), item({ serial: 'CAM000', rule: 'harden/c', risk: 0 }));
    const text = flat(pdfToText(await reportPdf({ worklist: answer(many), counts: COUNTS, nowMs: NOW, limits: { maxCameras: 5, maxActionsPerCamera: 2 } })));
    expect(text).toContain('lists the 5 highest-risk of 30 cameras');
    expect(text).toContain('CAM004');
    expect(text).not.toContain('CAM005');
    expect(text).toContain('… and 1 more actions for this camera');
  });
  it('stops at maxActions in all, and says how many cameras it lists', async () => {
    const many = Array.from({ length: 10 }, (_, c) => [0, 1, 2].map((a) => item({ serial: `CAM${c}`, rule: `harden/${a}`, risk: 100 - c }))).flat();
    const text = flat(pdfToText(await reportPdf({ worklist: answer(many), counts: COUNTS, nowMs: NOW, limits: { maxActions: 7 } })));
    expect(text).toContain('lists the 3 highest-risk of 10 cameras with actions (at most 300 cameras and 7 actions)');
    expect(text).toContain('CAM2');
    expect(text).not.toContain('CAM3');
    expect(text).toContain('… and 2 more actions for this camera');
  });
  it('yields to the event loop while it lays out cameras, so ingest goes on during a large report', async () => {
    const many = Array.from({ length: 50 }, (_, c) => item({ serial: `CAM${c}`, rule: 'harden/a', risk: 100 - c }));
    let turns = 0;
    let building = true;
    const spin = () => {
      turns++;
      if (building) setImmediate(spin);
    };
    setImmediate(spin);
    await reportPdf({ worklist: answer(many), counts: COUNTS, nowMs: NOW });
    building = false;
    expect(turns).toBeGreaterThanOrEqual(50);
  });
  it('says there is nothing to do for an empty worklist', async () => {
    const text = flat(pdfToText(await reportPdf({ worklist: answer([]), counts: COUNTS, nowMs: NOW })));
    expect(text).toContain('No actions: nothing to do.');
  });
});
