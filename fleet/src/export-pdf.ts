/**
 * The PDF report an auditor can file (pdfkit, the standard Helvetica fonts, no font files of ours): the fleet
 * summary (cameras by status, support and posture, actions by urgency and kind), each camera's actions (serial,
 * model, version; each action's urgency, title, target, why, fixes and control), the data dates and the time it
 * was made. Bounded: at most maxCameras cameras, maxActionsPerCamera actions each and maxActions in all, highest risk
 * first, and the report says when it left some out. pdfkit lays text out synchronously (about 0.45 ms an action),
 * so the build yields to the event loop after each camera: ingest goes on while a large report is made. All text
 * goes through pdfText (the fonts encode WinAnsi only).
 */
import PDFDocument from 'pdfkit';
import type { Urgency, WorklistItem } from './actions/types';
import type { FleetCounts } from './fleet-view';
import { pdfText } from './pdf-text';
import { STALE_DATA_DAYS, type WorklistAnswer } from './worklist-query';

export const PDF_LIMITS = { maxCameras: 300, maxActionsPerCamera: 40, maxActions: 3000 };

export interface ReportInput {
  /** The worklist as /api/actions answers it (unfiltered, limit MAX_LIMIT or all). */
  worklist: WorklistAnswer;
  counts: FleetCounts;
  nowMs: number;
  limits?: Partial<typeof PDF_LIMITS>;
}

const URGENCY_COLOUR: Record<Urgency, string> = { critical: '#8b0000', high: '#b42318', medium: '#a15c00', low: '#475467' };
const MARGIN = 50;

/** Cameras in worklist order (the first action of each is its highest), each with its actions. */
export function groupByCamera(items: WorklistItem[]): { serial: string; model: string | null; osVersion: string | null; status: string; actions: WorklistItem[] }[] {
  const cams = new Map<string, { serial: string; model: string | null; osVersion: string | null; status: string; actions: WorklistItem[] }>();
  for (const a of items) {
    let c = cams.get(a.serial);
    if (!c) cams.set(a.serial, (c = { serial: a.serial, model: a.model, osVersion: a.osVersion, status: a.status, actions: [] }));
    c.actions.push(a);
  }
  return [...cams.values()];
}

