/* cpw_flink_read.c — Flink REST JSON into cpw_flink values (see cpw_flink.h).
 * Hostile input: bounded sizes and counts, every type checked, strings cut
 * to their field. Tolerant of versions: "@class" or "className", "NaN"
 * percentiles, fields a version does not send yet. */
#include "cpw_flink_fx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ checkpoints */

static cpw_err r_stat(json_t *o, const char *k, cpw_flink_stat *out, bool *present,
                      cpw_error *err)
{
    json_t *s;
    *out = cpw_flink_stat_empty();
    out->has_pct = false;
    TRY(cpw_fx_obj(o, k, &s, present == NULL, err));
    if (present)
        *present = s != NULL;
    if (!s)
        return CPW_OK;
    TRY(cpw_fx_int(s, "min", &out->min, true, err));
    TRY(cpw_fx_int(s, "max", &out->max, true, err));
    TRY(cpw_fx_int(s, "avg", &out->avg, true, err));
    bool p;
    TRY(cpw_fx_num(s, "p50", &out->p50, &p, err));
    out->has_pct = p;
    TRY(cpw_fx_num(s, "p90", &out->p90, NULL, err));
    TRY(cpw_fx_num(s, "p95", &out->p95, NULL, err));
    TRY(cpw_fx_num(s, "p99", &out->p99, NULL, err));
    TRY(cpw_fx_num(s, "p999", &out->p999, NULL, err));
    return CPW_OK;
}

static cpw_err r_task(json_t *o, const char *vertex, cpw_flink_task *t, cpw_error *err)
{
    if (!json_is_object(o))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "tasks", "a task must be an object");
    if (!cpw_flink_parse_id(vertex, t->vertex))
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "tasks", "task key is not a 32-hex vertex id");
    TRY(cpw_fx_int(o, "id", &t->id, true, err));
    TRY(cpw_fx_status(o, "status", &t->status, err));
    t->latest_ack_ts = -1;
    TRY(cpw_fx_int(o, "latest_ack_timestamp", &t->latest_ack_ts, false, err));
    t->has_checkpointed_size = json_object_get(o, "checkpointed_size") != NULL;
    TRY(cpw_fx_int(o, "checkpointed_size", &t->checkpointed_size, false, err));
    TRY(cpw_fx_int(o, "state_size", &t->state_size, true, err));
    t->e2e = -1;
    TRY(cpw_fx_int(o, "end_to_end_duration", &t->e2e, false, err));
    TRY(cpw_fx_int(o, "alignment_buffered", &t->alignment_buffered, false, err));
    TRY(cpw_fx_int(o, "processed_data", &t->processed, false, err));
    TRY(cpw_fx_int(o, "persisted_data", &t->persisted, false, err));
    TRY(cpw_fx_i32(o, "num_subtasks", &t->num_subtasks, true, err));
    TRY(cpw_fx_i32(o, "num_acknowledged_subtasks", &t->num_acked, true, err));
    return CPW_OK;
}

static cpw_err r_class(json_t *o, cpw_flink_status status, cpw_flink_status *out,
                       cpw_error *err)
{
    /* "className" since 1.15, "@class" before */
    static const char *const keys[] = {"className", "@class"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char s[24];
        TRY(cpw_fx_str(o, keys[i], s, sizeof s, false, err));
        if (!s[0])
            continue;
        for (int c = 0; c < CPW_FLINK_STATUS__COUNT; c++)
            if (!strcmp(s, cpw_flink_class_name((cpw_flink_status)c))) {
                *out = (cpw_flink_status)c;
                return CPW_OK;
            }
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, keys[i], "unknown checkpoint class \"%s\"", s);
    }
    *out = status; /* no discriminator: the status says as much */
    return CPW_OK;
}

