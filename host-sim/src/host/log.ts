/**
 * host.log for the simulator: structured records with the camera serial, handed to an injectable sink
 * (JSON lines on stderr, formatted lines, memory for tests, nothing).
 */
import type { LogLevel } from '../../../agent/src/host';

export interface LogRecord {
  time: string;
  serial: string;
  level: LogLevel;
  message: string;
}

export type LogSink = (record: LogRecord) => void;

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** One JSON line per record on stderr, from `minLevel` up. */
export function stderrLogSink(minLevel: LogLevel = 'info'): LogSink {
  return (r) => {
    if (LEVEL_RANK[r.level] >= LEVEL_RANK[minLevel]) process.stderr.write(JSON.stringify(r) + '\n');
  };
}

export const silentLogSink: LogSink = () => {};

/** Keeps records in memory (tests). */
export function memoryLogSink(): LogSink & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const sink = ((r: LogRecord) => {
    records.push(r);
  }) as LogSink & { records: LogRecord[] };
  sink.records = records;
  return sink;
}

/** One human-readable line per record: `2026-11-25T12:00:00.000Z ACCC8E012345 info message`. */
export function formatLogRecord(r: LogRecord): string {
  return `${r.time} ${r.serial} ${r.level.padEnd(5)} ${r.message}`;
}

/** A sink that hands formatted lines to `write` (the CLI's stderr, a live table's log pane…). */
export function lineLogSink(write: (line: string) => void, minLevel: LogLevel = 'debug'): LogSink {
  return (r) => {
    if (LEVEL_RANK[r.level] >= LEVEL_RANK[minLevel]) write(formatLogRecord(r));
  };
}
