/**
 * The alert engine: compares a camera's active conditions (conditions.ts) with the ones stored for it, and
 * raises an alert when one becomes active, and `recovered` when a lost or missing camera is back. The stored
 * conditions make it exactly once across restarts: the same condition while active never alerts twice, a
 * restarted consumer raises nothing it raised before, and a condition that clears and returns within the
 * quiet period stays silent. The comparison runs inside the store's transaction with the camera locked
 * (store.updateAlerts), against the conditions as stored, so consumers sharing a store never raise one alert
 * twice; alerts go in with one pending delivery per sink, so the dispatcher sends only what was committed. The
 * conditions kept in memory only save a transaction when nothing can have changed.
 * A camera's command events (event-conditions.ts) raise one alert each (raiseForEvent): their condition row,
 * `event:<eventId>`, is stored cleared at once, so it is forgotten after the quiet period like any cleared one.
 */
import { randomUUID } from 'node:crypto';
import type { CameraEntry } from '../fleet-view';
import type { FleetLog } from '../log';
import type { AlertChange, AlertConditionRow, FleetStore } from '../store/types';
import { conditionsOf, type ActiveCondition } from './conditions';
import { eventConditionOf } from './event-conditions';
import { severityOf, type AlertKind, type AlertRules, type AlertSeverity } from './rules';

/** The alert as sent and listed (schemas/alert.schema.json). */
export interface Alert {
  schema: 'vigil.alert/1';
  id: string;
  serial: string;
  kind: AlertKind;
  condition: string;
  severity: AlertSeverity;
  summary: string;
  raisedAt: string;
  details: Record<string, unknown>;
}

export interface AlertEngineOptions {
  store: FleetStore;
  rules: AlertRules;
  /** support-ending at this many days left or fewer; asked on every check (the tables may be reloaded). */
  supportEndingDays: () => number;
  /** A condition that cleared and comes back within this many ms raises nothing. */
  quietMs: number;
  /** The sinks a new alert is queued for (`webhook:<url>`, `mqtt`). */
  sinks: string[];
  log: FleetLog;
  /** Told of each alert after it was stored (inside the batch: it commits with it). */
  onRaised?: (alert: Alert) => void;
  newId?: () => string;
}

/** Conditions whose end raises `recovered`. */
const ABSENCE = new Set(['lost', 'missing']);

export class AlertEngine {
  /** Alerts raised since start, by kind (for /metrics). */
  readonly raised: Partial<Record<AlertKind, number>> = {};
  private conditions = new Map<string, Map<string, AlertConditionRow>>();
  /** Checks that updated the conditions kept here (load() reads again when one ran meanwhile). */
  private writes = 0;
  private readonly newId: () => string;

  constructor(private readonly o: AlertEngineOptions) {
    this.newId = o.newId ?? randomUUID;
  }

  /** (Re)reads the stored conditions: at start, and after the view was rebuilt from the store. */
  async load(): Promise<void> {
    // A check that wrote while the rows were read would be overwritten by older rows: read again.
    for (;;) {
      const before = this.writes;
      const rows = await this.o.store.alertConditions();
      if (before !== this.writes) continue;
      this.conditions = new Map();
      for (const row of rows) this.of(row.serial).set(row.condition, row);
      return;
    }
  }

  /** The stored conditions of one camera (active and recently cleared). */
  conditionsOf(serial: string): AlertConditionRow[] {
    return [...(this.conditions.get(serial)?.values() ?? [])];
  }

  private of(serial: string): Map<string, AlertConditionRow> {
    let m = this.conditions.get(serial);
    if (!m) {
      m = new Map();
      this.conditions.set(serial, m);
    }
    return m;
  }

  /** Checks every camera (at start, periodically as time passes, after a data update); returns what was raised. */
  async reconcileAll(entries: Iterable<CameraEntry>, nowMs: number): Promise<Alert[]> {
    const out: Alert[] = [];
    for (const c of [...entries]) out.push(...(await this.check(c, nowMs)));
    return out;
  }

  /**
   * Checks one camera; returns the alerts raised. Never rejects: a store failure is logged and the camera is
   * checked again on the next change or reconcile (nothing was kept of the failed attempt).
   */
  async check(c: CameraEntry, nowMs: number): Promise<Alert[]> {
    try {
      return await this.checkOrThrow(c, nowMs);
    } catch (err) {
      this.o.log('error', `alerts: cannot check ${c.rec.serial}, will try again: ${(err as Error).message}`);
      return [];
    }
  }

  private async checkOrThrow(c: CameraEntry, nowMs: number): Promise<Alert[]> {
    const serial = c.rec.serial;
    const desired = conditionsOf(c, { rules: this.o.rules, supportEndingDays: this.o.supportEndingDays() });
    // Nothing to do by what is known here: no transaction. Anything else is decided against the store.
    if (!this.changes(desired, this.conditions.get(serial) ?? new Map(), nowMs)) return [];
    let raised: Alert[] = [];
    let stored: AlertConditionRow[] = [];
    const change = await this.o.store.updateAlerts(serial, (rows) => {
      stored = rows;
      const d = this.decide(c, desired, new Map(rows.map((r) => [r.condition, r])), nowMs);
      raised = d?.raised ?? [];
      return d?.change ?? null;
    }, this.o.sinks, nowMs);
    // Only after the store took it: a failed write leaves the cache as it was. The cache becomes what is stored,
    // also when nothing changed: another consumer may have decided first, and a stale row would skip a check.
    const m = new Map(stored.map((r) => [r.condition, r]));
    for (const p of change?.puts ?? []) m.set(p.condition, p);
    for (const k of change?.deletes ?? []) m.delete(k);
    this.conditions.set(serial, m);
    this.writes++;
    if (!change) return [];
    for (const a of raised) {
      this.raised[a.kind] = (this.raised[a.kind] ?? 0) + 1;
      this.o.onRaised?.(a);
    }
    return raised;
  }

