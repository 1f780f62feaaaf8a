/*
 * text: host.text.decode/isUtf8/encode, the agent's text codecs (QuickJS has no TextDecoder, and a codec in
 * JS costs thousands of instructions per byte).
 *
 * UTF-8 decoding is WHATWG's: each maximal invalid subpart becomes one U+FFFD, as TextDecoder and Node do.
 * Well-formed input (the usual case) goes to JS_NewStringLen as it is, after one validating pass; otherwise a
 * repaired copy (EF BF BD for each subpart) does. JS_NewStringLen itself must not see malformed input: it
 * replaces invalid bytes its own way. ISO-8859-1 is each byte as its code point, widened to UTF-8 for
 * JS_NewStringLen unless it is ASCII. Encoding is JS_ToCStringLen2, which writes a lone surrogate as its
 * three-byte form (ED A0..BF xx): that is never well-formed UTF-8, so each is rewritten in place as EF BF BD.
 */
#include <stdint.h>
#include <string.h>

#include "host.h"
#include "runtime.h"

/*
 * The well-formed UTF-8 sequence at p (n bytes left, n > 0): returns its length, 1 to 4; or minus the length
 * of the maximal invalid subpart there (the bytes one U+FFFD replaces).
 */
static int utf8_sequence(const uint8_t *p, size_t n) {
    uint8_t b = p[0];
    if (b < 0x80) return 1;
    int need;
    uint8_t lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        if (b == 0xe0) lo = 0xa0; /* no overlong forms */
        if (b == 0xed) hi = 0x9f; /* no surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        if (b == 0xf0) lo = 0x90; /* no overlong forms */
        if (b == 0xf4) hi = 0x8f; /* nothing past U+10FFFF */
    } else {
        return -1;
    }
    for (int i = 1; i <= need; i++) {
        if ((size_t)i >= n) return -i; /* cut at the end: everything so far is one subpart */
        if (p[i] < lo || p[i] > hi) return -i;
        lo = 0x80;
        hi = 0xbf;
    }
    return need + 1;
}

/* Offset of the first byte at or after `from` that is not ASCII, or n. Eight bytes at a time. */
static size_t ascii_prefix(const uint8_t *p, size_t from, size_t n) {
    size_t i = from;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ULL) break;
    }
    while (i < n && p[i] < 0x80) i++;
    return i;
}

/* Offset of the first malformed byte, or n when the bytes are well-formed UTF-8. */
static size_t utf8_valid_prefix(const uint8_t *p, size_t n) {
    size_t i = 0;
    for (;;) {
        i = ascii_prefix(p, i, n);
        if (i >= n) return n;
        int len = utf8_sequence(p + i, n - i);
        if (len < 0) return i;
        i += (size_t)len;
    }
}

/*
 * The bytes of argument `data` and the range [argv[at], argv[at] + argv[at + 1]) of them; 0, or -1 with an
 * EINVAL thrown. A zero-length ArrayBuffer may have no data pointer: *bytes is then "".
 */
static int get_range(JSContext *ctx, int argc, JSValueConst *argv, int at, const uint8_t **bytes, size_t *len) {
    size_t size = 0;
    uint8_t *data = argc > 0 ? JS_GetArrayBuffer(ctx, &size, argv[0]) : NULL;
    if (!data) {
        if (argc == 0 || JS_HasException(ctx)) {
            JS_FreeValue(ctx, JS_GetException(ctx));
            vigil_throw(ctx, "EINVAL", "text: data must be an ArrayBuffer");
            return -1;
        }
        data = (uint8_t *)"";
    }
    double off = 0, n = -1;
    if (argc > at && !JS_IsUndefined(argv[at])) {
        if (!JS_IsNumber(argv[at]) || JS_ToFloat64(ctx, &off, argv[at])) goto bad;
    }
    if (argc > at + 1 && !JS_IsUndefined(argv[at + 1])) {
        if (!JS_IsNumber(argv[at + 1]) || JS_ToFloat64(ctx, &n, argv[at + 1]) || !(n >= 0)) goto bad;
    }
    /* Bounds first (NaN fails them too), then whole numbers: a cast of an out-of-range double is undefined. */
    if (!(off >= 0 && off <= (double)size) || off != (double)(size_t)off) goto bad;
    if (n < 0) n = (double)size - off;
    if (!(n <= (double)size - off) || n != (double)(size_t)n) goto bad;
    *bytes = data + (size_t)off;
    *len = (size_t)n;
    return 0;
bad:
    vigil_throw(ctx, "EINVAL", "text: range outside the %zu bytes of data", size);
    return -1;
}

