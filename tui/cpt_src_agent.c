/*
 * cpt_src_agent.c — the source of a job that embeds libcpagent: its event
 * subscription (pushed), get_state when the model asks, one command at a
 * time, all over cpt_link; and the blocking request the script modes use.
 * Every command the agent knows is offered; failure injection as far as
 * the job announced a table (the agent checks what it is sent itself).
 */
#include "cpt_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct agent_src {
    cpt_target t;
    cpt_link link;
    bool linked;
    int timeout_ms;           /* a get_state request in the loop */
    cpt_source *s;            /* back: taps and emits go through it */
} agent_src;

static void agent_destroy(void *impl)
{
    agent_src *a = impl;
    if (a && a->linked)
        cpt_link_close(&a->link);
    free(a);
}

static void agent_describe(const void *impl, char *out, size_t size)
{
    const agent_src *a = impl;
    char ev[sizeof a->t.events];
    cpw_sanitize(a->t.events, ev, sizeof ev);
    snprintf(out, size, "agent %s", ev);
}

static unsigned agent_caps(const void *impl, const cpt_model *m)
{
    (void)impl;
    unsigned c = CPT_CAP_TRIGGER | CPT_CAP_ABORT | CPT_CAP_CONFIG | CPT_CAP_PUSH;
    if (!m || m->st->hello.has_failures)
        c |= CPT_CAP_FAIL;
    return c;
}

static void on_reply_bytes(void *ud, const void *bytes, size_t len)
{
    agent_src *a = ud;
    cpt_source_tap(a->s, CPT_TAP_AGENT_REPLY, a->t.commands, bytes, len, cpw_now_us());
}

static int agent_start(cpt_source *s, cpt_model *m, int64_t now_us, char *err, size_t errsz)
{
    agent_src *a = cpt_source_impl(s);
    if (!a->linked) {
        if (cpt_link_open(&a->link, &a->t, err, errsz))
            return -1;
        a->linked = true;
        a->link.reply_tap = on_reply_bytes;
        a->link.reply_tap_ud = a;
    }
    if (m)
        cpt_model_connecting(m, a->t.events, now_us);
    return 0;
}

static int agent_pollfds(const void *impl, struct pollfd *pfd, int max, int64_t *next_us)
{
    const agent_src *a = impl;
    if (!a->linked)
        return 0;
    /* pushed: the only timer is a socket's reconnection */
    int w = cpt_link_wait_ms(&a->link);
    int64_t due = cpw_now_us() + (int64_t)w * 1000;
    if (w >= 0 && next_us && due < *next_us)
        *next_us = due;
    return cpt_link_pollfds(&a->link, pfd, max);
}

typedef struct feed {
    cpt_source *s;
    cpt_model *m;
    int64_t now;
    bool stopped;   /* the observer is going away: the rest is only tapped */
} feed;

static int on_msg(void *opaque, cpw_msg *msg)
{
    feed *f = opaque;
    cpt_source_tap(f->s, CPT_TAP_AGENT_MSG, NULL, msg, sizeof *msg, f->now);
    if (f->stopped)
        return 0;
    if (msg->kind == CPW_K_HELLO) {
        agent_src *a = cpt_source_impl(f->s);
        cpt_link_learn(&a->link, msg->job, msg->hello->instance);
    }
    f->stopped = cpt_source_emit(f->s, f->m, msg, f->now) != 0;
    return 0;
}

/* Every frame waiting on the events socket (bounded per call, so that keys
 * stay responsive under a flood): tapped raw, then decoded, each message
 * tapped (a recorder packs them) before the model folds it. */
static void read_events(cpt_source *s, agent_src *a, cpt_model *m, int64_t now_us)
{
    for (int frames = 0; a->link.sub && frames < 4096; frames++) {
        cpw_sock_msg msg;
        if (cpw_sock_recv(a->link.sub, &msg, 0) != CPW_SOCK_OK)
            break;
        cpt_source_tap(s, CPT_TAP_AGENT_FRAME, a->t.events, msg.data, msg.len, now_us);
        feed f = {s, m, now_us, false};
        cpw_error err;
        size_t count = 0;
        if (cpw_decode_frame(msg.data, msg.len, on_msg, &f, &count, &err) != CPW_OK)
            cpt_source_bad(s, m, err.text, now_us);
        cpt_source_tap(s, CPT_TAP_AGENT_END, a->t.events, msg.data, msg.len, now_us);
        cpw_sock_msg_free(&msg);
    }
}

