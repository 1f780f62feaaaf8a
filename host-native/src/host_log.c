/*
 * log: host.log(level, message). syslog on the camera (the Axis examples do; the app log in the web UI reads
 * it), one line per record on stderr when run by hand or with --stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <sys/time.h>
#include <time.h>

#include "host.h"

static int log_to_stderr;
static enum vigil_log_level log_min = VIGIL_LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};
static const int syslog_priority[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};

void vigil_log_setup(int to_stderr, enum vigil_log_level min_level) {
    log_to_stderr = to_stderr;
    log_min = min_level;
    if (!to_stderr) openlog("vigil", LOG_PID, LOG_USER);
}

int vigil_log_level_parse(const char *name, enum vigil_log_level *out) {
    for (size_t i = 0; i < VIGIL_COUNTOF(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum vigil_log_level)i;
            return 0;
        }
    }
    return -1;
}

static void emit(enum vigil_log_level level, const char *msg) {
    if (!log_to_stderr) {
        /* syslog filters by priority itself; debug records stay available to whoever raises the level. */
        syslog(syslog_priority[level], "%s", msg);
        return;
    }
    if (level < log_min) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03dZ %-5s %s\n", stamp, (int)(tv.tv_usec / 1000), level_names[level], msg);
}

void vigil_log(enum vigil_log_level level, const char *fmt, ...) {
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit(level, msg);
}

static JSValue js_log(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    enum vigil_log_level level = VIGIL_LOG_INFO;
    const char *lv = argc > 0 ? JS_ToCString(ctx, argv[0]) : NULL;
    if (lv) {
        if (vigil_log_level_parse(lv, &level) != 0) level = VIGIL_LOG_INFO;
        JS_FreeCString(ctx, lv);
    }
    size_t len;
    const char *msg = argc > 1 ? JS_ToCStringLen(ctx, &len, argv[1]) : NULL;
    if (!msg) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        emit(level, "");
        return JS_UNDEFINED;
    }
    emit(level, msg);
    JS_FreeCString(ctx, msg);
    return JS_UNDEFINED;
}

void vigil_log_init(JSContext *ctx, JSValueConst host) {
    JS_SetPropertyStr(ctx, host, "log", JS_NewCFunction(ctx, js_log, "log", 2));
}
