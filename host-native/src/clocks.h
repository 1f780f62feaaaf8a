/* The host's own clocks: monotonic for deadlines and timers, the thread's CPU clock for the CPU budget. */
#ifndef VIGIL_CLOCKS_H
#define VIGIL_CLOCKS_H

#include <stdint.h>

int64_t vigil_monotonic_ms(void);
double vigil_monotonic_ms_f(void);
/* CPU time this thread has used (CLOCK_THREAD_CPUTIME_ID): it stands still while the process is preempted
 * or stopped. A system call, unlike the monotonic clock (vDSO): read it sparingly. */
int64_t vigil_thread_cpu_ms(void);

#endif
