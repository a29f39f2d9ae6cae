/* test_transport.c — the agent's SP endpoints (cpw_srv) against nng clients
 * (cpw_sock) and against raw sockets that break the rules: deliveries,
 * replies, each limit of cpw_srv.h, no descriptor left behind. */
#include "cpt_test.h"
#include "cpw.h"
#include "cpw_sock.h"
#include "cpw_srv.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ a server thread */

/* The endpoint lives on its own thread, as in the agent: it publishes a
 * numbered message every `every_ms` (PUB) or echoes each request (REP). */
typedef struct server {
    cpw_srv *srv;
    cpw_srv_kind kind;
    int every_ms;
    size_t msg_len;           /* PUB: bytes per message, >= 16 */
    _Atomic int stop, conns;
    _Atomic uint64_t published, requests;
    pthread_t th;
} server;

static void *server_main(void *arg)
{
    server *sv = arg;
    char *msg = calloc(1, sv->msg_len + 1);
    int64_t next = cpt_now_ms();
    while (!atomic_load(&sv->stop)) {
        struct pollfd pfd[64];
        int n = cpw_srv_pollfds(sv->srv, pfd, 64);
        poll(pfd, (nfds_t)n, 5);
        cpw_srv_service(sv->srv, pfd, n, cpt_now_ms());
        if (sv->kind == CPW_SRV_PUB && sv->every_ms && cpt_now_ms() >= next) {
            uint64_t k = atomic_fetch_add(&sv->published, 1);
            memset(msg, 'x', sv->msg_len);
            int w = snprintf(msg, sv->msg_len, "m%012llu;", (unsigned long long)k);
            msg[w] = 'x';
            cpw_srv_publish(sv->srv, msg, sv->msg_len);
            next += sv->every_ms;
        }
        cpw_srv_req r;
        while (sv->kind == CPW_SRV_REP && cpw_srv_next_request(sv->srv, &r)) {
            char out[256];
            int w = snprintf(out, sizeof out, "echo:%.*s", (int)(r.len < 200 ? r.len : 200),
                             r.data);
            atomic_fetch_add(&sv->requests, 1);
            cpw_srv_reply(sv->srv, &r, out, (size_t)w);
        }
        atomic_store(&sv->conns, cpw_srv_conns(sv->srv));
    }
    free(msg);
    return NULL;
}

static void start(server *sv, cpw_srv_kind kind, const char *url, const cpw_srv_conf *conf)
{
    char err[300];
    sv->kind = kind;
    if (!sv->msg_len)
        sv->msg_len = 32;
    sv->srv = cpw_srv_new(kind, url, conf, err, sizeof err);
    CPT_ASSERTF(sv->srv, "cpw_srv_new %s: %s", url, err);
    CPT_EQ_INT(pthread_create(&sv->th, NULL, server_main, sv), 0);
}

static void stop(server *sv)
{
    atomic_store(&sv->stop, 1);
    pthread_join(sv->th, NULL);
    cpw_srv_destroy(sv->srv);
}

static const char *ipc_url(const char *name)
{
    static char url[300];
    snprintf(url, sizeof url, "ipc://%s/%s", cpt_tmpdir(), name);
    return url;
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* ------------------------------------------------------------------ raw peers */

static int raw_connect(const char *url)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", url + 6);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CPT_ASSERT(fd >= 0);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    CPT_EQ_INT(connect(fd, (struct sockaddr *)&un, sizeof un), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    CPT_EQ_INT(send(fd, p, n, MSG_NOSIGNAL), (long long)n);
}

/* Reads until the peer closes (true) or 2 s pass (false). */
static bool closed_by_peer(int fd)
{
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0)
            return false;
    }
}

static const uint8_t SUB_HELLO[8] = {0, 'S', 'P', 0, 0, 0x21, 0, 0};
static const uint8_t REQ_HELLO[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0};

