/* cpw_sock.c — see cpw_sock.h. */
#include "cpw_sock.h"

#include "cpw.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_RECONNECT_MS 100

enum { SP_PUB = 0x20, SP_SUB = 0x21, SP_REQ = 0x30, SP_REP = 0x31 };

typedef enum conn_state {
    ST_IDLE,        /* no URL yet */
    ST_WAIT,        /* not connected; next attempt at retry_at */
    ST_CONNECTING,  /* tcp connect in progress */
    ST_HANDSHAKE,   /* exchanging the 8-byte headers */
    ST_OPEN,
} conn_state;

struct cpw_sock {
    cpw_sock_kind kind;
    size_t recv_max;
    int rcvbuf, rmin, rmax, backoff;
    struct sockaddr_storage addr;
    socklen_t alen;
    bool ipc;
    int fd;
    conn_state st;
    int64_t retry_at;        /* ms, monotonic */
    uint8_t hs_in[8], hs_in_got, hs_out_sent;
    uint8_t head[9], head_got;   /* the frame header being read */
    char *body;                  /* the message being read */
    size_t body_len, body_got;
    /* REQ: the request (framed), how much is written, its id */
    char *out;
    size_t out_len, out_sent;
    uint32_t req_id;
    bool req_out, req_failed;
};

static const char *const err_text[CPW_SOCK_ERR__COUNT] = {
    [CPW_SOCK_OK] = "success",
    [CPW_SOCK_AGAIN] = "nothing yet",
    [CPW_SOCK_TIMEOUT] = "timed out",
    [CPW_SOCK_CLOSED] = "the connection closed before the reply",
    [CPW_SOCK_NOMEM] = "out of memory",
    [CPW_SOCK_BAD_URL] = "not an ipc:// or tcp://HOST:PORT URL",
    [CPW_SOCK_STATE] = "not valid in the socket's state",
};

const char *cpw_sock_strerror(cpw_sock_err e)
{
    return (unsigned)e < CPW_SOCK_ERR__COUNT ? err_text[e] : "unknown transport error";
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cpw_sock *cpw_sock_new(cpw_sock_kind kind, const cpw_sock_conf *conf, char *err, size_t errsz)
{
    cpw_sock *s = calloc(1, sizeof *s);
    if (!s) {
        if (err && errsz)
            snprintf(err, errsz, "out of memory");
        return NULL;
    }
    s->kind = kind;
    s->fd = -1;
    s->recv_max = conf && conf->recv_max ? conf->recv_max : CPW_MAX_FRAME;
    s->rcvbuf = conf ? conf->rcvbuf : 0;
    s->rmin = conf && conf->reconnect_ms > 0 ? conf->reconnect_ms : DEFAULT_RECONNECT_MS;
    s->rmax = conf && conf->reconnect_max_ms > s->rmin ? conf->reconnect_max_ms : s->rmin;
    s->backoff = s->rmin;
    /* request ids start anywhere: a reply to another client's request (a
     * device in between) is never taken for ours */
    char hex[9];
    s->req_id = cpw_random_hex(hex, 8) ? (uint32_t)strtoul(hex, NULL, 16) : (uint32_t)now_ms();
    return s;
}

/* Drops the connection; a SUB (or a REQ whose request has not left yet)
 * tries again after the backoff. */
static void disconnect(cpw_sock *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->body);
    s->body = NULL;
    s->body_len = s->body_got = 0;
    s->head_got = s->hs_in_got = s->hs_out_sent = 0;
    if (s->kind == CPW_SOCK_REQ && s->req_out && s->out_sent)
        s->req_failed = true; /* it may have been acted on: never sent twice */
    s->out_sent = 0;
    s->st = ST_WAIT;
    s->retry_at = now_ms() + s->backoff;
    s->backoff = s->backoff * 2 > s->rmax ? s->rmax : s->backoff * 2;
}

void cpw_sock_destroy(cpw_sock *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->body);
    free(s->out);
    free(s);
}

