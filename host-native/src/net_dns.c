/*
 * Name resolution for host.net (net_dns.h): /etc/hosts, then a DNS client that asks the nameservers of
 * /etc/resolv.conf (or VIGIL_DNS_SERVER=ip:port, tests only) for an A record over UDP. The answer is bytes
 * from the network, trusted in nothing (fuzz/fuzz_dns.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "net_dns.h"

#define MAX_NAMESERVERS 3

/* /etc/hosts: the first address listed for the name (IPv4 preferred). */
int vigil_hosts_lookup(const char *name, char *out, size_t size) { return vigil_hosts_lookup_in(fopen("/etc/hosts", "r"), name, out, size); }

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

int vigil_dns_ask(int fd, uint16_t id, const char *host, int attempt, const char **error) {
    struct sockaddr_in ns[MAX_NAMESERVERS];
    int n = nameservers(ns, MAX_NAMESERVERS);
    if (n == 0) {
        *error = "no nameserver to ask";
        return -1;
    }
    uint8_t q[300];
    size_t len = 12;
    memset(q, 0, 12);
    q[0] = (uint8_t)(id >> 8);
    q[1] = (uint8_t)id;
    q[2] = 0x01; /* recursion desired */
    q[5] = 1;    /* one question */
    const char *p = host;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > 63 || len + l + 6 > sizeof q) {
            *error = "not a valid host name";
            return -1;
        }
        q[len++] = (uint8_t)l;
        memcpy(q + len, p, l);
        len += l;
        p += l + (dot ? 1 : 0);
    }
    q[len++] = 0;
    q[len++] = 0, q[len++] = 1; /* A */
    q[len++] = 0, q[len++] = 1; /* IN */
    struct sockaddr_in *to = &ns[attempt % n];
    sendto(fd, q, len, 0, (struct sockaddr *)to, sizeof *to);
    return 0;
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

int vigil_dns_receive(int fd, uint16_t id, char ip[INET_ADDRSTRLEN]) {
    uint8_t m[1500];
    ssize_t n = recv(fd, m, sizeof m, 0);
    if (n < 12) return 0;
    return vigil_dns_parse_answer(m, (size_t)n, id, ip);
}
