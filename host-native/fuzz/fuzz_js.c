/*
 * libFuzzer harness: bytes that a file read (host.fs.readFile, host_fs.c) hands to the agent's JavaScript,
 * parsed by the agent's own parsers (MQTT, HTTP, param.cgi, VAPIX XML, /proc/net, JSON) inside the native
 * host's QuickJS with its real limits (heap, 256 KB stack, CPU budget). The socket path hands the same
 * ArrayBuffers to the same parsers. Input: one selector byte, then the file's content.
 *
 * Setup: VIGIL_FUZZ_BUNDLE names out/fuzz/fuzz-parsers.js (host-native/fuzz/build.sh builds it from
 * agent/test/fuzz-parsers.ts). A refusal (VigilError, a catchable stack overflow) is fine; anything else
 * the parsers throw, an interrupted slice (a hang) or a sanitizer report is a finding: abort().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "paths.h"
#include "runtime.h"

static char root[256];
static char in_path[300];
static JSValue run_fn;
static unsigned long runs;

static void die(const char *what) {
    fprintf(stderr, "[vigil] [fuzz] %s\n", what);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *bundle = getenv("VIGIL_FUZZ_BUNDLE");
    if (!bundle) die("set VIGIL_FUZZ_BUNDLE to out/fuzz/fuzz-parsers.js");
    FILE *f = fopen(bundle, "rb");
    if (!f) die("cannot open VIGIL_FUZZ_BUNDLE");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *code = malloc((size_t)len + 1);
    if (fread(code, 1, (size_t)len, f) != (size_t)len) die("cannot read the bundle");
    code[len] = 0;
    fclose(f);

    snprintf(root, sizeof root, "/tmp/vigil-fuzz-js-%d", (int)getpid());
    mkdir(root, 0700);
    snprintf(in_path, sizeof in_path, "%s/in", root);
    snprintf(vigil_paths.root, sizeof vigil_paths.root, "%s", root);
    snprintf(vigil_paths.data_device, sizeof vigil_paths.data_device, "/data");
    snprintf(vigil_paths.data_real, sizeof vigil_paths.data_real, "%s/data", root);
    vigil.memory_limit = 32 << 20;
    vigil.cpu_budget_ms = 2000;
    vigil_log_setup(1, VIGIL_LOG_ERROR);

    vigil.rt = vigil_new_runtime();
    vigil.ctx = JS_NewContext(vigil.rt);
    JSContext *ctx = vigil.ctx;
    JSValue global = JS_GetGlobalObject(ctx);
    JSValue host = JS_NewObject(ctx);
    vigil_fs_init(ctx, host);
    vigil_text_init(ctx, host);
    JS_SetPropertyStr(ctx, global, "__vigilHost", host);
    vigil_slice_begin();
    JSValue r = JS_Eval(ctx, code, (size_t)len, "fuzz-parsers.js", JS_EVAL_TYPE_GLOBAL);
    if (JS_IsException(r)) {
        vigil_report_exception(ctx, bundle);
        die("the bundle failed");
    }
    JS_FreeValue(ctx, r);
    const char *glue = "(sel) => __vigilHost.fs.readFile('/in', 1048576).then((b) => __vigilFuzz(sel, b))";
    run_fn = JS_Eval(ctx, glue, strlen(glue), "glue.js", JS_EVAL_TYPE_GLOBAL);
    vigil_slice_end();
    if (JS_IsException(run_fn)) die("the glue failed");
    JS_FreeValue(ctx, global);
    free(code);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    FILE *f = fopen(in_path, "wb");
    if (!f) die("cannot write the input file");
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    JSContext *ctx = vigil.ctx;
    JSValue sel = JS_NewInt32(ctx, data[0]);
    vigil_slice_begin();
    JSValue p = JS_Call(ctx, run_fn, JS_UNDEFINED, 1, &sel);
    vigil_slice_end();
    if (JS_IsException(p)) {
        vigil_report_exception(ctx, "glue");
        die("the glue threw");
    }
    vigil_run_jobs();
    JSPromiseStateEnum st = JS_PromiseState(ctx, p);
    if (st == JS_PROMISE_REJECTED) {
        JSValue reason = JS_PromiseResult(ctx, p);
        JS_Throw(ctx, reason);
        vigil_report_exception(ctx, "parser");
        die("a parser threw something other than a VigilError (or was interrupted)");
    }
    if (st != JS_PROMISE_FULFILLED) die("the parse did not settle");
    JS_FreeValue(ctx, p);
    if (++runs % 256 == 0) JS_RunGC(vigil.rt);
    return 0;
}
