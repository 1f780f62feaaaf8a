/**
 * How every part of the agent logs: one line `[vigil] [<area>] <message>` to host.log, so that a line
 * says who is speaking.
 */
import type { Host, LogLevel } from './host';

export type Log = (level: LogLevel, area: string, message: string) => void;

export const makeLog =
  (host: Host): Log =>
  (level, area, message) =>
    host.log(level, `[vigil] [${area}] ${message}`);
