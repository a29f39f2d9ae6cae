/* cpw_sock.c — see cpw_sock.h. */
#include "cpw_sock.h"

#include "cpw.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_QUEUE 1024
#define DEFAULT_RECONNECT_MS 100
#define WATCH_PERIOD_MS 1000   /* ipc dialer watchdog: how often it looks */
#define DIAL_STALL_MS 3000     /* ... how long a dialer may stay unconnected */
#define MAX_IPC 4

/*
 * The ipc dialer watchdog. nng 1.5's ipc transport has a flaw: when the peer
 * closes a connection in the middle of the SP handshake, the endpoint can
 * stop for good; a dialer then never reconnects. A job that dies at that
 * moment, or a hostile one, would leave a dashboard disconnected forever, so
 * a SUB with ipc dialers runs a thread that redials one that has had no
 * connection for DIAL_STALL_MS. (tcp is not affected.)
 */
typedef struct ipc_ep {
    char url[300];
    nng_dialer d;
} ipc_ep;

struct cpw_sock {
    nng_socket s;
    cpw_sock_kind kind;
    nng_aio *send_aio;  /* shared by send and post */
    nng_aio *recv_aio;
    bool posted;        /* send_aio holds an operation not yet waited for */

    /* the watchdog's: dialers and thread, under lock */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    ipc_ep ipc[MAX_IPC];
    int n_ipc;
    bool watching, closing;
    pthread_t watch;
    _Atomic int pipes;              /* connected peers */
    _Atomic int64_t pipes_changed;  /* monotonic ms of the last change */
    _Atomic unsigned restarts;
};

static const char *const err_text[CPW_SOCK_ERR__COUNT] = {
    [CPW_SOCK_OK] = "success",
    [CPW_SOCK_AGAIN] = "would block",
    [CPW_SOCK_TIMEOUT] = "timed out",
    [CPW_SOCK_CLOSED] = "socket closed",
    [CPW_SOCK_NOMEM] = "out of memory",
    [CPW_SOCK_BAD_URL] = "not an ipc:// or tcp:// URL",
    [CPW_SOCK_ADDR] = "address in use, refused or unreachable",
    [CPW_SOCK_STATE] = "not valid in the socket's state",
    [CPW_SOCK_FAILED] = "transport error",
};

const char *cpw_sock_strerror(cpw_sock_err e)
{
    return (unsigned)e < CPW_SOCK_ERR__COUNT ? err_text[e] : "unknown transport error";
}

/* nng's error codes to ours; everything not listed is CPW_SOCK_FAILED. */
static const struct {
    int nng;
    cpw_sock_err err;
} err_map[] = {
    {NNG_EAGAIN, CPW_SOCK_AGAIN},         {NNG_ETIMEDOUT, CPW_SOCK_TIMEOUT},
    {NNG_ECLOSED, CPW_SOCK_CLOSED},       {NNG_ENOMEM, CPW_SOCK_NOMEM},
    {NNG_EADDRINVAL, CPW_SOCK_BAD_URL},   {NNG_ENOTSUP, CPW_SOCK_BAD_URL},
    {NNG_EADDRINUSE, CPW_SOCK_ADDR},      {NNG_ECONNREFUSED, CPW_SOCK_ADDR},
    {NNG_EUNREACHABLE, CPW_SOCK_ADDR},    {NNG_EPERM, CPW_SOCK_ADDR},
    {NNG_ESTATE, CPW_SOCK_STATE},
};

static cpw_sock_err map_err(int rv)
{
    if (rv == 0)
        return CPW_SOCK_OK;
    for (size_t i = 0; i < sizeof err_map / sizeof err_map[0]; i++)
        if (err_map[i].nng == rv)
            return err_map[i].err;
    return CPW_SOCK_FAILED;
}

static void seterr(char *err, size_t errsz, const char *what, const char *url, int rv)
{
    if (err && errsz)
        snprintf(err, errsz, "%s %s: %s", what, url, nng_strerror(rv));
}

