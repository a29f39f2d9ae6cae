/* cpw_decode.c — hostile-input decoder for frames and messages.
 *
 * Events (the hot path, up to millions a second) are read straight from the
 * streaming parser's spans; hello, heartbeat, commands and replies are
 * decoded with jansson from the object's span once the streaming parser has
 * vouched for its syntax, size and depth. */
#include "cpw_hello.h"
#include "cpw_json.h"
#include "cpw_jx.h"
#include "cpw_pack.h"
#include "cpw_state.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void cpw_msg_clear(cpw_msg *m)
{
    if (!m)
        return;
    free(m->hello);
    free(m->heartbeat.subtasks);
    free(m->cmd);
    if (m->reply) {
        cpw_state_free(m->reply->state);
        free(m->reply);
    }
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------- span fields */

static cpw_err need(const cpj_obj *o, const char *key, cpj_type type, const cpj_field **out,
                    const char *buf, cpw_error *err)
{
    const cpj_field *f = cpj_get(o, key);
    if (!f)
        return cpw_fail(err, CPW_ERR_MISSING_FIELD, o->start, key,
                        "required field \"%s\" is missing", key);
    if (f->type != type && !(type == CPJ_TRUE && f->type == CPJ_FALSE))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, (size_t)(f->val - buf), key,
                        "field \"%s\" has the wrong type", key);
    *out = f;
    return CPW_OK;
}

static cpw_err get_i64(const cpj_obj *o, const char *buf, const char *key, int64_t min,
                       int64_t max, int64_t *out, cpw_error *err)
{
    const cpj_field *f = NULL;
    cpw_err e = need(o, key, CPJ_NUMBER, &f, buf, err);
    if (e)
        return e;
    int64_t v;
    e = cpj_int(f, &v);
    if (e || v < min || v > max)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, (size_t)(f->val - buf), key,
                        "field \"%s\" must be an integer in [%lld, %lld]", key,
                        (long long)min, (long long)max);
    *out = v;
    return CPW_OK;
}

static cpw_err get_i32(const cpj_obj *o, const char *buf, const char *key, int64_t min,
                       int64_t max, int32_t *out, cpw_error *err)
{
    int64_t v;
    cpw_err e = get_i64(o, buf, key, min, max, &v, err);
    if (!e)
        *out = (int32_t)v;
    return e;
}

static cpw_err get_str(const cpj_obj *o, const char *buf, const char *key, char *out,
                       size_t size, cpw_error *err)
{
    const cpj_field *f = NULL;
    cpw_err e = need(o, key, CPJ_STRING, &f, buf, err);
    if (e)
        return e;
    e = cpj_unescape(f, out, size);
    if (e == CPW_ERR_STRING_TOO_LONG)
        return cpw_fail(err, e, (size_t)(f->val - buf), key,
                        "field \"%s\" longer than %zu bytes", key, size - 1);
    if (e == CPW_ERR_NUL_BYTE)
        return cpw_fail(err, e, (size_t)(f->val - buf), key, "field \"%s\" contains \\u0000", key);
    if (e)
        return cpw_fail(err, e, (size_t)(f->val - buf), key,
                        "field \"%s\" has an unpaired surrogate escape", key);
    return CPW_OK;
}

static cpw_err get_bool(const cpj_obj *o, const char *buf, const char *key, int32_t *out,
                        cpw_error *err)
{
    const cpj_field *f = NULL;
    cpw_err e = need(o, key, CPJ_TRUE, &f, buf, err);
    if (!e)
        *out = f->type == CPJ_TRUE;
    return e;
}

#define I64MAXV INT64_MAX
#define TRY(x) do { cpw_err e_ = (x); if (e_) return e_; } while (0)

static cpw_err get_opsub(const cpj_obj *o, const char *buf, cpw_event *ev, bool allow_none,
                         cpw_error *err)
{
    TRY(get_i32(o, buf, "op", allow_none ? -1 : 0, CPW_MAX_OPERATORS - 1, &ev->op, err));
    TRY(get_i32(o, buf, "subtask", allow_none ? -1 : 0, CPW_MAX_PARALLELISM - 1, &ev->subtask,
                err));
    return CPW_OK;
}

static cpw_err get_id(const cpj_obj *o, const char *buf, cpw_event *ev, int64_t min,
                      cpw_error *err)
{
    return get_i64(o, buf, "id", min, I64MAXV, &ev->cp_id, err);
}

/* cp_triggered's "alignment": optional (agents before it sent none: aligned). */
static cpw_err get_alignment(const cpj_obj *o, const char *buf, cpw_event *ev, cpw_error *err)
{
    ev->u.triggered.alignment = CPW_ALIGN_ALIGNED;
    if (!cpj_get(o, "alignment"))
        return CPW_OK;
    char a[24];
    TRY(get_str(o, buf, "alignment", a, sizeof a, err));
    int ai = cpw_alignment_from_name(a, strlen(a));
    if (ai < 0)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, o->start, "alignment",
                        "field \"alignment\" must be \"aligned\", \"unaligned\" or "
                        "\"aligned_timeout\"");
    ev->u.triggered.alignment = (cpw_alignment)ai;
    return CPW_OK;
}

