/*
 * vigil: runs the agent bundle (dist/agent.js or its bytecode) in QuickJS with the native Host.
 *
 * main() only assembles the parts: the command line (args.c), the paths (paths.c), then runs of the bundle
 * (run.c: a fresh engine, the loop of loop.c) until one ends or is stopped by a signal. When the engine stops
 * the agent at a limit, the bundle starts again on a fresh engine (host_supervise.c); exit 3 when that turns
 * into a crash loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "bundle.h"
#include "host.h"
#include "loop.h"
#include "paths.h"
#include "run.h"
#include "runtime.h"

int main(int argc, char **argv) {
    struct vigil_args args;
    int parsed = vigil_args_parse(argc, argv, &args);
    if (parsed >= 0) return parsed;
    if (args.compile_in) return vigil_bundle_compile(args.compile_in, args.compile_out);
    vigil.memory_limit = args.memory_limit;
    vigil.cpu_budget_ms = args.cpu_budget_ms;
    vigil_log_setup(args.to_stderr, args.level);
    vigil_supervise_setup(args.max_restarts, args.restart_window_ms);
    if (args.no_dbus) vigil_vapix_disable();

    /* ACAP defaults first: param.conf from the package dir unless given, then files and --set win. */
    const char *param_conf = args.param_conf;
    if (!param_conf && access("param.conf", R_OK) == 0) param_conf = "param.conf";
    if (param_conf) {
        if (vigil_config_load_defaults(param_conf) != 0) {
            vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] cannot read %s: %s", param_conf, strerror(errno));
            return 2;
        }
    }
    if (vigil_paths_setup(args.root, args.data_dir) != 0) return 2;

    size_t len;
    uint8_t *code = vigil_bundle_read(args.bundle, &len);
    if (!code) {
        vigil_log(VIGIL_LOG_ERROR, "[vigil] [native] cannot read %s: %s", args.bundle, strerror(errno));
        return 2;
    }
    vigil_sha256_hex(code, len, vigil.bundle_sha256);
    vigil_supervise_load();
    vigil_signals_setup();

    int rc;
    for (;;) {
        rc = vigil_run_once(code, len, args.bundle, args.stop_timeout_ms);
        if (!vigil.ctx) break;
        int again = 0;
        if (vigil_supervise_reason()) {
            if (vigil_stop_signal()) vigil_supervise_store_reason();
            else if (vigil_supervise_restart()) again = 1;
            else rc = VIGIL_EXIT_CRASH_LOOP;
        } else if (vigil_heap_near_limit(vigil.rt)) {
            /* Ended at the heap limit without an error reaching the host (one the agent caught). */
            vigil_supervise_note("out of memory");
            vigil_supervise_store_reason();
        }
        if (!again && args.print_name) vigil_run_print_global(args.print_name);
        vigil_run_free();
        if (!again) break;
    }
    free(code);
    if (vigil_stop_signal()) vigil_log(VIGIL_LOG_INFO, "[vigil] [native] stopped");
    return rc;
}
