/**
 * The alert rules: fleet/data/alerts.json (severity per kind, advisory severity from CVSS, quiet period,
 * delivery retries), validated by schemas/alerts.schema.json at load like the lifecycle tables.
 */
import { readFileSync } from 'node:fs';
import { DATA_DIR } from '../data';
import { describeErrors, schemaValidator } from '../validate';

export const ALERT_KINDS = [
  'support-ending', 'support-ended', 'advisory', 'finding', 'integrity-changed', 'unsigned-app', 'unsigned-allowed', 'lost', 'missing', 'recovered', 'retired-reporting',
  'rebaseline', 'interval-changed', 'identity-mismatch',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
export type AlertSeverity = 'info' | 'low' | 'medium' | 'high' | 'critical';

export interface DeliveryPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
  timeoutMs: number;
}

export interface AlertRules {
  schema: 'vigil.alerts/1';
  updated: string;
  quietMinutes: number;
  supportEndingDays: number | null;
  reconcileSec: number;
  /** benignSeverity: the severity of the harmless case of a command event (event-conditions.ts). */
  kinds: Record<AlertKind, { severity: AlertSeverity | 'from-cvss'; benignSeverity?: AlertSeverity; note?: string }>;
  advisorySeverity: Array<{ minCvss: number; severity: AlertSeverity }>;
  advisoryUnknownCvss: AlertSeverity;
  delivery: DeliveryPolicy;
}

export function loadAlertRules(file = DATA_DIR + 'alerts.json'): AlertRules {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`[vigil] [fleet] cannot read ${file}: ${(err as Error).message}`);
  }
  const validate = schemaValidator('alerts.schema.json');
  if (!validate(data)) throw new Error(`[vigil] [fleet] ${file} does not match schemas/alerts.schema.json: ${describeErrors(validate.errors)}`);
  return data as AlertRules;
}

/** The severity of a command event's alert: the kind's, or its benignSeverity (when it has one) for the harmless case. */
export function eventSeverityOf(rules: AlertRules, kind: AlertKind, benign: boolean): AlertSeverity {
  const k = rules.kinds[kind];
  if (benign && k.benignSeverity) return k.benignSeverity;
  return k.severity === 'from-cvss' ? rules.advisoryUnknownCvss : k.severity;
}

/** The severity of an alert of this kind; an advisory's from its CVSS score. */
export function severityOf(rules: AlertRules, kind: AlertKind, cvss: number | null = null): AlertSeverity {
  const s = rules.kinds[kind].severity;
  if (s !== 'from-cvss') return s;
  if (cvss === null) return rules.advisoryUnknownCvss;
  return rules.advisorySeverity.find((r) => cvss >= r.minCvss)?.severity ?? rules.advisoryUnknownCvss;
}