static cpw_sock_err parse_url(cpw_sock *s, const char *url, char *err, size_t errsz)
{
    if (!strncmp(url, "ipc://", 6)) {
        struct sockaddr_un *un = (struct sockaddr_un *)&s->addr;
        if (!url[6] || strlen(url + 6) >= sizeof un->sun_path)
            goto bad;
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, url + 6);
        s->alen = sizeof *un;
        s->ipc = true;
        return CPW_SOCK_OK;
    }
    const char *colon = strncmp(url, "tcp://", 6) ? NULL : strrchr(url + 6, ':');
    char host[256];
    size_t hl = colon ? (size_t)(colon - (url + 6)) : 0;
    if (!colon || hl >= sizeof host || !colon[1])
        goto bad;
    memcpy(host, url + 6, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host[0] ? host : "127.0.0.1", colon + 1, &hints, &res);
    if (gai || !res || res->ai_addrlen > sizeof s->addr) {
        if (err && errsz)
            snprintf(err, errsz, "cannot connect to %s: %s", url,
                     gai ? gai_strerror(gai) : "no address");
        if (res)
            freeaddrinfo(res);
        return CPW_SOCK_BAD_URL;
    }
    memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
    s->alen = res->ai_addrlen;
    freeaddrinfo(res);
    return CPW_SOCK_OK;
bad:
    if (err && errsz)
        snprintf(err, errsz, "cannot connect to %s: %s", url, err_text[CPW_SOCK_BAD_URL]);
    return CPW_SOCK_BAD_URL;
}

static bool progress(cpw_sock *s, cpw_sock_msg *m);

static void start_connect(cpw_sock *s)
{
    s->fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        disconnect(s);
        return;
    }
    if (s->rcvbuf > 0)
        setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &s->rcvbuf, sizeof s->rcvbuf);
    if (!s->ipc) {
        int one = 1;
        setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (connect(s->fd, (struct sockaddr *)&s->addr, s->alen) == 0)
        s->st = ST_HANDSHAKE;
    else if (errno == EINPROGRESS)
        s->st = ST_CONNECTING;
    else
        disconnect(s); /* refused, no such socket file, backlog full: later */
}

cpw_sock_err cpw_sock_dial(cpw_sock *s, const char *url, char *err, size_t errsz)
{
    if (s->st != ST_IDLE)
        return CPW_SOCK_STATE;
    cpw_sock_err e = parse_url(s, url, err, errsz);
    if (e)
        return e;
    start_connect(s);
    /* say who we are now: a job starts publishing to us once it has our
     * header, whether or not we read its own yet */
    progress(s, NULL);
    return CPW_SOCK_OK;
}

/* ------------------------------------------------------------------ progress */

