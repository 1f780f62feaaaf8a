/**
 * Commands from the broker (`<prefix>/<serial>/cmd/<name>`): the payload check (parseCommand, a pure
 * function so every rule can be tested on its own), then the run and its answer on `cmd-result`, with
 * what needs state: de-duplication by id and the rate limit.
 */
import type { Host } from './host';
import { areaLog, type Log } from './log';
import type { CollectorError } from './report/types';
import type { CollectorContext } from './collectors/context';
import { rebaseline } from './collectors/integrity/integrity';
import type { MqttClient, MessageInfo } from './mqtt/client';
import { jsonProperties, type MqttSession } from './mqtt/session';
import type { DeviceTopics } from './mqtt/topics';
import { commandKeyBytes, parseSig, SIGNED_COMMANDS, signedText } from './command-signature';
import { COMMAND_INTERVAL_MIN_SEC, REPORT_INTERVAL_MAX_SEC } from './interval-bounds';
import { toArrayBuffer } from './util/bytes';
import { utf8Decode, utf8Encode } from './util/text';
import { errorCode, errorDetail, errorMessage, ignore } from './util/errors';
import { isoNow } from './util/time';

/** Results kept to answer a redelivered command (same id) again without running it twice. */
const RECENT_COMMANDS = 16;

/** Payload size limit, and the least time between two runs of each (state-changing) command. */
export const COMMAND_MAX_BYTES = 1024;
export const COMMAND_MIN_GAP_MS: Record<string, number> = {
  'report-now': 10_000,
  'set-interval': 10_000,
  rebirth: 30_000,
  rebaseline: 60_000,
};

/** At most this many file names in a rebaseline event (with the true count beside them). */
export const REBASELINE_MAX_FILES = 20;

/** A checked command; `code` and `error` are set when it is refused. */
export interface ParsedCommand {
  /** The request id: the payload's `id`, else the one given (MQTT 5 correlation data), else null. */
  id: string | null;
  code?: string;
  error?: string;
  intervalSec?: number;
  /** The payload as sent (its `sig` is checked by checkSigned). */
  body?: Record<string, unknown>;
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
  if (!Object.hasOwn(COMMAND_MIN_GAP_MS, name)) {
    return fail('EUNKNOWN', `unknown command "${name.slice(0, 64)}"; known: ${Object.keys(COMMAND_MIN_GAP_MS).join(', ')}`);
  }
  const v = body.intervalSec;
  for (const k of Object.keys(body)) if (k !== 'id' && k !== 'sig' && (k !== 'intervalSec' || name !== 'set-interval')) return fail('EINVAL', `unknown field "${k.slice(0, 32)}" for ${name}`);
  if (name === 'set-interval' && (typeof v !== 'number' || v % 1 !== 0 || v < COMMAND_INTERVAL_MIN_SEC || v > REPORT_INTERVAL_MAX_SEC)) {
    return fail('EINVAL', `intervalSec must be an integer from ${COMMAND_INTERVAL_MIN_SEC} to ${REPORT_INTERVAL_MAX_SEC}`);
  }
  return { id, intervalSec: v as number | undefined, body };
};

/**
 * With a CommandKey, checks a command's signature (command-signature.ts): the counter it carries, or a refusal. A
 * state-changing command must be signed; report-now may be unsigned, but a signature it carries must be good.
 */
