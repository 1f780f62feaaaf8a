import type { HostErrorCode } from '../host';

/** An error that says who is speaking: `[vigil] [services] …`, with a stable code. */
export class VigilError extends Error {
  readonly code: string;
  constructor(component: string, code: string, message: string) {
    super(`[vigil] [${component}] ${message}`);
    this.name = 'VigilError';
    this.code = code;
  }
}

/** The code of a host rejection or a VigilError; EIO for anything without one. */
export const errorCode = (err: unknown): HostErrorCode | string => {
  const code = err && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.length > 0 ? code : 'EIO';
};

export const errorMessage = (err: unknown): string => {
  if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
};

/**
 * A message without its speaker tag (`[vigil] [mqtt] `), or without a host's `CODE: ` prefix and the
 * `host:port` after it, for a message that embeds it: a log line or an outer error has its own tag and says
 * the code and the peer itself, so none is repeated.
 */
export const errorDetail = (err: unknown): string => errorMessage(err).replace(/^\[vigil\] \[\w+\] |^E[A-Z0-9]+: (\S+:\d+(: |$))?/, '');

/** The start of a text, quoted as JSON, for an error message about that text. */
export const quote = (text: string, max: number): string => JSON.stringify(text.slice(0, max));

/** For a promise whose failure is already handled (or reported) elsewhere: `.catch(ignore)`. */
export const ignore = (): void => {};
