/* Sets up the device-path mapping (paths.h) from the command line and the DataDir parameter: host_fs.c maps
 * through it, host_supervise.c keeps .vigil-last-exit in the data dir. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host.h"
#include "paths.h"

struct vigil_paths vigil_paths;

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int mkdir_p(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    }
    return (mkdir(tmp, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

void vigil_path_normalize(const char *in, char *out, size_t size) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", in);
    size_t len = 0;
    out[0] = 0;
    for (char *save = NULL, *part = strtok_r(buf, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0) continue;
        if (strcmp(part, "..") == 0) {
            char *slash = strrchr(out, '/');
            if (slash) *slash = 0;
            len = strlen(out);
            continue;
        }
        len += (size_t)snprintf(out + len, size - len, "/%s", part);
    }
    if (out[0] == 0) snprintf(out, size, "/");
}

int vigil_paths_setup(const char *root, const char *data_dir) {
    if (root) {
        char real_root[PATH_MAX];
        if (!realpath(root, real_root) || !is_dir(real_root)) {
            vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] --root %s is not a directory", root);
            return 2;
        }
        snprintf(vigil_paths.root, sizeof vigil_paths.root, "%s", strcmp(real_root, "/") == 0 ? "" : real_root);
    }
    const char *dd = vigil_config_get("DataDir");
    if (!dd || !*dd) {
        dd = "/usr/local/packages/vigil/localdata";
        vigil_config_set_default("DataDir", dd);
    }
    vigil_path_normalize(dd, vigil_paths.data_device, sizeof vigil_paths.data_device);
    if (data_dir) {
        if (mkdir_p(data_dir) != 0 || !realpath(data_dir, vigil_paths.data_real)) {
            vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] --data-dir %s: %s", data_dir, strerror(errno));
            return 2;
        }
    } else {
        if (snprintf(vigil_paths.data_real, sizeof vigil_paths.data_real, "%.2047s%.2047s", vigil_paths.root,
                     vigil_paths.data_device) < 0)
            return 2;
        mkdir_p(vigil_paths.data_real);
    }
    return 0;
}
