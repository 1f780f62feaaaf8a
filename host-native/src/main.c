/*
 * vigil: runs the agent bundle (dist/agent.js or its bytecode) in QuickJS with the native Host.
 *
 * One thread, one poll() loop: drain promise jobs, fire due timers, advance hashing tasks, then sleep in
 * poll() on the sockets and a signal pipe until the next deadline. It exits when nothing is left to wait
 * for, or after SIGTERM/SIGINT once the agent's stop() settled (bounded by --stop-timeout-ms). When the
 * engine stops the agent at a limit, the run is stopped the same way and the bundle starts again on a fresh
 * engine (host_supervise.c); exit 3 when that turns into a crash loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

struct vigil_runtime vigil;

static const char *usage_text =
    "usage: vigil [options] BUNDLE            run dist/agent.js or its bytecode (.qjsbc)\n"
    "       vigil --compile IN.js OUT.qjsbc   precompile a bundle to QuickJS bytecode\n"
    "\n"
    "options:\n"
    "  --root DIR              map device paths onto DIR (a fixture root file system); default /\n"
    "  --data-dir DIR          host directory backing the data dir (config DataDir); default: DataDir under the root\n"
    "  --config FILE           agent parameters as key=value lines (also Name=\"value\" param.conf lines); repeatable\n"
    "  --set KEY=VALUE         one agent parameter, over the config files\n"
    "  --param-conf FILE       ACAP defaults (param.conf); default ./param.conf when present (the package dir)\n"
    "  --memory-limit BYTES    JS heap limit (default 16777216)\n"
    "  --cpu-budget-ms MS      CPU budget per JS slice before it is interrupted (default 500)\n"
    "  --stop-timeout-ms MS    how long a SIGTERM waits for the agent's stop() (default 3000)\n"
    "  --max-restarts N        restarts in process after the engine stopped the agent at a limit (CPU, memory,\n"
    "                          stack) within --restart-window-ms (default 5, 600000); then exit 3\n"
    "  --restart-window-ms MS  (see --max-restarts)\n"
    "  --stderr                log to stderr instead of syslog (the default when stderr is a terminal)\n"
    "  --log-level LEVEL       debug|info|warn|error on stderr (default info)\n"
    "  --no-dbus               never ask D-Bus for VAPIX credentials (use VapixUsername/VapixPassword)\n"
    "  --print-global NAME     at exit, print JSON.stringify(globalThis[NAME]) on stdout (test harnesses)\n"
    "  --help                  this text\n"
    "\n"
    "On the camera the package runs `vigil agent.qjsbc` from /usr/local/packages/vigil with the defaults of\n"
    "param.conf; values set in the ACAP settings need axparameter (not linked here): pass them with --config.\n";

/* ---- helpers ------------------------------------------------------------------------------------------- */

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

const char *vigil_errno_code(int err) {
    switch (err) {
    case ENOENT: return "ENOENT";
    case EACCES: case EPERM: case EROFS: return "EACCES";
    case EISDIR: return "EISDIR";
    case ENOTDIR: return "ENOTDIR";
    case ENOSPC: case EDQUOT: return "ENOSPC";
    case ELOOP: return "ELOOP";
    case EFBIG: return "EFBIG";
    case EINVAL: return "EINVAL";
    default: return "EIO";
    }
}

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

static int interrupt_handler(JSRuntime *rt, void *opaque) {
    (void)rt;
    (void)opaque;
    if (vigil.slice_deadline > 0 && vigil_monotonic_ms() > vigil.slice_deadline) {
        vigil.slice_interrupted = 1;
        return 1;
    }
    return 0;
}

static int slice_depth;

void vigil_slice_begin(void) {
    /* Nested entries (a host call that settles a promise) stay inside the outer slice's budget. */
    if (slice_depth++ == 0) vigil.slice_deadline = vigil_monotonic_ms() + vigil.cpu_budget_ms;
}

