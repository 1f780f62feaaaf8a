/*
 * vapix: host.vapixCredentials(), local VAPIX credentials from the D-Bus method
 * com.axis.HTTPConf1.VAPIXServiceAccounts1.GetCredentials (AXIS OS >= 11.9, reference axis-os.md §3.1).
 *
 * libdbus has no static library in Debian, so this speaks the few bytes of the D-Bus wire protocol it
 * needs: SASL EXTERNAL auth on the system bus socket, Hello, one method call, its reply. The member is
 * installed only when a system bus socket exists (not on a PC); otherwise the agent falls back to the
 * VapixUsername/VapixPassword parameters. The call blocks for at most DBUS_TIMEOUT_MS, once per start.
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

#include "host.h"

#define DBUS_TIMEOUT_MS 3000
#define SERVICE_ACCOUNT "vigil"

static int disabled;
static char bus_path[108];

void vigil_vapix_disable(void) { disabled = 1; }

const char *vigil_vapix_bus_path(void) {
    const char *addr = getenv("DBUS_SYSTEM_BUS_ADDRESS");
    if (addr && strncmp(addr, "unix:path=", 10) == 0) {
        snprintf(bus_path, sizeof bus_path, "%.*s", (int)strcspn(addr + 10, ",;"), addr + 10);
    } else {
        snprintf(bus_path, sizeof bus_path, "/run/dbus/system_bus_socket");
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

static int io_wait(int fd, short ev, int64_t deadline) {
    int64_t left = deadline - vigil_monotonic_ms();
    if (left <= 0) return -1;
    struct pollfd p = {.fd = fd, .events = ev};
    return poll(&p, 1, (int)left) == 1 ? 0 : -1;
}

static int send_all(int fd, const void *data, size_t len, int64_t deadline) {
    const uint8_t *p = data;
    while (len > 0) {
        if (io_wait(fd, POLLOUT, deadline) != 0) return -1;
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int recv_some(int fd, uint8_t *buf, size_t cap, size_t *have, int64_t deadline) {
    if (*have >= cap || io_wait(fd, POLLIN, deadline) != 0) return -1;
    ssize_t n = recv(fd, buf + *have, cap - *have, 0);
    if (n <= 0) return -1;
    *have += (size_t)n;
    return 0;
}

/*
 * One little-endian D-Bus message at the start of in[0..have) (cap: the buffer's size). Returns 1 when it is
 * complete (m filled: its total size, type, REPLY_SERIAL, and the body's leading string if it has one),
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
            off += 4 + l + 1;
        } else if (t == 'g') {
            if (off + 1 > fields_end) break;
            size_t l = in[off];
            if (l + 2 > fields_end - off) break;
            off += 1 + l + 1;
        } else {
            break;
        }
    }
    /* The body's leading string: length, bytes, NUL, all inside the body. */
    if (body_len >= 5) {
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
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", vigil_vapix_bus_path());
    uint8_t in[8192];
    size_t have = 0;
    if (fd < 0 || (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS)) {
        snprintf(err, esize, "cannot connect to the system bus at %s: %s", sa.sun_path, strerror(errno));
        goto fail;
    }
    char auth[64], uid[16];
    snprintf(uid, sizeof uid, "%u", (unsigned)getuid());
    int n = snprintf(auth, sizeof auth, "AUTH EXTERNAL ");
    for (char *c = uid; *c; c++) n += snprintf(auth + n, sizeof auth - (size_t)n, "%02x", (unsigned char)*c);
    snprintf(auth + n, sizeof auth - (size_t)n, "\r\n");
    if (send_all(fd, "", 1, deadline) != 0 || send_all(fd, auth, strlen(auth), deadline) != 0) goto io;
    while (!memchr(in, '\n', have))
        if (recv_some(fd, in, sizeof in, &have, deadline) != 0) goto io;
    if (have < 3 || memcmp(in, "OK ", 3) != 0) {
        snprintf(err, esize, "the system bus refused authentication");
        goto fail;
    }
    have = 0;
    uint8_t msg[2048];
    size_t len = method_call(msg, sizeof msg, 1, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                             "Hello", NULL);
    if (send_all(fd, "BEGIN\r\n", 7, deadline) != 0 || send_all(fd, msg, len, deadline) != 0) goto io;
    len = method_call(msg, sizeof msg, 2, "com.axis.HTTPConf1", "/com/axis/HTTPConf1/VAPIXServiceAccounts1",
                      "com.axis.HTTPConf1.VAPIXServiceAccounts1", "GetCredentials", SERVICE_ACCOUNT);
    if (send_all(fd, msg, len, deadline) != 0) goto io;
    for (;;) {
        struct vigil_dbus_msg m;
        int r;
        while ((r = vigil_dbus_parse(in, have, sizeof in, &m)) == 0)
            if (recv_some(fd, in, sizeof in, &have, deadline) != 0) goto io;
        if (r < 0) {
            snprintf(err, esize, "%s", m.error);
            goto fail;
        }
        if ((m.type == 2 || m.type == 3) && m.reply_serial == 2) {
            if (m.type == 3) {
                snprintf(err, esize, "GetCredentials failed: %.*s", m.str ? (int)m.str_len : 12, m.str ? m.str : "(no message)");
                goto fail;
            }
            const char *colon = m.str ? memchr(m.str, ':', m.str_len) : NULL;
            if (!colon) {
                snprintf(err, esize, "GetCredentials returned no user:password");
                goto fail;
            }
            snprintf(user, usize, "%.*s", (int)(colon - m.str), m.str);
            snprintf(pass, psize, "%.*s", (int)(m.str_len - (size_t)(colon - m.str) - 1), colon + 1);
            close(fd);
            return 0;
        }
        memmove(in, in + m.total, have - m.total);
        have -= m.total;
    }
io:
    snprintf(err, esize, "no answer from the system bus within %d ms", DBUS_TIMEOUT_MS);
fail:
    if (fd >= 0) close(fd);
    return -1;
}

static JSValue js_vapix_credentials(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    (void)argc;
    (void)argv;
    char user[128], pass[256], err[300];
    if (get_credentials(user, sizeof user, pass, sizeof pass, err, sizeof err) != 0)
        return vigil_rejected(ctx, vigil_error(ctx, "EIO", "%s", err));
    JSValue o = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, o, "username", JS_NewString(ctx, user));
    JS_SetPropertyStr(ctx, o, "password", JS_NewString(ctx, pass));
    memset(pass, 0, sizeof pass);
    return vigil_resolved(ctx, o);
}

void vigil_vapix_init(JSContext *ctx, JSValueConst host) {
    struct stat st;
    if (disabled || stat(vigil_vapix_bus_path(), &st) != 0 || !S_ISSOCK(st.st_mode)) return;
    JS_SetPropertyStr(ctx, host, "vapixCredentials", JS_NewCFunction(ctx, js_vapix_credentials, "vapixCredentials", 0));
}