static nng_duration duration(int timeout_ms)
{
    if (timeout_ms == 0)
        return NNG_DURATION_ZERO;
    return timeout_ms < 0 ? NNG_DURATION_INFINITE : (nng_duration)timeout_ms;
}

static int open_kind(cpw_sock_kind kind, nng_socket *s)
{
    switch (kind) {
    case CPW_SOCK_PUB: return nng_pub0_open(s);
    case CPW_SOCK_SUB: return nng_sub0_open(s);
    case CPW_SOCK_REQ: return nng_req0_open(s);
    }
    return NNG_EINVAL;
}

/* Applies conf to a fresh socket, before any endpoint exists (endpoints
 * take the receive limit when they are created). */
static int configure(cpw_sock *s, const cpw_sock_conf *c)
{
    int queue = c->queue > 0 ? c->queue : DEFAULT_QUEUE;
    if (queue > 8192)
        queue = 8192;
    size_t max = c->recv_max;
    int rv = 0;
    switch (s->kind) {
    case CPW_SOCK_PUB:
        max = 1; /* a subscriber never sends: anything more drops it */
        rv = nng_socket_set_int(s->s, NNG_OPT_SENDBUF, queue);
        break;
    case CPW_SOCK_SUB:
        max = max ? max : CPW_MAX_FRAME;
        rv = nng_socket_set(s->s, NNG_OPT_SUB_SUBSCRIBE, "", 0);
        if (!rv)
            rv = nng_socket_set_int(s->s, NNG_OPT_RECVBUF, queue);
        break;
    case CPW_SOCK_REQ:
        max = max ? max : CPW_MAX_FRAME;
        break;
    }
    if (!rv)
        rv = nng_socket_set_size(s->s, NNG_OPT_RECVMAXSZ, max);
    int rmin = c->reconnect_ms > 0 ? c->reconnect_ms : DEFAULT_RECONNECT_MS;
    int rmax = c->reconnect_max_ms > rmin ? c->reconnect_max_ms : 0; /* 0: no backoff */
    if (!rv)
        rv = nng_socket_set_ms(s->s, NNG_OPT_RECONNMINT, rmin);
    if (!rv)
        rv = nng_socket_set_ms(s->s, NNG_OPT_RECONNMAXT, rmax);
    return rv;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Counts connected peers for the watchdog. Runs on nng's threads. REM_POST
 * comes for every pipe that had an ADD_PRE, so the two pair. */
static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    cpw_sock *s = arg;
    atomic_fetch_add(&s->pipes, ev == NNG_PIPE_EV_ADD_PRE ? 1 : -1);
    atomic_store(&s->pipes_changed, mono_ms());
}

