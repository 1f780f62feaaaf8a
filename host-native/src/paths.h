/* Where device paths live on this machine: the root they map onto (--root) and the data dir (--data-dir). */
#ifndef VIGIL_PATHS_H
#define VIGIL_PATHS_H

#include <stddef.h>

struct vigil_paths {
    /* Host directory that device paths map onto; "" means the real root. */
    char root[4096];
    /* The data dir as a device path (config DataDir) and the host directory that backs it. */
    char data_device[4096];
    char data_real[4096];
};

extern struct vigil_paths vigil_paths;

/* From --root, --data-dir (either may be NULL) and the DataDir parameter (defaulted here when unset); creates
 * the data dir. Logs and returns 2 (the usage exit code) when one is unusable, else 0. */
int vigil_paths_setup(const char *root, const char *data_dir);

/* A device path in its plain form: "/a//b/./c/" -> "/a/b/c"; ".." is clamped at the root. */
void vigil_path_normalize(const char *in, char *out, size_t size);

#endif
