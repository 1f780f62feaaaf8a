/*
 * TLS for host.net (net_tls.h): mbedTLS as a TLS 1.2 client, with the CA, certificate and key files named by
 * device path (through --root), the system CA store otherwise, and the subjectAltName check for a server
 * named by IP address, which mbedTLS 2.28 does not do itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/platform_time.h>

#include "host.h"
#include "net_tls.h"

/* Certificate dates are checked against mbedtls_time() (time_t, see mbedtls_config.h): 64-bit, or every
 * certificate reads as not yet valid from 2038-01-19 on armv7hf. */
_Static_assert(sizeof(mbedtls_time_t) == 8, "mbedtls_time_t must be 64-bit: build with -D_TIME_BITS=64 (Makefile TIME64)");

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static int drbg_ready;

void vigil_tls_error_text(int ret, char *out, size_t size) {
    char buf[200];
    mbedtls_strerror(ret, buf, sizeof buf);
    snprintf(out, size, "%s (-0x%04x)", buf, (unsigned)-ret);
}

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

static int is_ip_literal(const char *name) {
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

int vigil_tls_setup(struct vigil_tls *t, const char *host, const struct vigil_tls_options *o, char *msg, size_t msize) {
    char real[4200];
    int ret;
    mbedtls_ssl_init(&t->ssl);
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_x509_crt_init(&t->ca);
    mbedtls_x509_crt_init(&t->cert);
    mbedtls_pk_init(&t->key);
    if (drbg_setup() != 0) {
        snprintf(msg, msize, "cannot seed the random generator");
        return -1;
    }
    t->verify = o->verify;
    snprintf(t->server_name, sizeof t->server_name, "%s", o->server_name ? o->server_name : host);
    t->ip_literal_name = is_ip_literal(t->server_name);

    if (o->ca_file) {
        if (tls_file(o->ca_file, real, sizeof real) != 0 || (ret = mbedtls_x509_crt_parse_file(&t->ca, real)) != 0) {
            snprintf(msg, msize, "cannot read %.400s", o->ca_file);
            return -1;
        }
    } else if (t->verify) {
        /* The system store: Debian's bundle path, else every certificate in /etc/ssl/certs. */
        if (mbedtls_x509_crt_parse_file(&t->ca, "/etc/ssl/certs/ca-certificates.crt") < 0 &&
            mbedtls_x509_crt_parse_path(&t->ca, "/etc/ssl/certs") < 0) {
            snprintf(msg, msize, "no CA file given and no system CA store in /etc/ssl/certs");
            return -1;
        }
    }
    if (o->cert_file && (tls_file(o->cert_file, real, sizeof real) != 0 || mbedtls_x509_crt_parse_file(&t->cert, real) != 0)) {
        snprintf(msg, msize, "cannot read %.400s", o->cert_file);
        return -1;
    }
    if (o->key_file && (tls_file(o->key_file, real, sizeof real) != 0 || mbedtls_pk_parse_keyfile(&t->key, real, NULL) != 0)) {
        snprintf(msg, msize, "cannot read %.400s", o->key_file);
        return -1;
    }
    if ((ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                           MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
        goto fail;
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3); /* TLS 1.2 */
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_authmode(&t->conf, t->verify ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
    if (o->cert_file && o->key_file && (ret = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key)) != 0) goto fail;
    if ((ret = mbedtls_ssl_setup(&t->ssl, &t->conf)) != 0) goto fail;
    /* mbedTLS 2.28 matches names against dNSName and CN only: an IP address is checked after the
     * handshake against the certificate's iPAddress entries (check_ip_san), and sends no SNI. */
    if (!t->ip_literal_name && (ret = mbedtls_ssl_set_hostname(&t->ssl, t->server_name)) != 0) goto fail;
    return 0;
fail:
    vigil_tls_error_text(ret, msg, msize);
    return -1;
}

void vigil_tls_free(struct vigil_tls *t) {
    mbedtls_ssl_free(&t->ssl);
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_x509_crt_free(&t->ca);
    mbedtls_x509_crt_free(&t->cert);
    mbedtls_pk_free(&t->key);
}

void vigil_tls_set_fd(struct vigil_tls *t, int *fd) { mbedtls_ssl_set_bio(&t->ssl, fd, bio_send, bio_recv, NULL); }

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

int vigil_tls_handshake(struct vigil_tls *t, int *want_write, char *msg, size_t msize) {
    int ret = mbedtls_ssl_handshake(&t->ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        *want_write = ret == MBEDTLS_ERR_SSL_WANT_WRITE;
        return 1;
    }
    if (ret != 0) {
        char text[256], why[512] = "";
        vigil_tls_error_text(ret, text, sizeof text);
        uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
        if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags) {
            mbedtls_x509_crt_verify_info(why, sizeof why, "", flags);
            for (char *c = why; *c; c++)
                if (*c == '\n') *c = ';';
        }
        snprintf(msg, msize, "TLS handshake failed: %s%s%s", text, why[0] ? ": " : "", why);
        return -1;
    }
    if (t->verify && t->ip_literal_name && !check_ip_san(mbedtls_ssl_get_peer_cert(&t->ssl), t->server_name)) {
        snprintf(msg, msize, "certificate does not name IP address %s", t->server_name);
        return -1;
    }
    return 0;
}