cpw_sock *cpw_sock_new(cpw_sock_kind kind, const cpw_sock_conf *conf, char *err, size_t errsz)
{
    static const cpw_sock_conf defaults = {0};
    cpw_sock *s = calloc(1, sizeof *s);
    if (!s) {
        if (err && errsz)
            snprintf(err, errsz, "out of memory");
        return NULL;
    }
    s->kind = kind;
    int rv = open_kind(kind, &s->s);
    if (rv) {
        if (err && errsz)
            snprintf(err, errsz, "cannot open a socket: %s", nng_strerror(rv));
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    atomic_store(&s->pipes_changed, mono_ms());
    rv = configure(s, conf ? conf : &defaults);
    if (!rv)
        rv = nng_pipe_notify(s->s, NNG_PIPE_EV_ADD_PRE, on_pipe, s);
    if (!rv)
        rv = nng_pipe_notify(s->s, NNG_PIPE_EV_REM_POST, on_pipe, s);
    if (!rv)
        rv = nng_aio_alloc(&s->send_aio, NULL, NULL);
    if (!rv)
        rv = nng_aio_alloc(&s->recv_aio, NULL, NULL);
    if (rv) {
        if (err && errsz)
            snprintf(err, errsz, "cannot set up a socket: %s", nng_strerror(rv));
        cpw_sock_destroy(s);
        return NULL;
    }
    return s;
}

/* After a finished send: a failed one leaves its message with us (a
 * successful one gave it away, and the aio may still point at it). */
static void drop_send_msg(cpw_sock *s)
{
    nng_msg *m = nng_aio_get_msg(s->send_aio);
    nng_aio_set_msg(s->send_aio, NULL);
    if (m && nng_aio_result(s->send_aio) != 0)
        nng_msg_free(m);
}

void cpw_sock_destroy(cpw_sock *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->closing = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    if (s->watching)
        pthread_join(s->watch, NULL);
    if (s->send_aio) {
        nng_aio_stop(s->send_aio);
        drop_send_msg(s);
    }
    if (s->recv_aio)
        nng_aio_stop(s->recv_aio);
    nng_close(s->s);
    if (s->send_aio)
        nng_aio_free(s->send_aio);
    if (s->recv_aio)
        nng_aio_free(s->recv_aio);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ipc://PATH or tcp://HOST:PORT; nng would take more schemes (inproc, ws,
 * zerotier) that a discovery file or a user must not be able to name. */
static bool url_ok(const char *url)
{
    if (!strncmp(url, "ipc://", 6))
        return url[6] != '\0';
    if (!strncmp(url, "tcp://", 6))
        return strchr(url + 6, ':') != NULL;
    return false;
}

static bool is_ipc(const char *url) { return !strncmp(url, "ipc://", 6); }

static int start_dialer(cpw_sock *s, const char *url, nng_dialer *d)
{
    int rv = nng_dialer_create(d, s->s, url);
    if (!rv)
        rv = nng_dialer_start(*d, NNG_FLAG_NONBLOCK);
    return rv;
}

/* Redials each ipc dialer when the socket has had no connection for
 * DIAL_STALL_MS. Called with lock held. */
static void watch_once(cpw_sock *s)
{
    if (atomic_load(&s->pipes) != 0 ||
        mono_ms() - atomic_load(&s->pipes_changed) < DIAL_STALL_MS)
        return;
    for (int i = 0; i < s->n_ipc && !s->closing; i++) {
        nng_dialer_close(s->ipc[i].d);
        if (start_dialer(s, s->ipc[i].url, &s->ipc[i].d) == 0)
            atomic_fetch_add(&s->restarts, 1);
    }
    atomic_store(&s->pipes_changed, mono_ms());
}

static void *watch_main(void *arg)
{
    cpw_sock *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->closing) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += WATCH_PERIOD_MS / 1000;
        ts.tv_nsec += (long)(WATCH_PERIOD_MS % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->wake, &s->lock, &ts);
        if (!s->closing)
            watch_once(s);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Puts a SUB's ipc dialer under the watchdog (a REQ lives for one request,
 * whose own timeout covers it). */
static void watch(cpw_sock *s, const char *url, nng_dialer d)
{
    if (s->kind != CPW_SOCK_SUB || !is_ipc(url))
        return;
    pthread_mutex_lock(&s->lock);
    if (s->n_ipc < MAX_IPC && strlen(url) < sizeof s->ipc[0].url) {
        ipc_ep *ep = &s->ipc[s->n_ipc++];
        strcpy(ep->url, url);
        ep->d = d;
        if (!s->watching)
            s->watching = pthread_create(&s->watch, NULL, watch_main, s) == 0;
    }
    pthread_mutex_unlock(&s->lock);
}

unsigned cpw_sock_restarts(const cpw_sock *s)
{
    return atomic_load(&((cpw_sock *)s)->restarts);
}