/* cp_triggered's members: the id, the kind and the alignment. */
static cpw_err get_triggered(const cpj_obj *o, const char *buf, cpw_event *ev, cpw_error *err)
{
    TRY(get_id(o, buf, ev, 1, err));
    char kind[16];
    TRY(get_str(o, buf, "kind", kind, sizeof kind, err));
    if (!strcmp(kind, "periodic"))
        ev->u.triggered.kind = CPW_TRIGGER_PERIODIC;
    else if (!strcmp(kind, "manual"))
        ev->u.triggered.kind = CPW_TRIGGER_MANUAL;
    else
        return cpw_fail(err, CPW_ERR_BAD_VALUE, o->start, "kind",
                        "field \"kind\" must be \"periodic\" or \"manual\"");
    return get_alignment(o, buf, ev, err);
}

/* An acknowledgement's members: where from, the sizes and the phases. */
static cpw_err get_ack(const cpj_obj *o, const char *buf, cpw_event *ev, cpw_error *err)
{
    cpw_ack_info *a = &ev->u.ack;
    TRY(get_id(o, buf, ev, 1, err));
    TRY(get_opsub(o, buf, ev, false, err));
    TRY(get_i64(o, buf, "state_size", 0, I64MAXV, &a->state_size, err));
    TRY(get_i64(o, buf, "checkpointed_size", 0, I64MAXV, &a->checkpointed_size, err));
    TRY(get_i64(o, buf, "processed_data", 0, I64MAXV, &a->processed_data, err));
    TRY(get_i64(o, buf, "persisted_data", 0, I64MAXV, &a->persisted_data, err));
    TRY(get_i64(o, buf, "start_delay_us", 0, I64MAXV, &a->start_delay_us, err));
    TRY(get_i64(o, buf, "alignment_us", 0, I64MAXV, &a->alignment_us, err));
    TRY(get_i64(o, buf, "sync_us", 0, I64MAXV, &a->sync_us, err));
    TRY(get_i64(o, buf, "async_us", 0, I64MAXV, &a->async_us, err));
    return get_bool(o, buf, "unaligned", &a->unaligned, err);
}

