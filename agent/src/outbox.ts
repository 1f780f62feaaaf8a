/**
 * Reports waiting for their PUBACK. Bounded by count and bytes; when full, the oldest is dropped first and
 * counted, and the count goes out with the next report. A report leaves only when acknowledged.
 *
 * The flash outbox (createFlashOutbox) keeps one file per report in `<dataDir>/outbox/`, named
 * `<seq, 10 digits>-<reportId>.json`, holding exactly the payload that is published. The names are the index:
 * on start the directory listing (plus one stat per file for its size and age) rebuilds the queue, so no index
 * file is rewritten per report and a kill at any instant leaves either the old or the new state:
 *   - push = one atomic write (the host writes a temporary file, flushes, renames);
 *   - ack = one unlink; a kill before it re-sends the report once (the consumer de-duplicates by reportId);
 *   - a kill during the write leaves no file (the temporary file is the host's to clean).
 * Payloads stay on flash; memory holds only names and sizes. When the data dir cannot be written (ENOSPC,
 * EIO) a report is kept in memory instead, within a small RAM budget, and the outbox says so once.
 */
import type { Host } from './host';
import { toArrayBuffer } from './util/bytes';
import { errorCode, errorMessage } from './util/errors';

export interface OutboxEntry {
  /** The reportId (the eventId in the events outbox), also in the file name. */
  id: string;
  seq: number;
  /** Monotonic ms when queued (for the age of the oldest). */
  queuedAt: number;
  nBytes: number;
  /** In memory when the entry is not on flash (the flash could not be written). */
  payload?: Uint8Array;
}

export interface Outbox {
  /** Rebuilds the queue from what survived the last run. */
  load(): Promise<void>;
  /** Queues a report; drops the oldest (counted) past the bounds. */
  push(reportId: string, seq: number, payload: Uint8Array): Promise<void>;
  /** Drops the oldest entries (counted) so that one more report of about `bytes` fits. */
  makeRoom(bytes: number): Promise<void>;
  /** Every queued entry, oldest first (the outbox's own array: do not modify). */
  inQueue(): readonly OutboxEntry[];
  /** The payload of an entry; rejects when it cannot be read (then drop() it). */
  payload(entry: OutboxEntry): Promise<Uint8Array>;
  /** Removes an acknowledged entry. */
  ack(reportId: string): Promise<void>;
  /** Removes an entry that can never be delivered, counting it as dropped. */
  drop(reportId: string): Promise<void>;
  readonly depth: number;
  /** Reports dropped since the agent's state was created (restored by the agent from its state file). */
  nDropped: number;
  /** The highest seq found on flash at load (the agent's counter must not go below it). */
  readonly maxSeq: number;
  /**
   * Entries for which this says true (published at least once and not yet acknowledged) are not dropped
   * to make room while others can be: the broker may have delivered them, and a report both delivered
   * and counted as dropped would spoil the consumer's account. They are the oldest (sent first) and at
   * most a replay window's worth; past OVERFLOW extra entries they are dropped too.
   */
  busy: (reportId: string) => boolean;
  oldestQueuedAt(): number | null;
}

export interface OutboxLimits {
  maxReports: number;
  maxBytes: number;
}

const OVERFLOW = 64;
const NAME_RE = /^(\d{10})-([0-9a-f]{4,64})\.json$/;
/** Reports held in memory while the flash cannot be written. */
const RAM_MAX_REPORTS = 32;
const RAM_MAX_BYTES = 1 << 20;

