/*
 * A host.net socket's life (net_socket.h): the name resolved (a numeric address, /etc/hosts, then DNS:
 * net_dns.c), a non-blocking connect, the TLS handshake (net_tls.c), then reads and writes. Reads are
 * pull-based: the socket is polled for input only while the agent has a read pending, which is its
 * back-pressure. A failure on an open socket is kept, so that every later read or write rejects with it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "clocks.h"
#include "net_dns.h"
#include "net_socket.h"
#include "runtime.h"

#define READ_CHUNK 65536

struct vigil_sock *vigil_socks;
static int32_t next_id = 1;
static uint8_t read_buf[READ_CHUNK];

struct vigil_sock *vigil_sock_find(int32_t id) {
    for (struct vigil_sock *s = vigil_socks; s; s = s->next)
        if (s->id == id) return s;
    return NULL;
}

static const char *net_code(int err) {
    switch (err) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ECONNRESET: case EPIPE: case ECONNABORTED: return "ECONNRESET";
    case EHOSTUNREACH: case ENETUNREACH: case ENETDOWN: return "EHOSTUNREACH";
    default: return "EIO";
    }
}

/* ---- lifetime ---------------------------------------------------------------------------------------- */

struct vigil_sock *vigil_sock_new(const char *host, int port, double timeout_ms) {
    struct vigil_sock *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->fd = -1;
    s->dns_fd = -1;
    s->id = next_id++;
    snprintf(s->host, sizeof s->host, "%s", host);
    s->port = port;
    s->timeout_ms = (int)timeout_ms;
    s->deadline = vigil_monotonic_ms() + (int64_t)timeout_ms;
    s->next = vigil_socks;
    vigil_socks = s;
    return s;
}

static void unlink_sock(struct vigil_sock *s) {
    for (struct vigil_sock **pp = &vigil_socks; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            return;
        }
    }
}

/* Frees everything; settles what is pending: reads with null, writes with ECLOSED, a connect with err. */
void vigil_sock_destroy(struct vigil_sock *s, const char *code, const char *msg) {
    JSContext *ctx = vigil.ctx;
    unlink_sock(s);
    if (s->fd >= 0) {
        if (s->tls && s->state == S_OPEN) mbedtls_ssl_close_notify(&s->t.ssl); /* best effort, non-blocking */
        close(s->fd);
    }
    if (s->dns_fd >= 0) close(s->dns_fd);
    if (s->tls) {
        vigil_tls_free(&s->t);
    }
    if (s->connect_d.live) vigil_deferred_reject(ctx, &s->connect_d, vigil_error(ctx, code, "%s", msg));
    if (s->reading) {
        s->reading = 0;
        vigil_deferred_resolve(ctx, &s->read_d, JS_NULL);
    }
    while (s->wq) {
        struct vigil_wreq *w = s->wq;
        s->wq = w->next;
        if (w->d.live) vigil_deferred_reject(ctx, &w->d, vigil_error(ctx, "ECLOSED", "socket %d is closed", (int)s->id));
        free(w->data);
        free(w);
    }
    free(s);
}

static void connect_failed(struct vigil_sock *s, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void connect_failed(struct vigil_sock *s, const char *code, const char *fmt, ...) {
    char msg[400];
    int n = snprintf(msg, sizeof msg, "%s:%d: ", s->host, s->port);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    vigil_sock_destroy(s, code, msg);
}

/* A failure on an open socket: kept, so that every later read or write rejects with it. */
static void socket_failed(struct vigil_sock *s, const char *code, const char *msg) {
    JSContext *ctx = vigil.ctx;
    int32_t id = s->id;
    if (!s->err_code[0]) {
        snprintf(s->err_code, sizeof s->err_code, "%s", code);
        snprintf(s->err_msg, sizeof s->err_msg, "socket %d: %s", (int)s->id, msg);
    }
    if (s->reading) {
        s->reading = 0;
        vigil_deferred_reject(ctx, &s->read_d, vigil_error(ctx, s->err_code, "%s", s->err_msg));
    }
    if (!(s = vigil_sock_find(id))) return;
    while (s->wq) {
        struct vigil_wreq *w = s->wq;
        s->wq = w->next;
        if (w->d.live) vigil_deferred_reject(ctx, &w->d, vigil_error(ctx, s->err_code, "%s", s->err_msg));
        free(w->data);
        free(w);
        if (!(s = vigil_sock_find(id))) return;
    }
}

/* ---- connect: resolve, connect, handshake ------------------------------------------------------------ */

static void set_open(struct vigil_sock *s) {
    s->state = S_OPEN;
    s->deadline = 0;
    vigil_deferred_resolve(vigil.ctx, &s->connect_d, JS_NewInt32(vigil.ctx, s->id));
}

static void handshake_step(struct vigil_sock *s) {
    char msg[512];
    int r = vigil_tls_handshake(&s->t, &s->want_write, msg, sizeof msg);
    if (r < 0) connect_failed(s, "ETLS", "%s", msg);
    else if (r == 0) set_open(s);
}

static void start_connect(struct vigil_sock *s, const struct sockaddr *sa, socklen_t salen) {
    s->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        connect_failed(s, net_code(errno), "socket: %s", strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s->state = S_CONNECTING;
    if (connect(s->fd, sa, salen) != 0 && errno != EINPROGRESS) {
        int e = errno;
        connect_failed(s, net_code(e), "connect %s", strerror(e));
    }
}

static void connect_done(struct vigil_sock *s) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err) {
        connect_failed(s, net_code(err), "connect %s", strerror(err));
        return;
    }
    if (!s->tls) {
        set_open(s);
        return;
    }
    s->state = S_HANDSHAKE;
    vigil_tls_set_fd(&s->t, &s->fd);
    handshake_step(s);
}