static cpw_err decode_event(const cpj_obj *o, const char *buf, cpw_event_type t, cpw_event *ev,
                            cpw_error *err)
{
    memset(ev, 0, sizeof *ev);
    ev->type = t;
    ev->op = -1;
    ev->subtask = -1;
    switch (t) {
    case CPW_EV_CP_TRIGGERED:
        TRY(get_triggered(o, buf, ev, err));
        break;
    case CPW_EV_BARRIER_INJECTED:
    case CPW_EV_ALIGNMENT_START:
    case CPW_EV_SNAPSHOT_START:
        TRY(get_id(o, buf, ev, 1, err));
        TRY(get_opsub(o, buf, ev, false, err));
        break;
    case CPW_EV_BARRIER_RECEIVED:
        TRY(get_id(o, buf, ev, 1, err));
        TRY(get_opsub(o, buf, ev, false, err));
        TRY(get_i32(o, buf, "channel", 0, CPW_MAX_PARALLELISM * 4, &ev->u.barrier.channel, err));
        break;
    case CPW_EV_ALIGNMENT_END:
        TRY(get_id(o, buf, ev, 1, err));
        TRY(get_opsub(o, buf, ev, false, err));
        TRY(get_i64(o, buf, "buffered_bytes", 0, I64MAXV, &ev->u.alignment.buffered_bytes, err));
        TRY(get_i64(o, buf, "duration_us", 0, I64MAXV, &ev->u.alignment.duration_us, err));
        break;
    case CPW_EV_SNAPSHOT_SYNC_DONE:
        TRY(get_id(o, buf, ev, 1, err));
        TRY(get_opsub(o, buf, ev, false, err));
        TRY(get_i64(o, buf, "duration_us", 0, I64MAXV, &ev->u.sync.duration_us, err));
        break;
    case CPW_EV_SNAPSHOT_ASYNC_DONE:
        TRY(get_id(o, buf, ev, 1, err));
        TRY(get_opsub(o, buf, ev, false, err));
        TRY(get_i64(o, buf, "bytes", 0, I64MAXV, &ev->u.async.bytes, err));
        TRY(get_i64(o, buf, "duration_us", 0, I64MAXV, &ev->u.async.duration_us, err));
        break;
    case CPW_EV_ACK:
        TRY(get_ack(o, buf, ev, err));
        break;
    case CPW_EV_DECLINE:
        TRY(get_id(o, buf, ev, 1, err));
        TRY(get_opsub(o, buf, ev, false, err));
        TRY(get_str(o, buf, "reason", ev->u.decline.reason, CPW_TEXT_MAX, err));
        break;
    case CPW_EV_CP_COMPLETED:
        TRY(get_id(o, buf, ev, 1, err));
        TRY(get_i64(o, buf, "duration_us", 0, I64MAXV, &ev->u.completed.duration_us, err));
        TRY(get_i64(o, buf, "state_size", 0, I64MAXV, &ev->u.completed.state_size, err));
        TRY(get_i64(o, buf, "checkpointed_size", 0, I64MAXV, &ev->u.completed.checkpointed_size,
                    err));
        break;
    case CPW_EV_CP_FAILED: {
        TRY(get_id(o, buf, ev, 1, err));
        char r[48];
        TRY(get_str(o, buf, "reason", r, sizeof r, err));
        int ri = cpw_failure_reason_from_name(r, strlen(r));
        if (ri < 0)
            return cpw_fail(err, CPW_ERR_BAD_VALUE, o->start, "reason",
                            "field \"reason\": unknown failure reason");
        ev->u.failed.reason = (cpw_failure_reason)ri;
        TRY(get_str(o, buf, "message", ev->u.failed.message, CPW_TEXT_MAX, err));
        break;
    }
    case CPW_EV_CP_COMMITTED:
        TRY(get_id(o, buf, ev, 1, err));
        break;
    case CPW_EV_JOB_STATUS: {
        char s[24];
        TRY(get_str(o, buf, "status", s, sizeof s, err));
        int si = cpw_job_status_from_name(s, strlen(s));
        if (si < 0)
            return cpw_fail(err, CPW_ERR_BAD_VALUE, o->start, "status",
                            "field \"status\": unknown job status");
        ev->u.job_status.status = (cpw_job_status)si;
        TRY(get_str(o, buf, "message", ev->u.job_status.message, CPW_TEXT_MAX, err));
        break;
    }
    case CPW_EV_RESTORED:
        TRY(get_id(o, buf, ev, 0, err));
        TRY(get_i32(o, buf, "attempt", 0, INT32_MAX, &ev->u.restored.attempt, err));
        break;
    case CPW_EV_FAILURE_INJECTED:
        TRY(get_str(o, buf, "kind", ev->u.failure.kind, CPW_KIND_MAX, err));
        TRY(get_opsub(o, buf, ev, true, err));
        TRY(get_str(o, buf, "params", ev->u.failure.params, CPW_TEXT_MAX, err));
        break;
    case CPW_EV_TASK_FAILED:
        TRY(get_opsub(o, buf, ev, false, err));
        TRY(get_str(o, buf, "error", ev->u.task_failed.error, CPW_TEXT_MAX, err));
        break;
    case CPW_EV_SWITCHED_TO_UNALIGNED:
        TRY(get_id(o, buf, ev, 1, err));
        TRY(get_opsub(o, buf, ev, false, err));
        TRY(get_i64(o, buf, "elapsed_us", 0, I64MAXV, &ev->u.switched.elapsed_us, err));
        TRY(get_i64(o, buf, "timeout_us", 0, I64MAXV, &ev->u.switched.timeout_us, err));
        break;
    default:
        return cpw_fail(err, CPW_ERR_UNKNOWN_TYPE, o->start, "type", "unknown event type");
    }
    return CPW_OK;
}

/* --------------------------------------------------- jansson-decoded kinds */

static cpw_err decode_hello(json_t *j, cpw_msg *m, cpw_error *err)
{
    cpw_hello *h = calloc(1, sizeof *h);
    if (!h)
        return cpw_fail(err, CPW_ERR_NOMEM, 0, "", "out of memory");
    m->hello = h;
    int64_t pid;
    TRY(cpw_jx_int(j, "pid", 0, INT32_MAX, &pid, true, err)); /* required in a hello */
    return cpw_hello_read_members(j, h, err);
}

