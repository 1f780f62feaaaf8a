import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const schema = JSON.parse(readFileSync(fileURLToPath(new URL('../../schemas/report.schema.json', import.meta.url)), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(schema);

/** Throws with every schema violation listed when the report is not valid. */
export function assertValidReport(report: unknown): void {
  if (!validate(report)) {
    throw new Error(`report does not match schemas/report.schema.json:\n${ajv.errorsText(validate.errors, { separator: '\n' })}`);
  }
}
