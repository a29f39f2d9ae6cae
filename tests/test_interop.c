/* test_interop.c — the SP wire format against another implementation: nng
 * (nanomsg's successor, the same format) as the peer of each of our ends,
 * over ipc and tcp. The agent's PUB and REP (cpw_srv) serve nng's SUB and
 * REQ; the dashboard's SUB and REQ (cpw_sock) follow nng's PUB and REP. */
#include "cpt_test.h"
#include "cpw_sock.h"
#include "cpw_srv.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/* Our endpoint on its own thread: PUB publishes "tick N" every 10 ms, REP
 * answers "re:" + the request. */
typedef struct ours {
    cpw_srv *srv;
    cpw_srv_kind kind;
    _Atomic int stop;
    pthread_t th;
} ours;

static void *ours_main(void *arg)
{
    ours *o = arg;
    int64_t next = 0;
    for (int k = 0; !atomic_load(&o->stop);) {
        struct pollfd pfd[16];
        int n = cpw_srv_pollfds(o->srv, pfd, 16);
        poll(pfd, (nfds_t)n, 5);
        cpw_srv_service(o->srv, pfd, n, cpt_now_ms());
        if (o->kind == CPW_SRV_PUB && cpt_now_ms() >= next) {
            char msg[32];
            int len = snprintf(msg, sizeof msg, "tick %d", k++);
            cpw_srv_publish(o->srv, msg, (size_t)len);
            next = cpt_now_ms() + 10;
        }
        cpw_srv_req r;
        while (o->kind == CPW_SRV_REP && cpw_srv_next_request(o->srv, &r)) {
            char out[128];
            int len = snprintf(out, sizeof out, "re:%.*s", (int)r.len, r.data);
            cpw_srv_reply(o->srv, &r, out, (size_t)len);
        }
    }
    return NULL;
}

static void ours_start(ours *o, cpw_srv_kind kind, const char *url)
{
    char err[300];
    o->kind = kind;
    o->srv = cpw_srv_new(kind, url, NULL, err, sizeof err);
    CPT_ASSERTF(o->srv, "%s", err);
    CPT_EQ_INT(pthread_create(&o->th, NULL, ours_main, o), 0);
}

static void ours_stop(ours *o)
{
    atomic_store(&o->stop, 1);
    pthread_join(o->th, NULL);
    cpw_srv_destroy(o->srv);
}

static void urls(char *ipc, char *tcp, size_t n, const char *name)
{
    snprintf(ipc, n, "ipc://%s/%s", cpt_tmpdir(), name);
    snprintf(tcp, n, "tcp://127.0.0.1:%d", cpt_free_port_pair());
}

CPT_TEST(nng_sub_follows_our_pub)
{
    char u[2][300];
    urls(u[0], u[1], sizeof u[0], "i.events");
    for (int t = 0; t < 2; t++) {
        ours o = {0};
        ours_start(&o, CPW_SRV_PUB, u[t]);
        nng_socket sub;
        CPT_EQ_INT(nng_sub0_open(&sub), 0);
        CPT_EQ_INT(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
        CPT_EQ_INT(nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 2000), 0);
        CPT_EQ_INT(nng_dial(sub, u[t], NULL, 0), 0);
        int last = -1;
        for (int i = 0; i < 5; i++) {
            char *buf = NULL;
            size_t sz = 0;
            CPT_EQ_INT(nng_recv(sub, &buf, &sz, NNG_FLAG_ALLOC), 0);
            int k = -1;
            CPT_EQ_INT(sscanf(buf, "tick %d", &k), 1);
            CPT_ASSERTF(k > last, "%s: tick %d after %d", u[t], k, last);
            last = k;
            nng_free(buf, sz);
        }
        nng_close(sub);
        ours_stop(&o);
    }
}

