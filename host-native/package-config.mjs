// What the package takes from configuration rather than from manifest.json (docs/packaging.md): the
// vendor ID (VIGIL_VENDOR_ID, else host-native/packaging.json) and the AXIS OS range, as data.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The vendor IDs Axis's own example manifests use: never a real vendor's. */
export const PLACEHOLDER_VENDOR_IDS = ['0123456789', '1234567890'];
const VENDOR_ID = /^[A-Fa-f0-9]{10}$/;
const OS_VERSION = /^[0-9]+(\.[0-9]+){0,3}$/;

export const readPackaging = (file = join(here, 'packaging.json')) => JSON.parse(readFileSync(file, 'utf8'));

/** Compares AXIS OS versions part by part, a missing part as 0 (12.11 = 12.11.0 < 12.11.77). */
export const compareOsVersions = (a, b) => {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
};

/**
 * The vendor ID to package with: VIGIL_VENDOR_ID, else packaging.json's, else the manifest's. A release
 * build refuses a missing or placeholder ID (Axis would not sign it); a development build warns, loudly.
 */
export function resolveVendorId({ env = process.env, packaging, manifestVendorId, release, warn = console.warn }) {
  const id = env.VIGIL_VENDOR_ID || packaging.vendorId || manifestVendorId || '';
  const from = env.VIGIL_VENDOR_ID ? 'VIGIL_VENDOR_ID' : packaging.vendorId ? 'host-native/packaging.json' : 'manifest.json';
  if (!VENDOR_ID.test(id)) throw new Error(`[vigil] [package] vendorId ${JSON.stringify(id)} from ${from} is not 10 hex digits`);
  if (PLACEHOLDER_VENDOR_IDS.includes(id)) {
    const what = `vendorId ${id} (from ${from}) is Axis's example placeholder`;
    const how = 'set VIGIL_VENDOR_ID or vendorId in host-native/packaging.json to the vendor ID the ACAP Service Portal shows';
    if (release) throw new Error(`[vigil] [package] release build refused: ${what}; ${how}`);
    warn(`[vigil] [package] WARNING: ${what}: this package can only be unsigned, for development cameras that allow unsigned apps (Vigil reports such a camera: unsigned-apps-allowed, high); for a release, ${how}`);
  }
  return id;
}

/**
 * compatibleOsVersions as acap-build leaves it: each range without a min gets the SDK's AXIS OS (acap-build
 * fills it the same way); every max must be at most the newest AXIS OS the package was tested for.
 */
export function resolveOsRanges(ranges, packaging) {
  const { sdkAxisOs, newestTestedAxisOs } = packaging;
  for (const v of [sdkAxisOs, newestTestedAxisOs]) {
    if (!OS_VERSION.test(v ?? '')) throw new Error(`[vigil] [package] packaging.json: ${JSON.stringify(v)} is not an AXIS OS version`);
  }
  if (!Array.isArray(ranges) || !ranges.length) throw new Error('[vigil] [package] manifest.json has no compatibleOsVersions');
  return ranges.map((r) => {
    const out = { min: r.min ?? sdkAxisOs, ...r };
    if (out.max === undefined) throw new Error(`[vigil] [package] compatibleOsVersions range from ${out.min} has no max; give one no higher than ${newestTestedAxisOs}`);
    if (compareOsVersions(out.max, newestTestedAxisOs) > 0) {
      throw new Error(`[vigil] [package] compatibleOsVersions max ${out.max} is higher than ${newestTestedAxisOs}, the newest AXIS OS tested (host-native/packaging.json)`);
    }
    if (compareOsVersions(out.min, out.max) > 0) throw new Error(`[vigil] [package] compatibleOsVersions min ${out.min} is above max ${out.max}`);
    return out;
  });
}
