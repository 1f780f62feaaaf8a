/*
 * net: host.net.connect/read/write/close over non-blocking sockets driven by the main poll() loop, with TLS
 * from mbedTLS (linked statically from Debian's libmbedtls-dev).
 *
 * Names resolve without glibc's NSS (a static binary cannot load the camera's NSS modules): a numeric
 * address, then /etc/hosts, then a small DNS client (A records over UDP to the nameservers of
 * /etc/resolv.conf). Reads are pull-based: the socket is polled for input only while the agent has a
 * read pending, which is its back-pressure.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "host.h"

#define READ_CHUNK 65536
#define DNS_ATTEMPT_MS 1000
#define MAX_NAMESERVERS 3

enum sock_state { S_RESOLVING, S_CONNECTING, S_HANDSHAKE, S_OPEN };

struct wreq {
    struct wreq *next;
    uint8_t *data;
    size_t len, off;
    struct vigil_deferred d; /* not live when the write was already resolved synchronously */
};

struct sock {
    struct sock *next;
    int32_t id;
    enum sock_state state;
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
    int verify;
    int want_write; /* the TLS layer waits for POLLOUT */
    int ip_literal_name;
    char server_name[256];
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca, cert;
    mbedtls_pk_context key;
    /* I/O */
    int reading;
    struct vigil_deferred read_d;
    int eof;
    char err_code[16];
    char err_msg[300];
    struct wreq *wq;
};

static struct sock *socks;
static int32_t next_id = 1;
static uint8_t read_buf[READ_CHUNK];
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static int drbg_ready;

static struct sock *find(int32_t id) {
    for (struct sock *s = socks; s; s = s->next)
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

static void tls_error_text(int ret, char *out, size_t size) {
    char buf[200];
    mbedtls_strerror(ret, buf, sizeof buf);
    snprintf(out, size, "%s (-0x%04x)", buf, (unsigned)-ret);
}

/* ---- lifetime ---------------------------------------------------------------------------------------- */

static void unlink_sock(struct sock *s) {
    for (struct sock **pp = &socks; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            return;
        }
    }
}

/* Frees everything; settles what is pending: reads with null, writes with ECLOSED, a connect with err. */
static void destroy(struct sock *s, const char *code, const char *msg) {
    JSContext *ctx = vigil.ctx;
    unlink_sock(s);
    if (s->fd >= 0) {
        if (s->tls && s->state == S_OPEN) mbedtls_ssl_close_notify(&s->ssl); /* best effort, non-blocking */
        close(s->fd);
    }
    if (s->dns_fd >= 0) close(s->dns_fd);
    if (s->tls) {
        mbedtls_ssl_free(&s->ssl);
        mbedtls_ssl_config_free(&s->conf);
        mbedtls_x509_crt_free(&s->ca);
        mbedtls_x509_crt_free(&s->cert);
        mbedtls_pk_free(&s->key);
    }
    if (s->connect_d.live) vigil_deferred_reject(ctx, &s->connect_d, vigil_error(ctx, code, "%s", msg));
    if (s->reading) {
        s->reading = 0;
        vigil_deferred_resolve(ctx, &s->read_d, JS_NULL);
    }
    while (s->wq) {
        struct wreq *w = s->wq;
        s->wq = w->next;
        if (w->d.live) vigil_deferred_reject(ctx, &w->d, vigil_error(ctx, "ECLOSED", "socket %d is closed", (int)s->id));
        free(w->data);
        free(w);
    }
    free(s);
}

