/*
 * libFuzzer harness: the socket read path of the native host (host_net.c, net_socket.c: connect, the pull-based read into
 * ArrayBuffers, TLS through mbedTLS, close and the error paths) fed by a hostile peer, with the agent's real
 * MqttClient and VAPIX HTTP client on top (agent/test/fuzz-net.ts, bundled into out/fuzz/fuzz-net.js).
 *
 * The peer is a loopback TCP listener the harness owns: host.net.connect reaches 127.0.0.1 without DNS. The
 * harness runs the host's event loop itself (the same calls as loop.c's vigil_loop_run: jobs, timers, the net
 * poll) and plays the peer between turns, so everything runs on one thread and in a repeatable order.
 *
 * Input: byte 0 = flow (bits 0-2: MQTT 3.1.1, MQTT 5, four VAPIX calls, MQTT over TLS, a raw GET with a
 * small cap) and how the peer ends (bits 3-5: 0-2 close (FIN), 3-4 half-close (shutdown SHUT_WR, then close
 * after the client did), 5-6 reset (RST), 7 stall: stay open, the flow's deadline is 20 ms); bit 6: connect to
 * a port nobody listens on instead (ECONNREFUSED). Then records
 * [L][L bytes]: one chunk each, L = 0 for all the rest. The peer sends the next chunk only when the host has
 * a read pending and nothing unread in the kernel, so each chunk is one read; after the last one it ends.
 *
 * Findings (abort): a sanitizer report; the flow's promise rejected (something other than a VigilError, a
 * code EIO, onClose not exactly once, a socket left open: see fuzz-net.ts); the engine stopped JS at a
 * limit; an unhandled rejection; a timer left behind; no settlement within 5 s or 20000 turns (a hang).
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clocks.h"
#include "host.h"
#include "runtime.h"

#define MAX_TURNS 20000
#define MAX_MS 5000
#define STALL_TIMEOUT_MS 20
#define FLOW_TIMEOUT_MS 10000
#define ASAN_STACK_SIZE (1024 * 1024)

enum peer_end { END_FIN, END_HALF, END_RST, END_STALL };
static const enum peer_end END_OF[8] = {END_FIN, END_FIN, END_FIN, END_HALF, END_HALF, END_RST, END_RST, END_STALL};

static int listen_fd = -1;
static int port, refused_port;
static JSValue run_fn;
static unsigned long runs;
static int trace; /* VIGIL_FUZZ_NET_TRACE=1: print each flow's outcome (what the seeds reach) */

/* Unhandled rejections of the current input (the host's own tracker would only log them). */
#define MAX_UNHANDLED 64
static JSValue unhandled[MAX_UNHANDLED][2];
static int unhandled_count;

static void die(const char *what) {
    fprintf(stderr, "[vigil] [fuzz] fuzz_net: %s\n", what);
    abort();
}

