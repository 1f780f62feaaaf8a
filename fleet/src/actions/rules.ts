/**
 * A camera's actions from its report and evaluation, by the rules in fleet/data/actions.json: one OS action (the
 * first lifecycle rule whose path, support and track match), one per hardening finding, and one per integrity
 * problem. Pure: tables and "now" in; the worklist (worklist.ts) ranks them across the fleet.
 */
import type { Report } from '../../../agent/src/report/types';
import type { ActionsData, LifecycleRule, Tables } from '../data';
import { finalTrackFor, matchAdvisory, type AdvisoryMatch, type Evaluation } from '../evaluate';
import { targetOf, tracksForSoc } from '../os-target';
import { unsignedApps } from '../posture';
import { parseVersion } from '../version';
import type { Action, ActionKind, Urgency } from './types';

const ORDER: Record<Urgency, number> = { critical: 3, high: 2, medium: 1, low: 0 };
const higher = (a: Urgency, b: Urgency): Urgency => (ORDER[b] > ORDER[a] ? b : a);

/** Fills {name} placeholders; an unknown name stays visible as {name} (the rules test finds such typos). */
export function fill(text: string, vars: Record<string, string | number | null | undefined>): string {
  return text.replace(/\{([A-Za-z]+)\}/g, (all, name: string) => {
    const v = vars[name];
    return v === undefined || v === null || v === '' ? (name in vars ? '?' : all) : String(v);
  });
}

/** The advisories that match now and not at the target version: what the upgrade closes. */
function closedBy(targetVersion: string | null, advisories: AdvisoryMatch[], tables: Tables, soc: string | null): AdvisoryMatch[] {
  const t = parseVersion(targetVersion);
  if (!t) return [];
  return advisories.filter((m) => {
    const a = tables.advisories.advisories.find((x) => x.id === m.id);
    return a ? matchAdvisory(a, t, soc) === null : false;
  });
}

const knownExploited = (ids: string[], tables: Tables) => ids.some((id) => tables.advisories.advisories.find((a) => a.id === id)?.knownExploited === true);

/** Risk for the ranking: the urgency's weight plus what the action closes. */
function risk(data: ActionsData, urgency: Urgency, closes: AdvisoryMatch[], exploited: boolean, endOfLife: boolean): number {
  const r = data.risk;
  const top = closes.reduce((m, a) => Math.max(m, a.cvss ?? 0), 0);
  const unscored = closes.some((a) => a.cvss === null) ? r.unscoredAdvisory : 0;
  return r.urgency[urgency] + Math.max(top * r.perCvssPoint, unscored) + (exploited ? r.knownExploited : 0) + (endOfLife ? r.endOfLife : 0);
}

function osAction(serial: string, report: Report, e: Evaluation, tables: Tables, nowMs: number): Action | null {
  const data = tables.actions;
  const soc = report.device.soc;
  const retireSoon = e.targetPath === 'retire' && e.support !== 'end-of-life';
  let path: LifecycleRule['path'] | 'stay' = retireSoon ? 'retire-soon' : e.targetPath;
  let target = e.target;
  if (path === 'stay') {
    // On the newest build of its track, with advisories still open there: a newer track the SoC gets may close them.
    const next = e.advisories.length ? tracksForSoc(tables.tracks, finalTrackFor(tables.tracks, soc), nowMs)[0] : undefined;
    if (!next || next.id === e.trackId || closedBy(next.latest, e.advisories, tables, soc).length === 0) return null;
    path = 'open-advisory';
    target = targetOf(next, tables.tracks);
  }
  const rule = data.lifecycle.find((r) => r.path === path && (!r.support || r.support.includes(e.support)) && (!r.track || r.track === e.trackId));
  if (!rule) return null;
  // The current LTS for this SoC: the alternative to chasing the active track's newest release.
  const lts = tracksForSoc(tables.tracks, finalTrackFor(tables.tracks, soc), nowMs).find((t) => t.kind === 'lts') ?? null;
  const vars = {
    version: target?.version, targetTrack: target?.trackName, track: e.trackName, soc: soc ?? 'an unknown SoC', osVersion: report.os.version,
    endOfSupport: e.endOfSupport, lts: lts?.name, ltsVersion: lts?.latest,
  };
  // Retiring the camera removes every exposure it has; an upgrade closes what its target is not affected by.
  const closes = rule.kind === 'retire' && e.support === 'end-of-life' ? e.advisories : closedBy(target?.version ?? null, e.advisories, tables, soc);
  const fixes = closes.map((a) => a.id);
  const exploited = knownExploited(fixes, tables);
  const endOfLife = e.support === 'end-of-life';
  let urgency = rule.urgency;
  // Critical needs a confirmed match; a possible one (fixed builds or SoC unconfirmed) raises to high at most.
  const top = (confidence: AdvisoryMatch['confidence']) => closes.reduce((m, a) => (a.confidence === confidence ? Math.max(m, a.cvss ?? 0) : m), 0);
  const confirmed = top('affected');
  const possible = top('possibly-affected');
  if (exploited) urgency = higher(urgency, data.escalate.knownExploited);
  if (confirmed >= data.escalate.criticalCvss) urgency = higher(urgency, 'critical');
  else if (confirmed >= data.escalate.highCvss || possible >= data.escalate.highCvss) urgency = higher(urgency, 'high');
  if (endOfLife) urgency = higher(urgency, data.escalate.endOfLife);
  const why = [`AXIS OS ${report.os.version} on ${e.trackName}: ${e.support}. ${e.supportReason}`, e.targetReason];
  if (closes.length) why.push(`closes ${closes.map((a) => `${a.id}${a.cvss !== null ? ` (CVSS ${a.cvss})` : ''}`).join(', ')}`);
  const open = e.advisories.filter((a) => !fixes.includes(a.id));
  if (open.length && target) why.push(`still open at the target (fixed builds unconfirmed): ${open.map((a) => a.id).join(', ')}`);
  const dates: Record<string, string> = {};
  if (e.endOfSupport) dates.endOfSupport = e.endOfSupport;
  // "Or move to the LTS" says nothing when the target already is that LTS.
  const steps = rule.steps.map((s) => fill(s, vars)).filter((s) => !(s.startsWith('Or move to') && (!lts || target?.trackId === lts.id)));
  return {
    id: `${serial}/os`, serial, kind: rule.kind as ActionKind, rule: rule.id, urgency, risk: risk(data, urgency, closes, exploited, endOfLife),
    title: fill(rule.title, vars), target, why, fixes, dates, control: path === 'upgrade' || path === 'move-track' || path === 'open-advisory' ? 'B2' : null, steps,
  };
}

