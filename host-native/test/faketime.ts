// The wall clock a qemu-user guest sees, moved with Debian's libfaketime (package faketime). qemu-user is a
// dynamically linked x86_64 program that serves the guest's clock_gettime, clock_gettime64, gettimeofday
// and time syscalls by calling the host's libc, so libfaketime preloaded into qemu moves the guest's
// CLOCK_REALTIME through the real syscall path. Nothing bypasses it: qemu 7.2 maps no vDSO into ARM guests
// (AT_SYSINFO_EHDR is 0), so every guest clock read is a syscall that qemu emulates.
import { existsSync } from 'node:fs';

/** The thread-safe variant: qemu-user runs threads of its own. */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

export interface FakeClock {
  /** The environment for the qemu process: the test's own plus the preload. */
  env: NodeJS.ProcessEnv;
  /** Added to the real clock, ms (whole seconds). */
  offsetMs: number;
  /** The guest's wall clock now, epoch ms. */
  now(): number;
}

/** A guest wall clock that reads `at` (epoch ms) now and then runs at real speed. */
export function fakeClockAt(at: number): FakeClock {
  if (!existsSync(LIBFAKETIME)) throw new Error(`[vigil] [test] ${LIBFAKETIME} is missing: apt-get install faketime (.ci/apt-packages.txt)`);
  const offsetSec = Math.round((at - Date.now()) / 1000);
  return {
    env: {
      ...process.env,
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME: `${offsetSec >= 0 ? '+' : ''}${offsetSec}`,
      // A camera's monotonic clock counts from boot whatever the date: only the wall clock moves.
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
      // File times stay the kernel's (qemu's statx bypasses libc anyway); tests set them with utimes.
      NO_FAKE_STAT: '1',
      TZ: 'UTC',
    },
    offsetMs: offsetSec * 1000,
    now: () => Date.now() + offsetSec * 1000,
  };
}
