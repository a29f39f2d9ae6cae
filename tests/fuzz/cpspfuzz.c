/*
 * cpspfuzz.c — a hostile SP peer, the driver of the transport fuzz test
 * (tests/t_transport.sh). It speaks the SP wire format by hand (PROTOCOL.md
 * §1), so it can get every part of it wrong.
 *
 *   cpspfuzz attack [--seconds N] [--seed S] URL...
 *       Connects to a job's endpoints (ipc:// and tcp://, events and
 *       commands) again and again, each time playing one random session:
 *       garbage instead of a handshake, a header with the wrong protocol,
 *       mangled or cut short, then frames whose lengths lie (longer or
 *       shorter than the body, 0, 2^63, 2^64-1, just over a limit), bodies
 *       cut short, random bytes, and well-framed commands whose JSON is
 *       hostile (valid commands mutated byte by byte, bad numbers, escapes,
 *       deep nesting). Sometimes it reads the replies, sometimes it never
 *       does; sometimes it resets the connection.
 *
 *   cpspfuzz serve [--seconds N] [--seed S] [--job ID] EVENTS_URL COMMANDS_URL
 *       Listens where a fake job's agent would: a hostile PUB to every
 *       dashboard that subscribes (mangled handshakes, lying lengths, random
 *       frames, hostile hello/events/heartbeats/batches) and a hostile REP
 *       to its requests (replies with other request ids, bad JSON, hostile
 *       states). After N seconds it drops those connections and turns
 *       well-behaved until killed: a valid hello naming the job "survived",
 *       a checkpoint every 200 ms, get_state answered; so the test can see
 *       that the dashboard still connects, decodes and draws.
 *
 * Prints the seed first and its counts last. Exit status 0 unless it could
 * not start (bad arguments, an address it cannot use).
 */
#include "cpw.h"
#include "cpw_json.h"
#include "cpw_state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define IO_MS 100            /* each read or write gives up after this */
#define MAX_REQ (1u << 20)   /* largest request the fake job reads */

enum { SP_PUB = 0x20, SP_SUB = 0x21, SP_REQ = 0x30, SP_REP = 0x31 };

/* ------------------------------------------------------------------ random */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * UINT64_C(2685821657736338717);
}

static uint64_t below(rng *r, uint64_t n) { return n ? rnd(r) % n : 0; }
static bool chance(rng *r, int pct) { return (int)below(r, 100) < pct; }
#define PICK(r, table) ((table)[below((r), sizeof(table) / sizeof((table)[0]))])

static _Atomic uint64_t n_sessions, n_frames, n_bytes, n_refused;
static volatile sig_atomic_t stop; /* SIGTERM / SIGINT */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ sockets */

typedef struct endpoint {
    char url[300];
    bool ipc;
    struct sockaddr_storage addr;
    socklen_t alen;
} endpoint;

static bool ep_parse(const char *url, endpoint *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->url, sizeof e->url, "%s", url);
    if (!strncmp(url, "ipc://", 6)) {
        struct sockaddr_un *un = (struct sockaddr_un *)&e->addr;
        if (strlen(url + 6) >= sizeof un->sun_path)
            return false;
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, url + 6);
        e->alen = sizeof *un;
        e->ipc = true;
        return true;
    }
    const char *colon = strncmp(url, "tcp://", 6) ? NULL : strrchr(url + 6, ':');
    if (!colon)
        return false;
    char host[64] = "127.0.0.1";
    size_t hl = (size_t)(colon - (url + 6));
    if (hl >= sizeof host)
        return false;
    if (hl) {
        memcpy(host, url + 6, hl);
        host[hl] = '\0';
    }
    struct sockaddr_in *in = (struct sockaddr_in *)&e->addr;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)atoi(colon + 1));
    e->alen = sizeof *in;
    return inet_pton(AF_INET, host, &in->sin_addr) == 1;
}

