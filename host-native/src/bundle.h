/* The agent bundle: dist/agent.js or its QuickJS bytecode (.qjsbc), read, compiled (--compile), evaluated. */
#ifndef VIGIL_BUNDLE_H
#define VIGIL_BUNDLE_H

#include <stddef.h>
#include <stdint.h>
#include "quickjs.h"

/* The whole file, NUL-terminated (not counted in *len); NULL with errno set. free() it. */
uint8_t *vigil_bundle_read(const char *path, size_t *len);
/* --compile IN.js OUT.qjsbc: 0, or 1 after saying why on stderr. */
int vigil_bundle_compile(const char *in, const char *out);
/* Evaluates the bundle's code (bytecode when the name ends in .qjsbc); the result or JS_EXCEPTION. */
JSValue vigil_bundle_eval(JSContext *ctx, const uint8_t *code, size_t len, const char *bundle);

#endif
