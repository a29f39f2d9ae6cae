/* cpw_encode.c — message encoders (compact JSON; see PROTOCOL.md). */
#include "cpw_hello.h"
#include "cpw_json.h"
#include "cpw_state.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

/* The event encoder is the agent thread's hot path: one reservation, then
 * unchecked writes at a cursor. */
#define EVENT_MAX (600 + 6 * (CPW_MAX_JOB_ID + CPW_KIND_MAX + 2 * CPW_TEXT_MAX))

#define KV_I64(o, key, v) (CPJ_PUT(o, ",\"" key "\":"), (o) = cpj_put_i64((o), (v)))
#define KV_TEXT(o, key, field, max)                                           \
    (CPJ_PUT(o, ",\"" key "\":"), (o) = cpj_put_str((o), (field), strnlen((field), (max) - 1)))

static char *id_op_sub(char *o, const cpw_event *ev)
{
    KV_I64(o, "id", ev->cp_id);
    KV_I64(o, "op", ev->op);
    KV_I64(o, "subtask", ev->subtask);
    return o;
}

/* The members of one event type after the envelope; the buffer has room
 * for EVENT_MAX bytes. Returns the end. */
static char *put_event_members(char *o, const cpw_event *ev)
{
    switch (ev->type) {
    case CPW_EV_CP_TRIGGERED:
        KV_I64(o, "id", ev->cp_id);
        if (ev->u.triggered.kind == CPW_TRIGGER_MANUAL)
            CPJ_PUT(o, ",\"kind\":\"manual\"");
        else
            CPJ_PUT(o, ",\"kind\":\"periodic\"");
        if (ev->u.triggered.alignment == CPW_ALIGN_UNALIGNED)
            CPJ_PUT(o, ",\"alignment\":\"unaligned\"");
        else if (ev->u.triggered.alignment == CPW_ALIGN_TIMEOUT)
            CPJ_PUT(o, ",\"alignment\":\"aligned_timeout\"");
        else
            CPJ_PUT(o, ",\"alignment\":\"aligned\"");
        break;
    case CPW_EV_BARRIER_INJECTED:
    case CPW_EV_ALIGNMENT_START:
    case CPW_EV_SNAPSHOT_START:
        o = id_op_sub(o, ev);
        break;
    case CPW_EV_BARRIER_RECEIVED:
        o = id_op_sub(o, ev);
        KV_I64(o, "channel", ev->u.barrier.channel);
        break;
    case CPW_EV_ALIGNMENT_END:
        o = id_op_sub(o, ev);
        KV_I64(o, "buffered_bytes", ev->u.alignment.buffered_bytes);
        KV_I64(o, "duration_us", ev->u.alignment.duration_us);
        break;
    case CPW_EV_SNAPSHOT_SYNC_DONE:
        o = id_op_sub(o, ev);
        KV_I64(o, "duration_us", ev->u.sync.duration_us);
        break;
    case CPW_EV_SNAPSHOT_ASYNC_DONE:
        o = id_op_sub(o, ev);
        KV_I64(o, "bytes", ev->u.async.bytes);
        KV_I64(o, "duration_us", ev->u.async.duration_us);
        break;
    case CPW_EV_ACK: {
        const cpw_ack_info *a = &ev->u.ack;
        o = id_op_sub(o, ev);
        KV_I64(o, "state_size", a->state_size);
        KV_I64(o, "checkpointed_size", a->checkpointed_size);
        KV_I64(o, "processed_data", a->processed_data);
        KV_I64(o, "persisted_data", a->persisted_data);
        KV_I64(o, "start_delay_us", a->start_delay_us);
        KV_I64(o, "alignment_us", a->alignment_us);
        KV_I64(o, "sync_us", a->sync_us);
        KV_I64(o, "async_us", a->async_us);
        if (a->unaligned)
            CPJ_PUT(o, ",\"unaligned\":true");
        else
            CPJ_PUT(o, ",\"unaligned\":false");
        break;
    }
    case CPW_EV_DECLINE:
        o = id_op_sub(o, ev);
        KV_TEXT(o, "reason", ev->u.decline.reason, CPW_TEXT_MAX);
        break;
    case CPW_EV_CP_COMPLETED:
        KV_I64(o, "id", ev->cp_id);
        KV_I64(o, "duration_us", ev->u.completed.duration_us);
        KV_I64(o, "state_size", ev->u.completed.state_size);
        KV_I64(o, "checkpointed_size", ev->u.completed.checkpointed_size);
        break;
    case CPW_EV_CP_FAILED: {
        const char *r = cpw_failure_reason_name(ev->u.failed.reason);
        KV_I64(o, "id", ev->cp_id);
        r = r ? r : "CHECKPOINT_DECLINED";
        KV_TEXT(o, "reason", r, 64);
        KV_TEXT(o, "message", ev->u.failed.message, CPW_TEXT_MAX);
        break;
    }
    case CPW_EV_CP_COMMITTED:
        KV_I64(o, "id", ev->cp_id);
        break;
    case CPW_EV_JOB_STATUS: {
        const char *st = cpw_job_status_name(ev->u.job_status.status);
        st = st ? st : "running";
        KV_TEXT(o, "status", st, 32);
        KV_TEXT(o, "message", ev->u.job_status.message, CPW_TEXT_MAX);
        break;
    }
    case CPW_EV_RESTORED:
        KV_I64(o, "id", ev->cp_id);
        KV_I64(o, "attempt", ev->u.restored.attempt);
        break;
    case CPW_EV_FAILURE_INJECTED:
        KV_TEXT(o, "kind", ev->u.failure.kind, CPW_KIND_MAX);
        KV_I64(o, "op", ev->op);
        KV_I64(o, "subtask", ev->subtask);
        KV_TEXT(o, "params", ev->u.failure.params, CPW_TEXT_MAX);
        break;
    case CPW_EV_TASK_FAILED:
        KV_I64(o, "op", ev->op);
        KV_I64(o, "subtask", ev->subtask);
        KV_TEXT(o, "error", ev->u.task_failed.error, CPW_TEXT_MAX);
        break;
    case CPW_EV_SWITCHED_TO_UNALIGNED:
        o = id_op_sub(o, ev);
        KV_I64(o, "elapsed_us", ev->u.switched.elapsed_us);
        KV_I64(o, "timeout_us", ev->u.switched.timeout_us);
        break;
    default:
        break;
    }
    return o;
}

