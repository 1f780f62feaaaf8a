// Evaluation from the bundled data files: tracks and their boundaries, the active track, four-part and
// unknown versions, every bundled advisory, the hardening score and the integrity verdict.
import { describe, expect, it } from 'vitest';
import { loadTables, parseLifecycle, type LifecycleData } from '../src/data';
import { evaluate, hardeningScore, integrityVerdict } from '../src/evaluate';
import { compareVersions, parseVersion } from '../src/version';
import { finding, makeReport } from './fixtures';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tables = loadTables();
const NOW = Date.parse('2026-11-25T12:00:00Z');
const day = (iso: string) => Date.parse(`${iso}T12:00:00Z`);
const ev = (version: string, now = NOW, soc: string | null = 'Ambarella CV25') => evaluate(makeReport({ version, soc }), tables, now);
const ids = (version: string, soc: string | null = 'Ambarella CV25') => ev(version, NOW, soc).advisories.map((a) => a.id).sort();

describe('versions', () => {
  it('parses three- and four-part AXIS OS versions', () => {
    expect(parseVersion('12.11.77')).toEqual([12, 11, 77]);
    expect(parseVersion('9.80.3.12')).toEqual([9, 80, 3, 12]);
  });
  it('rejects text that is not a version', () => {
    for (const v of ['', 'UNKNOWN', '12', '12.x.1', '1.2.3.4.5', 'v12.11.77', '12.11.77-beta', null]) expect(parseVersion(v as string)).toBeNull();
  });
  it('orders a four-part version after its three-part stem', () => {
    expect(compareVersions([9, 80, 3, 12], [9, 80, 3])).toBe(1);
    expect(compareVersions([9, 80, 3], [9, 80, 3, 0])).toBe(0);
    expect(compareVersions([10, 12, 228], [10, 5, 999])).toBe(1);
  });
});

describe('tracks and support status on 2026-11-25', () => {
  const cases: Array<[string, string, string]> = [
    ['6.50.5.7', 'lts2016', 'end-of-life'],
    ['8.40.4.6', 'lts2018', 'end-of-life'],
    ['9.80.3.12', 'lts2020', 'end-of-life'],
    ['10.12.228', 'lts2022', 'supported'],
    ['11.11.140', 'lts2024', 'supported'],
    ['12.11.77', 'lts2026', 'supported'],
    ['12.12.1', 'active', 'supported'],
    ['12.10.36', 'active', 'outdated'],
  ];
  for (const [version, track, status] of cases) {
    it(`places ${version} on ${track} as ${status}`, () => {
      const e = ev(version);
      expect([e.trackId, e.support]).toEqual([track, status]);
    });
  }
});

describe('every LTS track boundary', () => {
  for (const t of tables.tracks.filter((x) => x.kind === 'lts')) {
    const end = t.endOfSupport as string;
    const version = `${t.prefix}.1`;
    const minus = (days: number) => day(end) - days * 86_400_000;
    it(`${t.name} is supported 181 days before its end (${end})`, () => {
      expect(ev(version, minus(181)).support).toBe('supported');
    });
    it(`${t.name} ends soon 180 days before its end`, () => {
      const e = ev(version, minus(180));
      expect([e.support, e.daysLeft]).toEqual(['ending-soon', 180]);
    });
    it(`${t.name} is still supported, ending soon, on its last day`, () => {
      expect(ev(version, day(end)).support).toBe('ending-soon');
    });
    it(`${t.name} is end of life the day after its end`, () => {
      expect(ev(version, day(end) + 86_400_000).support).toBe('end-of-life');
    });
    if (t.id !== 'lts2026') {
      it(`${t.name} marks its end date as estimated, as the reference leaves it unconfirmed`, () => {
        expect(ev(version, minus(400)).endEstimated).toBe(true);
      });
    }
  }
  it('LTS 2026 (12.11) ends at the end of 2031, as the ACAP docs say: not an estimate', () => {
    const e = ev('12.11.77');
    expect([e.trackName, e.endOfSupport, e.endEstimated]).toEqual(['LTS 2026', '2031-12-31', false]);
  });
});

