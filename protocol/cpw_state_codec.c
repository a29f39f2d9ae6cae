/* cpw_state_codec.c — a checkpoint state as JSON (the get_state result,
 * PROTOCOL.md §11): the encoder and the hostile-input decoder. */
#include "cpw_hello.h"
#include "cpw_json.h"
#include "cpw_jx.h"
#include "cpw_state.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ encode */

/* A timestamp as µs after base: one before it (clock skew between threads,
 * or a missed cp_triggered) is sent as 0 so that the reply stays
 * decodable, one not reached as -1. */
static char *put_rel(char *o, int64_t ts, int64_t base)
{
    *o++ = ',';
    return cpj_put_i64(o, ts ? (ts > base ? ts - base : 0) : -1);
}

/* One subtask's row. Written at a cursor into room reserved once per row
 * (a keyframe of the recorder holds thousands of rows: a reserve per
 * number was a third of its encoding). */
static void enc_sub(cpw_buf *b, const cpw_sub *u, int64_t base)
{
    const char *phase = cpw_phase_name(u->phase);
    size_t np = strlen(phase), nr = strnlen(u->reason, sizeof u->reason);
    /* two strings (6n + 2 each), two brackets, 20 commas, 19 numbers of at
     * most 20 characters */
    if (!cpw_buf_reserve(b, 6 * (np + nr) + 4 + 2 + 20 + 19 * 20))
        return;
    char *o = b->data + b->len;
    *o++ = '[';
    o = cpj_put_str(o, phase, np);
    *o++ = ',';
    o = cpj_put_i64(o, u->barriers);
    const int64_t ts[] = {u->barrier_ts, u->align_start_ts, u->align_end_ts, u->snap_start_ts,
                          u->sync_done_ts, u->async_done_ts, u->ack_ts};
    for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++)
        o = put_rel(o, ts[k], base);
    const int64_t v[] = {u->buffered_bytes, u->state_size, u->checkpointed_size,
                         u->processed_data, u->persisted_data, u->start_delay_us,
                         u->alignment_us, u->sync_us, u->async_us, u->unaligned};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        *o++ = ',';
        o = cpj_put_i64(o, v[k]);
    }
    *o++ = ',';
    o = cpj_put_str(o, u->reason, nr);
    o = put_rel(o, u->switch_ts, base);
    *o++ = ']';
    *o = '\0';
    b->len = (size_t)(o - b->data);
}

static void enc_cp(cpw_buf *b, const cpw_state *s, const cpw_cp *cp)
{
    cpj_lit(b, "{\"id\":");
    cpj_i64(b, cp->id);
    cpj_kv_str(b, "status", cpw_cp_status_name(cp->status));
    cpj_kv_str(b, "kind", cp->kind == CPW_TRIGGER_MANUAL ? "manual" : "periodic");
    cpj_kv_i64(b, "trigger_ts_us", cp->trigger_ts);
    cpj_kv_i64(b, "end_ts_us", cp->end_ts);
    cpj_kv_i64(b, "latest_ack_ts_us", cp->latest_ack_ts);
    cpj_kv_i64(b, "duration_us", cp->duration_us);
    cpj_kv_i64(b, "state_size", cp->state_size);
    cpj_kv_i64(b, "checkpointed_size", cp->checkpointed_size);
    cpj_kv_i64(b, "alignment_us", cp->alignment_us);
    const char *al = cpw_alignment_name((cpw_alignment)cp->alignment);
    cpj_kv_str(b, "alignment", al ? al : "aligned");
    cpj_kv_str(b, "type", cpw_cp_type_name((cpw_cp_type)cp->type));
    cpj_kv_i64(b, "persisted_data", cp->persisted_data);
    cpj_kv_i64(b, "acks", cp->acks);
    cpj_kv_i64(b, "declines", cp->declines);
    cpj_kv_i64(b, "total", cp->total);
    cpj_key(b, "reason");
    /* a reason the job passed out of range is unknown (null), not "" */
    const char *rn = cp->reason >= 0 ? cpw_failure_reason_name((cpw_failure_reason)cp->reason) : NULL;
    if (rn)
        cpj_str(b, rn);
    else
        cpj_lit(b, "null");
    cpj_kv_str(b, "message", cp->message);
    cpj_kv_bool(b, "committed", cp->committed);
    if (cp->subs && cp->total == s->n_subtasks) {
        /* one row per subtask in topology order; timestamps are µs after
         * trigger_ts_us, -1 when not reached (see PROTOCOL.md) */
        cpj_key(b, "subtasks");
        cpj_char(b, '[');
        for (int i = 0; i < cp->total; i++) {
            if (i)
                cpj_char(b, ',');
            enc_sub(b, &cp->subs[i], cp->trigger_ts);
        }
        cpj_char(b, ']');
    }
    cpj_char(b, '}');
}