CPT_TEST(nng_req_is_answered_by_our_rep)
{
    char u[2][300];
    urls(u[0], u[1], sizeof u[0], "i.cmd");
    for (int t = 0; t < 2; t++) {
        ours o = {0};
        ours_start(&o, CPW_SRV_REP, u[t]);
        nng_socket req;
        CPT_EQ_INT(nng_req0_open(&req), 0);
        CPT_EQ_INT(nng_socket_set_ms(req, NNG_OPT_RECVTIMEO, 2000), 0);
        CPT_EQ_INT(nng_dial(req, u[t], NULL, 0), 0);
        for (int i = 0; i < 3; i++) { /* several on one connection, in turn */
            char q[16], want[32];
            int n = snprintf(q, sizeof q, "q%d", i);
            snprintf(want, sizeof want, "re:%s", q);
            CPT_EQ_INT(nng_send(req, q, (size_t)n, 0), 0);
            char *buf = NULL;
            size_t sz = 0;
            CPT_EQ_INT(nng_recv(req, &buf, &sz, NNG_FLAG_ALLOC), 0);
            CPT_EQ_INT(sz, strlen(want));
            CPT_ASSERT(!memcmp(buf, want, sz));
            nng_free(buf, sz);
        }
        nng_close(req);
        ours_stop(&o);
    }
}

CPT_TEST(our_sub_follows_an_nng_pub)
{
    char u[2][300];
    urls(u[0], u[1], sizeof u[0], "n.events");
    for (int t = 0; t < 2; t++) {
        nng_socket pub;
        CPT_EQ_INT(nng_pub0_open(&pub), 0);
        CPT_EQ_INT(nng_listen(pub, u[t], NULL, 0), 0);
        cpw_sock *sub = cpw_sock_new(CPW_SOCK_SUB, NULL, NULL, 0);
        CPT_EQ_INT(cpw_sock_dial(sub, u[t], NULL, 0), CPW_SOCK_OK);
        int got = 0;
        for (int64_t t0 = cpt_now_ms(); got < 5 && cpt_now_ms() - t0 < 5000;) {
            nng_send(pub, "hello", 5, NNG_FLAG_NONBLOCK);
            cpw_sock_msg m;
            if (cpw_sock_recv(sub, &m, 20) == CPW_SOCK_OK) {
                CPT_EQ_INT(m.len, 5);
                CPT_ASSERT(!memcmp(m.data, "hello", 5));
                cpw_sock_msg_free(&m);
                got++;
            }
        }
        CPT_EQ_INT(got, 5);
        cpw_sock_destroy(sub);
        nng_close(pub);
    }
}

typedef struct nng_rep_srv {
    nng_socket rep;
    _Atomic int stop;
} nng_rep_srv;

static void *nng_rep_main(void *arg)
{
    nng_rep_srv *r = arg;
    while (!atomic_load(&r->stop)) {
        char *buf = NULL;
        size_t sz = 0;
        if (nng_recv(r->rep, &buf, &sz, NNG_FLAG_ALLOC) != 0)
            continue;
        char out[64];
        int n = snprintf(out, sizeof out, "nng:%.*s", (int)sz, buf);
        nng_free(buf, sz);
        nng_send(r->rep, out, (size_t)n, 0);
    }
    return NULL;
}

CPT_TEST(our_req_is_answered_by_an_nng_rep)
{
    char u[2][300];
    urls(u[0], u[1], sizeof u[0], "n.cmd");
    for (int t = 0; t < 2; t++) {
        nng_rep_srv r = {0};
        CPT_EQ_INT(nng_rep0_open(&r.rep), 0);
        CPT_EQ_INT(nng_socket_set_ms(r.rep, NNG_OPT_RECVTIMEO, 100), 0);
        CPT_EQ_INT(nng_listen(r.rep, u[t], NULL, 0), 0);
        pthread_t th;
        CPT_EQ_INT(pthread_create(&th, NULL, nng_rep_main, &r), 0);
        for (int i = 0; i < 3; i++) { /* a socket per request, as cptop does */
            cpw_sock *req = cpw_sock_new(CPW_SOCK_REQ, NULL, NULL, 0);
            CPT_EQ_INT(cpw_sock_dial(req, u[t], NULL, 0), CPW_SOCK_OK);
            CPT_EQ_INT(cpw_sock_send(req, "ping", 4, 2000), CPW_SOCK_OK);
            cpw_sock_msg m;
            CPT_EQ_INT(cpw_sock_recv(req, &m, 2000), CPW_SOCK_OK);
            CPT_EQ_INT(m.len, 8);
            CPT_ASSERT(!memcmp(m.data, "nng:ping", 8));
            cpw_sock_msg_free(&m);
            cpw_sock_destroy(req);
        }
        atomic_store(&r.stop, 1);
        pthread_join(th, NULL);
        nng_close(r.rep);
    }
}