describe('the active track: only its newest release is supported (active-track-old-release-supported)', () => {
  it('calls an older active release outdated, with no end date and the newest release offered', () => {
    const e = ev('12.3.33');
    expect([e.trackName, e.support, e.endOfSupport, e.upgradeAvailable, e.latestOnTrack]).toEqual(['Active', 'outdated', null, true, '12.11.147']);
    expect(e.supportReason).toContain('only the newest release (12.11.147) is supported; update');
  });
  it('names the newest active release as the target, on the LTS track it became (12.11 is AXIS OS 2026 LTS)', () => {
    expect(ev('12.3.33').target).toEqual({ version: '12.11.147', trackId: 'lts2026', trackName: 'LTS 2026' });
  });
  it('supports exactly the newest release and offers no upgrade', () => {
    const e = ev('12.11.147');
    expect([e.support, e.upgradeAvailable, e.targetPath, e.target]).toEqual(['supported', false, 'stay', null]);
  });
  it('calls one build below the newest outdated (the bundled table reads "latest" strictly)', () => {
    const t = activeRule({ latest: '12.10.40' });
    expect(evaluate(makeReport({ version: '12.10.39' }), t, NOW).support).toBe('outdated');
  });
  it('calls the previous active release outdated at once, as the bundled table has no grace period', () => {
    expect(ev('12.10.36', day('2026-07-02')).support).toBe('outdated');
  });
  it('counts a four-part spelling of the newest release as the newest', () => {
    expect(ev('12.11.147.0').support).toBe('supported');
  });
  for (const version of ['12.12.1', '13.0.4']) {
    it(`supports ${version}, newer than the table knows, as the newest, with no upgrade`, () => {
      const e = ev(version);
      expect([e.trackId, e.support, e.upgradeAvailable]).toEqual(['active', 'supported', false]);
      expect(e.supportReason).toContain('newer than 12.11.147');
    });
  }
  for (const version of ['999999.1.1', '14.0.1', '100.1.2.3']) {
    it(`never supports ${version}, majors ahead of any release the tables know`, () => {
      const e = ev(version);
      expect([e.support, e.upgradeAvailable, e.targetPath]).toEqual(['unknown', false, 'unknown']);
      expect(e.supportReason).toContain('not a real version');
    });
  }
  for (const version of ['12.11.77-beta', '12.11.x', 'v12.11.77', '12.11.77.0.1', ' ']) {
    it(`says unknown, not outdated, for the malformed version "${version}"`, () => {
      const e = ev(version);
      expect([e.versionKnown, e.support, e.upgradeAvailable]).toEqual([false, 'unknown', false]);
    });
  }
  it('calls an old active release on no LTS track end of life', () => {
    const e = ev('11.5.64');
    expect([e.trackId, e.trackName, e.support]).toEqual([null, 'retired active (11.5)', 'end-of-life']);
  });
  it('keeps every build of an LTS track supported, only offering the newest', () => {
    const e = ev('11.11.100');
    expect([e.support, e.upgradeAvailable]).toEqual(['supported', true]);
  });
});

/** The bundled table with the active track's rule changed. */
function activeRule(rule: Record<string, unknown>) {
  const data = JSON.parse(readFileSync(new URL('../data/lifecycle.json', import.meta.url), 'utf8')) as LifecycleData;
  Object.assign(data.tracks.find((t) => t.kind === 'active') as object, rule);
  return { ...tables, lifecycle: data, tracks: parseLifecycle(data) };
}

