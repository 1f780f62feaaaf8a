/*
 * libFuzzer harness: one D-Bus message from the system bus socket (host_vapix.c, vigil_dbus_parse), as
 * GetCredentials reads it: the bytes arrive in pieces into an 8 KiB buffer. Any out-of-bounds read is an
 * AddressSanitizer crash.
 */
#include <stdlib.h>
#include <string.h>

#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size heap copy, so that ASan sees a read one byte past what the bus sent. */
    uint8_t *in = malloc(size ? size : 1);
    memcpy(in, data, size);
    size_t have = size, at = 0;
    while (at < have) {
        struct vigil_dbus_msg m;
        int r = vigil_dbus_parse(in + at, have - at, 8192, &m);
        if (r <= 0) break;
        /* Touch every byte the parser points at: the body string and the SIGNATURE and ERROR_NAME fields. */
        volatile char sink = 0;
        for (size_t i = 0; m.str && i < m.str_len; i++) sink ^= m.str[i];
        for (size_t i = 0; m.signature && i < m.signature_len; i++) sink ^= m.signature[i];
        for (size_t i = 0; m.error_name && i < m.error_name_len; i++) sink ^= m.error_name[i];
        (void)sink;
        if (m.total == 0) abort(); /* would loop forever */
        at += m.total;
    }
    free(in);
    return 0;
}
