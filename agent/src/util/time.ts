/** The host's wall-clock time as the ISO 8601 text that reports, events, state and cmd-result messages carry. */
import type { Host } from '../host';

export const isoNow = (clock: Host['clock']): string => new Date(clock.now()).toISOString();
