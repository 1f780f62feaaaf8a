/* One run of the agent (run.h): __vigilHost assembled from every capability's init (host.h's table), the
 * bundle evaluated in a first slice, then the loop; and the orderly end of the engine afterwards. */
#include <stdio.h>

#include "bundle.h"
#include "host.h"
#include "loop.h"
#include "run.h"
#include "runtime.h"

static JSValue make_host(JSContext *ctx) {
    JSValue host = JS_NewObject(ctx);
    vigil_info_init(ctx, host);
    vigil_fs_init(ctx, host);
    vigil_net_init(ctx, host);
    vigil_crypto_init(ctx, host);
    vigil_clock_init(ctx, host);
    vigil_text_init(ctx, host);
    vigil_log_init(ctx, host);
    vigil_config_init(ctx, host);
    vigil_vapix_init(ctx, host);
    return host;
}

int vigil_run_once(const uint8_t *code, size_t len, const char *bundle, int64_t stop_timeout_ms) {
    vigil.rt = vigil_new_runtime();
    vigil.ctx = vigil.rt ? JS_NewContext(vigil.rt) : NULL;
    if (!vigil.ctx) {
        vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] cannot create the QuickJS runtime");
        if (vigil.rt) JS_FreeRuntime(vigil.rt);
        vigil.rt = NULL;
        return 1;
    }
    JSContext *ctx = vigil.ctx;
    JSValue global = JS_GetGlobalObject(ctx);
    JS_SetPropertyStr(ctx, global, "__vigilHost", make_host(ctx));
    JS_FreeValue(ctx, global);

    vigil_slice_begin();
    JSValue result = vigil_bundle_eval(ctx, code, len, bundle);
    vigil_slice_end();
    if (JS_IsException(result)) {
        vigil_report_exception(ctx, bundle);
        /* Stopped at a limit while evaluating: the loop still calls a stop() the bundle may have set up. */
        if (!vigil_supervise_reason()) return 1;
    }
    JS_FreeValue(ctx, result);
    return vigil_loop_run(ctx, stop_timeout_ms);
}

/* The agent sees its sockets and hashing end (rejections) and may react once; then no more JS runs, so
 * nothing it starts can outlive the runtime (QuickJS asserts on a live object). */
void vigil_run_free(void) {
    vigil_net_close_all();
    vigil_crypto_cancel_all();
    vigil_run_jobs();
    vigil.tearing_down = 1;
    vigil_net_close_all();
    vigil_crypto_cancel_all();
    vigil_clock_clear_all();
    vigil_run_jobs();
    vigil.tearing_down = 0;
    JS_FreeContext(vigil.ctx);
    JS_FreeRuntime(vigil.rt);
    vigil.ctx = NULL;
    vigil.rt = NULL;
    vigil.slice_interrupted = 0;
}

void vigil_run_print_global(const char *name) {
    JSContext *ctx = vigil.ctx;
    JSValue global = JS_GetGlobalObject(ctx);
    JSValue v = JS_GetPropertyStr(ctx, global, name);
    JSValue json = JS_JSONStringify(ctx, v, JS_UNDEFINED, JS_UNDEFINED);
    const char *s = JS_IsString(json) ? JS_ToCString(ctx, json) : NULL;
    printf("%s\n", s ? s : "null");
    fflush(stdout);
    if (s) JS_FreeCString(ctx, s);
    JS_FreeValue(ctx, json);
    JS_FreeValue(ctx, v);
    JS_FreeValue(ctx, global);
}
