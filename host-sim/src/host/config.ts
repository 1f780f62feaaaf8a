/**
 * host.config for the simulator: the agent's parameters for one camera, from its profile, the VAPIX
 * credentials where the AXIS OS has no D-Bus GetCredentials, and the caller's overrides.
 */
import type { LoadedProfile } from '../profiles';
import { compareOsVersions } from '../profiles';

export const DEFAULT_DATA_DIR = '/usr/local/packages/vigil/localdata';
/** AXIS OS from which an ACAP gets VAPIX credentials over D-Bus (GetCredentials GA, reference §3.1). */
export const VAPIX_DBUS_CREDENTIALS_SINCE = '11.9';

/** True when the profile's AXIS OS has D-Bus GetCredentials (GA in 11.9). */
export function hasDbusCredentials(profile: LoadedProfile): boolean {
  return compareOsVersions(profile.data.os.version, VAPIX_DBUS_CREDENTIALS_SINCE) >= 0;
}

/**
 * The agent's parameters for this camera: the profile's `agent` values, the VAPIX credentials as ACAP
 * parameters when the OS has no D-Bus GetCredentials, then the caller's overrides. All strings.
 */
export function buildConfig(profile: LoadedProfile, overrides: Record<string, string>): Record<string, string> {
  const p = profile.data;
  const out: Record<string, string> = { DataDir: DEFAULT_DATA_DIR };
  for (const [k, v] of Object.entries(p.agent ?? {})) out[k] = String(v);
  if (!hasDbusCredentials(profile)) {
    out.VapixUsername = p.vapix.credentials.username;
    out.VapixPassword = p.vapix.credentials.password;
  }
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined && v !== null) out[k] = String(v);
  return out;
}
