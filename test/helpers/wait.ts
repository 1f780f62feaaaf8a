/** Polls `predicate` (sync or async) on real time until it gives something truthy (returned), or throws after timeoutMs. */
export async function waitUntil<T>(
  what: string,
  predicate: () => T | false | null | undefined | Promise<T | false | null | undefined>,
  { timeoutMs = 30_000, pollMs = 50 }: { timeoutMs?: number; pollMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