static void tracker(JSContext *ctx, JSValueConst promise, JSValueConst reason, JS_BOOL is_handled, void *opaque) {
    (void)opaque;
    if (!is_handled) {
        if (unhandled_count == MAX_UNHANDLED) die("more than 64 unhandled rejections");
        unhandled[unhandled_count][0] = JS_DupValue(ctx, promise);
        unhandled[unhandled_count][1] = JS_DupValue(ctx, reason);
        unhandled_count++;
        return;
    }
    for (int i = 0; i < unhandled_count; i++) {
        if (JS_VALUE_GET_PTR(unhandled[i][0]) == JS_VALUE_GET_PTR(promise)) {
            JS_FreeValue(ctx, unhandled[i][0]);
            JS_FreeValue(ctx, unhandled[i][1]);
            unhandled_count--;
            unhandled[i][0] = unhandled[unhandled_count][0];
            unhandled[i][1] = unhandled[unhandled_count][1];
            return;
        }
    }
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *code = malloc((size_t)n + 1);
    if (fread(code, 1, (size_t)n, f) != (size_t)n) die("cannot read the bundle");
    code[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return code;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    /* The bundle sits next to the binary (build.sh); VIGIL_FUZZ_NET_BUNDLE overrides. */
    char path[4096];
    const char *env = getenv("VIGIL_FUZZ_NET_BUNDLE");
    if (env) {
        snprintf(path, sizeof path, "%s", env);
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
        if (n <= 0) die("cannot find the binary's directory");
        path[n] = 0;
        char *slash = strrchr(path, '/');
        snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "fuzz-net.js");
    }
    size_t len;
    char *code = read_file(path, &len);
    if (!code) die("cannot open out/fuzz/fuzz-net.js (host-native/fuzz/build.sh builds it; VIGIL_FUZZ_NET_BUNDLE overrides)");

    trace = getenv("VIGIL_FUZZ_NET_TRACE") != NULL;
    signal(SIGPIPE, SIG_IGN);
    vigil.memory_limit = 32 << 20;
    vigil.cpu_budget_ms = 1000;
    vigil_log_setup(1, VIGIL_LOG_ERROR);
    vigil.rt = vigil_new_runtime();
    /* The host's 256 KB is sized for release frames; under ASan, JS_CallInternal's frame is many times
     * larger and a 12-deep call chain (VapixClient -> httpRequest -> connect) overflowed it. */
    JS_SetMaxStackSize(vigil.rt, ASAN_STACK_SIZE);
    JS_SetHostPromiseRejectionTracker(vigil.rt, tracker, NULL);
    vigil.ctx = JS_NewContext(vigil.rt);
    JSContext *ctx = vigil.ctx;
    JSValue global = JS_GetGlobalObject(ctx);
    JSValue host = JS_NewObject(ctx);
    vigil_net_init(ctx, host);
    vigil_clock_init(ctx, host);
    vigil_text_init(ctx, host);
    vigil_log_init(ctx, host);
    JS_SetPropertyStr(ctx, global, "__vigilHost", host);
    vigil_slice_begin();
    JSValue r = JS_Eval(ctx, code, len, "fuzz-net.js", JS_EVAL_TYPE_GLOBAL);
    vigil_slice_end();
    if (JS_IsException(r)) {
        vigil_report_exception(ctx, path);
        die("the bundle failed");
    }
    JS_FreeValue(ctx, r);
    run_fn = JS_GetPropertyStr(ctx, global, "__vigilNetFuzz");
    if (!JS_IsFunction(ctx, run_fn)) die("the bundle did not set __vigilNetFuzz");
    JS_FreeValue(ctx, global);
    free(code);

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t salen = sizeof sa;
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(listen_fd, 16) != 0 ||
        getsockname(listen_fd, (struct sockaddr *)&sa, &salen) != 0)
        die("cannot listen on 127.0.0.1");
    port = ntohs(sa.sin_port);
    /* Bound but not listening: the port stays ours and every connect to it is refused. */
    int refuse_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa.sin_port = 0;
    salen = sizeof sa;
    if (refuse_fd < 0 || bind(refuse_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(refuse_fd, (struct sockaddr *)&sa, &salen) != 0)
        die("cannot bind a second port on 127.0.0.1");
    refused_port = ntohs(sa.sin_port);
    return 0;
}

/* Reads and drops what the client sent; returns 1 once the client has closed its side. */
static int drain(int fd) {
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) continue;
        if (n == 0) return 1;
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : 1;
    }
}

/* True when the host waits for bytes: a socket polled for input with nothing unread in the kernel. */
static int host_waits(const struct pollfd *fds, int n) {
    for (int i = 0; i < n; i++) {
        int avail = 0;
        if ((fds[i].events & POLLIN) && ioctl(fds[i].fd, FIONREAD, &avail) == 0 && avail == 0) return 1;
    }
    return 0;
}