/* An ipc frame: type 1, 64-bit length, body. */
static size_t ipc_frame(uint8_t *out, const void *body, size_t len)
{
    out[0] = 1;
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    memcpy(out + 9, body, len);
    return 9 + len;
}

/* ------------------------------------------------------------------ tests */

CPT_TEST(pub_delivers_and_drops_a_subscriber_that_talks)
{
    server sv = {.every_ms = 5};
    start(&sv, CPW_SRV_PUB, ipc_url("p.events"), NULL);
    cpw_sock *sub = cpw_sock_new(CPW_SOCK_SUB, NULL, NULL, 0);
    CPT_EQ_INT(cpw_sock_dial(sub, ipc_url("p.events"), NULL, 0), CPW_SOCK_OK);
    cpw_sock_msg m;
    CPT_EQ_INT(cpw_sock_recv(sub, &m, 2000), CPW_SOCK_OK);
    CPT_EQ_INT(m.len, 32);
    CPT_ASSERT(m.data[0] == 'm');
    cpw_sock_msg_free(&m);
    /* a subscriber that sends anything after its handshake is cut off */
    int fd = raw_connect(ipc_url("p.events"));
    uint8_t hello[8];
    CPT_EQ_INT(recv(fd, hello, 8, MSG_WAITALL), 8);
    CPT_ASSERT(hello[5] == 0x20);
    send_all(fd, SUB_HELLO, 8);
    send_all(fd, "x", 1);
    CPT_ASSERT(closed_by_peer(fd));
    close(fd);
    /* the good one goes on receiving */
    for (int i = 0; i < 5; i++) {
        CPT_EQ_INT(cpw_sock_recv(sub, &m, 2000), CPW_SOCK_OK);
        cpw_sock_msg_free(&m);
    }
    cpw_sock_destroy(sub);
    stop(&sv);
    struct stat st;
    CPT_ASSERT(stat(ipc_url("p.events") + 6, &st) != 0); /* the socket file is gone */
}