static int connect_to_ip(struct vigil_sock *s, const char *addr) {
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    memset(&in4, 0, sizeof in4);
    memset(&in6, 0, sizeof in6);
    if (inet_pton(AF_INET, addr, &in4.sin_addr) == 1) {
        in4.sin_family = AF_INET;
        in4.sin_port = htons((uint16_t)s->port);
        start_connect(s, (struct sockaddr *)&in4, sizeof in4);
        return 1;
    }
    if (inet_pton(AF_INET6, addr, &in6.sin6_addr) == 1) {
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons((uint16_t)s->port);
        start_connect(s, (struct sockaddr *)&in6, sizeof in6);
        return 1;
    }
    return 0;
}

static void dns_send(struct vigil_sock *s) {
    const char *error;
    if (vigil_dns_ask(s->dns_fd, s->dns_id, s->host, s->dns_attempt, &error) != 0) {
        connect_failed(s, "ENOTFOUND", "%s", error);
        return;
    }
    s->dns_attempt++;
    s->dns_next = vigil_monotonic_ms() + VIGIL_DNS_ATTEMPT_MS;
}

static void dns_receive(struct vigil_sock *s) {
    char ip[INET_ADDRSTRLEN];
    int r = vigil_dns_receive(s->dns_fd, s->dns_id, ip);
    if (r == 1) {
        close(s->dns_fd);
        s->dns_fd = -1;
        connect_to_ip(s, ip);
    } else if (r == -1) {
        connect_failed(s, "ENOTFOUND", "no such host");
    } else if (r == -2) {
        connect_failed(s, "ENOTFOUND", "no address for this name");
    }
}

void vigil_sock_start(struct vigil_sock *s) {
    char addr[64];
    if (connect_to_ip(s, s->host)) return;
    if (vigil_hosts_lookup(s->host, addr, sizeof addr) && connect_to_ip(s, addr)) return;
    s->state = S_RESOLVING;
    s->dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->dns_fd < 0) {
        connect_failed(s, "ENOTFOUND", "socket: %s", strerror(errno));
        return;
    }
    uint16_t id;
    if (getrandom(&id, sizeof id, 0) != sizeof id) id = (uint16_t)vigil_monotonic_ms();
    s->dns_id = id;
    dns_send(s);
}

void vigil_sock_connect_step(struct vigil_sock *s) {
    switch (s->state) {
    case S_RESOLVING: dns_receive(s); break;
    case S_CONNECTING: connect_done(s); break;
    case S_HANDSHAKE: handshake_step(s); break;
    case S_OPEN: break;
    }
}

void vigil_sock_check_deadline(struct vigil_sock *s, int64_t now) {
    if (now >= s->deadline) connect_failed(s, "ETIMEDOUT", "not connected within %d ms", s->timeout_ms);
    else if (s->state == S_RESOLVING && now >= s->dns_next) dns_send(s);
}

/* ---- read / write ------------------------------------------------------------------------------------ */

/* Tries to complete the pending read; the socket may be gone afterwards. */
void vigil_sock_read(struct vigil_sock *s) {
    JSContext *ctx = vigil.ctx;
    if (!s->reading) return;
    ssize_t n;
    if (s->tls) {
        int r = mbedtls_ssl_read(&s->t.ssl, read_buf, sizeof read_buf);
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) return;
        if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == 0) {
            n = 0;
        } else if (r < 0) {
            char text[256];
            vigil_tls_error_text(r, text, sizeof text);
            socket_failed(s, r == MBEDTLS_ERR_NET_CONN_RESET ? "ECONNRESET" : "ETLS", text);
            return;
        } else {
            n = r;
        }
    } else {
        n = recv(s->fd, read_buf, sizeof read_buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
        if (n < 0) {
            socket_failed(s, net_code(errno), strerror(errno));
            return;
        }
    }
    s->reading = 0;
    if (n == 0) {
        s->eof = 1;
        vigil_deferred_resolve(ctx, &s->read_d, JS_NULL);
    } else {
        vigil_deferred_resolve(ctx, &s->read_d, JS_NewArrayBufferCopy(ctx, read_buf, (size_t)n));
    }
}

/* Hands queued bytes to the kernel (or TLS); resolves each write whose bytes are all handed over. */
void vigil_sock_write(struct vigil_sock *s) {
    JSContext *ctx = vigil.ctx;
    int32_t id = s->id;
    s->want_write = 0;
    while (s->wq) {
        struct vigil_wreq *w = s->wq;
        while (w->off < w->len) {
            ssize_t n;
            if (s->tls) {
                int r = mbedtls_ssl_write(&s->t.ssl, w->data + w->off, w->len - w->off);
                if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
                    s->want_write = 1;
                    return;
                }
                if (r < 0) {
                    char text[256];
                    vigil_tls_error_text(r, text, sizeof text);
                    socket_failed(s, r == MBEDTLS_ERR_NET_CONN_RESET ? "ECONNRESET" : "ETLS", text);
                    return;
                }
                n = r;
            } else {
                n = send(s->fd, w->data + w->off, w->len - w->off, MSG_NOSIGNAL);
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                    s->want_write = 1;
                    return;
                }
                if (n < 0) {
                    socket_failed(s, net_code(errno), strerror(errno));
                    return;
                }
            }
            w->off += (size_t)n;
        }
        s->wq = w->next;
        free(w->data);
        if (w->d.live) vigil_deferred_resolve(ctx, &w->d, JS_UNDEFINED);
        free(w);
        if (!(s = vigil_sock_find(id))) return;
    }
}
