/* cpw_flink_read_job.c — Flink REST JSON of jobs, plans, trigger operations
 * and errors into cpw_flink values (see cpw_flink.h). */
#include "cpw_flink_fx.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ jobs */

/* A state name from a table (counts objects use these as keys). */
static int state_index(const char *const *names, int n, const char *s, bool lower)
{
    for (int i = 0; i < n; i++) {
        const char *a = names[i], *b = s;
        while (*a && *b && (lower ? (*a | 0x20) : *a) == *b)
            a++, b++;
        if (!*a && !*b)
            return i;
    }
    return -1;
}

static cpw_err r_job(json_t *o, cpw_flink_job *x, cpw_error *err)
{
    if (!json_is_object(o))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "jobs", "a job must be an object");
    /* /jobs/overview says "jid" and "state", /jobs "id" and "status" */
    bool overview = json_object_get(o, "jid") != NULL;
    TRY(cpw_fx_id(o, overview ? "jid" : "id", x->jid, true, err));
    TRY(cpw_fx_str(o, overview ? "state" : "status", x->state, sizeof x->state, true, err));
    TRY(cpw_fx_str(o, "name", x->name, sizeof x->name, false, err));
    TRY(cpw_fx_int(o, "start-time", &x->start_time, false, err));
    x->end_time = -1;
    TRY(cpw_fx_int(o, "end-time", &x->end_time, false, err));
    TRY(cpw_fx_int(o, "duration", &x->duration, false, err));
    TRY(cpw_fx_int(o, "last-modification", &x->last_modification, false, err));
    json_t *t;
    TRY(cpw_fx_obj(o, "tasks", &t, false, err));
    if (!t)
        return CPW_OK;
    const char *key;
    json_t *v;
    json_object_foreach(t, key, v) {
        if (!json_is_integer(v))
            return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "tasks", "task counts must be integers");
        int64_t n = json_integer_value(v);
        if (n < 0 || n > INT32_MAX)
            return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "tasks", "task count out of range");
        int k = state_index(cpw_flink_task_state_names, CPW_FLINK_TASK_STATES, key, true);
        if (!strcmp(key, "total"))
            x->tasks_total = (int32_t)n;
        else if (k >= 0)
            x->tasks[k] = (int32_t)n;
        /* other keys (newer versions add some) are ignored */
    }
    return CPW_OK;
}

static cpw_err r_jobs(json_t *j, cpw_flink_jobs *out, cpw_error *err)
{
    json_t *a;
    TRY(cpw_fx_arr(j, "jobs", &a, CPW_FLINK_MAX_JOBS, true, err));
    size_t n = json_array_size(a);
    if (n && !(out->jobs = cpw_fx_alloc_n(n, sizeof *out->jobs, "jobs", err)))
        return CPW_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        out->n = (int)i + 1;
        TRY(r_job(json_array_get(a, i), &out->jobs[i], err));
    }
    return CPW_OK;
}

void cpw_flink_jobs_clear(cpw_flink_jobs *j)
{
    if (!j)
        return;
    free(j->jobs);
    memset(j, 0, sizeof *j);
}

cpw_err cpw_flink_read_jobs(const char *buf, size_t len, cpw_flink_jobs *out, cpw_error *err)
{
    READ_DOC(buf, len, out, cpw_flink_jobs_clear, r_jobs, err);
}

static cpw_err r_vertex(json_t *o, cpw_flink_vertex *v, cpw_error *err)
{
    if (!json_is_object(o))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "vertices", "a vertex must be an object");
    TRY(cpw_fx_id(o, "id", v->id, true, err));
    TRY(cpw_fx_str(o, "name", v->name, sizeof v->name, false, err));
    TRY(cpw_fx_i32(o, "parallelism", &v->parallelism, true, err));
    TRY(cpw_fx_i32(o, "maxParallelism", &v->max_parallelism, false, err));
    TRY(cpw_fx_str(o, "status", v->status, sizeof v->status, false, err));
    TRY(cpw_fx_int(o, "start-time", &v->start_time, false, err));
    v->end_time = -1;
    TRY(cpw_fx_int(o, "end-time", &v->end_time, false, err));
    TRY(cpw_fx_int(o, "duration", &v->duration, false, err));
    json_t *t, *m;
    TRY(cpw_fx_obj(o, "tasks", &t, false, err));
    for (int i = 0; t && i < CPW_FLINK_TASK_STATES; i++)
        TRY(cpw_fx_i32(t, cpw_flink_task_state_names[i], &v->tasks[i], false, err));
    TRY(cpw_fx_obj(o, "metrics", &m, false, err));
    if (!m)
        return CPW_OK;
    TRY(cpw_fx_int(m, "read-bytes", &v->read_bytes, false, err));
    TRY(cpw_fx_int(m, "write-bytes", &v->write_bytes, false, err));
    TRY(cpw_fx_int(m, "read-records", &v->read_records, false, err));
    TRY(cpw_fx_int(m, "write-records", &v->write_records, false, err));
    TRY(cpw_fx_int(m, "accumulated-backpressured-time", &v->backpressured_ms, false, err));
    TRY(cpw_fx_int(m, "accumulated-idle-time", &v->idle_ms, false, err));
    TRY(cpw_fx_num(m, "accumulated-busy-time", &v->busy_ms, NULL, err));
    return CPW_OK;
}

