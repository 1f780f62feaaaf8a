/*
 * host-native: the C Host that runs the Vigil agent bundle on the camera.
 *
 * This header mirrors agent/src/host.ts. Each capability lives in one file with one init function that
 * fills one namespace object of the global `__vigilHost` (txiki.js style); run.c calls them in this order:
 *
 *   host.ts member            C file            init
 *   apiVersion, info, memory  host_info.c       vigil_info_init(ctx, host)    (the runtime owns those numbers)
 *   info.lastExit             host_supervise.c  vigil_supervise_init(ctx, info) (and the in-process restart)
 *   fs.*                      host_fs.c         vigil_fs_init(ctx, host)      -> host.fs
 *   net.* (TCP + TLS)         host_net.c        vigil_net_init(ctx, host)     -> host.net
 *                               net_socket.c      (a socket's life: connect, TLS handshake, read/write)
 *                               net_tls.c         (mbedTLS setup, the IP-address name check)
 *                               net_dns.c         (/etc/hosts, the DNS client)
 *   crypto.* (SHA-256, P-256) host_crypto.c     vigil_crypto_init(ctx, host)  -> host.crypto
 *   clock.* (timers)          host_clock.c      vigil_clock_init(ctx, host)   -> host.clock
 *   text.* (UTF-8, Latin-1)   host_text.c       vigil_text_init(ctx, host)    -> host.text
 *   log()                     host_log.c        vigil_log_init(ctx, host)     -> host.log
 *   config()                  host_config.c     vigil_config_init(ctx, host)  -> host.config, host.configOverrides
 *   vapixCredentials()        host_vapix.c      vigil_vapix_init(ctx, host)   -> host.vapixCredentials (D-Bus only)
 *
 * Below the capabilities: runtime.c (the engine, its limits, jobs, errors and promises; runtime.h),
 * clocks.c (monotonic and CPU clocks), paths.c (--root and the data dir). Above them: run.c (one run),
 * loop.c (the poll() loop, signals), args.c (the command line), bundle.c, and main.c, which nothing uses.
 *
 * Conventions of the seam, kept here too: bytes are ArrayBuffers, sockets and timers are small integer
 * ids, every asynchronous call returns a Promise, and a failure rejects with an Error whose `code` is a
 * HostErrorCode and whose message is "<code>: <what failed>".
 */
#ifndef VIGIL_HOST_H
#define VIGIL_HOST_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "quickjs.h"

#define VIGIL_HOST_API_VERSION 1
#ifndef VIGIL_VERSION
#define VIGIL_VERSION "0.0.0"
#endif

#define VIGIL_COUNTOF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- supervision (host_supervise.c) ------------------------------------------------------------------- */

/* Exit code when the host gives up restarting the agent (a crash loop); the process manager respawns it. */
#define VIGIL_EXIT_CRASH_LOOP 3
/* Gives up after max restarts within window_ms (defaults 5 and 10 minutes). */
void vigil_supervise_setup(int max_restarts, int64_t window_ms);
/* Reads and removes <data>/.vigil-last-exit (the previous process's abnormal end); writes it. */
void vigil_supervise_load(void);
void vigil_supervise_store(const char *text);
/* Sets info.lastExit for the run being created. */
void vigil_supervise_init(JSContext *ctx, JSValueConst info);
/* An engine error's text that reached the host uncaught: remembers a limit stop (CPU, memory, stack). */
void vigil_supervise_note(const char *message);
/* Why the engine stopped the current run at a limit, or NULL. */
const char *vigil_supervise_reason(void);
/* After a run stopped at a limit: 1 = start it again (lastExit says why), 0 = gave up (logged and stored). */
int vigil_supervise_restart(void);
/* Stores the pending reason in .vigil-last-exit for the next process. */
void vigil_supervise_store_reason(void);

/* ---- event loop participants ------------------------------------------------------------------------- */

/* Each returns the number of pollfds it added (at most max) and lowers *timeout_ms to its next deadline. */
int vigil_net_poll_prepare(struct pollfd *fds, int max, int64_t *timeout_ms);
void vigil_net_poll_done(struct pollfd *fds, int n);
int vigil_net_active(void);
void vigil_net_close_all(void);