void cpw_encode_event(cpw_buf *b, const cpw_envelope *env, const cpw_event *ev)
{
    const char *name = cpw_event_type_name(ev->type);
    if (!name) {
        b->failed = true; /* the agent never queues an untyped event */
        return;
    }
    if (!cpw_buf_reserve(b, EVENT_MAX))
        return;
    char *o = b->data + b->len;
    CPJ_PUT(o, "{\"v\":1,\"type\":\"");
    size_t nl = strlen(name);
    memcpy(o, name, nl);
    o += nl;
    CPJ_PUT(o, "\",\"job\":");
    const char *job = env->job ? env->job : "";
    o = cpj_put_str(o, job, strnlen(job, CPW_MAX_JOB_ID - 1));
    CPJ_PUT(o, ",\"seq\":");
    o = cpj_put_u64(o, env->seq);
    KV_I64(o, "ts_us", env->ts_us);
    o = put_event_members(o, ev);
    *o++ = '}';
    *o = '\0';
    b->len = (size_t)(o - b->data);
}

void cpw_encode_hello(cpw_buf *b, const cpw_envelope *env, const cpw_hello *h)
{
    cpj_envelope(b, "hello", env);
    cpw_hello_write_members(b, h);
    cpj_char(b, '}');
}

void cpw_encode_heartbeat(cpw_buf *b, const cpw_envelope *env, const cpw_heartbeat *hb)
{
    cpj_envelope(b, "heartbeat", env);
    cpj_key(b, "agent");
    cpj_lit(b, "{\"emitted\":");
    cpj_u64(b, hb->emitted);
    cpj_kv_u64(b, "sent", hb->sent);
    cpj_kv_u64(b, "dropped", hb->dropped);
    cpj_char(b, '}');
    /* [op, subtask, records_in, records_out, queue_fill_permille, backpressured] */
    cpj_key(b, "subtasks");
    cpj_char(b, '[');
    for (int i = 0; i < hb->n; i++) {
        const cpw_subtask_metrics *m = &hb->subtasks[i];
        if (i)
            cpj_char(b, ',');
        cpj_char(b, '[');
        cpj_i64(b, m->op);
        cpj_char(b, ',');
        cpj_i64(b, m->subtask);
        cpj_char(b, ',');
        cpj_i64(b, m->records_in);
        cpj_char(b, ',');
        cpj_i64(b, m->records_out);
        cpj_char(b, ',');
        cpj_i64(b, m->queue_fill_permille);
        cpj_char(b, ',');
        cpj_i64(b, m->backpressured);
        cpj_char(b, ']');
    }
    cpj_lit(b, "]}");
}

