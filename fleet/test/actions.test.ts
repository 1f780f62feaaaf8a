// The action rules (fleet/data/actions.json through fleet/src/actions/rules.ts), table-driven: AXIS OS versions ×
// SoCs × dates for the OS decision, every hardening finding the agent can raise, and each integrity problem.
import { describe, expect, it } from 'vitest';
import { RULES } from '../../agent/src/collectors/services/services';
import type { Report } from '../../agent/src/report/types';
import { actionsFor } from '../src/actions/rules';
import type { Action } from '../src/actions/types';
import { loadTables } from '../src/data';
import { evaluate } from '../src/evaluate';
import { finding, makeReport, type ReportParts } from './fixtures';

const tables = loadTables();
const NOW = Date.parse('2026-12-02T12:00:00Z');
const at = (iso: string) => Date.parse(`${iso}T12:00:00Z`);

function actions(parts: ReportParts, nowMs = NOW, edit?: (r: Report) => void): Action[] {
  const r = makeReport(parts);
  edit?.(r);
  return actionsFor(r.deviceId, r, evaluate(r, tables, nowMs), tables, nowMs);
}
const osAction = (version: string, soc: string | null, nowMs = NOW) => actions({ version, soc }, nowMs).find((a) => a.id.endsWith('/os')) ?? null;

type OsCase = [version: string, soc: string | null, date: string | null, rule: string | null, target: string | null, track: string | null, urgency: string | null, fixes: string[]];

// [version, SoC, date (null: 2026-12-02), rule, target version, target track, urgency, advisories it closes]
const OS_CASES: OsCase[] = [
  ['12.11.147', 'Ambarella CV25', null, null, null, null, null, []],
  ['13.0.4', 'Axis Artpec-8', null, null, null, null, null, []],
  ['12.11.77', 'Ambarella CV25', null, 'upgrade-on-track', '12.11.147', 'lts2026', 'medium', []],
  ['12.11.77', 'Axis Artpec-8', null, 'upgrade-on-track', '12.11.147', 'lts2026', 'medium', []],
  ['12.10.36', 'Axis Artpec-8', null, 'upgrade-outdated', '12.11.147', 'lts2026', 'high', []],
  ['12.3.33', 'Ambarella CV25', null, 'upgrade-outdated', '12.11.147', 'lts2026', 'high', ['CVE-2026-1185']],
  ['12.2.1', 'Ambarella CV25', null, 'upgrade-outdated', '12.11.147', 'lts2026', 'critical', ['CVE-2025-0324', 'CVE-2026-1185']],
  ['11.11.248', 'Ambarella S5L', null, null, null, null, null, []],
  ['11.11.140', 'Ambarella S5L', null, 'upgrade-on-track', '11.11.248', 'lts2024', 'medium', []],
  ['11.11.100', 'Ambarella CV25', null, 'upgrade-on-track', '11.11.248', 'lts2024', 'critical', ['CVE-2025-0324']],
  ['11.11.100', 'NXP i.MX 6ULL', null, 'upgrade-on-track', '11.11.248', 'lts2024', 'critical', ['CVE-2025-0324']],
  ['11.5.64', 'Ambarella CV25', null, 'move-track', '12.11.147', 'lts2026', 'high', ['CVE-2023-21413']],
  ['11.5.64', 'NXP i.MX 6ULL', null, 'move-track', '11.11.248', 'lts2024', 'high', ['CVE-2023-21413']],
  ['11.5.64', 'NXP i.MX 6SoloX', null, 'move-track', '12.11.147', 'lts2026', 'high', ['CVE-2023-21413']],
  ['11.2.1', 'Axis Artpec-8', null, 'move-track', '12.11.147', 'lts2026', 'high', ['CVE-2023-21413', 'CVE-2023-21414']],
  ['11.2.1', null, null, 'move-track', '12.11.147', 'lts2026', 'high', ['CVE-2023-21413', 'CVE-2023-21414']],
  ['10.12.257', 'Axis Artpec-7', null, 'move-to-close', '12.11.147', 'lts2026', 'high', ['CVE-2023-21413', 'CVE-2023-5800']],
  ['10.12.257', 'Ambarella S5L', null, 'move-to-close', '11.11.248', 'lts2024', 'high', ['CVE-2023-21413', 'CVE-2023-5800']],
  ['10.12.228', 'Axis Artpec-7', null, 'upgrade-on-track', '10.12.257', 'lts2022', 'medium', []],
  ['10.12.228', 'Axis Artpec-7', '2027-09-01', 'move-track', '12.11.147', 'lts2026', 'high', ['CVE-2023-21413', 'CVE-2023-5800']],
  ['9.80.3.12', 'Axis Artpec-7', null, 'move-track', '12.11.147', 'lts2026', 'high', ['CVE-2023-5800']],
  ['9.80.3.12', 'Ambarella S5L', null, 'move-track', '11.11.248', 'lts2024', 'high', ['CVE-2023-5800']],
  ['8.40.4.6', 'Ambarella S2L (Flattened Device Tree)', null, 'move-track', '12.11.147', 'lts2026', 'high', ['CVE-2023-5800']],
  ['6.50.5.7', 'Axis Artpec-6', null, 'move-track', '12.11.147', 'lts2026', 'high', ['CVE-2023-5800']],
  ['11.11.248', 'Ambarella S5', '2029-09-01', 'plan-replacement', null, null, 'medium', []],
  ['11.11.200', 'Ambarella S5', '2029-09-01', 'plan-replacement', '11.11.248', 'lts2024', 'medium', []],
  ['11.11.248', 'Ambarella S5L', '2030-01-05', 'retire', null, null, 'high', []],
  ['11.5.64', 'NXP i.MX 6ULL', '2030-01-05', 'retire', null, null, 'high', ['CVE-2023-21413']],
  ['999999.1.1', 'Ambarella CV25', null, 'check-version', null, null, 'medium', []],
  ['garbage', 'Ambarella CV25', null, 'check-version', null, null, 'medium', []],
];

