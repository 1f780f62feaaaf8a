/*
 * supervise: host.info.lastExit, and the in-process restart of an agent that the engine stopped at a limit
 * (issue 7; the simulator's counterpart is host-sim/src/supervisor.ts, and the texts match it).
 *
 * "Stopped at a limit" means what QuickJSRunner.exitReason means in the simulator: an engine error that
 * reached the host uncaught from a slice (top-level eval, timer callback, promise job, unhandled rejection,
 * stop()) whose message says the CPU budget interrupted it, the heap ran out or the stack overflowed. An
 * error the agent caught itself (a collector's try/catch, a promise's .catch) never reaches the host and
 * is not a stop. main.c stops such a run, frees its engine and calls vigil_supervise_restart() to learn
 * whether to start the bundle again; after too many restarts within the window it gives up and leaves
 * <data>/.vigil-last-exit for the process manager's respawn.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clocks.h"
#include "host.h"
#include "paths.h"

#define MAX_RESTARTS_CAP 64

static char last_exit[256];
static const char *reason;
static char reason_at[32];
static int max_restarts = 5;
static int64_t window_ms = 600000;
/* Monotonic ms of the latest restarts, newest last. */
static int64_t restarts[MAX_RESTARTS_CAP];
static int restart_count;

void vigil_supervise_setup(int max, int64_t window) {
    max_restarts = max < 0 ? 0 : max > MAX_RESTARTS_CAP ? MAX_RESTARTS_CAP : max;
    window_ms = window;
}

static void last_exit_path(char *out, size_t size) { snprintf(out, size, "%s/.vigil-last-exit", vigil_paths.data_real); }

/* Read once at process start and removed: it describes only the process before this one. */
void vigil_supervise_load(void) {
    char p[4200];
    last_exit_path(p, sizeof p);
    FILE *f = fopen(p, "r");
    if (!f) return;
    if (!fgets(last_exit, sizeof last_exit, f)) last_exit[0] = 0;
    fclose(f);
    last_exit[strcspn(last_exit, "\r\n")] = 0;
    unlink(p);
}

void vigil_supervise_store(const char *text) {
    char p[4200];
    last_exit_path(p, sizeof p);
    FILE *f = fopen(p, "w");
    if (f) {
        fprintf(f, "%s\n", text);
        fclose(f);
    }
}

void vigil_supervise_init(JSContext *ctx, JSValueConst info) {
    JS_SetPropertyStr(ctx, info, "lastExit", last_exit[0] ? JS_NewString(ctx, last_exit) : JS_NULL);
}

static void iso_now(char *out, size_t size) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

/* The simulator's patterns (quickjs-runner.ts report()), on the error's text: the first one of a run wins. */
void vigil_supervise_note(const char *message) {
    if (reason || !message) return;
    if (strstr(message, "interrupted")) reason = "interrupted (CPU budget)";
    else if (strstr(message, "out of memory")) reason = "out of memory";
    else if (strcasestr(message, "stack overflow") || strcasestr(message, "call stack")) reason = "stack overflow";
    if (reason) iso_now(reason_at, sizeof reason_at);
}

const char *vigil_supervise_reason(void) { return reason; }

int vigil_supervise_restart(void) {
    if (!reason) return 0;
    int64_t now = vigil_monotonic_ms();
    int recent = 0;
    for (int i = 0; i < restart_count; i++)
        if (now - restarts[i] < window_ms) recent++;
    if (recent >= max_restarts) {
        vigil_log(VIGIL_LOG_ERROR,
                  "[vigil] [native] crash loop: %d restarts within %lld s, the last run stopped by %s; giving up (exit %d)",
                  recent, (long long)(window_ms / 1000), reason, VIGIL_EXIT_CRASH_LOOP);
        char text[256];
        snprintf(text, sizeof text, "%s at %s; the host gave up after %d restarts; restarted by the process manager", reason,
                 reason_at, recent);
        vigil_supervise_store(text);
        return 0;
    }
    if (restart_count == MAX_RESTARTS_CAP) memmove(restarts, restarts + 1, sizeof restarts - sizeof restarts[0]);
    else restart_count++;
    restarts[restart_count - 1] = now;
    snprintf(last_exit, sizeof last_exit, "%s at %s; restarted by the host", reason, reason_at);
    vigil_log(VIGIL_LOG_WARN, "[vigil] [native] the engine stopped the agent (%s); restarting it (%d of %d within %lld s)", reason,
              recent + 1, max_restarts, (long long)(window_ms / 1000));
    reason = NULL;
    return 1;
}

/* The process ends after a stop at a limit without a restart (SIGTERM meanwhile): the next process says why. */
void vigil_supervise_store_reason(void) {
    if (!reason) return;
    char text[256];
    snprintf(text, sizeof text, "%s at %s; restarted by the process manager", reason, reason_at);
    vigil_supervise_store(text);
}