  /**
   * Raises the alert of a camera's event (rebaseline, interval-changed; others raise none) unless it was raised:
   * its condition row is there. `redelivered`: the store had the event already (the broker sent it again
   * because the consumer stopped before its PUBACK, maybe before the alert was written); raised then only while
   * a row written at its first delivery would still be kept, so an old event never alerts twice. Never rejects.
   */
  async raiseForEvent(serial: string, event: Record<string, unknown>, nowMs: number, redelivered = false): Promise<Alert[]> {
    const d = eventConditionOf(serial, event, this.o.rules);
    if (!d || this.conditions.get(serial)?.has(d.condition)) return [];
    try {
      if (redelivered) {
        const first = await this.o.store.event(serial, String(event.eventId));
        if (!first || nowMs - first.receivedMs >= this.o.quietMs) return [];
      }
      const raised: Alert[] = [];
      const change = await this.o.store.updateAlerts(serial, (rows) => {
        if (rows.some((r) => r.condition === d.condition)) return null;
        const a = this.alert(serial, d, nowMs);
        raised.push(a);
        const put: AlertConditionRow = { serial, condition: d.condition, active: false, sinceMs: nowMs, clearedMs: nowMs, alerted: true };
        return { puts: [put], deletes: [], alerts: [{ id: a.id, serial, kind: a.kind, condition: a.condition, severity: a.severity, raisedMs: nowMs, json: JSON.stringify(a) }] };
      }, this.o.sinks, nowMs);
      if (!change) return [];
      for (const p of change.puts) this.of(serial).set(p.condition, p);
      this.writes++;
      for (const a of raised) {
        this.raised[a.kind] = (this.raised[a.kind] ?? 0) + 1;
        this.o.onRaised?.(a);
      }
      return raised;
    } catch (err) {
      this.o.log('error', `alerts: cannot raise the ${d.kind} alert of ${serial}'s event ${String(event.eventId)}: ${(err as Error).message}`);
      return [];
    }
  }

  /** Whether decide() would change anything: the same rules, without making the alerts. */
  private changes(desired: Map<string, ActiveCondition>, stored: Map<string, AlertConditionRow>, nowMs: number): boolean {
    for (const d of desired.values()) if (!stored.get(d.condition)?.active) return true;
    for (const s of stored.values()) {
      if (desired.has(s.condition)) continue;
      if (s.active || (s.clearedMs !== null && nowMs - s.clearedMs >= this.o.quietMs)) return true;
    }
    return false;
  }

  /** The change from the stored conditions to the desired ones, with the alerts it raises; null when none. */
  private decide(c: CameraEntry, desired: Map<string, ActiveCondition>, stored: Map<string, AlertConditionRow>, nowMs: number): { change: AlertChange; raised: Alert[] } | null {
    const serial = c.rec.serial;
    const puts: AlertConditionRow[] = [];
    const deletes: string[] = [];
    const alerts: Alert[] = [];
    for (const d of desired.values()) {
      const s = stored.get(d.condition);
      if (s?.active) continue;
      const quiet = s !== undefined && s.clearedMs !== null && nowMs - s.clearedMs < this.o.quietMs;
      puts.push({ serial, condition: d.condition, active: true, sinceMs: nowMs, clearedMs: null, alerted: !quiet });
      if (!quiet) alerts.push(this.alert(serial, d, nowMs));
    }
    const absent = [...desired.keys()].some((k) => ABSENCE.has(k));
    for (const s of stored.values()) {
      if (s.active && !desired.has(s.condition)) {
        puts.push({ ...s, active: false, clearedMs: nowMs });
        // Back: the camera is neither lost nor missing now, and its going away was alerted. A retired camera's conditions just end.
        if (ABSENCE.has(s.condition) && s.alerted && !absent && c.rec.retiredMs == null) alerts.push(this.recovered(c, s, nowMs));
      } else if (!s.active && s.clearedMs !== null && nowMs - s.clearedMs >= this.o.quietMs && !desired.has(s.condition)) deletes.push(s.condition);
    }
    if (puts.length === 0 && deletes.length === 0) return null;
    const rows = alerts.map((a) => ({ id: a.id, serial, kind: a.kind, condition: a.condition, severity: a.severity, raisedMs: nowMs, json: JSON.stringify(a) }));
    return { change: { puts, deletes, alerts: rows }, raised: alerts };
  }

  private alert(serial: string, d: Pick<ActiveCondition, 'condition' | 'kind' | 'severity' | 'summary' | 'details'>, nowMs: number): Alert {
    return {
      schema: 'vigil.alert/1', id: this.newId(), serial, kind: d.kind, condition: d.condition, severity: d.severity, summary: d.summary.slice(0, 512),
      raisedAt: new Date(nowMs).toISOString(), details: d.details,
    };
  }

  private recovered(c: CameraEntry, gone: AlertConditionRow, nowMs: number): Alert {
    const serial = c.rec.serial;
    const awayMs = nowMs - gone.sinceMs;
    return this.alert(serial, {
      condition: gone.condition, kind: 'recovered', severity: severityOf(this.o.rules, 'recovered'),
      summary: `${serial}: back (${c.status}) after being ${gone.condition} for ${Math.round(awayMs / 1000)} s`,
      details: { was: gone.condition, since: new Date(gone.sinceMs).toISOString(), awayMs, status: c.status },
    }, nowMs);
  }
}