describe('the active track release rule, from data', () => {
  const graced = activeRule({ latestReleased: '2026-11-01', graceDays: 14 });
  const evg = (version: string, iso: string) => evaluate(makeReport({ version }), graced, day(iso));
  it('keeps the previous release ending soon during the grace, counting the days left', () => {
    const e = evg('12.10.36', '2026-11-02');
    expect([e.support, e.daysLeft, e.upgradeAvailable]).toEqual(['ending-soon', 13, true]);
    expect(e.supportReason).toContain('13 more days of grace');
  });
  it('keeps it ending soon on the last day of the grace', () => {
    expect([evg('12.10.36', '2026-11-15').support, evg('12.10.36', '2026-11-15').daysLeft]).toEqual(['ending-soon', 0]);
  });
  it('calls it outdated the day after the grace', () => {
    expect(evg('12.10.36', '2026-11-16').support).toBe('outdated');
  });
  it('keeps the newest release supported during the grace', () => {
    expect(evg('12.11.77', '2026-11-02').support).toBe('supported');
  });
  it('with "latest-minor", supports any build of the newest MAJOR.MINOR and not the release before', () => {
    const t = activeRule({ supportedReleases: 'latest-minor' });
    expect(evaluate(makeReport({ version: '12.11.1' }), t, NOW).support).toBe('supported');
    expect(evaluate(makeReport({ version: '12.10.99' }), t, NOW).support).toBe('outdated');
  });
  it('with "all", supports every active release as before', () => {
    expect(evaluate(makeReport({ version: '12.3.33' }), activeRule({ supportedReleases: 'all' }), NOW).support).toBe('supported');
  });
  it('refuses a grace period with no release date to count it from', () => {
    expect(() => activeRule({ graceDays: 7 })).toThrow(/\[vigil\] \[fleet\] lifecycle\.json: track "active" has graceDays 7 but no latestReleased/);
  });
  it('refuses an unknown release rule through the schema', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-fleet-data-'));
    const bad = JSON.parse(readFileSync(new URL('../data/lifecycle.json', import.meta.url), 'utf8'));
    bad.tracks.find((t: { kind: string }) => t.kind === 'active').supportedReleases = 'newest';
    writeFileSync(join(dir, 'lifecycle.json'), JSON.stringify(bad));
    expect(() => loadTables({ lifecycleFile: join(dir, 'lifecycle.json') })).toThrow(/supportedReleases must be equal to one of the allowed values/);
  });
});

describe('products removed from the active track (S5L, S5, i.MX 6ULL stay on LTS 2024)', () => {
  it('supports an S5L camera on the newest LTS 2024 build and names LTS 2024 as its last track', () => {
    const e = ev('11.11.248', NOW, 'Ambarella S5L');
    expect([e.trackId, e.support, e.upgradeAvailable]).toEqual(['lts2024', 'supported', false]);
    expect(e.supportReason).toContain('the last AXIS OS track for Ambarella S5L: its maintenance ends with LTS 2024');
  });
  it('offers an i.MX 6ULL camera the newest LTS 2024 build, not the active track', () => {
    const e = ev('11.11.140', NOW, 'NXP i.MX 6ULL');
    expect([e.trackId, e.support, e.upgradeAvailable, e.latestOnTrack]).toEqual(['lts2024', 'supported', true, '11.11.248']);
    expect(e.target).toEqual({ version: '11.11.248', trackId: 'lts2024', trackName: 'LTS 2024' });
  });
  it('calls an S5 camera end of life once LTS 2024 ends', () => {
    const e = ev('11.11.205', day('2030-01-01'), 'Ambarella S5');
    expect(e.support).toBe('end-of-life');
    expect(e.supportReason).toContain('its maintenance ends with LTS 2024');
  });
  it('tells an i.MX 6ULL camera on a retired active release to move to LTS 2024', () => {
    const e = ev('11.5.64', NOW, 'NXP i.MX 6ULL');
    expect([e.support, e.upgradeAvailable, e.targetPath]).toEqual(['end-of-life', true, 'move-track']);
    expect(e.supportReason).toContain('move to LTS 2024 (11.11.248)');
    expect(e.targetReason).toContain('LTS 2024 is the last track for NXP i.MX 6ULL');
  });
  it('offers an i.MX 6SoloX camera AXIS OS 12 (a later ACAP page lists it as an ACAP 12 chip; kept in data)', () => {
    const e = ev('11.5.64', NOW, 'NXP i.MX 6SoloX');
    expect(e.target).toEqual({ version: '12.11.147', trackId: 'lts2026', trackName: 'LTS 2026' });
  });
  it('questions the SoC of an S5L camera that reports a release newer than its last track', () => {
    expect(ev('12.11.77', NOW, 'Ambarella S5L').supportReason).toContain('Ambarella S5L stays on LTS 2024: check the reported SoC');
    expect(ev('12.12.1', NOW, 'Ambarella S5L').supportReason).toContain('Ambarella S5L stays on LTS 2024: check the reported SoC');
  });
  it('matches SoC names as whole words: CV25, ARTPEC-8 and S5L-like names are not S5', () => {
    for (const soc of ['Ambarella CV25', 'ARTPEC-8', 'Ambarella S55', null]) expect(ev('11.11.248', NOW, soc).supportReason).not.toContain('last AXIS OS track');
  });
});