void vigil_clock_prepare(int64_t *timeout_ms);
void vigil_clock_run_due(void);
int vigil_clock_active(void);
void vigil_clock_clear_all(void);

void vigil_crypto_prepare(int64_t *timeout_ms);
void vigil_crypto_run(void);
int vigil_crypto_active(void);
void vigil_crypto_cancel_all(void);

/* ---- capabilities ------------------------------------------------------------------------------------ */

void vigil_fs_init(JSContext *ctx, JSValueConst host);
void vigil_net_init(JSContext *ctx, JSValueConst host);
void vigil_crypto_init(JSContext *ctx, JSValueConst host);
void vigil_clock_init(JSContext *ctx, JSValueConst host);
void vigil_text_init(JSContext *ctx, JSValueConst host);
void vigil_log_init(JSContext *ctx, JSValueConst host);
void vigil_config_init(JSContext *ctx, JSValueConst host);
void vigil_vapix_init(JSContext *ctx, JSValueConst host);

void vigil_info_init(JSContext *ctx, JSValueConst host);

/* Maps errno onto a HostErrorCode of the fs family ("EIO" for anything unexpected). */
const char *vigil_errno_code(int err);
/* fs path mapping, also used by net (TLS files) and crypto (sha256File). Returns 0 or -errno. */
int vigil_fs_resolve(const char *device, int follow_last, char *real, size_t real_size, char *resolved_device,
                     size_t device_size);
/* Opens a resolved path for a content read (readFile, sha256File) without blocking and refuses what is not a
 * regular file (EISDIR, ENOTFILE). Returns the fd, or -1 with *rejection set to a rejected promise. */
int vigil_open_regular(JSContext *ctx, const char *real, const char *path, JSValue *rejection);

/* One config line (`Key=value`, `Key = value`, param.conf's `Key="value" type=...`), parsed in place:
 * 1 with key/value set, 0 for a blank or comment line, -1 when it is not key=value. */
int vigil_config_parse_line(char *line, char **key, char **value);

/* Logging. Levels as in host.ts; syslog on the camera, one line per record on stderr by hand. */
enum vigil_log_level { VIGIL_LOG_DEBUG, VIGIL_LOG_INFO, VIGIL_LOG_WARN, VIGIL_LOG_ERROR };
void vigil_log_setup(int to_stderr, enum vigil_log_level min_level);
void vigil_log(enum vigil_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vigil_log_level_parse(const char *name, enum vigil_log_level *out);

/* Config: key=value pairs collected before the bundle runs. */
int vigil_config_load_file(const char *path);
/* ACAP parameter defaults (param.conf lines `Name="value" type="..."`): set only where nothing is set yet. */
int vigil_config_load_defaults(const char *path);
int vigil_config_set(const char *key, const char *value);
/* A default (param.conf's level): not in host.configOverrides(). */
int vigil_config_set_default(const char *key, const char *value);
const char *vigil_config_get(const char *key);

/* SHA-256 of bytes as 64 lowercase hex digits + NUL (host_crypto.c). */
void vigil_sha256_hex(const uint8_t *data, size_t len, char out[65]);

/* D-Bus: used by host_vapix.c; exposed for --help, tests and the fuzzers (fuzz/). */
struct vigil_dbus_msg {
    size_t total;
    int type;
    uint32_t reply_serial;
    /* The body's leading string (not NUL-terminated here) when the signature starts with 's', or NULL. */
    const char *str;
    size_t str_len;
    /* Header fields, not NUL-terminated here: SIGNATURE (the body's types; length 0 when absent) and
     * ERROR_NAME (NULL when absent). */
    const char *signature;
    size_t signature_len;
    const char *error_name;
    size_t error_name_len;
    const char *error;
};
int vigil_dbus_parse(const uint8_t *in, size_t have, size_t cap, struct vigil_dbus_msg *m);
const char *vigil_vapix_bus_path(void);
void vigil_vapix_disable(void);

#endif
