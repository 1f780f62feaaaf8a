/**
 * What every collector gets and gives. A collector never throws: whatever fails becomes an entry in
 * `errors` and a null/unknown in `value`, and the parts that did not need the failed source still report.
 */
import type { AgentConfig } from '../config';
import type { Host } from '../host';
import type { CollectorError } from '../report/types';
import { errorCode, errorMessage } from '../util/errors';
import type { VapixClient } from '../vapix/vapix';

export interface CollectorContext {
  host: Host;
  agentConf: AgentConfig;
  vapixApi: VapixClient;
}

export interface CollectorResult<T> {
  value: T;
  errors: CollectorError[];
}

export type Guard = <T>(what: string, work: Promise<T>) => Promise<T | undefined>;

/** An error entry that says who is speaking: `[vigil] [<collector>] <text>`. */
export const collectorError = (collector: string, code: string, text: string): CollectorError => ({ collector, code, message: `[vigil] [${collector}] ${text}` });

export const toCollectorError = (collector: string, err: unknown, what: string): CollectorError => {
  const message = errorMessage(err);
  // a VigilError already says who is speaking ([vigil] [vapix] …)
  return message.startsWith('[vigil]') ? { collector, code: errorCode(err), message } : collectorError(collector, errorCode(err), `${what}: ${message}`);
};

/**
 * Runs a collector body with a `guard` that turns a failed step into an error entry (and undefined),
 * and a last-resort catch so that even a bug yields `fallback` plus an error instead of a throw.
 */
export const runCollector = async <T>(
  collector: string,
  fallback: () => T,
  body: (guard: Guard, errors: CollectorError[]) => Promise<T>,
): Promise<CollectorResult<T>> => {
  // a guarded step keeps its place in `errors` from when it started, so the order does not depend on timing
  const errors: Array<CollectorError | null> = [];
  const guard: Guard = async (what, work) => {
    const slot = errors.push(null) - 1;
    try {
      return await work;
    } catch (err) {
      errors[slot] = toCollectorError(collector, err, what);
      return undefined;
    }
  };
  let value: T;
  try {
    value = await body(guard, errors as CollectorError[]);
  } catch (err) {
    errors.push(toCollectorError(collector, err, 'internal error'));
    value = fallback();
  }
  const out = errors.filter((e): e is CollectorError => e !== null);
  for (const e of out) e.message = e.message.slice(0, 1024); // the report schema's limit
  return { value, errors: out };
};

/** The directory above `path` (`/proc/net` → `/proc`). */
export const parentDir = (path: string): string => path.replace(/\/+[^/]*\/*$/, '') || '/';
