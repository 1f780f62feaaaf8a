/**
 * The simulated device's fault switches in one object (`SimHost.device`): what faults.ts and tests turn on
 * and off while the agent runs. The capabilities (fs, net, clock) read it at every call.
 */

/** Where kill-during-write cuts an atomic write (see SimDevice.crashOnWrite). */
export type WritePoint = 'partial-tmp' | 'before-rename' | 'after-rename';

export interface CrashOnWrite {
  match: RegExp;
  point: WritePoint;
  onCrash(): void;
}

export interface SimDevice {
  /**
   * Where device paths outside the data dir live: the profile's rootfs/, or a private copy of it that file
   * and socket faults may change (faults.ts), so the profile's own files are never written.
   */
  rootfsDir: string;
  /** Added to Date.now(): a simulated NTP or user clock jump. */
  wallOffsetMs: number;
  /** Every write under the data dir fails with ENOSPC, as a full flash does. */
  diskFull: boolean;
  /** Connections to the broker are refused (ECONNREFUSED), as when it is down or unreachable. */
  brokerDown: boolean;
  /** When set, the connection to the broker is dropped before the (n+1)th PUBLISH the agent writes. */
  dropAfterPublishes: number | null;
  /**
   * Kills the agent in the middle of an atomic write to a matching path: `partial-tmp` after half the
   * temporary file, `before-rename` with the temporary file complete, `after-rename` with the file in
   * place but the call not yet returned. The write never settles; `onCrash` kills the camera.
   */
  crashOnWrite: CrashOnWrite | null;
}

/** A device with every fault off, reading its files from `rootfsDir`. */
export function healthyDevice(rootfsDir: string): SimDevice {
  return { rootfsDir, wallOffsetMs: 0, diskFull: false, brokerDown: false, dropAfterPublishes: null, crashOnWrite: null };
}