static bool would_block(void) { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

/* Moves the handshake on. false: the connection failed (and is dropped). */
static bool handshake(cpw_sock *s)
{
    uint16_t mine = s->kind == CPW_SOCK_SUB ? SP_SUB : SP_REQ;
    uint16_t theirs = s->kind == CPW_SOCK_SUB ? SP_PUB : SP_REP;
    const uint8_t hs[8] = {0, 'S', 'P', 0, (uint8_t)(mine >> 8), (uint8_t)mine, 0, 0};
    while (s->hs_out_sent < 8) {
        ssize_t n = send(s->fd, hs + s->hs_out_sent, 8u - s->hs_out_sent, MSG_NOSIGNAL);
        if (n < 0 && would_block())
            return true;
        if (n <= 0)
            return false;
        s->hs_out_sent = (uint8_t)(s->hs_out_sent + n);
    }
    while (s->hs_in_got < 8) {
        ssize_t n = recv(s->fd, s->hs_in + s->hs_in_got, 8u - s->hs_in_got, 0);
        if (n < 0 && would_block())
            return true;
        if (n <= 0)
            return false;
        s->hs_in_got = (uint8_t)(s->hs_in_got + n);
    }
    const uint8_t *h = s->hs_in;
    if (h[0] || h[1] != 'S' || h[2] != 'P' || h[3] || ((h[4] << 8) | h[5]) != theirs || h[6] ||
        h[7])
        return false;
    s->st = ST_OPEN;
    s->backoff = s->rmin;
    return true;
}

/* REQ: writes what is left of the request. false: the connection failed. */
static bool write_request(cpw_sock *s)
{
    while (s->req_out && !s->req_failed && s->out_sent < s->out_len) {
        ssize_t n = send(s->fd, s->out + s->out_sent, s->out_len - s->out_sent, MSG_NOSIGNAL);
        if (n < 0 && would_block())
            return true;
        if (n <= 0)
            return false;
        s->out_sent += (size_t)n;
    }
    return true;
}

/* Reads one message into s->body. 1: complete, 0: not yet, -1: failed. */
static int read_message(cpw_sock *s)
{
    size_t hl = s->ipc ? 9 : 8;
    for (;;) {
        ssize_t n;
        if (s->head_got < hl) {
            n = recv(s->fd, s->head + s->head_got, hl - s->head_got, 0);
            if (n > 0 && (s->head_got = (uint8_t)(s->head_got + n)) == hl) {
                uint64_t len = 0;
                for (size_t i = hl - 8; i < hl; i++)
                    len = len << 8 | s->head[i];
                if ((s->ipc && s->head[0] != 1) || len > s->recv_max)
                    return -1;
                s->body_len = (size_t)len;
                s->body_got = 0;
                if (!(s->body = malloc(s->body_len ? s->body_len : 1)))
                    return -1;
            }
        } else if (s->body_got < s->body_len) {
            n = recv(s->fd, s->body + s->body_got, s->body_len - s->body_got, 0);
            if (n > 0)
                s->body_got += (size_t)n;
        } else {
            s->head_got = 0;
            return 1;
        }
        if (n == 0)
            return -1;
        if (n < 0)
            return would_block() ? 0 : -1;
    }
}

/* Makes what progress the socket can without waiting; when m is not NULL,
 * reads too, and fills *m when a message (SUB) or the reply (REQ) is
 * complete. */
static bool progress(cpw_sock *s, cpw_sock_msg *m)
{
    if (s->st == ST_WAIT && now_ms() >= s->retry_at)
        start_connect(s);
    if (s->st == ST_CONNECTING) {
        int e = 0;
        socklen_t el = sizeof e;
        struct pollfd p = {.fd = s->fd, .events = POLLOUT};
        if (poll(&p, 1, 0) <= 0)
            return false;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e) {
            disconnect(s);
            return false;
        }
        s->st = ST_HANDSHAKE;
    }
    if (s->st == ST_HANDSHAKE && !handshake(s)) {
        disconnect(s);
        return false;
    }
    if (s->st != ST_OPEN)
        return false;
    if (s->kind == CPW_SOCK_REQ && !write_request(s)) {
        disconnect(s);
        return false;
    }
    while (m) {
        int r = read_message(s);
        if (r < 0)
            disconnect(s);
        if (r <= 0)
            return false;
        char *body = s->body;
        size_t len = s->body_len, off = 0;
        s->body = NULL;
        if (s->kind == CPW_SOCK_REQ) {
            /* the reply to our request: our id back, high bit set; anything
             * else (a late reply to an earlier request) is skipped */
            const uint8_t *b = (const uint8_t *)body;
            uint32_t id = len >= 4 ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                                         (uint32_t)b[2] << 8 | b[3]
                                   : 0;
            if (!s->req_out || id != s->req_id) {
                free(body);
                continue;
            }
            off = 4;
            s->req_out = false;
        }
        *m = (cpw_sock_msg){.data = body + off, .len = len - off, .impl = body};
        return true;
    }
    return false;
}

bool cpw_sock_pollfd(const cpw_sock *s, struct pollfd *p)
{
    if (s->fd < 0 || s->st == ST_WAIT || s->st == ST_IDLE)
        return false;
    short ev = POLLIN;
    if (s->st == ST_CONNECTING || (s->st == ST_HANDSHAKE && s->hs_out_sent < 8) ||
        (s->st == ST_OPEN && s->req_out && s->out_sent < s->out_len))
        ev |= POLLOUT;
    *p = (struct pollfd){.fd = s->fd, .events = ev};
    return true;
}