static cpw_err r_cp_fields(json_t *o, cpw_flink_cp *cp, cpw_error *err)
{
    if (!json_is_object(o))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "checkpoint", "a checkpoint must be an object");
    TRY(cpw_fx_int(o, "id", &cp->id, true, err));
    TRY(cpw_fx_status(o, "status", &cp->status, err));
    TRY(r_class(o, cp->status, &cp->cls, err));
    TRY(cpw_fx_bool(o, "is_savepoint", &cp->is_savepoint, err));
    TRY(cpw_fx_str(o, "savepointFormat", cp->savepoint_format, sizeof cp->savepoint_format, false, err));
    TRY(cpw_fx_int(o, "trigger_timestamp", &cp->trigger_ts, true, err));
    cp->latest_ack_ts = -1;
    TRY(cpw_fx_int(o, "latest_ack_timestamp", &cp->latest_ack_ts, false, err));
    cp->has_checkpointed_size = json_object_get(o, "checkpointed_size") != NULL;
    TRY(cpw_fx_int(o, "checkpointed_size", &cp->checkpointed_size, false, err));
    TRY(cpw_fx_int(o, "state_size", &cp->state_size, true, err));
    cp->e2e = -1;
    TRY(cpw_fx_int(o, "end_to_end_duration", &cp->e2e, false, err));
    TRY(cpw_fx_int(o, "alignment_buffered", &cp->alignment_buffered, false, err));
    TRY(cpw_fx_int(o, "processed_data", &cp->processed, false, err));
    TRY(cpw_fx_int(o, "persisted_data", &cp->persisted, false, err));
    TRY(cpw_fx_i32(o, "num_subtasks", &cp->num_subtasks, true, err));
    TRY(cpw_fx_i32(o, "num_acknowledged_subtasks", &cp->num_acked, true, err));
    TRY(cpw_fx_str(o, "checkpoint_type", cp->checkpoint_type, sizeof cp->checkpoint_type, false, err));
    TRY(cpw_fx_bool(o, "discarded", &cp->discarded, err));
    TRY(cpw_fx_strdup(o, "external_path", &cp->external_path, err));
    TRY(cpw_fx_int(o, "failure_timestamp", &cp->failure_ts, false, err));
    TRY(cpw_fx_strdup(o, "failure_message", &cp->failure_message, err));
    json_t *tasks;
    TRY(cpw_fx_obj(o, "tasks", &tasks, false, err));
    if (!tasks)
        return CPW_OK;
    size_t n = json_object_size(tasks);
    if (n > CPW_FLINK_MAX_VERTICES)
        return cpw_fail(err, CPW_ERR_TOO_MANY, 0, "tasks", "%zu tasks (limit %d)", n,
                        CPW_FLINK_MAX_VERTICES);
    if (n && !(cp->tasks = cpw_fx_alloc_n(n, sizeof *cp->tasks, "tasks", err)))
        return CPW_ERR_NOMEM;
    const char *key;
    json_t *v;
    json_object_foreach(tasks, key, v) {
        TRY(r_task(v, key, &cp->tasks[cp->n_tasks], err));
        cp->n_tasks++;
    }
    return CPW_OK;
}

void cpw_flink_cp_clear(cpw_flink_cp *cp)
{
    if (!cp)
        return;
    free(cp->tasks);
    free(cp->external_path);
    free(cp->failure_message);
    memset(cp, 0, sizeof *cp);
}

/* An optional checkpoint object (latest.completed, …) into a new value. */
static cpw_err r_cp_ptr(json_t *o, const char *k, cpw_flink_cp **out, cpw_error *err)
{
    json_t *v;
    TRY(cpw_fx_obj(o, k, &v, false, err));
    if (!v)
        return CPW_OK;
    if (!(*out = cpw_fx_alloc_n(1, sizeof **out, k, err)))
        return CPW_ERR_NOMEM;
    return r_cp_fields(v, *out, err);
}

