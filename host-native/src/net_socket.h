/* A host.net socket's life (net_socket.c): resolve, connect, TLS handshake, then reads and writes. host_net.c
 * is the JS side of it and the loop's view of all sockets. */
#ifndef VIGIL_NET_SOCKET_H
#define VIGIL_NET_SOCKET_H

#include <stddef.h>
#include <stdint.h>

#include "net_tls.h"
#include "runtime.h"

enum vigil_sock_state { S_RESOLVING, S_CONNECTING, S_HANDSHAKE, S_OPEN };

struct vigil_wreq {
    struct vigil_wreq *next;
    uint8_t *data;
    size_t len, off;
    struct vigil_deferred d; /* not live when the write was already resolved synchronously */
};

struct vigil_sock {
    struct vigil_sock *next;
    int32_t id;
    enum vigil_sock_state state;
    int fd;
    char host[256];
    int port;
    int64_t deadline;
    int timeout_ms;
    struct vigil_deferred connect_d;
    /* DNS */
    int dns_fd;
    uint16_t dns_id;
    int dns_attempt;
    int64_t dns_next;
    /* TLS */
    int tls;
    int want_write; /* the TLS layer waits for POLLOUT */
    struct vigil_tls t;
    /* I/O */
    int reading;
    struct vigil_deferred read_d;
    int eof;
    char err_code[16];
    char err_msg[300];
    struct vigil_wreq *wq;
};

/* Every socket, newest first. */
extern struct vigil_sock *vigil_socks;

struct vigil_sock *vigil_sock_find(int32_t id);
/* A new socket in the list, not connecting yet (a TLS one sets tls and sets up t first); NULL without memory. */
struct vigil_sock *vigil_sock_new(const char *host, int port, double timeout_ms);
/* Frees everything; settles what is pending: reads with null, writes with ECLOSED, a connect with code. */
void vigil_sock_destroy(struct vigil_sock *s, const char *code, const char *msg);
/* Resolves the host (numeric, /etc/hosts, DNS) and connects; the connect promise settles from the loop. */
void vigil_sock_start(struct vigil_sock *s);
/* The socket (not open yet) is ready in its current state: the next step of resolve, connect, handshake. */
void vigil_sock_connect_step(struct vigil_sock *s);
/* A socket not open yet at monotonic ms now: fails at its connect deadline, asks DNS again when due. */
void vigil_sock_check_deadline(struct vigil_sock *s, int64_t now);
/* Tries to complete the pending read; hands queued bytes over. The socket may be gone afterwards. */
void vigil_sock_read(struct vigil_sock *s);
void vigil_sock_write(struct vigil_sock *s);

#endif
