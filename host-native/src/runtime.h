/* The JS runtime the host runs the agent in: the engine and its limits (heap, stack, CPU budget per slice),
 * promise jobs and unhandled rejections, and the JS values every capability builds (errors, promises). */
#ifndef VIGIL_RUNTIME_H
#define VIGIL_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include "quickjs.h"

struct vigil_runtime {
    JSRuntime *rt;
    JSContext *ctx;
    size_t memory_limit;
    /* CPU time (the thread's, not wall time) one JS slice may use before the engine interrupts it. */
    int64_t cpu_budget_ms;
    /* The open slice (slice_check_at 0: none): the thread's CPU ms when it began, and the monotonic ms up to
     * which it cannot have used its budget yet, CPU time never running faster than wall time. */
    int64_t slice_cpu_start;
    int64_t slice_check_at;
    int slice_interrupted;
    /* While a run's engine is freed no JS runs (run.c): what the agent starts then would outlive it. */
    int tearing_down;
    char bundle_sha256[65];
};

extern struct vigil_runtime vigil;

/* A runtime with the host's limits (memory_limit, 256 KB stack, CPU-budget interrupt, rejection tracker). */
JSRuntime *vigil_new_runtime(void);
/* Opens a CPU-budget slice (call before entering JS) and closes it. */
void vigil_slice_begin(void);
void vigil_slice_end(void);
/* Runs every pending promise job, each under the CPU budget; reports unhandled rejections. */
void vigil_run_jobs(void);
/* Logs the pending exception of ctx (with its stack) at error level and clears it. */
void vigil_report_exception(JSContext *ctx, const char *where);
/* The heap is (nearly) at memory_limit. */
int vigil_heap_near_limit(JSRuntime *rt);

/* An Error with `.code` and the message "<code>: <message>". */
JSValue vigil_error(JSContext *ctx, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Throws vigil_error() and returns JS_EXCEPTION. */
JSValue vigil_throw(JSContext *ctx, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An already settled promise. Takes ownership of value / error. */
JSValue vigil_resolved(JSContext *ctx, JSValue value);
JSValue vigil_rejected(JSContext *ctx, JSValue error);

/* A promise settled later from the event loop. */
struct vigil_deferred {
    JSValue funcs[2];
    int live;
};
JSValue vigil_deferred_new(JSContext *ctx, struct vigil_deferred *d);
/* Settle once, free both functions and run the jobs it queued. Take ownership of value / error. */
void vigil_deferred_resolve(JSContext *ctx, struct vigil_deferred *d, JSValue value);
void vigil_deferred_reject(JSContext *ctx, struct vigil_deferred *d, JSValue error);

#endif