void vigil_slice_end(void) {
    if (--slice_depth == 0) {
        vigil.slice_deadline = 0;
        if (vigil.slice_interrupted) {
            vigil.slice_interrupted = 0;
            vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] a JS slice ran over its CPU budget of %lld ms and was interrupted",
                      (long long)vigil.cpu_budget_ms);
        }
    }
}

static int heap_near_limit(JSRuntime *rt) {
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
    vigil_supervise_note(JS_IsNull(exc) && heap_near_limit(rt) ? "out of memory" : msg);
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

/* While a run's engine is freed no JS runs (set by run_free()): what the agent starts then would outlive it. */
static int tearing_down;

static void report_rejections(JSContext *ctx) {
    for (int i = 0; i < rejection_count && !tearing_down; i++) {
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
    while (!tearing_down) {
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

/* ---- host object: apiVersion, info, memory ----------------------------------------------------------- */

static JSValue host_memory(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    (void)argc;
    (void)argv;
    JSMemoryUsage mu;
    JS_ComputeMemoryUsage(vigil.rt, &mu);
    JSValue o = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, o, "usedBytes", JS_NewInt64(ctx, mu.memory_used_size));
    JS_SetPropertyStr(ctx, o, "limitBytes", JS_NewInt64(ctx, (int64_t)vigil.memory_limit));
    return o;
}

static JSValue make_host(JSContext *ctx) {
    JSValue host = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, host, "apiVersion", JS_NewInt32(ctx, VIGIL_HOST_API_VERSION));
    JSValue info = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, info, "name", JS_NewString(ctx, "host-native"));
    JS_SetPropertyStr(ctx, info, "version", JS_NewString(ctx, VIGIL_VERSION));
    JS_SetPropertyStr(ctx, info, "bundleSha256", vigil.bundle_sha256[0] ? JS_NewString(ctx, vigil.bundle_sha256) : JS_NULL);
    vigil_supervise_init(ctx, info);
    JS_SetPropertyStr(ctx, host, "info", info);
    JS_SetPropertyStr(ctx, host, "memory", JS_NewCFunction(ctx, host_memory, "memory", 0));
    vigil_fs_init(ctx, host);
    vigil_net_init(ctx, host);
    vigil_crypto_init(ctx, host);
    vigil_clock_init(ctx, host);
    vigil_log_init(ctx, host);
    vigil_config_init(ctx, host);
    vigil_vapix_init(ctx, host);
    return host;
}

/* ---- files --------------------------------------------------------------------------------------------- */

static uint8_t *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) break;
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        cap *= 2;
        uint8_t *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
        }
        buf = nb;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        *len = n;
    }
    return buf;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* ---- compile mode -------------------------------------------------------------------------------------- */

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

static int compile_bundle(const char *in, const char *out) {
    size_t len;
    uint8_t *src = read_whole(in, &len);
    if (!src) {
        fprintf(stderr, "[vigil] [native] cannot read %s: %s\n", in, strerror(errno));
        return 1;
    }
    JSRuntime *rt = JS_NewRuntime();
    /* Function source text would be kept for Function.prototype.toString, once per nested function:
     * 5x the bundle. Line numbers stay, so stack traces still point into dist/agent.js. */
    JS_SetStripInfo(rt, JS_STRIP_SOURCE);
    JSContext *ctx = JS_NewContext(rt);
    /* The base name only, so the bytecode does not depend on where the build ran. */
    JSValue fn = JS_Eval(ctx, (const char *)src, len, base_name(in), JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_COMPILE_ONLY);
    free(src);
    if (JS_IsException(fn)) {
        JSValue e = JS_GetException(ctx);
        const char *m = JS_ToCString(ctx, e);
        fprintf(stderr, "[vigil] [native] %s does not compile: %s\n", in, m ? m : "?");
        return 1;
    }
    size_t blen;
    uint8_t *bc = JS_WriteObject(ctx, &blen, fn, JS_WRITE_OBJ_BYTECODE);
    JS_FreeValue(ctx, fn);
    int rc = 1;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    FILE *f = bc ? fopen(tmp, "wb") : NULL;
    if (f && fwrite(bc, 1, blen, f) == blen && fclose(f) == 0 && rename(tmp, out) == 0) rc = 0;
    else fprintf(stderr, "[vigil] [native] cannot write %s: %s\n", out, strerror(errno));
    js_free(ctx, bc);
    JS_FreeContext(ctx);
    JS_FreeRuntime(rt);
    return rc;
}

