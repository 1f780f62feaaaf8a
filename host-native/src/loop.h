/* The poll() loop of one run and the signals that stop it (SIGTERM, SIGINT). */
#ifndef VIGIL_LOOP_H
#define VIGIL_LOOP_H

#include <stdint.h>
#include "quickjs.h"

/* SIGTERM/SIGINT set the stop signal and wake the loop; SIGPIPE is ignored. Once per process. */
void vigil_signals_setup(void);
/* The signal that asked the process to stop, or 0. */
int vigil_stop_signal(void);
/* Runs the loop until nothing is left to wait for, or until the agent's stop() settled (or did not within
 * stop_timeout_ms) after a stop signal or a stop at a limit. 0, or 1 on an error (poll, stop() timed out). */
int vigil_loop_run(JSContext *ctx, int64_t stop_timeout_ms);

#endif
