/**
 * Reports waiting for their PUBACK. Bounded by count and bytes; when full, the oldest is dropped first
 * and counted, and the count goes out with the next report. A report leaves only when acknowledged.
 *
 * This is the in-memory store; the persistent store on flash keeps the same interface.
 */
export interface OutboxEntry {
  reportId: string;
  seq: number;
  /** Monotonic ms when queued (for the age of the oldest). */
  queuedAt: number;
  payload: Uint8Array;
}

export interface Outbox {
  push(entry: OutboxEntry): Promise<void>;
  /** The oldest entries, up to max, without removing them. */
  peek(max: number): OutboxEntry[];
  /** Removes an acknowledged entry. */
  ack(reportId: string): Promise<void>;
  readonly depth: number;
  readonly dropped: number;
  oldestQueuedAt(): number | null;
}

export class MemoryOutbox implements Outbox {
  private entries: OutboxEntry[] = [];
  private bytes = 0;
  dropped = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get depth(): number {
    return this.entries.length;
  }

  async push(entry: OutboxEntry): Promise<void> {
    this.entries.push(entry);
    this.bytes += entry.payload.length;
    while (this.entries.length > this.maxEntries || (this.bytes > this.maxBytes && this.entries.length > 1)) {
      const old = this.entries.shift() as OutboxEntry;
      this.bytes -= old.payload.length;
      this.dropped++;
    }
  }

  peek(max: number): OutboxEntry[] {
    return this.entries.slice(0, max);
  }

  async ack(reportId: string): Promise<void> {
    const i = this.entries.findIndex((e) => e.reportId === reportId);
    if (i < 0) return;
    this.bytes -= this.entries[i].payload.length;
    this.entries.splice(i, 1);
  }

  oldestQueuedAt(): number | null {
    return this.entries.length > 0 ? this.entries[0].queuedAt : null;
  }
}