void cpw_state_encode(cpw_buf *b, const cpw_state *s, int history)
{
    const cpw_hello *h = &s->hello;
    cpj_lit(b, "{\"job\":");
    cpj_str(b, s->job);
    cpj_kv_u64(b, "seq", s->seq);
    cpw_hello_write_members(b, h);
    const char *st = cpw_job_status_name((cpw_job_status)s->status);
    cpj_kv_str(b, "status", st ? st : "created");
    cpj_kv_str(b, "status_message", s->status_message);
    cpj_kv_i64(b, "restored_from", s->restored_from);
    cpj_kv_i64(b, "restore_attempt", s->restore_attempt);
    cpj_kv_i64(b, "last_restore_ts_us", s->last_restore_ts);
    cpj_key(b, "counts");
    cpj_lit(b, "{\"total\":");
    cpj_i64(b, s->counts.total);
    cpj_kv_i64(b, "in_progress", s->counts.in_progress);
    cpj_kv_i64(b, "completed", s->counts.completed);
    cpj_kv_i64(b, "failed", s->counts.failed);
    cpj_kv_i64(b, "restored", s->counts.restored);
    cpj_char(b, '}');
    cpj_kv_i64(b, "consecutive_failures", s->consecutive_failures);
    cpj_kv_i64(b, "latest_completed_id", s->latest_completed_id);
    cpj_kv_i64(b, "latest_completed_ts_us", s->latest_completed_ts);
    cpj_kv_i64(b, "last_trigger_ts_us", s->last_trigger_ts);
    cpj_kv_i64(b, "ignored", s->ignored);
    cpj_key(b, "agent");
    cpj_lit(b, "{\"emitted\":");
    cpj_u64(b, s->agent_emitted);
    cpj_kv_u64(b, "sent", s->agent_sent);
    cpj_kv_u64(b, "dropped", s->agent_dropped);
    cpj_char(b, '}');
    cpj_key(b, "inflight");
    cpj_char(b, '[');
    for (int i = 0; i < s->n_inflight; i++) {
        if (i)
            cpj_char(b, ',');
        enc_cp(b, s, &s->inflight[i]);
    }
    cpj_char(b, ']');
    cpj_key(b, "history");
    cpj_char(b, '[');
    int n = (history < 0 || history > s->n_history) ? s->n_history : history;
    for (int i = 0; i < n; i++) {
        if (i)
            cpj_char(b, ',');
        enc_cp(b, s, cpw_state_history(s, i));
    }
    cpj_lit(b, "]}");
}

/* ------------------------------------------------------------------ decode */

#define TRY(x) do { cpw_err e_ = (x); if (e_) return e_; } while (0)

static cpw_err dec_i64(json_t *o, const char *k, int64_t min, int64_t *out, cpw_error *err)
{
    return cpw_jx_int(o, k, min, INT64_MAX, out, true, err);
}

/* Row index 20, the switch to unaligned (relative µs or -1), came with
 * unaligned checkpoints: a row of 20 values has none. */
static cpw_err dec_switch(json_t *row, cpw_sub *u, int64_t base, size_t idx, cpw_error *err)
{
    json_t *x = json_array_get(row, 20);
    if (!x)
        return CPW_OK;
    if (!json_is_integer(x))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "subtasks",
                        "subtasks[%zu][20] must be an integer", idx);
    int64_t v = json_integer_value(x);
    if (v < -1 || v > INT64_MAX - base)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "subtasks", "subtasks[%zu][20] out of range",
                        idx);
    u->switch_ts = v < 0 ? 0 : base + v;
    return CPW_OK;
}