static cpw_err r_stats(json_t *j, cpw_flink_stats *s, cpw_error *err)
{
    json_t *c, *sum, *latest, *hist;
    TRY(cpw_fx_obj(j, "counts", &c, true, err));
    TRY(cpw_fx_count(c, "restored", &s->counts.restored, false, err));
    TRY(cpw_fx_count(c, "total", &s->counts.total, true, err));
    TRY(cpw_fx_count(c, "in_progress", &s->counts.in_progress, true, err));
    TRY(cpw_fx_count(c, "completed", &s->counts.completed, true, err));
    TRY(cpw_fx_count(c, "failed", &s->counts.failed, true, err));
    TRY(cpw_fx_obj(j, "summary", &sum, true, err));
    TRY(r_stat(sum, "checkpointed_size", &s->checkpointed_size, &s->has_checkpointed_size, err));
    TRY(r_stat(sum, "state_size", &s->state_size, NULL, err));
    TRY(r_stat(sum, "end_to_end_duration", &s->e2e, NULL, err));
    bool p;
    TRY(r_stat(sum, "alignment_buffered", &s->alignment_buffered, &p, err));
    TRY(r_stat(sum, "processed_data", &s->processed, &p, err));
    TRY(r_stat(sum, "persisted_data", &s->persisted, &p, err));
    TRY(cpw_fx_obj(j, "latest", &latest, true, err));
    TRY(r_cp_ptr(latest, "completed", &s->latest_completed, err));
    TRY(r_cp_ptr(latest, "savepoint", &s->latest_savepoint, err));
    TRY(r_cp_ptr(latest, "failed", &s->latest_failed, err));
    json_t *r;
    TRY(cpw_fx_obj(latest, "restored", &r, false, err));
    if (r) {
        if (!(s->latest_restored = cpw_fx_alloc_n(1, sizeof *s->latest_restored, "restored", err)))
            return CPW_ERR_NOMEM;
        TRY(cpw_fx_int(r, "id", &s->latest_restored->id, true, err));
        TRY(cpw_fx_int(r, "restore_timestamp", &s->latest_restored->restore_ts, true, err));
        TRY(cpw_fx_bool(r, "is_savepoint", &s->latest_restored->is_savepoint, err));
        TRY(cpw_fx_strdup(r, "external_path", &s->latest_restored->external_path, err));
    }
    TRY(cpw_fx_arr(j, "history", &hist, CPW_FLINK_MAX_HISTORY, true, err));
    size_t n = json_array_size(hist);
    if (n && !(s->history = cpw_fx_alloc_n(n, sizeof *s->history, "history", err)))
        return CPW_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        s->n_history = (int)i + 1;
        TRY(r_cp_fields(json_array_get(hist, i), &s->history[i], err));
    }
    return CPW_OK;
}

void cpw_flink_stats_clear(cpw_flink_stats *s)
{
    if (!s)
        return;
    cpw_flink_cp *latest[] = {s->latest_completed, s->latest_savepoint, s->latest_failed};
    for (size_t i = 0; i < 3; i++) {
        cpw_flink_cp_clear(latest[i]);
        free(latest[i]);
    }
    if (s->latest_restored)
        free(s->latest_restored->external_path);
    free(s->latest_restored);
    for (int i = 0; i < s->n_history; i++)
        cpw_flink_cp_clear(&s->history[i]);
    free(s->history);
    memset(s, 0, sizeof *s);
}

cpw_err cpw_flink_read_stats(const char *buf, size_t len, cpw_flink_stats *out, cpw_error *err)
{
    READ_DOC(buf, len, out, cpw_flink_stats_clear, r_stats, err);
}

cpw_err cpw_flink_read_cp(const char *buf, size_t len, cpw_flink_cp *out, cpw_error *err)
{
    READ_DOC(buf, len, out, cpw_flink_cp_clear, r_cp_fields, err);
}

/* ------------------------------------------------------------------ subtasks */

