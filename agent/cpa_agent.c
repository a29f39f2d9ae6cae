/* cpa_agent.c — the agent: lifecycle, the agent thread (batch, publish,
 * heartbeat, serve commands) and the emit path. Configuration is in
 * cpa_conf.c, the conversion to the wire in cpa_wire.c, the failure table in
 * cpa_failures.c, errors and logging in cpa_err.c. Who owns what (one thread owns the state, so answers need
 * no lock): ARCHITECTURE.md, "The agent". */
#include "cpa_internal.h"
#include "cpa_rest.h"
#include "cpw_discovery.h"
#include "cpw_json.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CMD_MAX_BYTES (64 * 1024)   /* larger commands get an error reply */
#define PUB_QUEUE 1024              /* batches a subscriber may lag (≤ 256 events each) */

/* ------------------------------------------------------------------ new */

cpa_agent *cpa_new(cpa_conf *conf, char *errbuf, size_t errbuf_size)
{
    if (!conf) {
        cpa_seterr(errbuf, errbuf_size, "cpa_new: NULL configuration");
        return NULL;
    }
    cpa_agent *a = calloc(1, sizeof *a);
    if (!a) {
        free(conf);
        cpa_seterr(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    a->conf = *conf;
    free(conf);
    if (!a->conf.job_id[0] && !cpw_random_hex(a->conf.job_id, 16)) {
        cpa_seterr(errbuf, errbuf_size, "no randomness for a job id");
        free(a);
        return NULL;
    }
    if (!a->conf.runtime_dir[0] &&
        !cpw_runtime_dir(a->conf.runtime_dir, sizeof a->conf.runtime_dir)) {
        cpa_seterr(errbuf, errbuf_size, "$XDG_RUNTIME_DIR is too long for a runtime directory "
                                    "(over %zu bytes); set runtime.dir",
               sizeof a->conf.runtime_dir - 8);
        free(a);
        return NULL;
    }
    if (!a->conf.secret_file[0])
        snprintf(a->conf.secret_file, sizeof a->conf.secret_file, "%s/secret",
                 a->conf.runtime_dir);
    pthread_mutex_init(&a->lock, NULL);
    a->metrics = calloc(CPA_MAX_SUBTASKS, sizeof *a->metrics);
    a->state = cpw_state_new(a->conf.history_size, a->conf.detail_size);
    a->replay = calloc(1, sizeof *a->replay);
    a->pending_hello = calloc(1, sizeof *a->pending_hello);
    if (!a->metrics || !a->state || !a->replay || !a->pending_hello ||
        !cpa_queue_init(&a->q, a->conf.queue_size)) {
        cpa_seterr(errbuf, errbuf_size, "out of memory");
        cpa_destroy(a);
        return NULL;
    }
    snprintf(a->state->job, sizeof a->state->job, "%s", a->conf.job_id);
    cpw_hello *h = a->pending_hello;
    snprintf(h->name, sizeof h->name, "%s", a->conf.job_name);
    snprintf(h->agent_version, sizeof h->agent_version, "%s", CPA_VERSION_STR);
    h->pid = (int)getpid();
    h->start_ts_us = cpw_now_us();
    cpw_state_set_hello(a->state, h);
    cpw_buf_init(&a->batch);
    cpw_buf_init(&a->out);
    return a;
}

/* ------------------------------------------------------------------ topology */

cpa_err cpa_set_topology(cpa_agent *a, const cpa_operator *ops, int n_ops,
                         const cpa_edge *edges, int n_edges)
{
    if (!a || n_ops < 0 || n_ops > CPA_MAX_OPERATORS || n_edges < 0 ||
        n_edges > CPA_MAX_EDGES || (n_ops && !ops) || (n_edges && !edges))
        return CPA_ERR_INVALID_ARG;
    int total = 0;
    for (int i = 0; i < n_ops; i++) {
        if (!ops[i].name || strlen(ops[i].name) >= CPA_NAME_MAX || ops[i].parallelism < 1 ||
            ops[i].parallelism > CPA_MAX_PARALLELISM)
            return CPA_ERR_INVALID_ARG;
        total += ops[i].parallelism;
    }
    if (total > CPA_MAX_SUBTASKS)
        return CPA_ERR_LIMIT;
    for (int i = 0; i < n_edges; i++)
        if (edges[i].from < 0 || edges[i].from >= n_ops || edges[i].to < 0 ||
            edges[i].to >= n_ops)
            return CPA_ERR_INVALID_ARG;
    pthread_mutex_lock(&a->lock);
    cpw_hello *h = a->pending_hello;
    h->n_ops = n_ops;
    int base = 0;
    for (int i = 0; i < n_ops; i++) {
        snprintf(h->ops[i].name, sizeof h->ops[i].name, "%s", ops[i].name);
        h->ops[i].parallelism = ops[i].parallelism;
        atomic_store_explicit(&a->op_base[i], base, memory_order_relaxed);
        base += ops[i].parallelism;
    }
    atomic_store_explicit(&a->op_base[n_ops], base, memory_order_relaxed);
    atomic_store_explicit(&a->n_ops, n_ops, memory_order_release);
    h->n_edges = n_edges;
    for (int i = 0; i < n_edges; i++) {
        h->edges[i].from = edges[i].from;
        h->edges[i].to = edges[i].to;
        snprintf(h->edges[i].kind, sizeof h->edges[i].kind, "%s",
                 edges[i].kind ? edges[i].kind : "forward");
    }
    for (int i = 0; i < total; i++) {
        atomic_store_explicit(&a->metrics[i].set, 0, memory_order_relaxed);
    }
    pthread_mutex_unlock(&a->lock);
    atomic_store(&a->hello_dirty, 1);
    return CPA_OK;
}

cpa_err cpa_set_job_config(cpa_agent *a, const char *const *keys, const char *const *values,
                           int n)
{
    if (!a || n < 0 || (n && (!keys || !values)))
        return CPA_ERR_INVALID_ARG;
    if (n > CPA_MAX_CONFIG)
        return CPA_ERR_LIMIT;
    for (int i = 0; i < n; i++)
        if (!keys[i] || !values[i] || strlen(keys[i]) >= CPA_NAME_MAX ||
            strlen(values[i]) >= CPA_VALUE_MAX)
            return CPA_ERR_INVALID_ARG;
    pthread_mutex_lock(&a->lock);
    cpw_hello *h = a->pending_hello;
    h->n_config = n;
    for (int i = 0; i < n; i++) {
        snprintf(h->config_keys[i], CPA_NAME_MAX, "%s", keys[i]);
        snprintf(h->config_values[i], CPA_VALUE_MAX, "%s", values[i]);
    }
    pthread_mutex_unlock(&a->lock);
    atomic_store(&a->hello_dirty, 1);
    return CPA_OK;
}

/* ------------------------------------------------------------------ emit */

static bool valid_target(int32_t op, int32_t subtask, bool allow_none)
{
    if (allow_none && op == -1 && subtask == -1)
        return true;
    return op >= 0 && op < CPA_MAX_OPERATORS && subtask >= 0 && subtask < CPA_MAX_PARALLELISM;
}

/* The identifiers each type needs (PROTOCOL.md §6): an event the wire could
 * not carry is refused here, where the caller learns of it. */
static bool event_valid(const cpa_event *ev)
{
    switch (ev->type) {
    case CPA_EV_JOB_STATUS:
        return true;
    case CPA_EV_RESTORED:
        return ev->cp_id >= 0;
    case CPA_EV_CP_TRIGGERED:
    case CPA_EV_CP_COMPLETED:
    case CPA_EV_CP_FAILED:
    case CPA_EV_CP_COMMITTED:
        return ev->cp_id >= 1;
    case CPA_EV_FAILURE_INJECTED:
        return valid_target(ev->op, ev->subtask, true);
    case CPA_EV_TASK_FAILED:
        return valid_target(ev->op, ev->subtask, false);
    default: /* per-subtask checkpoint events */
        return ev->cp_id >= 1 && valid_target(ev->op, ev->subtask, false);
    }
}

cpa_err cpa_emit(cpa_agent *a, const cpa_event *ev)
{
    if (!a || !ev || ev->type <= CPA_EV_NONE || ev->type >= CPA_EV__COUNT || !event_valid(ev))
        return CPA_ERR_INVALID_ARG;
    if (atomic_load_explicit(&a->stopped, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&a->dropped, 1, memory_order_relaxed);
        return CPA_ERR_STATE;
    }
    /* a timestamp of 0 (or a negative one) is stamped here */
    if (!cpa_queue_push(&a->q, ev, ev->ts_us > 0 ? 0 : cpw_now_us())) {
        atomic_fetch_add_explicit(&a->dropped, 1, memory_order_relaxed);
        return CPA_ERR_QUEUE_FULL;
    }
    return CPA_OK;
}

cpa_err cpa_subtask_metrics(cpa_agent *a, int op, int subtask, int64_t records_in,
                            int64_t records_out, int queue_fill_permille, int backpressured)
{
    if (!a || op < 0 || op >= atomic_load_explicit(&a->n_ops, memory_order_acquire) ||
        subtask < 0)
        return CPA_ERR_INVALID_ARG;
    int base = atomic_load_explicit(&a->op_base[op], memory_order_relaxed);
    int next = atomic_load_explicit(&a->op_base[op + 1], memory_order_relaxed);
    if (subtask >= next - base || base + subtask >= CPA_MAX_SUBTASKS)
        return CPA_ERR_INVALID_ARG;
    cpa_metric *m = &a->metrics[base + subtask];
    if (queue_fill_permille < 0)
        queue_fill_permille = 0;
    if (queue_fill_permille > 1000)
        queue_fill_permille = 1000;
    atomic_store_explicit(&m->in, records_in < 0 ? 0 : records_in, memory_order_relaxed);
    atomic_store_explicit(&m->out, records_out < 0 ? 0 : records_out, memory_order_relaxed);
    atomic_store_explicit(&m->fill, queue_fill_permille, memory_order_relaxed);
    atomic_store_explicit(&m->bp, backpressured ? 1 : 0, memory_order_relaxed);
    atomic_store_explicit(&m->set, 1, memory_order_relaxed);
    return CPA_OK;
}

void cpa_get_stats(const cpa_agent *a, cpa_stats *out)
{
    if (!a || !out)
        return;
    cpa_agent *m = (cpa_agent *)a;
    memset(out, 0, sizeof *out);
    /* emitted is derived, so the emit path touches no shared counter */
    uint64_t refused = atomic_load(&m->dropped);
    out->sent = atomic_load(&m->sent);
    out->emitted = atomic_load(&m->q.enq) + refused;
    out->dropped = refused + atomic_load(&m->lost);
    out->send_errors = atomic_load(&m->send_errors);
    out->batches = atomic_load(&m->batches);
    out->commands_served = atomic_load(&m->served);
    out->commands_refused = atomic_load(&m->refused);
}

const char *cpa_job_id(const cpa_agent *a) { return a ? a->conf.job_id : NULL; }
const char *cpa_events_url(const cpa_agent *a) { return a ? a->events_url : NULL; }
const char *cpa_commands_url(const cpa_agent *a) { return a ? a->commands_url : NULL; }
int cpa_rest_port(const cpa_agent *a) { return a ? cpa_rest_bound_port(a->rest) : 0; }

/* ------------------------------------------------------------------ thread */

static void publish(cpa_agent *a, const char *data, size_t len, int n_events)
{
    cpw_sock_err e = cpw_sock_send(a->pub, data, len, 0);
    if (e) {
        atomic_fetch_add_explicit(&a->send_errors, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&a->lost, (uint64_t)n_events, memory_order_relaxed);
        cpa_log(a, CPA_LOG_WARNING, "publish failed: %s", cpw_sock_strerror(e));
    } else {
        atomic_fetch_add_explicit(&a->sent, (uint64_t)n_events, memory_order_relaxed);
        atomic_fetch_add_explicit(&a->batches, 1, memory_order_relaxed);
    }
}

static void flush_batch(cpa_agent *a)
{
    if (!a->batch_n)
        return;
    if (a->batch.failed) { /* out of memory while encoding: the batch is lost */
        atomic_fetch_add_explicit(&a->send_errors, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&a->lost, (uint64_t)a->batch_n, memory_order_relaxed);
    } else
        publish(a, a->batch.data, a->batch.len, a->batch_n);
    cpw_buf_reset(&a->batch);
    a->batch_n = 0;
}

static cpw_envelope envelope(cpa_agent *a, uint64_t seq, int64_t ts)
{
    cpw_envelope e = {.job = a->conf.job_id, .seq = seq, .ts_us = ts};
    return e;
}

static void publish_hello(cpa_agent *a)
{
    flush_batch(a);
    pthread_mutex_lock(&a->lock);
    /* cleared under the lock, before the copy: a change that lands after
     * the copy sets it again and is published next time round */
    atomic_store(&a->hello_dirty, 0);
    cpw_state_set_hello(a->state, a->pending_hello);
    pthread_mutex_unlock(&a->lock);
    a->seq++;
    a->state->seq = a->seq;
    cpw_envelope env = envelope(a, a->seq, cpw_now_us());
    cpw_buf_reset(&a->out);
    cpw_encode_hello(&a->out, &env, &a->state->hello);
    publish(a, a->out.data, a->out.len, 0);
}

static void publish_heartbeat(cpa_agent *a)
{
    flush_batch(a);
    int n = a->state->n_subtasks;
    cpw_subtask_metrics *rows = n ? calloc((size_t)n, sizeof *rows) : NULL;
    cpw_heartbeat hb = {0};
    cpa_stats st;
    cpa_get_stats(a, &st);
    hb.emitted = st.emitted;
    hb.sent = st.sent;
    hb.dropped = st.dropped;
    a->state->agent_emitted = st.emitted;
    a->state->agent_sent = st.sent;
    a->state->agent_dropped = st.dropped;
    const cpw_hello *h = &a->state->hello;
    for (int op = 0, k = 0; rows && op < h->n_ops; op++) {
        for (int s = 0; s < h->ops[op].parallelism; s++) {
            cpa_metric *m = &a->metrics[a->state->op_base[op] + s];
            if (!atomic_load_explicit(&m->set, memory_order_relaxed))
                continue;
            rows[k].op = op;
            rows[k].subtask = s;
            rows[k].records_in = atomic_load_explicit(&m->in, memory_order_relaxed);
            rows[k].records_out = atomic_load_explicit(&m->out, memory_order_relaxed);
            rows[k].queue_fill_permille = atomic_load_explicit(&m->fill, memory_order_relaxed);
            rows[k].backpressured = atomic_load_explicit(&m->bp, memory_order_relaxed);
            hb.n = ++k;
        }
    }
    hb.subtasks = rows;
    a->seq++;
    a->state->seq = a->seq;
    cpw_envelope env = envelope(a, a->seq, cpw_now_us());
    cpw_buf_reset(&a->out);
    cpw_encode_heartbeat(&a->out, &env, &hb);
    if (!a->out.failed)
        publish(a, a->out.data, a->out.len, 0);
    free(rows);
}

/* Moves up to `max` queued events into the batch. Returns how many. */
static int drain(cpa_agent *a, int max)
{
    int n = 0;
    cpa_event in;
    cpw_event ev;
    while (n < max && cpa_queue_pop(&a->q, &in)) {
        cpa_event_to_wire(&in, &ev);
        cpa_normalize(&ev);
        a->seq++;
        cpw_state_apply(a->state, &ev, a->seq);
        if (a->rest)
            cpa_rest_observe(a->rest, &ev);
        if (a->batch_n == 0)
            a->batch_first_us = cpw_mono_us();
        else
            cpj_char(&a->batch, '\n'); /* NDJSON batch */
        cpw_envelope env = envelope(a, a->seq, ev.ts_us);
        cpw_encode_event(&a->batch, &env, &ev);
        a->batch_n++;
        n++;
        if (a->batch_n >= a->conf.batch_max)
            flush_batch(a);
    }
    return n;
}

static void reply(cpa_agent *a, uint64_t req, cpa_err e, const char *message, bool with_state,
                  int history)
{
    cpw_reply r = {.req = req, .ok = e == CPA_OK};
    snprintf(r.error, sizeof r.error, "%s", cpa_err_token(e));
    snprintf(r.message, sizeof r.message, "%s", message ? message : "");
    cpw_envelope env = envelope(a, a->seq, cpw_now_us());
    if (with_state) {
        cpa_stats st;
        cpa_get_stats(a, &st);
        a->state->agent_emitted = st.emitted;
        a->state->agent_sent = st.sent;
        a->state->agent_dropped = st.dropped;
    }
    cpw_buf_reset(&a->out);
    cpw_encode_reply(&a->out, &env, &r, with_state ? a->state : NULL, history);
    /* A state too big for one message: shrink the history until it fits. */
    while (with_state && (a->out.failed || a->out.len > CPW_MAX_FRAME) && history != 0) {
        history = history < 0 ? a->state->n_history / 2 : history / 2;
        cpw_buf_reset(&a->out);
        cpw_encode_reply(&a->out, &env, &r, a->state, history);
    }
    if (a->out.failed || a->out.len > CPW_MAX_FRAME) {
        r.ok = false;
        snprintf(r.error, sizeof r.error, "%s", cpa_err_token(CPA_ERR_LIMIT));
        snprintf(r.message, sizeof r.message, "reply too large");
        cpw_buf_reset(&a->out);
        cpw_encode_reply(&a->out, &env, &r, NULL, 0);
    }
    if (r.ok)
        atomic_fetch_add_explicit(&a->served, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&a->refused, 1, memory_order_relaxed);
    /* Never waits: a requester that keeps its previous reply unread
     * (pipelining, never reading) loses this one instead of stalling the
     * agent thread. */
    cpw_sock_err se = cpw_sock_send(a->rep, a->out.data, a->out.len, 0);
    if (se)
        cpa_log(a, CPA_LOG_WARNING, "reply send failed: %s", cpw_sock_strerror(se));
}

static void serve_command(cpa_agent *a, const char *buf, size_t len)
{
    if (len > CMD_MAX_BYTES) {
        reply(a, 0, CPA_ERR_LIMIT, "command larger than 65536 bytes", false, 0);
        return;
    }
    cpw_msg m;
    cpw_error err = {0};
    cpw_err de = cpw_decode_one(buf, len, &m, &err);
    if (de) {
        char msg[CPA_TEXT_MAX];
        snprintf(msg, sizeof msg, "%s: %s", cpw_err_name(de), err.text);
        reply(a, 0, de == CPW_ERR_TOO_LARGE ? CPA_ERR_LIMIT : CPA_ERR_BAD_COMMAND, msg,
              false, 0);
        return;
    }
    if (m.kind != CPW_K_COMMAND) {
        reply(a, 0, CPA_ERR_BAD_COMMAND, "expected a \"cmd\" message", false, 0);
        cpw_msg_clear(&m);
        return;
    }
    cpw_command *c = m.cmd;
    /* Over tcp every command that acts needs a token; get_state only reads
     * what the event stream already shows anyone, so it may come without
     * one (a read-only dashboard must resync), but a token it does carry is
     * still checked. */
    if (a->tcp && !(c->c.type == CPW_CMD_GET_STATE && !c->has_mac)) {
        const char *why = NULL;
        if (!c->has_mac)
            why = "this endpoint needs an HMAC token (see secret file)";
        else if (!cpw_verify_mac(buf, len, a->secret, a->secret_len))
            why = "bad HMAC token: wrong secret or altered command";
        else
            why = cpa_replay_check(a->replay, c->nonce, m.ts_us, cpw_now_us());
        if (why) {
            cpa_log(a, CPA_LOG_WARNING, "refused %s command: %s",
                 cpw_command_name(c->c.type), why);
            reply(a, c->req, CPA_ERR_AUTH, why, false, 0);
            cpw_msg_clear(&m);
            return;
        }
    }
    if (c->c.type == CPW_CMD_GET_STATE) {
        reply(a, c->req, CPA_OK, "state", true, c->history);
        cpw_msg_clear(&m);
        return;
    }
    char msg[CPA_TEXT_MAX] = "";
    cpa_err he = cpa_dispatch(a, &c->c, NULL, msg, sizeof msg);
    reply(a, c->req, he, msg, false, 0);
    cpw_msg_clear(&m);
}

cpa_err cpa_dispatch(cpa_agent *a, cpw_cmd *c, const char *rest_op, char *msg, size_t size)
{
    cpa_command_cb cb = a->conf.handlers[c->type];
    msg[0] = '\0';
    if (!cb) {
        snprintf(msg, size, "this job does not support %s", cpw_command_name(c->type));
        return CPA_ERR_UNSUPPORTED;
    }
    if (c->type == CPW_CMD_INJECT_FAILURE && !cpa_failure_check(a, c, msg, size))
        return CPA_ERR_BAD_COMMAND;
    cpa_command cmd;
    cpa_command_from_wire(c, &cmd);
    cpa_err he = cb(a->conf.handler_opaque[c->type], &cmd, msg, size);
    msg[size - 1] = '\0';
    if ((unsigned)he >= CPA_ERR__COUNT)
        he = CPA_ERR_HANDLER; /* a handler's own code: still a refusal */
    if (he != CPA_OK && !msg[0])
        snprintf(msg, size, "%s", cpa_strerror(he));
    if (he == CPA_OK && c->type == CPW_CMD_TRIGGER && a->rest)
        cpa_rest_trigger_accepted(a->rest, rest_op);
    return he;
}

static void serve_commands(cpa_agent *a)
{
    /* Everything emitted before the request was sent is folded first, so a
     * get_state reply never lags an event the caller already emitted. */
    drain(a, (int)a->conf.queue_size);
    /* and a table or topology the job declared before the request counts */
    if (atomic_load(&a->hello_dirty))
        publish_hello(a);
    for (int i = 0; i < 64; i++) {
        cpw_sock_msg m;
        cpw_sock_err e = cpw_sock_recv(a->rep, &m, 0);
        if (e) {
            if (e != CPW_SOCK_AGAIN)
                cpa_log(a, CPA_LOG_WARNING, "command receive failed: %s", cpw_sock_strerror(e));
            return;
        }
        serve_command(a, m.data, m.len);
        cpw_sock_msg_free(&m);
    }
}

static void *agent_main(void *arg)
{
    cpa_agent *a = arg;
    int rcvfd = cpw_sock_fd(a->rep);
    int64_t hb_period = (int64_t)a->conf.heartbeat_ms * 1000;
    int64_t next_hb = cpw_mono_us() + hb_period;
    int64_t last_event = cpw_mono_us();
    publish_hello(a);
    for (;;) {
        bool stopping = atomic_load(&a->stopping);
        int got = drain(a, a->conf.batch_max);
        int64_t now = cpw_mono_us();
        if (a->batch_n && (stopping || now - a->batch_first_us >= a->conf.flush_us))
            flush_batch(a);
        if (atomic_load(&a->hello_dirty))
            publish_hello(a);
        if (now >= next_hb) {
            publish_heartbeat(a);
            next_hb += hb_period;
            if (next_hb < now)
                next_hb = now + hb_period;
        }
        if (stopping && got == 0 && cpa_queue_depth(&a->q) == 0) {
            flush_batch(a);
            break;
        }
        /* Sleep only when the queue ran dry: until the batch is due, the
         * heartbeat is due or a command arrives; at most 1 ms while events
         * flow, idle.ms after a quiet spell. Waking the agent from cpa_emit()
         * would cost the job a fence or a syscall; a poll costs it nothing. */
        int64_t wait_us = 0;
        if (got) {
            last_event = now;
        } else {
            wait_us = now - last_event > 100000 ? (int64_t)a->conf.idle_ms * 1000 : 1000;
            if (a->batch_n) {
                int64_t due = a->batch_first_us + a->conf.flush_us - now;
                if (due < wait_us)
                    wait_us = due < 0 ? 0 : due;
            }
            if (next_hb - now < wait_us)
                wait_us = next_hb - now < 0 ? 0 : next_hb - now;
        }
        if (a->rest)
            wait_us = cpa_rest_wait_us(a->rest, wait_us);
        /* a descriptor of -1 is ignored by poll: with neither, a sleep */
        struct pollfd pfd[2] = {{.fd = rcvfd, .events = POLLIN},
                                {.fd = a->rest ? cpa_rest_fd(a->rest) : -1, .events = POLLIN}};
        struct timespec ts = {.tv_sec = (time_t)(wait_us / 1000000),
                              .tv_nsec = (long)(wait_us % 1000000) * 1000};
        int pr = ppoll(pfd, 2, &ts, NULL);
        if (pr > 0 && (pfd[0].revents & POLLIN))
            serve_commands(a);
        if (a->rest) {
            bool http = pr > 0 && (pfd[1].revents & POLLIN);
            if (http) { /* answers are as fresh as what was emitted before the request */
                drain(a, (int)a->conf.queue_size);
                if (atomic_load(&a->hello_dirty))
                    publish_hello(a);
            }
            cpa_rest_run(a->rest, http);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ start/stop */

/* Announces this run in the runtime directory, after clearing the stale
 * announcements of jobs that died without removing theirs. */
static cpa_err write_discovery(cpa_agent *a, char *err, size_t errsz)
{
    cpw_discovery_sweep(a->conf.runtime_dir, a->instance);
    cpw_job_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.job, sizeof e.job, "%s", a->conf.job_id);
    snprintf(e.name, sizeof e.name, "%s", a->conf.job_name);
    e.pid = (int)getpid();
    snprintf(e.events, sizeof e.events, "%s", a->events_url);
    snprintf(e.commands, sizeof e.commands, "%s", a->commands_url);
    memcpy(e.instance, a->instance, sizeof e.instance);
    e.tcp = a->tcp;
    if (a->rest)
        snprintf(e.rest, sizeof e.rest, "%s", cpa_rest_url(a->rest));
    e.started_us = cpw_now_us();
    char path[CPW_PATH_MAX];
    if (cpw_discovery_write(a->conf.runtime_dir, &e, path, err, errsz) != CPW_DISC_OK)
        return CPA_ERR_IO;
    snprintf(a->discovery_path, sizeof a->discovery_path, "%s", path);
    return CPA_OK;
}

static void close_sockets(cpa_agent *a)
{
    cpw_sock_destroy(a->pub);
    cpw_sock_destroy(a->rep);
    a->pub = a->rep = NULL;
    cpa_rest_destroy(a->rest);
    a->rest = NULL;
}

cpa_err cpa_start(cpa_agent *a)
{
    if (!a)
        return CPA_ERR_INVALID_ARG;
    if (a->started || atomic_load(&a->stopped))
        return CPA_ERR_STATE;
    char err[600] = ""; /* room for a path twice and the fix */
    cpw_disc_err de = cpw_secure_dir(a->conf.runtime_dir, true, err, sizeof err);
    if (de) {
        cpa_log(a, CPA_LOG_ERROR, "%s", err);
        return de == CPW_DISC_INSECURE ? CPA_ERR_INSECURE : CPA_ERR_IO;
    }
    cpa_err e;
    /* this run's identity: dashboards bind commands and discovery to it */
    if (!cpw_random_hex(a->instance, CPW_INSTANCE_HEX)) {
        cpa_log(a, CPA_LOG_ERROR, "no randomness for an instance id");
        return CPA_ERR_IO;
    }
    pthread_mutex_lock(&a->lock);
    memcpy(a->pending_hello->instance, a->instance, sizeof a->instance);
    pthread_mutex_unlock(&a->lock);
    a->tcp = strncmp(a->conf.listen, "tcp://", 6) == 0;
    if (a->tcp) {
        e = cpa_load_secret(a->conf.secret_file, a->secret, &a->secret_len, sizeof a->secret,
                            err, sizeof err);
        if (e) {
            cpa_log(a, CPA_LOG_ERROR, "%s", err);
            return e;
        }
        const char *hp = a->conf.listen + 6;
        const char *colon = strrchr(hp, ':');
        int port = atoi(colon + 1);
        char host[100];
        size_t hl = (size_t)(colon - hp);
        if (hl == 0) {
            snprintf(host, sizeof host, "127.0.0.1");
        } else {
            if (hl >= sizeof host)
                hl = sizeof host - 1;
            memcpy(host, hp, hl);
            host[hl] = '\0';
        }
        snprintf(a->events_url, sizeof a->events_url, "tcp://%s:%d", host, port);
        snprintf(a->commands_url, sizeof a->commands_url, "tcp://%s:%d", host, port + 1);
    } else {
        snprintf(a->events_url, sizeof a->events_url, "ipc://%s/%s.events",
                 a->conf.runtime_dir, a->conf.job_id);
        snprintf(a->commands_url, sizeof a->commands_url, "ipc://%s/%s.cmd",
                 a->conf.runtime_dir, a->conf.job_id);
        /* sun_path holds 107 bytes; ".events" is the longer of the two */
        if (strlen(a->events_url) - 6 >= 108) {
            cpa_log(a, CPA_LOG_ERROR,
                 "ipc socket path %s is too long (limit 107 bytes): set a shorter runtime.dir",
                 a->events_url + 6);
            return CPA_ERR_INVALID_ARG;
        }
    }
    /* Each subscriber may fall PUB_QUEUE batches behind before it misses
     * messages; a command larger than 4 MiB (the REP's default limit) drops
     * its connection unread. ipc socket files are made 0600 as they appear. */
    const cpw_sock_conf pub_conf = {.queue = PUB_QUEUE};
    a->pub = cpw_sock_new(CPW_SOCK_PUB, &pub_conf, err, sizeof err);
    a->rep = a->pub ? cpw_sock_new(CPW_SOCK_REP, NULL, err, sizeof err) : NULL;
    if (!a->pub || !a->rep ||
        cpw_sock_listen(a->pub, a->events_url, err, sizeof err) != CPW_SOCK_OK ||
        cpw_sock_listen(a->rep, a->commands_url, err, sizeof err) != CPW_SOCK_OK) {
        cpa_log(a, CPA_LOG_ERROR, "%s", err);
        close_sockets(a);
        return CPA_ERR_TRANSPORT;
    }
    if (a->conf.rest_listen[0] && strcmp(a->conf.rest_listen, "off") &&
        !(a->rest = cpa_rest_new(a, &e, err, sizeof err))) {
        cpa_log(a, CPA_LOG_ERROR, "%s", err);
        close_sockets(a);
        return e;
    }
    e = write_discovery(a, err, sizeof err);
    if (e) {
        cpa_log(a, CPA_LOG_ERROR, "%s", err);
        close_sockets(a);
        return e;
    }
    atomic_store(&a->running, 1);
    if (pthread_create(&a->thread, NULL, agent_main, a) != 0) {
        atomic_store(&a->running, 0);
        cpw_discovery_remove(a->discovery_path, a->instance);
        close_sockets(a);
        return CPA_ERR_NOMEM;
    }
    a->started = true;
    cpa_log(a, CPA_LOG_INFO, "agent for job %s (%s) publishing on %s, commands on %s",
         a->conf.job_name, a->conf.job_id, a->events_url, a->commands_url);
    if (a->rest)
        cpa_log(a, CPA_LOG_INFO, "answering Flink's REST API on %s", cpa_rest_url(a->rest));
    return CPA_OK;
}

cpa_err cpa_stop(cpa_agent *a)
{
    if (!a)
        return CPA_ERR_INVALID_ARG;
    if (atomic_exchange(&a->stopped, 1))
        return CPA_ERR_STATE;
    if (a->started) {
        atomic_store(&a->stopping, 1);
        pthread_join(a->thread, NULL);
        atomic_store(&a->running, 0);
    }
    /* Events that slipped in after the thread's last look are lost: count them. */
    cpa_event ev;
    while (a->q.cells && cpa_queue_pop(&a->q, &ev))
        atomic_fetch_add(&a->lost, 1);
    if (a->started) {
        cpw_discovery_remove(a->discovery_path, a->instance);
        if (!a->tcp) {
            unlink(a->events_url + 6);
            unlink(a->commands_url + 6);
        }
        close_sockets(a);
    }
    return CPA_OK;
}

void cpa_destroy(cpa_agent *a)
{
    if (!a)
        return;
    if (!atomic_load(&a->stopped))
        cpa_stop(a);
    cpa_queue_free(&a->q);
    cpw_state_free(a->state);
    free(a->metrics);
    free(a->replay);
    free(a->pending_hello);
    cpw_buf_free(&a->batch);
    cpw_buf_free(&a->out);
    pthread_mutex_destroy(&a->lock);
    memset(a->secret, 0, sizeof a->secret);
    free(a);
}
