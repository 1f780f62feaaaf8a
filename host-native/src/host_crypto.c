/*
 * crypto: host.crypto.sha256/sha256File/randomBytes/verifyP256.
 *
 * sha256File streams the file through mbedTLS's SHA-256 in the event loop, a chunk per turn, so the file
 * never enters the JS heap and sockets and timers keep being served while a large file is hashed. With
 * maxBytesPerSec > 0 every capped task draws on one token bucket for the whole host, so the cap holds across
 * files: pacing per call let a stream of files smaller than a chunk go at full speed (BENCHMARKS.md, miss 1).
 * The bucket holds one chunk (a single small file is not delayed); a read may run it into debt, and the next
 * read of any capped task sleeps until that is paid back (the camera's video must never starve for I/O). The
 * pacing matches host-sim's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include "clocks.h"
#include "host.h"
#include "runtime.h"

#define UNCAPPED_CHUNK (256 * 1024)
/* Per loop turn when uncapped: large enough for native speed, small enough to keep the loop responsive. */
#define UNCAPPED_TURN (4 * 1024 * 1024)

static void to_hex(const uint8_t d[32], char out[65]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = 0;
}

void vigil_sha256_hex(const uint8_t *data, size_t len, char out[65]) {
    uint8_t d[32];
    mbedtls_sha256_ret(data, len, d, 0);
    to_hex(d, out);
}

struct hash_task {
    struct hash_task *next;
    int fd;
    char *path;
    mbedtls_sha256_context sha;
    double rate; /* bytes per second; 0 = uncapped */
    size_t chunk;
    double wake; /* monotonic ms before which the task sleeps */
    struct vigil_deferred d;
};

static struct hash_task *tasks;
static uint8_t *chunk_buf;

/* The host's hashing token bucket, in bytes; `at` is the monotonic ms of the last refill, < 0 before any. */
static struct {
    double tokens, at;
} bucket = {0, -1};

/* Refills the bucket at rate (bytes/s) up to burst; returns 0 when a read may go, or the ms to wait. */
static double bucket_wait(double rate, double burst, double now) {
    bucket.tokens = bucket.at < 0 ? burst : bucket.tokens + (now - bucket.at) * rate / 1000.0;
    if (bucket.tokens > burst) bucket.tokens = burst;
    bucket.at = now;
    /* Less than a byte short is rounding, not debt. */
    return bucket.tokens > -1 ? 0 : -bucket.tokens / rate * 1000.0;
}

static JSValue js_sha256(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    size_t len = 0;
    uint8_t *data = argc > 0 ? JS_GetArrayBuffer(ctx, &len, argv[0]) : NULL;
    if (!data) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        if (argc > 0 && JS_IsObject(argv[0])) {
            /* A typed array view: hash the bytes it covers. */
            size_t off, blen, bpe;
            JSValue ab = JS_GetTypedArrayBuffer(ctx, argv[0], &off, &blen, &bpe);
            if (!JS_IsException(ab)) {
                size_t total;
                uint8_t *base = JS_GetArrayBuffer(ctx, &total, ab);
                JS_FreeValue(ctx, ab);
                if (base || blen == 0) {
                    char hex[65];
                    vigil_sha256_hex(base ? base + off : (const uint8_t *)"", blen, hex);
                    return JS_NewString(ctx, hex);
                }
            }
            JS_FreeValue(ctx, JS_GetException(ctx));
            /* A detached or empty ArrayBuffer reports NULL: hash zero bytes. */
            if (len == 0) {
                char hex[65];
                vigil_sha256_hex((const uint8_t *)"", 0, hex);
                return JS_NewString(ctx, hex);
            }
        }
        return vigil_throw(ctx, "EINVAL", "sha256 needs an ArrayBuffer");
    }
    char hex[65];
    vigil_sha256_hex(data, len, hex);
    return JS_NewString(ctx, hex);
}

static void task_free(struct hash_task *t) {
    close(t->fd);
    mbedtls_sha256_free(&t->sha);
    free(t->path);
    free(t);
}

