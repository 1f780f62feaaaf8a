/*
 * vapix: host.vapixCredentials(), local VAPIX credentials from the D-Bus method
 * com.axis.HTTPConf1.VAPIXServiceAccounts1.GetCredentials (AXIS OS >= 11.9, reference axis-os.md §3.1).
 *
 * libdbus has no static library in Debian, so this speaks the few bytes of the D-Bus wire protocol it
 * needs: SASL EXTERNAL auth on the system bus socket, Hello, one method call, its reply (signature "s",
 * 'a0-<user>:<password>'). The bus is found as libdbus finds it: DBUS_SYSTEM_BUS_ADDRESS, else
 * /run/dbus/system_bus_socket. The member is installed only when that socket exists (not on a PC); otherwise
 * the agent falls back to the VapixUsername/VapixPassword parameters, as it does when the call fails. The
 * call blocks for at most DBUS_TIMEOUT_MS, once per collection cycle (the agent fetches the credentials each
 * time: they are wiped on reboot); that wait is not charged to the JS slice's CPU budget.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clocks.h"
#include "host.h"
#include "runtime.h"

#define DBUS_TIMEOUT_MS 3000
#define SERVICE_ACCOUNT "vigil"

static int disabled;
static char bus_path[108];

void vigil_vapix_disable(void) { disabled = 1; }

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A %-escaped D-Bus address value (the D-Bus spec, "Server Addresses") into out; -1 if malformed or too long. */
static int unescape(const char *v, size_t n, char *out, size_t size) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)v[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = hex_value(v[i + 1]), lo = hex_value(v[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= size) return -1;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return o ? 0 : -1;
}

/*
 * The system bus socket as libdbus finds it: DBUS_SYSTEM_BUS_ADDRESS when set (tests point it at a private
 * dbus-daemon), the first of its `;`-separated addresses that is `unix:` with a `path=` key (in any position,
 * %-escapes decoded; other transports such as tcp: and unix:abstract= are skipped), else the well-known
 * /run/dbus/system_bus_socket. "" when the variable names no address this host can use.
 */
const char *vigil_vapix_bus_path(void) {
    const char *addr = getenv("DBUS_SYSTEM_BUS_ADDRESS");
    if (!addr || !*addr) {
        snprintf(bus_path, sizeof bus_path, "/run/dbus/system_bus_socket");
        return bus_path;
    }
    bus_path[0] = 0;
    for (const char *entry = addr; *entry;) {
        size_t elen = strcspn(entry, ";");
        if (elen > 5 && strncmp(entry, "unix:", 5) == 0) {
            for (const char *kv = entry + 5; kv < entry + elen;) {
                size_t kvlen = strcspn(kv, ",;");
                if (kvlen > 5 && strncmp(kv, "path=", 5) == 0) {
                    if (unescape(kv + 5, kvlen - 5, bus_path, sizeof bus_path) == 0) return bus_path;
                    bus_path[0] = 0;
                    break;
                }
                kv += kvlen;
                if (*kv == ',') kv++;
            }
        }
        entry += elen;
        if (*entry == ';') entry++;
    }
    return bus_path;
}

/* ---- a little D-Bus marshalling (little endian) ------------------------------------------------------ */

struct buf {
    uint8_t d[2048];
    size_t n;
    int overflow;
};

static void put(struct buf *b, const void *p, size_t n) {
    if (b->n + n > sizeof b->d) {
        b->overflow = 1;
        return;
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void pad(struct buf *b, size_t a) {
    static const uint8_t z[8];
    put(b, z, (a - b->n % a) % a);
}
static void put_u32(struct buf *b, uint32_t v) {
    pad(b, 4);
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}
static void put_str(struct buf *b, const char *s) {
    put_u32(b, (uint32_t)strlen(s));
    put(b, s, strlen(s) + 1);
}
static void put_sig(struct buf *b, const char *s) {
    uint8_t l = (uint8_t)strlen(s);
    put(b, &l, 1);
    put(b, s, strlen(s) + 1);
}
/* One header field: (code, variant of type 's'/'o'/'g'). */
static void put_field(struct buf *b, uint8_t code, char type, const char *value) {
    pad(b, 8);
    put(b, &code, 1);
    char sig[2] = {type, 0};
    put_sig(b, sig);
    if (type == 'g') put_sig(b, value);
    else put_str(b, value);
}

static size_t method_call(uint8_t *out, size_t cap, uint32_t serial, const char *dest, const char *path,
                          const char *iface, const char *member, const char *arg) {
    struct buf body = {.n = 0}, h = {.n = 0};
    if (arg) put_str(&body, arg);
    uint8_t fixed[4] = {'l', 1 /* METHOD_CALL */, 0, 1};
    put(&h, fixed, 4);
    put_u32(&h, (uint32_t)body.n);
    put_u32(&h, serial);
    put_u32(&h, 0); /* fields length, patched below */
    size_t fields_start = h.n;
    put_field(&h, 1, 'o', path);
    put_field(&h, 6, 's', dest);
    put_field(&h, 2, 's', iface);
    put_field(&h, 3, 's', member);
    if (arg) put_field(&h, 8, 'g', "s");
    uint32_t flen = (uint32_t)(h.n - fields_start);
    memcpy(h.d + 12, (uint8_t[]){(uint8_t)flen, (uint8_t)(flen >> 8), (uint8_t)(flen >> 16), (uint8_t)(flen >> 24)}, 4);
    pad(&h, 8);
    put(&h, body.d, body.n);
    if (h.overflow || body.overflow || h.n > cap) return 0;
    memcpy(out, h.d, h.n);
    return h.n;
}

static uint32_t get_u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* The socket I/O below returns 0, or one of these (io_error() words them). */
enum { IO_TIMEOUT = -1, IO_CLOSED = -2, IO_ERRNO = -3 };

static int io_wait(int fd, short ev, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - vigil_monotonic_ms();
        if (left <= 0) return IO_TIMEOUT;
        struct pollfd p = {.fd = fd, .events = ev};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return IO_ERRNO;
        if (r == 0) return IO_TIMEOUT;
        return 0; /* ready, or POLLHUP/POLLERR: the send/recv that follows says which */
    }
}

static int send_all(int fd, const void *data, size_t len, int64_t deadline) {
    const uint8_t *p = data;
    while (len > 0) {
        int w = io_wait(fd, POLLOUT, deadline);
        if (w != 0) return w;
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) return errno == EPIPE || errno == ECONNRESET ? IO_CLOSED : IO_ERRNO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int recv_some(int fd, uint8_t *buf, size_t cap, size_t *have, int64_t deadline) {
    for (;;) {
        if (*have >= cap) return IO_ERRNO; /* not reached: vigil_dbus_parse refuses what would not fit */
        int w = io_wait(fd, POLLIN, deadline);
        if (w != 0) return w;
        ssize_t n = recv(fd, buf + *have, cap - *have, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n == 0 || (n < 0 && errno == ECONNRESET)) return IO_CLOSED;
        if (n < 0) return IO_ERRNO;
        *have += (size_t)n;
        return 0;
    }
}

static void io_error(int r, const char *path, char *err, size_t esize) {
    if (r == IO_TIMEOUT) snprintf(err, esize, "no answer from the system bus at %s within %d ms", path, DBUS_TIMEOUT_MS);
    else if (r == IO_CLOSED) snprintf(err, esize, "the system bus at %s closed the connection", path);
    else snprintf(err, esize, "the system bus at %s: %s", path, strerror(errno));
}

/* Up to n bytes of what the bus sent, printable ASCII only, for an error message. */
static void printable(const char *s, size_t n, char *out, size_t size) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < size && s[i] != '\r' && s[i] != '\n'; i++) out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    out[o] = 0;
}

/*
 * One little-endian D-Bus message at the start of in[0..have) (cap: the buffer's size). Returns 1 when it is
 * complete (m filled: its total size, type, REPLY_SERIAL, SIGNATURE, ERROR_NAME, and the body's leading
 * string if its signature starts with one),
 * 0 when more bytes are needed, -1 when it is malformed or larger than cap (m->error says why). Every
 * read is bounded by the message; the bytes come from the bus, so nothing in them is trusted.
 */
int vigil_dbus_parse(const uint8_t *in, size_t have, size_t cap, struct vigil_dbus_msg *m) {
    memset(m, 0, sizeof *m);
    if (have < 16) return 0;
    if (in[0] != 'l') {
        m->error = "big-endian D-Bus messages are not supported";
        return -1;
    }
    size_t flen = get_u32(in + 12), body_len = get_u32(in + 4);
    if (flen > cap || body_len > cap) {
        m->error = "D-Bus message too large";
        return -1;
    }
    size_t fields_end = 16 + flen;
    size_t body_at = (fields_end + 7) & ~(size_t)7, total = body_at + body_len;
    if (total > cap) {
        m->error = "D-Bus message too large";
        return -1;
    }
    if (have < total) return 0;
    m->total = total;
    m->type = in[1];
    /* Header fields: (code, variant) structs, 8-aligned; a variant is its signature then its value. Only
     * single basic types are read; anything else ends the walk (REPLY_SERIAL stays 0: not our reply). */
    for (size_t off = 16; off < fields_end;) {
        off = (off + 7) & ~(size_t)7;
        if (off + 4 > fields_end) break;
        uint8_t code = in[off];
        uint8_t slen = in[off + 1];
        char t = (char)in[off + 2];
        if (slen != 1 || off + 3 + slen > fields_end) break;
        off += 3 + slen;
        if (t == 'u') {
            off = (off + 3) & ~(size_t)3;
            if (off + 4 > fields_end) break;
            if (code == 5) m->reply_serial = get_u32(in + off);
            off += 4;
        } else if (t == 's' || t == 'o') {
            off = (off + 3) & ~(size_t)3;
            if (off + 4 > fields_end) break;
            size_t l = get_u32(in + off);
            if (l >= fields_end - off - 4) break; /* the string and its NUL must fit */
            if (code == 4 && t == 's') {
                m->error_name = (const char *)in + off + 4;
                m->error_name_len = l;
            }
            off += 4 + l + 1;
        } else if (t == 'g') {
            if (off + 1 > fields_end) break;
            size_t l = in[off];
            if (l + 2 > fields_end - off) break;
            if (code == 8) {
                m->signature = (const char *)in + off + 1;
                m->signature_len = l;
            }
            off += 1 + l + 1;
        } else {
            break;
        }
    }
    /* The body's leading string: length, bytes, NUL, all inside the body. */
    if (m->signature_len > 0 && m->signature[0] == 's' && body_len >= 5) {
        size_t slen = get_u32(in + body_at);
        if (slen <= body_len - 5 && in[body_at + 4 + slen] == 0) {
            m->str = (const char *)in + body_at + 4;
            m->str_len = slen;
        }
    }
    return 1;
}

/* Calls GetCredentials; fills user/pass or an error message. Returns 0 on success. */
static int get_credentials(char *user, size_t usize, char *pass, size_t psize, char *err, size_t esize) {
    int64_t deadline = vigil_monotonic_ms() + DBUS_TIMEOUT_MS;
    const char *path = vigil_vapix_bus_path();
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    uint8_t in[8192];
    size_t have = 0;
    int r;
    if (fd < 0 || (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS)) {
        snprintf(err, esize, "cannot connect to the system bus at %s: %s", path, strerror(errno));
        goto fail;
    }
    char auth[64], uid[16];
    snprintf(uid, sizeof uid, "%u", (unsigned)getuid());
    int n = snprintf(auth, sizeof auth, "AUTH EXTERNAL ");
    for (char *c = uid; *c; c++) n += snprintf(auth + n, sizeof auth - (size_t)n, "%02x", (unsigned char)*c);
    snprintf(auth + n, sizeof auth - (size_t)n, "\r\n");
    if ((r = send_all(fd, "", 1, deadline)) != 0 || (r = send_all(fd, auth, strlen(auth), deadline)) != 0) goto io;
    while (!memchr(in, '\n', have))
        if ((r = recv_some(fd, in, sizeof in, &have, deadline)) != 0) goto io;
    if (have < 3 || memcmp(in, "OK ", 3) != 0) {
        char said[80];
        printable((const char *)in, have, said, sizeof said);
        snprintf(err, esize, "the system bus at %s refused authentication as uid %s (it said \"%s\")", path, uid, said);
        goto fail;
    }
    have = 0;
    uint8_t msg[2048];
    size_t len = method_call(msg, sizeof msg, 1, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                             "Hello", NULL);
    if ((r = send_all(fd, "BEGIN\r\n", 7, deadline)) != 0 || (r = send_all(fd, msg, len, deadline)) != 0) goto io;
    len = method_call(msg, sizeof msg, 2, "com.axis.HTTPConf1", "/com/axis/HTTPConf1/VAPIXServiceAccounts1",
                      "com.axis.HTTPConf1.VAPIXServiceAccounts1", "GetCredentials", SERVICE_ACCOUNT);
    if ((r = send_all(fd, msg, len, deadline)) != 0) goto io;
    for (;;) {
        struct vigil_dbus_msg m;
        while ((r = vigil_dbus_parse(in, have, sizeof in, &m)) == 0)
            if ((r = recv_some(fd, in, sizeof in, &have, deadline)) != 0) goto io;
        if (r < 0) {
            snprintf(err, esize, "%s", m.error);
            goto fail;
        }
        /* The Hello reply (serial 1) and NameAcquired come first; only the answer to serial 2 matters. */
        if ((m.type == 2 || m.type == 3) && m.reply_serial == 2) {
            char name[128], text[300];
            if (m.type == 3) {
                printable(m.error_name ? m.error_name : "(no error name)", m.error_name ? m.error_name_len : 15, name, sizeof name);
                printable(m.str ? m.str : "", m.str ? m.str_len : 0, text, sizeof text);
                snprintf(err, esize, "D-Bus error %s%s%s", name, *text ? ": " : "", text);
                goto fail;
            }
            /* Reference axis-os.md §3.1: one string, 'a0-<username>:<password>'. Anything else is refused,
             * not guessed at: a wrong answer would send wrong credentials to VAPIX. */
            if (m.signature_len != 1 || m.signature[0] != 's') {
                printable(m.signature ? m.signature : "", m.signature_len, name, sizeof name);
                snprintf(err, esize, "GetCredentials answered with D-Bus signature '%s', expected 's'", name);
                goto fail;
            }
            const char *colon = m.str ? memchr(m.str, ':', m.str_len) : NULL;
            size_t ulen = colon ? (size_t)(colon - m.str) : 0, plen = colon ? m.str_len - ulen - 1 : 0;
            if (!colon || ulen == 0 || plen == 0) {
                snprintf(err, esize, "GetCredentials answered a string that is not 'user:password'");
                goto fail;
            }
            if (ulen >= usize || plen >= psize) {
                snprintf(err, esize, "GetCredentials answered credentials longer than %zu/%zu bytes", usize - 1, psize - 1);
                goto fail;
            }
            snprintf(user, usize, "%.*s", (int)ulen, m.str);
            snprintf(pass, psize, "%.*s", (int)plen, colon + 1);
            memset(in, 0, sizeof in); /* the password: kept in memory only where the agent holds it */
            close(fd);
            return 0;
        }
        memmove(in, in + m.total, have - m.total);
        have -= m.total;
    }
io:
    io_error(r, path, err, esize);
fail:
    memset(in, 0, sizeof in);
    if (fd >= 0) close(fd);
    return -1;
}

static JSValue js_vapix_credentials(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    (void)argc;
    (void)argv;
    char user[128], pass[256], err[512];
    /* The wait for the bus blocks in poll(), which is no CPU of this thread: the slice's budget (runtime.c)
     * does not count it, so a slow or silent bus cannot get the agent stopped as a runaway. */
    int r = get_credentials(user, sizeof user, pass, sizeof pass, err, sizeof err);
    if (r != 0) return vigil_rejected(ctx, vigil_error(ctx, "EIO", "%s", err));
    JSValue o = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, o, "username", JS_NewString(ctx, user));
    JS_SetPropertyStr(ctx, o, "password", JS_NewString(ctx, pass));
    memset(pass, 0, sizeof pass);
    return vigil_resolved(ctx, o);
}

void vigil_vapix_init(JSContext *ctx, JSValueConst host) {
    struct stat st;
    if (disabled) return;
    const char *path = vigil_vapix_bus_path();
    if (!*path) {
        vigil_log(VIGIL_LOG_WARN, "[vigil] [native] DBUS_SYSTEM_BUS_ADDRESS has no unix:path= address; VAPIX credentials "
                                  "come from VapixUsername/VapixPassword");
        return;
    }
    if (stat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) return;
    JS_SetPropertyStr(ctx, host, "vapixCredentials", JS_NewCFunction(ctx, js_vapix_credentials, "vapixCredentials", 0));
}
