/* The agent bundle (bundle.h): reading it, compiling it to bytecode with function source stripped, and
 * evaluating it as a script or as bytecode. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"

uint8_t *vigil_bundle_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) break;
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        cap *= 2;
        uint8_t *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
        }
        buf = nb;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        *len = n;
    }
    return buf;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int vigil_bundle_compile(const char *in, const char *out) {
    size_t len;
    uint8_t *src = vigil_bundle_read(in, &len);
    if (!src) {
        fprintf(stderr, "[vigil] [native] cannot read %s: %s\n", in, strerror(errno));
        return 1;
    }
    JSRuntime *rt = JS_NewRuntime();
    /* Function source text would be kept for Function.prototype.toString, once per nested function:
     * 5x the bundle. Line numbers stay, so stack traces still point into dist/agent.js. */
    JS_SetStripInfo(rt, JS_STRIP_SOURCE);
    JSContext *ctx = JS_NewContext(rt);
    /* The base name only, so the bytecode does not depend on where the build ran. */
    JSValue fn = JS_Eval(ctx, (const char *)src, len, base_name(in), JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_COMPILE_ONLY);
    free(src);
    if (JS_IsException(fn)) {
        JSValue e = JS_GetException(ctx);
        const char *m = JS_ToCString(ctx, e);
        fprintf(stderr, "[vigil] [native] %s does not compile: %s\n", in, m ? m : "?");
        return 1;
    }
    size_t blen;
    uint8_t *bc = JS_WriteObject(ctx, &blen, fn, JS_WRITE_OBJ_BYTECODE);
    JS_FreeValue(ctx, fn);
    int rc = 1;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    FILE *f = bc ? fopen(tmp, "wb") : NULL;
    if (f && fwrite(bc, 1, blen, f) == blen && fclose(f) == 0 && rename(tmp, out) == 0) rc = 0;
    else fprintf(stderr, "[vigil] [native] cannot write %s: %s\n", out, strerror(errno));
    js_free(ctx, bc);
    JS_FreeContext(ctx);
    JS_FreeRuntime(rt);
    return rc;
}

JSValue vigil_bundle_eval(JSContext *ctx, const uint8_t *code, size_t len, const char *bundle) {
    if (ends_with(bundle, ".qjsbc")) {
        JSValue fn = JS_ReadObject(ctx, code, len, JS_READ_OBJ_BYTECODE);
        return JS_IsException(fn) ? fn : JS_EvalFunction(ctx, fn);
    }
    return JS_Eval(ctx, (const char *)code, len, base_name(bundle), JS_EVAL_TYPE_GLOBAL);
}
