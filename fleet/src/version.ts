/**
 * AXIS OS versions: MAJOR.MINOR.PATCH, older LTS builds with a fourth part (9.80.3.12). Anything else is
 * unknown: the evaluation says so instead of guessing.
 */
export type Version = number[];

const VERSION = /^(\d{1,6})\.(\d{1,6})(?:\.(\d{1,6}))?(?:\.(\d{1,6}))?$/;

/** The numeric parts of an AXIS OS version, or null when the text is not one. */
export function parseVersion(text: string | null | undefined): Version | null {
  if (typeof text !== 'string') return null;
  let v = parsed.get(text);
  if (v === undefined) {
    const m = VERSION.exec(text.trim());
    // Frozen: one parse is shared by every caller.
    v = m ? Object.freeze(m.slice(1).filter((p) => p !== undefined).map((p) => Number(p))) as Version : null;
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(text, v);
  }
  return v;
}

/**
 * Parses remembered: every report's evaluation parses its own version and each advisory's bounds again, and a
 * fleet has few distinct versions. Bounded, so odd versions from many devices cannot grow it.
 */
const parsed = new Map<string, Version | null>();
const MAX_PARSED = 10_000;

/** Compares part by part; missing parts count as 0, so 9.80.3 = 9.80.3.0 < 9.80.3.12. */
export function compareVersions(a: Version, b: Version): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** True when every part of prefix equals the version's part at the same place (10.12 ⊃ 10.12.228). */
export function hasPrefix(version: Version, prefix: Version): boolean {
  if (prefix.length > version.length) return false;
  return prefix.every((p, i) => version[i] === p);
}

export function mustParse(text: string, what: string): Version {
  const v = parseVersion(text);
  if (!v) throw new Error(`[vigil] [fleet] ${what}: "${text}" is not an AXIS OS version`);
  return v;
}
