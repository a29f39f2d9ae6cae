/* cpw_srv.c — see cpw_srv.h. */
#include "cpw_srv.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_HANDSHAKE_MS 10000
#define MAX_HOPS 8            /* request id words before the one with the high bit */
#define MAX_OUTSTANDING 2     /* REP: requests unanswered + replies unsent, per peer */
#define READS_PER_TURN 16     /* messages one peer may deliver per service call */
#define ACCEPTS_PER_TURN 64
#define DEFAULT_RECV_MAX (256u * 1024)
#define DEFAULT_QUEUE 1024
#define DEFAULT_QUEUE_BYTES (8u * 1024 * 1024)
#define DEFAULT_MAX_CONNS 128

enum { SP_PUB = 0x20, SP_SUB = 0x21, SP_REQ = 0x30, SP_REP = 0x31 };

/* A framed message on its way out, shared by every subscriber it is
 * queued for. data holds the frame header and the body. */
typedef struct srv_msg {
    int refs;
    size_t len;
    char data[];
} srv_msg;

typedef struct conn {
    int fd;
    uint32_t id;
    int64_t deadline_ms;     /* handshake by then; 0 once done */
    uint8_t hs_in[8];
    uint8_t hs_in_got, hs_out_sent;
    uint8_t head[9];         /* REP: the frame header being read */
    uint8_t head_got;
    char *body;              /* REP: the message being read */
    size_t body_len, body_got;
    int pending;             /* REP: requests unanswered + replies unsent */
    srv_msg **q;             /* output ring */
    int q_cap, q_head, q_n;
    size_t q_off;            /* bytes of q[q_head] already written */
    size_t q_bytes;          /* bytes queued, q_off included */
} conn;

typedef struct req_ent {
    uint32_t conn;
    char *body;              /* the whole message; the JSON starts at off */
    size_t off, len;
    uint8_t trace[36];
    uint8_t trace_len;
} req_ent;

struct cpw_srv {
    cpw_srv_kind kind;
    bool ipc;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int lfd;
    size_t recv_max, queue_bytes;
    int queue, max_conns, handshake_ms;
    conn **conns;
    int n_conns;
    uint32_t next_id;
    int turn;                /* where cpw_srv_pollfds starts when it cannot list all */
    uint32_t *pfd_ids;       /* the connection behind each pollfd of the last listing */
    int n_pfd;
    req_ent *reqs;           /* REP: received, oldest first (a ring) */
    int r_cap, r_head, r_n;
    char *handed;            /* the body cpw_srv_next_request handed out last */
};

