/*
 * fs: host.fs.readFile/list/stat/writeFileAtomic/remove/mkdir on device paths.
 *
 * Device paths map onto --root (a fixture root file system; "/" on the camera), except the data dir, which
 * maps onto --data-dir. Paths are resolved component by component with symbolic links read as device paths,
 * as under chroot, so neither ".." nor an absolute link in a fixture root can reach the host's own files;
 * host-sim resolves the same way, so both hosts see the same tree. Local file operations are short, so
 * they run synchronously and return settled promises.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "paths.h"
#include "runtime.h"

#define MAX_SYMLINK_HOPS 40

const char *vigil_errno_code(int err) {
    switch (err) {
    case ENOENT: return "ENOENT";
    case EACCES: case EPERM: case EROFS: return "EACCES";
    case EISDIR: return "EISDIR";
    case ENOTDIR: return "ENOTDIR";
    case ENOSPC: case EDQUOT: return "ENOSPC";
    case ELOOP: return "ELOOP";
    case EFBIG: return "EFBIG";
    case EINVAL: return "EINVAL";
    default: return "EIO";
    }
}

static int in_data_dir(const char *device) {
    size_t n = strlen(vigil_paths.data_device);
    return strncmp(device, vigil_paths.data_device, n) == 0 && (device[n] == 0 || device[n] == '/');
}

static void real_of(const char *device, char *real, size_t size) {
    if (in_data_dir(device)) snprintf(real, size, "%s%s", vigil_paths.data_real, device + strlen(vigil_paths.data_device));
    else snprintf(real, size, "%s%s", vigil_paths.root, device);
}

int vigil_fs_resolve(const char *device, int follow_last, char *real, size_t real_size, char *out_device,
                     size_t device_size) {
    char pending[8192], resolved[4096] = "", candidate[4096], creal[4200], target[4096];
    int hops = 0;
    if (!device || !*device) return -EINVAL;
    if (snprintf(pending, sizeof pending, "%s", device) >= (int)sizeof pending) return -ENAMETOOLONG;
    char *p = pending;
    for (;;) {
        while (*p == '/') p++;
        if (!*p) break;
        char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char part[256];
        if (len >= sizeof part) return -ENAMETOOLONG;
        memcpy(part, p, len);
        part[len] = 0;
        p += len;
        int last = 1;
        for (char *q = p; *q; q++)
            if (*q != '/') {
                last = 0;
                break;
            }
        if (strcmp(part, ".") == 0) continue;
        if (strcmp(part, "..") == 0) {
            char *slash = strrchr(resolved, '/');
            if (slash) *slash = 0;
            continue;
        }
        if (snprintf(candidate, sizeof candidate, "%s/%s", resolved, part) >= (int)sizeof candidate) return -ENAMETOOLONG;
        if (last && !follow_last) {
            strcpy(resolved, candidate);
            break;
        }
        real_of(candidate, creal, sizeof creal);
        struct stat st;
        if (lstat(creal, &st) != 0 || !S_ISLNK(st.st_mode)) {
            /* Missing or not a link: the operation on the final path reports it with the right code. */
            strcpy(resolved, candidate);
            continue;
        }
        if (++hops > MAX_SYMLINK_HOPS) return -ELOOP;
        ssize_t n = readlink(creal, target, sizeof target - 1);
        if (n < 0) return -errno;
        target[n] = 0;
        if (target[0] == '/') resolved[0] = 0;
        char rest[8192];
        if (snprintf(rest, sizeof rest, "%s/%s", target, p) >= (int)sizeof rest) return -ENAMETOOLONG;
        strcpy(pending, rest);
        p = pending;
    }
    const char *dev = resolved[0] ? resolved : "/";
    if (out_device) snprintf(out_device, device_size, "%s", dev);
    real_of(dev, real, real_size);
    return 0;
}

/* The device path from argv[0], resolved; throws/returns JS_EXCEPTION-style errors as a rejected promise. */
static int resolve_arg(JSContext *ctx, JSValueConst arg, int follow, char *real, char *dev, const char **path,
                       JSValue *rejection) {
    *path = JS_IsString(arg) ? JS_ToCString(ctx, arg) : NULL;
    if (!*path || !**path) {
        *rejection = vigil_rejected(ctx, vigil_error(ctx, "EINVAL", "path must be a non-empty string"));
        return -1;
    }
    int r = vigil_fs_resolve(*path, follow, real, 4200, dev, 4096);
    if (r < 0) {
        *rejection = vigil_rejected(ctx, vigil_error(ctx, vigil_errno_code(-r), "%s", *path));
        return -1;
    }
    return 0;
}

static JSValue fail(JSContext *ctx, const char *path, int err) {
    return vigil_rejected(ctx, vigil_error(ctx, vigil_errno_code(err), "%s", path));
}

static const char *type_of_mode(mode_t m) {
    if (S_ISLNK(m)) return "symlink";
    if (S_ISREG(m)) return "file";
    if (S_ISDIR(m)) return "dir";
    return "other";
}

