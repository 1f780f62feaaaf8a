/**
 * Reloads the tables when their files change, without a restart: the folder's three files are polled (size and
 * mtime; robust against editors that write a new file and rename it over the old one), a change is loaded and
 * validated first, and only a good set replaces the tables in use. A bad file keeps the old tables and says why,
 * once per change.
 */
import { statSync } from 'node:fs';
import { DATA_FILES, loadTables, type Tables } from './data';
import type { FleetLog } from './log';

export interface TablesWatch {
  /** Looks once (what the timer does); true when new tables were taken. */
  check(): boolean;
  stop(): void;
}

function signature(dir: string): string {
  return DATA_FILES.map((f) => {
    try {
      const s = statSync(dir + f);
      return `${f}:${s.size}:${s.mtimeMs}`;
    } catch (err) {
      return `${f}:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
    }
  }).join('|');
}

/** Watches `dir` (with a trailing slash or not); intervalMs 0: no timer, the caller calls check(). */
export function watchTables(dir: string, onTables: (tables: Tables) => void, log: FleetLog, intervalMs = 5000): TablesWatch {
  const folder = dir.replace(/\/?$/, '/');
  let seen = signature(folder);
  const check = (): boolean => {
    const now = signature(folder);
    if (now === seen) return false;
    seen = now;
    let tables: Tables;
    try {
      tables = loadTables({ dir: folder });
    } catch (err) {
      log('error', `the data in ${folder} changed but cannot be used; keeping the tables in use: ${(err as Error).message.replace(/^\[vigil\] \[fleet\] /, '')}`);
      return false;
    }
    log('info', `data reloaded from ${folder}: lifecycle ${tables.lifecycle.updated}, advisories ${tables.advisories.updated}, actions ${tables.actions.updated}`);
    onTables(tables);
    return true;
  };
  const timer = intervalMs > 0 ? setInterval(check, intervalMs) : null;
  timer?.unref();
  return { check, stop: () => timer && clearInterval(timer) };
}