/* The plan's inputs become edges between the vertices already read. */
static cpw_err r_plan(json_t *plan, cpw_flink_job_details *d, cpw_error *err)
{
    json_t *nodes;
    TRY(cpw_fx_arr(plan, "nodes", &nodes, CPW_FLINK_MAX_VERTICES, false, err));
    size_t cap = 0;
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        json_t *node = json_array_get(nodes, i), *inputs;
        if (!json_is_object(node))
            return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "nodes", "a plan node must be an object");
        char id[CPW_FLINK_ID_HEX + 1];
        TRY(cpw_fx_id(node, "id", id, true, err));
        TRY(cpw_fx_arr(node, "inputs", &inputs, CPW_FLINK_MAX_VERTICES, false, err));
        int to = -1;
        for (int k = 0; k < d->n_vertices && to < 0; k++)
            if (!strcmp(d->vertices[k].id, id))
                to = k;
        for (size_t e = 0; to >= 0 && e < json_array_size(inputs); e++) {
            json_t *in = json_array_get(inputs, e);
            if (!json_is_object(in))
                return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "inputs", "a plan input must be an object");
            char from_id[CPW_FLINK_ID_HEX + 1];
            cpw_flink_edge x = {.to = to, .from = -1};
            TRY(cpw_fx_id(in, "id", from_id, true, err));
            TRY(cpw_fx_str(in, "ship_strategy", x.ship_strategy, sizeof x.ship_strategy, false, err));
            for (int k = 0; k < d->n_vertices && x.from < 0; k++)
                if (!strcmp(d->vertices[k].id, from_id))
                    x.from = k;
            if (x.from < 0)
                continue; /* an input from outside the job graph we were given */
            if ((size_t)d->n_edges == cap) {
                if (cap >= CPW_FLINK_MAX_EDGES)
                    return cpw_fail(err, CPW_ERR_TOO_MANY, 0, "inputs", "more than %d plan inputs",
                                    CPW_FLINK_MAX_EDGES);
                cap = cap ? cap * 2 : 16;
                cpw_flink_edge *ne = realloc(d->edges, cap * sizeof *ne);
                if (!ne)
                    return cpw_fail(err, CPW_ERR_NOMEM, 0, "inputs", "out of memory");
                d->edges = ne;
            }
            d->edges[d->n_edges++] = x;
        }
    }
    return CPW_OK;
}

static cpw_err r_job_details(json_t *j, cpw_flink_job_details *d, cpw_error *err)
{
    cpw_flink_job *x = &d->job;
    TRY(cpw_fx_id(j, "jid", x->jid, true, err));
    TRY(cpw_fx_str(j, "name", x->name, sizeof x->name, false, err));
    TRY(cpw_fx_str(j, "state", x->state, sizeof x->state, true, err));
    TRY(cpw_fx_bool(j, "isStoppable", &d->is_stoppable, err));
    TRY(cpw_fx_int(j, "start-time", &x->start_time, false, err));
    x->end_time = -1;
    TRY(cpw_fx_int(j, "end-time", &x->end_time, false, err));
    TRY(cpw_fx_int(j, "duration", &x->duration, false, err));
    TRY(cpw_fx_int(j, "maxParallelism", &d->max_parallelism, false, err));
    TRY(cpw_fx_int(j, "now", &d->now, false, err));
    json_t *ts, *verts, *plan;
    TRY(cpw_fx_obj(j, "timestamps", &ts, false, err));
    for (int i = 0; ts && i < CPW_FLINK_JOB_STATES; i++)
        TRY(cpw_fx_int(ts, cpw_flink_job_state_names[i], &d->timestamps[i], false, err));
    TRY(cpw_fx_arr(j, "vertices", &verts, CPW_FLINK_MAX_VERTICES, true, err));
    size_t n = json_array_size(verts);
    if (n && !(d->vertices = cpw_fx_alloc_n(n, sizeof *d->vertices, "vertices", err)))
        return CPW_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        d->n_vertices = (int)i + 1;
        TRY(r_vertex(json_array_get(verts, i), &d->vertices[i], err));
    }
    TRY(cpw_fx_obj(j, "plan", &plan, false, err));
    return plan ? r_plan(plan, d, err) : CPW_OK;
}