static cpw_err decode_heartbeat(json_t *j, cpw_msg *m, cpw_error *err)
{
    cpw_heartbeat *hb = &m->heartbeat;
    json_t *ag = json_object_get(j, "agent");
    if (ag) {
        if (!json_is_object(ag))
            return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "agent", "field \"agent\" must be an object");
        int64_t v;
        TRY(cpw_jx_int(ag, "emitted", 0, INT64_MAX, &v, true, err));
        hb->emitted = (uint64_t)v;
        TRY(cpw_jx_int(ag, "sent", 0, INT64_MAX, &v, true, err));
        hb->sent = (uint64_t)v;
        TRY(cpw_jx_int(ag, "dropped", 0, INT64_MAX, &v, true, err));
        hb->dropped = (uint64_t)v;
    }
    json_t *subs = json_object_get(j, "subtasks");
    if (!subs)
        return cpw_fail(err, CPW_ERR_MISSING_FIELD, 0, "subtasks",
                        "required field \"subtasks\" is missing");
    if (!json_is_array(subs))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "subtasks", "field \"subtasks\" must be an array");
    size_t n = json_array_size(subs);
    if (n > CPW_MAX_SUBTASKS)
        return cpw_fail(err, CPW_ERR_TOO_MANY, 0, "subtasks", "more than %d subtasks",
                        CPW_MAX_SUBTASKS);
    hb->subtasks = n ? calloc(n, sizeof *hb->subtasks) : NULL;
    if (n && !hb->subtasks)
        return cpw_fail(err, CPW_ERR_NOMEM, 0, "", "out of memory");
    static const int64_t lim[6][2] = {{0, CPW_MAX_OPERATORS - 1}, {0, CPW_MAX_PARALLELISM - 1},
                                      {0, INT64_MAX}, {0, INT64_MAX}, {0, 1000}, {0, 1}};
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(subs, i);
        if (!json_is_array(row) || json_array_size(row) != 6)
            return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "subtasks",
                            "subtasks[%zu] must be an array of 6 integers", i);
        int64_t v[6];
        for (int k = 0; k < 6; k++) {
            json_t *x = json_array_get(row, (size_t)k);
            if (!json_is_integer(x))
                return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "subtasks",
                                "subtasks[%zu][%d] must be an integer", i, k);
            v[k] = json_integer_value(x);
            if (v[k] < lim[k][0] || v[k] > lim[k][1])
                return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "subtasks",
                                "subtasks[%zu][%d] out of range", i, k);
        }
        cpw_subtask_metrics *s = &hb->subtasks[i];
        s->op = (int32_t)v[0];
        s->subtask = (int32_t)v[1];
        s->records_in = v[2];
        s->records_out = v[3];
        s->queue_fill_permille = (int32_t)v[4];
        s->backpressured = (int32_t)v[5];
        hb->n = (int)i + 1;
    }
    return CPW_OK;
}

static cpw_err decode_kv_object(json_t *obj, const char *field, cpw_cmd *c, cpw_error *err)
{
    if (!json_is_object(obj))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, field, "field \"%s\" must be an object", field);
    if (json_object_size(obj) > CPW_CMD_MAX_PARAMS)
        return cpw_fail(err, CPW_ERR_TOO_MANY, 0, field, "more than %d entries in \"%s\"",
                        CPW_CMD_MAX_PARAMS, field);
    const char *k;
    json_t *v;
    c->n_params = 0;
    json_object_foreach(obj, k, v) {
        if (strlen(k) >= CPW_NAME_MAX)
            return cpw_fail(err, CPW_ERR_STRING_TOO_LONG, 0, field, "a key in \"%s\" is too long",
                            field);
        char *dst = c->values[c->n_params];
        if (json_is_string(v)) {
            if (json_string_length(v) >= CPW_VALUE_MAX)
                return cpw_fail(err, CPW_ERR_STRING_TOO_LONG, 0, k, "value of \"%s\" too long", k);
            memcpy(dst, json_string_value(v), json_string_length(v) + 1);
        } else if (json_is_integer(v)) {
            snprintf(dst, CPW_VALUE_MAX, "%lld", (long long)json_integer_value(v));
        } else if (json_is_boolean(v)) {
            snprintf(dst, CPW_VALUE_MAX, "%s", json_is_true(v) ? "true" : "false");
        } else {
            return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, k,
                            "value of \"%s\" must be a string, integer or boolean", k);
        }
        snprintf(c->keys[c->n_params], CPW_NAME_MAX, "%s", k);
        c->n_params++;
    }
    return CPW_OK;
}

/* Whether s is exactly n lowercase hex characters. */
static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

