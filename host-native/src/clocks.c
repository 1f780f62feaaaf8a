/* The host's own clocks (clocks.h): monotonic milliseconds for deadlines and timers, and the thread's CPU
 * time, which the CPU budget of a JS slice is measured on. */
#include <sys/types.h>
#include <time.h>

#include "clocks.h"

/* 2038: every target keeps time, timers and file times in 64 bits. armv7hf gets it from the Makefile's
 * -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64; without them its clock reads fail from 2038-01-19. */
_Static_assert(sizeof(time_t) == 8, "time_t must be 64-bit: build with -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 (Makefile TIME64)");
_Static_assert(sizeof(off_t) == 8, "off_t must be 64-bit: build with -D_FILE_OFFSET_BITS=64 (Makefile TIME64)");

int64_t vigil_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double vigil_monotonic_ms_f(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int64_t vigil_thread_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
