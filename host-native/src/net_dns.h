/* Names for host.net without glibc's NSS (a static binary cannot load the camera's NSS modules): /etc/hosts
 * and a small DNS client (A records over UDP to the nameservers of /etc/resolv.conf). */
#ifndef VIGIL_NET_DNS_H
#define VIGIL_NET_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A DNS question is asked again (of the next nameserver) after this long without an answer. */
#define VIGIL_DNS_ATTEMPT_MS 1000

/* /etc/hosts: the first address listed for the name (IPv4 preferred); "localhost" always resolves. 1 found. */
int vigil_hosts_lookup(const char *name, char *out, size_t size);
/* The same over an open hosts file (closed here), or NULL; exposed for the fuzzers (fuzz/). */
int vigil_hosts_lookup_in(FILE *f, const char *name, char *out, size_t size);
/* Sends attempt number `attempt` of the A question for host over the UDP socket fd, to one of the nameservers
 * in turn. 0, or -1 with *error set ("no nameserver to ask", "not a valid host name"). */
int vigil_dns_ask(int fd, uint16_t id, const char *host, int attempt, const char **error);
/* Reads one datagram from fd and parses it as below (0 when it is none of ours). */
int vigil_dns_receive(int fd, uint16_t id, char ip[16]);
/* A DNS answer: 1 with the first A record in ip (INET_ADDRSTRLEN, 16 bytes), 0 when it is not an answer to
 * query id (or a SERVFAIL-like code: ask again), -1 for NXDOMAIN, -2 for no A record. Exposed for fuzz/. */
int vigil_dns_parse_answer(const uint8_t *m, size_t len, uint16_t id, char ip[16]);

#endif
