/* cpa_rest_job.c — the job endpoints' answers (/config, /jobs, the job and its
 * plan), the ones that act (trigger a checkpoint, cancel the job: through
 * the same handlers as a dashboard's commands) and the table that picks an
 * answer for a routed request. */
#include "cpa_rest_int.h"
#include "cpw_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t ms(int64_t us) { return us / 1000; }

/* ------------------------------------------------------------------ shared */

const char *cpa_rest_conf(const cpa_rest *r, const char *key)
{
    const cpw_hello *h = &r->a->state->hello;
    for (int i = 0; i < h->n_config; i++)
        if (!strcmp(h->config_keys[i], key))
            return h->config_values[i];
    return NULL;
}

bool cpa_rest_vertex_id(const cpa_rest *r, int op, char *out)
{
    if (op < 0 || op >= r->a->state->hello.n_ops)
        return false;
    cpw_flink_derive_id(out, "vertex", r->a->conf.job_id, op);
    return true;
}

int cpa_rest_vertex_of(const cpa_rest *r, const char *vid)
{
    char id[CPW_FLINK_ID_HEX + 1];
    for (int op = 0; cpa_rest_vertex_id(r, op, id); op++)
        if (!strcmp(id, vid))
            return op;
    return -1;
}

static int error(cpw_buf *out, int status, const char *msg)
{
    cpw_buf_reset(out);
    cpw_flink_write_error(out, msg);
    return status;
}

int cpa_rest_check_job(const cpa_rest *r, const cpa_request *req, cpw_buf *out)
{
    if (!strcmp(req->jid, r->jid))
        return 0;
    char msg[CPA_REST_MSG_MAX];
    snprintf(msg, sizeof msg, "org.apache.flink.runtime.rest.NotFoundException: Job %s not found",
             req->jid);
    return error(out, 404, msg);
}

int64_t cpa_rest_trigger_wait_us(const cpa_rest *r)
{
    /* a requested checkpoint may queue behind one in flight (up to the
     * timeout) and the minimum pause: give it twice that and a minute */
    int64_t timeout = 600000;
    const char *t = cpa_rest_conf(r, "execution.checkpointing.timeout");
    if (t && !cpw_flink_parse_duration_ms(t, &timeout))
        timeout = 600000;
    if (timeout > 24 * 3600 * 1000LL)
        timeout = 24 * 3600 * 1000LL;
    return (2 * timeout + 60000) * 1000;
}

/* Flink's job state, and what its tasks are doing, for ours. */
static const struct {
    const char *job, *task;
} states[CPW_JOB__COUNT] = {
    [CPW_JOB_CREATED] = {"CREATED", "CREATED"},
    [CPW_JOB_RUNNING] = {"RUNNING", "RUNNING"},
    [CPW_JOB_FAILING] = {"FAILING", "CANCELING"},
    [CPW_JOB_RESTARTING] = {"RESTARTING", "CREATED"},
    [CPW_JOB_FAILED] = {"FAILED", "FAILED"},
    [CPW_JOB_FINISHED] = {"FINISHED", "FINISHED"},
};

static int job_status(const cpa_rest *r)
{
    int st = r->a->state->status;
    return st >= 0 && st < CPW_JOB__COUNT ? st : CPW_JOB_CREATED;
}

static int task_state_index(const char *name)
{
    for (int i = 0; i < CPW_FLINK_TASK_STATES; i++)
        if (!strcmp(cpw_flink_task_state_names[i], name))
            return i;
    return 0;
}

static void fill_job(const cpa_rest *r, cpw_flink_job *j)
{
    const cpw_state *s = r->a->state;
    memset(j, 0, sizeof *j);
    memcpy(j->jid, r->jid, sizeof j->jid);
    snprintf(j->name, sizeof j->name, "%s", s->hello.name);
    int st = job_status(r);
    snprintf(j->state, sizeof j->state, "%s", states[st].job);
    int64_t now = ms(cpw_now_us());
    j->start_time = ms(s->hello.start_ts_us);
    j->end_time = -1;
    j->duration = now > j->start_time ? now - j->start_time : 0;
    j->last_modification = ms(s->last_restore_ts > s->hello.start_ts_us ? s->last_restore_ts
                                                                          : s->hello.start_ts_us);
    j->tasks_total = s->n_subtasks;
    j->tasks[task_state_index(states[st].task)] = s->n_subtasks;
}

/* ------------------------------------------------------------------ job answers */

static int answer_config(cpa_rest *r, const cpa_request *req, cpw_buf *out)
{
    (void)req;
    cpw_flink_dashboard d = {.refresh_interval = 3000,
                             .web_cancel = r->a->conf.handlers[CPA_CMD_CANCEL] != NULL};
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    snprintf(d.timezone_name, sizeof d.timezone_name, "%s", tm.tm_zone ? tm.tm_zone : "UTC");
    d.timezone_offset = (int64_t)tm.tm_gmtoff * 1000;
    /* what we emulate, and that this is not Flink */
    snprintf(d.flink_version, sizeof d.flink_version, "%s-libcpagent-%s", CPW_FLINK_EMULATED,
             CPA_VERSION_STR);
    snprintf(d.flink_revision, sizeof d.flink_revision, "libcpagent %s (cptop), not Apache Flink",
             CPA_VERSION_STR);
    cpw_buf_reset(out);
    cpw_flink_write_dashboard(out, &d);
    return 200;
}

