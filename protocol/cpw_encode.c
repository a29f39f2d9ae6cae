/* cpw_encode.c — message encoders (compact JSON; see PROTOCOL.md). */
#include "cpw_json.h"
#include "cpw_state.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

static void op_sub(cpw_buf *b, const cpa_event *ev)
{
    cpj_kv_i64(b, "op", ev->op);
    cpj_kv_i64(b, "subtask", ev->subtask);
}

void cpw_encode_event(cpw_buf *b, const cpw_envelope *env, const cpa_event *ev)
{
    const char *name = cpa_event_type_name(ev->type);
    if (!name) {
        b->failed = true; /* the agent never queues an untyped event */
        return;
    }
    cpj_envelope(b, name, env);
    switch (ev->type) {
    case CPA_EV_CP_TRIGGERED:
        cpj_kv_i64(b, "id", ev->cp_id);
        cpj_kv_str(b, "kind", ev->u.triggered.kind == CPA_TRIGGER_MANUAL ? "manual" : "periodic");
        break;
    case CPA_EV_BARRIER_INJECTED:
    case CPA_EV_ALIGNMENT_START:
    case CPA_EV_SNAPSHOT_START:
        cpj_kv_i64(b, "id", ev->cp_id);
        op_sub(b, ev);
        break;
    case CPA_EV_BARRIER_RECEIVED:
        cpj_kv_i64(b, "id", ev->cp_id);
        op_sub(b, ev);
        cpj_kv_i64(b, "channel", ev->u.barrier.channel);
        break;
    case CPA_EV_ALIGNMENT_END:
        cpj_kv_i64(b, "id", ev->cp_id);
        op_sub(b, ev);
        cpj_kv_i64(b, "buffered_bytes", ev->u.alignment.buffered_bytes);
        cpj_kv_i64(b, "duration_us", ev->u.alignment.duration_us);
        break;
    case CPA_EV_SNAPSHOT_SYNC_DONE:
        cpj_kv_i64(b, "id", ev->cp_id);
        op_sub(b, ev);
        cpj_kv_i64(b, "duration_us", ev->u.sync.duration_us);
        break;
    case CPA_EV_SNAPSHOT_ASYNC_DONE:
        cpj_kv_i64(b, "id", ev->cp_id);
        op_sub(b, ev);
        cpj_kv_i64(b, "bytes", ev->u.async.bytes);
        cpj_kv_i64(b, "duration_us", ev->u.async.duration_us);
        break;
    case CPA_EV_ACK: {
        const cpa_ack_info *a = &ev->u.ack;
        cpj_kv_i64(b, "id", ev->cp_id);
        op_sub(b, ev);
        cpj_kv_i64(b, "state_size", a->state_size);
        cpj_kv_i64(b, "checkpointed_size", a->checkpointed_size);
        cpj_kv_i64(b, "processed_data", a->processed_data);
        cpj_kv_i64(b, "persisted_data", a->persisted_data);
        cpj_kv_i64(b, "start_delay_us", a->start_delay_us);
        cpj_kv_i64(b, "alignment_us", a->alignment_us);
        cpj_kv_i64(b, "sync_us", a->sync_us);
        cpj_kv_i64(b, "async_us", a->async_us);
        cpj_kv_bool(b, "unaligned", a->unaligned != 0);
        break;
    }
    case CPA_EV_DECLINE:
        cpj_kv_i64(b, "id", ev->cp_id);
        op_sub(b, ev);
        cpj_key(b, "reason");
        cpj_strn(b, ev->u.decline.reason, strnlen(ev->u.decline.reason, CPA_TEXT_MAX - 1));
        break;
    case CPA_EV_CP_COMPLETED:
        cpj_kv_i64(b, "id", ev->cp_id);
        cpj_kv_i64(b, "duration_us", ev->u.completed.duration_us);
        cpj_kv_i64(b, "state_size", ev->u.completed.state_size);
        cpj_kv_i64(b, "checkpointed_size", ev->u.completed.checkpointed_size);
        break;
    case CPA_EV_CP_FAILED: {
        const char *r = cpa_failure_reason_name(ev->u.failed.reason);
        cpj_kv_i64(b, "id", ev->cp_id);
        cpj_kv_str(b, "reason", r ? r : "CHECKPOINT_DECLINED");
        cpj_key(b, "message");
        cpj_strn(b, ev->u.failed.message, strnlen(ev->u.failed.message, CPA_TEXT_MAX - 1));
        break;
    }
    case CPA_EV_CP_COMMITTED:
        cpj_kv_i64(b, "id", ev->cp_id);
        break;
    case CPA_EV_JOB_STATUS: {
        const char *s = cpa_job_status_name(ev->u.job_status.status);
        cpj_kv_str(b, "status", s ? s : "running");
        cpj_key(b, "message");
        cpj_strn(b, ev->u.job_status.message,
                 strnlen(ev->u.job_status.message, CPA_TEXT_MAX - 1));
        break;
    }
    case CPA_EV_RESTORED:
        cpj_kv_i64(b, "id", ev->cp_id);
        cpj_kv_i64(b, "attempt", ev->u.restored.attempt);
        break;
    case CPA_EV_FAILURE_INJECTED:
        cpj_key(b, "kind");
        cpj_strn(b, ev->u.failure.kind, strnlen(ev->u.failure.kind, CPA_KIND_MAX - 1));
        op_sub(b, ev);
        cpj_key(b, "params");
        cpj_strn(b, ev->u.failure.params, strnlen(ev->u.failure.params, CPA_TEXT_MAX - 1));
        break;
    case CPA_EV_TASK_FAILED:
        op_sub(b, ev);
        cpj_key(b, "error");
        cpj_strn(b, ev->u.task_failed.error, strnlen(ev->u.task_failed.error, CPA_TEXT_MAX - 1));
        break;
    default:
        break;
    }
    cpj_char(b, '}');
}

