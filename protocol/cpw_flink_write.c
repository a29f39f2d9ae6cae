/* cpw_flink_write.c — Flink REST JSON from cpw_flink values (see cpw_flink.h).
 * Member order follows Flink's own responses, so a diff against a recording
 * lines up. */
#include "cpw_flink.h"
#include "cpw_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A double as Jackson writes it: "NaN"/"Infinity" as strings, an integral
 * value with ".0", otherwise the shortest text that reads back the same. */
static void w_double(cpw_buf *b, double v)
{
    if (isnan(v)) {
        cpj_lit(b, "\"NaN\"");
        return;
    }
    if (isinf(v)) {
        cpj_lit(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    char s[40];
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(s, sizeof s, "%.1f", v);
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(s, sizeof s, "%.*g", prec, v);
            if (strtod(s, NULL) == v)
                break;
        }
    }
    cpj_lit(b, s);
}

static void w_str_or_null(cpw_buf *b, const char *s)
{
    if (s)
        cpj_str(b, s);
    else
        cpj_lit(b, "null");
}

static void w_kv_double(cpw_buf *b, const char *key, double v)
{
    cpj_key(b, key);
    w_double(b, v);
}

/* {"min":…,"max":…,"avg":…[,"p50":…]} */
static void w_stat(cpw_buf *b, const cpw_flink_stat *s)
{
    cpj_lit(b, "{\"min\":");
    cpj_i64(b, s->min);
    cpj_kv_i64(b, "max", s->max);
    cpj_kv_i64(b, "avg", s->avg);
    if (s->has_pct) {
        w_kv_double(b, "p50", s->p50);
        w_kv_double(b, "p90", s->p90);
        w_kv_double(b, "p95", s->p95);
        w_kv_double(b, "p99", s->p99);
        w_kv_double(b, "p999", s->p999);
    }
    cpj_char(b, '}');
}

static void w_kv_stat(cpw_buf *b, const char *key, const cpw_flink_stat *s)
{
    cpj_key(b, key);
    w_stat(b, s);
}

static const char *status_or(cpw_flink_status s)
{
    const char *n = cpw_flink_status_name(s);
    return n ? n : "IN_PROGRESS";
}

/* A task's members after an opening brace; the caller closes or extends it. */
static void w_task_open(cpw_buf *b, const cpw_flink_task *t)
{
    cpj_lit(b, "{\"id\":");
    cpj_i64(b, t->id);
    cpj_kv_str(b, "status", status_or(t->status));
    cpj_kv_i64(b, "latest_ack_timestamp", t->latest_ack_ts);
    if (t->has_checkpointed_size)
        cpj_kv_i64(b, "checkpointed_size", t->checkpointed_size);
    cpj_kv_i64(b, "state_size", t->state_size);
    cpj_kv_i64(b, "end_to_end_duration", t->e2e);
    cpj_kv_i64(b, "alignment_buffered", t->alignment_buffered);
    cpj_kv_i64(b, "processed_data", t->processed);
    cpj_kv_i64(b, "persisted_data", t->persisted);
    cpj_kv_i64(b, "num_subtasks", t->num_subtasks);
    cpj_kv_i64(b, "num_acknowledged_subtasks", t->num_acked);
}

void cpw_flink_write_cp(cpw_buf *b, const cpw_flink_cp *cp)
{
    const char *cls = cpw_flink_class_name(cp->cls);
    cpj_lit(b, "{\"className\":");
    cpj_str(b, cls ? cls : "in_progress");
    cpj_kv_i64(b, "id", cp->id);
    cpj_kv_str(b, "status", status_or(cp->status));
    cpj_kv_bool(b, "is_savepoint", cp->is_savepoint);
    cpj_key(b, "savepointFormat");
    w_str_or_null(b, cp->savepoint_format[0] ? cp->savepoint_format : NULL);
    cpj_kv_i64(b, "trigger_timestamp", cp->trigger_ts);
    cpj_kv_i64(b, "latest_ack_timestamp", cp->latest_ack_ts);
    if (cp->has_checkpointed_size)
        cpj_kv_i64(b, "checkpointed_size", cp->checkpointed_size);
    cpj_kv_i64(b, "state_size", cp->state_size);
    cpj_kv_i64(b, "end_to_end_duration", cp->e2e);
    cpj_kv_i64(b, "alignment_buffered", cp->alignment_buffered);
    cpj_kv_i64(b, "processed_data", cp->processed);
    cpj_kv_i64(b, "persisted_data", cp->persisted);
    cpj_kv_i64(b, "num_subtasks", cp->num_subtasks);
    cpj_kv_i64(b, "num_acknowledged_subtasks", cp->num_acked);
    cpj_kv_str(b, "checkpoint_type", cp->checkpoint_type[0] ? cp->checkpoint_type : "CHECKPOINT");
    cpj_key(b, "tasks");
    cpj_char(b, '{');
    for (int i = 0; i < cp->n_tasks; i++) {
        if (i)
            cpj_char(b, ',');
        cpj_str(b, cp->tasks[i].vertex);
        cpj_char(b, ':');
        w_task_open(b, &cp->tasks[i]);
        cpj_char(b, '}');
    }
    cpj_char(b, '}');
    if (cp->cls == CPW_FLINK_COMPLETED) {
        cpj_key(b, "external_path");
        w_str_or_null(b, cp->external_path);
        cpj_kv_bool(b, "discarded", cp->discarded);
    } else if (cp->cls == CPW_FLINK_FAILED) {
        cpj_kv_i64(b, "failure_timestamp", cp->failure_ts);
        cpj_key(b, "failure_message");
        w_str_or_null(b, cp->failure_message);
    }
    cpj_char(b, '}');
}