/* Well-formed UTF-8 of [p, p + n) with each maximal invalid subpart as EF BF BD; `valid` is the well-formed prefix. */
static JSValue decode_repaired(JSContext *ctx, const uint8_t *p, size_t n, size_t valid) {
    uint8_t *out = js_malloc(ctx, valid + (n - valid) * 3 + 1);
    if (!out) return JS_EXCEPTION;
    memcpy(out, p, valid);
    size_t o = valid;
    for (size_t i = valid; i < n;) {
        int len = utf8_sequence(p + i, n - i);
        if (len > 0) {
            memcpy(out + o, p + i, (size_t)len);
            o += (size_t)len;
            i += (size_t)len;
        } else {
            out[o++] = 0xef;
            out[o++] = 0xbf;
            out[o++] = 0xbd;
            i += (size_t)-len;
        }
    }
    JSValue s = JS_NewStringLen(ctx, (const char *)out, o);
    js_free(ctx, out);
    return s;
}

static JSValue decode_latin1(JSContext *ctx, const uint8_t *p, size_t n) {
    size_t ascii = ascii_prefix(p, 0, n);
    if (ascii == n) return JS_NewStringLen(ctx, (const char *)p, n);
    uint8_t *out = js_malloc(ctx, ascii + (n - ascii) * 2 + 1);
    if (!out) return JS_EXCEPTION;
    memcpy(out, p, ascii);
    size_t o = ascii;
    for (size_t i = ascii; i < n; i++) {
        if (p[i] < 0x80) {
            out[o++] = p[i];
        } else {
            out[o++] = (uint8_t)(0xc0 | (p[i] >> 6));
            out[o++] = (uint8_t)(0x80 | (p[i] & 0x3f));
        }
    }
    JSValue s = JS_NewStringLen(ctx, (const char *)out, o);
    js_free(ctx, out);
    return s;
}

static JSValue js_decode(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    const uint8_t *p;
    size_t n;
    if (get_range(ctx, argc, argv, 2, &p, &n)) return JS_EXCEPTION;
    size_t elen = 0;
    const char *enc = argc > 1 && JS_IsString(argv[1]) ? JS_ToCStringLen(ctx, &elen, argv[1]) : NULL;
    int utf8 = enc && strcmp(enc, "utf-8") == 0;
    int latin1 = enc && strcmp(enc, "iso-8859-1") == 0;
    JS_FreeCString(ctx, enc);
    if (latin1) return decode_latin1(ctx, p, n);
    if (!utf8) return vigil_throw(ctx, "EINVAL", "text: encoding must be utf-8 or iso-8859-1");
    size_t valid = utf8_valid_prefix(p, n);
    if (valid == n) return JS_NewStringLen(ctx, (const char *)p, n);
    return decode_repaired(ctx, p, n, valid);
}

static JSValue js_is_utf8(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    const uint8_t *p;
    size_t n;
    if (get_range(ctx, argc, argv, 1, &p, &n)) return JS_EXCEPTION;
    return JS_NewBool(ctx, utf8_valid_prefix(p, n) == n);
}

static JSValue js_encode(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    if (argc < 1 || !JS_IsString(argv[0])) return vigil_throw(ctx, "EINVAL", "text: encode needs a string");
    size_t len = 0;
    const char *s = JS_ToCStringLen2(ctx, &len, argv[0], 0);
    if (!s) return JS_EXCEPTION;
    JSValue ab = JS_NewArrayBufferCopy(ctx, (const uint8_t *)s, len);
    JS_FreeCString(ctx, s);
    if (JS_IsException(ab)) return ab;
    size_t size = 0;
    uint8_t *out = JS_GetArrayBuffer(ctx, &size, ab);
    /* A lone surrogate came out as ED A0..BF xx: the same three bytes become U+FFFD. */
    for (uint8_t *q = out ? memchr(out, 0xed, size) : NULL; q; q = memchr(q + 1, 0xed, size - (size_t)(q + 1 - out))) {
        if (q + 2 < out + size && q[1] >= 0xa0) {
            q[0] = 0xef;
            q[1] = 0xbf;
            q[2] = 0xbd;
        }
    }
    return ab;
}

static const JSCFunctionListEntry text_funcs[] = {
    JS_CFUNC_DEF("decode", 2, js_decode),
    JS_CFUNC_DEF("isUtf8", 1, js_is_utf8),
    JS_CFUNC_DEF("encode", 1, js_encode),
};

void vigil_text_init(JSContext *ctx, JSValueConst host) {
    JSValue ns = JS_NewObject(ctx);
    JS_SetPropertyFunctionList(ctx, ns, text_funcs, VIGIL_COUNTOF(text_funcs));
    JS_SetPropertyStr(ctx, host, "text", ns);
}
