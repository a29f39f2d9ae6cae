/* cpt_link.c — see cpt_link.h. */
#include "cpt_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cpt_link_open(cpt_link *l, const cpt_target *t, char *err, size_t errsz)
{
    memset(l, 0, sizeof *l);
    l->t = *t;
    l->next_req = 1;
    /* a deep receive buffer: a burst of events is kept, not dropped */
    const cpw_sock_conf conf = {.rcvbuf = 4 * 1024 * 1024, .reconnect_ms = 200,
                                .reconnect_max_ms = 1000};
    cpw_sock *s = cpw_sock_new(CPW_SOCK_SUB, &conf, err, errsz);
    if (!s)
        return -1;
    if (cpw_sock_dial(s, t->events, err, errsz) != CPW_SOCK_OK) {
        cpw_sock_destroy(s);
        return -1;
    }
    l->sub = s;
    return 0;
}

static void close_req(cpw_sock **s)
{
    cpw_sock_destroy(*s);
    *s = NULL;
}

void cpt_link_close(cpt_link *l)
{
    cpw_sock_destroy(l->sub);
    l->sub = NULL;
    close_req(&l->req_state);
    close_req(&l->req_cmd);
}

int cpt_link_pollfds(const cpt_link *l, struct pollfd *pfd, int max)
{
    int n = 0;
    const cpw_sock *socks[3] = {l->sub, l->req_state, l->req_cmd};
    for (int i = 0; i < 3 && n < max; i++)
        if (socks[i] && cpw_sock_pollfd(socks[i], &pfd[n]))
            n++;
    return n;
}

int cpt_link_wait_ms(const cpt_link *l)
{
    int w = -1;
    const cpw_sock *socks[3] = {l->sub, l->req_state, l->req_cmd};
    for (int i = 0; i < 3; i++) {
        int t = socks[i] ? cpw_sock_wait_ms(socks[i]) : -1;
        if (t >= 0 && (w < 0 || t < w))
            w = t;
    }
    return w;
}

void cpt_link_learn(cpt_link *l, const char *job, const char *instance)
{
    if (job[0])
        snprintf(l->t.job, sizeof l->t.job, "%s", job);
    if (instance[0])
        snprintf(l->t.instance, sizeof l->t.instance, "%s", instance);
}

static int send_req(cpt_link *l, const cpw_command *cmd, cpw_sock **sock, char *err,
                    size_t errsz)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = l->t.job, .seq = cmd->req, .ts_us = cpw_now_us()};
    cpw_command bound = *cmd;
    snprintf(bound.instance, sizeof bound.instance, "%s", l->t.instance);
    /* get_state needs no token (PROTOCOL.md §12); it is how a dashboard
     * learns the job and the run its signed commands are bound to */
    bool sign = l->t.secret_len && cmd->c.type != CPW_CMD_GET_STATE;
    cpw_encode_command(&b, &env, &bound, sign ? l->t.secret : NULL, l->t.secret_len);
    cpw_sock *s = b.failed ? NULL : cpw_sock_new(CPW_SOCK_REQ, NULL, err, errsz);
    int rc = -1;
    if (b.failed)
        snprintf(err, errsz, "cannot build the request");
    /* posted, not sent: the socket is still connecting; the caller's reply
     * timeout covers a job that never answers */
    else if (s && cpw_sock_dial(s, l->t.commands, err, errsz) == CPW_SOCK_OK &&
             cpw_sock_post(s, b.data, b.len) == CPW_SOCK_OK)
        rc = 0;
    else if (s)
        snprintf(err, errsz, "cannot send to %s", l->t.commands);
    cpw_buf_free(&b);
    if (rc) {
        cpw_sock_destroy(s);
        return -1;
    }
    *sock = s;
    return 0;
}

int cpt_link_send_state(cpt_link *l)
{
    close_req(&l->req_state);
    cpw_command cmd = {.req = l->next_req++, .history = -1};
    cmd.c.type = CPW_CMD_GET_STATE;
    cmd.c.op = cmd.c.subtask = -1;
    char err[200];
    if (send_req(l, &cmd, &l->req_state, err, sizeof err))
        return -1;
    l->state_sent_us = cpw_now_us();
    return 0;
}

/* Receives a reply on s if one is there: 1 decoded (into *r), -1 bad, 0 none. */
static int recv_reply(const cpt_link *l, cpw_sock *s, cpw_msg *r, char *err, size_t errsz)
{
    cpw_sock_msg msg;
    if (cpw_sock_recv(s, &msg, 0) != CPW_SOCK_OK)
        return 0;
    if (l->reply_tap)
        l->reply_tap(l->reply_tap_ud, msg.data, msg.len);
    cpw_error e;
    cpw_err rc = cpw_decode_one(msg.data, msg.len, r, &e);
    cpw_sock_msg_free(&msg);
    if (rc != CPW_OK || r->kind != CPW_K_REPLY) {
        snprintf(err, errsz, "bad reply: %s", rc ? e.text : "not a reply");
        cpw_msg_clear(r);
        return -1;
    }
    return 1;
}

int cpt_link_poll_state(cpt_link *l, cpt_model *m, int64_t now_us, int timeout_ms)
{
    if (!l->req_state)
        return 0;
    cpw_msg r;
    char err[200];
    int got = recv_reply(l, l->req_state, &r, err, sizeof err);
    if (got == 0) {
        if (now_us - l->state_sent_us < (int64_t)timeout_ms * 1000)
            return 0;
        close_req(&l->req_state);
        cpt_model_state_failed(m, "no reply in time", now_us);
        return 1;
    }
    close_req(&l->req_state);
    if (got < 0) {
        cpt_model_state_failed(m, err, now_us);
    } else if (!r.reply->ok || !r.reply->state) {
        char msg[CPW_TEXT_MAX];
        cpw_sanitize(r.reply->message, msg, sizeof msg);
        cpt_model_state_failed(m, msg[0] ? msg : r.reply->error, now_us);
    } else {
        cpw_state *st = r.reply->state;
        r.reply->state = NULL; /* the model takes it */
        cpt_link_learn(l, st->job, st->hello.instance);
        cpt_model_on_state(m, st, now_us);
    }
    cpw_msg_clear(&r);
    return 1;
}

int cpt_link_send_cmd(cpt_link *l, const cpw_cmd *c, char *err, size_t errsz)
{
    if (l->req_cmd) {
        snprintf(err, errsz, "still waiting for the reply to %s", l->cmd_name);
        return -1;
    }
    cpw_command cmd = {.req = l->next_req++, .history = -1, .c = *c};
    if (send_req(l, &cmd, &l->req_cmd, err, errsz))
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

bool cpt_link_cmd_pending(const cpt_link *l) { return l->req_cmd != NULL; }

int cpt_link_poll_cmd(cpt_link *l, int64_t now_us, int timeout_ms, bool *ok, char *text, size_t size)
{
    if (!l->req_cmd)
        return 0;
    cpw_msg r;
    char err[200];
    int got = recv_reply(l, l->req_cmd, &r, err, sizeof err);
    if (got == 0) {
        if (now_us - l->cmd_sent_us < (int64_t)timeout_ms * 1000)
            return 0;
        close_req(&l->req_cmd);
        *ok = false;
        snprintf(text, size, "%s: no reply from the job within %d ms", l->cmd_name, timeout_ms);
        return 1;
    }
    close_req(&l->req_cmd);
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