void cpw_encode_command(cpw_buf *b, const cpw_envelope *env, const cpw_command *cmd,
                        const unsigned char *secret, size_t secret_len)
{
    size_t start = b->len;
    const char *name = cpw_command_name(cmd->c.type);
    cpj_envelope(b, "cmd", env);
    cpj_kv_u64(b, "req", cmd->req);
    cpj_kv_str(b, "cmd", name ? name : "");
    cpj_key(b, "args");
    cpj_char(b, '{');
    bool first = true;
#define SEP() do { if (!first) cpj_char(b, ','); first = false; } while (0)
    switch (cmd->c.type) {
    case CPW_CMD_GET_STATE:
        if (cmd->history >= 0) {
            SEP();
            cpj_lit(b, "\"history\":");
            cpj_i64(b, cmd->history);
        }
        break;
    case CPW_CMD_ABORT:
        SEP();
        cpj_lit(b, "\"id\":");
        cpj_i64(b, cmd->c.cp_id);
        break;
    case CPW_CMD_INJECT_FAILURE:
        SEP();
        cpj_lit(b, "\"kind\":");
        cpj_str(b, cmd->c.kind);
        cpj_kv_i64(b, "op", cmd->c.op);
        cpj_kv_i64(b, "subtask", cmd->c.subtask);
        /* fallthrough: params */
        /* FALLTHROUGH */
    case CPW_CMD_SET_CONFIG:
        SEP();
        cpj_lit(b, cmd->c.type == CPW_CMD_SET_CONFIG ? "\"settings\":{" : "\"params\":{");
        for (int i = 0; i < cmd->c.n_params && i < CPW_CMD_MAX_PARAMS; i++) {
            if (i)
                cpj_char(b, ',');
            cpj_str(b, cmd->c.keys[i]);
            cpj_char(b, ':');
            cpj_str(b, cmd->c.values[i]);
        }
        cpj_char(b, '}');
        break;
    default:
        break;
    }
#undef SEP
    cpj_char(b, '}');
    if (!secret) {
        cpj_char(b, '}');
        return;
    }
    char nonce[CPW_NONCE_HEX + 1];
    if (cmd->nonce[0])
        memcpy(nonce, cmd->nonce, sizeof nonce);
    else if (!cpw_random_hex(nonce, CPW_NONCE_HEX))
        b->failed = true;
    cpj_kv_str(b, "nonce", nonce);
    if (b->failed)
        return;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)b->data + start,
              b->len - start, mac, &mac_len)) {
        b->failed = true;
        return;
    }
    static const char hex[] = "0123456789abcdef";
    char mh[CPW_MAC_HEX + 1];
    for (unsigned i = 0; i < 32; i++) {
        mh[2 * i] = hex[mac[i] >> 4];
        mh[2 * i + 1] = hex[mac[i] & 15];
    }
    mh[CPW_MAC_HEX] = '\0';
    cpj_kv_str(b, "mac", mh);
    cpj_char(b, '}');
}

void cpw_encode_reply(cpw_buf *b, const cpw_envelope *env, const cpw_reply *r,
                      const cpw_state *state, int history)
{
    cpj_envelope(b, "reply", env);
    cpj_kv_u64(b, "req", r->req);
    cpj_kv_bool(b, "ok", r->ok);
    if (!r->ok)
        cpj_kv_str(b, "error", r->error);
    cpj_kv_str(b, "message", r->message);
    if (state) {
        cpj_key(b, "result");
        cpw_state_encode(b, state, history);
    }
    cpj_char(b, '}');
}