static cpw_err r_subtask(json_t *o, cpw_flink_subtask *u, cpw_error *err)
{
    if (!json_is_object(o))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "subtasks", "a subtask must be an object");
    TRY(cpw_fx_i32(o, "index", &u->index, true, err));
    char st[24];
    TRY(cpw_fx_str(o, "status", st, sizeof st, true, err));
    u->completed = !strcmp(st, "completed");
    if (!u->completed)
        return CPW_OK; /* pending_or_failed: nothing else is sent */
    TRY(cpw_fx_int(o, "ack_timestamp", &u->ack_ts, true, err));
    TRY(cpw_fx_int(o, "end_to_end_duration", &u->e2e, false, err));
    u->has_checkpointed_size = json_object_get(o, "checkpointed_size") != NULL;
    TRY(cpw_fx_int(o, "checkpointed_size", &u->checkpointed_size, false, err));
    TRY(cpw_fx_int(o, "state_size", &u->state_size, false, err));
    json_t *c, *a;
    TRY(cpw_fx_obj(o, "checkpoint", &c, false, err));
    if (c) {
        TRY(cpw_fx_int(c, "sync", &u->sync, false, err));
        TRY(cpw_fx_int(c, "async", &u->async, false, err));
    }
    TRY(cpw_fx_obj(o, "alignment", &a, false, err));
    if (a) {
        TRY(cpw_fx_int(a, "buffered", &u->align_buffered, false, err));
        TRY(cpw_fx_int(a, "processed", &u->align_processed, false, err));
        TRY(cpw_fx_int(a, "persisted", &u->align_persisted, false, err));
        TRY(cpw_fx_int(a, "duration", &u->align_duration, false, err));
    }
    TRY(cpw_fx_int(o, "start_delay", &u->start_delay, false, err));
    TRY(cpw_fx_bool(o, "unaligned_checkpoint", &u->unaligned, err));
    TRY(cpw_fx_bool(o, "aborted", &u->aborted, err));
    return CPW_OK;
}

static cpw_err r_task_detail(json_t *j, cpw_flink_task_detail *d, cpw_error *err)
{
    cpw_flink_task *t = &d->task;
    TRY(cpw_fx_int(j, "id", &t->id, true, err));
    TRY(cpw_fx_status(j, "status", &t->status, err));
    t->latest_ack_ts = -1;
    TRY(cpw_fx_int(j, "latest_ack_timestamp", &t->latest_ack_ts, false, err));
    t->has_checkpointed_size = json_object_get(j, "checkpointed_size") != NULL;
    TRY(cpw_fx_int(j, "checkpointed_size", &t->checkpointed_size, false, err));
    TRY(cpw_fx_int(j, "state_size", &t->state_size, true, err));
    t->e2e = -1;
    TRY(cpw_fx_int(j, "end_to_end_duration", &t->e2e, false, err));
    TRY(cpw_fx_int(j, "alignment_buffered", &t->alignment_buffered, false, err));
    TRY(cpw_fx_int(j, "processed_data", &t->processed, false, err));
    TRY(cpw_fx_int(j, "persisted_data", &t->persisted, false, err));
    TRY(cpw_fx_i32(j, "num_subtasks", &t->num_subtasks, true, err));
    TRY(cpw_fx_i32(j, "num_acknowledged_subtasks", &t->num_acked, true, err));
    json_t *s, *cd, *al, *subs;
    TRY(cpw_fx_obj(j, "summary", &s, true, err));
    TRY(r_stat(s, "checkpointed_size", &d->checkpointed_size, &d->has_checkpointed_size, err));
    TRY(r_stat(s, "state_size", &d->state_size, NULL, err));
    TRY(r_stat(s, "end_to_end_duration", &d->e2e, NULL, err));
    TRY(cpw_fx_obj(s, "checkpoint_duration", &cd, true, err));
    TRY(r_stat(cd, "sync", &d->sync, NULL, err));
    TRY(r_stat(cd, "async", &d->async, NULL, err));
    TRY(cpw_fx_obj(s, "alignment", &al, true, err));
    bool p;
    TRY(r_stat(al, "buffered", &d->align_buffered, &p, err));
    TRY(r_stat(al, "processed", &d->align_processed, &p, err));
    TRY(r_stat(al, "persisted", &d->align_persisted, &p, err));
    TRY(r_stat(al, "duration", &d->align_duration, NULL, err));
    TRY(r_stat(s, "start_delay", &d->start_delay, &p, err));
    TRY(cpw_fx_arr(j, "subtasks", &subs, CPW_FLINK_MAX_SUBTASKS, true, err));
    size_t n = json_array_size(subs);
    if (n && !(d->subtasks = cpw_fx_alloc_n(n, sizeof *d->subtasks, "subtasks", err)))
        return CPW_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        d->n_subtasks = (int)i + 1;
        TRY(r_subtask(json_array_get(subs, i), &d->subtasks[i], err));
    }
    return CPW_OK;
}

