/* cpt_sub.c — see cpt_sub.h. */
#include "cpt_sub.h"

#include "cpw_srv.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cpt_sub_open_rcvbuf(cpt_sub *s, const char *url, int rcvbuf)
{
    memset(s, 0, sizeof *s);
    const cpw_sock_conf conf = {.rcvbuf = rcvbuf};
    s->sock = cpw_sock_new(CPW_SOCK_SUB, &conf, NULL, 0);
    if (!s->sock)
        return -1;
    if (cpw_sock_dial(s->sock, url, NULL, 0) != CPW_SOCK_OK) {
        cpt_sub_close(s);
        return -1;
    }
    return 0;
}

int cpt_sub_open(cpt_sub *s, const char *url)
{
    return cpt_sub_open_rcvbuf(s, url, 8 * 1024 * 1024);
}

static int on_msg(void *opaque, cpw_msg *m)
{
    cpt_sub *s = opaque;
    if (s->last_seq && m->seq != s->last_seq + 1) {
        if (m->seq > s->last_seq + 1) {
            s->gaps++;
            s->missed += m->seq - s->last_seq - 1;
        }
    }
    if (!s->first_seq)
        s->first_seq = m->seq;
    s->last_seq = m->seq;
    s->messages++;
    if (m->kind == CPW_K_EVENT)
        s->events++;
    return s->cb ? s->cb(s->opaque, m) : 0;
}

int cpt_sub_poll(cpt_sub *s, int timeout_ms)
{
    cpw_sock_msg msg;
    if (cpw_sock_recv(s->sock, &msg, timeout_ms) != CPW_SOCK_OK)
        return 0;
    s->frames++;
    size_t count = 0;
    cpw_error err;
    cpw_err e = cpw_decode_frame(msg.data, msg.len, on_msg, s, &count, &err);
    cpw_sock_msg_free(&msg);
    if (e) {
        s->errors++;
        return -1;
    }
    return (int)count;
}

void cpt_sub_close(cpt_sub *s)
{
    cpw_sock_destroy(s->sock);
    s->sock = NULL;
}

int cpt_request_raw(const char *url, const void *data, size_t len, char **out, int timeout_ms)
{
    /* replies as large as anything on the wire, whatever the agent sends */
    const cpw_sock_conf conf = {.recv_max = 2 * CPW_MAX_FRAME};
    cpw_sock *sock = cpw_sock_new(CPW_SOCK_REQ, &conf, NULL, 0);
    if (!sock)
        return -1;
    int rc = -1;
    cpw_sock_msg msg;
    if (cpw_sock_dial(sock, url, NULL, 0) == CPW_SOCK_OK &&
        cpw_sock_send(sock, data, len, timeout_ms) == CPW_SOCK_OK &&
        cpw_sock_recv(sock, &msg, timeout_ms) == CPW_SOCK_OK) {
        *out = malloc(msg.len + 1);
        if (*out) {
            memcpy(*out, msg.data, msg.len);
            (*out)[msg.len] = '\0';
            rc = (int)msg.len;
        }
        cpw_sock_msg_free(&msg);
    }
    cpw_sock_destroy(sock);
    return rc;
}

int cpt_command(const char *url, const cpw_command *cmd, const unsigned char *secret,
                size_t secret_len, cpw_msg *reply, int timeout_ms)
{
    return cpt_command_as(url, "", cmd, secret, secret_len, reply, timeout_ms);
}

int cpt_command_as(const char *url, const char *job, const cpw_command *cmd,
                   const unsigned char *secret, size_t secret_len, cpw_msg *reply,
                   int timeout_ms)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = job, .seq = cmd->req, .ts_us = cpw_now_us()};
    cpw_encode_command(&b, &env, cmd, secret, secret_len);
    char *out = NULL;
    int n = cpt_request_raw(url, b.data, b.len, &out, timeout_ms);
    cpw_buf_free(&b);
    if (n < 0)
        return -1;
    cpw_error err;
    cpw_err e = cpw_decode_one(out, (size_t)n, reply, &err);
    free(out);
    return e == CPW_OK && reply->kind == CPW_K_REPLY ? 0 : -1;
}

struct cpt_echo {
    cpw_srv *srv;
    atomic_int stop;
    atomic_ulong requests;
    pthread_t th;
};

static void *echo_main(void *arg)
{
    cpt_echo *e = arg;
    while (!atomic_load(&e->stop)) {
        struct pollfd pfd[64];
        int n = cpw_srv_pollfds(e->srv, pfd, 64);
        poll(pfd, (nfds_t)n, 10);
        cpw_srv_service(e->srv, pfd, n, cpw_mono_us() / 1000);
        cpw_srv_req r;
        while (cpw_srv_next_request(e->srv, &r)) {
            char out[256];
            int w = snprintf(out, sizeof out, "echo:%.*s", (int)(r.len < 200 ? r.len : 200),
                             r.data);
            atomic_fetch_add(&e->requests, 1);
            cpw_srv_reply(e->srv, &r, out, (size_t)w);
        }
    }
    return NULL;
}

cpt_echo *cpt_echo_start(const char *url, char *err, size_t errsz)
{
    cpt_echo *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    e->srv = cpw_srv_new(CPW_SRV_REP, url, NULL, err, errsz);
    if (!e->srv || pthread_create(&e->th, NULL, echo_main, e) != 0) {
        if (e->srv)
            snprintf(err, errsz, "cannot start a thread");
        cpw_srv_destroy(e->srv);
        free(e);
        return NULL;
    }
    return e;
}

unsigned long cpt_echo_requests(cpt_echo *e)
{
    return atomic_load(&e->requests);
}

void cpt_echo_stop(cpt_echo *e)
{
    if (!e)
        return;
    atomic_store(&e->stop, 1);
    pthread_join(e->th, NULL);
    cpw_srv_destroy(e->srv);
    free(e);
}
