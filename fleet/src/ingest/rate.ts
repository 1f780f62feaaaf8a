/** Reports ingested per second over the last 60 seconds, for /metrics. */
export class IngestRate {
  /** [second, count], oldest first, at most 60 buckets. */
  private readonly buckets: Array<[number, number]> = [];

  count(nowMs: number): void {
    const sec = Math.floor(nowMs / 1000);
    const lastBucket = this.buckets[this.buckets.length - 1];
    if (lastBucket && lastBucket[0] === sec) lastBucket[1]++;
    else {
      this.buckets.push([sec, 1]);
      while (this.buckets.length > 60) this.buckets.shift();
    }
  }

  perSecond(nowMs: number): number {
    const sec = Math.floor(nowMs / 1000);
    const n = this.buckets.filter(([s]) => s > sec - 60).reduce((sum, [, c]) => sum + c, 0);
    return n / 60;
  }
}
