/**
 * The worklist as CSV (RFC 4180: a header row, CRLF line ends, a field quoted when it holds a comma, quote, CR or
 * LF, quotes doubled). Device text lands in spreadsheets: a cell that starts with = + - @, a tab or a CR would be
 * read as a formula (CSV injection), so it gets a leading apostrophe, which spreadsheets show as text.
 */
import type { WorklistItem } from './actions/types';

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One field: formula-neutralised, then quoted if RFC 4180 needs it. */
export function csvCell(value: string | number | null | undefined): string {
  let text = value === null || value === undefined ? '' : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(cells: (string | number | null | undefined)[]): string {
  return cells.map(csvCell).join(',') + '\r\n';
}

export const CSV_COLUMNS = [
  'urgency', 'risk', 'serial', 'model', 'osVersion', 'status', 'kind', 'title', 'targetVersion', 'targetTrack', 'why', 'fixes', 'control', 'dates', 'steps', 'id',
] as const;

function itemCells(a: WorklistItem): (string | number | null)[] {
  return [
    a.urgency, a.risk, a.serial, a.model, a.osVersion, a.status, a.kind, a.title,
    a.target?.version ?? null, a.target ? (a.target.trackName ?? a.target.trackId) : null,
    a.why.join('; '), a.fixes.join(' '), a.control,
    Object.entries(a.dates).map(([k, v]) => `${k}=${v}`).join(' '),
    a.steps.join('; '), a.id,
  ];
}

/** The whole CSV text for these worklist items, header first. */
export function actionsCsv(items: WorklistItem[]): string {
  let out = csvRow([...CSV_COLUMNS]);
  for (const a of items) out += csvRow(itemCells(a));
  return out;
}
