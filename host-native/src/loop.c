/*
 * The loop (loop.h), one thread: drain promise jobs, fire due timers, advance hashing tasks, then sleep in
 * poll() on the sockets and a signal pipe until the next deadline. A stop signal or a stop at a limit calls
 * __vigilAgent.stop() once and waits for it, bounded by --stop-timeout-ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "clocks.h"
#include "host.h"
#include "loop.h"
#include "runtime.h"

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

void vigil_signals_setup(void) {
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

int vigil_stop_signal(void) { return stop_signal; }

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

int vigil_loop_run(JSContext *ctx, int64_t stop_timeout_ms) {
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