static void seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errsz, const char *fmt, ...)
{
    if (!err || !errsz)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ binding */

/* ipc: a socket file private to the user from its creation (fchmod before
 * bind sets the mode Linux gives it); a stale file that no process listens
 * on any more is replaced, a live one is not. */
static int bind_ipc(cpw_srv *s, const char *path, char *err, size_t errsz)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof un.sun_path) {
        seterr(err, errsz, "ipc socket path %s is too long (limit 107 bytes)", path);
        return -1;
    }
    strcpy(un.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        seterr(err, errsz, "cannot listen on ipc://%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = bind(fd, (struct sockaddr *)&un, sizeof un);
    if (rc != 0 && errno == EADDRINUSE) {
        struct stat st;
        bool sock = lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
        int probe = sock ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
        bool stale = probe >= 0 && connect(probe, (struct sockaddr *)&un, sizeof un) != 0 &&
                     errno == ECONNREFUSED;
        if (probe >= 0)
            close(probe);
        if (!stale) {
            seterr(err, errsz, "cannot listen on ipc://%s: %s", path,
                   sock ? "another process listens there" : "the path exists and is not a socket");
            close(fd);
            return -1;
        }
        unlink(path);
        rc = bind(fd, (struct sockaddr *)&un, sizeof un);
    }
    if (rc != 0 || chmod(path, 0600) != 0 || listen(fd, 64) != 0) {
        seterr(err, errsz, "cannot listen on ipc://%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    s->ipc = true;
    return fd;
}

static int bind_tcp(const char *hostport, char *err, size_t errsz)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    size_t hl = colon ? (size_t)(colon - hostport) : 0;
    if (!colon || hl >= sizeof host || !colon[1]) {
        seterr(err, errsz, "not a tcp://HOST:PORT address: tcp://%s", hostport);
        return -1;
    }
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { /* [v6] */
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
    if (gai) {
        seterr(err, errsz, "cannot listen on tcp://%s: %s", hostport, gai_strerror(gai));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int one = 1;
        if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
                        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0)) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        seterr(err, errsz, "cannot listen on tcp://%s: %s", hostport, strerror(e));
    return fd;
}

cpw_srv *cpw_srv_new(cpw_srv_kind kind, const char *url, const cpw_srv_conf *conf, char *err,
                     size_t errsz)
{
    cpw_srv *s = calloc(1, sizeof *s);
    if (!s) {
        seterr(err, errsz, "out of memory");
        return NULL;
    }
    s->kind = kind;
    s->recv_max = conf && conf->recv_max ? conf->recv_max : DEFAULT_RECV_MAX;
    s->queue = conf && conf->queue > 0 ? conf->queue : DEFAULT_QUEUE;
    if (s->queue < 2)
        s->queue = 2; /* room for a frame being written and a new one */
    s->queue_bytes = conf && conf->queue_bytes ? conf->queue_bytes : DEFAULT_QUEUE_BYTES;
    s->max_conns = conf && conf->max_conns > 0 ? conf->max_conns : DEFAULT_MAX_CONNS;
    s->handshake_ms =
        conf && conf->handshake_ms > 0 ? conf->handshake_ms : DEFAULT_HANDSHAKE_MS;
    s->lfd = -1;
    s->conns = calloc((size_t)s->max_conns, sizeof *s->conns);
    s->pfd_ids = calloc((size_t)s->max_conns + 1, sizeof *s->pfd_ids);
    s->r_cap = s->max_conns * MAX_OUTSTANDING;
    s->reqs = kind == CPW_SRV_REP ? calloc((size_t)s->r_cap, sizeof *s->reqs) : NULL;
    if (!s->conns || !s->pfd_ids || (kind == CPW_SRV_REP && !s->reqs)) {
        seterr(err, errsz, "out of memory");
        cpw_srv_destroy(s);
        return NULL;
    }
    if (!strncmp(url, "ipc://", 6))
        s->lfd = bind_ipc(s, url + 6, err, errsz);
    else if (!strncmp(url, "tcp://", 6))
        s->lfd = bind_tcp(url + 6, err, errsz);
    else
        seterr(err, errsz, "cannot listen on %s: not an ipc:// or tcp:// URL", url);
    if (s->lfd < 0) {
        cpw_srv_destroy(s);
        return NULL;
    }
    return s;
}

/* ------------------------------------------------------------------ connections */

static void msg_unref(srv_msg *m)
{
    if (m && --m->refs == 0)
        free(m);
}

/* A frame: the transport's header (ipc: a type byte, 1), the length, then
 * prefix (a request id, or nothing) and body. refs 0: the caller counts. */
static srv_msg *frame(const cpw_srv *s, const void *prefix, size_t plen, const void *body,
                      size_t blen)
{
    size_t hl = s->ipc ? 9 : 8, len = plen + blen;
    srv_msg *m = malloc(sizeof *m + hl + len);
    if (!m)
        return NULL;
    m->refs = 0;
    m->len = hl + len;
    char *o = m->data;
    if (s->ipc)
        *o++ = 1;
    for (int i = 7; i >= 0; i--)
        *o++ = (char)((uint64_t)len >> (8 * i));
    if (plen)
        memcpy(o, prefix, plen);
    if (blen)
        memcpy(o + plen, body, blen);
    return m;
}

static conn *find(const cpw_srv *s, uint32_t id)
{
    for (int i = 0; i < s->n_conns; i++)
        if (s->conns[i]->id == id)
            return s->conns[i];
    return NULL;
}

static void drop(cpw_srv *s, conn *c)
{
    for (int i = 0; i < s->n_conns; i++) {
        if (s->conns[i] != c)
            continue;
        s->conns[i] = s->conns[--s->n_conns];
        break;
    }
    close(c->fd);
    for (int i = 0; i < c->q_n; i++)
        msg_unref(c->q[(c->q_head + i) % c->q_cap]);
    free(c->q);
    free(c->body);
    free(c);
}

static void accept_all(cpw_srv *s, int64_t now_ms)
{
    for (int k = 0; k < ACCEPTS_PER_TURN; k++) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        conn *c = s->n_conns < s->max_conns ? calloc(1, sizeof *c) : NULL;
        int cap = s->kind == CPW_SRV_PUB ? s->queue : MAX_OUTSTANDING + 1;
        srv_msg **q = c ? calloc((size_t)cap, sizeof *q) : NULL;
        if (!q) { /* full, or out of memory: this peer is turned away */
            free(c);
            close(fd);
            continue;
        }
        if (!s->ipc) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        *c = (conn){.fd = fd, .id = ++s->next_id, .deadline_ms = now_ms + s->handshake_ms,
                    .q = q, .q_cap = cap};
        s->conns[s->n_conns++] = c;
    }
}

/* One send of what is left of buf[0, len) after *done: 1 when some went
 * (*done grows), 0 when the kernel takes no more now, -1 when the
 * connection is dead. */
static int send_more(int fd, const uint8_t *buf, size_t len, size_t *done)
{
    for (;;) {
        ssize_t n = send(fd, buf + *done, len - *done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0)
            return -1;
        *done += (size_t)n;
        return 1;
    }
}

/* Writes our handshake and queued frames until the kernel stops taking
 * them. false: the connection is dead (and dropped). */
static bool flush(cpw_srv *s, conn *c)
{
    uint8_t hs[8] = {0, 'S', 'P', 0, 0, (uint8_t)(s->kind == CPW_SRV_PUB ? SP_PUB : SP_REP), 0, 0};
    int r;
    while (c->hs_out_sent < 8) {
        size_t done = c->hs_out_sent;
        if ((r = send_more(c->fd, hs, 8, &done)) <= 0)
            goto stop;
        c->hs_out_sent = (uint8_t)done;
    }
    while (c->q_n) {
        srv_msg *m = c->q[c->q_head];
        size_t before = c->q_off;
        if ((r = send_more(c->fd, (const uint8_t *)m->data, m->len, &c->q_off)) <= 0)
            goto stop;
        c->q_bytes -= c->q_off - before;
        if (c->q_off < m->len)
            continue;
        msg_unref(m);
        c->q_head = (c->q_head + 1) % c->q_cap;
        c->q_n--;
        c->q_off = 0;
        if (s->kind == CPW_SRV_REP)
            c->pending--;
    }
    return true;
stop:
    if (r == 0) /* the kernel's buffer is full: the rest waits for POLLOUT */
        return true;
    drop(s, c);
    return false;
}

/* Queues m on c. While the queue is full (in messages, or in bytes when
 * max_bytes is not 0), the oldest frame not yet begun makes room: a PUB's
 * slow subscriber misses messages, never half of one. */
static void enqueue(conn *c, srv_msg *m, size_t max_bytes)
{
    for (;;) {
        int victim = c->q_off ? 1 : 0;
        bool full = c->q_n == c->q_cap || (max_bytes && c->q_bytes + m->len > max_bytes);
        if (!full || victim >= c->q_n)
            break;
        int at = (c->q_head + victim) % c->q_cap;
        c->q_bytes -= c->q[at]->len;
        msg_unref(c->q[at]);
        for (int i = victim; i + 1 < c->q_n; i++)
            c->q[(c->q_head + i) % c->q_cap] = c->q[(c->q_head + i + 1) % c->q_cap];
        c->q_n--;
    }
    if (c->q_n == c->q_cap)
        return; /* cannot happen with a queue of 2 or more */
    c->q[(c->q_head + c->q_n++) % c->q_cap] = m;
    c->q_bytes += m->len;
    m->refs++;
}

/* The peer's 8-byte header: SP, the protocol that pairs with ours, zeros. */
static bool handshake_ok(const cpw_srv *s, const uint8_t h[8])
{
    int want = s->kind == CPW_SRV_PUB ? SP_SUB : SP_REQ;
    return h[0] == 0 && h[1] == 'S' && h[2] == 'P' && h[3] == 0 && h[4] == 0 && h[5] == want &&
           h[6] == 0 && h[7] == 0;
}

/* A complete request: its id words go to the reply, the rest is the body.
 * false: not a request (no word with the high bit within MAX_HOPS + 1). */
static bool take_request(cpw_srv *s, conn *c)
{
    size_t off = 0;
    for (int hop = 0;; hop++) {
        if (hop > MAX_HOPS || off + 4 > c->body_len)
            return false;
        off += 4;
        if ((uint8_t)c->body[off - 4] & 0x80)
            break;
    }
    if (s->r_n == s->r_cap)
        return false; /* cannot happen: each peer holds at most MAX_OUTSTANDING */
    req_ent *r = &s->reqs[(s->r_head + s->r_n++) % s->r_cap];
    *r = (req_ent){.conn = c->id, .body = c->body, .off = off, .len = c->body_len - off,
                   .trace_len = (uint8_t)off};
    memcpy(r->trace, c->body, off);
    c->body = NULL;
    c->body_len = c->body_got = 0;
    c->pending++;
    return c->pending <= MAX_OUTSTANDING;
}

/* REP: reads frame headers and bodies. false: the connection is dead. */
static bool read_requests(cpw_srv *s, conn *c)
{
    size_t hl = s->ipc ? 9 : 8;
    for (int got = 0; got < READS_PER_TURN;) {
        ssize_t n;
        if (c->head_got < hl) {
            n = recv(c->fd, c->head + c->head_got, hl - c->head_got, 0);
            if (n > 0 && (c->head_got += (uint8_t)n) == hl) {
                uint64_t len = 0;
                for (size_t i = hl - 8; i < hl; i++)
                    len = len << 8 | c->head[i];
                if ((s->ipc && c->head[0] != 1) || len > s->recv_max)
                    return false;
                c->body_len = (size_t)len;
                c->body = malloc(c->body_len ? c->body_len : 1);
                if (!c->body)
                    return false;
            }
        } else {
            n = c->body_got < c->body_len
                    ? recv(c->fd, c->body + c->body_got, c->body_len - c->body_got, 0)
                    : 0;
            if (n > 0)
                c->body_got += (size_t)n;
        }
        if (c->head_got == hl && c->body && c->body_got == c->body_len) {
            if (!take_request(s, c))
                return false;
            c->head_got = 0;
            got++;
            continue;
        }
        if (n == 0)
            return false; /* the peer closed */
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
    }
    return true;
}

/* Reads what c sent. false: the connection is dead. */
static bool read_conn(cpw_srv *s, conn *c)
{
    if (c->deadline_ms) {
        ssize_t n = recv(c->fd, c->hs_in + c->hs_in_got, 8u - c->hs_in_got, 0);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        if (n == 0)
            return false;
        c->hs_in_got = (uint8_t)(c->hs_in_got + n);
        if (c->hs_in_got < 8)
            return true;
        if (!handshake_ok(s, c->hs_in))
            return false;
        c->deadline_ms = 0;
    }
    if (s->kind == CPW_SRV_REP)
        return read_requests(s, c);
    char b;
    ssize_t n = recv(c->fd, &b, 1, 0); /* a subscriber never sends */
    return n < 0 && (errno == EAGAIN || errno == EINTR);
}

/* ------------------------------------------------------------------ polling */

int cpw_srv_pollfds(cpw_srv *s, struct pollfd *pfd, int max)
{
    if (max < 1)
        return 0;
    pfd[0] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
    s->pfd_ids[0] = 0;
    int n = 1;
    for (int k = 0; k < s->n_conns && n < max; k++) {
        conn *c = s->conns[(s->turn + k) % s->n_conns];
        bool out = c->hs_out_sent < 8 || c->q_n;
        pfd[n] = (struct pollfd){.fd = c->fd, .events = (short)(POLLIN | (out ? POLLOUT : 0))};
        s->pfd_ids[n++] = c->id;
    }
    if (s->n_conns)
        s->turn = (s->turn + n - 1) % s->n_conns;
    s->n_pfd = n;
    return n;
}

void cpw_srv_service(cpw_srv *s, const struct pollfd *pfd, int n, int64_t now_ms)
{
    if (n > s->n_pfd)
        n = s->n_pfd;
    for (int i = 1; i < n; i++) {
        conn *c = pfd[i].revents ? find(s, s->pfd_ids[i]) : NULL;
        if (!c || c->fd != pfd[i].fd)
            continue;
        if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && !read_conn(s, c)) {
            drop(s, c);
            continue;
        }
        if (pfd[i].revents & POLLOUT)
            flush(s, c);
    }
    if (n > 0 && pfd[0].fd == s->lfd && (pfd[0].revents & POLLIN))
        accept_all(s, now_ms);
    for (int i = s->n_conns - 1; i >= 0; i--) {
        conn *c = s->conns[i];
        if (c->deadline_ms && now_ms >= c->deadline_ms)
            drop(s, c);
        else if (c->hs_out_sent < 8)
            flush(s, c); /* new: say who we are at once */
    }
}

