/* One run of the agent: a fresh engine with __vigilHost, the bundle evaluated, the loop, the engine freed. */
#ifndef VIGIL_RUN_H
#define VIGIL_RUN_H

#include <stddef.h>
#include <stdint.h>

/* Runs the bundle on a fresh engine until it ends, is stopped by a signal or by the engine at a limit; returns
 * the exit code of the run. The engine stays up for the caller (vigil_run_print_global, heap figures) until
 * vigil_run_free(); vigil.ctx is NULL when it could not be created. */
int vigil_run_once(const uint8_t *code, size_t len, const char *bundle, int64_t stop_timeout_ms);
/* Frees the run's engine, after the agent saw its sockets and hashing end. */
void vigil_run_free(void);
/* Prints JSON.stringify(globalThis[name]) on stdout (--print-global, for test harnesses). */
void vigil_run_print_global(const char *name);

#endif