static void connect_failed(struct sock *s, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void connect_failed(struct sock *s, const char *code, const char *fmt, ...) {
    char msg[400];
    int n = snprintf(msg, sizeof msg, "%s:%d: ", s->host, s->port);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    destroy(s, code, msg);
}

/* A failure on an open socket: kept, so that every later read or write rejects with it. */
static void socket_failed(struct sock *s, const char *code, const char *msg) {
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
    if (!(s = find(id))) return;
    while (s->wq) {
        struct wreq *w = s->wq;
        s->wq = w->next;
        if (w->d.live) vigil_deferred_reject(ctx, &w->d, vigil_error(ctx, s->err_code, "%s", s->err_msg));
        free(w->data);
        free(w);
        if (!(s = find(id))) return;
    }
}

/* ---- TLS ----------------------------------------------------------------------------------------------- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
    int fd = *(int *)ctx;
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (errno == EPIPE || errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
    int fd = *(int *)ctx;
    ssize_t n = recv(fd, buf, len, 0);
    if (n >= 0) return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_READ;
    if (errno == EPIPE || errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

static int drbg_setup(void) {
    if (drbg_ready) return 0;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    static const unsigned char pers[] = "vigil-host-native";
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, pers, sizeof pers - 1) != 0) return -1;
    drbg_ready = 1;
    return 0;
}

/* A device path of a PEM file, mapped through --root like every other file the agent names. */
static int tls_file(const char *device, char *real, size_t size) {
    char dev[4096];
    return vigil_fs_resolve(device, 1, real, size, dev, sizeof dev);
}

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

static int is_ip_literal(const char *name) {
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

/* Sets up the TLS state from the tls options; on failure fills msg and returns -1. */
static int tls_setup(JSContext *ctx, struct sock *s, JSValueConst tls, char *msg, size_t msize) {
    char path[4096], real[4200];
    int ret;
    s->tls = 1;
    mbedtls_ssl_init(&s->ssl);
    mbedtls_ssl_config_init(&s->conf);
    mbedtls_x509_crt_init(&s->ca);
    mbedtls_x509_crt_init(&s->cert);
    mbedtls_pk_init(&s->key);
    if (drbg_setup() != 0) {
        snprintf(msg, msize, "cannot seed the random generator");
        return -1;
    }
    JSValue v = JS_GetPropertyStr(ctx, tls, "verify");
    s->verify = !(JS_IsBool(v) && !JS_ToBool(ctx, v));
    JS_FreeValue(ctx, v);
    if (!opt_string(ctx, tls, "serverName", s->server_name, sizeof s->server_name))
        snprintf(s->server_name, sizeof s->server_name, "%s", s->host);
    s->ip_literal_name = is_ip_literal(s->server_name);

    if (opt_string(ctx, tls, "caFile", path, sizeof path)) {
        if (tls_file(path, real, sizeof real) != 0 || (ret = mbedtls_x509_crt_parse_file(&s->ca, real)) != 0) {
            snprintf(msg, msize, "cannot read %.400s", path);
            return -1;
        }
    } else if (s->verify) {
        /* The system store: Debian's bundle path, else every certificate in /etc/ssl/certs. */
        if (mbedtls_x509_crt_parse_file(&s->ca, "/etc/ssl/certs/ca-certificates.crt") < 0 &&
            mbedtls_x509_crt_parse_path(&s->ca, "/etc/ssl/certs") < 0) {
            snprintf(msg, msize, "no CA file given and no system CA store in /etc/ssl/certs");
            return -1;
        }
    }
    int has_cert = opt_string(ctx, tls, "certFile", path, sizeof path) != NULL;
    if (has_cert && (tls_file(path, real, sizeof real) != 0 || mbedtls_x509_crt_parse_file(&s->cert, real) != 0)) {
        snprintf(msg, msize, "cannot read %.400s", path);
        return -1;
    }
    int has_key = opt_string(ctx, tls, "keyFile", path, sizeof path) != NULL;
    if (has_key && (tls_file(path, real, sizeof real) != 0 || mbedtls_pk_parse_keyfile(&s->key, real, NULL) != 0)) {
        snprintf(msg, msize, "cannot read %.400s", path);
        return -1;
    }
    if ((ret = mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                           MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
        goto fail;
    mbedtls_ssl_conf_min_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3); /* TLS 1.2 */
    mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_authmode(&s->conf, s->verify ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_ca_chain(&s->conf, &s->ca, NULL);
    if (has_cert && has_key && (ret = mbedtls_ssl_conf_own_cert(&s->conf, &s->cert, &s->key)) != 0) goto fail;
    if ((ret = mbedtls_ssl_setup(&s->ssl, &s->conf)) != 0) goto fail;
    /* mbedTLS 2.28 matches names against dNSName and CN only: an IP address is checked after the
     * handshake against the certificate's iPAddress entries (check_ip_san), and sends no SNI. */
    if (!s->ip_literal_name && (ret = mbedtls_ssl_set_hostname(&s->ssl, s->server_name)) != 0) goto fail;
    return 0;
fail:
    tls_error_text(ret, msg, msize);
    return -1;
}

/* True when the peer certificate lists `name` (an IP literal) among its subjectAltName iPAddress entries. */
static int check_ip_san(const mbedtls_x509_crt *crt, const char *name) {
    unsigned char ip[16];
    size_t iplen = inet_pton(AF_INET, name, ip) == 1 ? 4 : (inet_pton(AF_INET6, name, ip) == 1 ? 16 : 0);
    if (!crt || !iplen) return 0;
    static const unsigned char san_oid[] = {0x06, 0x03, 0x55, 0x1d, 0x11};
    const unsigned char *raw = crt->raw.p, *end = crt->raw.p + crt->raw.len;
    for (const unsigned char *p = raw; p + sizeof san_oid < end; p++) {
        if (memcmp(p, san_oid, sizeof san_oid) != 0) continue;
        unsigned char *q = (unsigned char *)p + sizeof san_oid;
        size_t len;
        int critical;
        if (mbedtls_asn1_get_bool(&q, end, &critical) != 0 && q >= end) return 0;
        if (mbedtls_asn1_get_tag(&q, end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0) return 0;
        unsigned char *oend = q + len;
        if (mbedtls_asn1_get_tag(&q, oend, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) return 0;
        while (q < oend) {
            unsigned char tag = *q++;
            if (mbedtls_asn1_get_len(&q, oend, &len) != 0) return 0;
            if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && len == iplen && memcmp(q, ip, iplen) == 0) return 1;
            q += len;
        }
        return 0;
    }
    return 0;
}

/* ---- connect: resolve, connect, handshake ------------------------------------------------------------ */

static void set_open(struct sock *s) {
    s->state = S_OPEN;
    s->deadline = 0;
    vigil_deferred_resolve(vigil.ctx, &s->connect_d, JS_NewInt32(vigil.ctx, s->id));
}

static void handshake_step(struct sock *s) {
    int ret = mbedtls_ssl_handshake(&s->ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        s->want_write = ret == MBEDTLS_ERR_SSL_WANT_WRITE;
        return;
    }
    if (ret != 0) {
        char text[256], why[512] = "";
        tls_error_text(ret, text, sizeof text);
        uint32_t flags = mbedtls_ssl_get_verify_result(&s->ssl);
        if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags) {
            mbedtls_x509_crt_verify_info(why, sizeof why, "", flags);
            for (char *c = why; *c; c++)
                if (*c == '\n') *c = ';';
        }
        connect_failed(s, "ETLS", "TLS handshake failed: %s%s%s", text, why[0] ? ": " : "", why);
        return;
    }
    if (s->verify && s->ip_literal_name && !check_ip_san(mbedtls_ssl_get_peer_cert(&s->ssl), s->server_name)) {
        connect_failed(s, "ETLS", "certificate does not name IP address %s", s->server_name);
        return;
    }
    set_open(s);
}

static void start_connect(struct sock *s, const struct sockaddr *sa, socklen_t salen) {
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

static void connect_done(struct sock *s) {
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
    mbedtls_ssl_set_bio(&s->ssl, &s->fd, bio_send, bio_recv, NULL);
    handshake_step(s);
}

static int connect_to_ip(struct sock *s, const char *addr) {
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

/* /etc/hosts: the first address listed for the name (IPv4 preferred). */
static int hosts_lookup(const char *name, char *out, size_t size) { return vigil_hosts_lookup_in(fopen("/etc/hosts", "r"), name, out, size); }

/* The same over an open hosts file (closed here), or NULL; exposed for the fuzzers. */
int vigil_hosts_lookup_in(FILE *f, const char *name, char *out, size_t size) {
    char line[512], v6[64] = "";
    int found = 0;
    if (f) {
        while (!found && fgets(line, sizeof line, f)) {
            char *hash = strchr(line, '#');
            if (hash) *hash = 0;
            char *save = NULL, *addr = strtok_r(line, " \t\r\n", &save);
            if (!addr) continue;
            for (char *n = strtok_r(NULL, " \t\r\n", &save); n; n = strtok_r(NULL, " \t\r\n", &save)) {
                if (strcasecmp(n, name) != 0) continue;
                if (strchr(addr, ':')) {
                    if (!v6[0]) snprintf(v6, sizeof v6, "%s", addr);
                } else {
                    snprintf(out, size, "%s", addr);
                    found = 1;
                }
                break;
            }
        }
        fclose(f);
    }
    if (!found && v6[0]) {
        snprintf(out, size, "%s", v6);
        found = 1;
    }
    if (!found && strcasecmp(name, "localhost") == 0) {
        snprintf(out, size, "127.0.0.1");
        found = 1;
    }
    return found;
}

/* Nameservers from /etc/resolv.conf; VIGIL_DNS_SERVER=ip:port overrides them (tests). */
static int nameservers(struct sockaddr_in *out, int max) {
    int n = 0;
    const char *env = getenv("VIGIL_DNS_SERVER");
    if (env && *env) {
        char ip[64];
        int port = 53;
        const char *colon = strrchr(env, ':');
        snprintf(ip, sizeof ip, "%.*s", colon ? (int)(colon - env) : (int)strlen(env), env);
        if (colon) port = atoi(colon + 1);
        memset(&out[0], 0, sizeof out[0]);
        out[0].sin_family = AF_INET;
        out[0].sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, ip, &out[0].sin_addr) == 1) return 1;
        return 0;
    }
    FILE *f = fopen("/etc/resolv.conf", "r");
    char line[256];
    while (f && n < max && fgets(line, sizeof line, f)) {
        char ip[64], *q = line;
        while (*q == ' ' || *q == '\t') q++;
        if (strncmp(q, "nameserver", 10) != 0 || (q[10] != ' ' && q[10] != '\t')) continue;
        q += 10;
        while (*q == ' ' || *q == '\t') q++;
        snprintf(ip, sizeof ip, "%.*s", (int)strcspn(q, " \t\r\n#"), q);
        memset(&out[n], 0, sizeof out[n]);
        out[n].sin_family = AF_INET;
        out[n].sin_port = htons(53);
        if (inet_pton(AF_INET, ip, &out[n].sin_addr) == 1) n++;
    }
    if (f) fclose(f);
    if (n == 0 && max > 0) { /* resolv.conf's own default */
        memset(&out[0], 0, sizeof out[0]);
        out[0].sin_family = AF_INET;
        out[0].sin_port = htons(53);
        out[0].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        n = 1;
    }
    return n;
}

static void dns_send(struct sock *s) {
    struct sockaddr_in ns[MAX_NAMESERVERS];
    int n = nameservers(ns, MAX_NAMESERVERS);
    if (n == 0) {
        connect_failed(s, "ENOTFOUND", "no nameserver to ask");
        return;
    }
    uint8_t q[300];
    size_t len = 12;
    memset(q, 0, 12);
    q[0] = (uint8_t)(s->dns_id >> 8);
    q[1] = (uint8_t)s->dns_id;
    q[2] = 0x01; /* recursion desired */
    q[5] = 1;    /* one question */
    const char *p = s->host;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > 63 || len + l + 6 > sizeof q) {
            connect_failed(s, "ENOTFOUND", "not a valid host name");
            return;
        }
        q[len++] = (uint8_t)l;
        memcpy(q + len, p, l);
        len += l;
        p += l + (dot ? 1 : 0);
    }
    q[len++] = 0;
    q[len++] = 0, q[len++] = 1; /* A */
    q[len++] = 0, q[len++] = 1; /* IN */
    struct sockaddr_in *to = &ns[s->dns_attempt % n];
    sendto(s->dns_fd, q, len, 0, (struct sockaddr *)to, sizeof *to);
    s->dns_attempt++;
    s->dns_next = vigil_monotonic_ms() + DNS_ATTEMPT_MS;
}

static int dns_skip_name(const uint8_t *m, size_t len, size_t *off) {
    while (*off < len) {
        uint8_t l = m[*off];
        if ((l & 0xc0) == 0xc0) {
            *off += 2;
            return 0;
        }
        *off += 1;
        if (l == 0) return 0;
        *off += l;
    }
    return -1;
}

/*
 * A DNS answer (bytes from the network, trusted in nothing): 1 with the first A record in ip, 0 when it is
 * not an answer to query id (or a SERVFAIL-like code: ask again), -1 for NXDOMAIN, -2 for no A record.
 */
int vigil_dns_parse_answer(const uint8_t *m, size_t len, uint16_t id, char ip[INET_ADDRSTRLEN]) {
    if (len < 12) return 0;
    if (((m[0] << 8) | m[1]) != id || !(m[2] & 0x80)) return 0; /* not our answer */
    int rcode = m[3] & 0x0f;
    int qd = (m[4] << 8) | m[5], an = (m[6] << 8) | m[7];
    if (rcode == 3) return -1;
    size_t off = 12;
    for (int i = 0; i < qd; i++) {
        if (dns_skip_name(m, len, &off) != 0) return 0;
        off += 4;
    }
    for (int i = 0; i < an && off < len; i++) {
        if (dns_skip_name(m, len, &off) != 0 || off + 10 > len) break;
        int type = (m[off] << 8) | m[off + 1];
        size_t rdlen = (size_t)((m[off + 8] << 8) | m[off + 9]);
        off += 10;
        if (off + rdlen > len) break;
        if (type == 1 && rdlen == 4) {
            inet_ntop(AF_INET, m + off, ip, INET_ADDRSTRLEN);
            return 1;
        }
        off += rdlen;
    }
    if (rcode != 0) return 0; /* SERVFAIL and such: the next attempt may ask another server */
    return -2;
}

static void dns_receive(struct sock *s) {
    uint8_t m[1500];
    ssize_t n = recv(s->dns_fd, m, sizeof m, 0);
    if (n < 12) return;
    char ip[INET_ADDRSTRLEN];
    int r = vigil_dns_parse_answer(m, (size_t)n, s->dns_id, ip);
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

static void start_resolve(struct sock *s) {
    char addr[64];
    if (connect_to_ip(s, s->host)) return;
    if (hosts_lookup(s->host, addr, sizeof addr) && connect_to_ip(s, addr)) return;
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

    struct sock *s = calloc(1, sizeof *s);
    if (!s) return JS_ThrowOutOfMemory(ctx);
    s->fd = -1;
    s->dns_fd = -1;
    s->id = next_id++;
    snprintf(s->host, sizeof s->host, "%s", host);
    s->port = port;
    s->timeout_ms = (int)timeout;
    s->deadline = vigil_monotonic_ms() + (int64_t)timeout;
    JSValue promise = vigil_deferred_new(ctx, &s->connect_d);
    s->next = socks;
    socks = s;
    JSValue tls = JS_GetPropertyStr(ctx, opts, "tls");
    if (JS_IsObject(tls)) {
        char msg[512];
        if (tls_setup(ctx, s, tls, msg, sizeof msg) != 0) {
            JS_FreeValue(ctx, tls);
            destroy(s, "ETLS", msg);
            return promise;
        }
    }
    JS_FreeValue(ctx, tls);
    start_resolve(s);
    return promise;
}

/* ---- read / write / close ---------------------------------------------------------------------------- */

/* Tries to complete the pending read; the socket may be gone afterwards. */
static void do_read(struct sock *s) {
    JSContext *ctx = vigil.ctx;
    if (!s->reading) return;
    ssize_t n;
    if (s->tls) {
        int r = mbedtls_ssl_read(&s->ssl, read_buf, sizeof read_buf);
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) return;
        if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == 0) {
            n = 0;
        } else if (r < 0) {
            char text[256];
            tls_error_text(r, text, sizeof text);
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
static void do_write(struct sock *s) {
    JSContext *ctx = vigil.ctx;
    int32_t id = s->id;
    s->want_write = 0;
    while (s->wq) {
        struct wreq *w = s->wq;
        while (w->off < w->len) {
            ssize_t n;
            if (s->tls) {
                int r = mbedtls_ssl_write(&s->ssl, w->data + w->off, w->len - w->off);
                if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
                    s->want_write = 1;
                    return;
                }
                if (r < 0) {
                    char text[256];
                    tls_error_text(r, text, sizeof text);
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
        if (!(s = find(id))) return;
    }
}

static struct sock *open_sock(JSContext *ctx, int argc, JSValueConst *argv, JSValue *rejection) {
    int32_t id = -1;
    if (argc < 1 || JS_ToInt32(ctx, &id, argv[0]) != 0) JS_FreeValue(ctx, JS_GetException(ctx));
    struct sock *s = find(id);
    if (!s || s->state != S_OPEN) {
        *rejection = vigil_rejected(ctx, vigil_error(ctx, "EBADF", "socket %d", (int)id));
        return NULL;
    }
    return s;
}

static JSValue js_read(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    JSValue rej;
    struct sock *s = open_sock(ctx, argc, argv, &rej);
    if (!s) return rej;
    if (s->reading) return vigil_rejected(ctx, vigil_error(ctx, "EINVAL", "socket %d already has a read pending", (int)s->id));
    if (s->err_code[0]) return vigil_rejected(ctx, vigil_error(ctx, s->err_code, "%s", s->err_msg));
    if (s->eof) return vigil_resolved(ctx, JS_NULL);
    JSValue p = vigil_deferred_new(ctx, &s->read_d);
    s->reading = 1;
    /* TLS may hold decrypted bytes that poll() cannot see. */
    if (s->tls && mbedtls_ssl_get_bytes_avail(&s->ssl) > 0) do_read(s);
    return p;
}

static JSValue js_write(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    JSValue rej;
    struct sock *s = open_sock(ctx, argc, argv, &rej);
    if (!s) return rej;
    if (s->err_code[0]) return vigil_rejected(ctx, vigil_error(ctx, s->err_code, "%s", s->err_msg));
    size_t len = 0;
    uint8_t *data = argc > 1 ? JS_GetArrayBuffer(ctx, &len, argv[1]) : NULL;
    JS_FreeValue(ctx, JS_GetException(ctx));
    if (!data && len == 0 && (argc < 2 || !JS_IsObject(argv[1])))
        return vigil_rejected(ctx, vigil_error(ctx, "EINVAL", "write needs an ArrayBuffer"));
    struct wreq *w = calloc(1, sizeof *w);
    w->data = malloc(len ? len : 1);
    if (len) memcpy(w->data, data, len);
    w->len = len;
    struct wreq **tail = &s->wq;
    while (*tail) tail = &(*tail)->next;
    *tail = w;
    JSValue p = vigil_deferred_new(ctx, &w->d);
    if (s->wq == w) do_write(s);
    return p;
}

static JSValue js_close(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    int32_t id = -1;
    if (argc < 1 || JS_ToInt32(ctx, &id, argv[0]) != 0) JS_FreeValue(ctx, JS_GetException(ctx));
    struct sock *s = find(id);
    if (s && s->state == S_OPEN) destroy(s, "ECLOSED", "closed");
    return JS_UNDEFINED;
}

/* ---- the loop's view ----------------------------------------------------------------------------------- */

#define MAX_NET_POLL 63
static int32_t poll_ids[MAX_NET_POLL];

int vigil_net_poll_prepare(struct pollfd *fds, int max, int64_t *timeout_ms) {
    int n = 0;
    int64_t now = vigil_monotonic_ms();
    for (struct sock *s = socks; s && n < max && n < MAX_NET_POLL; s = s->next) {
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
        struct sock *s = find(poll_ids[i]);
        if (!s) continue;
        short re = fds[i].revents;
        switch (s->state) {
        case S_RESOLVING: dns_receive(s); break;
        case S_CONNECTING: connect_done(s); break;
        case S_HANDSHAKE: handshake_step(s); break;
        case S_OPEN:
            if (re & (POLLOUT | POLLERR | POLLHUP)) {
                if (s->wq || s->want_write) do_write(s);
                if (!(s = find(poll_ids[i]))) break;
            }
            if (re & (POLLIN | POLLERR | POLLHUP)) do_read(s);
            break;
        }
    }
    /* Deadlines: connects that ran out of time, DNS attempts to repeat. */
    int64_t now = vigil_monotonic_ms();
    int32_t ids[256];
    int count = 0;
    for (struct sock *s = socks; s && count < 256; s = s->next)
        if (s->state != S_OPEN) ids[count++] = s->id;
    for (int i = 0; i < count; i++) {
        struct sock *s = find(ids[i]);
        if (!s || s->state == S_OPEN) continue;
        if (now >= s->deadline) connect_failed(s, "ETIMEDOUT", "not connected within %d ms", s->timeout_ms);
        else if (s->state == S_RESOLVING && now >= s->dns_next) dns_send(s);
    }
}

int vigil_net_active(void) {
    /* Open sockets with nothing pending do not keep the loop alive; connects and pending I/O do. */
    for (struct sock *s = socks; s; s = s->next)
        if (s->state != S_OPEN || s->reading || s->wq) return 1;
    return 0;
}

void vigil_net_close_all(void) {
    while (socks) destroy(socks, "ECLOSED", "the host is stopping");
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
