/*
 * The runtime (runtime.h): the engine with the host's limits, the CPU budget of each JS slice, promise jobs,
 * unhandled rejections and uncaught errors (which host_supervise.c reads as a stop at a limit), and the error
 * and promise values the capabilities hand to JS.
 */
#include <stdarg.h>
#include <stdio.h>

#include "clocks.h"
#include "host.h"
#include "runtime.h"

struct vigil_runtime vigil;

/* ---- errors and promises ------------------------------------------------------------------------------ */

static JSValue verror(JSContext *ctx, const char *code, const char *fmt, va_list ap) {
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "%s: ", code);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    JSValue err = JS_NewError(ctx);
    JS_SetPropertyStr(ctx, err, "message", JS_NewString(ctx, msg));
    JS_SetPropertyStr(ctx, err, "code", JS_NewString(ctx, code));
    return err;
}

JSValue vigil_error(JSContext *ctx, const char *code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    JSValue e = verror(ctx, code, fmt, ap);
    va_end(ap);
    return e;
}

JSValue vigil_throw(JSContext *ctx, const char *code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    JSValue e = verror(ctx, code, fmt, ap);
    va_end(ap);
    return JS_Throw(ctx, e);
}

static JSValue settled(JSContext *ctx, JSValue v, int which) {
    JSValue funcs[2];
    JSValue p = JS_NewPromiseCapability(ctx, funcs);
    if (JS_IsException(p)) {
        JS_FreeValue(ctx, v);
        return p;
    }
    JSValue r = JS_Call(ctx, funcs[which], JS_UNDEFINED, 1, (JSValueConst *)&v);
    JS_FreeValue(ctx, r);
    JS_FreeValue(ctx, v);
    JS_FreeValue(ctx, funcs[0]);
    JS_FreeValue(ctx, funcs[1]);
    return p;
}

JSValue vigil_resolved(JSContext *ctx, JSValue value) { return settled(ctx, value, 0); }
JSValue vigil_rejected(JSContext *ctx, JSValue error) { return settled(ctx, error, 1); }

JSValue vigil_deferred_new(JSContext *ctx, struct vigil_deferred *d) {
    JSValue p = JS_NewPromiseCapability(ctx, d->funcs);
    d->live = !JS_IsException(p);
    return p;
}

static void deferred_settle(JSContext *ctx, struct vigil_deferred *d, JSValue v, int which) {
    if (!d->live) {
        JS_FreeValue(ctx, v);
        return;
    }
    d->live = 0;
    vigil_slice_begin();
    JSValue r = JS_Call(ctx, d->funcs[which], JS_UNDEFINED, 1, (JSValueConst *)&v);
    vigil_slice_end();
    JS_FreeValue(ctx, r);
    JS_FreeValue(ctx, v);
    JS_FreeValue(ctx, d->funcs[0]);
    JS_FreeValue(ctx, d->funcs[1]);
    vigil_run_jobs();
}

void vigil_deferred_resolve(JSContext *ctx, struct vigil_deferred *d, JSValue v) { deferred_settle(ctx, d, v, 0); }
void vigil_deferred_reject(JSContext *ctx, struct vigil_deferred *d, JSValue e) { deferred_settle(ctx, d, e, 1); }

/* ---- CPU budget, jobs, rejections --------------------------------------------------------------------- */

/* QuickJS calls this once per 10000 polls (jumps and calls in its bytecode). The monotonic clock is cheap
 * (vDSO) and the CPU clock is not, so the CPU clock is read only once wall time says the budget may be used
 * up, and then not again before the earliest moment the rest of it could be. A slice that is preempted
 * (video on the camera) or stopped is charged nothing for the wait: only a loop that runs is interrupted. */
static int interrupt_handler(JSRuntime *rt, void *opaque) {
    (void)rt;
    (void)opaque;
    if (vigil.slice_check_at <= 0) return 0;
    int64_t now = vigil_monotonic_ms();
    if (now <= vigil.slice_check_at) return 0;
    int64_t used = vigil_thread_cpu_ms() - vigil.slice_cpu_start;
    if (used > vigil.cpu_budget_ms) {
        vigil.slice_interrupted = 1;
        return 1;
    }
    vigil.slice_check_at = now + (vigil.cpu_budget_ms - used);
    return 0;
}

static int slice_depth;

void vigil_slice_begin(void) {
    /* Nested entries (a host call that settles a promise) stay inside the outer slice's budget. */
    if (slice_depth++ == 0) {
        vigil.slice_cpu_start = vigil_thread_cpu_ms();
        vigil.slice_check_at = vigil_monotonic_ms() + vigil.cpu_budget_ms;
    }
}

void vigil_slice_end(void) {
    if (--slice_depth == 0) {
        vigil.slice_check_at = 0;
        if (vigil.slice_interrupted) {
            vigil.slice_interrupted = 0;
            vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] a JS slice ran over its CPU budget of %lld ms and was interrupted",
                      (long long)vigil.cpu_budget_ms);
        }
    }
}

