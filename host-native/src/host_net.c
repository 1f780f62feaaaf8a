/*
 * net: host.net.connect/read/write/close, the JS side of net_socket.c's sockets, and the main poll() loop's
 * view of them (which fds to poll for what, until when). TLS is net_tls.c, names are net_dns.c.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ssl.h>

#include "clocks.h"
#include "host.h"
#include "net_socket.h"
#include "runtime.h"

static const char *opt_string(JSContext *ctx, JSValueConst obj, const char *name, char *out, size_t size) {
    JSValue v = JS_GetPropertyStr(ctx, obj, name);
    const char *r = NULL;
    if (JS_IsString(v)) {
        const char *s = JS_ToCString(ctx, v);
        if (s) {
            snprintf(out, size, "%s", s);
            JS_FreeCString(ctx, s);
            r = out;
        }
    }
    JS_FreeValue(ctx, v);
    return r;
}

/* The tls options of connect(), as strings in b (on the heap: the C stack counts towards the engine's
 * 256 KB stack limit). */
struct tls_strings {
    char server_name[256], ca_file[4096], cert_file[4096], key_file[4096];
};

static void tls_options(JSContext *ctx, JSValueConst tls, struct vigil_tls_options *o, struct tls_strings *b) {
    JSValue v = JS_GetPropertyStr(ctx, tls, "verify");
    o->verify = !(JS_IsBool(v) && !JS_ToBool(ctx, v));
    JS_FreeValue(ctx, v);
    o->server_name = opt_string(ctx, tls, "serverName", b->server_name, sizeof b->server_name);
    o->ca_file = opt_string(ctx, tls, "caFile", b->ca_file, sizeof b->ca_file);
    o->cert_file = opt_string(ctx, tls, "certFile", b->cert_file, sizeof b->cert_file);
    o->key_file = opt_string(ctx, tls, "keyFile", b->key_file, sizeof b->key_file);
}

static JSValue js_connect(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    JSValueConst opts = argc > 0 ? argv[0] : JS_UNDEFINED;
    char host[256];
    int32_t port = 0;
    double timeout = 0;
    if (!JS_IsObject(opts) || !opt_string(ctx, opts, "host", host, sizeof host) || !host[0])
        return vigil_rejected(ctx, vigil_error(ctx, "EINVAL", "connect needs host and port"));
    JSValue v = JS_GetPropertyStr(ctx, opts, "port");
    int bad = !JS_IsNumber(v) || JS_ToInt32(ctx, &port, v) != 0 || port < 1 || port > 65535;
    JS_FreeValue(ctx, v);
    if (bad) return vigil_rejected(ctx, vigil_error(ctx, "EINVAL", "connect needs host and port"));
    v = JS_GetPropertyStr(ctx, opts, "timeoutMs");
    if (JS_IsNumber(v)) JS_ToFloat64(ctx, &timeout, v);
    JS_FreeValue(ctx, v);
    if (!(timeout > 0)) timeout = 10000;

    struct vigil_sock *s = vigil_sock_new(host, port, timeout);
    if (!s) return JS_ThrowOutOfMemory(ctx);
    JSValue promise = vigil_deferred_new(ctx, &s->connect_d);
    JSValue tls = JS_GetPropertyStr(ctx, opts, "tls");
    if (JS_IsObject(tls)) {
        char msg[512] = "out of memory";
        struct vigil_tls_options o;
        struct tls_strings *b = malloc(sizeof *b);
        int r = -1;
        if (b) {
            tls_options(ctx, tls, &o, b);
            s->tls = 1; /* from here on destroy() frees the TLS state, set up or not */
            r = vigil_tls_setup(&s->t, s->host, &o, msg, sizeof msg);
            free(b);
        }
        if (r != 0) {
            JS_FreeValue(ctx, tls);
            vigil_sock_destroy(s, "ETLS", msg);
            return promise;
        }
    }
    JS_FreeValue(ctx, tls);
    vigil_sock_start(s);
    return promise;
}

/* ---- read / write / close ---------------------------------------------------------------------------- */

static struct vigil_sock *open_sock(JSContext *ctx, int argc, JSValueConst *argv, JSValue *rejection) {
    int32_t id = -1;
    if (argc < 1 || JS_ToInt32(ctx, &id, argv[0]) != 0) JS_FreeValue(ctx, JS_GetException(ctx));
    struct vigil_sock *s = vigil_sock_find(id);
    if (!s || s->state != S_OPEN) {
        *rejection = vigil_rejected(ctx, vigil_error(ctx, "EBADF", "socket %d", (int)id));
        return NULL;
    }
    return s;
}

static JSValue js_read(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    JSValue rej;
    struct vigil_sock *s = open_sock(ctx, argc, argv, &rej);
    if (!s) return rej;
    if (s->reading) return vigil_rejected(ctx, vigil_error(ctx, "EINVAL", "socket %d already has a read pending", (int)s->id));
    if (s->err_code[0]) return vigil_rejected(ctx, vigil_error(ctx, s->err_code, "%s", s->err_msg));
    if (s->eof) return vigil_resolved(ctx, JS_NULL);
    JSValue p = vigil_deferred_new(ctx, &s->read_d);
    s->reading = 1;
    /* TLS may hold decrypted bytes that poll() cannot see. */
    if (s->tls && mbedtls_ssl_get_bytes_avail(&s->t.ssl) > 0) vigil_sock_read(s);
    return p;
}