export const checkSigned = (crypto: Host['crypto'], key: string, serial: string, name: string, body: Record<string, unknown>): { ctr?: number; code?: string; error?: string } => {
  if (body.sig === undefined) {
    return SIGNED_COMMANDS.indexOf(name) < 0 ? {} : { code: 'EPERM', error: `${name} must be signed: this camera has a CommandKey and refuses unsigned ${SIGNED_COMMANDS.join(', ')}` };
  }
  const sig = parseSig(body.sig);
  if (typeof sig === 'string') return { code: 'ESIGNATURE', error: sig };
  let good: boolean;
  try {
    good = crypto.verifyP256(toArrayBuffer(commandKeyBytes(key) as Uint8Array), utf8Encode(signedText(serial, name, sig.ctr, body)).buffer as ArrayBuffer, toArrayBuffer(sig.value));
  } catch (err) {
    // Fail closed: a key the host cannot use refuses what it would have to verify.
    return { code: 'EPERM', error: `the CommandKey cannot verify signatures (${errorDetail(err)}); signed commands are refused until it is fixed` };
  }
  return good ? { ctr: sig.ctr } : { code: 'ESIGNATURE', error: `the signature does not verify for ${name} on ${serial} with the configured CommandKey` };
};

interface CommandResult {
  id: string | null;
  command: string;
  ok: boolean;
  code?: string;
  error?: string;
  result?: unknown;
  at: string;
}


/** What running the commands needs from the agent around them. */
export interface CommandDeps {
  clock: Host['clock'];
  log: Log;
  topics(): DeviceTopics;
  mqttLink: Pick<MqttSession, 'client' | 'publishState'>;
  /** The persisted counters (rebirth answers with the session number; cmdCtr: the last signed command's counter). */
  counters: { session: number; cmdCtr?: number };
  /** Saves the counters (the signed command's counter before it runs, so a replay after a reboot is refused). */
  save(): Promise<void>;
  /** The camera's serial (a signature names it) and the configured CommandKey ('' = none). */
  serial(): string;
  commandKey(): string;
  crypto: Host['crypto'];
  runCycle(): Promise<void>;
  /** Sets, saves and schedules a new report interval (set-interval). */
  setReportInterval(sec: number): Promise<void>;
  /** What the collectors get (rebaseline); a failure to fetch the VAPIX credentials is added to `errors`. */
  collectCtx(errors: CollectorError[]): Promise<CollectorContext>;
  /** The report interval now, in seconds (set-interval's event says what it was). */
  intervalSec(): number;
  /** The files that differed from the baseline at the last cycle (`<change> <path>`), for rebaseline's event. */
  driftedFiles(): string[];
  /** Queues an event on `event` (kinds `interval-changed`, `rebaseline`): commands that hide problems leave a trace. */
  emitEvent(kind: string, severity: 'low' | 'medium' | 'high', summary: string, details: Record<string, unknown>): Promise<void>;
}

/** Handles a message on `cmd/+`: checks, runs (or refuses) and answers it on `cmd-result`. */
export type CommandHandler = (client: MqttClient, topic: string, payload: Uint8Array, info: MessageInfo) => void;

