/** Fleet logging: one line per event, saying who is speaking (`[vigil] [fleet] …`). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type FleetLog = (level: LogLevel, message: string) => void;

export function stderrLog(minLevel: LogLevel = 'info'): FleetLog {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  return (level, message) => {
    if (order[level] >= order[minLevel]) process.stderr.write(`[vigil] [fleet] ${level}: ${message}\n`);
  };
}

export const silentLog: FleetLog = () => undefined;

export function fleetError(message: string): Error {
  return new Error(`[vigil] [fleet] ${message}`);
}