int vigil_open_regular(JSContext *ctx, const char *real, const char *path, JSValue *rejection) {
    /* O_NONBLOCK: open(2) of a FIFO with no writer would wait for one forever. O_NOCTTY: a tty must not
     * become the controlling terminal. Then judge the open file, never the path, which may be swapped. */
    int fd = open(real, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st = {0};
    int err = fd < 0 ? errno : fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (!err && !S_ISREG(st.st_mode)) {
        close(fd);
        *rejection = vigil_rejected(ctx, vigil_error(ctx, "ENOTFILE", "%s is not a regular file", path));
        return -1;
    }
    if (err) {
        if (fd >= 0) close(fd);
        *rejection = fail(ctx, path, err);
        return -1;
    }
    return fd;
}

static JSValue js_read_file(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    char real[4200], dev[4096];
    const char *path = NULL;
    JSValue out;
    double maxd = 0;
    if (argc < 2 || JS_ToFloat64(ctx, &maxd, argv[1]) != 0 || !(maxd >= 0)) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        return vigil_rejected(ctx, vigil_error(ctx, "EINVAL", "readFile needs a path and a byte cap"));
    }
    size_t max = maxd > (double)(1u << 30) ? (1u << 30) : (size_t)maxd;
    if (resolve_arg(ctx, argv[0], 1, real, dev, &path, &out) != 0) goto done;
    int fd = vigil_open_regular(ctx, real, path, &out);
    if (fd < 0) goto done;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        out = fail(ctx, path, errno);
    } else if ((size_t)st.st_size > max) {
        out = vigil_rejected(ctx, vigil_error(ctx, "EFBIG", "%s is larger than %zu bytes", path, max));
    } else {
        /* Read up to cap + 1: a file that grew, or a /proc file that reports size 0, is still capped. */
        size_t cap = (size_t)st.st_size + 1 > 4096 ? (size_t)st.st_size + 1 : 4096;
        if (cap > max + 1) cap = max + 1;
        uint8_t *buf = malloc(cap);
        size_t total = 0;
        int err = buf ? 0 : ENOMEM;
        while (!err && total < cap) {
            ssize_t n = read(fd, buf + total, cap - total);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) err = errno;
            if (n <= 0) break;
            total += (size_t)n;
        }
        if (err) out = fail(ctx, path, err);
        else if (total > max) out = vigil_rejected(ctx, vigil_error(ctx, "EFBIG", "%s is larger than %zu bytes", path, max));
        else out = vigil_resolved(ctx, JS_NewArrayBufferCopy(ctx, buf, total));
        free(buf);
    }
    close(fd);
done:
    if (path) JS_FreeCString(ctx, path);
    return out;
}

static int hidden_name(const char *name) {
    /* Temporary files of writeFileAtomic in flight, and the host's own bookkeeping. */
    return strstr(name, ".vigil-tmp-") != NULL || strcmp(name, ".vigil-last-exit") == 0;
}

static JSValue js_list(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    char real[4200], dev[4096];
    const char *path = NULL;
    JSValue out;
    if (resolve_arg(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, 1, real, dev, &path, &out) != 0) goto done;
    DIR *d = opendir(real);
    if (!d) {
        out = fail(ctx, path, errno);
        goto done;
    }
    JSValue arr = JS_NewArray(ctx);
    uint32_t i = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || hidden_name(e->d_name)) continue;
        const char *type = "other";
        switch (e->d_type) {
        case DT_REG: type = "file"; break;
        case DT_DIR: type = "dir"; break;
        case DT_LNK: type = "symlink"; break;
        case DT_UNKNOWN: {
            char child[8400];
            struct stat st;
            snprintf(child, sizeof child, "%s/%s", real, e->d_name);
            if (lstat(child, &st) == 0) type = type_of_mode(st.st_mode);
            break;
        }
        default: break;
        }
        JSValue o = JS_NewObject(ctx);
        JS_SetPropertyStr(ctx, o, "name", JS_NewString(ctx, e->d_name));
        JS_SetPropertyStr(ctx, o, "type", JS_NewString(ctx, type));
        JS_SetPropertyUint32(ctx, arr, i++, o);
    }
    closedir(d);
    out = vigil_resolved(ctx, arr);
done:
    if (path) JS_FreeCString(ctx, path);
    return out;
}

static JSValue js_stat(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    char real[4200], dev[4096];
    const char *path = NULL;
    JSValue out;
    if (resolve_arg(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, 0, real, dev, &path, &out) != 0) goto done;
    struct stat st;
    if (lstat(real, &st) != 0) {
        out = fail(ctx, path, errno);
        goto done;
    }
    JSValue o = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, o, "type", JS_NewString(ctx, type_of_mode(st.st_mode)));
    JS_SetPropertyStr(ctx, o, "size", JS_NewInt64(ctx, st.st_size));
    JS_SetPropertyStr(ctx, o, "mtimeMs", JS_NewInt64(ctx, (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000));
    JS_SetPropertyStr(ctx, o, "ino", JS_NewInt64(ctx, (int64_t)st.st_ino));
    JS_SetPropertyStr(ctx, o, "mode", JS_NewInt64(ctx, st.st_mode));
    out = vigil_resolved(ctx, o);
done:
    if (path) JS_FreeCString(ctx, path);
    return out;
}