static void w_kv_cp_or_null(cpw_buf *b, const char *key, const cpw_flink_cp *cp)
{
    cpj_key(b, key);
    if (cp)
        cpw_flink_write_cp(b, cp);
    else
        cpj_lit(b, "null");
}

void cpw_flink_write_stats(cpw_buf *b, const cpw_flink_stats *s)
{
    const cpw_flink_counts *c = &s->counts;
    cpj_lit(b, "{\"counts\":{\"restored\":");
    cpj_i64(b, c->restored);
    cpj_kv_i64(b, "total", c->total);
    cpj_kv_i64(b, "in_progress", c->in_progress);
    cpj_kv_i64(b, "completed", c->completed);
    cpj_kv_i64(b, "failed", c->failed);
    cpj_lit(b, "},\"summary\":{");
    if (s->has_checkpointed_size) {
        cpj_lit(b, "\"checkpointed_size\":");
        w_stat(b, &s->checkpointed_size);
        cpj_char(b, ',');
    }
    cpj_lit(b, "\"state_size\":");
    w_stat(b, &s->state_size);
    w_kv_stat(b, "end_to_end_duration", &s->e2e);
    w_kv_stat(b, "alignment_buffered", &s->alignment_buffered);
    w_kv_stat(b, "processed_data", &s->processed);
    w_kv_stat(b, "persisted_data", &s->persisted);
    cpj_lit(b, "},\"latest\":{\"completed\":");
    if (s->latest_completed)
        cpw_flink_write_cp(b, s->latest_completed);
    else
        cpj_lit(b, "null");
    w_kv_cp_or_null(b, "savepoint", s->latest_savepoint);
    w_kv_cp_or_null(b, "failed", s->latest_failed);
    cpj_key(b, "restored");
    const cpw_flink_restored *r = s->latest_restored;
    if (r) {
        cpj_lit(b, "{\"id\":");
        cpj_i64(b, r->id);
        cpj_kv_i64(b, "restore_timestamp", r->restore_ts);
        cpj_kv_bool(b, "is_savepoint", r->is_savepoint);
        cpj_key(b, "external_path");
        w_str_or_null(b, r->external_path);
        cpj_char(b, '}');
    } else {
        cpj_lit(b, "null");
    }
    cpj_lit(b, "},\"history\":[");
    for (int i = 0; i < s->n_history; i++) {
        if (i)
            cpj_char(b, ',');
        size_t len;
        const char *json = s->history_json ? s->history_json(s->history_opaque, i, &len) : NULL;
        if (json) {
            cpj_raw(b, json, len);
        } else if (s->history_at) {
            cpw_flink_cp tmp;
            memset(&tmp, 0, sizeof tmp);
            s->history_at(s->history_opaque, i, &tmp);
            cpw_flink_write_cp(b, &tmp);
        } else {
            cpw_flink_write_cp(b, &s->history[i]);
        }
    }
    cpj_lit(b, "]}");
}