static JSValue js_sha256_file(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    char real[4200], dev[4096];
    double rate = 0;
    const char *path = argc > 0 && JS_IsString(argv[0]) ? JS_ToCString(ctx, argv[0]) : NULL;
    if (!path || !*path) {
        if (path) JS_FreeCString(ctx, path);
        return vigil_rejected(ctx, vigil_error(ctx, "EINVAL", "path must be a non-empty string"));
    }
    if (argc > 1 && JS_ToFloat64(ctx, &rate, argv[1]) != 0) JS_FreeValue(ctx, JS_GetException(ctx));
    if (!(rate > 0)) rate = 0;
    JSValue out;
    int r = vigil_fs_resolve(path, 1, real, sizeof real, dev, sizeof dev);
    int fd = -1;
    if (r < 0) out = vigil_rejected(ctx, vigil_error(ctx, vigil_errno_code(-r), "%s", path));
    else fd = vigil_open_regular(ctx, real, path, &out);
    if (fd < 0) {
        JS_FreeCString(ctx, path);
        return out;
    }
    struct hash_task *t = calloc(1, sizeof *t);
    t->fd = fd;
    t->path = strdup(path);
    JS_FreeCString(ctx, path);
    mbedtls_sha256_init(&t->sha);
    mbedtls_sha256_starts_ret(&t->sha, 0);
    t->rate = rate;
    if (rate > 0) {
        double c = rate / 8;
        t->chunk = c < 4096 ? 4096 : c > 65536 ? 65536 : (size_t)c;
    } else {
        t->chunk = UNCAPPED_CHUNK;
    }
    out = vigil_deferred_new(ctx, &t->d);
    t->next = tasks;
    tasks = t;
    return out;
}

/* Advances one task; returns 1 when it finished (settled). */
static int task_step(JSContext *ctx, struct hash_task *t) {
    /* At most a chunk per turn when capped, so several tasks and the sockets take turns. */
    size_t budget = t->rate > 0 ? t->chunk : UNCAPPED_TURN;
    while (budget > 0) {
        if (t->rate > 0) {
            double now = vigil_monotonic_ms_f(), wait = bucket_wait(t->rate, (double)t->chunk, now);
            if (wait > 0) {
                t->wake = now + wait;
                return 0;
            }
        }
        ssize_t n = read(t->fd, chunk_buf, t->chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            vigil_deferred_reject(ctx, &t->d, vigil_error(ctx, vigil_errno_code(errno), "%s", t->path));
            return 1;
        }
        if (n == 0) {
            uint8_t d[32];
            char hex[65];
            mbedtls_sha256_finish_ret(&t->sha, d);
            to_hex(d, hex);
            vigil_deferred_resolve(ctx, &t->d, JS_NewString(ctx, hex));
            return 1;
        }
        mbedtls_sha256_update_ret(&t->sha, chunk_buf, (size_t)n);
        if (t->rate > 0) bucket.tokens -= (double)n;
        budget = budget > (size_t)n ? budget - (size_t)n : 0;
    }
    return 0;
}

void vigil_crypto_run(void) {
    if (!tasks) return;
    if (!chunk_buf) chunk_buf = malloc(UNCAPPED_CHUNK);
    double now = vigil_monotonic_ms_f();
    /* Detach the list: settling a promise may start new tasks, which wait for the next turn. */
    struct hash_task *list = tasks, *keep = NULL;
    tasks = NULL;
    while (list) {
        struct hash_task *t = list;
        list = t->next;
        if (t->wake > now || !task_step(vigil.ctx, t)) {
            t->next = keep;
            keep = t;
        } else {
            task_free(t);
        }
    }
    /* Re-append the survivors after tasks created meanwhile. */
    while (keep) {
        struct hash_task *t = keep;
        keep = t->next;
        t->next = tasks;
        tasks = t;
    }
}

void vigil_crypto_prepare(int64_t *timeout_ms) {
    double now = vigil_monotonic_ms_f();
    for (struct hash_task *t = tasks; t; t = t->next) {
        int64_t ms = t->wake > now ? (int64_t)(t->wake - now) + 1 : 0;
        if (*timeout_ms < 0 || ms < *timeout_ms) *timeout_ms = ms;
    }
}

int vigil_crypto_active(void) { return tasks != NULL; }

/* When a run ends (exit, in-process restart): a live promise would outlive its runtime. Tasks that the
 * rejections start meanwhile wait for the next call. */