static cpw_err decode_command(json_t *j, cpw_msg *m, cpw_error *err)
{
    cpw_command *cmd = calloc(1, sizeof *cmd);
    if (!cmd)
        return cpw_fail(err, CPW_ERR_NOMEM, 0, "", "out of memory");
    m->cmd = cmd;
    cmd->history = -1;
    cmd->c.op = cmd->c.subtask = -1;
    int64_t v;
    TRY(cpw_jx_int(j, "req", 0, INT64_MAX, &v, true, err));
    cmd->req = (uint64_t)v;
    char name[32];
    TRY(cpw_jx_str(j, "cmd", name, sizeof name, true, err));
    int t = cpw_command_from_name(name, strlen(name));
    if (t < 0)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "cmd", "unknown command \"%s\"", name);
    cmd->c.type = (cpw_cmd_type)t;
    TRY(cpw_jx_str(j, "instance", cmd->instance, sizeof cmd->instance, false, err));
    if (cmd->instance[0] && !lower_hex(cmd->instance, CPW_INSTANCE_HEX))
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "instance",
                        "field \"instance\" must be %d lowercase hex characters",
                        CPW_INSTANCE_HEX);
    TRY(cpw_jx_str(j, "nonce", cmd->nonce, sizeof cmd->nonce, false, err));
    json_t *mac = json_object_get(j, "mac");
    if (mac && !json_is_string(mac))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "mac", "field \"mac\" must be a string");
    cmd->has_mac = mac != NULL;
    json_t *args = json_object_get(j, "args");
    if (!args)
        args = json_object(); /* borrowed below; freed at end */
    else
        json_incref(args);
    cpw_err e = CPW_OK;
    if (!json_is_object(args)) {
        e = cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "args", "field \"args\" must be an object");
        goto out;
    }
    switch (cmd->c.type) {
    case CPW_CMD_GET_STATE:
        if ((e = cpw_jx_int(args, "history", 0, CPW_MAX_HISTORY, &v, false, err)) == CPW_OK &&
            json_object_get(args, "history"))
            cmd->history = (int)v;
        break;
    case CPW_CMD_TRIGGER:
    case CPW_CMD_CANCEL:
        break;
    case CPW_CMD_ABORT:
        if ((e = cpw_jx_int(args, "id", 1, INT64_MAX, &v, true, err)) == CPW_OK)
            cmd->c.cp_id = v;
        break;
    case CPW_CMD_INJECT_FAILURE: {
        if ((e = cpw_jx_str(args, "kind", cmd->c.kind, sizeof cmd->c.kind, true, err)))
            break;
        if ((e = cpw_jx_int(args, "op", -1, CPW_MAX_OPERATORS - 1, &v, false, err)))
            break;
        if (json_object_get(args, "op"))
            cmd->c.op = (int32_t)v;
        if ((e = cpw_jx_int(args, "subtask", -1, CPW_MAX_PARALLELISM - 1, &v, false, err)))
            break;
        if (json_object_get(args, "subtask"))
            cmd->c.subtask = (int32_t)v;
        json_t *p = json_object_get(args, "params");
        if (p)
            e = decode_kv_object(p, "params", &cmd->c, err);
        break;
    }
    case CPW_CMD_SET_CONFIG: {
        json_t *s = json_object_get(args, "settings");
        if (!s) {
            e = cpw_fail(err, CPW_ERR_MISSING_FIELD, 0, "settings",
                         "required field \"settings\" is missing");
            break;
        }
        if ((e = decode_kv_object(s, "settings", &cmd->c, err)))
            break;
        if (cmd->c.n_params == 0)
            e = cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "settings", "\"settings\" is empty");
        break;
    }
    default:
        break;
    }
out:
    json_decref(args);
    return e;
}

static cpw_err decode_reply(json_t *j, cpw_msg *m, cpw_error *err)
{
    cpw_reply *r = calloc(1, sizeof *r);
    if (!r)
        return cpw_fail(err, CPW_ERR_NOMEM, 0, "", "out of memory");
    m->reply = r;
    int64_t v;
    TRY(cpw_jx_int(j, "req", 0, INT64_MAX, &v, true, err));
    r->req = (uint64_t)v;
    json_t *ok = json_object_get(j, "ok");
    if (!ok)
        return cpw_fail(err, CPW_ERR_MISSING_FIELD, 0, "ok", "required field \"ok\" is missing");
    if (!json_is_boolean(ok))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "ok", "field \"ok\" must be a boolean");
    r->ok = json_is_true(ok);
    TRY(cpw_jx_str(j, "error", r->error, sizeof r->error, !r->ok, err));
    TRY(cpw_jx_str(j, "message", r->message, sizeof r->message, false, err));
    json_t *res = json_object_get(j, "result");
    if (res && !json_is_null(res)) {
        if (!json_is_object(res))
            return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "result", "field \"result\" must be an object");
        cpw_error local; /* the code must not depend on whether err was given */
        r->state = cpw_state_decode_json(res, err ? err : &local);
        if (!r->state)
            return err ? err->code : local.code;
    }
    return CPW_OK;
}

/* A number jansson cannot hold (above 2^63-1), read by the streaming
 * parser: where it is in the frame and its value. */
typedef struct wide_num {
    const char *val;
    size_t len;
    uint64_t v;
} wide_num;

/* Reads f (a member that is 0…2^64−1) into *w. */
static cpw_err read_wide(const cpj_field *f, const char *buf, const char *name, wide_num *w,
                         cpw_error *err)
{
    *w = (wide_num){0};
    if (!f || f->type != CPJ_NUMBER)
        return CPW_OK; /* absent or of the wrong type: jansson's reading says so */
    if (cpj_uint(f, &w->v))
        return cpw_fail(err, CPW_ERR_BAD_VALUE, (size_t)(f->val - buf), name,
                        "field \"%s\" must be a non-negative 64-bit integer", name);
    w->val = f->val;
    w->len = f->val_len;
    return CPW_OK;
}

/* The uint64 members of a hello, heartbeat, cmd or reply: the envelope's
 * seq (already read), a cmd's or reply's req, and a get_state result's seq. */
enum { W_SEQ, W_REQ, W_RESULT_SEQ, W__COUNT };