static cpw_err dec_sub(json_t *row, cpw_sub *u, int64_t base, size_t idx, cpw_error *err)
{
    if (!json_is_array(row) || json_array_size(row) < 20 || json_array_size(row) > 21)
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "subtasks",
                        "subtasks[%zu] must be an array of 20 or 21 values", idx);
    json_t *ph = json_array_get(row, 0);
    if (!json_is_string(ph))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "subtasks", "subtasks[%zu][0] must be a phase name", idx);
    int p = cpw_phase_from_name(json_string_value(ph), json_string_length(ph));
    if (p < 0)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "subtasks", "subtasks[%zu]: unknown phase", idx);
    u->phase = (uint8_t)p;
    int64_t v[18];
    for (int k = 0; k < 18; k++) {
        json_t *x = json_array_get(row, (size_t)k + 1);
        if (!json_is_integer(x))
            return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "subtasks",
                            "subtasks[%zu][%d] must be an integer", idx, k + 1);
        v[k] = json_integer_value(x);
        int64_t min = (k >= 1 && k <= 7) ? -1 : 0;
        if (v[k] < min || (k == 0 && v[k] > UINT16_MAX) || (k == 17 && v[k] > 1))
            return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "subtasks",
                            "subtasks[%zu][%d] out of range", idx, k + 1);
    }
    json_t *r = json_array_get(row, 19);
    if (!json_is_string(r))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "subtasks", "subtasks[%zu][19] must be a string", idx);
    if (json_string_length(r) >= sizeof u->reason)
        return cpw_fail(err, CPW_ERR_STRING_TOO_LONG, 0, "subtasks", "subtasks[%zu]: reason too long", idx);
    memcpy(u->reason, json_string_value(r), json_string_length(r) + 1);
    u->barriers = (uint16_t)v[0];
    int64_t *ts[] = {&u->barrier_ts, &u->align_start_ts, &u->align_end_ts, &u->snap_start_ts,
                     &u->sync_done_ts, &u->async_done_ts, &u->ack_ts};
    for (int k = 0; k < 7; k++) {
        if (v[k + 1] > INT64_MAX - base)
            return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "subtasks",
                            "subtasks[%zu][%d] out of range", idx, k + 2);
        *ts[k] = v[k + 1] < 0 ? 0 : base + v[k + 1];
    }
    u->buffered_bytes = v[8];
    u->state_size = v[9];
    u->checkpointed_size = v[10];
    u->processed_data = v[11];
    u->persisted_data = v[12];
    u->start_delay_us = v[13];
    u->alignment_us = v[14];
    u->sync_us = v[15];
    u->async_us = v[16];
    u->unaligned = (uint8_t)v[17];
    return dec_switch(row, u, base, idx, err);
}

/* alignment, type and persisted_data came with unaligned checkpoints:
 * optional, an aligned checkpoint without them. */
static cpw_err dec_unaligned(json_t *o, cpw_cp *cp, cpw_error *err)
{
    char name[24] = "";
    TRY(cpw_jx_str(o, "alignment", name, sizeof name, false, err));
    int a = name[0] ? cpw_alignment_from_name(name, strlen(name)) : CPW_ALIGN_ALIGNED;
    if (a < 0)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "alignment", "unknown alignment \"%s\"", name);
    cp->alignment = (uint8_t)a;
    name[0] = '\0';
    TRY(cpw_jx_str(o, "type", name, sizeof name, false, err));
    int t = name[0] ? cpw_cp_type_from_name(name, strlen(name)) : CPW_CPT_ALIGNED;
    if (t < 0)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "type", "unknown checkpoint type \"%s\"", name);
    cp->type = (uint8_t)t;
    return cpw_jx_int(o, "persisted_data", 0, INT64_MAX, &cp->persisted_data, false, err);
}