describe('the OS action for each version, SoC and date', () => {
  for (const [version, soc, date, rule, target, track, urgency, fixes] of OS_CASES) {
    const when = date ?? '2026-12-02';
    it(`${version} on ${soc ?? 'an unknown SoC'} on ${when}: ${rule ?? 'nothing to do'}${target ? ` → ${target}` : ''}`, () => {
      const a = osAction(version, soc, date ? at(date) : NOW);
      if (rule === null) {
        expect(a).toBeNull();
        return;
      }
      expect(a).not.toBeNull();
      expect([a!.rule, a!.target?.version ?? null, a!.target?.trackId ?? null, a!.urgency, [...a!.fixes].sort()]).toEqual([rule, target, track, urgency, fixes]);
    });
  }
});

describe('what an OS action says', () => {
  it('names the target, the track and the advisories it closes in the title and the why', () => {
    const a = osAction('12.2.1', 'Ambarella CV25')!;
    expect(a.title).toBe('Upgrade to AXIS OS 12.11.147: only the newest active release is supported');
    expect(a.why.join(' ')).toContain('closes CVE-2025-0324 (CVSS 9.4), CVE-2026-1185 (CVSS 5.4)');
  });
  it('offers the current LTS as the alternative to the newest active release when they differ', () => {
    const t = { ...tables, tracks: tables.tracks.map((x) => (x.kind === 'active' ? { ...x, latest: '12.12.5', latestV: [12, 12, 5] } : x)) };
    const r = makeReport({ version: '12.3.33' });
    const a = actionsFor(r.deviceId, r, evaluate(r, t, NOW), t, NOW).find((x) => x.id.endsWith('/os'))!;
    expect(a.steps).toContain('Or move to LTS 2026 (12.11.147), the current LTS track, for security fixes without feature changes.');
  });
  it('lists the compensating controls for a camera whose SoC has no supported track left', () => {
    const a = osAction('11.11.248', 'Ambarella S5L', at('2030-01-05'))!;
    expect(a.kind).toBe('retire');
    expect(a.title).toBe('Retire and replace: no supported AXIS OS left for Ambarella S5L');
    expect(a.steps.join(' ')).toMatch(/risk analysis.*IP address filter.*802\.1X.*VLAN.*Turn off every service/s);
  });
  it('says which advisories stay open at the target when their fixed builds are unconfirmed', () => {
    expect(osAction('10.12.228', 'Axis Artpec-7')!.why.join(' ')).toContain('still open at the target (fixed builds unconfirmed): CVE-2023-21413, CVE-2023-5800');
  });
  it('keeps the same id when the target moves on (a newer release in the tables)', () => {
    expect(osAction('12.11.77', 'Ambarella CV25')!.id).toBe('ACCC8E000001/os');
    expect(osAction('9.80.3.12', 'Axis Artpec-7')!.id).toBe('ACCC8E000001/os');
  });
  it('raises a possible match (fixed builds unconfirmed) to high at most, a confirmed one at CVSS 9 to critical', () => {
    expect(osAction('11.5.64', 'Ambarella CV25')!.urgency).toBe('high');
    expect(osAction('11.11.100', 'Ambarella CV25')!.urgency).toBe('critical');
  });
  it('ranks a known-exploited fix above the same fix unexploited, as critical', () => {
    const kev = { ...tables, advisories: { ...tables.advisories, advisories: tables.advisories.advisories.map((a) => (a.id === 'CVE-2026-1185' ? { ...a, knownExploited: true } : a)) } };
    const r = makeReport({ version: '12.3.33' });
    const plain = osAction('12.3.33', 'Ambarella CV25')!;
    const hot = actionsFor(r.deviceId, r, evaluate(r, kev, NOW), kev, NOW).find((x) => x.id.endsWith('/os'))!;
    expect([plain.urgency, hot.urgency]).toEqual(['high', 'critical']);
    expect(hot.risk).toBeGreaterThan(plain.risk);
  });
});