static cpw_err read_wides(const char *buf, const cpj_obj *o, const cpj_field *sf, cpw_msg *m,
                          wide_num *w, cpw_error *err)
{
    TRY(read_wide(sf, buf, "seq", &w[W_SEQ], err));
    const bool has_req = m->kind == CPW_K_COMMAND || m->kind == CPW_K_REPLY;
    TRY(read_wide(has_req ? cpj_get(o, "req") : NULL, buf, "req", &w[W_REQ], err));
    w[W_RESULT_SEQ] = (wide_num){0};
    const cpj_field *rf = m->kind == CPW_K_REPLY ? cpj_get(o, "result") : NULL;
    if (!rf || rf->type != CPJ_OBJECT)
        return CPW_OK;
    cpj_obj *res = malloc(sizeof *res);
    if (!res)
        return cpw_fail(err, CPW_ERR_NOMEM, o->start, "", "out of memory");
    size_t p = (size_t)(rf->val - buf);
    cpw_err e = cpj_parse_object(buf, o->end, &p, res, NULL);
    if (e == CPW_OK)
        e = read_wide(cpj_get(res, "seq"), buf, "seq", &w[W_RESULT_SEQ], err);
    else
        e = CPW_OK; /* what is wrong inside is jansson's and the state codec's to say */
    free(res);
    return e;
}

/*
 * hello, heartbeat, cmd and reply, decoded by jansson from the object's
 * bytes. jansson holds integers as int64, but seq and req range over
 * 0…2^64−1 (PROTOCOL.md §5, §9): they are read by the streaming parser,
 * and when one is above 2^63−1 jansson is given a copy showing it as 0;
 * the real value is put back after.
 */
static cpw_err decode_jansson(const char *buf, const cpj_obj *o, const cpj_field *sf,
                              cpw_err (*fn)(json_t *, cpw_msg *, cpw_error *), cpw_msg *m,
                              cpw_error *err)
{
    wide_num w[W__COUNT];
    TRY(read_wides(buf, o, sf, m, w, err));
    const char *text = buf + o->start;
    const size_t len = o->end - o->start;
    char *copy = NULL;
    for (int i = 0; i < W__COUNT; i++) {
        if (w[i].v <= (uint64_t)INT64_MAX)
            continue;
        if (!copy && !(copy = malloc(len)))
            return cpw_fail(err, CPW_ERR_NOMEM, o->start, "", "out of memory");
        if (text != copy)
            text = memcpy(copy, text, len);
        char *d = copy + (w[i].val - (buf + o->start));
        memset(d, ' ', w[i].len); /* "0" and spaces: the same length */
        d[0] = '0';
    }
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(copy);
    if (!j) {
        /* The streaming parser vouched for the grammar; what jansson can
         * still refuse is string content (\u0000, lone surrogates) or memory. */
        enum json_error_code jc = json_error_code(&je);
        cpw_err c = (jc == json_error_null_character || jc == json_error_null_byte_in_key)
                        ? CPW_ERR_NUL_BYTE
                  : jc == json_error_invalid_utf8 ? CPW_ERR_BAD_UTF8
                  : jc == json_error_out_of_memory ? CPW_ERR_NOMEM
                  : jc == json_error_duplicate_key ? CPW_ERR_DUPLICATE_KEY
                  : jc == json_error_numeric_overflow ? CPW_ERR_BAD_VALUE
                  /* jansson reports a lone surrogate escape as a syntax error */
                  : strstr(je.text, "invalid Unicode") ? CPW_ERR_BAD_UTF8
                  : CPW_ERR_SYNTAX;
        return cpw_fail(err, c, o->start + (size_t)(je.position > 0 ? je.position : 0), "",
                        "%s", je.text);
    }
    cpw_err e = fn(j, m, err);
    json_decref(j);
    if (e && err && err->offset == 0)
        err->offset = o->start;
    if (e)
        return e;
    if (w[W_REQ].val && m->kind == CPW_K_COMMAND)
        m->cmd->req = w[W_REQ].v;
    else if (w[W_REQ].val)
        m->reply->req = w[W_REQ].v;
    if (w[W_RESULT_SEQ].val && m->reply->state)
        m->reply->state->seq = w[W_RESULT_SEQ].v;
    return CPW_OK;
}

/* ------------------------------------------------------------------ message */

