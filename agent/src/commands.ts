/**
 * Commands from the broker (`<prefix>/<serial>/cmd/<name>`): the payload check, kept apart from the agent
 * so every rule can be tested on its own. The agent adds what needs state: de-duplication by id, the rate
 * limit and the run itself.
 */
import { utf8Decode } from './util/bytes';

/** Payload size limit, and the least time between two runs of each (state-changing) command. */
export const COMMAND_MAX_BYTES = 1024;
export const COMMAND_MIN_GAP_MS: Record<string, number> = {
  'report-now': 10_000,
  'set-interval': 10_000,
  rebirth: 30_000,
  rebaseline: 60_000,
};

/** A checked command; `code` and `error` are set when it is refused. */
export interface ParsedCommand {
  /** The request id: the payload's `id`, else the one given (MQTT 5 correlation data), else null. */
  id: string | null;
  code?: string;
  error?: string;
  intervalSec?: number;
}

/** Checks a command payload: a JSON object of at most 1 KiB with only the fields the command takes. */
export const parseCommand = (name: string, payload: Uint8Array, id: string | null): ParsedCommand => {
  const fail = (code: string, error: string): ParsedCommand => ({ id, code, error });
  if (payload.length > COMMAND_MAX_BYTES) return fail('E2BIG', `command payload is ${payload.length} bytes, over the limit of ${COMMAND_MAX_BYTES}`);
  let body: Record<string, unknown>;
  try {
    const text = utf8Decode(payload).trim();
    const parsed: unknown = text ? JSON.parse(text) : {};
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw 0;
    body = parsed as Record<string, unknown>;
  } catch {
    return fail('EINVAL', 'command payload must be a JSON object, e.g. {"id":"c1"}');
  }
  if (body.id !== undefined) {
    if (typeof body.id !== 'string' || !/^[\w.:-]{1,64}$/.test(body.id)) return fail('EINVAL', 'id must be a string of 1 to 64 letters, digits, _ . : -');
    id = body.id;
  }
  // Own names only: "constructor" or "__proto__" must not find Object.prototype's members.
  if (!Object.prototype.hasOwnProperty.call(COMMAND_MIN_GAP_MS, name)) {
    return fail('EUNKNOWN', `unknown command "${name.slice(0, 64)}"; known: ${Object.keys(COMMAND_MIN_GAP_MS).join(', ')}`);
  }
  const v = body.intervalSec;
  for (const k of Object.keys(body)) if (k !== 'id' && (k !== 'intervalSec' || name !== 'set-interval')) return fail('EINVAL', `unknown field "${k.slice(0, 32)}" for ${name}`);
  if (name === 'set-interval' && (typeof v !== 'number' || v % 1 !== 0 || v < 1 || v > 86400)) return fail('EINVAL', 'intervalSec must be an integer from 1 to 86400');
  return { id, intervalSec: v as number | undefined };
};
