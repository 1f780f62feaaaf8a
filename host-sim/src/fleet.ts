/**
 * Fleet mode: many simulated cameras in one process, cloned from the bundled profiles with derived
 * serials. One wasm module is shared; each camera has its own QuickJS runtime, VAPIX server and state.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimCamera, type SimCamera, type SimCameraOptions } from './camera';
import type { LoadedProfile } from './profiles';

/**
 * The profile as camera number `index` of a fleet: the same device, another serial. The serial keeps the
 * profile's 6-digit vendor prefix and puts the index in the last 6 hex digits, so serials stay unique
 * and valid (12 upper-case hex digits) for up to 16,777,216 cameras per prefix.
 */
export function cloneWithSerial(profile: LoadedProfile, index: number, salt: number): LoadedProfile {
  const prefix = profile.data.identity.serialNumber.slice(0, 6);
  const suffix = ((salt * 0x10000 + index) & 0xffffff).toString(16).toUpperCase().padStart(6, '0');
  const serialNumber = prefix + suffix;
  return {
    ...profile,
    name: `${profile.name}#${index}`,
    data: { ...profile.data, identity: { ...profile.data.identity, serialNumber } },
  };
}

export interface SimFleetOptions extends Omit<SimCameraOptions, 'profile' | 'stateDir'> {
  profiles: LoadedProfile[];
  /** Cameras in all, taken round-robin from the profiles. */
  count: number;
  /** Each camera's state goes in <stateRoot>/<serial>. */
  stateRoot: string;
}

export async function startSimFleet(options: SimFleetOptions): Promise<SimCamera[]> {
  const { profiles, count, stateRoot, ...cameraOptions } = options;
  if (profiles.length === 0) throw new Error('[vigil] [sim] a fleet needs at least one profile');
  const bundleCode = cameraOptions.bundleCode ?? readFileSync(cameraOptions.bundlePath, 'utf8');
  const cameras: SimCamera[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const base = profiles[i % profiles.length];
      // Copies of the same profile get distinct serials; a single camera keeps the profile's own.
      const profile = count === profiles.length ? base : cloneWithSerial(base, Math.floor(i / profiles.length), i % profiles.length);
      const serial = profile.data.identity.serialNumber;
      cameras.push(await startSimCamera({ ...cameraOptions, bundleCode, profile, stateDir: join(stateRoot, serial) }));
    }
  } catch (err) {
    await Promise.all(cameras.map((c) => c.stop()));
    throw err;
  }
  return cameras;
}
