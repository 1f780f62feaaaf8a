/**
 * How every part of the agent logs: one line `[vigil] [<area>] <message>` to host.log, so that a line
 * says who is speaking.
 */
import type { Host, LogLevel } from './host';

export type Log = (level: LogLevel, area: string, message: string) => void;

/** A Log with its area fixed, for a part that logs several lines of one area. */
export type AreaLog = (level: LogLevel, message: string) => void;

export const makeLog =
  (host: Host): Log =>
  (level, area, message) =>
    host.log(level, `[vigil] [${area}] ${message}`);

export const areaLog =
  (log: Log, area: string): AreaLog =>
  (level, message) =>
    log(level, area, message);