static int answer_jobs(cpa_rest *r, const cpa_request *req, cpw_buf *out)
{
    cpw_flink_job j;
    fill_job(r, &j);
    cpw_flink_jobs js = {1, &j};
    cpw_buf_reset(out);
    if (req->route == CPA_R_JOBS)
        cpw_flink_write_job_ids(out, &js);
    else
        cpw_flink_write_overview(out, &js);
    return 200;
}

/* Flink's ship strategies for our edge kinds. */
static void ship_strategy(const char *kind, char *out, size_t size)
{
    size_t i = 0;
    for (; kind[i] && i < size - 1; i++)
        out[i] = (char)(kind[i] >= 'a' && kind[i] <= 'z' ? kind[i] - 32 : kind[i]);
    out[i] = '\0';
}

static int answer_job(cpa_rest *r, const cpa_request *req, cpw_buf *out)
{
    int st = cpa_rest_check_job(r, req, out);
    if (st)
        return st;
    const cpw_state *s = r->a->state;
    const cpw_hello *h = &s->hello;
    cpw_flink_vertex *v = calloc((size_t)(h->n_ops ? h->n_ops : 1), sizeof *v);
    cpw_flink_edge *e = calloc((size_t)(h->n_edges ? h->n_edges : 1), sizeof *e);
    if (!v || !e) {
        free(v);
        free(e);
        return error(out, 500, "Out of memory.");
    }
    cpw_flink_job_details d = {.max_parallelism = -1, .now = ms(cpw_now_us()),
                               .n_vertices = h->n_ops, .vertices = v,
                               .n_edges = h->n_edges, .edges = e};
    fill_job(r, &d.job);
    d.timestamps[1] = d.timestamps[0] = d.job.start_time; /* CREATED, INITIALIZING */
    const char *task = states[job_status(r)].task;
    for (int op = 0; op < h->n_ops; op++) {
        cpa_rest_vertex_id(r, op, v[op].id);
        snprintf(v[op].name, sizeof v[op].name, "%s", h->ops[op].name);
        v[op].parallelism = v[op].max_parallelism = h->ops[op].parallelism;
        snprintf(v[op].status, sizeof v[op].status, "%s", task);
        v[op].start_time = d.job.start_time;
        v[op].end_time = -1;
        v[op].duration = d.job.duration;
        v[op].tasks[task_state_index(task)] = h->ops[op].parallelism;
        /* the counters the job reports for heartbeats */
        for (int k = 0; k < h->ops[op].parallelism; k++) {
            cpa_metric *m = &r->a->metrics[s->op_base[op] + k];
            if (!atomic_load_explicit(&m->set, memory_order_relaxed))
                continue;
            v[op].read_records += atomic_load_explicit(&m->in, memory_order_relaxed);
            v[op].write_records += atomic_load_explicit(&m->out, memory_order_relaxed);
        }
    }
    for (int i = 0; i < h->n_edges; i++) {
        e[i].from = h->edges[i].from;
        e[i].to = h->edges[i].to;
        ship_strategy(h->edges[i].kind, e[i].ship_strategy, sizeof e[i].ship_strategy);
    }
    cpw_buf_reset(out);
    cpw_flink_write_job_details(out, &d);
    free(v);
    free(e);
    return 200;
}

/* ------------------------------------------------------------------ actions */

static int answer_trigger(cpa_rest *r, const cpa_request *req, const char *body, size_t len,
                          cpw_buf *out)
{
    int st = cpa_rest_check_job(r, req, out);
    if (st)
        return st;
    cpa_trigger_body tb;
    char msg[CPA_REST_MSG_MAX];
    if ((st = cpa_rest_parse_trigger_body(body, len, &tb, msg, sizeof msg)))
        return error(out, st, msg);
    int64_t now = cpw_mono_us();
    /* the same triggerId is the same operation: nothing is triggered again */
    if (tb.trigger_id[0] && cpa_rest_ops_find(r->ops, tb.trigger_id, now)) {
        cpw_buf_reset(out);
        cpw_flink_write_trigger(out, tb.trigger_id);
        return 202;
    }
    if (!tb.trigger_id[0] && !cpw_random_hex(tb.trigger_id, CPW_FLINK_ID_HEX))
        return error(out, 500, "No randomness for a trigger id.");
    cpa_op *op = cpa_rest_ops_add(r->ops, tb.trigger_id, now);
    if (!op)
        return error(out, 503, "Too many checkpoint requests in progress; try again later.");
    cpw_cmd c = {.type = CPW_CMD_TRIGGER, .op = -1, .subtask = -1};
    cpa_err e = cpa_dispatch(r->a, &c, op->id, msg, sizeof msg);
    /* refused or unsupported: Flink answers 202 too, and the operation
     * ends with the reason */
    if (e != CPA_OK) {
        char cause[CPA_REST_MSG_MAX];
        snprintf(cause, sizeof cause, "The job did not trigger the checkpoint: %s", msg);
        cpa_rest_ops_finish(op, true, cause, now);
    }
    atomic_fetch_add_explicit(e == CPA_OK ? &r->a->served : &r->a->refused, 1,
                              memory_order_relaxed);
    cpw_buf_reset(out);
    cpw_flink_write_trigger(out, op->id);
    return 202;
}