void cpw_flink_job_details_clear(cpw_flink_job_details *d)
{
    if (!d)
        return;
    free(d->vertices);
    free(d->edges);
    memset(d, 0, sizeof *d);
}

cpw_err cpw_flink_read_job_details(const char *buf, size_t len, cpw_flink_job_details *out,
                                   cpw_error *err)
{
    READ_DOC(buf, len, out, cpw_flink_job_details_clear, r_job_details, err);
}

/* ------------------------------------------------------------------ triggers, errors */

static cpw_err r_trigger(json_t *j, char *out, cpw_error *err)
{
    return cpw_fx_id(j, "request-id", out, true, err);
}

cpw_err cpw_flink_read_trigger(const char *buf, size_t len, char *out, cpw_error *err)
{
    cpw_error le;
    if (!err)
        err = &le;
    out[0] = '\0';
    json_t *j = cpw_fx_load(buf, len, err);
    if (!j)
        return err->code;
    cpw_err e = r_trigger(j, out, err);
    json_decref(j);
    if (e)
        out[0] = '\0';
    return e;
}

static cpw_err r_op(json_t *j, cpw_flink_op *op, cpw_error *err)
{
    json_t *st, *o, *fc;
    char id[24];
    TRY(cpw_fx_obj(j, "status", &st, true, err));
    TRY(cpw_fx_str(st, "id", id, sizeof id, true, err));
    if (strcmp(id, "IN_PROGRESS") && strcmp(id, "COMPLETED"))
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "id", "unknown operation status \"%s\"", id);
    op->completed = !strcmp(id, "COMPLETED");
    TRY(cpw_fx_obj(j, "operation", &o, false, err));
    if (!op->completed || !o)
        return CPW_OK;
    /* savepoints say "failure-cause", checkpoints "failureCause" */
    TRY(cpw_fx_obj(o, "failureCause", &fc, false, err));
    if (!fc)
        TRY(cpw_fx_obj(o, "failure-cause", &fc, false, err));
    if (fc) {
        op->failed = true;
        TRY(cpw_fx_strdup(fc, "class", &op->failure_class, err));
        return cpw_fx_strdup(fc, "stack-trace", &op->failure_stack, err);
    }
    /* a savepoint's answer names where it went, a checkpoint's its id */
    TRY(cpw_fx_strdup(o, "location", &op->location, err));
    return cpw_fx_int(o, "checkpointId", &op->checkpoint_id, !op->location, err);
}

void cpw_flink_op_clear(cpw_flink_op *op)
{
    if (!op)
        return;
    free(op->failure_class);
    free(op->failure_stack);
    free(op->location);
    memset(op, 0, sizeof *op);
}

cpw_err cpw_flink_read_op(const char *buf, size_t len, cpw_flink_op *out, cpw_error *err)
{
    READ_DOC(buf, len, out, cpw_flink_op_clear, r_op, err);
}

cpw_err cpw_flink_read_error(const char *buf, size_t len, char *out, size_t size,
                             cpw_error *err)
{
    cpw_error le;
    if (!err)
        err = &le;
    out[0] = '\0';
    json_t *j = cpw_fx_load(buf, len, err);
    if (!j)
        return err->code;
    json_t *a;
    cpw_err e = cpw_fx_arr(j, "errors", &a, 1000, true, err);
    json_t *first = e ? NULL : json_array_get(a, 0);
    if (!e && !json_is_string(first))
        e = cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "errors", "\"errors\" must hold strings");
    if (!e)
        cpw_fx_cut_copy(out, size, json_string_value(first), json_string_length(first));
    json_decref(j);
    return e;
}
