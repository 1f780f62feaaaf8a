import { describe, expect, it } from 'vitest';
import { actionsCsv, csvCell, CSV_COLUMNS } from '../src/export-csv';
import { parseCsv } from '../../test/helpers/csv';
import { FIXTURE_ITEMS } from './worklist-fixture';

describe('CSV cells', () => {
  it('leaves a plain value as it is', () => {
    expect(csvCell('ACCC8E000001')).toBe('ACCC8E000001');
    expect(csvCell(42)).toBe('42');
    expect(csvCell(null)).toBe('');
  });
  it('quotes a field with a comma and doubles its quotes', () => {
    expect(csvCell('Turn off SSH, "if unused"')).toBe('"Turn off SSH, ""if unused"""');
  });
  it('quotes a field with a newline or a carriage return', () => {
    expect(csvCell('a\nb')).toBe('"a\nb"');
    expect(csvCell('a\r\nb')).toBe('"a\r\nb"');
  });
  it.each(['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx'])('neutralises a formula start: %j gets a leading apostrophe', (v) => {
    const cell = csvCell(v);
    expect(parseCsv(cell + '\r\n')[0][0]).toBe(`'${v}`);
  });
  it('neutralises a formula and then quotes it when it also holds a quote', () => {
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
  });
  it('leaves a formula character that is not first alone', () => {
    expect(csvCell('a=b')).toBe('a=b');
  });
});

describe('the actions CSV', () => {
  it('has a header row and one row per action, with CRLF line ends, read back to the same values', () => {
    const text = actionsCsv(FIXTURE_ITEMS);
    expect(text.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(text);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(FIXTURE_ITEMS.length + 1);
    for (const r of rows) expect(r).toHaveLength(CSV_COLUMNS.length);
    const col = (name: string) => CSV_COLUMNS.indexOf(name as (typeof CSV_COLUMNS)[number]);
    expect(rows.slice(1).map((r) => r[col('id')])).toEqual(FIXTURE_ITEMS.map((a) => a.id));
    expect(rows[2][col('fixes')]).toBe('CVE-2024-7784 CVE-2025-0324');
    expect(rows[2][col('targetVersion')]).toBe('11.11.150');
    expect(rows[5][col('why')]).toBe('SSH is on\nin parameters');
    expect(rows[5][col('title')]).toBe('Turn off SSH, "if unused", please');
  });
  it('neutralises a device-made title that starts like a formula inside a row', () => {
    const rows = parseCsv(actionsCsv([{ ...FIXTURE_ITEMS[3], title: "=cmd|' /C calc'!A0" }]));
    expect(rows[1][CSV_COLUMNS.indexOf('title')]).toBe("'=cmd|' /C calc'!A0");
  });
  it('is only the header for an empty worklist', () => {
    expect(parseCsv(actionsCsv([]))).toEqual([[...CSV_COLUMNS]]);
  });
});
