/*
 * libFuzzer harness: a DNS answer from the network (net_dns.c, vigil_dns_parse_answer). The first two
 * bytes are the message id, as a real answer to our query would carry, so the parser goes past its
 * "is this ours" check.
 */
#include <stdlib.h>
#include <string.h>

#include "net_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *m = malloc(size ? size : 1);
    memcpy(m, data, size);
    char ip[16];
    uint16_t id = size >= 2 ? (uint16_t)(m[0] << 8 | m[1]) : 0;
    int r = vigil_dns_parse_answer(m, size, id, ip);
    if (r == 1 && strnlen(ip, sizeof ip) >= sizeof ip) abort();
    free(m);
    return 0;
}
