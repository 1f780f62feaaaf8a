/**
 * The one rule for a camera's report interval, in seconds: at most an hour wherever it is set (the IntervalSec
 * setting, the set-interval command, `vigil sim --interval`), and the fleet trusts no longer interval from a
 * report. The fleet calls a camera missing after a few intervals without a report: a day-long interval would
 * keep an unplugged (or silenced) camera "online" for days.
 *
 * The floor differs by who sets it: the IntervalSec setting is the camera's own administrator's (and the
 * simulator's, whose tests and benchmarks report every second or two); a remote set-interval command may not
 * make a camera report more often than every 10 s, so a command cannot turn the fleet into a flood.
 */
export const REPORT_INTERVAL_MAX_SEC = 3600;
/** The IntervalSec setting's floor. */
export const REPORT_INTERVAL_MIN_SEC = 1;
/** The set-interval command's floor. */
export const COMMAND_INTERVAL_MIN_SEC = 10;