static cpw_err dec_cp(json_t *o, cpw_cp *cp, int n_subtasks, cpw_error *err)
{
    if (!json_is_object(o))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "checkpoint", "a checkpoint must be an object");
    int64_t v;
    TRY(dec_i64(o, "id", 1, &cp->id, err));
    char st[16];
    TRY(cpw_jx_str(o, "status", st, sizeof st, true, err));
    if (!strcmp(st, "in_progress"))
        cp->status = CPW_CP_IN_PROGRESS;
    else if (!strcmp(st, "completed"))
        cp->status = CPW_CP_COMPLETED;
    else if (!strcmp(st, "failed"))
        cp->status = CPW_CP_FAILED;
    else
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "status", "unknown checkpoint status \"%s\"", st);
    char kind[16];
    TRY(cpw_jx_str(o, "kind", kind, sizeof kind, true, err));
    if (strcmp(kind, "manual") && strcmp(kind, "periodic"))
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "kind", "field \"kind\" must be periodic or manual");
    cp->kind = !strcmp(kind, "manual") ? CPW_TRIGGER_MANUAL : CPW_TRIGGER_PERIODIC;
    TRY(dec_i64(o, "trigger_ts_us", 0, &cp->trigger_ts, err));
    TRY(dec_i64(o, "end_ts_us", 0, &cp->end_ts, err));
    TRY(dec_i64(o, "latest_ack_ts_us", 0, &cp->latest_ack_ts, err));
    TRY(dec_i64(o, "duration_us", 0, &cp->duration_us, err));
    TRY(dec_i64(o, "state_size", 0, &cp->state_size, err));
    TRY(dec_i64(o, "checkpointed_size", 0, &cp->checkpointed_size, err));
    TRY(cpw_jx_int(o, "alignment_us", 0, INT64_MAX, &cp->alignment_us, false, err));
    TRY(dec_unaligned(o, cp, err));
    TRY(cpw_jx_int(o, "acks", 0, CPW_MAX_SUBTASKS, &v, true, err));
    cp->acks = (int32_t)v;
    TRY(cpw_jx_int(o, "declines", 0, CPW_MAX_SUBTASKS, &v, true, err));
    cp->declines = (int32_t)v;
    TRY(cpw_jx_int(o, "total", 0, CPW_MAX_SUBTASKS, &v, true, err));
    cp->total = (int32_t)v;
    json_t *r = json_object_get(o, "reason");
    cp->reason = -1;
    if (r && !json_is_null(r)) {
        if (!json_is_string(r))
            return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "reason", "field \"reason\" must be a string or null");
        int ri = cpw_failure_reason_from_name(json_string_value(r), json_string_length(r));
        if (ri < 0)
            return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "reason", "unknown failure reason");
        cp->reason = (int8_t)ri;
    }
    TRY(cpw_jx_str(o, "message", cp->message, sizeof cp->message, false, err));
    json_t *c = json_object_get(o, "committed");
    if (c && !json_is_boolean(c))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "committed", "field \"committed\" must be a boolean");
    cp->committed = c && json_is_true(c);
    json_t *subs = json_object_get(o, "subtasks");
    if (subs) {
        if (!json_is_array(subs))
            return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "subtasks", "field \"subtasks\" must be an array");
        size_t n = json_array_size(subs);
        if (n != (size_t)n_subtasks || cp->total != n_subtasks)
            return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "subtasks",
                            "checkpoint %lld has %zu subtask rows, topology has %d",
                            (long long)cp->id, n, n_subtasks);
        if (n) {
            cp->subs = calloc(n, sizeof *cp->subs);
            if (!cp->subs)
                return cpw_fail(err, CPW_ERR_NOMEM, 0, "", "out of memory");
        }
        for (size_t i = 0; i < n; i++)
            TRY(dec_sub(json_array_get(subs, i), &cp->subs[i], cp->trigger_ts, i, err));
    }
    return CPW_OK;
}