export const createCommandHandler = (deps: CommandDeps): CommandHandler => {
  const { clock, mqttLink: session } = deps;
  const log = areaLog(deps.log, 'cmd');
  const commandLast: Record<string, number> = {};
  const recentResults: CommandResult[] = [];

  const onCommand: CommandHandler = (client, topic, payload, info) => {
    const name = deps.topics().commandName(topic);
    if (name === null || client !== session.client) return;
    if (info.retain) {
      // A retained command would run again on every reconnect.
      log('warn', `ignored a retained ${name.slice(0, 64)} command; publish commands without retain`);
      return;
    }
    const correlation = info.props && info.props.correlationData;
    const cmd = parseCommand(name, payload, correlation ? utf8Decode(correlation).slice(0, 64) : null);
    const id = cmd.id;
    const answer = (r: Omit<CommandResult, 'id' | 'command' | 'at'>, ran?: boolean) => reply(client, { id, command: name.slice(0, 64), at: '', ...r }, correlation, ran);
    const fail = (code: string, error: string, ran?: boolean) => answer({ ok: false, code, error }, ran);
    if (cmd.code) return fail(cmd.code, cmd.error as string);
    const key = deps.commandKey();
    const signed = key ? checkSigned(deps.crypto, key, deps.serial(), name, cmd.body as Record<string, unknown>) : {};
    if (signed.code) return fail(signed.code, signed.error as string);
    // A redelivered command (same id) is answered again, not run twice.
    const seen = id !== null ? recentResults.find((r) => r.id === id && r.command === name) : undefined;
    if (seen) return reply(client, seen, correlation);
    const counters = deps.counters;
    const ctr = signed.ctr;
    if (ctr !== undefined) {
      const last = counters.cmdCtr || 0;
      if (ctr <= last) return fail('EREPLAY', `sig.ctr ${ctr} is not above ${last}, the last signed command's: a replay, or a signer whose clock went back`);
      // Used up even if the rate limit refuses it below: a captured signature never runs later.
      counters.cmdCtr = ctr;
    }
    // Saved before the command runs, so a reboot right after it does not take the same signature again.
    const saved = ctr !== undefined ? deps.save() : Promise.resolve();
    const minGap = COMMAND_MIN_GAP_MS[name];
    const now = clock.monotonic();
    const last = commandLast[name];
    if (last !== undefined && now - last < minGap) {
      return fail('ERATE', `${name} is rate-limited to once every ${minGap / 1000} s; try again in ${Math.ceil((minGap - (now - last)) / 1000)} s`);
    }
    commandLast[name] = now;
    saved.then(() => runCommand(name, cmd.intervalSec as number, id)).then(
      (result) => answer({ ok: true, result }, true),
      (err) => fail(errorCode(err), errorMessage(err), true),
    );
  };

  const runCommand = async (name: string, sec: number, id: string | null): Promise<unknown> => {
    switch (name) {
      case 'report-now':
        deps.runCycle().catch(ignore);
        return { queued: true };
      case 'set-interval': {
        const before = deps.intervalSec();
        await deps.setReportInterval(sec);
        log('info', `report interval set to ${sec} s by command`);
        await deps.emitEvent('interval-changed', 'low', `Report interval changed by command from ${before} s to ${sec} s`, { oldSec: before, newSec: sec, commandId: id });
        return { intervalSec: sec };
      }
      case 'rebaseline': {
        const drifted = deps.driftedFiles();
        const made = await rebaseline(await deps.collectCtx([]));
        // a plain Error: its code is EIO (errorCode), its message the collector's, without another speaker tag
        if (!made.value) throw new Error(made.errors.map((e) => e.message).join('; ') || 'no baseline was recorded');
        log('info', `integrity baseline recorded again by command (${made.value.files} files)`);
        // The drift the new baseline absorbs: without this event a planted file would vanish from view.
        await deps.emitEvent('rebaseline', drifted.length ? 'high' : 'medium', `Integrity baseline recorded again by command (${made.value.files} files, ${drifted.length} differed)`, {
          files: made.value.files, differed: drifted.slice(0, REBASELINE_MAX_FILES), differedCount: drifted.length, commandId: id,
        });
        return { baseline: made.value };
      }
      default: {
        // rebirth: announce online again and send a full report now.
        const client = session.client;
        if (client) await session.publishState(client, 'online', 'rebirth');
        deps.runCycle().catch(ignore);
        return { session: deps.counters.session };
      }
    }
  };

  const reply = (client: MqttClient, result: CommandResult, correlation?: Uint8Array, ran?: boolean): void => {
    const r = { ...result, at: isoNow(clock) };
    // Only the results of commands that ran are kept for redeliveries: a refusal (ERATE above all) must
    // not answer the same id again once the command is allowed.
    if (ran && r.id !== null) {
      recentResults.push(r);
      if (recentResults.length > RECENT_COMMANDS) recentResults.shift();
    }
    if (!r.ok) log('warn', `${r.command} ${r.id ?? '(no id)'} refused: ${r.code} ${r.error}`);
    const properties = jsonProperties();
    if (correlation) properties.correlationData = correlation;
    client.publish(deps.topics().cmdResult, JSON.stringify(r), { qos: 1, props: properties }).catch(ignore);
  };

  return onCommand;
};