static void w_subtask(cpw_buf *b, const cpw_flink_subtask *u)
{
    cpj_lit(b, u->completed ? "{\"className\":\"completed\",\"index\":"
                            : "{\"className\":\"pending\",\"index\":");
    cpj_i64(b, u->index);
    if (!u->completed) {
        cpj_lit(b, ",\"status\":\"pending_or_failed\"}");
        return;
    }
    cpj_lit(b, ",\"status\":\"completed\"");
    cpj_kv_i64(b, "ack_timestamp", u->ack_ts);
    cpj_kv_i64(b, "end_to_end_duration", u->e2e);
    if (u->has_checkpointed_size)
        cpj_kv_i64(b, "checkpointed_size", u->checkpointed_size);
    cpj_kv_i64(b, "state_size", u->state_size);
    cpj_lit(b, ",\"checkpoint\":{\"sync\":");
    cpj_i64(b, u->sync);
    cpj_kv_i64(b, "async", u->async);
    cpj_lit(b, "},\"alignment\":{\"buffered\":");
    cpj_i64(b, u->align_buffered);
    cpj_kv_i64(b, "processed", u->align_processed);
    cpj_kv_i64(b, "persisted", u->align_persisted);
    cpj_kv_i64(b, "duration", u->align_duration);
    cpj_char(b, '}');
    cpj_kv_i64(b, "start_delay", u->start_delay);
    cpj_kv_bool(b, "unaligned_checkpoint", u->unaligned);
    cpj_kv_bool(b, "aborted", u->aborted);
    cpj_char(b, '}');
}

void cpw_flink_write_task_detail(cpw_buf *b, const cpw_flink_task_detail *d)
{
    w_task_open(b, &d->task);
    cpj_lit(b, ",\"summary\":{");
    if (d->has_checkpointed_size) {
        cpj_lit(b, "\"checkpointed_size\":");
        w_stat(b, &d->checkpointed_size);
        cpj_char(b, ',');
    }
    cpj_lit(b, "\"state_size\":");
    w_stat(b, &d->state_size);
    w_kv_stat(b, "end_to_end_duration", &d->e2e);
    cpj_lit(b, ",\"checkpoint_duration\":{\"sync\":");
    w_stat(b, &d->sync);
    w_kv_stat(b, "async", &d->async);
    cpj_lit(b, "},\"alignment\":{\"buffered\":");
    w_stat(b, &d->align_buffered);
    w_kv_stat(b, "processed", &d->align_processed);
    w_kv_stat(b, "persisted", &d->align_persisted);
    w_kv_stat(b, "duration", &d->align_duration);
    cpj_char(b, '}');
    w_kv_stat(b, "start_delay", &d->start_delay);
    cpj_lit(b, "},\"subtasks\":[");
    for (int i = 0; i < d->n_subtasks; i++) {
        if (i)
            cpj_char(b, ',');
        w_subtask(b, &d->subtasks[i]);
    }
    cpj_lit(b, "]}");
}

void cpw_flink_write_cp_config(cpw_buf *b, const cpw_flink_cp_config *c)
{
    cpj_lit(b, "{\"mode\":");
    cpj_str(b, c->mode);
    cpj_kv_i64(b, "interval", c->interval);
    cpj_kv_i64(b, "timeout", c->timeout);
    cpj_kv_i64(b, "min_pause", c->min_pause);
    cpj_kv_i64(b, "max_concurrent", c->max_concurrent);
    cpj_lit(b, ",\"externalization\":{\"enabled\":");
    cpj_lit(b, c->ext_enabled ? "true" : "false");
    cpj_kv_bool(b, "delete_on_cancellation", c->ext_delete_on_cancellation);
    cpj_char(b, '}');
    cpj_kv_str(b, "state_backend", c->state_backend);
    cpj_kv_str(b, "checkpoint_storage", c->checkpoint_storage);
    cpj_kv_bool(b, "unaligned_checkpoints", c->unaligned);
    cpj_kv_i64(b, "tolerable_failed_checkpoints", c->tolerable_failed);
    cpj_kv_i64(b, "aligned_checkpoint_timeout", c->aligned_timeout);
    cpj_kv_bool(b, "checkpoints_after_tasks_finish", c->after_tasks_finish);
    cpj_kv_bool(b, "state_changelog_enabled", c->changelog_enabled);
    cpj_char(b, '}');
}

void cpw_flink_write_dashboard(cpw_buf *b, const cpw_flink_dashboard *d)
{
    cpj_lit(b, "{\"refresh-interval\":");
    cpj_i64(b, d->refresh_interval);
    cpj_kv_str(b, "timezone-name", d->timezone_name);
    cpj_kv_i64(b, "timezone-offset", d->timezone_offset);
    cpj_kv_str(b, "flink-version", d->flink_version);
    cpj_kv_str(b, "flink-revision", d->flink_revision);
    cpj_lit(b, ",\"features\":{\"web-submit\":");
    cpj_lit(b, d->web_submit ? "true" : "false");
    cpj_kv_bool(b, "web-cancel", d->web_cancel);
    cpj_kv_bool(b, "web-history", d->web_history);
    cpj_lit(b, "}}");
}