const pairs = (rec: Record<string, number>) => Object.entries(rec).map(([k, v]) => `${k} ${v}`).join(' · ');

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function reportPdf(input: ReportInput): Promise<Buffer> {
  const limits = { ...PDF_LIMITS, ...input.limits };
  const { worklist: w, counts } = input;
  const generated = new Date(input.nowMs);
  const doc = new PDFDocument({
    size: 'A4', margin: MARGIN, bufferPages: true,
    info: { Title: 'Vigil fleet report', Author: 'Vigil', Subject: 'AXIS OS fleet: what to do with each camera', CreationDate: generated },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const width = doc.page.width - 2 * MARGIN;
  const text = (s: unknown, options: PDFKit.Mixins.TextOptions = {}) => doc.text(pdfText(s), { width, ...options });
  // A detail line under an action: the whole paragraph indented (pdfkit's `indent` moves the first line only).
  const detail = (s: string) => {
    doc.text(pdfText(s), MARGIN + 14, undefined, { width: width - 14 });
    doc.x = MARGIN;
  };
  const heading = (s: string, size = 14) => {
    doc.moveDown(0.6).font('Helvetica-Bold').fontSize(size).fillColor('#101828');
    text(s);
    doc.font('Helvetica').fontSize(10).fillColor('#101828').moveDown(0.2);
  };

  doc.font('Helvetica-Bold').fontSize(20).fillColor('#101828');
  text('Vigil fleet report');
  doc.font('Helvetica').fontSize(10).fillColor('#475467');
  text(`Generated ${generated.toISOString()}`);
  text(`Data: lifecycle ${w.data.lifecycle} (${w.dataAgeDays.lifecycle ?? '?'} days old) · advisories ${w.data.advisories} (${w.dataAgeDays.advisories ?? '?'} days old) · action rules ${w.data.actions}`);
  if (w.dataStale) {
    doc.fillColor('#b42318');
    text(`Warning: the lifecycle or advisories data is older than ${STALE_DATA_DAYS} days; support dates and advisories may be out of date.`);
  }

  heading('Fleet summary');
  text(`Cameras: ${counts.total}${counts.retired ? ` (and ${counts.retired} retired, counted nowhere else)` : ''}`);
  text(`By status: ${pairs(counts.status)}`);
  text(`By support: ${pairs(counts.support)}`);
  if (counts.posture) text(`By posture: ${pairs(counts.posture)}`);
  text(`With advisories: ${counts.withAdvisories}`);
  text(`Actions: ${w.counts.total} on ${w.counts.cameras} cameras`);
  text(`By urgency: ${pairs(w.counts.byUrgency)}`);
  text(`By kind: ${pairs(w.counts.byKind)}`);

  const cams = groupByCamera(w.items);
  heading('Actions per camera');
  // What fits: cameras in risk order, each with up to maxActionsPerCamera, until maxCameras or maxActions.
  const shown: { c: (typeof cams)[number]; n: number }[] = [];
  let budget = limits.maxActions;
  for (const c of cams) {
    if (shown.length >= limits.maxCameras || budget <= 0) break;
    const n = Math.min(c.actions.length, limits.maxActionsPerCamera, budget);
    shown.push({ c, n });
    budget -= n;
  }
  const notes: string[] = [];
  if (cams.length > shown.length) notes.push(`This report lists the ${shown.length} highest-risk of ${cams.length} cameras with actions (at most ${limits.maxCameras} cameras and ${limits.maxActions} actions).`);
  if (w.truncated) notes.push(`The worklist was cut at ${w.items.length} of ${w.matched.total} actions.`);
  if (notes.length) {
    doc.fillColor('#b42318');
    text(`${notes.join(' ')} The CSV export (/api/actions.csv) has them all.`);
    doc.fillColor('#101828');
  }
  if (cams.length === 0) text('No actions: nothing to do.');
  for (const { c, n } of shown) {
    await yieldToLoop();
    doc.moveDown(0.5).font('Helvetica-Bold').fontSize(12).fillColor('#101828');
    text(`${c.serial}  ${c.model ?? 'unknown model'}  AXIS OS ${c.osVersion ?? 'unknown'}  (${c.status})`);
    doc.font('Helvetica').fontSize(10);
    const actions = c.actions.slice(0, n);
    for (const a of actions) {
      doc.moveDown(0.2).font('Helvetica-Bold').fillColor(URGENCY_COLOUR[a.urgency] ?? '#101828');
      text(`[${a.urgency.toUpperCase()}] `, { continued: true });
      doc.fillColor('#101828');
      text(a.title);
      doc.font('Helvetica').fillColor('#344054');
      const target = a.target ? [a.target.version, a.target.trackName ?? a.target.trackId].filter(Boolean).join(' on ') : '';
      if (target) detail(`Target: ${target}`);
      if (a.why.length) detail(`Why: ${a.why.join('; ')}`);
      if (a.fixes.length) detail(`Fixes: ${a.fixes.join(', ')}`);
      detail(`Control: ${a.control ?? 'none'} · kind ${a.kind} · id ${a.id}`);
    }
    if (c.actions.length > actions.length) {
      doc.fillColor('#b42318');
      detail(`… and ${c.actions.length - actions.length} more actions for this camera (see the CSV export).`);
    }
  }

  // Page numbers and the generation time on every page, written once all pages exist.
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc.font('Helvetica').fontSize(8).fillColor('#667085');
    doc.text(pdfText(`Vigil fleet report · ${generated.toISOString()} · page ${i + 1} of ${range.count}`), MARGIN, doc.page.height - 30, { width, align: 'center', lineBreak: false });
    doc.page.margins.bottom = bottom;
  }
  doc.end();
  return done;
}