static void report_and_die(JSContext *ctx, JSValue reason, const char *what) {
    JS_Throw(ctx, reason);
    vigil_report_exception(ctx, "fuzz-net");
    die(what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    JSContext *ctx = vigil.ctx;
    JS_UpdateStackTop(vigil.rt); /* the stack is measured from here, as from loop.c's loop */
    int flow = data[0] & 7;
    enum peer_end end = END_OF[(data[0] >> 3) & 7];
    size_t pos = 1;

    JSValue args[3] = {JS_NewInt32(ctx, flow), JS_NewInt32(ctx, (data[0] & 0x40) ? refused_port : port),
                       JS_NewInt32(ctx, end == END_STALL ? STALL_TIMEOUT_MS : FLOW_TIMEOUT_MS)};
    vigil_slice_begin();
    JSValue p = JS_Call(ctx, run_fn, JS_UNDEFINED, 3, args);
    vigil_slice_end();
    if (JS_IsException(p)) {
        vigil_report_exception(ctx, "__vigilNetFuzz");
        die("the driver threw");
    }

    int peer = -1, peer_done = 0, ended = 0;
    int64_t start = vigil_monotonic_ms();
    for (int turn = 0;; turn++) {
        vigil_run_jobs();
        if (vigil_supervise_reason()) die("the engine stopped JS at a limit (see the log above)");
        if (JS_PromiseState(ctx, p) != JS_PROMISE_PENDING) break;
        if (turn >= MAX_TURNS || vigil_monotonic_ms() - start > MAX_MS) die("the flow did not settle (a hang)");

        if (peer < 0 && !peer_done) peer = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (peer >= 0 && drain(peer) && ended) { /* half-closed and the client closed too */
            close(peer);
            peer = -1;
            peer_done = 1;
        }

        int64_t timeout = -1;
        struct pollfd fds[64];
        vigil_clock_prepare(&timeout);
        int n = vigil_net_poll_prepare(fds, 64, &timeout);
        if (peer >= 0 && !ended && host_waits(fds, n)) {
            if (pos < size) {
                size_t len = data[pos] ? data[pos] : size - pos - 1;
                pos++;
                if (len > size - pos) len = size - pos;
                if (len) send(peer, data + pos, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                pos += len;
            } else {
                ended = 1;
                if (end == END_HALF) {
                    shutdown(peer, SHUT_WR);
                } else if (end != END_STALL) {
                    if (end == END_RST) setsockopt(peer, SOL_SOCKET, SO_LINGER, &(struct linger){1, 0}, sizeof(struct linger));
                    drain(peer);
                    close(peer);
                    peer = -1;
                    peer_done = 1;
                }
            }
            timeout = 0;
        }
        /* Loopback delivers at once; the cap only bounds a turn in which nothing is due. */
        if (timeout < 0 || timeout > 20) timeout = 20;
        int pr = poll(fds, (nfds_t)n, (int)timeout);
        vigil_net_poll_done(fds, pr > 0 ? n : 0);
        vigil_clock_run_due();
    }

    JSPromiseStateEnum st = JS_PromiseState(ctx, p);
    JSValue result = JS_PromiseResult(ctx, p);
    JS_FreeValue(ctx, p);
    if (st == JS_PROMISE_REJECTED) report_and_die(ctx, result, "the flow failed (see the error above)");
    if (trace) {
        const char *text = JS_ToCString(ctx, result);
        fprintf(stderr, "[vigil] [fuzz] fuzz_net: flow %d, %zu of %zu bytes sent: %s\n", flow, pos, size, text ? text : "?");
        JS_FreeCString(ctx, text);
    }
    JS_FreeValue(ctx, result);
    vigil_run_jobs();
    if (unhandled_count) report_and_die(ctx, JS_DupValue(ctx, unhandled[0][1]), "an unhandled promise rejection");
    if (vigil_clock_active()) die("a timer is left after the flow settled");

    if (peer >= 0) close(peer);
    for (int fd; (fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0;) close(fd); /* a connect the flow abandoned */
    vigil_net_close_all();
    vigil_clock_clear_all();
    vigil_run_jobs();
    if (unhandled_count) report_and_die(ctx, JS_DupValue(ctx, unhandled[0][1]), "an unhandled promise rejection at teardown");
    if (++runs % 256 == 0) JS_RunGC(vigil.rt);
    return 0;
}
