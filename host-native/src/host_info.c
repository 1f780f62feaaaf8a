/* info: host.apiVersion, host.info (name, version, bundleSha256; lastExit from host_supervise.c) and
 * host.memory(): the numbers the runtime owns. */
#include "host.h"
#include "runtime.h"

static JSValue host_memory(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    (void)argc;
    (void)argv;
    JSMemoryUsage mu;
    JS_ComputeMemoryUsage(vigil.rt, &mu);
    JSValue o = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, o, "usedBytes", JS_NewInt64(ctx, mu.memory_used_size));
    JS_SetPropertyStr(ctx, o, "limitBytes", JS_NewInt64(ctx, (int64_t)vigil.memory_limit));
    return o;
}

void vigil_info_init(JSContext *ctx, JSValueConst host) {
    JS_SetPropertyStr(ctx, host, "apiVersion", JS_NewInt32(ctx, VIGIL_HOST_API_VERSION));
    JSValue info = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, info, "name", JS_NewString(ctx, "host-native"));
    JS_SetPropertyStr(ctx, info, "version", JS_NewString(ctx, VIGIL_VERSION));
    JS_SetPropertyStr(ctx, info, "bundleSha256", vigil.bundle_sha256[0] ? JS_NewString(ctx, vigil.bundle_sha256) : JS_NULL);
    vigil_supervise_init(ctx, info);
    JS_SetPropertyStr(ctx, host, "info", info);
    JS_SetPropertyStr(ctx, host, "memory", JS_NewCFunction(ctx, host_memory, "memory", 0));
}
