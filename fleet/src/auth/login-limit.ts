/**
 * Login attempts per client address: after `maxFailures` wrong passwords within `windowMs` the address is
 * refused (429) until the window has passed; a successful login clears it. Bounded: at most `maxAddresses`
 * addresses are remembered (the oldest forgotten first).
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly o: { maxFailures?: number; windowMs?: number; maxAddresses?: number; now?: () => number } = {}) {}

  private get max(): number {
    return this.o.maxFailures ?? 10;
  }
  private get windowMs(): number {
    return this.o.windowMs ?? 15 * 60_000;
  }

  private recent(ip: string): number[] {
    const t = (this.o.now ?? Date.now)();
    const list = (this.failures.get(ip) ?? []).filter((f) => t - f < this.windowMs);
    if (list.length) this.failures.set(ip, list);
    else this.failures.delete(ip);
    return list;
  }

  /** Ms until this address may try again; 0 when it may now. */
  blockedMs(ip: string): number {
    const list = this.recent(ip);
    if (list.length < this.max) return 0;
    return Math.max(1, list[list.length - this.max] + this.windowMs - (this.o.now ?? Date.now)());
  }

  failed(ip: string): void {
    const list = this.recent(ip);
    list.push((this.o.now ?? Date.now)());
    this.failures.delete(ip);
    this.failures.set(ip, list.slice(-this.max));
    while (this.failures.size > (this.o.maxAddresses ?? 10_000)) this.failures.delete(this.failures.keys().next().value as string);
  }

  succeeded(ip: string): void {
    this.failures.delete(ip);
  }
}