void cpw_flink_task_detail_clear(cpw_flink_task_detail *d)
{
    if (!d)
        return;
    free(d->subtasks);
    memset(d, 0, sizeof *d);
}

cpw_err cpw_flink_read_task_detail(const char *buf, size_t len, cpw_flink_task_detail *out,
                                   cpw_error *err)
{
    READ_DOC(buf, len, out, cpw_flink_task_detail_clear, r_task_detail, err);
}

/* ------------------------------------------------------------------ config */

static cpw_err r_cp_config(json_t *j, cpw_flink_cp_config *c, cpw_error *err)
{
    TRY(cpw_fx_str(j, "mode", c->mode, sizeof c->mode, true, err));
    for (char *p = c->mode; *p; p++) /* "EXACTLY_ONCE" in the spec, lowercase in practice */
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p | 0x20);
    TRY(cpw_fx_int(j, "interval", &c->interval, true, err));
    TRY(cpw_fx_int(j, "timeout", &c->timeout, true, err));
    TRY(cpw_fx_int(j, "min_pause", &c->min_pause, false, err));
    c->max_concurrent = 1;
    TRY(cpw_fx_int(j, "max_concurrent", &c->max_concurrent, false, err));
    json_t *x;
    TRY(cpw_fx_obj(j, "externalization", &x, false, err));
    if (x) {
        TRY(cpw_fx_bool(x, "enabled", &c->ext_enabled, err));
        TRY(cpw_fx_bool(x, "delete_on_cancellation", &c->ext_delete_on_cancellation, err));
    }
    TRY(cpw_fx_str(j, "state_backend", c->state_backend, sizeof c->state_backend, false, err));
    TRY(cpw_fx_str(j, "checkpoint_storage", c->checkpoint_storage, sizeof c->checkpoint_storage,
              false, err));
    TRY(cpw_fx_bool(j, "unaligned_checkpoints", &c->unaligned, err));
    TRY(cpw_fx_int(j, "tolerable_failed_checkpoints", &c->tolerable_failed, false, err));
    TRY(cpw_fx_int(j, "aligned_checkpoint_timeout", &c->aligned_timeout, false, err));
    TRY(cpw_fx_bool(j, "checkpoints_after_tasks_finish", &c->after_tasks_finish, err));
    TRY(cpw_fx_bool(j, "state_changelog_enabled", &c->changelog_enabled, err));
    return CPW_OK;
}

cpw_err cpw_flink_read_cp_config(const char *buf, size_t len, cpw_flink_cp_config *out,
                                 cpw_error *err)
{
    READ_DOC(buf, len, out, cpw_fx_no_clear, r_cp_config, err);
}

static cpw_err r_dashboard(json_t *j, cpw_flink_dashboard *d, cpw_error *err)
{
    TRY(cpw_fx_int(j, "refresh-interval", &d->refresh_interval, false, err));
    TRY(cpw_fx_str(j, "timezone-name", d->timezone_name, sizeof d->timezone_name, false, err));
    TRY(cpw_fx_int(j, "timezone-offset", &d->timezone_offset, false, err));
    TRY(cpw_fx_str(j, "flink-version", d->flink_version, sizeof d->flink_version, true, err));
    TRY(cpw_fx_str(j, "flink-revision", d->flink_revision, sizeof d->flink_revision, false, err));
    json_t *f;
    TRY(cpw_fx_obj(j, "features", &f, false, err));
    if (f) {
        TRY(cpw_fx_bool(f, "web-submit", &d->web_submit, err));
        TRY(cpw_fx_bool(f, "web-cancel", &d->web_cancel, err));
        TRY(cpw_fx_bool(f, "web-history", &d->web_history, err));
    }
    if (sscanf(d->flink_version, "%d.%d", &d->version_major, &d->version_minor) != 2)
        d->version_major = d->version_minor = 0;
    return CPW_OK;
}

cpw_err cpw_flink_read_dashboard(const char *buf, size_t len, cpw_flink_dashboard *out,
                                 cpw_error *err)
{
    READ_DOC(buf, len, out, cpw_fx_no_clear, r_dashboard, err);
}