void cpw_flink_write_job_ids(cpw_buf *b, const cpw_flink_jobs *j)
{
    cpj_lit(b, "{\"jobs\":[");
    for (int i = 0; i < j->n; i++) {
        cpj_lit(b, i ? ",{\"id\":" : "{\"id\":");
        cpj_str(b, j->jobs[i].jid);
        cpj_kv_str(b, "status", j->jobs[i].state);
        cpj_char(b, '}');
    }
    cpj_lit(b, "]}");
}

/* "tasks" of an overview entry: lowercase state names after "total". */
static void w_task_counts_lower(cpw_buf *b, int32_t total, const int32_t *counts)
{
    cpj_lit(b, "{\"total\":");
    cpj_i64(b, total);
    for (int i = 0; i < CPW_FLINK_TASK_STATES; i++) {
        char key[24];
        const char *n = cpw_flink_task_state_names[i];
        size_t k = 0;
        for (; n[k] && k < sizeof key - 1; k++)
            key[k] = (char)(n[k] | 0x20);
        key[k] = '\0';
        cpj_kv_i64(b, key, counts[i]);
    }
    cpj_char(b, '}');
}

/* An object of uppercase state names: counts[0..n-1]. */
static void w_state_map(cpw_buf *b, const char *const *names, int n, const int64_t *v)
{
    for (int i = 0; i < n; i++) {
        cpj_lit(b, i ? ",\"" : "{\"");
        cpj_lit(b, names[i]);
        cpj_lit(b, "\":");
        cpj_i64(b, v[i]);
    }
    cpj_char(b, '}');
}

void cpw_flink_write_overview(cpw_buf *b, const cpw_flink_jobs *j)
{
    cpj_lit(b, "{\"jobs\":[");
    for (int i = 0; i < j->n; i++) {
        const cpw_flink_job *x = &j->jobs[i];
        cpj_lit(b, i ? ",{\"jid\":" : "{\"jid\":");
        cpj_str(b, x->jid);
        cpj_kv_str(b, "name", x->name);
        cpj_kv_str(b, "state", x->state);
        cpj_kv_i64(b, "start-time", x->start_time);
        cpj_kv_i64(b, "end-time", x->end_time);
        cpj_kv_i64(b, "duration", x->duration);
        cpj_kv_i64(b, "last-modification", x->last_modification);
        cpj_key(b, "tasks");
        w_task_counts_lower(b, x->tasks_total, x->tasks);
        cpj_char(b, '}');
    }
    cpj_lit(b, "]}");
}

static void w_vertex(cpw_buf *b, const cpw_flink_vertex *v)
{
    cpj_lit(b, "{\"id\":");
    cpj_str(b, v->id);
    cpj_kv_str(b, "name", v->name);
    cpj_kv_i64(b, "maxParallelism", v->max_parallelism);
    cpj_kv_i64(b, "parallelism", v->parallelism);
    cpj_kv_str(b, "status", v->status);
    cpj_kv_i64(b, "start-time", v->start_time);
    cpj_kv_i64(b, "end-time", v->end_time);
    cpj_kv_i64(b, "duration", v->duration);
    cpj_key(b, "tasks");
    int64_t t[CPW_FLINK_TASK_STATES];
    for (int i = 0; i < CPW_FLINK_TASK_STATES; i++)
        t[i] = v->tasks[i];
    w_state_map(b, cpw_flink_task_state_names, CPW_FLINK_TASK_STATES, t);
    cpj_lit(b, ",\"metrics\":{\"read-bytes\":");
    cpj_i64(b, v->read_bytes);
    cpj_lit(b, ",\"read-bytes-complete\":true");
    cpj_kv_i64(b, "write-bytes", v->write_bytes);
    cpj_lit(b, ",\"write-bytes-complete\":true");
    cpj_kv_i64(b, "read-records", v->read_records);
    cpj_lit(b, ",\"read-records-complete\":true");
    cpj_kv_i64(b, "write-records", v->write_records);
    cpj_lit(b, ",\"write-records-complete\":true");
    cpj_kv_i64(b, "accumulated-backpressured-time", v->backpressured_ms);
    cpj_kv_i64(b, "accumulated-idle-time", v->idle_ms);
    w_kv_double(b, "accumulated-busy-time", v->busy_ms);
    cpj_lit(b, "}}");
}

