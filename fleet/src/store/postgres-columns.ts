/**
 * The PostgreSQL store's row shapes: SELECT lists that alias each column to its field (BIGINT comes back as a
 * number through the pool's own INT8 parser, BOOLEAN as a boolean), and the text clean-up PostgreSQL needs.
 */
import pg from 'pg';

const INT8_OID = 20;

/**
 * Type parsers for this store's connections only (not pg's process-wide defaults, which other code may rely on):
 * BIGINT as a JS number. Every BIGINT here is ms, a counter or a seq, far below 2^53.
 */
export const PG_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export const CAMERA_STATE_SELECT = [
  'serial', 'model', 'hardware_id AS "hardwareId"', 'full_name AS "fullName"', 'os_version AS "osVersion"', 'connection', 'session', 'state_at AS "stateAt"',
  'state_reason AS "stateReason"', 'last_report_id AS "lastReportId"', 'last_seq AS "lastSeq"', 'last_sent_at AS "lastSentAt"',
  'last_started_at AS "lastStartedAt"', 'last_report_ms AS "lastReportMs"', 'interval_sec AS "intervalSec"', 'reports', 'duplicates',
  'gaps', 'out_of_order AS "outOfOrder"', 'refused', 'identity_claim AS "identityClaim"', 'identity_claim_ms AS "identityClaimMs"',
  'first_seen_ms AS "firstSeenMs"', 'retired_ms AS "retiredMs"', 'retired_reason AS "retiredReason"',
].join(', ');

export const CAMERA_RECORD_SELECT = `${CAMERA_STATE_SELECT}, report_json AS "reportJson"`;

export const HISTORY_SELECT =
  'serial, report_id AS "reportId", seq, sent_at AS "sentAt", received_ms AS "receivedMs", os_version AS "osVersion", findings, ' +
  'hardening_score AS "hardeningScore", integrity, support, advisories, queue_depth AS "queueDepth", heap_used AS "heapUsedBytes", dropped';

export const STATE_SELECT = 'serial, received_ms AS "receivedMs", state, reason, session, at, stale';

export const GAP_SELECT = 'serial, from_seq AS "fromSeq", to_seq AS "toSeq", detected_ms AS "detectedMs"';

export const EVENT_SELECT = 'serial, event_id AS "eventId", received_ms AS "receivedMs", kind, json';

export const QUARANTINE_SELECT = 'id, received_ms AS "receivedMs", topic, serial, reason, size, excerpt';

export const CONDITION_SELECT = 'serial, condition, active, since_ms AS "sinceMs", cleared_ms AS "clearedMs", alerted';

export const ALERT_SELECT = 'id, serial, kind, condition, severity, raised_ms AS "raisedMs", json';

export const DELIVERY_SELECT = 'id, alert_id AS "alertId", sink, status, attempts, next_ms AS "nextMs", last_error AS "lastError", done_ms AS "doneMs"';

/**
 * PostgreSQL text cannot hold U+0000 (SQLite can). A field parsed from JSON may carry one ("\u0000"): stored as
 * U+FFFD rather than failing the whole batch again on every redelivery. JSON texts keep their escapes: unchanged.
 */
export function pgText<T extends string | null | undefined>(s: T): T {
  return (typeof s === 'string' && s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s) as T;
}

/** The key of a (serial, id) pair in the prefetched sets, as PostgreSQL stores it. */
export const pairKey = (serial: string, id: string): string => `${pgText(serial)}\0${pgText(id)}`;
