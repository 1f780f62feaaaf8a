/* The command line (args.h): `vigil [options] BUNDLE` and `vigil --compile IN OUT`, with --help's text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"

static const char *usage_text =
    "usage: vigil [options] BUNDLE            run dist/agent.js or its bytecode (.qjsbc)\n"
    "       vigil --compile IN.js OUT.qjsbc   precompile a bundle to QuickJS bytecode\n"
    "\n"
    "options:\n"
    "  --root DIR              map device paths onto DIR (a fixture root file system); default /\n"
    "  --data-dir DIR          host directory backing the data dir (config DataDir); default: DataDir under the root\n"
    "  --config FILE           agent parameters as key=value lines (also Name=\"value\" param.conf lines); repeatable\n"
    "  --set KEY=VALUE         one agent parameter, over the config files\n"
    "  --param-conf FILE       ACAP defaults (param.conf); default ./param.conf when present (the package dir)\n"
    "  --memory-limit BYTES    JS heap limit (default 16777216)\n"
    "  --cpu-budget-ms MS      CPU budget per JS slice before it is interrupted (default 500)\n"
    "  --stop-timeout-ms MS    how long a SIGTERM waits for the agent's stop() (default 3000)\n"
    "  --max-restarts N        restarts in process after the engine stopped the agent at a limit (CPU, memory,\n"
    "                          stack) within --restart-window-ms (default 5, 600000); then exit 3\n"
    "  --restart-window-ms MS  (see --max-restarts)\n"
    "  --stderr                log to stderr instead of syslog (the default when stderr is a terminal)\n"
    "  --log-level LEVEL       debug|info|warn|error on stderr (default info)\n"
    "  --no-dbus               never ask D-Bus for VAPIX credentials (use VapixUsername/VapixPassword)\n"
    "  --print-global NAME     at exit, print JSON.stringify(globalThis[NAME]) on stdout (test harnesses)\n"
    "  --help                  this text\n"
    "\n"
    "On the camera the package runs `vigil agent.qjsbc` from /usr/local/packages/vigil with the defaults of\n"
    "param.conf; the agent reads the values set in the app's settings page from param.cgi (root.vigil), and\n"
    "--config / --set values win over those (a lab, a test).\n";

int vigil_args_parse(int argc, char **argv, struct vigil_args *opt) {
    memset(opt, 0, sizeof *opt);
    opt->to_stderr = isatty(2);
    opt->level = VIGIL_LOG_INFO;
    opt->stop_timeout_ms = 3000;
    opt->restart_window_ms = 600000;
    opt->max_restarts = 5;
    opt->memory_limit = 16 << 20;
    opt->cpu_budget_ms = 500;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_ARG()                                                                            \
    do {                                                                                      \
        if (!next) {                                                                          \
            fprintf(stderr, "[vigil] [native] %s needs a value (see --help)\n", a);           \
            return 2;                                                                         \
        }                                                                                     \
        i++;                                                                                  \
    } while (0)
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("vigil host-native %s (QuickJS %s)\n", VIGIL_VERSION, QUICKJS_VERSION_STRING);
            return 0;
        } else if (strcmp(a, "--compile") == 0) {
            if (i + 2 >= argc) {
                fprintf(stderr, "[vigil] [native] --compile needs IN.js OUT.qjsbc\n");
                return 2;
            }
            opt->compile_in = argv[i + 1];
            opt->compile_out = argv[i + 2];
            return -1;
        } else if (strcmp(a, "--root") == 0) {
            NEED_ARG();
            opt->root = next;
        } else if (strcmp(a, "--data-dir") == 0) {
            NEED_ARG();
            opt->data_dir = next;
        } else if (strcmp(a, "--config") == 0) {
            NEED_ARG();
            if (vigil_config_load_file(next) != 0) {
                fprintf(stderr, "[vigil] [native] cannot read config file %s: %s\n", next, strerror(errno));
                return 2;
            }
        } else if (strcmp(a, "--param-conf") == 0) {
            NEED_ARG();
            opt->param_conf = next;
        } else if (strcmp(a, "--set") == 0) {
            NEED_ARG();
            const char *eq = strchr(next, '=');
            if (!eq || eq == next) {
                fprintf(stderr, "[vigil] [native] --set needs KEY=VALUE, got %s\n", next);
                return 2;
            }
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(eq - next), next);
            vigil_config_set(key, eq + 1);
        } else if (strcmp(a, "--memory-limit") == 0) {
            NEED_ARG();
            opt->memory_limit = (size_t)strtoull(next, NULL, 10);
        } else if (strcmp(a, "--cpu-budget-ms") == 0) {
            NEED_ARG();
            opt->cpu_budget_ms = strtoll(next, NULL, 10);
        } else if (strcmp(a, "--stop-timeout-ms") == 0) {
            NEED_ARG();
            opt->stop_timeout_ms = strtoll(next, NULL, 10);
        } else if (strcmp(a, "--max-restarts") == 0) {
            NEED_ARG();
            opt->max_restarts = atoi(next);
        } else if (strcmp(a, "--restart-window-ms") == 0) {
            NEED_ARG();
            opt->restart_window_ms = strtoll(next, NULL, 10);
        } else if (strcmp(a, "--stderr") == 0) {
            opt->to_stderr = 1;
        } else if (strcmp(a, "--log-level") == 0) {
            NEED_ARG();
            if (vigil_log_level_parse(next, &opt->level) != 0) {
                fprintf(stderr, "[vigil] [native] unknown log level %s\n", next);
                return 2;
            }
        } else if (strcmp(a, "--no-dbus") == 0) {
            opt->no_dbus = 1;
        } else if (strcmp(a, "--print-global") == 0) {
            NEED_ARG();
            opt->print_name = next;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "[vigil] [native] unknown option %s (see --help)\n", a);
            return 2;
        } else if (!opt->bundle) {
            opt->bundle = a;
        } else {
            fprintf(stderr, "[vigil] [native] one bundle only, got %s and %s\n", opt->bundle, a);
            return 2;
        }
    }
    if (!opt->bundle) {
        fputs(usage_text, stderr);
        return 2;
    }
    return -1;
}
