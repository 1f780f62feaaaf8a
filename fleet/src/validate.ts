/** ajv validators for everything that crosses into the fleet: reports, states, events, and the data files. */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

const ajv = new Ajv({ allErrors: false, strict: true });
addFormats(ajv);
const cache = new Map<string, ValidateFunction>();

export function schemaValidator(file: string): ValidateFunction {
  let v = cache.get(file);
  if (!v) {
    const schema = JSON.parse(readFileSync(SCHEMAS_DIR + file, 'utf8'));
    v = ajv.compile(schema);
    cache.set(file, v);
  }
  return v;
}

/** A short, single-line account of why a value failed validation (first few errors). */
export function describeErrors(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'invalid';
  return errors
    .slice(0, 3)
    .map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}${e.params && 'allowedValues' in e.params ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : ''}`)
    .join('; ');
}

export const validateReport = () => schemaValidator('report.schema.json');
export const validateState = () => schemaValidator('state.schema.json');
export const validateEvent = () => schemaValidator('event.schema.json');