function findingActions(serial: string, report: Report, tables: Tables): Action[] {
  const data = tables.actions;
  return report.services.findings.map((f) => {
    const rule = data.findings.rules[f.id];
    const urgency = rule?.urgency ?? data.findings.default.urgency[f.severity] ?? 'medium';
    const control = rule?.control ?? f.control;
    const vars = { summary: f.summary, control };
    return {
      id: `${serial}/harden/${f.id}`, serial, kind: 'harden' as const, rule: rule ? `finding:${f.id}` : 'finding:default', urgency, risk: data.risk.urgency[urgency],
      title: fill(rule?.title ?? data.findings.default.title, vars), target: null, why: [f.summary, ...f.evidence.map((x) => `evidence: ${x}`)], fixes: [],
      dates: {}, control, steps: (rule?.steps ?? data.findings.default.steps).map((s) => fill(s, vars)),
    };
  });
}

function integrityActions(serial: string, report: Report, tables: Tables): Action[] {
  const data = tables.actions;
  const out: Action[] = [];
  const add = (key: keyof ActionsData['integrity'], subject: string | null, vars: Record<string, string | number | null>, why: string[], dates: Record<string, string> = {}) => {
    const r = data.integrity[key];
    out.push({
      id: `${serial}/integrity/${key}${subject ? `/${subject}` : ''}`, serial, kind: 'integrity', rule: `integrity:${key}`, urgency: r.urgency, risk: data.risk.urgency[r.urgency],
      title: fill(r.title, vars), target: null, why, fixes: [], dates, control: r.control ?? null, steps: r.steps.map((s) => fill(s, vars)),
    });
  };
  const i = report.integrity;
  for (const app of unsignedApps(report)) {
    add('unsigned-app', app.name, { app: app.niceName ?? app.name }, [`${app.name}${app.version ? ` ${app.version}` : ''} is ${app.status ?? 'installed'}, signature status ${app.signatureStatus}`, i.allowUnsignedApps === true ? 'AllowUnsigned is on' : 'AllowUnsigned is off or unknown']);
  }
  const fw = report.os.firmware;
  if (fw?.pendingRollback) {
    const sent = Date.parse(report.sentAt);
    const rollbackAt = fw.timeToRollbackSec !== null && Number.isFinite(sent) ? new Date(sent + fw.timeToRollbackSec * 1000).toISOString() : null;
    add('pending-rollback', null, { previous: fw.inactiveVersion ?? 'the previous version', osVersion: report.os.version, rollbackAt: rollbackAt ?? 'the rollback deadline' },
      [`firmware ${fw.activeVersion ?? report.os.version} is not committed; it rolls back to ${fw.inactiveVersion ?? 'the inactive version'}${rollbackAt ? ` at ${rollbackAt}` : ''}`], rollbackAt ? { rollbackAt } : {});
  }
  if (i.status === 'changed') {
    const files = i.changes.slice(0, 5).map((c) => `${c.path} (${c.change})`).join(', ') + (i.totalChanges > 5 ? `, … ${i.totalChanges - 5} more` : '');
    add('file-drift', null, { count: i.totalChanges, files }, [`${i.totalChanges} file(s) differ from the baseline${i.baseline ? ` of ${i.baseline.createdAt}` : ''}: ${files}`], i.baseline ? { baseline: i.baseline.createdAt } : {});
  }
  if (i.status === 'error') {
    const err = report.errors.find((x) => x.collector === 'integrity');
    add('integrity-error', null, {}, [err?.message ?? 'the integrity check failed']);
  }
  return out;
}

/** Every action for one camera, most urgent first. */
export function actionsFor(serial: string, report: Report, evaluation: Evaluation, tables: Tables, nowMs: number): Action[] {
  const os = osAction(serial, report, evaluation, tables, nowMs);
  const all = [...(os ? [os] : []), ...integrityActions(serial, report, tables), ...findingActions(serial, report, tables)];
  return all.sort((a, b) => b.risk - a.risk || a.id.localeCompare(b.id));
}