static void w_plan(cpw_buf *b, const cpw_flink_job_details *d)
{
    cpj_lit(b, "{\"jid\":");
    cpj_str(b, d->job.jid);
    cpj_kv_str(b, "name", d->job.name);
    cpj_lit(b, ",\"type\":\"STREAMING\",\"nodes\":[");
    for (int i = 0; i < d->n_vertices; i++) {
        const cpw_flink_vertex *v = &d->vertices[i];
        cpj_lit(b, i ? ",{\"id\":" : "{\"id\":");
        cpj_str(b, v->id);
        cpj_kv_i64(b, "parallelism", v->parallelism);
        cpj_lit(b, ",\"operator\":\"\",\"operator_strategy\":\"\"");
        cpj_kv_str(b, "description", v->name);
        int num = 0;
        for (int e = 0; e < d->n_edges; e++) {
            const cpw_flink_edge *x = &d->edges[e];
            if (x->to != i || x->from < 0 || x->from >= d->n_vertices)
                continue;
            cpj_lit(b, num ? ",{\"num\":" : ",\"inputs\":[{\"num\":");
            cpj_i64(b, num++);
            cpj_kv_str(b, "id", d->vertices[x->from].id);
            cpj_kv_str(b, "ship_strategy", x->ship_strategy);
            cpj_lit(b, ",\"exchange\":\"pipelined_bounded\"}");
        }
        if (num)
            cpj_char(b, ']');
        cpj_lit(b, ",\"optimizer_properties\":{}}");
    }
    cpj_lit(b, "]}");
}

void cpw_flink_write_job_details(cpw_buf *b, const cpw_flink_job_details *d)
{
    cpj_lit(b, "{\"jid\":");
    cpj_str(b, d->job.jid);
    cpj_kv_str(b, "name", d->job.name);
    cpj_kv_bool(b, "isStoppable", d->is_stoppable);
    cpj_kv_str(b, "state", d->job.state);
    cpj_kv_i64(b, "start-time", d->job.start_time);
    cpj_kv_i64(b, "end-time", d->job.end_time);
    cpj_kv_i64(b, "duration", d->job.duration);
    cpj_kv_i64(b, "maxParallelism", d->max_parallelism);
    cpj_kv_i64(b, "now", d->now);
    cpj_key(b, "timestamps");
    w_state_map(b, cpw_flink_job_state_names, CPW_FLINK_JOB_STATES, d->timestamps);
    cpj_lit(b, ",\"vertices\":[");
    int64_t counts[CPW_FLINK_TASK_STATES] = {0};
    for (int i = 0; i < d->n_vertices; i++) {
        if (i)
            cpj_char(b, ',');
        w_vertex(b, &d->vertices[i]);
        for (int k = 0; k < CPW_FLINK_TASK_STATES; k++)
            if (!strcmp(d->vertices[i].status, cpw_flink_task_state_names[k]))
                counts[k]++;
    }
    cpj_lit(b, "],\"status-counts\":");
    w_state_map(b, cpw_flink_task_state_names, CPW_FLINK_TASK_STATES, counts);
    cpj_lit(b, ",\"plan\":");
    w_plan(b, d);
    cpj_char(b, '}');
}

void cpw_flink_write_trigger(cpw_buf *b, const char *request_id)
{
    cpj_lit(b, "{\"request-id\":");
    cpj_str(b, request_id);
    cpj_char(b, '}');
}

void cpw_flink_write_op(cpw_buf *b, const cpw_flink_op *op)
{
    if (!op->completed) {
        cpj_lit(b, "{\"status\":{\"id\":\"IN_PROGRESS\"}}");
        return;
    }
    cpj_lit(b, "{\"status\":{\"id\":\"COMPLETED\"},\"operation\":{");
    if (op->failed) {
        cpj_lit(b, "\"failureCause\":{\"class\":");
        cpj_str(b, op->failure_class ? op->failure_class : "");
        cpj_kv_str(b, "stack-trace", op->failure_stack ? op->failure_stack : "");
        cpj_char(b, '}');
    } else if (op->location) {
        cpj_lit(b, "\"location\":");
        cpj_str(b, op->location);
    } else {
        cpj_lit(b, "\"checkpointId\":");
        cpj_i64(b, op->checkpoint_id);
    }
    cpj_lit(b, "}}");
}

void cpw_flink_write_error(cpw_buf *b, const char *message)
{
    cpj_lit(b, "{\"errors\":[");
    cpj_str(b, message);
    cpj_lit(b, "]}");
}