/* ---- signals ------------------------------------------------------------------------------------------- */

static int signal_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
    int saved = errno;
    stop_signal = sig;
    if (signal_pipe[1] >= 0) {
        ssize_t w = write(signal_pipe[1], "s", 1);
        (void)w;
    }
    errno = saved;
}

static void setup_signals(void) {
    if (pipe(signal_pipe) == 0) {
        for (int i = 0; i < 2; i++) {
            fcntl(signal_pipe[i], F_SETFL, O_NONBLOCK);
            fcntl(signal_pipe[i], F_SETFD, FD_CLOEXEC);
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* ---- the loop ------------------------------------------------------------------------------------------ */

#define MAX_POLL 64

/* Calls __vigilAgent.stop() once; returns its promise (or undefined when there is no agent). */
static JSValue call_agent_stop(JSContext *ctx) {
    JSValue global = JS_GetGlobalObject(ctx);
    JSValue agent = JS_GetPropertyStr(ctx, global, "__vigilAgent");
    JSValue result = JS_UNDEFINED;
    if (JS_IsObject(agent)) {
        JSValue stop = JS_GetPropertyStr(ctx, agent, "stop");
        if (JS_IsFunction(ctx, stop)) {
            vigil_slice_begin();
            result = JS_Call(ctx, stop, agent, 0, NULL);
            vigil_slice_end();
            if (JS_IsException(result)) {
                vigil_report_exception(ctx, "__vigilAgent.stop()");
                result = JS_UNDEFINED;
            }
        }
        JS_FreeValue(ctx, stop);
    }
    JS_FreeValue(ctx, agent);
    JS_FreeValue(ctx, global);
    return result;
}

static int run_loop(JSContext *ctx, int64_t stop_timeout_ms) {
    JSValue stop_promise = JS_UNDEFINED;
    int stopping = 0;
    int64_t stop_deadline = 0;
    int rc = 0;
    for (;;) {
        vigil_run_jobs();
        const char *limit = vigil_supervise_reason();
        if ((stop_signal || limit) && !stopping) {
            stopping = 1;
            if (limit) vigil_log(VIGIL_LOG_WARN, "[vigil] [native] the engine stopped the agent at a limit (%s): stopping this run", limit);
            else vigil_log(VIGIL_LOG_INFO, "[vigil] [native] %s: stopping the agent", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
            stop_deadline = vigil_monotonic_ms() + stop_timeout_ms;
            stop_promise = call_agent_stop(ctx);
            vigil_run_jobs();
        }
        if (stopping) {
            int done = !JS_IsObject(stop_promise) || JS_PromiseState(ctx, stop_promise) != JS_PROMISE_PENDING;
            if (done) break;
            if (vigil_monotonic_ms() >= stop_deadline) {
                vigil_log(VIGIL_LOG_WARN, "[vigil] [native] the agent did not stop within %lld ms", (long long)stop_timeout_ms);
                rc = 1;
                break;
            }
        }
        if (!JS_IsJobPending(vigil.rt) && !vigil_clock_active() && !vigil_net_active() && !vigil_crypto_active()) break;

        int64_t timeout = -1;
        if (JS_IsJobPending(vigil.rt)) timeout = 0;
        if (stopping) timeout = (timeout < 0 || stop_deadline - vigil_monotonic_ms() < timeout) ? stop_deadline - vigil_monotonic_ms() : timeout;
        vigil_clock_prepare(&timeout);
        vigil_crypto_prepare(&timeout);
        struct pollfd fds[MAX_POLL];
        int n = 0;
        fds[n].fd = signal_pipe[0];
        fds[n].events = POLLIN;
        fds[n].revents = 0;
        n++;
        int net_first = n;
        n += vigil_net_poll_prepare(fds + n, MAX_POLL - n, &timeout);
        if (timeout < 0 && n == 1 && !vigil_clock_active()) timeout = 0;
        if (timeout > 60000) timeout = 60000;
        int pr = poll(fds, (nfds_t)n, (int)timeout);
        if (pr < 0 && errno != EINTR) {
            vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] poll: %s", strerror(errno));
            rc = 1;
            break;
        }
        if (pr > 0 && (fds[0].revents & POLLIN)) {
            char buf[16];
            while (read(signal_pipe[0], buf, sizeof buf) > 0) {
            }
        }
        if (pr > 0) vigil_net_poll_done(fds + net_first, n - net_first);
        else vigil_net_poll_done(fds + net_first, 0);
        vigil_clock_run_due();
        vigil_crypto_run();
    }
    JS_FreeValue(ctx, stop_promise);
    return rc;
}

/* One run of the bundle on a fresh engine, until it ends, is stopped by a signal or by the engine at a limit.
 * The engine stays up for the caller (print_global, heap figures); run_free() frees it. */
static int run_once(const uint8_t *code, size_t len, const char *bundle, int64_t stop_timeout_ms) {
    vigil.rt = vigil_new_runtime();
    vigil.ctx = vigil.rt ? JS_NewContext(vigil.rt) : NULL;
    if (!vigil.ctx) {
        vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] cannot create the QuickJS runtime");
        if (vigil.rt) JS_FreeRuntime(vigil.rt);
        vigil.rt = NULL;
        return 1;
    }
    JSContext *ctx = vigil.ctx;
    JSValue global = JS_GetGlobalObject(ctx);
    JS_SetPropertyStr(ctx, global, "__vigilHost", make_host(ctx));
    JS_FreeValue(ctx, global);

    JSValue result;
    vigil_slice_begin();
    if (ends_with(bundle, ".qjsbc")) {
        JSValue fn = JS_ReadObject(ctx, code, len, JS_READ_OBJ_BYTECODE);
        result = JS_IsException(fn) ? fn : JS_EvalFunction(ctx, fn);
    } else {
        result = JS_Eval(ctx, (const char *)code, len, base_name(bundle), JS_EVAL_TYPE_GLOBAL);
    }
    vigil_slice_end();
    if (JS_IsException(result)) {
        vigil_report_exception(ctx, bundle);
        /* Stopped at a limit while evaluating: the loop still calls a stop() the bundle may have set up. */
        if (!vigil_supervise_reason()) return 1;
    }
    JS_FreeValue(ctx, result);
    return run_loop(ctx, stop_timeout_ms);
}

/* Frees the run's engine. The agent sees its sockets and hashing end (rejections) and may react once; then
 * no more JS runs, so nothing it starts can outlive the runtime (QuickJS asserts on a live object). */
static void run_free(void) {
    vigil_net_close_all();
    vigil_crypto_cancel_all();
    vigil_run_jobs();
    tearing_down = 1;
    vigil_net_close_all();
    vigil_crypto_cancel_all();
    vigil_clock_clear_all();
    vigil_run_jobs();
    tearing_down = 0;
    JS_FreeContext(vigil.ctx);
    JS_FreeRuntime(vigil.rt);
    vigil.ctx = NULL;
    vigil.rt = NULL;
    vigil.slice_interrupted = 0;
}

static void print_global(JSContext *ctx, const char *name) {
    JSValue global = JS_GetGlobalObject(ctx);
    JSValue v = JS_GetPropertyStr(ctx, global, name);
    JSValue json = JS_JSONStringify(ctx, v, JS_UNDEFINED, JS_UNDEFINED);
    const char *s = JS_IsString(json) ? JS_ToCString(ctx, json) : NULL;
    printf("%s\n", s ? s : "null");
    fflush(stdout);
    if (s) JS_FreeCString(ctx, s);
    JS_FreeValue(ctx, json);
    JS_FreeValue(ctx, v);
    JS_FreeValue(ctx, global);
}

/* ---- main ---------------------------------------------------------------------------------------------- */

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int mkdir_p(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    }
    return (mkdir(tmp, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

static void normalize_device(const char *in, char *out, size_t size) {
    /* "/a//b/./c/" -> "/a/b/c"; ".." is clamped at the root. */
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", in);
    size_t len = 0;
    out[0] = 0;
    for (char *save = NULL, *part = strtok_r(buf, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0) continue;
        if (strcmp(part, "..") == 0) {
            char *slash = strrchr(out, '/');
            if (slash) *slash = 0;
            len = strlen(out);
            continue;
        }
        len += (size_t)snprintf(out + len, size - len, "/%s", part);
    }
    if (out[0] == 0) snprintf(out, size, "/");
}

int main(int argc, char **argv) {
    const char *bundle = NULL, *root = NULL, *data_dir = NULL, *param_conf = NULL, *print_name = NULL;
    int to_stderr = isatty(2), no_dbus = 0;
    enum vigil_log_level level = VIGIL_LOG_INFO;
    int64_t stop_timeout_ms = 3000, restart_window_ms = 600000;
    int max_restarts = 5;
    vigil.memory_limit = 16 << 20;
    vigil.cpu_budget_ms = 500;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_ARG()                                                                            \
    do {                                                                                      \
        if (!next) {                                                                          \
            fprintf(stderr, "[vigil] [native] %s needs a value (see --help)\n", a);           \
            return 2;                                                                         \
        }                                                                                     \
        i++;                                                                                  \
    } while (0)
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("vigil host-native %s (QuickJS %s)\n", VIGIL_VERSION, QUICKJS_VERSION_STRING);
            return 0;
        } else if (strcmp(a, "--compile") == 0) {
            if (i + 2 >= argc) {
                fprintf(stderr, "[vigil] [native] --compile needs IN.js OUT.qjsbc\n");
                return 2;
            }
            return compile_bundle(argv[i + 1], argv[i + 2]);
        } else if (strcmp(a, "--root") == 0) {
            NEED_ARG();
            root = next;
        } else if (strcmp(a, "--data-dir") == 0) {
            NEED_ARG();
            data_dir = next;
        } else if (strcmp(a, "--config") == 0) {
            NEED_ARG();
            if (vigil_config_load_file(next) != 0) {
                fprintf(stderr, "[vigil] [native] cannot read config file %s: %s\n", next, strerror(errno));
                return 2;
            }
        } else if (strcmp(a, "--param-conf") == 0) {
            NEED_ARG();
            param_conf = next;
        } else if (strcmp(a, "--set") == 0) {
            NEED_ARG();
            const char *eq = strchr(next, '=');
            if (!eq || eq == next) {
                fprintf(stderr, "[vigil] [native] --set needs KEY=VALUE, got %s\n", next);
                return 2;
            }
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(eq - next), next);
            vigil_config_set(key, eq + 1);
        } else if (strcmp(a, "--memory-limit") == 0) {
            NEED_ARG();
            vigil.memory_limit = (size_t)strtoull(next, NULL, 10);
        } else if (strcmp(a, "--cpu-budget-ms") == 0) {
            NEED_ARG();
            vigil.cpu_budget_ms = strtoll(next, NULL, 10);
        } else if (strcmp(a, "--stop-timeout-ms") == 0) {
            NEED_ARG();
            stop_timeout_ms = strtoll(next, NULL, 10);
        } else if (strcmp(a, "--max-restarts") == 0) {
            NEED_ARG();
            max_restarts = atoi(next);
        } else if (strcmp(a, "--restart-window-ms") == 0) {
            NEED_ARG();
            restart_window_ms = strtoll(next, NULL, 10);
        } else if (strcmp(a, "--stderr") == 0) {
            to_stderr = 1;
        } else if (strcmp(a, "--log-level") == 0) {
            NEED_ARG();
            if (vigil_log_level_parse(next, &level) != 0) {
                fprintf(stderr, "[vigil] [native] unknown log level %s\n", next);
                return 2;
            }
        } else if (strcmp(a, "--no-dbus") == 0) {
            no_dbus = 1;
        } else if (strcmp(a, "--print-global") == 0) {
            NEED_ARG();
            print_name = next;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "[vigil] [native] unknown option %s (see --help)\n", a);
            return 2;
        } else if (!bundle) {
            bundle = a;
        } else {
            fprintf(stderr, "[vigil] [native] one bundle only, got %s and %s\n", bundle, a);
            return 2;
        }
    }
    if (!bundle) {
        fputs(usage_text, stderr);
        return 2;
    }
    vigil_log_setup(to_stderr, level);
    vigil_supervise_setup(max_restarts, restart_window_ms);
    if (no_dbus) vigil_vapix_disable();

    /* ACAP defaults first: param.conf from the package dir unless given, then files and --set win. */
    if (!param_conf && access("param.conf", R_OK) == 0) param_conf = "param.conf";
    if (param_conf) {
        if (vigil_config_load_defaults(param_conf) != 0) {
            vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] cannot read %s: %s", param_conf, strerror(errno));
            return 2;
        }
    }

    if (root) {
        char real_root[PATH_MAX];
        if (!realpath(root, real_root) || !is_dir(real_root)) {
            vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] --root %s is not a directory", root);
            return 2;
        }
        snprintf(vigil.root, sizeof vigil.root, "%s", strcmp(real_root, "/") == 0 ? "" : real_root);
    }
    const char *dd = vigil_config_get("DataDir");
    if (!dd || !*dd) {
        dd = "/usr/local/packages/vigil/localdata";
        vigil_config_set("DataDir", dd);
    }
    normalize_device(dd, vigil.data_device, sizeof vigil.data_device);
    if (data_dir) {
        if (mkdir_p(data_dir) != 0 || !realpath(data_dir, vigil.data_real)) {
            vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] --data-dir %s: %s", data_dir, strerror(errno));
            return 2;
        }
    } else {
        if (snprintf(vigil.data_real, sizeof vigil.data_real, "%.2047s%.2047s", vigil.root, vigil.data_device) < 0) return 2;
        mkdir_p(vigil.data_real);
    }

    size_t len;
    uint8_t *code = read_whole(bundle, &len);
    if (!code) {
        vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] cannot read %s: %s", bundle, strerror(errno));
        return 2;
    }
    vigil_sha256_hex(code, len, vigil.bundle_sha256);
    vigil_supervise_load();
    setup_signals();

    int rc;
    for (;;) {
        rc = run_once(code, len, bundle, stop_timeout_ms);
        if (!vigil.ctx) break;
        int again = 0;
        if (vigil_supervise_reason()) {
            if (stop_signal) vigil_supervise_store_reason();
            else if (vigil_supervise_restart()) again = 1;
            else rc = VIGIL_EXIT_CRASH_LOOP;
        } else if (heap_near_limit(vigil.rt)) {
            /* Ended at the heap limit without an error reaching the host (one the agent caught). */
            vigil_supervise_note("out of memory");
            vigil_supervise_store_reason();
        }
        if (!again && print_name) print_global(vigil.ctx, print_name);
        run_free();
        if (!again) break;
    }
    free(code);
    if (stop_signal) vigil_log(VIGIL_LOG_INFO, "[vigil] [native] stopped");
    return rc;
}