describe('hardening findings', () => {
  it('has a specific remediation for every rule the agent can raise', () => {
    expect(RULES.map((r) => r.id).filter((id) => !tables.actions.findings.rules[id])).toEqual([]);
  });
  for (const r of RULES) {
    it(`turns ${r.id} (${r.severity}) into a harden action with control ${r.control}`, () => {
      const a = actions({ version: '12.11.147', findings: [{ ...finding(r.id, r.severity, r.control), evidence: ['Network.SSH.Enabled=yes'] }] }).find((x) => x.kind === 'harden')!;
      expect([a.id, a.control, a.urgency]).toEqual([`ACCC8E000001/harden/${r.id}`, r.control, r.severity]);
      expect(a.why).toContain('evidence: Network.SSH.Enabled=yes');
    });
  }
  it('falls back to the default remediation for a finding the tables do not know', () => {
    const a = actions({ findings: [finding('brand-new-check', 'low', 'E9')] }).find((x) => x.kind === 'harden')!;
    expect([a.rule, a.title, a.control, a.urgency]).toEqual(['finding:default', 'brand-new-check (test)', 'E9', 'low']);
    expect(a.steps).toEqual(['Apply control E9 of the AXIS OS Hardening Guide, or record why the camera needs it.']);
  });
});

describe('integrity', () => {
  const app = (signatureStatus: string) => ({ name: 'hello', niceName: 'Hello', vendor: 'Acme', version: '1.0', status: 'Running', signatureStatus });
  it('asks to check an unsigned app, under control B8', () => {
    const a = actions({ version: '12.11.147', integrity: { allowUnsignedApps: true, apps: [app('Unsigned')] } }).find((x) => x.kind === 'integrity')!;
    expect([a.id, a.urgency, a.control, a.title]).toEqual(['ACCC8E000001/integrity/unsigned-app/hello', 'high', 'B8', 'Check the unsigned app Hello']);
  });
  it('raises nothing for a signed app', () => {
    expect(actions({ version: '12.11.147', integrity: { apps: [app('Signed')] } }).filter((x) => x.kind === 'integrity')).toEqual([]);
  });
  it('asks to commit or investigate a pending rollback, with the previous version and the deadline', () => {
    const a = actions({ version: '12.11.147', seq: 1 }, NOW, (r) => {
      r.os.firmware = { activeVersion: '12.11.147', inactiveVersion: '12.10.36', committed: false, pendingRollback: true, timeToRollbackSec: 3600, lastUpgradeAt: null };
    }).find((x) => x.rule === 'integrity:pending-rollback')!;
    expect(a.title).toBe('Commit or investigate the pending firmware upgrade (rolls back to 12.10.36)');
    expect(a.dates.rollbackAt).toBe(new Date(Date.parse('2026-11-25T12:01:00.000Z') + 3_600_000).toISOString());
  });
  it('asks to investigate changed files before a rebaseline, as the most urgent kind', () => {
    const a = actions({ version: '12.11.147', integrity: { status: 'changed', totalChanges: 1, changes: [{ path: '/usr/bin/.implant', change: 'added' }] } }).find((x) => x.kind === 'integrity')!;
    expect([a.urgency, a.title]).toEqual(['critical', 'Investigate 1 changed file(s), then rebaseline']);
    expect(a.steps[0]).toContain('/usr/bin/.implant (added)');
  });
  it('asks to make a failing integrity check work', () => {
    const a = actions({ version: '12.11.147', integrity: { status: 'error', baseline: null }, errors: [{ collector: 'integrity', code: 'EACCES', message: '[vigil] [integrity] cannot read /usr/bin' }] }).find((x) => x.kind === 'integrity')!;
    expect([a.rule, a.why]).toEqual(['integrity:integrity-error', ['[vigil] [integrity] cannot read /usr/bin']]);
  });
});

describe('the rules as data', () => {
  it('leaves no placeholder unfilled in any action of any case', () => {
    const all = OS_CASES.flatMap(([v, soc, date]) => actions({ version: v, soc, findings: RULES.map((r) => finding(r.id, r.severity, r.control)) }, date ? at(date) : NOW));
    const texts = all.flatMap((a) => [a.title, ...a.steps, ...a.why]);
    expect(texts.filter((t) => /\{[A-Za-z]+\}/.test(t))).toEqual([]);
  });
  it('refuses an actions file whose urgency is not one of the four', async () => {
    const { mkdtempSync, writeFileSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const bad = JSON.parse(readFileSync(new URL('../data/actions.json', import.meta.url), 'utf8'));
    bad.lifecycle[0].urgency = 'urgent';
    const dir = mkdtempSync(join(tmpdir(), 'vigil-actions-'));
    writeFileSync(join(dir, 'actions.json'), JSON.stringify(bad));
    expect(() => loadTables({ actionsFile: join(dir, 'actions.json') })).toThrow(/actions\.json does not match schemas\/actions\.schema\.json: \/lifecycle\/0\/urgency must be equal to one of the allowed values/);
  });
});
