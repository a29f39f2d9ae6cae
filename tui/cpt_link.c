/* cpt_link.c — see cpt_link.h. */
#include "cpt_link.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int getfd(int s, int opt)
{
    int fd = -1;
    size_t sz = sizeof fd;
    if (nn_getsockopt(s, NN_SOL_SOCKET, opt, &fd, &sz) < 0)
        return -1;
    return fd;
}

int cpt_link_open(cpt_link *l, const cpt_target *t, char *err, size_t errsz)
{
    memset(l, 0, sizeof *l);
    l->t = *t;
    l->sub = l->req_state = l->req_cmd = -1;
    l->sub_fd = l->state_fd = l->cmd_fd = -1;
    l->next_req = 1;
    int s = nn_socket(AF_SP, NN_SUB);
    if (s < 0) {
        snprintf(err, errsz, "nanomsg: %s", nn_strerror(nn_errno()));
        return -1;
    }
    nn_setsockopt(s, NN_SUB, NN_SUB_SUBSCRIBE, "", 0);
    /* a big receive buffer: a burst of events is kept, not dropped */
    int big = 16 * 1024 * 1024, ivl = 200, ivl_max = 1000;
    nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVBUF, &big, sizeof big);
    nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &big, sizeof big);
    nn_setsockopt(s, NN_SOL_SOCKET, NN_RECONNECT_IVL, &ivl, sizeof ivl);
    nn_setsockopt(s, NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    if (nn_connect(s, t->events) < 0) {
        snprintf(err, errsz, "cannot connect to %s: %s", t->events, nn_strerror(nn_errno()));
        nn_close(s);
        return -1;
    }
    l->sub = s;
    l->sub_fd = getfd(s, NN_RCVFD);
    return 0;
}

static void close_req(int *s, int *fd)
{
    if (*s >= 0)
        nn_close(*s);
    *s = -1;
    *fd = -1;
}

void cpt_link_close(cpt_link *l)
{
    if (l->sub >= 0)
        nn_close(l->sub);
    l->sub = -1;
    l->sub_fd = -1;
    close_req(&l->req_state, &l->state_fd);
    close_req(&l->req_cmd, &l->cmd_fd);
}

int cpt_link_pollfds(const cpt_link *l, struct pollfd *pfd, int max)
{
    int n = 0;
    int fds[3] = {l->sub_fd, l->state_fd, l->cmd_fd};
    for (int i = 0; i < 3 && n < max; i++)
        if (fds[i] >= 0)
            pfd[n++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    return n;
}

typedef struct feed {
    cpt_model *m;
    int64_t now;
} feed;

static int on_msg(void *opaque, cpw_msg *msg)
{
    feed *f = opaque;
    cpt_model_on_msg(f->m, msg, f->now);
    return 0;
}

int cpt_link_read_events(cpt_link *l, cpt_model *m, int64_t now_us)
{
    int frames = 0;
    if (l->sub < 0)
        return 0;
    /* bounded per call so that keys stay responsive under a flood */
    while (frames < 4096) {
        char *buf = NULL;
        int n = nn_recv(l->sub, &buf, NN_MSG, NN_DONTWAIT);
        if (n < 0)
            break;
        frames++;
        feed f = {m, now_us};
        cpw_error err;
        size_t count = 0;
        if (cpw_decode_frame(buf, (size_t)n, on_msg, &f, &count, &err) != CPW_OK)
            cpt_model_on_bad_frame(m, err.text, now_us);
        nn_freemsg(buf);
    }
    return frames;
}

static int send_req(cpt_link *l, const cpw_command *cmd, int *sock, int *fd, char *err, size_t errsz)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = l->t.job, .seq = cmd->req, .ts_us = cpw_now_us()};
    cpw_encode_command(&b, &env, cmd, l->t.secret_len ? l->t.secret : NULL, l->t.secret_len);
    int s = nn_socket(AF_SP, NN_REQ);
    int rc = -1;
    if (s < 0 || b.failed) {
        snprintf(err, errsz, "cannot build the request");
    } else {
        int big = 64 * 1024 * 1024, zero = 0;
        nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &big, sizeof big);
        nn_setsockopt(s, NN_SOL_SOCKET, NN_LINGER, &zero, sizeof zero);
        if (nn_connect(s, l->t.commands) < 0)
            snprintf(err, errsz, "cannot connect to %s: %s", l->t.commands, nn_strerror(nn_errno()));
        else if (nn_send(s, b.data, b.len, NN_DONTWAIT) < 0 && nn_errno() != EAGAIN)
            snprintf(err, errsz, "cannot send to %s: %s", l->t.commands, nn_strerror(nn_errno()));
        else
            rc = 0;
        /* EAGAIN: not connected yet; the REQ socket sends once it is, and
         * the reply timeout covers a job that never answers */
        if (rc == 0 && nn_errno() == EAGAIN) {
            int to = 1000;
            nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &to, sizeof to);
        }
    }
    cpw_buf_free(&b);
    if (rc) {
        if (s >= 0)
            nn_close(s);
        return -1;
    }
    *sock = s;
    *fd = getfd(s, NN_RCVFD);
    return 0;
}

