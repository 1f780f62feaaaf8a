import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const schema = JSON.parse(readFileSync(fileURLToPath(new URL('../../schemas/event.schema.json', import.meta.url)), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(schema);

/** Throws with every schema violation listed when the event is not valid against schemas/event.schema.json. */
export function assertValidEvent(event: unknown): void {
  if (!validate(event)) {
    throw new Error(`event does not match schemas/event.schema.json:\n${ajv.errorsText(validate.errors, { separator: '\n' })}`);
  }
}
