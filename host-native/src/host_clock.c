/*
 * clock: host.clock.now/monotonic/setTimer/clearTimer. Timers are integer ids in a small array; the loop
 * sleeps in poll() until the earliest one is due, then fires every due timer in due order.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clocks.h"
#include "host.h"
#include "runtime.h"

struct timer {
    int32_t id;
    double due; /* monotonic ms */
    uint64_t seq; /* keeps timers with the same due time in creation order */
    JSValue callback;
};

static struct timer *timers;
static int timer_count, timer_cap;
static int32_t next_timer_id = 1;
static uint64_t next_seq;

static JSValue js_now(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    (void)argc;
    (void)argv;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return JS_NewInt64(ctx, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static JSValue js_monotonic(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    (void)argc;
    (void)argv;
    return JS_NewFloat64(ctx, vigil_monotonic_ms_f());
}

static JSValue js_set_timer(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    double delay = 0;
    if (argc < 2 || !JS_IsFunction(ctx, argv[1])) return vigil_throw(ctx, "EINVAL", "setTimer needs a delay and a function");
    if (JS_ToFloat64(ctx, &delay, argv[0]) != 0) return JS_EXCEPTION;
    if (!(delay >= 0)) delay = 0;
    if (delay > 0x7fffffff) delay = 0x7fffffff;
    if (timer_count == timer_cap) {
        int cap = timer_cap ? timer_cap * 2 : 16;
        struct timer *t = realloc(timers, (size_t)cap * sizeof *t);
        if (!t) return JS_ThrowOutOfMemory(ctx);
        timers = t;
        timer_cap = cap;
    }
    struct timer *t = &timers[timer_count++];
    t->id = next_timer_id++;
    if (next_timer_id <= 0) next_timer_id = 1;
    t->due = vigil_monotonic_ms_f() + delay;
    t->seq = next_seq++;
    t->callback = JS_DupValue(ctx, argv[1]);
    return JS_NewInt32(ctx, t->id);
}

static void remove_at(JSContext *ctx, int i) {
    JS_FreeValue(ctx, timers[i].callback);
    timers[i] = timers[--timer_count];
}

static JSValue js_clear_timer(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    int32_t id;
    if (argc < 1 || JS_ToInt32(ctx, &id, argv[0]) != 0) return JS_UNDEFINED;
    for (int i = 0; i < timer_count; i++) {
        if (timers[i].id == id) {
            remove_at(ctx, i);
            break;
        }
    }
    return JS_UNDEFINED;
}

void vigil_clock_prepare(int64_t *timeout_ms) {
    if (timer_count == 0) return;
    double earliest = timers[0].due;
    for (int i = 1; i < timer_count; i++)
        if (timers[i].due < earliest) earliest = timers[i].due;
    double wait = earliest - vigil_monotonic_ms_f();
    /* Round up: waking a little early would spin until the timer is due. */
    int64_t ms = wait <= 0 ? 0 : (int64_t)wait + 1;
    if (*timeout_ms < 0 || ms < *timeout_ms) *timeout_ms = ms;
}

void vigil_clock_run_due(void) {
    JSContext *ctx = vigil.ctx;
    double now = vigil_monotonic_ms_f();
    /* Only timers due now; one set by a callback waits for the next turn, even with a 0 delay. */
    uint64_t seq_limit = next_seq;
    for (;;) {
        int best = -1;
        for (int i = 0; i < timer_count; i++) {
            if (timers[i].due > now || timers[i].seq >= seq_limit) continue;
            if (best < 0 || timers[i].due < timers[best].due ||
                (timers[i].due == timers[best].due && timers[i].seq < timers[best].seq))
                best = i;
        }
        if (best < 0) break;
        JSValue cb = timers[best].callback;
        timers[best] = timers[--timer_count];
        vigil_slice_begin();
        JSValue r = JS_Call(ctx, cb, JS_UNDEFINED, 0, NULL);
        vigil_slice_end();
        if (JS_IsException(r)) vigil_report_exception(ctx, "timer callback");
        JS_FreeValue(ctx, r);
        JS_FreeValue(ctx, cb);
        vigil_run_jobs();
    }
}

int vigil_clock_active(void) { return timer_count > 0; }

void vigil_clock_clear_all(void) {
    while (timer_count > 0) remove_at(vigil.ctx, timer_count - 1);
}

static const JSCFunctionListEntry clock_funcs[] = {
    JS_CFUNC_DEF("now", 0, js_now),
    JS_CFUNC_DEF("monotonic", 0, js_monotonic),
    JS_CFUNC_DEF("setTimer", 2, js_set_timer),
    JS_CFUNC_DEF("clearTimer", 1, js_clear_timer),
};

void vigil_clock_init(JSContext *ctx, JSValueConst host) {
    JSValue ns = JS_NewObject(ctx);
    JS_SetPropertyFunctionList(ctx, ns, clock_funcs, VIGIL_COUNTOF(clock_funcs));
    JS_SetPropertyStr(ctx, host, "clock", ns);
}
