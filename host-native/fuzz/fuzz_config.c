/*
 * libFuzzer harness: text files the host reads in C: config and param.conf lines (host_config.c,
 * vigil_config_parse_line) and /etc/hosts (net_dns.c, vigil_hosts_lookup_in). The first line of the
 * input is the name to look up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "net_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* config: every line, NUL-terminated, as fgets hands them over (at most 4095 bytes) */
    char line[4096];
    size_t at = 0;
    while (at < size) {
        size_t n = 0;
        while (at < size && n < sizeof line - 1) {
            char c = (char)data[at++];
            line[n++] = c;
            if (c == '\n') break;
        }
        line[n] = 0;
        char *k = NULL, *v = NULL;
        int r = vigil_config_parse_line(line, &k, &v);
        if (r == 1 && (!k || !v || !*k)) abort();
    }
    /* hosts: name on the first line, the file after it */
    const uint8_t *nl = memchr(data, '\n', size);
    char name[256];
    size_t nlen = nl ? (size_t)(nl - data) : 0;
    if (nlen >= sizeof name) nlen = sizeof name - 1;
    memcpy(name, data, nlen);
    name[nlen] = 0;
    size_t rest = nl ? size - (size_t)(nl - data) - 1 : 0;
    char *copy = malloc(rest + 1);
    if (rest) memcpy(copy, nl + 1, rest);
    FILE *f = rest ? fmemopen(copy, rest, "r") : NULL;
    char out[64];
    vigil_hosts_lookup_in(f, name, out, sizeof out);
    free(copy);
    return 0;
}
