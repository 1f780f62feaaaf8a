/**
 * A camera's posture in one word, from everything the evaluation found: at-risk (act now), attention (act soon),
 * good, or unknown (too little is known to say good). Never good while an unsigned app runs under AllowUnsigned or
 * a firmware rollback is pending: the integrity verdict only speaks of files. Also the hardening measure that ranks
 * cameras: severity counts and a penalty that does not floor at 0.
 */
import type { Finding, Report } from '../../agent/src/report/types';
import type { AdvisoryMatch, SupportStatus } from './evaluate';

export type Posture = 'good' | 'attention' | 'at-risk' | 'unknown';
export const POSTURES: Posture[] = ['at-risk', 'attention', 'good', 'unknown'];

export type FindingCounts = Record<Finding['severity'], number>;

export const SEVERITY_WEIGHT: Record<Finding['severity'], number> = { high: 25, medium: 10, low: 4 };

/** An advisory at or above this CVSS makes the camera at risk; below it (or unscored), attention. */
export const HIGH_CVSS = 7;

export function findingCounts(findings: Finding[]): FindingCounts {
  const counts: FindingCounts = { high: 0, medium: 0, low: 0 };
  for (const f of findings) if (counts[f.severity] !== undefined) counts[f.severity]++;
  return counts;
}

/** Sum of the severity weights: 0 is clean, and two cameras at "0/100" still rank (no floor). Null when services are unknown. */
export function hardeningPenalty(report: Pick<Report, 'services' | 'errors'>): number | null {
  if (report.errors.some((e) => e.collector === 'services')) return null;
  return report.services.findings.reduce((sum, f) => sum + (SEVERITY_WEIGHT[f.severity] ?? 0), 0);
}

/** Apps whose signature status is reported and is not a signed one. */
export function unsignedApps(report: Pick<Report, 'integrity'>): Report['integrity']['apps'] {
  return report.integrity.apps.filter((a) => a.signatureStatus !== null && !/^(signed|valid|verified)/i.test(a.signatureStatus));
}

const isRunning = (status: string | null): boolean => status !== null && /^running$/i.test(status);

export function postureOf(
  report: Pick<Report, 'services' | 'errors' | 'integrity' | 'os'>,
  e: { versionKnown: boolean; support: SupportStatus; supportReason: string; advisories: AdvisoryMatch[]; hardeningPenalty: number | null },
): { posture: Posture; reasons: string[] } {
  const risk: string[] = [];
  const attention: string[] = [];
  if (e.support === 'end-of-life' || e.support === 'outdated') risk.push(`AXIS OS ${e.support}: ${e.supportReason}`);
  else if (e.support === 'ending-soon') attention.push(`support ends soon: ${e.supportReason}`);
  for (const a of e.advisories) {
    const scored = a.cvss === null ? 'unscored' : `CVSS ${a.cvss}`;
    if (a.confidence === 'affected' && a.cvss !== null && a.cvss >= HIGH_CVSS) risk.push(`${a.id} (${scored})`);
    else attention.push(`${a.id} (${scored}, ${a.confidence})`);
  }
  const counts = findingCounts(report.services.findings);
  if (counts.high) risk.push(`${counts.high} high hardening finding(s)`);
  if (counts.medium || counts.low) attention.push(`${counts.medium} medium, ${counts.low} low hardening finding(s)`);
  const i = report.integrity;
  if (i.status === 'changed') risk.push(`${i.totalChanges} file(s) differ from the integrity baseline`);
  if (i.status === 'error') attention.push('the integrity check failed');
  const unsigned = unsignedApps(report);
  const running = unsigned.filter((a) => isRunning(a.status));
  // No switch reported (before AXIS OS 11.2 there is none): an unsigned app running is as much at risk as under AllowUnsigned.
  if (running.length && i.allowUnsignedApps !== false) {
    risk.push(`unsigned app(s) running ${i.allowUnsignedApps ? 'under AllowUnsigned' : '(no AllowUnsigned switch reported)'}: ${running.map((a) => a.name).join(', ')}`);
  }
  else if (unsigned.length) attention.push(`unsigned app(s) installed: ${unsigned.map((a) => a.name).join(', ')}`);
  else if (i.allowUnsignedApps === true) attention.push('unsigned ACAP apps are allowed');
  const fw = report.os.firmware;
  if (fw?.pendingRollback) attention.push(`a firmware upgrade is not committed and will roll back${fw.inactiveVersion ? ` to ${fw.inactiveVersion}` : ''}`);
  if (i.platform.signedOs === false) attention.push('the OS is not signed');
  if (i.platform.secureBoot === false) attention.push('secure boot is off');
  if (risk.length) return { posture: 'at-risk', reasons: [...risk, ...attention] };
  if (attention.length) return { posture: 'attention', reasons: attention };
  // Good needs the facts: a placed version and a services check that ran.
  if (!e.versionKnown || e.support === 'unknown' || e.hardeningPenalty === null) {
    return { posture: 'unknown', reasons: [!e.versionKnown || e.support === 'unknown' ? e.supportReason : 'the services check did not run'] };
  }
  return { posture: 'good', reasons: [] };
}
