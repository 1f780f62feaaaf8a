/** ajv validators for everything that crosses into the fleet: reports, states, events, and the data files. */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { schemaValidator as sharedValidator } from '../../schemas/validator';

/** The first violation only (ajv's allErrors off): payloads come from the network, at fleet volume. */
export function schemaValidator(file: string): ValidateFunction {
  return sharedValidator(file);
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
