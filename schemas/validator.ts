/**
 * The one ajv setup: a schema from this folder compiled once per option set, with ajv-formats. fleet/ (what
 * crosses into the fleet), host-sim/ (device profiles) and the tests' schema checks all validate through it.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SCHEMAS_DIR = fileURLToPath(new URL('./', import.meta.url));

export interface SchemaOptions {
  /** Every violation instead of the first; for messages that list them, not for untrusted input at volume. */
  allErrors?: boolean;
  /** ajv's strict mode (default true); false only for a schema written from a reference that strict mode rejects. */
  strict?: boolean;
}

// One ajv instance per option set: a schema's $id may be added to an instance once.
const instances = new Map<string, Ajv>();
const compiled = new Map<string, ValidateFunction>();

function instance(options: Required<SchemaOptions>): Ajv {
  const key = `${options.allErrors}/${options.strict}`;
  let ajv = instances.get(key);
  if (!ajv) {
    // allowUnionTypes: strict mode then accepts a union beyond one with null, e.g. ["string", "number"].
    ajv = new Ajv({ allErrors: options.allErrors, strict: options.strict, allowUnionTypes: true });
    addFormats(ajv);
    instances.set(key, ajv);
  }
  return ajv;
}

/** The validator of schemas/`file` (e.g. 'report.schema.json'), compiled on first use. */
export function schemaValidator(file: string, options: SchemaOptions = {}): ValidateFunction {
  const resolved = { allErrors: options.allErrors ?? false, strict: options.strict ?? true };
  const key = `${resolved.allErrors}/${resolved.strict}/${file}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = instance(resolved).compile(JSON.parse(readFileSync(SCHEMAS_DIR + file, 'utf8')));
    compiled.set(key, validate);
  }
  return validate;
}

/** ajv's own account of the errors, one per line by default. */
export function errorsText(errors: ErrorObject[] | null | undefined, separator = '\n'): string {
  return instance({ allErrors: true, strict: true }).errorsText(errors, { separator });
}
