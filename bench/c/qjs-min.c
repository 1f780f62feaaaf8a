/* Baseline for the native size rows: QuickJS alone (same sources, flags and static glibc as host-native),
 * with the least a host needs: a runtime with limits, a context, evaluating one script. */
#include <stdio.h>
#include <string.h>
#include "quickjs.h"

int main(int argc, char **argv) {
    JSRuntime *rt = JS_NewRuntime();
    JS_SetMemoryLimit(rt, 16 << 20);
    JS_SetMaxStackSize(rt, 256 * 1024);
    JSContext *ctx = JS_NewContext(rt);
    const char *src = argc > 1 ? argv[1] : "1+1";
    JSValue v = JS_Eval(ctx, src, strlen(src), "<arg>", JS_EVAL_TYPE_GLOBAL);
    int rc = JS_IsException(v) ? 1 : 0;
    JS_FreeValue(ctx, v);
    JS_FreeContext(ctx);
    JS_FreeRuntime(rt);
    return rc;
}
