/**
 * Alerts from a camera's events (issue 15 item 5): the commands that can hide a problem — `rebaseline` accepts
 * whatever differed from the old baseline, `set-interval` stretches the time a camera may stay silent — leave an
 * event, and each such event is one alert. Pure: from the event as received to the alert it raises (or null for
 * events that raise none). The condition key is `event:<eventId>`, so a redelivered event finds its alert raised.
 * The event's own severity is the device's word and is not used: the fleet decides from the details.
 */
import type { ActiveCondition } from './conditions';
import { eventSeverityOf, type AlertRules } from './rules';

/** At most this many `<change> <path>` entries go into an alert (as the agent sends at most 20). */
const MAX_DIFFERED = 20;
/** Longer device strings in an alert are cut. */
const MAX_TEXT = 300;

export const EVENT_CONDITION_PREFIX = 'event:';

type Details = Record<string, unknown>;

const text = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v.slice(0, MAX_TEXT) : null);
const count = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null);
const seconds = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null);

/** The alert a camera's event raises, or null when its kind raises none. `event` passed the event schema. */
export function eventConditionOf(serial: string, event: Record<string, unknown>, rules: AlertRules): ActiveCondition | null {
  const eventId = text(event.eventId);
  if (eventId === null) return null;
  const d: Details = event.details !== null && typeof event.details === 'object' && !Array.isArray(event.details) ? (event.details as Details) : {};
  const commandId = text(d.commandId);
  const by = commandId === null ? 'by command' : `by command ${commandId}`;
  const base = { eventId, commandId, at: text(event.at) };
  const condition = EVENT_CONDITION_PREFIX + eventId;
  if (event.kind === 'rebaseline') {
    const differed = Array.isArray(d.differed) ? d.differed.filter((x): x is string => typeof x === 'string').slice(0, MAX_DIFFERED).map((x) => x.slice(0, MAX_TEXT)) : [];
    // The true count beside the (capped) names; without a readable one, the names are all there is.
    const differedCount = count(d.differedCount) ?? (Array.isArray(d.differed) ? d.differed.length : null);
    const files = count(d.files);
    const what = differedCount === null ? 'files differed: unknown' : differedCount === 1 ? '1 file differed' : `${differedCount} files differed`;
    const names = differed.length ? `: ${differed.join(', ')}${differedCount !== null && differedCount > differed.length ? ', …' : ''}` : '';
    return {
      condition, kind: 'rebaseline', severity: eventSeverityOf(rules, 'rebaseline', differedCount === 0),
      summary: `${serial}: rebaseline ${by}: ${what}${names}`,
      details: { ...base, files, differedCount, differed },
    };
  }
  if (event.kind === 'interval-changed') {
    const oldSec = seconds(d.oldSec);
    const newSec = seconds(d.newSec);
    const longer = oldSec === null || newSec === null || newSec > oldSec;
    return {
      condition, kind: 'interval-changed', severity: eventSeverityOf(rules, 'interval-changed', !longer),
      summary: `${serial}: report interval changed ${by}: from ${oldSec ?? '?'} s to ${newSec ?? '?'} s`,
      details: { ...base, oldSec, newSec },
    };
  }
  return null;
}
