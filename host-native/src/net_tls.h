/* TLS for host.net sockets: a TLS 1.2 client configuration from the agent's tls options (mbedTLS). */
#ifndef VIGIL_NET_TLS_H
#define VIGIL_NET_TLS_H

#include <stddef.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

/* The agent's `tls` options of host.net.connect(), read by host_net.c. NULL strings are absent options. */
struct vigil_tls_options {
    int verify;
    const char *server_name, *ca_file, *cert_file, *key_file;
};

struct vigil_tls {
    int verify;
    int ip_literal_name;
    char server_name[256];
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca, cert;
    mbedtls_pk_context key;
};

/* Sets up t for a connection to host (the server name when none is given); on failure fills msg and returns
 * -1. Either way t needs vigil_tls_free() afterwards. */
int vigil_tls_setup(struct vigil_tls *t, const char *host, const struct vigil_tls_options *o, char *msg, size_t msize);
void vigil_tls_free(struct vigil_tls *t);
/* Hands mbedTLS the non-blocking socket *fd (which must outlive t). */
void vigil_tls_set_fd(struct vigil_tls *t, int *fd);
/* One step of the handshake: 0 done and the name checked, 1 wants more (*want_write: POLLOUT, else POLLIN),
 * -1 failed (msg says why). */
int vigil_tls_handshake(struct vigil_tls *t, int *want_write, char *msg, size_t msize);
/* "<mbedTLS's text> (-0x<code>)". */
void vigil_tls_error_text(int ret, char *out, size_t size);

#endif