static cpw_err decode_obj(const char *buf, const cpj_obj *o, cpw_msg *m, cpw_error *err)
{
    memset(m, 0, sizeof *m);
    int64_t v;
    const cpj_field *f = cpj_get(o, "v");
    if (!f)
        return cpw_fail(err, CPW_ERR_MISSING_FIELD, o->start, "v", "required field \"v\" is missing");
    if (f->type != CPJ_NUMBER)
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, (size_t)(f->val - buf), "v",
                        "field \"v\" must be an integer");
    if (cpj_int(f, &v) || v < 1)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, (size_t)(f->val - buf), "v",
                        "field \"v\" must be a positive integer");
    if (v > CPW_VERSION)
        return cpw_fail(err, CPW_ERR_VERSION, (size_t)(f->val - buf), "v",
                        "protocol version %lld is newer than this build's %d; upgrade cptop",
                        (long long)v, CPW_VERSION);
    m->v = (int)v;
    char type[32];
    TRY(get_str(o, buf, "type", type, sizeof type, err));
    TRY(get_str(o, buf, "job", m->job, sizeof m->job, err));
    uint64_t seq;
    const cpj_field *sf = NULL;
    TRY(need(o, "seq", CPJ_NUMBER, &sf, buf, err));
    if (cpj_uint(sf, &seq))
        return cpw_fail(err, CPW_ERR_BAD_VALUE, (size_t)(sf->val - buf), "seq",
                        "field \"seq\" must be a non-negative 64-bit integer");
    m->seq = seq;
    TRY(get_i64(o, buf, "ts_us", 0, I64MAXV, &m->ts_us, err));

    int et = cpw_event_type_from_name(type, strlen(type));
    if (et > 0) {
        m->kind = CPW_K_EVENT;
        cpw_err e = decode_event(o, buf, (cpw_event_type)et, &m->ev, err);
        m->ev.ts_us = m->ts_us; /* an event's time is its envelope's */
        int want = cpw_pack_members((cpw_event_type)et);
        if (et == CPW_EV_CP_TRIGGERED && !cpj_get(o, "alignment"))
            want--; /* optional: absent reads as aligned, as packed */
        m->whole = !e && o->n == want;
        return e;
    }
    cpw_err (*fn)(json_t *, cpw_msg *, cpw_error *) = NULL;
    if (!strcmp(type, "hello")) {
        m->kind = CPW_K_HELLO;
        fn = decode_hello;
    } else if (!strcmp(type, "heartbeat")) {
        m->kind = CPW_K_HEARTBEAT;
        fn = decode_heartbeat;
    } else if (!strcmp(type, "cmd")) {
        m->kind = CPW_K_COMMAND;
        fn = decode_command;
    } else if (!strcmp(type, "reply")) {
        m->kind = CPW_K_REPLY;
        fn = decode_reply;
    } else {
        m->kind = CPW_K_UNKNOWN; /* the envelope above is valid */
        return cpw_fail(err, CPW_ERR_UNKNOWN_TYPE, o->start, "type", "unknown message type \"%s\"",
                        type);
    }
    return decode_jansson(buf, o, sf, fn, m, err);
}

cpw_err cpw_decode_one(const char *buf, size_t len, cpw_msg *out, cpw_error *err)
{
    memset(out, 0, sizeof *out);
    if (!buf)
        return cpw_fail(err, CPW_ERR_EMPTY, 0, "", "no message");
    TRY(cpj_prevalidate(buf, len, err));
    size_t p = 0;
    cpj_ws(buf, len, &p);
    if (p >= len)
        return cpw_fail(err, CPW_ERR_EMPTY, 0, "", "empty message");
    cpj_obj o;
    TRY(cpj_parse_object(buf, len, &p, &o, err));
    cpj_ws(buf, len, &p);
    if (p != len)
        return cpw_fail(err, CPW_ERR_TRAILING, p, "", "unexpected bytes after the message");
    cpw_err e = decode_obj(buf, &o, out, err);
    if (e)
        cpw_msg_clear(out);
    return e;
}

/* A frame being decoded: the messages decoded so far (not yet delivered). */
typedef struct frame {
    cpw_msg local[4];
    cpw_msg *msgs;
    size_t n, cap;
    size_t seen;            /* objects parsed, decodable or not */
    cpw_err first;          /* the first message that failed to decode */
    cpj_obj *o;             /* the parser's scratch object */
} frame;

static bool frame_init(frame *f, size_t len)
{
    f->msgs = f->local;
    f->n = f->seen = 0;
    f->cap = sizeof f->local / sizeof f->local[0];
    f->first = CPW_OK;
    /* no message is shorter than ~60 bytes: size the array once */
    size_t guess = len / 60 + 1;
    if (guess > CPW_MAX_BATCH)
        guess = CPW_MAX_BATCH;
    if (guess > f->cap) {
        cpw_msg *nm = malloc(guess * sizeof *nm);
        if (nm) {
            f->msgs = nm;
            f->cap = guess;
        }
    }
    f->o = malloc(sizeof *f->o);
    return f->o != NULL;
}

static void frame_free(frame *f)
{
    for (size_t k = 0; k < f->n; k++)
        cpw_msg_clear(&f->msgs[k]);
    if (f->msgs != f->local)
        free(f->msgs);
    free(f->o);
}

static bool frame_room(frame *f)
{
    if (f->n < f->cap)
        return true;
    cpw_msg *nm = malloc(2 * f->cap * sizeof *nm);
    if (!nm)
        return false;
    memcpy(nm, f->msgs, f->n * sizeof *nm);
    if (f->msgs != f->local)
        free(f->msgs);
    f->msgs = nm;
    f->cap *= 2;
    return true;
}