cpw_sock_err cpw_sock_listen(cpw_sock *s, const char *url, char *err, size_t errsz)
{
    if (!url_ok(url)) {
        if (err && errsz)
            snprintf(err, errsz, "cannot listen on %s: %s", url, err_text[CPW_SOCK_BAD_URL]);
        return CPW_SOCK_BAD_URL;
    }
    nng_listener l;
    int rv = nng_listener_create(&l, s->s, url);
    /* the socket file is the user's alone from the moment it exists */
    if (!rv && is_ipc(url))
        rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600);
    if (!rv)
        rv = nng_listener_start(l, 0);
    if (rv) {
        seterr(err, errsz, "cannot listen on", url, rv);
        return map_err(rv);
    }
    return CPW_SOCK_OK;
}

cpw_sock_err cpw_sock_dial(cpw_sock *s, const char *url, char *err, size_t errsz)
{
    if (!url_ok(url)) {
        if (err && errsz)
            snprintf(err, errsz, "cannot connect to %s: %s", url, err_text[CPW_SOCK_BAD_URL]);
        return CPW_SOCK_BAD_URL;
    }
    nng_dialer d;
    int rv = start_dialer(s, url, &d);
    if (rv) {
        seterr(err, errsz, "cannot connect to", url, rv);
        return map_err(rv);
    }
    watch(s, url, d);
    return CPW_SOCK_OK;
}

/* Waits for a posted send, if any. */
static void settle(cpw_sock *s)
{
    if (!s->posted)
        return;
    nng_aio_wait(s->send_aio);
    drop_send_msg(s);
    s->posted = false;
}

static cpw_sock_err start_send(cpw_sock *s, const void *data, size_t len, int timeout_ms)
{
    settle(s);
    nng_msg *m;
    if (nng_msg_alloc(&m, len) != 0)
        return CPW_SOCK_NOMEM;
    if (len)
        memcpy(nng_msg_body(m), data, len);
    nng_aio_set_msg(s->send_aio, m);
    nng_aio_set_timeout(s->send_aio, duration(timeout_ms));
    nng_send_aio(s->s, s->send_aio);
    s->posted = true;
    return CPW_SOCK_OK;
}

cpw_sock_err cpw_sock_send(cpw_sock *s, const void *data, size_t len, int timeout_ms)
{
    cpw_sock_err e = start_send(s, data, len, timeout_ms);
    if (e)
        return e;
    nng_aio_wait(s->send_aio);
    s->posted = false;
    drop_send_msg(s);
    int rv = nng_aio_result(s->send_aio);
    /* a zero timeout that expires is "cannot go now", not a timeout */
    if (rv == NNG_ETIMEDOUT && timeout_ms == 0)
        return CPW_SOCK_AGAIN;
    return map_err(rv);
}

cpw_sock_err cpw_sock_post(cpw_sock *s, const void *data, size_t len, int timeout_ms)
{
    return start_send(s, data, len, timeout_ms);
}

cpw_sock_err cpw_sock_recv(cpw_sock *s, cpw_sock_msg *m, int timeout_ms)
{
    memset(m, 0, sizeof *m);
    nng_aio_set_timeout(s->recv_aio, duration(timeout_ms));
    nng_recv_aio(s->s, s->recv_aio);
    nng_aio_wait(s->recv_aio);
    int rv = nng_aio_result(s->recv_aio);
    if (rv)
        return rv == NNG_ETIMEDOUT && timeout_ms == 0 ? CPW_SOCK_AGAIN : map_err(rv);
    nng_msg *msg = nng_aio_get_msg(s->recv_aio);
    nng_aio_set_msg(s->recv_aio, NULL);
    m->impl = msg;
    m->data = nng_msg_body(msg);
    m->len = nng_msg_len(msg);
    return CPW_SOCK_OK;
}

void cpw_sock_msg_free(cpw_sock_msg *m)
{
    if (m && m->impl)
        nng_msg_free(m->impl);
    if (m)
        memset(m, 0, sizeof *m);
}

int cpw_sock_fd(cpw_sock *s)
{
    int fd = -1;
    if (s->kind == CPW_SOCK_PUB || nng_socket_get_int(s->s, NNG_OPT_RECVFD, &fd) != 0)
        return -1;
    return fd;
}