int cpw_sock_wait_ms(const cpw_sock *s)
{
    if (s->st != ST_WAIT)
        return -1;
    int64_t d = s->retry_at - now_ms();
    return d < 0 ? 0 : (int)d;
}

/* Waits until the socket may make progress, at most until deadline (ms;
 * < 0: none); for writing only when !reading (a peer that talks out of turn
 * must not make a sender spin). false when the deadline has passed. */
static bool wait_ready(const cpw_sock *s, int64_t deadline, bool reading)
{
    int64_t left = deadline < 0 ? -1 : deadline - now_ms();
    if (deadline >= 0 && left <= 0)
        return false;
    int wait = cpw_sock_wait_ms(s);
    int t = left < 0 ? wait : wait < 0 || wait > left ? (int)left : wait;
    struct pollfd p;
    if (cpw_sock_pollfd(s, &p)) {
        if (!reading && s->st == ST_OPEN)
            p.events = POLLOUT;
        poll(&p, 1, t);
    }
    else if (t != 0)
        poll(NULL, 0, t < 0 ? s->rmin : t); /* waiting to reconnect */
    return true;
}

/* ------------------------------------------------------------------ send, recv */

static cpw_sock_err queue_request(cpw_sock *s, const void *data, size_t len)
{
    if (s->kind != CPW_SOCK_REQ || s->st == ST_IDLE || s->req_out)
        return CPW_SOCK_STATE;
    size_t hl = s->ipc ? 9 : 8, body = 4 + len;
    char *out = malloc(hl + body);
    if (!out)
        return CPW_SOCK_NOMEM;
    uint32_t id = (s->req_id + 1) | 0x80000000u; /* the high bit marks a request id */
    char *o = out;
    if (s->ipc)
        *o++ = 1;
    for (int i = 7; i >= 0; i--)
        *o++ = (char)((uint64_t)body >> (8 * i));
    for (int i = 3; i >= 0; i--)
        *o++ = (char)(id >> (8 * i));
    if (len)
        memcpy(o, data, len);
    free(s->out);
    s->out = out;
    s->out_len = hl + body;
    s->out_sent = 0;
    s->req_id = id;
    s->req_out = true;
    s->req_failed = false;
    return CPW_SOCK_OK;
}

cpw_sock_err cpw_sock_post(cpw_sock *s, const void *data, size_t len)
{
    cpw_sock_err e = queue_request(s, data, len);
    if (!e)
        progress(s, NULL);
    return e;
}

cpw_sock_err cpw_sock_send(cpw_sock *s, const void *data, size_t len, int timeout_ms)
{
    cpw_sock_err e = queue_request(s, data, len);
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    while (!e) {
        progress(s, NULL); /* the reply is cpw_sock_recv's to read */
        if (s->req_failed)
            return CPW_SOCK_CLOSED;
        if (s->st == ST_OPEN && s->out_sent == s->out_len)
            return CPW_SOCK_OK;
        if (!wait_ready(s, deadline, false))
            e = CPW_SOCK_TIMEOUT;
    }
    return e;
}

cpw_sock_err cpw_sock_recv(cpw_sock *s, cpw_sock_msg *m, int timeout_ms)
{
    memset(m, 0, sizeof *m);
    if (s->kind == CPW_SOCK_REQ && !s->req_out)
        return CPW_SOCK_STATE;
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        if (progress(s, m))
            return CPW_SOCK_OK;
        if (s->kind == CPW_SOCK_REQ && s->req_failed)
            return CPW_SOCK_CLOSED;
        if (timeout_ms == 0)
            return CPW_SOCK_AGAIN;
        if (!wait_ready(s, deadline, true))
            return CPW_SOCK_TIMEOUT;
    }
}

void cpw_sock_msg_free(cpw_sock_msg *m)
{
    if (!m)
        return;
    free(m->impl);
    memset(m, 0, sizeof *m);
}