int vigil_heap_near_limit(JSRuntime *rt) {
    JSMemoryUsage mu;
    JS_ComputeMemoryUsage(rt, &mu);
    return vigil.memory_limit && (size_t)mu.malloc_size >= vigil.memory_limit - (vigil.memory_limit >> 6);
}

void vigil_report_exception(JSContext *ctx, const char *where) {
    JSRuntime *rt = JS_GetRuntime(ctx);
    /* At the limit, the error's text needs memory too (host-sim's dumpSafely does the same). */
    JS_SetMemoryLimit(rt, (size_t)-1);
    JSValue exc = JS_GetException(ctx);
    const char *msg = JS_ToCString(ctx, exc);
    /* QuickJS throws null for an out-of-memory error it had no memory to create. */
    vigil_supervise_note(JS_IsNull(exc) && vigil_heap_near_limit(rt) ? "out of memory" : msg);
    const char *stack = NULL;
    JSValue st = JS_UNDEFINED;
    if (JS_IsError(ctx, exc)) {
        st = JS_GetPropertyStr(ctx, exc, "stack");
        if (JS_IsString(st)) stack = JS_ToCString(ctx, st);
    }
    vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] %s: %s%s%s", where, msg ? msg : "(exception)", stack ? "\n" : "",
              stack ? stack : "");
    if (stack) JS_FreeCString(ctx, stack);
    if (msg) JS_FreeCString(ctx, msg);
    JS_FreeValue(ctx, st);
    JS_FreeValue(ctx, exc);
    JS_SetMemoryLimit(rt, vigil.memory_limit);
}

/* Rejections without a handler, kept until the job queue is empty: a handler attached later in the same
 * turn (await after the fact) removes them, as in Node's unhandledRejection. */
#define MAX_REJECTIONS 64
static struct {
    JSValue promise, reason;
} rejections[MAX_REJECTIONS];
static int rejection_count;
static unsigned long unhandled_total;

static void rejection_tracker(JSContext *ctx, JSValueConst promise, JSValueConst reason, JS_BOOL is_handled, void *opaque) {
    (void)opaque;
    if (!is_handled) {
        if (rejection_count < MAX_REJECTIONS) {
            rejections[rejection_count].promise = JS_DupValue(ctx, promise);
            rejections[rejection_count].reason = JS_DupValue(ctx, reason);
            rejection_count++;
        } else {
            unhandled_total++;
        }
        return;
    }
    for (int i = 0; i < rejection_count; i++) {
        if (JS_VALUE_GET_PTR(rejections[i].promise) == JS_VALUE_GET_PTR(promise)) {
            JS_FreeValue(ctx, rejections[i].promise);
            JS_FreeValue(ctx, rejections[i].reason);
            rejections[i] = rejections[--rejection_count];
            return;
        }
    }
}

static void report_rejections(JSContext *ctx) {
    for (int i = 0; i < rejection_count && !vigil.tearing_down; i++) {
        JS_SetMemoryLimit(vigil.rt, (size_t)-1);
        const char *msg = JS_ToCString(ctx, rejections[i].reason);
        JS_SetMemoryLimit(vigil.rt, vigil.memory_limit);
        vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] unhandled promise rejection: %s", msg ? msg : "(unprintable)");
        /* An async slice stopped at a limit ends here: the simulator reports its rejected promise likewise. */
        vigil_supervise_note(msg);
        if (msg) JS_FreeCString(ctx, msg);
        else JS_FreeValue(ctx, JS_GetException(ctx));
    }
    for (int i = 0; i < rejection_count; i++) {
        JS_FreeValue(ctx, rejections[i].promise);
        JS_FreeValue(ctx, rejections[i].reason);
        unhandled_total++;
    }
    rejection_count = 0;
}

void vigil_run_jobs(void) {
    static int running;
    /* Inside JS (a host function settling a promise synchronously) jobs wait for the loop: running them
     * there would interleave microtasks with the middle of a synchronous call. */
    if (running || slice_depth > 0) return;
    running = 1;
    while (!vigil.tearing_down) {
        JSContext *jctx;
        vigil_slice_begin();
        int r = JS_ExecutePendingJob(vigil.rt, &jctx);
        vigil_slice_end();
        if (r == 0) break;
        if (r < 0) vigil_report_exception(jctx, "promise job");
    }
    report_rejections(vigil.ctx);
    running = 0;
}

JSRuntime *vigil_new_runtime(void) {
    JSRuntime *rt = JS_NewRuntime();
    if (!rt) return NULL;
    JS_SetMemoryLimit(rt, vigil.memory_limit);
    /* Same 256 KB as the simulator (quickjs-emscripten must stay at or under it), so that recursion
     * depth limits behave alike on both hosts. */
    JS_SetMaxStackSize(rt, 256 * 1024);
    JS_SetInterruptHandler(rt, interrupt_handler, NULL);
    JS_SetHostPromiseRejectionTracker(rt, rejection_tracker, NULL);
    return rt;
}