/* Writes are allowed only under the data dir, judged on the normalised path and again after links. */
static int resolve_writable(JSContext *ctx, JSValueConst arg, char *real, const char **path, JSValue *rejection) {
    char norm[4096], dev[4096];
    *path = JS_IsString(arg) ? JS_ToCString(ctx, arg) : NULL;
    if (!*path || !**path) {
        *rejection = vigil_rejected(ctx, vigil_error(ctx, "EINVAL", "path must be a non-empty string"));
        return -1;
    }
    vigil_path_normalize(*path, norm, sizeof norm);
    if (!in_data_dir(norm)) {
        *rejection = vigil_rejected(ctx, vigil_error(ctx, "EACCES", "%s is outside the data dir", *path));
        return -1;
    }
    int r = vigil_fs_resolve(norm, 0, real, 4200, dev, sizeof dev);
    if (r < 0) {
        *rejection = vigil_rejected(ctx, vigil_error(ctx, vigil_errno_code(-r), "%s", *path));
        return -1;
    }
    if (!in_data_dir(dev)) {
        *rejection = vigil_rejected(ctx, vigil_error(ctx, "EACCES", "%s resolves outside the data dir", *path));
        return -1;
    }
    return 0;
}

static unsigned long tmp_counter;

static JSValue js_write_file_atomic(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    char real[4200], tmp[4300];
    const char *path = NULL;
    JSValue out;
    size_t len = 0;
    if (resolve_writable(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, real, &path, &out) != 0) goto done;
    uint8_t *data = argc > 1 ? JS_GetArrayBuffer(ctx, &len, argv[1]) : NULL;
    if (!data && len == 0 && (argc < 2 || !JS_IsObject(argv[1]))) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        out = vigil_rejected(ctx, vigil_error(ctx, "EINVAL", "writeFileAtomic needs an ArrayBuffer"));
        goto done;
    }
    JS_FreeValue(ctx, JS_GetException(ctx)); /* an empty ArrayBuffer yields NULL without an exception */
    snprintf(tmp, sizeof tmp, "%s.vigil-tmp-%d-%lu", real, (int)getpid(), tmp_counter++);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err = fd < 0 ? errno : 0;
    size_t off = 0;
    while (!err && off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) err = errno;
        else off += (size_t)n;
    }
    if (!err && fsync(fd) != 0) err = errno;
    if (fd >= 0 && close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, real) != 0) err = errno;
    if (err) {
        unlink(tmp);
        out = fail(ctx, path, err);
        goto done;
    }
    /* The rename itself must reach flash too, or a power cut can bring back the old name. */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", real);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    out = vigil_resolved(ctx, JS_UNDEFINED);
done:
    if (path) JS_FreeCString(ctx, path);
    return out;
}

static JSValue js_remove(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    char real[4200];
    const char *path = NULL;
    JSValue out;
    if (resolve_writable(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, real, &path, &out) != 0) goto done;
    struct stat st;
    if (lstat(real, &st) != 0) out = fail(ctx, path, errno);
    else if (S_ISDIR(st.st_mode)) out = fail(ctx, path, EISDIR);
    else if (unlink(real) != 0) out = fail(ctx, path, errno);
    else out = vigil_resolved(ctx, JS_UNDEFINED);
done:
    if (path) JS_FreeCString(ctx, path);
    return out;
}

static JSValue js_mkdir(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    char real[4200];
    const char *path = NULL;
    JSValue out;
    if (resolve_writable(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, real, &path, &out) != 0) goto done;
    int err = 0;
    for (char *p = real + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            struct stat st;
            if (mkdir(real, 0755) != 0) {
                if (errno != EEXIST) err = errno;
                else if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) err = ENOTDIR;
            }
            *p = c;
            if (err || c == 0) break;
        }
    }
    out = err ? fail(ctx, path, err) : vigil_resolved(ctx, JS_UNDEFINED);
done:
    if (path) JS_FreeCString(ctx, path);
    return out;
}

static const JSCFunctionListEntry fs_funcs[] = {
    JS_CFUNC_DEF("readFile", 2, js_read_file),
    JS_CFUNC_DEF("list", 1, js_list),
    JS_CFUNC_DEF("stat", 1, js_stat),
    JS_CFUNC_DEF("writeFileAtomic", 2, js_write_file_atomic),
    JS_CFUNC_DEF("remove", 1, js_remove),
    JS_CFUNC_DEF("mkdir", 1, js_mkdir),
};

void vigil_fs_init(JSContext *ctx, JSValueConst host) {
    JSValue ns = JS_NewObject(ctx);
    JS_SetPropertyFunctionList(ctx, ns, fs_funcs, VIGIL_COUNTOF(fs_funcs));
    JS_SetPropertyStr(ctx, host, "fs", ns);
}