describe('four-part and unknown versions', () => {
  it('compares a four-part LTS 2020 build with the newest on its track', () => {
    expect(ev('9.80.3.11').latestOnTrack).toBe('9.80.3.12');
    expect(ev('9.80.3.12', day('2025-06-01')).upgradeAvailable).toBe(false);
  });
  it('gives an end-of-life LTS 2020 camera on its newest build a way out: the newest track its SoC gets', () => {
    const e = ev('9.80.3.12', NOW, 'Axis Artpec-7');
    expect([e.support, e.upgradeAvailable, e.targetPath, e.target?.trackId]).toEqual(['end-of-life', true, 'move-track', 'lts2026']);
  });
  it('places a four-part LTS 2018 build on LTS 2018', () => {
    expect(ev('8.40.1.2').trackId).toBe('lts2018');
  });
  it('reports an unparsable version as unknown without matching advisories', () => {
    const e = ev('garbage');
    expect([e.versionKnown, e.trackId, e.support, e.upgradeAvailable, e.advisories]).toEqual([false, null, 'unknown', false, []]);
    expect(e.supportReason).toContain('not an AXIS OS version');
  });
  it('reports an empty version as unknown', () => {
    expect(ev('').support).toBe('unknown');
  });
});

describe('each bundled advisory', () => {
  it('CVE-2025-0324 affects LTS 2024 before 11.11.140 and active before 12.3.33, fixed after', () => {
    expect(ids('11.11.139')).toContain('CVE-2025-0324');
    expect(ids('11.11.140')).not.toContain('CVE-2025-0324');
    expect(ids('12.3.32')).toContain('CVE-2025-0324');
    expect(ids('12.3.33')).not.toContain('CVE-2025-0324');
    expect(ids('11.7.99')).not.toContain('CVE-2025-0324');
    const m = ev('11.11.100').advisories.find((a) => a.id === 'CVE-2025-0324');
    expect([m?.confidence, m?.fixed, m?.cvss]).toEqual(['affected', '11.11.140', 9.4]);
  });
  it('CVE-2026-1185 affects the active track before 12.10.36 only', () => {
    expect(ids('12.10.35')).toContain('CVE-2026-1185');
    expect(ids('12.10.36')).not.toContain('CVE-2026-1185');
    expect(ids('11.11.140')).not.toContain('CVE-2026-1185');
  });
  it('CVE-2023-21413 possibly affects 10.5 to 11.5, fixed builds unconfirmed', () => {
    const m = ev('10.12.228').advisories.find((a) => a.id === 'CVE-2023-21413');
    expect(m?.confidence).toBe('possibly-affected');
    expect(ids('11.5.64')).toContain('CVE-2023-21413');
    expect(ids('10.4.9')).not.toContain('CVE-2023-21413');
    expect(ids('11.6.1')).not.toContain('CVE-2023-21413');
  });
  it('CVE-2023-21414 matches ARTPEC-8 devices, and an unknown SoC only as possible', () => {
    expect(ids('11.1.5', 'ARTPEC-8')).toContain('CVE-2023-21414');
    expect(ids('11.1.5', 'ARTPEC-7')).not.toContain('CVE-2023-21414');
    expect(ev('11.1.5', NOW, null).advisories.find((a) => a.id === 'CVE-2023-21414')?.confidence).toBe('possibly-affected');
    expect(ids('10.10.1', 'ARTPEC-8')).not.toContain('CVE-2023-21414');
  });
  it('CVE-2023-5800 possibly affects the 11.8, 10.12, 9.80, 8.40 and 6.50 tracks', () => {
    for (const v of ['11.8.1', '10.12.257', '9.80.3.12', '8.40.4.6', '6.50.5.7']) expect(ids(v)).toContain('CVE-2023-5800');
    expect(ids('11.11.205')).not.toContain('CVE-2023-5800');
  });
  it('CVE-2023-5677 possibly affects 5.51 only, as its CVE record says (not 6.50)', () => {
    expect(ids('5.51.7.3')).toContain('CVE-2023-5677');
    expect(ids('6.50.5.7')).not.toContain('CVE-2023-5677');
    expect(ids('8.40.4.6')).not.toContain('CVE-2023-5677');
  });
  it('CVE-2017-20049 affects firmware before 5.65', () => {
    expect(ids('5.60.1')).toContain('CVE-2017-20049');
    expect(ids('5.65.0')).not.toContain('CVE-2017-20049');
  });
  it('the newest LTS 2024 and active releases match no bundled advisory', () => {
    expect(ids('11.11.205')).toEqual([]);
    expect(ids('12.11.77')).toEqual([]);
  });
});