static void agent_on_ready(cpt_source *s, cpt_model *m, int64_t now_us)
{
    agent_src *a = cpt_source_impl(s);
    if (!a->linked)
        return;
    read_events(s, a, m, now_us);
    if (m)
        cpt_link_poll_state(&a->link, m, now_us, a->timeout_ms);
}

/* The model asks for the state at start, after a gap and after a restart. */
static void agent_tick(cpt_source *s, cpt_model *m, int64_t now_us)
{
    (void)now_us;
    agent_src *a = cpt_source_impl(s);
    if (a->linked && m && m->want_state && !m->state_pending && !a->link.req_state &&
        cpt_link_send_state(&a->link) == 0)
        cpt_model_state_sent(m);
}

static int agent_send_cmd(cpt_source *s, const cpw_cmd *c, char *err, size_t errsz)
{
    agent_src *a = cpt_source_impl(s);
    if (!a->linked) {
        snprintf(err, errsz, "not connected to a job");
        return -1;
    }
    return cpt_link_send_cmd(&a->link, c, err, errsz);
}

static bool agent_cmd_pending(const void *impl)
{
    const agent_src *a = impl;
    return a->linked && cpt_link_cmd_pending(&a->link);
}

static const char *agent_cmd_name(const void *impl)
{
    const agent_src *a = impl;
    return a->link.cmd_name;
}

static int agent_poll_cmd(cpt_source *s, int64_t now_us, int timeout_ms, bool *ok, char *text,
                          size_t size)
{
    agent_src *a = cpt_source_impl(s);
    return a->linked ? cpt_link_poll_cmd(&a->link, now_us, timeout_ms, ok, text, size) : 0;
}

/* One request and its reply on a connection of its own, blocking up to
 * timeout_ms for each step: 0 with *reply filled (cpw_msg_clear it), or -1
 * with why in err. */
static int exchange(agent_src *a, const cpt_target *t, const cpw_command *cmd, bool sign,
                    int timeout_ms, cpw_msg *reply, char *err, size_t errsz)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = t->job, .seq = cmd->req, .ts_us = cpw_now_us()};
    cpw_encode_command(&b, &env, cmd, sign ? t->secret : NULL, t->secret_len);
    char serr[400];
    cpw_sock *s = cpw_sock_new(CPW_SOCK_REQ, NULL, serr, sizeof serr);
    int rc = -1;
    cpw_sock_err se;
    cpw_sock_msg msg;
    if (!s || cpw_sock_dial(s, t->commands, serr, sizeof serr) != CPW_SOCK_OK) {
        snprintf(err, errsz, "%s", serr);
    } else if ((se = cpw_sock_send(s, b.data, b.len, timeout_ms)) != CPW_SOCK_OK) {
        snprintf(err, errsz, "cannot send to %s: %s", t->commands,
                 se == CPW_SOCK_TIMEOUT ? "no connection (is the job running?)"
                                        : cpw_sock_strerror(se));
    } else if ((se = cpw_sock_recv(s, &msg, timeout_ms)) != CPW_SOCK_OK) {
        if (se == CPW_SOCK_CLOSED)
            snprintf(err, errsz, "%s closed the connection before replying", t->commands);
        else
            snprintf(err, errsz, "no reply from %s within %d ms", t->commands, timeout_ms);
    } else {
        cpt_source_tap(a->s, CPT_TAP_AGENT_REPLY, t->commands, msg.data, msg.len, cpw_now_us());
        cpw_error derr = {0};
        if (cpw_decode_one(msg.data, msg.len, reply, &derr) != CPW_OK ||
            reply->kind != CPW_K_REPLY) {
            /* the decoder's text may quote the bad input: the caller sanitises */
            snprintf(err, errsz, "bad reply: %s", derr.text[0] ? derr.text : "not a reply");
            cpw_msg_clear(reply);
        } else {
            rc = 0;
        }
        cpw_sock_msg_free(&msg);
    }
    cpw_sock_destroy(s);
    cpw_buf_free(&b);
    return rc;
}

