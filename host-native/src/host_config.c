/*
 * config: host.config(), the agent's parameters as strings, named as the ACAP parameters in manifest.json.
 *
 * Sources, lowest precedence first: param.conf (the package's defaults, `Name="value" type="..."`), then
 * --config files (key=value lines, or param.conf lines), then --set KEY=VALUE. On the camera the values a
 * user sets in the app settings live in the parameter database behind axparameter, an Axis library this
 * static build does not link: the agent reads them itself through param.cgi (agent/src/settings.ts).
 * host.configOverrides() is the part from --config and --set, which wins over the camera's settings.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

#define MAX_PARAMS 128

static struct {
    char *key;
    char *value;
    int forced; /* from --config or --set: host.configOverrides() */
} params[MAX_PARAMS];
static int param_count;

static int find(const char *key) {
    for (int i = 0; i < param_count; i++)
        if (strcmp(params[i].key, key) == 0) return i;
    return -1;
}

static int set(const char *key, const char *value, int forced) {
    int i = find(key);
    if (i >= 0) {
        free(params[i].value);
        params[i].value = strdup(value);
        params[i].forced = forced;
        return 0;
    }
    if (param_count == MAX_PARAMS) return -1;
    params[param_count].key = strdup(key);
    params[param_count].value = strdup(value);
    params[param_count].forced = forced;
    param_count++;
    return 0;
}

int vigil_config_set(const char *key, const char *value) { return set(key, value, 1); }
int vigil_config_set_default(const char *key, const char *value) { return set(key, value, 0); }

const char *vigil_config_get(const char *key) {
    int i = find(key);
    return i >= 0 ? params[i].value : NULL;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

/* `Key=value`, `Key = value`, or param.conf's `Key="value" type="string"`. */
int vigil_config_parse_line(char *line, char **key, char **value) {
    char *s = trim(line);
    if (*s == 0 || *s == '#' || *s == ';') return 0;
    char *eq = strchr(s, '=');
    if (!eq) return -1;
    *eq = 0;
    *key = trim(s);
    char *v = trim(eq + 1);
    if (*v == '"') {
        char *end = strchr(v + 1, '"');
        if (end) {
            *end = 0;
            v++;
        }
    }
    *value = v;
    return **key ? 1 : -1;
}

static int load(const char *path, int only_missing) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *k, *v;
        int r = vigil_config_parse_line(line, &k, &v);
        if (r < 0) vigil_log(VIGIL_LOG_WARN, "[vigil] [native] %s:%d: not a key=value line, ignored", path, lineno);
        if (r <= 0) continue;
        if (only_missing && find(k) >= 0) continue;
        set(k, v, !only_missing);
    }
    fclose(f);
    return 0;
}

int vigil_config_load_file(const char *path) { return load(path, 0); }
int vigil_config_load_defaults(const char *path) { return load(path, 1); }

static JSValue params_object(JSContext *ctx, int forced_only) {
    JSValue o = JS_NewObject(ctx);
    for (int i = 0; i < param_count; i++)
        if (!forced_only || params[i].forced) JS_SetPropertyStr(ctx, o, params[i].key, JS_NewString(ctx, params[i].value));
    return o;
}

static JSValue js_config(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    (void)argc;
    (void)argv;
    return params_object(ctx, 0);
}

static JSValue js_config_overrides(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    (void)argc;
    (void)argv;
    return params_object(ctx, 1);
}

void vigil_config_init(JSContext *ctx, JSValueConst host) {
    JS_SetPropertyStr(ctx, host, "config", JS_NewCFunction(ctx, js_config, "config", 0));
    JS_SetPropertyStr(ctx, host, "configOverrides", JS_NewCFunction(ctx, js_config_overrides, "configOverrides", 0));
}
