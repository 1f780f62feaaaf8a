// The posture word and the hardening measure: never good while an unsigned app runs under AllowUnsigned or a
// firmware rollback is pending; severity counts and a penalty that keep ranking past the floored score.
import { describe, expect, it } from 'vitest';
import { loadTables } from '../src/data';
import { evaluate } from '../src/evaluate';
import { finding, makeReport, type ReportParts } from './fixtures';

const tables = loadTables();
const NOW = Date.parse('2026-12-02T12:00:00Z');
const ev = (p: ReportParts = {}) => evaluate(makeReport({ version: '12.11.147', ...p }), tables, NOW);
const app = (name: string, signatureStatus: string | null, status = 'Running') => ({ name, niceName: name, vendor: 'Acme', version: '1.0', status, signatureStatus });

describe('posture', () => {
  it('is good for a supported, clean camera with its file baseline intact', () => {
    expect([ev().posture, ev().postureReasons]).toEqual(['good', []]);
  });
  it('is at risk while an unsigned app runs under AllowUnsigned, though the file verdict is ok', () => {
    const e = ev({ integrity: { allowUnsignedApps: true, apps: [app('hello', 'Unsigned')] } });
    expect([e.integrity, e.posture]).toEqual(['ok', 'at-risk']);
    expect(e.postureReasons.join('; ')).toContain('unsigned app(s) running under AllowUnsigned: hello');
  });
  it('is at risk while an unsigned app runs on a version with no AllowUnsigned switch (before 11.2)', () => {
    const e = ev({ version: '10.12.257', integrity: { allowUnsignedApps: null, apps: [app('hello', 'Unsigned')] } });
    expect(e.postureReasons[0]).toBe('unsigned app(s) running (no AllowUnsigned switch reported): hello');
  });
  it('needs attention, not risk, for an unsigned app running where unsigned installs are refused', () => {
    expect(ev({ integrity: { allowUnsignedApps: false, apps: [app('hello', 'Unsigned')] } }).posture).toBe('attention');
  });
  it('needs attention for an unsigned app that is installed but stopped', () => {
    expect(ev({ integrity: { allowUnsignedApps: true, apps: [app('hello', 'Unsigned', 'Stopped')] } }).posture).toBe('attention');
  });
  it('needs attention, never good, while a firmware upgrade waits for commit and would roll back', () => {
    const r = makeReport({ version: '12.11.147' });
    r.os.firmware = { activeVersion: '12.11.147', inactiveVersion: '12.10.36', committed: false, pendingRollback: true, timeToRollbackSec: 600, lastUpgradeAt: null };
    const e = evaluate(r, tables, NOW);
    expect(e.posture).toBe('attention');
    expect(e.postureReasons.join('; ')).toContain('will roll back to 12.10.36');
  });
  it('is at risk on an end-of-life track', () => {
    expect(ev({ version: '9.80.3.12' }).posture).toBe('at-risk');
  });
  it('is at risk with a high-CVSS advisory that affects the version', () => {
    const e = ev({ version: '11.11.100' });
    expect(e.advisories.map((a) => a.id)).toContain('CVE-2025-0324');
    expect(e.posture).toBe('at-risk');
  });
  it('is at risk with one high finding and attention with only a low one', () => {
    expect(ev({ findings: [finding('telnet-listening', 'high', 'E1')] }).posture).toBe('at-risk');
    expect(ev({ findings: [finding('dot1x-off', 'low', 'Default')] }).posture).toBe('attention');
  });
  it('is at risk when files differ from the baseline', () => {
    expect(ev({ integrity: { status: 'changed', totalChanges: 1, changes: [{ path: '/usr/bin/curl', change: 'changed' }] } }).posture).toBe('at-risk');
  });
  it('is unknown, not good, when the services check did not run', () => {
    expect(ev({ errors: [{ collector: 'services', code: 'ETIMEDOUT', message: '[vigil] [services] timed out' }] }).posture).toBe('unknown');
  });
  it('is unknown for a version the tables cannot place', () => {
    expect(ev({ version: 'garbage' }).posture).toBe('unknown');
  });
});

describe('the hardening measure', () => {
  const six = Array.from({ length: 6 }, (_, i) => finding(`f${i}`, 'high'));
  const eight = Array.from({ length: 8 }, (_, i) => finding(`f${i}`, 'high'));
  it('counts findings by severity', () => {
    expect(ev({ findings: [finding('a', 'high'), finding('b', 'medium'), finding('c', 'medium'), finding('d', 'low')] }).findingCounts).toEqual({ high: 1, medium: 2, low: 1 });
  });
  it('keeps ranking two cameras the floored score calls equal (0/100)', () => {
    const a = ev({ findings: six });
    const b = ev({ findings: eight });
    expect([a.hardeningScore, b.hardeningScore]).toEqual([0, 0]);
    expect([a.hardeningPenalty, b.hardeningPenalty]).toEqual([150, 200]);
  });
  it('has no penalty when the services check did not run', () => {
    expect(ev({ errors: [{ collector: 'services', code: 'EIO', message: '[vigil] [services] x' }] }).hardeningPenalty).toBeNull();
  });
});