/* A signed command is bound to the job and to this run of its agent
 * (PROTOCOL.md §12). What the announcement did not say (--connect), the
 * agent's own state does: get_state needs no token. */
static int learn_identity(agent_src *a, cpt_target *t, int timeout_ms, char *err, size_t errsz)
{
    if (t->instance[0] && t->job[0])
        return 0;
    cpw_command gs = {.req = 1, .history = 0};
    gs.c.type = CPW_CMD_GET_STATE;
    gs.c.op = gs.c.subtask = -1;
    cpw_msg r;
    if (exchange(a, t, &gs, false, timeout_ms, &r, err, errsz))
        return -1;
    if (r.reply->ok && r.reply->state) {
        if (!t->job[0])
            snprintf(t->job, sizeof t->job, "%s", r.reply->state->job);
        snprintf(t->instance, sizeof t->instance, "%s", r.reply->state->hello.instance);
    }
    cpw_msg_clear(&r);
    return 0;
}

static int blocking_request(agent_src *a, const cpw_command *cmd, int timeout_ms, cpw_msg *reply,
                            char *err, size_t errsz)
{
    /* get_state is never signed (PROTOCOL.md §12): the secret stays home */
    if (!a->t.secret_len || cmd->c.type == CPW_CMD_GET_STATE)
        return exchange(a, &a->t, cmd, false, timeout_ms, reply, err, errsz);
    cpt_target id = a->t;
    if (learn_identity(a, &id, timeout_ms, err, errsz))
        return -1;
    cpw_command bound = *cmd;
    snprintf(bound.instance, sizeof bound.instance, "%s", id.instance);
    return exchange(a, &id, &bound, true, timeout_ms, reply, err, errsz);
}

static int agent_request(cpt_source *s, const cpw_cmd *c, int timeout_ms, cpt_src_reply *r,
                         char *err, size_t errsz)
{
    agent_src *a = cpt_source_impl(s);
    /* the request id: the agent only echoes it back */
    cpw_command cmd = {.req = (uint64_t)getpid(), .history = -1, .c = *c};
    cpw_msg m;
    if (blocking_request(a, &cmd, timeout_ms, &m, err, errsz))
        return -1;
    r->ok = m.reply->ok;
    snprintf(r->error, sizeof r->error, "%s", m.reply->error);
    snprintf(r->message, sizeof r->message, "%s", m.reply->message);
    cpw_msg_clear(&m);
    return 0;
}

static int agent_snapshot(cpt_source *s, int history, int timeout_ms, cpw_state **out, char *err,
                          size_t errsz)
{
    agent_src *a = cpt_source_impl(s);
    cpw_command cmd = {.req = 1, .history = history};
    cmd.c.type = CPW_CMD_GET_STATE;
    cmd.c.op = cmd.c.subtask = -1;
    cpw_msg r;
    if (blocking_request(a, &cmd, timeout_ms, &r, err, errsz))
        return -1;
    int rc = -1;
    if (r.reply->ok && r.reply->state) {
        *out = r.reply->state;
        r.reply->state = NULL; /* the caller's now */
        rc = 0;
    } else {
        snprintf(err, errsz, "get_state refused: %s", r.reply->message);
    }
    cpw_msg_clear(&r);
    return rc;
}

static const cpt_source_ops agent_ops = {
    .kind = "agent",
    .destroy = agent_destroy,
    .describe = agent_describe,
    .caps = agent_caps,
    .start = agent_start,
    .pollfds = agent_pollfds,
    .on_ready = agent_on_ready,
    .tick = agent_tick,
    .send_cmd = agent_send_cmd,
    .cmd_pending = agent_cmd_pending,
    .cmd_name = agent_cmd_name,
    .poll_cmd = agent_poll_cmd,
    .request = agent_request,
    .snapshot = agent_snapshot,
};

cpt_source *cpt_src_agent_new(const cpt_target *t, int timeout_ms, char *err, size_t errsz)
{
    agent_src *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    a->t = *t;
    a->timeout_ms = timeout_ms;
    cpt_source *s = cpt_source_new(&agent_ops, a);
    if (!s) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    a->s = s;
    return s;
}