static void set_timeouts(int fd, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int ep_connect(const endpoint *e)
{
    int fd = socket(e->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    set_timeouts(fd, IO_MS);
    if (connect(fd, (const struct sockaddr *)&e->addr, e->alen) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int ep_listen(const endpoint *e)
{
    int fd = socket(e->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (e->ipc)
        unlink(((const struct sockaddr_un *)&e->addr)->sun_path);
    if (bind(fd, (const struct sockaddr *)&e->addr, e->alen) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool put(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
        atomic_fetch_add(&n_bytes, (uint64_t)w);
    }
    return true;
}

static bool get_all(int fd, void *data, size_t n)
{
    char *p = data;
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* Reads and drops whatever the peer sends until it pauses for 5 ms. */
static void drain(int fd)
{
    char buf[4096];
    struct pollfd pfd = {fd, POLLIN, 0};
    while (poll(&pfd, 1, 5) > 0 && recv(fd, buf, sizeof buf, 0) > 0) {
    }
}

/* Ends a connection, mostly with a reset: a tcp connection we close first
 * would hold its port in TIME_WAIT for a minute, and thousands of them
 * starve every other test on the machine of ports. */
static void hang_up(rng *r, int fd)
{
    if (chance(r, 90)) {
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd);
}

/* ------------------------------------------------------------------ SP */

static void sp_header(uint8_t h[8], uint16_t proto)
{
    const uint8_t base[8] = {0, 'S', 'P', 0, (uint8_t)(proto >> 8), (uint8_t)proto, 0, 0};
    memcpy(h, base, 8);
}

/* Sends our 8-byte header: mostly right, else with a wrong protocol,
 * mangled bits or cut short. false when the session should end here. */
static bool send_header(rng *r, int fd, uint16_t mine)
{
    static const uint16_t others[] = {0x10, 0x11, 0x20, 0x21, 0x30, 0x31, 0x40, 0x41,
                                      0x50, 0x51, 0x60, 0x61, 0x62, 0x70, 0x71, 0xffff};
    uint8_t h[8];
    int mode = (int)below(r, 100);
    sp_header(h, mode < 65 ? mine : mode < 75 ? PICK(r, others) : (uint16_t)rnd(r));
    if (mode >= 75 && mode < 88)
        for (int i = 0, n = 1 + (int)below(r, 3); i < n; i++)
            h[below(r, 8)] ^= (uint8_t)(1u << below(r, 8));
    size_t n = mode >= 88 && mode < 96 ? 1 + below(r, 7) : 8;
    if (!put(fd, h, n))
        return false;
    return mode < 96 || chance(r, 50); /* else: a header and nothing more */
}

/* A length field: mostly the truth, sometimes a lie. */
static uint64_t lying_length(rng *r, uint64_t truth)
{
    static const uint64_t huge[] = {UINT64_MAX, UINT64_C(1) << 63, (UINT64_C(1) << 63) - 1,
                                    UINT64_C(1) << 32, 0xffffffffu, (4u << 20) + 1,
                                    (16u << 20) + 1, (256u << 10) + 1, 65537};
    switch (below(r, 12)) {
    case 0: return 0;
    case 1: return truth + 1 + below(r, 64);     /* longer than what follows */
    case 2: return truth ? below(r, truth) : 1;  /* shorter: the rest is garbage */
    case 3: return PICK(r, huge);
    default: return truth;
    }
}

/* Sends one frame: [ipc type byte] length body, the length maybe a lie, the
 * body maybe cut short. false when the connection is unusable after it. */
static bool send_frame(rng *r, int fd, bool ipc, const char *body, size_t len)
{
    uint8_t head[9];
    size_t hn = 0;
    if (ipc)
        head[hn++] = chance(r, 90) ? 1 : (uint8_t)rnd(r);
    uint64_t l = chance(r, 80) ? len : lying_length(r, len);
    for (int i = 7; i >= 0; i--)
        head[hn++] = (uint8_t)(l >> (8 * i));
    size_t send_len = chance(r, 92) ? len : below(r, len + 1);
    atomic_fetch_add(&n_frames, 1);
    return put(fd, head, hn) && put(fd, body, send_len) && l == len && send_len == len;
}

/* Sends one frame that tells the truth. */
static bool send_exact(int fd, bool ipc, const char *body, size_t len)
{
    uint8_t head[9];
    size_t hn = 0;
    if (ipc)
        head[hn++] = 1;
    for (int i = 7; i >= 0; i--)
        head[hn++] = (uint8_t)((uint64_t)len >> (8 * i));
    atomic_fetch_add(&n_frames, 1);
    return put(fd, head, hn) && put(fd, body, len);
}

/* Reads one well-formed frame (body into b, at most max bytes). */
static bool recv_frame(int fd, bool ipc, cpw_buf *b, size_t max)
{
    uint8_t head[9];
    size_t hn = ipc ? 9 : 8;
    if (!get_all(fd, head, hn) || (ipc && head[0] != 1))
        return false;
    uint64_t l = 0;
    for (size_t i = hn - 8; i < hn; i++)
        l = l << 8 | head[i];
    cpw_buf_reset(b);
    if (l > max || !cpw_buf_reserve(b, (size_t)l + 1))
        return false;
    if (!get_all(fd, b->data, (size_t)l))
        return false;
    b->len = (size_t)l;
    b->data[b->len] = '\0';
    return true;
}

/* ------------------------------------------------------------------ payloads */

static const char *const hostile_numbers[] = {
    "0", "1", "-1", "7", "63", "64", "1023", "1024", "8192", "2147483648",
    "9223372036854775807", "9223372036854775808", "18446744073709551615",
    "18446744073709551616", "-9223372036854775809", "1e308", "1.5", "-0", "00", "0x10",
    "99999999999999999999999999999999999999999999999999999999999999999999", "\"7\"", "null",
    "true", "[]", "{}", "[1,[2,[3]]]",
};
static const char *const hostile_strings[] = {
    "", "x", "trigger", "kill", "\\u0000", "\\ud800", "\\udc00\\ud800", "\xc0\xaf", "\xed\xa0\x80",
    "\xff\xfe", "\x1b[2J\x1b[H", "\\u001b]0;pwned\\u0007", "\xc2\x9b" "31m", "\\\"", "a\\nb",
    "\xf4\x90\x80\x80", "survived\\u001b[7m", "%s%n%x",
};
static const char *const event_types[] = {
    "cp_triggered", "barrier_injected", "barrier_received", "alignment_start",
    "alignment_end", "snapshot_start", "snapshot_sync_done", "snapshot_async_done", "ack",
    "decline", "cp_completed", "cp_failed", "cp_committed", "job_status", "restored",
    "failure_injected", "task_failed", "hello", "heartbeat", "reply", "cmd", "zzz",
};
static const char *const members[] = {
    "id", "op", "subtask", "channel", "kind", "reason", "message", "status", "attempt",
    "bytes", "duration_us", "state_size", "params", "error", "buffered_bytes", "unaligned",
};

static void bprintf(cpw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(cpw_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    cpj_raw(b, tmp, n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A number or anything else where a number belongs. */
static const char *num(rng *r, char *tmp, size_t n)
{
    if (chance(r, 40))
        return PICK(r, hostile_numbers);
    snprintf(tmp, n, "%llu", (unsigned long long)below(r, chance(r, 50) ? 16 : 1u << 20));
    return tmp;
}

static void str(rng *r, cpw_buf *b)
{
    cpj_char(b, '"');
    if (chance(r, 5))
        for (int i = 0, n = 200 + (int)below(r, 5000); i < n; i++)
            cpj_char(b, 'A');
    else
        cpj_lit(b, PICK(r, hostile_strings));
    cpj_char(b, '"');
}

static void envelope(rng *r, cpw_buf *b, const char *type, const char *job)
{
    char t1[24], t2[24];
    bprintf(b, "{\"v\":%s,\"type\":\"%s\",\"job\":\"%s\",\"seq\":%s,\"ts_us\":%s",
            chance(r, 90) ? "1" : num(r, t1, sizeof t1), type, job, num(r, t1, sizeof t1),
            num(r, t2, sizeof t2));
}

/* A command the agent may or may not accept. */
static void gen_command(rng *r, cpw_buf *b, const char *job)
{
    static const char *const cmds[] = {"get_state", "trigger", "abort", "inject_failure",
                                       "set_config", "nope", ""};
    char t[24];
    envelope(r, b, "cmd", job);
    bprintf(b, ",\"req\":%s,\"cmd\":\"%s\"", num(r, t, sizeof t), PICK(r, cmds));
    if (chance(r, 60)) {
        cpj_lit(b, ",\"args\":{");
        for (int i = 0, n = (int)below(r, 4); i < n; i++) {
            static const char *const keys[] = {"id", "history", "kind", "op", "subtask",
                                               "params", "settings"};
            bprintf(b, "%s\"%s\":", i ? "," : "", PICK(r, keys));
            if (chance(r, 30)) {
                cpj_char(b, '{');
                str(r, b);
                cpj_char(b, ':');
                str(r, b);
                cpj_char(b, '}');
            } else if (chance(r, 50)) {
                str(r, b);
            } else {
                cpj_lit(b, num(r, t, sizeof t));
            }
        }
        cpj_char(b, '}');
    }
    if (chance(r, 20))
        bprintf(b, ",\"nonce\":\"%016llx%016llx\",\"mac\":\"%064llx\"",
                (unsigned long long)rnd(r), (unsigned long long)rnd(r),
                (unsigned long long)rnd(r));
    cpj_char(b, '}');
}

static void gen_hello(rng *r, cpw_buf *b, const char *job)
{
    char t[24];
    envelope(r, b, "hello", job);
    cpj_lit(b, ",\"name\":");
    str(r, b);
    bprintf(b, ",\"pid\":%s,\"operators\":[", num(r, t, sizeof t));
    for (int i = 0, n = (int)below(r, 70); i < n; i++) {
        bprintf(b, "%s{\"name\":", i ? "," : "");
        str(r, b);
        bprintf(b, ",\"parallelism\":%s}", chance(r, 70) ? "2" : num(r, t, sizeof t));
    }
    bprintf(b, "],\"edges\":[{\"from\":%s,\"to\":%s}]", num(r, t, sizeof t), "0");
    if (chance(r, 50)) {
        cpj_lit(b, ",\"config\":{");
        str(r, b);
        cpj_char(b, ':');
        str(r, b);
        cpj_char(b, '}');
    }
    if (chance(r, 30)) {
        cpj_lit(b, ",\"failures\":[{\"kind\":");
        str(r, b);
        cpj_lit(b, ",\"label\":");
        str(r, b);
        bprintf(b, ",\"target\":\"subtask\",\"params\":[{\"name\":\"ms\",\"min\":%s,\"max\":%s,"
                   "\"default\":%s}]}]",
                num(r, t, sizeof t), "5", "3");
    }
    cpj_char(b, '}');
}

static void gen_event(rng *r, cpw_buf *b, const char *job)
{
    const char *type = PICK(r, event_types);
    if (!strcmp(type, "hello")) {
        gen_hello(r, b, job);
        return;
    }
    char t[24];
    envelope(r, b, type, job);
    if (!strcmp(type, "heartbeat")) {
        cpj_lit(b, ",\"agent\":{\"emitted\":1,\"sent\":1,\"dropped\":0},\"subtasks\":[");
        for (int i = 0, n = (int)below(r, 50); i < n; i++)
            bprintf(b, "%s[%s,0,1,1,%s,%s]", i ? "," : "", num(r, t, sizeof t),
                    chance(r, 50) ? "1000" : "1001", chance(r, 80) ? "0" : "2");
        cpj_lit(b, "]}");
        return;
    }
    for (int i = 0, n = 1 + (int)below(r, 6); i < n; i++) {
        bprintf(b, ",\"%s\":", PICK(r, members));
        if (chance(r, 30))
            str(r, b);
        else
            cpj_lit(b, num(r, t, sizeof t));
    }
    cpj_char(b, '}');
}

/* A reply to a dashboard's request: req (its id, or not), maybe a state. */
static void gen_reply(rng *r, cpw_buf *b, const char *job, const char *req)
{
    char t[24];
    envelope(r, b, "reply", job);
    bprintf(b, ",\"req\":%s,\"ok\":%s,\"error\":", chance(r, 70) ? req : num(r, t, sizeof t),
            chance(r, 60) ? "true" : chance(r, 50) ? "false" : "1");
    str(r, b);
    cpj_lit(b, ",\"message\":");
    str(r, b);
    if (chance(r, 60)) {
        /* a real state, from the protocol's own encoder, to mutate */
        cpw_state *st = cpw_state_new(8, 4);
        cpw_hello *h = calloc(1, sizeof *h);
        if (st && h) {
            snprintf(h->name, sizeof h->name, "fuzz");
            h->n_ops = 1 + (int)below(r, 3);
            for (int i = 0; i < h->n_ops; i++)
                h->ops[i] = (cpw_op){"op", 1 + (int)below(r, 4)};
            cpw_state_set_hello(st, h);
            cpw_event ev = {.type = CPW_EV_CP_TRIGGERED, .cp_id = 1, .op = -1, .subtask = -1};
            cpw_state_apply(st, &ev, 2);
            cpj_lit(b, ",\"result\":");
            cpw_state_encode(b, st, -1);
        }
        free(h);
        cpw_state_free(st);
    }
    cpj_char(b, '}');
}

/* Mutates b in place: flipped and interesting bytes, chunks inserted,
 * deleted or repeated, a cut. */
static void mutate(rng *r, cpw_buf *b)
{
    static const char interesting[] = {0, '\xff', '"', '\\', '{', '[', ']', '}', ',', ':',
                                       '\xc0', '\x80', '\n', '0', '-', 'e'};
    for (int k = 0, n = 1 + (int)below(r, 8); k < n && b->len; k++) {
        size_t at = below(r, b->len);
        switch (below(r, 6)) {
        case 0: b->data[at] ^= (char)(1u << below(r, 8)); break;
        case 1: b->data[at] = PICK(r, interesting); break;
        case 2: b->len = at; break;
        case 3: { /* delete a chunk */
            size_t l = below(r, b->len - at + 1);
            memmove(b->data + at, b->data + at + l, b->len - at - l);
            b->len -= l;
            break;
        }
        default: { /* repeat a chunk at the end */
            size_t l = below(r, b->len - at < 64 ? b->len - at + 1 : 64);
            char chunk[64];
            memcpy(chunk, b->data + at, l);
            cpj_raw(b, chunk, l);
            break;
        }
        }
    }
}

/* Deep nesting, a long batch or random bytes: the shapes that stress a
 * decoder's bounds rather than its field checks. */
static void gen_shape(rng *r, cpw_buf *b, const char *job)
{
    switch (below(r, 4)) {
    case 0:
        for (int i = 0, n = 10 + (int)below(r, 100000); i < n; i++)
            cpj_char(b, chance(r, 95) ? '[' : '{');
        break;
    case 1: { /* an array or NDJSON batch, maybe over CPW_MAX_BATCH */
        bool nd = chance(r, 50);
        int n = chance(r, 10) ? 4097 : (int)below(r, 300);
        if (!nd)
            cpj_char(b, '[');
        for (int i = 0; i < n; i++) {
            if (i)
                cpj_char(b, nd ? '\n' : ',');
            gen_event(r, b, job);
        }
        if (!nd)
            cpj_char(b, ']');
        break;
    }
    default:
        for (int i = 0, n = (int)below(r, 2048); i < n; i++)
            cpj_char(b, (char)rnd(r));
    }
}

/* ------------------------------------------------------------------ attack */

/* The body of a request to a REP: a request id (high bit set, or not, or
 * cut short, or several hops), then a command or a shape. */
static void gen_request(rng *r, cpw_buf *b, const char *job)
{
    uint32_t id = (uint32_t)rnd(r) | (chance(r, 85) ? 0x80000000u : 0);
    uint8_t idb[8] = {(uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id,
                      0x80, 0, 0, 1};
    cpj_raw(b, (const char *)idb, chance(r, 90) ? 4 : chance(r, 50) ? 8 : below(r, 4));
    if (chance(r, 75))
        gen_command(r, b, job);
    else
        gen_shape(r, b, job);
    if (chance(r, 50))
        mutate(r, b);
}

static void attack_session(rng *r, const endpoint *e, cpw_buf *b)
{
    int fd = ep_connect(e);
    if (fd < 0) { /* the job is restarting an endpoint, or gone */
        atomic_fetch_add(&n_refused, 1);
        sleep_ms(1);
        return;
    }
    atomic_fetch_add(&n_sessions, 1);
    uint8_t peer[8];
    if (chance(r, 8)) { /* garbage where the handshake belongs */
        char junk[40];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (char)rnd(r);
        put(fd, junk, below(r, sizeof junk + 1));
    } else if (get_all(fd, peer, 8)) {
        uint16_t theirs = (uint16_t)(peer[4] << 8 | peer[5]);
        uint16_t mine = theirs == SP_REP ? SP_REQ : SP_SUB;
        bool go = send_header(r, fd, mine);
        for (int i = 0, n = 1 + (int)below(r, 6); go && i < n; i++) {
            cpw_buf_reset(b);
            if (mine == SP_REQ)
                gen_request(r, b, "fuzz");
            else
                gen_shape(r, b, "fuzz"); /* a subscriber never sends: anything goes */
            go = send_frame(r, fd, e->ipc, b->data ? b->data : "", b->len);
            if (chance(r, 50))
                drain(fd);
        }
    }
    hang_up(r, fd);
}

static int run_attack(rng *r, int seconds, char **urls, int n)
{
    endpoint eps[16];
    if (n < 1 || n > 16)
        return 2;
    for (int i = 0; i < n; i++)
        if (!ep_parse(urls[i], &eps[i])) {
            fprintf(stderr, "cpspfuzz: not an ipc:// or tcp://HOST:PORT URL: %s\n", urls[i]);
            return 2;
        }
    cpw_buf b;
    cpw_buf_init(&b);
    int64_t end = now_ms() + (int64_t)seconds * 1000;
    while (now_ms() < end && !stop)
        attack_session(r, &eps[below(r, (uint64_t)n)], &b);
    cpw_buf_free(&b);
    return 0;
}

/* ------------------------------------------------------------------ serve */

typedef struct serve_conf {
    endpoint ev, cmd;
    const char *job;
    _Atomic int calm;       /* the hostile phase is over */
    _Atomic int64_t hostile_gen; /* connections of the hostile phase end when it does */
} serve_conf;

typedef struct conn {
    serve_conf *sc;
    int fd;
    bool events;            /* the events listener's, else the commands' */
    uint64_t seed;
} conn;

/* Well-behaved: a hello naming the job "survived", then a checkpoint
 * triggered and completed every 200 ms. */
static void calm_events(conn *c)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_hello *h = calloc(1, sizeof *h);
    uint64_t seq = 1;
    if (h) {
        snprintf(h->name, sizeof h->name, "survived");
        h->pid = (int)getpid();
        h->n_ops = 1;
        h->ops[0] = (cpw_op){"source", 1};
        cpw_envelope env = {.job = c->sc->job, .seq = seq++, .ts_us = cpw_now_us()};
        cpw_encode_hello(&b, &env, h);
    }
    bool ok = h && put(c->fd, (uint8_t[8]){0, 'S', 'P', 0, 0, SP_PUB, 0, 0}, 8) &&
              send_exact(c->fd, c->sc->ev.ipc, b.data, b.len);
    for (int64_t id = 1; ok && !stop; id++) {
        for (int k = 0; k < 2 && ok; k++) {
            cpw_event ev = {.type = k ? CPW_EV_CP_COMPLETED : CPW_EV_CP_TRIGGERED, .cp_id = id,
                            .op = -1, .subtask = -1, .ts_us = cpw_now_us()};
            cpw_envelope env = {.job = c->sc->job, .seq = seq++, .ts_us = ev.ts_us};
            cpw_buf_reset(&b);
            cpw_encode_event(&b, &env, &ev);
            ok = send_exact(c->fd, c->sc->ev.ipc, b.data, b.len);
        }
        sleep_ms(200);
    }
    free(h);
    cpw_buf_free(&b);
}

static void hostile_events(conn *c, rng *r, int64_t gen)
{
    cpw_buf b;
    cpw_buf_init(&b);
    bool go = send_header(r, c->fd, SP_PUB);
    while (go && atomic_load(&c->sc->hostile_gen) == gen) {
        cpw_buf_reset(&b);
        int kind = (int)below(r, 10);
        if (kind < 4)
            gen_event(r, &b, c->sc->job);
        else if (kind < 6)
            gen_hello(r, &b, c->sc->job);
        else
            gen_shape(r, &b, c->sc->job);
        if (chance(r, 30))
            mutate(r, &b);
        go = send_frame(r, c->fd, c->sc->ev.ipc, b.data ? b.data : "", b.len);
        sleep_ms((int)below(r, 4));
    }
    cpw_buf_free(&b);
}

/* A true get_state reply: the state of a job named "survived". Any command
 * gets it (the calm job does nothing else). */
static void calm_reply(const char *job, uint64_t req, cpw_buf *out)
{
    cpw_state *st = cpw_state_new(8, 4);
    cpw_hello *h = calloc(1, sizeof *h);
    if (st && h) {
        snprintf(h->name, sizeof h->name, "survived");
        h->pid = (int)getpid();
        h->n_ops = 1;
        h->ops[0] = (cpw_op){"source", 1};
        cpw_state_set_hello(st, h);
        snprintf(st->job, sizeof st->job, "%s", job);
        cpw_reply rp = {.req = req, .ok = true};
        snprintf(rp.message, sizeof rp.message, "state");
        cpw_envelope env = {.job = job, .seq = 1, .ts_us = cpw_now_us()};
        cpw_encode_reply(out, &env, &rp, st, -1);
    }
    free(h);
    cpw_state_free(st);
}

/* Answers each request; calm: truthfully (get_state with a small valid
 * state), else with hostile replies. */
static void serve_requests(conn *c, rng *r, bool calm, int64_t gen)
{
    cpw_buf in, out;
    cpw_buf_init(&in);
    cpw_buf_init(&out);
    bool go = calm ? put(c->fd, (uint8_t[8]){0, 'S', 'P', 0, 0, SP_REP, 0, 0}, 8)
                   : send_header(r, c->fd, SP_REP);
    set_timeouts(c->fd, 1000);
    while (go && (calm || atomic_load(&c->sc->hostile_gen) == gen)) {
        if (!recv_frame(c->fd, c->sc->cmd.ipc, &in, MAX_REQ) || in.len < 4) {
            go = calm ? errno == EAGAIN : false; /* calm: wait on; hostile: done */
            continue;
        }
        cpw_msg m;
        uint64_t req = 0;
        if (cpw_decode_one(in.data + 4, in.len - 4, &m, NULL) == CPW_OK) {
            if (m.kind == CPW_K_COMMAND)
                req = m.cmd->req;
            cpw_msg_clear(&m);
        }
        cpw_buf_reset(&out);
        cpj_raw(&out, in.data, 4); /* the request id back */
        if (calm) {
            calm_reply(c->sc->job, req, &out);
            go = send_exact(c->fd, c->sc->cmd.ipc, out.data, out.len);
            continue;
        }
        char reqs[24];
        snprintf(reqs, sizeof reqs, "%llu", (unsigned long long)req);
        if (chance(r, 80))
            gen_reply(r, &out, c->sc->job, reqs);
        else
            gen_shape(r, &out, c->sc->job);
        if (chance(r, 30))
            mutate(r, &out);
        go = send_frame(r, c->fd, c->sc->cmd.ipc, out.data, out.len);
    }
    cpw_buf_free(&in);
    cpw_buf_free(&out);
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    rng r = {c->seed | 1};
    atomic_fetch_add(&n_sessions, 1);
    bool calm = atomic_load(&c->sc->calm);
    int64_t gen = atomic_load(&c->sc->hostile_gen);
    uint8_t peer[8];
    set_timeouts(c->fd, 1000);
    if (get_all(c->fd, peer, 8)) {
        if (c->events && calm)
            calm_events(c);
        else if (c->events)
            hostile_events(c, &r, gen);
        else
            serve_requests(c, &r, calm, gen);
    }
    if (calm)
        close(c->fd);
    else
        hang_up(&r, c->fd);
    free(c);
    return NULL;
}

static int run_serve(rng *r, int seconds, const char *job, const char *ev_url,
                     const char *cmd_url)
{
    static serve_conf sc;
    sc.job = job;
    if (!ep_parse(ev_url, &sc.ev) || !ep_parse(cmd_url, &sc.cmd)) {
        fprintf(stderr, "cpspfuzz: not ipc:// or tcp://HOST:PORT URLs: %s %s\n", ev_url, cmd_url);
        return 2;
    }
    int lfd[2] = {ep_listen(&sc.ev), ep_listen(&sc.cmd)};
    if (lfd[0] < 0 || lfd[1] < 0) {
        fprintf(stderr, "cpspfuzz: cannot listen on %s / %s: %s\n", ev_url, cmd_url,
                strerror(errno));
        return 2;
    }
    int64_t calm_at = now_ms() + (int64_t)seconds * 1000;
    while (!stop) {
        if (!atomic_load(&sc.calm) && now_ms() >= calm_at) {
            atomic_store(&sc.calm, 1);
            atomic_fetch_add(&sc.hostile_gen, 1); /* hostile connections end */
            fprintf(stderr, "cpspfuzz: calm now\n");
        }
        struct pollfd pfd[2] = {{lfd[0], POLLIN, 0}, {lfd[1], POLLIN, 0}};
        if (poll(pfd, 2, 100) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            int fd = accept4(lfd[i], NULL, NULL, SOCK_CLOEXEC);
            conn *c = fd >= 0 ? calloc(1, sizeof *c) : NULL;
            pthread_t th;
            if (!c) {
                if (fd >= 0)
                    close(fd);
                continue;
            }
            *c = (conn){.sc = &sc, .fd = fd, .events = i == 0, .seed = rnd(r)};
            if (pthread_create(&th, NULL, conn_main, c) == 0)
                pthread_detach(th);
            else {
                close(fd);
                free(c);
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ main */

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: cpspfuzz attack [--seconds N] [--seed S] URL...\n"
                    "       cpspfuzz serve [--seconds N] [--seed S] [--job ID] EVENTS_URL "
                    "COMMANDS_URL\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *mode = argv[1], *job = "fake";
    int seconds = 10;
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    int i = 2;
    for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
        if (!strcmp(argv[i], "--seconds"))
            seconds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--job"))
            job = argv[i + 1];
        else
            return usage();
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    fprintf(stderr, "cpspfuzz %s: seed %llu\n", mode, (unsigned long long)seed);
    rng r = {seed | 1};
    int rc;
    if (!strcmp(mode, "attack"))
        rc = run_attack(&r, seconds, argv + i, argc - i);
    else if (!strcmp(mode, "serve") && argc - i == 2)
        rc = run_serve(&r, seconds, job, argv[i], argv[i + 1]);
    else
        return usage();
    if (rc == 0)
        fprintf(stderr, "cpspfuzz: sessions %llu, frames %llu, bytes %llu, refused %llu\n",
                (unsigned long long)atomic_load(&n_sessions),
                (unsigned long long)atomic_load(&n_frames),
                (unsigned long long)atomic_load(&n_bytes),
                (unsigned long long)atomic_load(&n_refused));
    return rc;
}
