/**
 * How far a report may claim to be from what the consumer knows before it counts as forged (issue 15 item 3):
 * a topic anyone with publish rights can write must not be able to freeze a camera with one message. The checks
 * that apply these bounds are in store/forgery.ts.
 */
export interface ForgeryBounds {
  /** `sentAt` or `health.startedAt` later than the consumer's clock by more than this: from the future. */
  maxFutureMs: number;
  /** A seq this far past the camera's newest (plus what the time between them allows, below): a forged jump. */
  maxSeqJump: number;
  /**
   * Reports an agent can make per second: the schema's smallest interval is 1 s. A camera that was away for a
   * long time (its outbox dropping the oldest) comes back with a jump of about its time away in seconds; that
   * much more is allowed, measured from the newest report's `sentAt` to this one's (itself bounded by maxFutureMs).
   */
  maxReportsPerSec: number;
}

export const FORGERY_BOUNDS: Readonly<ForgeryBounds> = Object.freeze({
  // Ten minutes: NTP-synchronised cameras are off by far less; a camera clock off by more is a problem to see.
  maxFutureMs: 10 * 60_000,
  // 100,000 reports: 28 hours of reports at one a second beyond what the time passed explains.
  maxSeqJump: 100_000,
  maxReportsPerSec: 1,
});
