/* The command line: options into struct vigil_args, `--help`'s text. */
#ifndef VIGIL_ARGS_H
#define VIGIL_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include "host.h"

struct vigil_args {
    const char *bundle, *root, *data_dir, *param_conf, *print_name;
    /* --compile IN OUT: compile_in is set and nothing else matters. */
    const char *compile_in, *compile_out;
    int to_stderr, no_dbus;
    enum vigil_log_level level;
    size_t memory_limit;
    int64_t cpu_budget_ms, stop_timeout_ms, restart_window_ms;
    int max_restarts;
};

/* Fills opt with the defaults and argv. --config files and --set go to host_config.c as they come, in order.
 * -1 to go on; else the exit code (0 after --help/--version, 2 for a usage error, said on stderr). */
int vigil_args_parse(int argc, char **argv, struct vigil_args *opt);

#endif
