/**
 * Reports waiting for their PUBACK. Bounded by count and bytes; when full, the oldest is dropped first and
 * counted, and the count goes out with the next report. A report leaves only when acknowledged.
 *
 * FlashOutbox keeps one file per report in `<dataDir>/outbox/`, named `<seq, 10 digits>-<reportId>.json`,
 * holding exactly the payload that is published. The names are the index: on start the directory listing
 * (plus one stat per file for its size and age) rebuilds the queue, so no index file is rewritten per report
 * and a kill at any instant leaves either the old or the new state:
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
  reportId: string;
  seq: number;
  /** Monotonic ms when queued (for the age of the oldest). */
  queuedAt: number;
  bytes: number;
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
  entries(): readonly OutboxEntry[];
  /** The payload of an entry; rejects when it cannot be read (then drop() it). */
  payload(entry: OutboxEntry): Promise<Uint8Array>;
  /** Removes an acknowledged entry. */
  ack(reportId: string): Promise<void>;
  /** Removes an entry that can never be delivered, counting it as dropped. */
  drop(reportId: string): Promise<void>;
  readonly depth: number;
  /** Reports dropped since the agent's state was created (restored by the agent from its state file). */
  dropped: number;
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

// Its own members are `#` names: the minifier shortens those, not TypeScript's `private` ones.
export class FlashOutbox implements Outbox {
  #list: OutboxEntry[] = [];
  #bytes = 0;
  #ramBytes = 0;
  #ramCount = 0;
  #flashFailing = false;
  readonly #dir: string;
  readonly #host: Host;
  readonly #limits: OutboxLimits;
  readonly #log: (level: 'info' | 'warn' | 'error', message: string) => void;
  dropped = 0;
  maxSeq = 0;
  busy: (reportId: string) => boolean = () => false;

  constructor(host: Host, dataDir: string, limits: OutboxLimits, log: (level: 'info' | 'warn' | 'error', message: string) => void) {
    this.#host = host;
    this.#limits = limits;
    this.#log = log;
    this.#dir = `${dataDir}/outbox`;
  }

  get depth(): number {
    return this.#list.length;
  }

  entries(): readonly OutboxEntry[] {
    return this.#list;
  }

  oldestQueuedAt(): number | null {
    return this.#list.length > 0 ? this.#list[0].queuedAt : null;
  }

  #file(e: { seq: number; reportId: string }): string {
    return `${this.#dir}/${String(e.seq).padStart(10, '0')}-${e.reportId}.json`;
  }

  #add(entry: OutboxEntry): void {
    this.#list.push(entry);
    this.#bytes += entry.bytes;
    if (entry.seq > this.maxSeq) this.maxSeq = entry.seq;
  }

  async load(): Promise<void> {
    let names: string[] = [];
    const { fs, clock } = this.#host;
    try {
      names = (await fs.list(this.#dir)).filter((e) => e.type === 'file').map((e) => e.name);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') this.#log('warn', `cannot list ${this.#dir}: ${errorMessage(err)}`);
    }
    const found: Array<{ seq: number; reportId: string; name: string }> = [];
    for (const name of names) {
      const m = NAME_RE.exec(name);
      if (m) found.push({ seq: Number(m[1]), reportId: m[2], name });
    }
    found.sort((a, b) => a.seq - b.seq);
    const mono = clock.monotonic();
    const wall = clock.now();
    for (const f of found) {
      try {
        const st = await fs.stat(`${this.#dir}/${f.name}`);
        // The age survives a restart through the file's mtime (wall clock; never in the future).
        this.#add({ reportId: f.reportId, seq: f.seq, bytes: st.size, queuedAt: mono - Math.max(0, wall - st.mtimeMs) });
      } catch (err) {
        this.#log('warn', `cannot read queued report ${f.name}: ${errorMessage(err)}`);
      }
    }
    // A shrunk limit (or a restart at the bound) applies at once.
    await this.makeRoom(0);
    const list = this.#list;
    if (list.length > 0) this.#log('info', `${list.length} queued reports found on flash (seq ${list[0].seq}…${this.maxSeq})`);
  }

  async makeRoom(bytes: number): Promise<void> {
    const list = this.#list;
    const { maxReports, maxBytes } = this.#limits;
    while (list.length + 1 > maxReports || this.#bytes + bytes > maxBytes) {
      const victim = list.find((e) => !this.busy(e.reportId)) || (list.length >= maxReports + OVERFLOW ? list[0] : null);
      if (!victim) return;
      await this.drop(victim.reportId);
    }
  }

  async push(reportId: string, seq: number, payload: Uint8Array): Promise<void> {
    await this.makeRoom(payload.length);
    const entry: OutboxEntry = { reportId, seq, queuedAt: this.#host.clock.monotonic(), bytes: payload.length };
    try {
      await this.#host.fs.mkdir(this.#dir);
      await this.#host.fs.writeFileAtomic(this.#file(entry), toArrayBuffer(payload));
      if (this.#flashFailing) this.#log('info', `the data dir takes writes again; queued reports go to flash`);
      this.#flashFailing = false;
    } catch (err) {
      if (!this.#flashFailing) {
        this.#log('error', `cannot write report ${seq} to ${this.#dir} (${errorCode(err)}): ${errorMessage(err)}; keeping up to ${RAM_MAX_REPORTS} reports in memory`);
      }
      this.#flashFailing = true;
      while (this.#ramCount > 0 && (this.#ramCount + 1 > RAM_MAX_REPORTS || this.#ramBytes + payload.length > RAM_MAX_BYTES)) {
        const oldest = this.#list.find((e) => e.payload && !this.busy(e.reportId));
        if (!oldest) break;
        await this.drop(oldest.reportId);
      }
      entry.payload = payload;
      this.#ramCount++;
      this.#ramBytes += payload.length;
    }
    this.#add(entry);
  }

  async payload(entry: OutboxEntry): Promise<Uint8Array> {
    if (entry.payload) return entry.payload;
    return new Uint8Array(await this.#host.fs.readFile(this.#file(entry), Math.max(entry.bytes, 1 << 16) + 1024));
  }

  /** Takes an entry out of the queue; returns it (or null when it is no longer queued). */
  #take(reportId: string): OutboxEntry | null {
    const i = this.#list.findIndex((e) => e.reportId === reportId);
    if (i < 0) return null;
    const [entry] = this.#list.splice(i, 1);
    this.#bytes -= entry.bytes;
    if (entry.payload) {
      this.#ramCount--;
      this.#ramBytes -= entry.bytes;
    }
    return entry;
  }

  /** Removes the entry's file; an entry held in memory has none. */
  async #unlink(entry: OutboxEntry | null): Promise<void> {
    if (!entry || entry.payload) return;
    try {
      await this.#host.fs.remove(this.#file(entry));
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') this.#log('warn', `cannot remove ${this.#file(entry)}: ${errorMessage(err)}`);
    }
  }

  async ack(reportId: string): Promise<void> {
    await this.#unlink(this.#take(reportId));
  }

  async drop(reportId: string): Promise<void> {
    const entry = this.#take(reportId);
    if (!entry) return;
    this.dropped++;
    await this.#unlink(entry);
  }
}