void vigil_crypto_cancel_all(void) {
    struct hash_task *list = tasks;
    tasks = NULL;
    while (list) {
        struct hash_task *t = list;
        list = t->next;
        vigil_deferred_reject(vigil.ctx, &t->d, vigil_error(vigil.ctx, "EIO", "%s: the host is stopping", t->path));
        task_free(t);
    }
}

static JSValue js_random_bytes(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    double n = -1;
    if (argc < 1 || JS_ToFloat64(ctx, &n, argv[0]) != 0) JS_FreeValue(ctx, JS_GetException(ctx));
    if (!(n >= 0 && n <= (1 << 20))) return vigil_throw(ctx, "EINVAL", "randomBytes length %g", n);
    size_t len = (size_t)n, off = 0;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return JS_ThrowOutOfMemory(ctx);
    while (off < len) {
        ssize_t r = getrandom(buf + off, len - off, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            free(buf);
            return vigil_throw(ctx, "EIO", "getrandom: %s", strerror(errno));
        }
        off += (size_t)r;
    }
    JSValue ab = JS_NewArrayBufferCopy(ctx, buf, len);
    free(buf);
    return ab;
}

/* The bytes of an ArrayBuffer argument; an empty buffer (QuickJS may give it no data pointer) or anything else is
 * length 0, with any exception cleared: the callers refuse empty input themselves. */
static const uint8_t *arg_bytes(JSContext *ctx, int argc, JSValueConst *argv, int i, size_t *len) {
    *len = 0;
    uint8_t *p = i < argc ? JS_GetArrayBuffer(ctx, len, argv[i]) : NULL;
    if (!p) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        *len = 0;
    }
    return p;
}

/* verifyP256(spkiDer, data, rawSignature): ECDSA P-256 over SHA-256(data), as host-sim's node:crypto. A signature
 * that does not verify (any length but 64, r or s outside [1, n-1]) is false; a key that is not a P-256 SPKI
 * throws EINVAL. Synchronous: one verification is a few ms even on armv7, and commands are rate-limited. */
static JSValue js_verify_p256(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    size_t klen, dlen, slen;
    const uint8_t *key = arg_bytes(ctx, argc, argv, 0, &klen);
    const uint8_t *data = arg_bytes(ctx, argc, argv, 1, &dlen);
    const uint8_t *sig = arg_bytes(ctx, argc, argv, 2, &slen);
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int rc = key && klen > 0 ? mbedtls_pk_parse_public_key(&pk, key, klen) : -1;
    if (rc != 0 || mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY || mbedtls_pk_ec(pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
        mbedtls_pk_free(&pk);
        return vigil_throw(ctx, "EINVAL", "verifyP256: the public key is not a P-256 SPKI DER key");
    }
    int ok = 0;
    if (sig && slen == 64) {
        uint8_t hash[32];
        mbedtls_sha256_ret(data ? data : (const uint8_t *)"", data ? dlen : 0, hash, 0);
        mbedtls_mpi r, s;
        mbedtls_mpi_init(&r);
        mbedtls_mpi_init(&s);
        mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pk);
        ok = mbedtls_mpi_read_binary(&r, sig, 32) == 0 && mbedtls_mpi_read_binary(&s, sig + 32, 32) == 0 &&
             mbedtls_ecdsa_verify(&ec->grp, hash, sizeof hash, &ec->Q, &r, &s) == 0;
        mbedtls_mpi_free(&r);
        mbedtls_mpi_free(&s);
    }
    mbedtls_pk_free(&pk);
    return JS_NewBool(ctx, ok);
}

static const JSCFunctionListEntry crypto_funcs[] = {
    JS_CFUNC_DEF("sha256", 1, js_sha256),
    JS_CFUNC_DEF("sha256File", 2, js_sha256_file),
    JS_CFUNC_DEF("randomBytes", 1, js_random_bytes),
    JS_CFUNC_DEF("verifyP256", 3, js_verify_p256),
};

void vigil_crypto_init(JSContext *ctx, JSValueConst host) {
    JSValue ns = JS_NewObject(ctx);
    JS_SetPropertyFunctionList(ctx, ns, crypto_funcs, VIGIL_COUNTOF(crypto_funcs));
    JS_SetPropertyStr(ctx, host, "crypto", ns);
}