describe('hardening score and integrity verdict', () => {
  it('scores 100 with no findings and subtracts by severity', () => {
    expect(hardeningScore(makeReport())).toBe(100);
    expect(hardeningScore(makeReport({ findings: [finding('ssh-enabled', 'medium'), finding('telnet-listening', 'high', 'B20'), finding('dot1x-off', 'low', 'Default')] }))).toBe(100 - 10 - 25 - 4);
  });
  it('never scores below zero', () => {
    expect(hardeningScore(makeReport({ findings: Array.from({ length: 6 }, (_, i) => finding(`f${i}`, 'high')) }))).toBe(0);
  });
  it('has no score when the services collector failed', () => {
    expect(hardeningScore(makeReport({ errors: [{ collector: 'services', code: 'ETIMEDOUT', message: '[vigil] [services] timed out' }] }))).toBeNull();
  });
  it('says changed, with the count, when files differ from the baseline', () => {
    const r = makeReport({ integrity: { status: 'changed', totalChanges: 2, changes: [{ path: '/usr/bin/x', change: 'changed' }, { path: '/usr/bin/y', change: 'added' }] } });
    expect(integrityVerdict(r)).toEqual({ verdict: 'changed', notes: ['2 file(s) differ from the baseline'] });
  });
  it('notes unsigned apps and allowed unsigned installs', () => {
    const r = makeReport({ integrity: { allowUnsignedApps: true, apps: [{ name: 'evil', niceName: null, vendor: null, version: '1', status: 'Running', signatureStatus: 'Unsigned' }] } });
    expect(integrityVerdict(r).notes).toEqual(['unsigned ACAP apps are allowed', 'apps not signed: evil']);
  });
  it('says unknown when the integrity check failed', () => {
    expect(integrityVerdict(makeReport({ integrity: { status: 'error', baseline: null } })).verdict).toBe('unknown');
  });
});

describe('data files', () => {
  it('refuses a lifecycle file that does not match its schema, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-fleet-data-'));
    const bad = JSON.parse(readFileSync(new URL('../data/lifecycle.json', import.meta.url), 'utf8'));
    bad.tracks[0].prefix = 'six';
    writeFileSync(join(dir, 'lifecycle.json'), JSON.stringify(bad));
    expect(() => loadTables({ lifecycleFile: join(dir, 'lifecycle.json') })).toThrow(/\[vigil\] \[fleet\] .*lifecycle\.json does not match schemas\/lifecycle\.schema\.json/);
  });
  it('refuses a lifecycle table with the same track twice', () => {
    const data = JSON.parse(readFileSync(new URL('../data/lifecycle.json', import.meta.url), 'utf8')) as LifecycleData;
    data.tracks.push(data.tracks[0]);
    expect(() => parseLifecycle(data)).toThrow(/track id "lts2016" appears twice/);
  });
  it('refuses an advisory file that is not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-fleet-data-'));
    writeFileSync(join(dir, 'advisories.json'), '{ nope');
    expect(() => loadTables({ advisoriesFile: join(dir, 'advisories.json') })).toThrow(/cannot read .*advisories\.json/);
  });
});