static int answer_trigger_status(cpa_rest *r, const cpa_request *req, cpw_buf *out)
{
    int st = cpa_rest_check_job(r, req, out);
    if (st)
        return st;
    int64_t now = cpw_mono_us();
    cpa_rest_ops_expire(r->ops, cpa_rest_trigger_wait_us(r),
                        "No checkpoint started for this request in time.", now);
    cpa_op *op = cpa_rest_ops_find(r->ops, req->trigger, now);
    if (!op) {
        char msg[CPA_REST_MSG_MAX];
        snprintf(msg, sizeof msg,
                 "There is no checkpoint operation with trigger id %s for job %s.",
                 req->trigger, r->jid);
        return error(out, 404, msg);
    }
    char stack[CPA_REST_MSG_MAX + 64];
    cpw_flink_op fo = {.completed = op->state == CPA_OP_DONE, .failed = op->failed,
                       .checkpoint_id = op->cp_id};
    if (op->failed) {
        snprintf(stack, sizeof stack, "org.apache.flink.runtime.checkpoint.CheckpointException: %s",
                 op->cause);
        fo.failure_class = "org.apache.flink.runtime.checkpoint.CheckpointException";
        fo.failure_stack = stack;
    }
    cpw_buf_reset(out);
    cpw_flink_write_op(out, &fo);
    return 200;
}

static int answer_cancel(cpa_rest *r, const cpa_request *req, const char *mode, cpw_buf *out)
{
    int st = cpa_rest_check_job(r, req, out);
    if (st)
        return st;
    if (mode && strcmp(mode, "cancel"))
        return error(out, 400, "Bad request, could not parse parameters: only mode=cancel is "
                               "supported.");
    if (!r->a->conf.handlers[CPA_CMD_CANCEL]) {
        atomic_fetch_add_explicit(&r->a->refused, 1, memory_order_relaxed);
        return error(out, 501, "This job cannot be cancelled over REST: it registered no "
                               "handler for cancel (libcpagent CPA_CMD_CANCEL).");
    }
    char msg[CPA_REST_MSG_MAX];
    cpw_cmd c = {.type = CPW_CMD_CANCEL, .op = -1, .subtask = -1};
    cpa_err e = cpa_dispatch(r->a, &c, NULL, msg, sizeof msg);
    atomic_fetch_add_explicit(e == CPA_OK ? &r->a->served : &r->a->refused, 1,
                              memory_order_relaxed);
    if (e != CPA_OK) { /* a handler that says "unsupported" is as good as none */
        char why[CPA_REST_MSG_MAX + 40];
        snprintf(why, sizeof why, "The job %s: %s",
                 e == CPA_ERR_UNSUPPORTED ? "does not support cancel" : "refused to cancel", msg);
        return error(out, e == CPA_ERR_UNSUPPORTED ? 501 : 409, why);
    }
    cpw_buf_reset(out);
    cpj_lit(out, "{}");
    return 202;
}

/* ------------------------------------------------------------------ dispatch */

int cpa_rest_answer(cpa_rest *r, const cpa_request *req, const char *query_mode,
                    const char *body, size_t len, cpw_buf *out)
{
    switch (req->route) {
    case CPA_R_CONFIG:
        return answer_config(r, req, out);
    case CPA_R_JOBS:
    case CPA_R_OVERVIEW:
        return answer_jobs(r, req, out);
    case CPA_R_JOB:
        return answer_job(r, req, out);
    case CPA_R_CANCEL:
        return answer_cancel(r, req, query_mode, out);
    case CPA_R_STATS:
        return cpa_rest_stats(r, req, out);
    case CPA_R_TRIGGER:
        return answer_trigger(r, req, body, len, out);
    case CPA_R_CP_CONFIG:
        return cpa_rest_cp_config(r, req, out);
    case CPA_R_DETAILS:
        return cpa_rest_details(r, req, out);
    case CPA_R_SUBTASKS:
        return cpa_rest_subtasks(r, req, out);
    case CPA_R_TRIGGER_STATUS:
        return answer_trigger_status(r, req, out);
    default:
        return error(out, 404, "Not found.");
    }
}
