/**
 * The Node options a fleet consumer runs best with, for `NODE_OPTIONS` (bin/vigil.mjs's first line carries the
 * same). A young generation of 2 × 32 MiB instead of 16: a batch of 256 reports keeps ~5 MiB of parsed reports
 * alive until its commit, and each becomes its camera's newest, so the default scavenged most of them more than
 * once. Measured in-process: 104 → 80 µs CPU per report (bench/NOTES.md), for ~+48 MiB of RSS.
 */
export const FLEET_NODE_OPTIONS = '--max-semi-space-size=32';