int cpw_srv_conns(const cpw_srv *s) { return s->n_conns; }

int cpw_srv_requests(const cpw_srv *s) { return s->r_n; }

/* ------------------------------------------------------------------ PUB / REP */

int cpw_srv_publish(cpw_srv *s, const void *data, size_t len)
{
    srv_msg *m = NULL;
    int reached = 0;
    for (int i = s->n_conns - 1; i >= 0; i--) {
        conn *c = s->conns[i];
        if (c->deadline_ms)
            continue; /* not a subscriber until its handshake is done */
        if (!m && !(m = frame(s, NULL, 0, data, len)))
            return -1;
        m->refs++; /* held while flushing: a dropped connection must not free it */
        enqueue(c, m, s->queue_bytes);
        flush(s, c);
        m->refs--;
        reached++;
    }
    if (m && m->refs == 0)
        free(m);
    return reached;
}

bool cpw_srv_next_request(cpw_srv *s, cpw_srv_req *r)
{
    free(s->handed);
    s->handed = NULL;
    while (s->r_n) {
        req_ent *e = &s->reqs[s->r_head];
        s->r_head = (s->r_head + 1) % s->r_cap;
        s->r_n--;
        if (!find(s, e->conn)) { /* its peer has gone: nobody to answer */
            free(e->body);
            continue;
        }
        s->handed = e->body;
        *r = (cpw_srv_req){.data = e->body + e->off, .len = e->len, .conn = e->conn,
                           .trace_len = e->trace_len};
        memcpy(r->trace, e->trace, e->trace_len);
        return true;
    }
    return false;
}

void cpw_srv_reply(cpw_srv *s, const cpw_srv_req *r, const void *data, size_t len)
{
    conn *c = find(s, r->conn);
    srv_msg *m = c ? frame(s, r->trace, r->trace_len, data, len) : NULL;
    free(s->handed); /* r's body: done with */
    s->handed = NULL;
    if (!m) {
        if (c)
            c->pending--;
        return;
    }
    enqueue(c, m, 0);
    flush(s, c);
}

void cpw_srv_destroy(cpw_srv *s)
{
    if (!s)
        return;
    while (s->n_conns)
        drop(s, s->conns[s->n_conns - 1]);
    for (int i = 0; i < s->r_n; i++)
        free(s->reqs[(s->r_head + i) % s->r_cap].body);
    free(s->handed);
    if (s->lfd >= 0) {
        close(s->lfd);
        if (s->ipc)
            unlink(s->path);
    }
    free(s->reqs);
    free(s->pfd_ids);
    free(s->conns);
    free(s);
}