/* Parses and decodes the object at *p. A message that does not decode is
 * remembered (the first one's error is reported unless the frame turns out
 * malformed later) and dropped; one of an unknown type is kept with its
 * envelope (a newer agent's message). Returns only framing errors. */
static cpw_err frame_next(frame *f, const char *buf, size_t len, size_t *p, cpw_error *err)
{
    if (f->seen >= CPW_MAX_BATCH)
        return cpw_fail(err, CPW_ERR_TOO_MANY, *p, "", "more than %d messages in one frame",
                        CPW_MAX_BATCH);
    TRY(cpj_parse_object(buf, len, p, f->o, err));
    f->seen++;
    if (!frame_room(f))
        return cpw_fail(err, CPW_ERR_NOMEM, 0, "", "out of memory");
    cpw_error scratch;
    cpw_msg *m = &f->msgs[f->n];
    cpw_err e = decode_obj(buf, f->o, m, f->first ? &scratch : err);
    m->at = f->o->start;
    m->span = f->o->end - f->o->start;
    if (e == CPW_ERR_UNKNOWN_TYPE && m->kind == CPW_K_UNKNOWN) {
        f->n++;
    } else if (e) {
        if (!f->first)
            f->first = e;
        cpw_msg_clear(m);
    } else {
        f->n++;
    }
    return CPW_OK;
}

/* After a message: in an array a ',' (more) or ']' (the end, *done set);
 * in NDJSON the next object must start on a new line (or the input ends). */
static cpw_err frame_separator(bool array, const char *buf, size_t len, size_t *p, bool *done,
                               cpw_error *err)
{
    if (array) {
        cpj_ws(buf, len, p);
        if (*p >= len)
            return cpw_fail(err, CPW_ERR_TRUNCATED, len, "", "input ends inside the batch array");
        if (buf[*p] == ',' || buf[*p] == ']') {
            *done = buf[*p] == ']';
            (*p)++;
            return CPW_OK;
        }
        return cpw_fail(err, CPW_ERR_SYNTAX, *p, "", "expected ',' or ']' in the batch array");
    }
    size_t q = *p;
    bool newline = false;
    while (q < len && (buf[q] == ' ' || buf[q] == '\t' || buf[q] == '\r' || buf[q] == '\n')) {
        if (buf[q] == '\n')
            newline = true;
        q++;
    }
    if (q < len && !newline)
        return cpw_fail(err, CPW_ERR_TRAILING, q, "", "unexpected bytes after a message");
    *p = q;
    *done = q >= len;
    return CPW_OK;
}

/* Hands every decoded message to cb, in order, until cb asks to stop. */
static void frame_deliver(frame *f, cpw_msg_cb cb, void *opaque, size_t *count)
{
    size_t i = 0;
    for (; i < f->n; i++) {
        if (count)
            (*count)++;
        int stop = cb ? cb(opaque, &f->msgs[i]) : 0;
        cpw_msg_clear(&f->msgs[i]);
        if (stop) {
            i++;
            break;
        }
    }
    for (; i < f->n; i++)
        cpw_msg_clear(&f->msgs[i]);
    f->n = 0;
}

/* One pass: each object is parsed and decoded once; only when the whole
 * frame has decoded are the messages delivered, so a frame with any bad
 * message delivers nothing. Messages of a type this build does not know
 * are delivered with their envelope (a newer agent may add types within
 * version 1). */
cpw_err cpw_decode_frame(const char *buf, size_t len, cpw_msg_cb cb, void *opaque,
                         size_t *count, cpw_error *err)
{
    if (count)
        *count = 0;
    if (!buf)
        return cpw_fail(err, CPW_ERR_EMPTY, 0, "", "no message");
    TRY(cpj_prevalidate(buf, len, err));
    size_t p = 0;
    cpj_ws(buf, len, &p);
    if (p >= len)
        return cpw_fail(err, CPW_ERR_EMPTY, 0, "", "empty frame");
    frame f;
    if (!frame_init(&f, len)) {
        frame_free(&f);
        return cpw_fail(err, CPW_ERR_NOMEM, 0, "", "out of memory");
    }
    cpw_err e = CPW_OK;
    bool array = buf[p] == '[', done = false;
    if (array) {
        p++;
        cpj_ws(buf, len, &p);
        if (p < len && buf[p] == ']') {
            p++;
            done = true;
        }
    }
    while (!done && !e) {
        cpj_ws(buf, len, &p);
        if (!array && p >= len)
            break;
        if (!(e = frame_next(&f, buf, len, &p, err)))
            e = frame_separator(array, buf, len, &p, &done, err);
    }
    cpj_ws(buf, len, &p);
    if (!e && p != len)
        e = cpw_fail(err, CPW_ERR_TRAILING, p, "", "unexpected bytes after the batch");
    if (!e && f.first)
        e = f.first; /* err already describes it */
    if (!e)
        frame_deliver(&f, cb, opaque, count);
    frame_free(&f);
    return e;
}