static JSValue js_write(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    JSValue rej;
    struct vigil_sock *s = open_sock(ctx, argc, argv, &rej);
    if (!s) return rej;
    if (s->err_code[0]) return vigil_rejected(ctx, vigil_error(ctx, s->err_code, "%s", s->err_msg));
    size_t len = 0;
    uint8_t *data = argc > 1 ? JS_GetArrayBuffer(ctx, &len, argv[1]) : NULL;
    JS_FreeValue(ctx, JS_GetException(ctx));
    if (!data && len == 0 && (argc < 2 || !JS_IsObject(argv[1])))
        return vigil_rejected(ctx, vigil_error(ctx, "EINVAL", "write needs an ArrayBuffer"));
    struct vigil_wreq *w = calloc(1, sizeof *w);
    w->data = malloc(len ? len : 1);
    if (len) memcpy(w->data, data, len);
    w->len = len;
    struct vigil_wreq **tail = &s->wq;
    while (*tail) tail = &(*tail)->next;
    *tail = w;
    JSValue p = vigil_deferred_new(ctx, &w->d);
    if (s->wq == w) vigil_sock_write(s);
    return p;
}

static JSValue js_close(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    int32_t id = -1;
    if (argc < 1 || JS_ToInt32(ctx, &id, argv[0]) != 0) JS_FreeValue(ctx, JS_GetException(ctx));
    struct vigil_sock *s = vigil_sock_find(id);
    if (s && s->state == S_OPEN) vigil_sock_destroy(s, "ECLOSED", "closed");
    return JS_UNDEFINED;
}

/* ---- the loop's view ----------------------------------------------------------------------------------- */

#define MAX_NET_POLL 63
static int32_t poll_ids[MAX_NET_POLL];

int vigil_net_poll_prepare(struct pollfd *fds, int max, int64_t *timeout_ms) {
    int n = 0;
    int64_t now = vigil_monotonic_ms();
    for (struct vigil_sock *s = vigil_socks; s && n < max && n < MAX_NET_POLL; s = s->next) {
        short ev = 0;
        int fd = s->fd;
        int64_t wake = -1;
        switch (s->state) {
        case S_RESOLVING:
            fd = s->dns_fd;
            ev = POLLIN;
            wake = s->dns_next < s->deadline ? s->dns_next : s->deadline;
            break;
        case S_CONNECTING: ev = POLLOUT; wake = s->deadline; break;
        case S_HANDSHAKE: ev = s->want_write ? POLLOUT : POLLIN; wake = s->deadline; break;
        case S_OPEN:
            ev = (short)((s->reading ? POLLIN : 0) | (s->wq ? POLLOUT : 0));
            if (s->tls && s->want_write) ev |= POLLOUT;
            break;
        }
        if (wake >= 0) {
            int64_t ms = wake > now ? wake - now : 0;
            if (*timeout_ms < 0 || ms < *timeout_ms) *timeout_ms = ms;
        }
        if (!ev || fd < 0) continue;
        fds[n].fd = fd;
        fds[n].events = ev;
        fds[n].revents = 0;
        poll_ids[n] = s->id;
        n++;
    }
    return n;
}

void vigil_net_poll_done(struct pollfd *fds, int n) {
    for (int i = 0; i < n; i++) {
        if (!fds[i].revents) continue;
        struct vigil_sock *s = vigil_sock_find(poll_ids[i]);
        if (!s) continue;
        short re = fds[i].revents;
        switch (s->state) {
        case S_RESOLVING:
        case S_CONNECTING:
        case S_HANDSHAKE: vigil_sock_connect_step(s); break;
        case S_OPEN:
            if (re & (POLLOUT | POLLERR | POLLHUP)) {
                if (s->wq || s->want_write) vigil_sock_write(s);
                if (!(s = vigil_sock_find(poll_ids[i]))) break;
            }
            if (re & (POLLIN | POLLERR | POLLHUP)) vigil_sock_read(s);
            break;
        }
    }
    /* Deadlines: connects that ran out of time, DNS attempts to repeat. */
    int64_t now = vigil_monotonic_ms();
    int32_t ids[256];
    int count = 0;
    for (struct vigil_sock *s = vigil_socks; s && count < 256; s = s->next)
        if (s->state != S_OPEN) ids[count++] = s->id;
    for (int i = 0; i < count; i++) {
        struct vigil_sock *s = vigil_sock_find(ids[i]);
        if (!s || s->state == S_OPEN) continue;
        vigil_sock_check_deadline(s, now);
    }
}

int vigil_net_active(void) {
    /* Open sockets with nothing pending do not keep the loop alive; connects and pending I/O do. */
    for (struct vigil_sock *s = vigil_socks; s; s = s->next)
        if (s->state != S_OPEN || s->reading || s->wq) return 1;
    return 0;
}

void vigil_net_close_all(void) {
    while (vigil_socks) vigil_sock_destroy(vigil_socks, "ECLOSED", "the host is stopping");
}

static const JSCFunctionListEntry net_funcs[] = {
    JS_CFUNC_DEF("connect", 1, js_connect),
    JS_CFUNC_DEF("read", 1, js_read),
    JS_CFUNC_DEF("write", 2, js_write),
    JS_CFUNC_DEF("close", 1, js_close),
};

void vigil_net_init(JSContext *ctx, JSValueConst host) {
    JSValue ns = JS_NewObject(ctx);
    JS_SetPropertyFunctionList(ctx, ns, net_funcs, VIGIL_COUNTOF(net_funcs));
    JS_SetPropertyStr(ctx, host, "net", ns);
}