void cpw_encode_hello(cpw_buf *b, const cpw_envelope *env, const cpw_hello *h)
{
    cpj_envelope(b, "hello", env);
    cpj_kv_str(b, "name", h->name);
    cpj_kv_i64(b, "pid", h->pid);
    cpj_kv_str(b, "agent_version", h->agent_version);
    cpj_key(b, "operators");
    cpj_char(b, '[');
    for (int i = 0; i < h->n_ops; i++) {
        if (i)
            cpj_char(b, ',');
        cpj_lit(b, "{\"name\":");
        cpj_str(b, h->ops[i].name);
        cpj_kv_i64(b, "parallelism", h->ops[i].parallelism);
        cpj_char(b, '}');
    }
    cpj_char(b, ']');
    cpj_key(b, "edges");
    cpj_char(b, '[');
    for (int i = 0; i < h->n_edges; i++) {
        if (i)
            cpj_char(b, ',');
        cpj_lit(b, "{\"from\":");
        cpj_i64(b, h->edges[i].from);
        cpj_kv_i64(b, "to", h->edges[i].to);
        cpj_kv_str(b, "kind", h->edges[i].kind);
        cpj_char(b, '}');
    }
    cpj_char(b, ']');
    cpj_key(b, "config");
    cpj_char(b, '{');
    for (int i = 0; i < h->n_config; i++) {
        if (i)
            cpj_char(b, ',');
        cpj_str(b, h->config_keys[i]);
        cpj_char(b, ':');
        cpj_str(b, h->config_values[i]);
    }
    cpj_lit(b, "}}");
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
    case CPA_CMD_GET_STATE:
        if (cmd->history >= 0) {
            SEP();
            cpj_lit(b, "\"history\":");
            cpj_i64(b, cmd->history);
        }
        break;
    case CPA_CMD_ABORT:
        SEP();
        cpj_lit(b, "\"id\":");
        cpj_i64(b, cmd->c.cp_id);
        break;
    case CPA_CMD_INJECT_FAILURE:
        SEP();
        cpj_lit(b, "\"kind\":");
        cpj_str(b, cmd->c.kind);
        cpj_kv_i64(b, "op", cmd->c.op);
        cpj_kv_i64(b, "subtask", cmd->c.subtask);
        /* fallthrough: params */
        /* FALLTHROUGH */
    case CPA_CMD_SET_CONFIG:
        SEP();
        cpj_lit(b, cmd->c.type == CPA_CMD_SET_CONFIG ? "\"settings\":{" : "\"params\":{");
        for (int i = 0; i < cmd->c.n_params && i < CPA_CMD_MAX_PARAMS; i++) {
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
