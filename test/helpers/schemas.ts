// Schema checks for tests: a produced report or event must match its schema in schemas/, validated by the
// same ajv setup as the fleet's (schemas/validator.ts), with every violation listed when it does not.
import { errorsText, schemaValidator } from '../../schemas/validator';

function assertMatches(file: string, what: string, value: unknown): void {
  const validate = schemaValidator(file, { allErrors: true });
  if (!validate(value)) throw new Error(`${what} does not match schemas/${file}:\n${errorsText(validate.errors)}`);
}

/** Throws with every schema violation listed when the report is not valid. */
export function assertValidReport(report: unknown): void {
  assertMatches('report.schema.json', 'report', report);
}

/** Throws with every schema violation listed when the event is not valid against schemas/event.schema.json. */
export function assertValidEvent(event: unknown): void {
  assertMatches('event.schema.json', 'event', event);
}
