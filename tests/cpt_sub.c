/* cpt_sub.c — see cpt_sub.h. */
#include "cpt_sub.h"

#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>
#include <stdlib.h>
#include <string.h>

int cpt_sub_open(cpt_sub *s, const char *url)
{
    memset(s, 0, sizeof *s);
    s->sock = nn_socket(AF_SP, NN_SUB);
    if (s->sock < 0)
        return -1;
    nn_setsockopt(s->sock, NN_SUB, NN_SUB_SUBSCRIBE, "", 0);
    int rcvbuf = 8 * 1024 * 1024;
    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int maxsz = -1;
    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof maxsz);
    if (nn_connect(s->sock, url) < 0) {
        nn_close(s->sock);
        return -1;
    }
    return 0;
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
    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    char *buf = NULL;
    int n = nn_recv(s->sock, &buf, NN_MSG, 0);
    if (n < 0)
        return 0;
    s->frames++;
    size_t count = 0;
    cpw_error err;
    cpw_err e = cpw_decode_frame(buf, (size_t)n, on_msg, s, &count, &err);
    nn_freemsg(buf);
    if (e) {
        s->errors++;
        return -1;
    }
    return (int)count;
}

void cpt_sub_close(cpt_sub *s)
{
    if (s->sock >= 0)
        nn_close(s->sock);
    s->sock = -1;
}

int cpt_request_raw(const char *url, const void *data, size_t len, char **out, int timeout_ms)
{
    int sock = nn_socket(AF_SP, NN_REQ);
    if (sock < 0)
        return -1;
    nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    int maxsz = -1;
    nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof maxsz);
    int rc = -1;
    if (nn_connect(sock, url) >= 0 && nn_send(sock, data, len, 0) >= 0) {
        char *buf = NULL;
        int n = nn_recv(sock, &buf, NN_MSG, 0);
        if (n >= 0) {
            *out = malloc((size_t)n + 1);
            memcpy(*out, buf, (size_t)n);
            (*out)[n] = '\0';
            nn_freemsg(buf);
            rc = n;
        }
    }
    nn_close(sock);
    return rc;
}

int cpt_command(const char *url, const cpw_command *cmd, const unsigned char *secret,
                size_t secret_len, cpw_msg *reply, int timeout_ms)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = "", .seq = cmd->req, .ts_us = cpw_now_us()};
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