static cpw_err dec_state(json_t *j, cpw_state *s, cpw_error *err)
{
    int64_t v;
    TRY(cpw_jx_str(j, "job", s->job, sizeof s->job, true, err));
    TRY(cpw_jx_int(j, "seq", 0, INT64_MAX, &v, true, err));
    s->seq = (uint64_t)v;
    TRY(cpw_hello_read_members(j, &s->hello, err));
    cpw_state_reindex(s);
    char st[24];
    TRY(cpw_jx_str(j, "status", st, sizeof st, true, err));
    int si = cpw_job_status_from_name(st, strlen(st));
    if (si < 0)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "status", "unknown job status \"%s\"", st);
    s->status = si;
    TRY(cpw_jx_str(j, "status_message", s->status_message, sizeof s->status_message, false, err));
    TRY(cpw_jx_int(j, "restored_from", -1, INT64_MAX, &s->restored_from, true, err));
    TRY(cpw_jx_int(j, "restore_attempt", 0, INT32_MAX, &v, true, err));
    s->restore_attempt = (int32_t)v;
    TRY(cpw_jx_int(j, "last_restore_ts_us", 0, INT64_MAX, &s->last_restore_ts, false, err));
    json_t *c = json_object_get(j, "counts");
    if (!json_is_object(c))
        return cpw_fail(err, c ? CPW_ERR_WRONG_TYPE : CPW_ERR_MISSING_FIELD, 0, "counts",
                        "field \"counts\" must be an object");
    TRY(dec_i64(c, "total", 0, &s->counts.total, err));
    TRY(dec_i64(c, "in_progress", 0, &s->counts.in_progress, err));
    TRY(dec_i64(c, "completed", 0, &s->counts.completed, err));
    TRY(dec_i64(c, "failed", 0, &s->counts.failed, err));
    TRY(dec_i64(c, "restored", 0, &s->counts.restored, err));
    TRY(cpw_jx_int(j, "consecutive_failures", 0, INT32_MAX, &v, true, err));
    s->consecutive_failures = (int32_t)v;
    TRY(dec_i64(j, "latest_completed_id", 0, &s->latest_completed_id, err));
    TRY(dec_i64(j, "latest_completed_ts_us", 0, &s->latest_completed_ts, err));
    TRY(dec_i64(j, "last_trigger_ts_us", 0, &s->last_trigger_ts, err));
    TRY(cpw_jx_int(j, "ignored", 0, INT64_MAX, &s->ignored, false, err));
    json_t *ag = json_object_get(j, "agent");
    if (ag) {
        if (!json_is_object(ag))
            return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "agent", "field \"agent\" must be an object");
        TRY(dec_i64(ag, "emitted", 0, &v, err));
        s->agent_emitted = (uint64_t)v;
        TRY(dec_i64(ag, "sent", 0, &v, err));
        s->agent_sent = (uint64_t)v;
        TRY(dec_i64(ag, "dropped", 0, &v, err));
        s->agent_dropped = (uint64_t)v;
    }
    json_t *inf = json_object_get(j, "inflight");
    if (!json_is_array(inf))
        return cpw_fail(err, inf ? CPW_ERR_WRONG_TYPE : CPW_ERR_MISSING_FIELD, 0, "inflight",
                        "field \"inflight\" must be an array");
    if (json_array_size(inf) > CPW_MAX_INFLIGHT)
        return cpw_fail(err, CPW_ERR_TOO_MANY, 0, "inflight", "more than %d checkpoints in flight",
                        CPW_MAX_INFLIGHT);
    for (size_t i = 0; i < json_array_size(inf); i++) {
        s->n_inflight = (int)i + 1;
        TRY(dec_cp(json_array_get(inf, i), &s->inflight[i], s->n_subtasks, err));
    }
    json_t *hist = json_object_get(j, "history");
    if (!json_is_array(hist))
        return cpw_fail(err, hist ? CPW_ERR_WRONG_TYPE : CPW_ERR_MISSING_FIELD, 0, "history",
                        "field \"history\" must be an array");
    size_t n = json_array_size(hist);
    if (n > (size_t)s->history_cap)
        return cpw_fail(err, CPW_ERR_TOO_MANY, 0, "history", "more than %d history entries",
                        s->history_cap);
    /* newest first on the wire; the ring's head is the newest */
    for (size_t i = 0; i < n; i++) {
        size_t k = n - 1 - i;
        s->history_head = (int)i;
        s->n_history = (int)i + 1;
        TRY(dec_cp(json_array_get(hist, k), &s->history[i], s->n_subtasks, err));
        if (s->history[i].id > s->history_max_id)
            s->history_max_id = s->history[i].id;
    }
    return CPW_OK;
}

cpw_state *cpw_state_decode_json(const void *json_obj, cpw_error *err)
{
    json_t *j = (json_t *)json_obj;
    if (!json_is_object(j)) {
        cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "result", "state must be an object");
        return NULL;
    }
    json_t *hist = json_object_get(j, "history");
    size_t n = json_is_array(hist) ? json_array_size(hist) : 0;
    if (n > CPW_MAX_HISTORY) {
        cpw_fail(err, CPW_ERR_TOO_MANY, 0, "history", "more than %d history entries",
                 CPW_MAX_HISTORY);
        return NULL;
    }
    cpw_state *s = cpw_state_new(n > 64 ? (int)n : 64, n > 64 ? (int)n : 64);
    if (!s) {
        cpw_fail(err, CPW_ERR_NOMEM, 0, "", "out of memory");
        return NULL;
    }
    if (dec_state(j, s, err)) {
        cpw_state_free(s);
        return NULL;
    }
    return s;
}