CPT_TEST(handshakes_that_do_not_pair_are_refused)
{
    server sv = {.every_ms = 5};
    start(&sv, CPW_SRV_PUB, ipc_url("h.events"), NULL);
    static const uint8_t bad[][8] = {
        {0, 'S', 'P', 0, 0, 0x30, 0, 0},   /* REQ on the events */
        {0, 'S', 'P', 0, 0, 0x20, 0, 0},   /* PUB to a PUB */
        {0, 'S', 'P', 0, 0, 0x21, 0, 1},   /* reserved bytes not zero */
        {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T'},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int fd = raw_connect(ipc_url("h.events"));
        send_all(fd, bad[i], 8);
        CPT_ASSERTF(closed_by_peer(fd), "header %zu was accepted", i);
        close(fd);
    }
    stop(&sv);
}

CPT_TEST(rep_answers_each_request_on_its_own_connection)
{
    server sv = {0};
    int port = cpt_free_port_pair();
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    start(&sv, CPW_SRV_REP, url, NULL);
    for (int i = 0; i < 3; i++) {
        char *out = NULL;
        char body[32];
        int n = snprintf(body, sizeof body, "hello %d", i);
        cpw_sock *req = cpw_sock_new(CPW_SOCK_REQ, NULL, NULL, 0);
        cpw_sock_msg m;
        CPT_EQ_INT(cpw_sock_dial(req, url, NULL, 0), CPW_SOCK_OK);
        CPT_EQ_INT(cpw_sock_send(req, body, (size_t)n, 2000), CPW_SOCK_OK);
        CPT_EQ_INT(cpw_sock_recv(req, &m, 2000), CPW_SOCK_OK);
        out = strndup(m.data, m.len);
        char want[40];
        snprintf(want, sizeof want, "echo:%s", body);
        CPT_EQ_STR(out, want);
        free(out);
        cpw_sock_msg_free(&m);
        cpw_sock_destroy(req);
    }
    stop(&sv);
}

CPT_TEST(rep_closes_pipeliners_and_oversize_and_idless_requests)
{
    server sv = {0};
    cpw_srv_conf conf = {.recv_max = 1024};
    start(&sv, CPW_SRV_REP, ipc_url("r.cmd"), &conf);
    int base = open_fds();
    uint8_t frame[2048];
    const char *json = "{\"v\":1}";
    uint8_t req[64] = {0x80, 0, 0, 7};
    memcpy(req + 4, json, strlen(json));
    size_t rl = 4 + strlen(json);
    for (int round = 0; round < 20; round++) {
        /* three requests before reading a reply: a REQ never does that */
        int fd = raw_connect(ipc_url("r.cmd"));
        send_all(fd, REQ_HELLO, 8);
        /* in one write: the server must see them together, not answer
         * each before the next arrives (which a REQ may do) */
        size_t fl = 0;
        for (int i = 0; i < 3; i++)
            fl += ipc_frame(frame + fl, req, rl);
        send_all(fd, frame, fl);
        CPT_ASSERT(closed_by_peer(fd));
        close(fd);
    }
    /* a length over recv_max: closed without the body ever being sent */
    int fd = raw_connect(ipc_url("r.cmd"));
    send_all(fd, REQ_HELLO, 8);
    uint8_t head[9] = {1, 0, 0, 0, 0, 0x40, 0, 0, 0}; /* 1 GiB */
    send_all(fd, head, 9);
    CPT_ASSERT(closed_by_peer(fd));
    close(fd);
    /* nine words without the high bit: no request id */
    uint8_t hops[40] = {0};
    fd = raw_connect(ipc_url("r.cmd"));
    send_all(fd, REQ_HELLO, 8);
    send_all(fd, frame, ipc_frame(frame, hops, sizeof hops));
    CPT_ASSERT(closed_by_peer(fd));
    close(fd);
    /* an ipc message type other than 1 */
    fd = raw_connect(ipc_url("r.cmd"));
    send_all(fd, REQ_HELLO, 8);
    size_t fl = ipc_frame(frame, req, rl);
    frame[0] = 2;
    send_all(fd, frame, fl);
    CPT_ASSERT(closed_by_peer(fd));
    close(fd);
    /* a well-behaved request on the same endpoint is still answered */
    fd = raw_connect(ipc_url("r.cmd"));
    send_all(fd, REQ_HELLO, 8);
    send_all(fd, frame, ipc_frame(frame, req, rl));
    uint8_t in[9 + 4 + 64];
    CPT_EQ_INT(recv(fd, in, 8, MSG_WAITALL), 8);               /* its header */
    CPT_EQ_INT(recv(fd, in, 9 + 4 + 5 + rl - 4, MSG_WAITALL), 9 + 4 + 5 + rl - 4);
    CPT_EQ_INT(in[8], 4 + 5 + rl - 4);                         /* length */
    CPT_ASSERT(!memcmp(in + 9, req, 4));                       /* the request id back */
    CPT_ASSERT(!memcmp(in + 13, "echo:{\"v\":1}", 12));
    close(fd);
    /* nothing kept: every connection above was let go */
    int64_t t0 = cpt_now_ms();
    while (atomic_load(&sv.conns) && cpt_now_ms() - t0 < 2000)
        usleep(10000);
    CPT_EQ_INT(atomic_load(&sv.conns), 0);
    CPT_EQ_INT(open_fds(), base);
    stop(&sv);
}

CPT_TEST(handshake_deadline_and_connection_limit)
{
    server sv = {0};
    cpw_srv_conf conf = {.max_conns = 4, .handshake_ms = 300};
    start(&sv, CPW_SRV_REP, ipc_url("d.cmd"), &conf);
    int fds[5];
    for (int i = 0; i < 4; i++)
        fds[i] = raw_connect(ipc_url("d.cmd"));
    int64_t t0 = cpt_now_ms();
    while (atomic_load(&sv.conns) < 4 && cpt_now_ms() - t0 < 2000)
        usleep(5000);
    CPT_EQ_INT(atomic_load(&sv.conns), 4);
    /* a fifth while four are open: turned away at once */
    fds[4] = raw_connect(ipc_url("d.cmd"));
    CPT_ASSERT(closed_by_peer(fds[4]));
    /* the four never said who they are: gone after the deadline */
    for (int i = 0; i < 4; i++)
        CPT_ASSERT(closed_by_peer(fds[i]));
    CPT_ASSERTF(cpt_now_ms() - t0 >= 250, "closed before the deadline");
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    stop(&sv);
}

CPT_TEST(a_slow_subscriber_loses_whole_messages_only)
{
    server sv = {.every_ms = 1, .msg_len = 64 * 1024};
    cpw_srv_conf conf = {.queue = 4};
    start(&sv, CPW_SRV_PUB, ipc_url("s.events"), &conf);
    int fd = raw_connect(ipc_url("s.events"));
    uint8_t h[8];
    CPT_EQ_INT(recv(fd, h, 8, MSG_WAITALL), 8);
    send_all(fd, SUB_HELLO, 8);
    usleep(500 * 1000); /* not reading: the kernel fills, then the queue drops */
    uint64_t last = 0, frames = 0, gaps = 0;
    char *body = malloc(sv.msg_len);
    while (frames < 50) {
        uint8_t head[9];
        CPT_EQ_INT(recv(fd, head, 9, MSG_WAITALL), 9);
        CPT_EQ_INT(head[0], 1);
        uint64_t len = 0;
        for (int i = 1; i < 9; i++)
            len = len << 8 | head[i];
        CPT_EQ_INT(len, sv.msg_len); /* every frame whole: never half of one */
        CPT_EQ_INT(recv(fd, body, len, MSG_WAITALL), (long long)len);
        CPT_ASSERT(body[0] == 'm' && body[13] == ';');
        uint64_t k = strtoull(body + 1, NULL, 10);
        CPT_ASSERTF(!frames || k > last, "message %llu after %llu", (unsigned long long)k,
                    (unsigned long long)last);
        gaps += frames && k != last + 1;
        last = k;
        frames++;
    }
    CPT_ASSERTF(gaps > 0, "no message was dropped for the slow reader");
    free(body);
    close(fd);
    stop(&sv);
}

CPT_TEST(ipc_path_stale_replaced_live_or_foreign_refused)
{
    const char *url = ipc_url("x.cmd");
    char err[300];
    cpw_srv *a = cpw_srv_new(CPW_SRV_REP, url, NULL, err, sizeof err);
    CPT_ASSERTF(a, "%s", err);
    struct stat st;
    CPT_EQ_INT(stat(url + 6, &st), 0);
    CPT_EQ_INT(st.st_mode & 0777, 0600);
    cpw_srv *b = cpw_srv_new(CPW_SRV_REP, url, NULL, err, sizeof err);
    CPT_ASSERT(!b);
    CPT_ASSERTF(strstr(err, "another process listens there"), "%s", err);
    cpw_srv_destroy(a);
    /* a socket file nobody listens on (a crashed job's) is taken over */
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", url + 6);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CPT_EQ_INT(bind(fd, (struct sockaddr *)&un, sizeof un), 0);
    close(fd);
    a = cpw_srv_new(CPW_SRV_REP, url, NULL, err, sizeof err);
    CPT_ASSERTF(a, "stale file not replaced: %s", err);
    cpw_srv_destroy(a);
    /* anything else at the path is left alone */
    FILE *f = fopen(url + 6, "w");
    fclose(f);
    CPT_ASSERT(!cpw_srv_new(CPW_SRV_PUB, url, NULL, err, sizeof err));
    CPT_ASSERTF(strstr(err, "not a socket"), "%s", err);
}