int cpt_link_send_state(cpt_link *l)
{
    close_req(&l->req_state, &l->state_fd);
    cpw_command cmd = {.req = l->next_req++, .history = -1};
    cmd.c.type = CPW_CMD_GET_STATE;
    cmd.c.op = cmd.c.subtask = -1;
    char err[200];
    if (send_req(l, &cmd, &l->req_state, &l->state_fd, err, sizeof err))
        return -1;
    l->state_sent_us = cpw_now_us();
    return 0;
}

/* Receives a reply on s if one is there: 1 decoded (into *r), -1 bad, 0 none. */
static int recv_reply(int s, cpw_msg *r, char *err, size_t errsz)
{
    char *buf = NULL;
    int n = nn_recv(s, &buf, NN_MSG, NN_DONTWAIT);
    if (n < 0)
        return 0;
    cpw_error e;
    cpw_err rc = cpw_decode_one(buf, (size_t)n, r, &e);
    nn_freemsg(buf);
    if (rc != CPW_OK || r->kind != CPW_K_REPLY) {
        snprintf(err, errsz, "bad reply: %s", rc ? e.text : "not a reply");
        cpw_msg_clear(r);
        return -1;
    }
    return 1;
}

int cpt_link_poll_state(cpt_link *l, cpt_model *m, int64_t now_us, int timeout_ms)
{
    if (l->req_state < 0)
        return 0;
    cpw_msg r;
    char err[200];
    int got = recv_reply(l->req_state, &r, err, sizeof err);
    if (got == 0) {
        if (now_us - l->state_sent_us < (int64_t)timeout_ms * 1000)
            return 0;
        close_req(&l->req_state, &l->state_fd);
        cpt_model_state_failed(m, "no reply in time", now_us);
        return 1;
    }
    close_req(&l->req_state, &l->state_fd);
    if (got < 0) {
        cpt_model_state_failed(m, err, now_us);
    } else if (!r.reply->ok || !r.reply->state) {
        char msg[CPW_TEXT_MAX];
        cpw_sanitize(r.reply->message, msg, sizeof msg);
        cpt_model_state_failed(m, msg[0] ? msg : r.reply->error, now_us);
    } else {
        cpw_state *st = r.reply->state;
        r.reply->state = NULL; /* the model takes it */
        cpt_model_on_state(m, st, now_us);
    }
    cpw_msg_clear(&r);
    return 1;
}

int cpt_link_send_cmd(cpt_link *l, const cpw_cmd *c, char *err, size_t errsz)
{
    if (l->req_cmd >= 0) {
        snprintf(err, errsz, "still waiting for the reply to %s", l->cmd_name);
        return -1;
    }
    cpw_command cmd = {.req = l->next_req++, .history = -1, .c = *c};
    if (send_req(l, &cmd, &l->req_cmd, &l->cmd_fd, err, errsz))
        return -1;
    const char *name = cpw_command_name(c->type);
    if (c->type == CPW_CMD_INJECT_FAILURE)
        snprintf(l->cmd_name, sizeof l->cmd_name, "fail %s", c->kind);
    else if (c->type == CPW_CMD_ABORT)
        snprintf(l->cmd_name, sizeof l->cmd_name, "abort %lld", (long long)c->cp_id);
    else
        snprintf(l->cmd_name, sizeof l->cmd_name, "%s", name ? name : "command");
    l->cmd_sent_us = cpw_now_us();
    return 0;
}

bool cpt_link_cmd_pending(const cpt_link *l) { return l->req_cmd >= 0; }

int cpt_link_poll_cmd(cpt_link *l, int64_t now_us, int timeout_ms, bool *ok, char *text, size_t size)
{
    if (l->req_cmd < 0)
        return 0;
    cpw_msg r;
    char err[200];
    int got = recv_reply(l->req_cmd, &r, err, sizeof err);
    if (got == 0) {
        if (now_us - l->cmd_sent_us < (int64_t)timeout_ms * 1000)
            return 0;
        close_req(&l->req_cmd, &l->cmd_fd);
        *ok = false;
        snprintf(text, size, "%s: no reply from the job within %d ms", l->cmd_name, timeout_ms);
        return 1;
    }
    close_req(&l->req_cmd, &l->cmd_fd);
    if (got < 0) {
        *ok = false;
        snprintf(text, size, "%s: %s", l->cmd_name, err);
        return 1;
    }
    char msg[CPW_TEXT_MAX];
    cpw_sanitize(r.reply->message, msg, sizeof msg);
    *ok = r.reply->ok;
    if (r.reply->ok)
        snprintf(text, size, "%s: ok%s%s", l->cmd_name, msg[0] ? ", " : "", msg);
    else
        snprintf(text, size, "%s refused (%s)%s%s", l->cmd_name, r.reply->error, msg[0] ? ": " : "",
                 msg);
    cpw_msg_clear(&r);
    return 1;
}