// A factory of closures, not a class: local variables minify to one letter, `this.#field` does not.
export const createFlashOutbox = (
  host: Host,
  dataDir: string,
  limits: OutboxLimits,
  log: (level: 'info' | 'warn' | 'error', message: string) => void,
): Outbox => {
  const { fs, clock } = host;
  const dir = `${dataDir}/outbox`;
  const list: OutboxEntry[] = [];
  let bytes = 0;
  let ramBytes = 0;
  let ramCount = 0;
  let flashFailing = false;
  let maxSeq = 0;

  const file = (e: { seq: number; id: string }): string => `${dir}/${String(e.seq).padStart(10, '0')}-${e.id}.json`;

  const add = (entry: OutboxEntry): void => {
    list.push(entry);
    bytes += entry.nBytes;
    if (entry.seq > maxSeq) maxSeq = entry.seq;
  };

  /** Takes an entry out of the queue; returns it (or null when it is no longer queued). */
  const take = (reportId: string): OutboxEntry | null => {
    const i = list.findIndex((e) => e.id === reportId);
    if (i < 0) return null;
    const [entry] = list.splice(i, 1);
    bytes -= entry.nBytes;
    if (entry.payload) {
      ramCount--;
      ramBytes -= entry.nBytes;
    }
    return entry;
  };

  /** Removes the entry's file; an entry held in memory has none. */
  const unlink = async (entry: OutboxEntry | null): Promise<void> => {
    if (!entry || entry.payload) return;
    try {
      await fs.remove(file(entry));
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') log('warn', `cannot remove ${file(entry)}: ${errorMessage(err)}`);
    }
  };

  const box: Outbox = {
    nDropped: 0,
    busy: () => false,
    get depth() {
      return list.length;
    },
    get maxSeq() {
      return maxSeq;
    },
    inQueue: () => list,
    oldestQueuedAt: () => (list.length > 0 ? list[0].queuedAt : null),

    async load() {
      let names: string[] = [];
      try {
        names = (await fs.list(dir)).filter((e) => e.type === 'file').map((e) => e.name);
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') log('warn', `cannot list ${dir}: ${errorMessage(err)}`);
      }
      const found: Array<{ seq: number; id: string; name: string }> = [];
      for (const name of names) {
        const m = NAME_RE.exec(name);
        if (m) found.push({ seq: Number(m[1]), id: m[2], name });
      }
      found.sort((a, b) => a.seq - b.seq);
      const mono = clock.monotonic();
      const wall = clock.now();
      for (const f of found) {
        try {
          const st = await fs.stat(`${dir}/${f.name}`);
          // The age survives a restart through the file's mtime (wall clock; never in the future).
          add({ id: f.id, seq: f.seq, nBytes: st.size, queuedAt: mono - Math.max(0, wall - st.mtimeMs) });
        } catch (err) {
          log('warn', `cannot read queued report ${f.name}: ${errorMessage(err)}`);
        }
      }
      // A shrunk limit (or a restart at the bound) applies at once.
      await box.makeRoom(0);
      if (list.length > 0) log('info', `${list.length} queued reports found on flash (seq ${list[0].seq}…${maxSeq})`);
    },

    async makeRoom(more) {
      const { maxReports, maxBytes } = limits;
      while (list.length + 1 > maxReports || bytes + more > maxBytes) {
        const victim = list.find((e) => !box.busy(e.id)) || (list.length >= maxReports + OVERFLOW ? list[0] : null);
        if (!victim) return;
        await box.drop(victim.id);
      }
    },

    async push(reportId, seq, payload) {
      await box.makeRoom(payload.length);
      const entry: OutboxEntry = { id: reportId, seq, queuedAt: clock.monotonic(), nBytes: payload.length };
      try {
        await fs.mkdir(dir);
        await fs.writeFileAtomic(file(entry), toArrayBuffer(payload));
        if (flashFailing) log('info', `the data dir takes writes again; queued reports go to flash`);
        flashFailing = false;
      } catch (err) {
        if (!flashFailing) {
          log('error', `cannot write report ${seq} to ${dir} (${errorCode(err)}): ${errorMessage(err)}; keeping up to ${RAM_MAX_REPORTS} reports in memory`);
        }
        flashFailing = true;
        while (ramCount > 0 && (ramCount + 1 > RAM_MAX_REPORTS || ramBytes + payload.length > RAM_MAX_BYTES)) {
          const oldest = list.find((e) => e.payload && !box.busy(e.id));
          if (!oldest) break;
          await box.drop(oldest.id);
        }
        entry.payload = payload;
        ramCount++;
        ramBytes += payload.length;
      }
      add(entry);
    },

    async payload(entry) {
      if (entry.payload) return entry.payload;
      return new Uint8Array(await fs.readFile(file(entry), Math.max(entry.nBytes, 1 << 16) + 1024));
    },

    async ack(reportId) {
      await unlink(take(reportId));
    },

    async drop(reportId) {
      const entry = take(reportId);
      if (!entry) return;
      box.nDropped++;
      await unlink(entry);
    },
  };
  return box;
};
