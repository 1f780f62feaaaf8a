/**
 * A camera's alert conditions: pure, from its entry in the view (record, latest report, evaluation, status)
 * to the set of conditions active now, each with what its alert says. The engine raises an alert when one
 * becomes active; which conditions exist and their keys are decided here.
 */
import { createHash } from 'node:crypto';
import type { CameraEntry } from '../fleet-view';
import { unsignedApps } from '../posture';
import { severityOf, type AlertKind, type AlertRules, type AlertSeverity } from './rules';

export interface ActiveCondition {
  /** Stable key per camera: `lost`, `advisory:<id>`, `finding:<id>`, `support-ended:<trackId>`… */
  condition: string;
  kind: AlertKind;
  severity: AlertSeverity;
  summary: string;
  details: Record<string, unknown>;
}

export interface ConditionOptions {
  rules: AlertRules;
  /** support-ending when this many days or fewer are left. */
  supportEndingDays: number;
}


/** Whether a retired camera has shown life since it was retired: a report received, or an online state sent, after. */
export function reportsSinceRetired(c: CameraEntry): boolean {
  const retired = c.rec.retiredMs;
  if (retired == null) return false;
  if (c.rec.lastReportMs !== null && c.rec.lastReportMs > retired) return true;
  return c.rec.connection === 'online' && c.stateAtMs !== null && c.stateAtMs > retired;
}

export function conditionsOf(c: CameraEntry, o: ConditionOptions): Map<string, ActiveCondition> {
  const out = new Map<string, ActiveCondition>();
  const serial = c.rec.serial;
  const add = (condition: string, kind: AlertKind, summary: string, details: Record<string, unknown>, cvss: number | null = null) =>
    out.set(condition, { condition, kind, severity: severityOf(o.rules, kind, cvss), summary: `${serial}: ${summary}`, details });
  // A retired camera alerts for one thing only: that it is back.
  if (c.rec.retiredMs != null) {
    if (reportsSinceRetired(c)) {
      add('retired-reporting', 'retired-reporting', `retired ${new Date(c.rec.retiredMs).toISOString()} but reporting again`, {
        retiredAt: new Date(c.rec.retiredMs).toISOString(), retiredReason: c.rec.retiredReason ?? null, status: c.status, osVersion: c.rec.osVersion,
      });
    }
    return out;
  }
  // The last identity a refused report claimed (store/forgery.ts): keyed by the claim, so each new one alerts.
  if (c.rec.identityClaim != null && c.rec.identityClaimMs != null) {
    const claim = JSON.parse(c.rec.identityClaim) as { model: string | null; hardwareId: string | null };
    const key = createHash('sha256').update(c.rec.identityClaim).digest('hex').slice(0, 16);
    add(`identity-mismatch:${key}`, 'identity-mismatch', `a report claimed model ${claim.model ?? '?'}, hardware id ${claim.hardwareId ?? '?'}; the camera is ${c.rec.model ?? '?'}, ${c.rec.hardwareId ?? '?'} (refused)`, {
      claimed: claim, known: { model: c.rec.model, hardwareId: c.rec.hardwareId }, at: new Date(c.rec.identityClaimMs).toISOString(), refused: c.rec.refused,
    });
  }
  if (c.status === 'lost') add('lost', 'lost', 'connection lost (the broker published its will)', { since: c.rec.stateAt, reason: c.rec.stateReason });
  if (c.status === 'missing') {
    const last = c.rec.lastReportMs === null ? null : new Date(c.rec.lastReportMs).toISOString();
    add('missing', 'missing', `no report since ${last ?? 'it came online'}`, { lastReportAt: last, intervalSec: c.rec.intervalSec });
  }
  const e = c.evaluation;
  if (e) {
    const track = e.trackId ?? 'no-track';
    if (e.support === 'end-of-life') {
      add(`support-ended:${track}`, 'support-ended', `AXIS OS ${e.version} is past its end of support: ${e.supportReason}`, {
        version: e.version, trackId: e.trackId, trackName: e.trackName, endOfSupport: e.endOfSupport, reason: e.supportReason,
      });
    } else if (e.daysLeft !== null && e.daysLeft <= o.supportEndingDays && (e.support === 'ending-soon' || e.support === 'supported')) {
      add(`support-ending:${track}`, 'support-ending', `AXIS OS ${e.version} support ends in ${e.daysLeft} days: ${e.supportReason}`, {
        version: e.version, trackId: e.trackId, trackName: e.trackName, endOfSupport: e.endOfSupport, endEstimated: e.endEstimated, daysLeft: e.daysLeft,
      });
    }
    for (const a of e.advisories) {
      add(`advisory:${a.id}`, 'advisory', `${a.id} ${a.title} (CVSS ${a.cvss ?? 'unknown'}) affects AXIS OS ${e.version}${a.fixed ? `; fixed in ${a.fixed}` : ''}`, {
        advisory: a.id, title: a.title, cvss: a.cvss, confidence: a.confidence, fixed: a.fixed, reason: a.reason, version: e.version,
      }, a.cvss);
    }
    if (e.integrity === 'changed') {
      const changes = c.latest?.integrity.changes ?? [];
      add('integrity-changed', 'integrity-changed', `${c.latest?.integrity.totalChanges ?? '?'} file(s) differ from the integrity baseline`, {
        totalChanges: c.latest?.integrity.totalChanges ?? null, changes: changes.slice(0, 20).map((x) => `${x.change} ${x.path}`),
      });
    }
  }
  const r = c.latest;
  if (r) {
    for (const f of r.services.findings) {
      if (f.severity === 'high') add(`finding:${f.id}`, 'finding', `${f.summary} (control ${f.control})`, { finding: f.id, control: f.control, severity: f.severity, evidence: f.evidence.slice(0, 20) });
    }
    for (const app of unsignedApps(r)) {
      add(`unsigned-app:${app.name}`, 'unsigned-app', `ACAP app ${app.name} is not signed (${app.signatureStatus})${r.integrity.allowUnsignedApps ? ', and AllowUnsigned is on' : ''}`, {
        app: app.name, vendor: app.vendor, version: app.version, signatureStatus: app.signatureStatus, allowUnsignedApps: r.integrity.allowUnsignedApps,
      });
    }
    // The agent reports AllowUnsigned as the high finding unsigned-apps-allowed (B8), which alerts above: once is enough.
    const asFinding = r.services.findings.some((f) => f.id === 'unsigned-apps-allowed' && f.severity === 'high');
    if (r.integrity.allowUnsignedApps === true && !asFinding) add('unsigned-allowed', 'unsigned-allowed', 'AllowUnsigned is on: unsigned ACAP apps may be installed', { allowUnsignedApps: true });
  }
  return out;
}
