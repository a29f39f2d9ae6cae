/*
 * fuzz_common.h — shared by the libFuzzer targets in tests/fuzz/: walk every
 * field of a decoded message (so the sanitizers see every byte the decoder
 * wrote), check the documented ranges, and compare messages field by field.
 * Any broken invariant calls abort(), which libFuzzer reports as a crash.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include "cpw.h"
#include "cpw_state.h"
#include "fuzz_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile uint64_t fz_sink;


/* A string field: NUL-terminated inside its buffer; read every byte. */
static inline void fz_str(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    FZ_CHECK(n < cap);
    for (size_t i = 0; i < n; i++)
        fz_sink += (unsigned char)s[i];
}
#define FZ_STR(a) fz_str((a), sizeof(a))

/* Wire text as the dashboard draws it: after cpw_sanitize, no C0, DEL or
 * C1 control is left. */
static inline void fz_text(const char *s, size_t cap)
{
    fz_str(s, cap);
    char clean[CPW_VALUE_MAX];
    cpw_sanitize(s, clean, sizeof clean);
    for (size_t i = 0; clean[i]; i++) {
        unsigned char c = (unsigned char)clean[i];
        FZ_CHECK(c >= 0x20 && c != 0x7f);
        FZ_CHECK(!(c == 0xC2 && (unsigned char)clean[i + 1] < 0xA0));
    }
}
#define FZ_TEXT(a) fz_text((a), sizeof(a))

static inline void fz_event(const cpw_event *e)
{
    FZ_CHECK(e->type > CPW_EV_NONE && e->type < CPW_EV__COUNT);
    FZ_CHECK(e->op >= -1 && e->op < CPW_MAX_OPERATORS);
    FZ_CHECK(e->subtask >= -1 && e->subtask < CPW_MAX_PARALLELISM);
    FZ_CHECK(e->cp_id >= 0 && e->ts_us >= 0);
    fz_sink += (uint64_t)e->op + (uint64_t)e->subtask + (uint64_t)e->cp_id + (uint64_t)e->ts_us;
    switch (e->type) {
    case CPW_EV_CP_TRIGGERED:
        FZ_CHECK(e->u.triggered.kind == CPW_TRIGGER_PERIODIC ||
                 e->u.triggered.kind == CPW_TRIGGER_MANUAL);
        break;
    case CPW_EV_BARRIER_RECEIVED:
        FZ_CHECK(e->u.barrier.channel >= 0);
        fz_sink += (uint64_t)e->u.barrier.channel;
        break;
    case CPW_EV_ALIGNMENT_END:
        FZ_CHECK(e->u.alignment.buffered_bytes >= 0 && e->u.alignment.duration_us >= 0);
        fz_sink += (uint64_t)e->u.alignment.buffered_bytes + (uint64_t)e->u.alignment.duration_us;
        break;
    case CPW_EV_SNAPSHOT_SYNC_DONE:
        FZ_CHECK(e->u.sync.duration_us >= 0);
        break;
    case CPW_EV_SNAPSHOT_ASYNC_DONE:
        FZ_CHECK(e->u.async.bytes >= 0 && e->u.async.duration_us >= 0);
        break;
    case CPW_EV_ACK: {
        const cpw_ack_info *a = &e->u.ack;
        FZ_CHECK(a->state_size >= 0 && a->checkpointed_size >= 0 && a->processed_data >= 0 &&
                 a->persisted_data >= 0 && a->start_delay_us >= 0 && a->alignment_us >= 0 &&
                 a->sync_us >= 0 && a->async_us >= 0 && (a->unaligned == 0 || a->unaligned == 1));
        fz_sink += (uint64_t)a->state_size ^ (uint64_t)a->checkpointed_size ^
                   (uint64_t)a->processed_data ^ (uint64_t)a->persisted_data ^
                   (uint64_t)a->start_delay_us ^ (uint64_t)a->alignment_us ^
                   (uint64_t)a->sync_us ^ (uint64_t)a->async_us;
        break;
    }
    case CPW_EV_DECLINE:
        FZ_TEXT(e->u.decline.reason);
        break;
    case CPW_EV_CP_COMPLETED:
        FZ_CHECK(e->u.completed.duration_us >= 0 && e->u.completed.state_size >= 0 &&
                 e->u.completed.checkpointed_size >= 0);
        break;
    case CPW_EV_CP_FAILED:
        FZ_CHECK(cpw_failure_reason_name(e->u.failed.reason) != NULL);
        FZ_TEXT(e->u.failed.message);
        break;
    case CPW_EV_JOB_STATUS:
        FZ_CHECK(cpw_job_status_name(e->u.job_status.status) != NULL);
        FZ_TEXT(e->u.job_status.message);
        break;
    case CPW_EV_RESTORED:
        FZ_CHECK(e->u.restored.attempt >= 0);
        break;
    case CPW_EV_FAILURE_INJECTED:
        FZ_TEXT(e->u.failure.kind);
        FZ_TEXT(e->u.failure.params);
        break;
    case CPW_EV_TASK_FAILED:
        FZ_TEXT(e->u.task_failed.error);
        break;
    default:
        break;
    }
}

static inline void fz_hello(const cpw_hello *h)
{
    FZ_TEXT(h->name);
    FZ_STR(h->agent_version);
    FZ_CHECK(h->pid >= 0);
    FZ_CHECK(h->n_ops >= 0 && h->n_ops <= CPW_MAX_OPERATORS);
    FZ_CHECK(h->n_edges >= 0 && h->n_edges <= CPW_MAX_EDGES);
    FZ_CHECK(h->n_config >= 0 && h->n_config <= CPW_MAX_CONFIG);
    int total = 0;
    for (int i = 0; i < h->n_ops; i++) {
        FZ_TEXT(h->ops[i].name);
        FZ_CHECK(h->ops[i].parallelism >= 1 && h->ops[i].parallelism <= CPW_MAX_PARALLELISM);
        total += h->ops[i].parallelism;
    }
    FZ_CHECK(total <= CPW_MAX_SUBTASKS);
    for (int i = 0; i < h->n_edges; i++) {
        FZ_CHECK(h->edges[i].from >= 0 && h->edges[i].from < h->n_ops);
        FZ_CHECK(h->edges[i].to >= 0 && h->edges[i].to < h->n_ops);
        FZ_STR(h->edges[i].kind);
    }
    for (int i = 0; i < h->n_config; i++) {
        FZ_TEXT(h->config_keys[i]);
        FZ_TEXT(h->config_values[i]);
    }
}

static inline bool fz_hello_eq(const cpw_hello *a, const cpw_hello *b)
{
    if (strcmp(a->name, b->name) || a->pid != b->pid || strcmp(a->agent_version, b->agent_version) ||
        a->n_ops != b->n_ops || a->n_edges != b->n_edges || a->n_config != b->n_config)
        return false;
    for (int i = 0; i < a->n_ops; i++)
        if (strcmp(a->ops[i].name, b->ops[i].name) || a->ops[i].parallelism != b->ops[i].parallelism)
            return false;
    for (int i = 0; i < a->n_edges; i++)
        if (a->edges[i].from != b->edges[i].from || a->edges[i].to != b->edges[i].to ||
            strcmp(a->edges[i].kind, b->edges[i].kind))
            return false;
    for (int i = 0; i < a->n_config; i++)
        if (strcmp(a->config_keys[i], b->config_keys[i]) ||
            strcmp(a->config_values[i], b->config_values[i]))
            return false;
    return true;
}

static inline void fz_heartbeat(const cpw_heartbeat *hb)
{
    FZ_CHECK(hb->n >= 0 && hb->n <= CPW_MAX_SUBTASKS);
    FZ_CHECK(hb->n == 0 || hb->subtasks != NULL);
    fz_sink += hb->emitted + hb->sent + hb->dropped;
    for (int i = 0; i < hb->n; i++) {
        const cpw_subtask_metrics *m = &hb->subtasks[i];
        FZ_CHECK(m->op >= 0 && m->op < CPW_MAX_OPERATORS);
        FZ_CHECK(m->subtask >= 0 && m->subtask < CPW_MAX_PARALLELISM);
        FZ_CHECK(m->records_in >= 0 && m->records_out >= 0);
        FZ_CHECK(m->queue_fill_permille >= 0 && m->queue_fill_permille <= 1000);
        FZ_CHECK(m->backpressured == 0 || m->backpressured == 1);
        fz_sink += (uint64_t)m->records_in + (uint64_t)m->records_out;
    }
}

static inline void fz_command(const cpw_command *c)
{
    FZ_CHECK(cpw_command_name(c->c.type) != NULL);
    FZ_CHECK(c->c.n_params >= 0 && c->c.n_params <= CPW_CMD_MAX_PARAMS);
    FZ_CHECK(c->c.op >= -1 && c->c.op < CPW_MAX_OPERATORS);
    FZ_CHECK(c->c.subtask >= -1 && c->c.subtask < CPW_MAX_PARALLELISM);
    FZ_CHECK(c->history >= -1 && c->history <= CPW_MAX_HISTORY);
    FZ_CHECK(c->c.cp_id >= 0);
    FZ_STR(c->c.kind);
    FZ_STR(c->nonce);
    for (int i = 0; i < c->c.n_params; i++) {
        FZ_STR(c->c.keys[i]);
        FZ_STR(c->c.values[i]);
    }
    fz_sink += c->req + (uint64_t)c->c.cp_id + (uint64_t)c->has_mac;
}

static inline bool fz_command_eq(const cpw_command *a, const cpw_command *b)
{
    if (a->req != b->req || a->c.type != b->c.type || a->c.cp_id != b->c.cp_id ||
        strcmp(a->c.kind, b->c.kind) || a->c.op != b->c.op || a->c.subtask != b->c.subtask ||
        a->c.n_params != b->c.n_params || a->history != b->history)
        return false;
    for (int i = 0; i < a->c.n_params; i++)
        if (strcmp(a->c.keys[i], b->c.keys[i]) || strcmp(a->c.values[i], b->c.values[i]))
            return false;
    return true;
}

static inline void fz_cp(const cpw_cp *cp, int n_subtasks)
{
    FZ_CHECK(cp->id >= 1);
    FZ_CHECK(cp->status <= CPW_CP_FAILED);
    FZ_CHECK(cp->reason >= -1 && cp->reason < CPW_FAIL__COUNT);
    FZ_CHECK(cp->acks >= 0 && cp->declines >= 0 && cp->total >= 0);
    FZ_TEXT(cp->message);
    fz_sink += (uint64_t)cp->trigger_ts + (uint64_t)cp->end_ts + (uint64_t)cp->latest_ack_ts +
               (uint64_t)cp->duration_us + (uint64_t)cp->state_size + (uint64_t)cp->checkpointed_size;
    if (!cp->subs)
        return;
    FZ_CHECK(cp->total == n_subtasks);
    for (int i = 0; i < cp->total; i++) {
        const cpw_sub *u = &cp->subs[i];
        FZ_CHECK(u->phase < CPW_PH__COUNT && u->unaligned <= 1);
        FZ_TEXT(u->reason);
        fz_sink += (uint64_t)u->barrier_ts + (uint64_t)u->align_start_ts + (uint64_t)u->align_end_ts +
                   (uint64_t)u->snap_start_ts + (uint64_t)u->sync_done_ts +
                   (uint64_t)u->async_done_ts + (uint64_t)u->ack_ts + (uint64_t)u->buffered_bytes +
                   (uint64_t)u->state_size + (uint64_t)u->checkpointed_size +
                   (uint64_t)u->processed_data + (uint64_t)u->persisted_data +
                   (uint64_t)u->start_delay_us + (uint64_t)u->alignment_us + (uint64_t)u->sync_us +
                   (uint64_t)u->async_us + u->barriers;
    }
}

static inline void fz_state(const cpw_state *s)
{
    FZ_STR(s->job);
    FZ_STR(s->status_message);
    fz_hello(&s->hello);
    FZ_CHECK(s->n_inflight >= 0 && s->n_inflight <= CPW_MAX_INFLIGHT);
    FZ_CHECK(s->n_history >= 0 && s->n_history <= s->history_cap);
    FZ_CHECK(cpw_job_status_name((cpw_job_status)s->status) != NULL);
    for (int i = 0; i < s->n_inflight; i++)
        fz_cp(&s->inflight[i], s->n_subtasks);
    for (int i = 0; i < s->n_history; i++) {
        const cpw_cp *cp = cpw_state_history(s, i);
        FZ_CHECK(cp != NULL);
        fz_cp(cp, s->n_subtasks);
    }
    FZ_CHECK(cpw_state_history(s, s->n_history) == NULL);
    fz_sink += s->seq + (uint64_t)s->counts.total + (uint64_t)s->ignored;
}

/* What a decoded state carries for a sub timestamp the encoder was given:
 * -1 ("not reached") for 0, the trigger time for anything before it. */
static inline int64_t fz_wire_ts(int64_t ts, int64_t base)
{
    return ts == 0 ? 0 : ts > base ? ts : base;
}

static inline bool fz_cp_eq(const cpw_cp *a, const cpw_cp *b, int n_subtasks)
{
    if (a->id != b->id || a->status != b->status || a->kind != b->kind ||
        a->committed != b->committed || a->reason != b->reason || a->trigger_ts != b->trigger_ts ||
        a->end_ts != b->end_ts || a->latest_ack_ts != b->latest_ack_ts ||
        a->duration_us != b->duration_us || a->state_size != b->state_size ||
        a->checkpointed_size != b->checkpointed_size || a->acks != b->acks ||
        a->declines != b->declines || a->total != b->total || strcmp(a->message, b->message))
        return false;
    /* a: decoded (canonical), b: the original */
    bool detail = b->subs && b->total == n_subtasks;
    if ((a->subs != NULL) != detail)
        return false;
    for (int i = 0; detail && i < n_subtasks; i++) {
        const cpw_sub *x = &a->subs[i], *y = &b->subs[i];
        int64_t base = b->trigger_ts;
        if (x->phase != y->phase || x->unaligned != y->unaligned || x->barriers != y->barriers ||
            x->barrier_ts != fz_wire_ts(y->barrier_ts, base) ||
            x->align_start_ts != fz_wire_ts(y->align_start_ts, base) ||
            x->align_end_ts != fz_wire_ts(y->align_end_ts, base) ||
            x->snap_start_ts != fz_wire_ts(y->snap_start_ts, base) ||
            x->sync_done_ts != fz_wire_ts(y->sync_done_ts, base) ||
            x->async_done_ts != fz_wire_ts(y->async_done_ts, base) ||
            x->ack_ts != fz_wire_ts(y->ack_ts, base) || x->buffered_bytes != y->buffered_bytes ||
            x->state_size != y->state_size || x->checkpointed_size != y->checkpointed_size ||
            x->processed_data != y->processed_data || x->persisted_data != y->persisted_data ||
            x->start_delay_us != y->start_delay_us || x->alignment_us != y->alignment_us ||
            x->sync_us != y->sync_us || x->async_us != y->async_us || strcmp(x->reason, y->reason))
            return false;
    }
    return true;
}

/* decoded (a) against the state it was encoded from (b), `history` as given
 * to the encoder */
static inline bool fz_state_eq(const cpw_state *a, const cpw_state *b, int history)
{
    if (strcmp(a->job, b->job) || a->seq != b->seq || !fz_hello_eq(&a->hello, &b->hello) ||
        a->n_subtasks != b->n_subtasks || a->status != b->status ||
        strcmp(a->status_message, b->status_message) || a->restored_from != b->restored_from ||
        a->restore_attempt != b->restore_attempt || a->last_restore_ts != b->last_restore_ts ||
        memcmp(&a->counts, &b->counts, sizeof a->counts) ||
        a->consecutive_failures != b->consecutive_failures ||
        a->latest_completed_id != b->latest_completed_id ||
        a->latest_completed_ts != b->latest_completed_ts ||
        a->last_trigger_ts != b->last_trigger_ts || a->ignored != b->ignored ||
        a->agent_emitted != b->agent_emitted || a->agent_sent != b->agent_sent ||
        a->agent_dropped != b->agent_dropped || a->n_inflight != b->n_inflight)
        return false;
    for (int i = 0; i < a->n_inflight; i++)
        if (!fz_cp_eq(&a->inflight[i], &b->inflight[i], b->n_subtasks))
            return false;
    int nh = history < 0 || history > b->n_history ? b->n_history : history;
    if (a->n_history != nh)
        return false;
    for (int i = 0; i < nh; i++)
        if (!fz_cp_eq(cpw_state_history(a, i), cpw_state_history(b, i), b->n_subtasks))
            return false;
    return true;
}

/* Encodes s as a get_state reply, decodes it and checks it came back the
 * same. Any failure is a bug: the agent would send a state no dashboard can
 * read. */
static inline void fz_state_roundtrip(const cpw_state *s, int history)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_reply r = {.req = 1, .ok = true};
    cpw_envelope env = {s->job, s->seq, 1};
    cpw_encode_reply(&b, &env, &r, s, history);
    FZ_CHECK(!b.failed);
    cpw_msg m;
    cpw_error e = {0};
    cpw_err rc = cpw_decode_one(b.data, b.len, &m, &e);
    if (rc != CPW_OK) {
        fprintf(stderr, "state re-decode failed: %s: %s (field %s)\n%.*s\n", cpw_err_name(rc),
                e.text, e.field, (int)(b.len > 4000 ? 4000 : b.len), b.data);
        abort();
    }
    FZ_CHECK(m.kind == CPW_K_REPLY && m.reply && m.reply->state);
    fz_state(m.reply->state);
    if (!fz_state_eq(m.reply->state, s, history)) {
        fprintf(stderr, "state round trip differs:\n%.*s\n", (int)(b.len > 4000 ? 4000 : b.len),
                b.data);
        abort();
    }
    cpw_msg_clear(&m);
    cpw_buf_free(&b);
}

static inline void fz_msg(const cpw_msg *m)
{
    FZ_CHECK(m->v == CPW_VERSION);
    FZ_STR(m->job);
    FZ_CHECK(m->ts_us >= 0);
    fz_sink += m->seq;
    switch (m->kind) {
    case CPW_K_EVENT:
        fz_event(&m->ev);
        FZ_CHECK(m->ev.ts_us == m->ts_us);
        FZ_CHECK(!m->hello && !m->cmd && !m->reply && !m->heartbeat.subtasks);
        break;
    case CPW_K_HELLO:
        FZ_CHECK(m->hello != NULL);
        fz_hello(m->hello);
        break;
    case CPW_K_HEARTBEAT:
        fz_heartbeat(&m->heartbeat);
        break;
    case CPW_K_COMMAND:
        FZ_CHECK(m->cmd != NULL);
        fz_command(m->cmd);
        break;
    case CPW_K_REPLY:
        FZ_CHECK(m->reply != NULL);
        FZ_STR(m->reply->error);
        FZ_STR(m->reply->message);
        if (m->reply->state)
            fz_state(m->reply->state);
        break;
    case CPW_K_UNKNOWN: /* frames only: the envelope of a newer type */
        FZ_CHECK(!m->hello && !m->cmd && !m->reply && !m->heartbeat.subtasks);
        break;
    default:
        FZ_CHECK(!"unknown message kind");
    }
}

/* A failed decode leaves the message cleared and the error filled. */
static inline void fz_check_failure(cpw_err rc, const cpw_error *e, const cpw_msg *m, size_t len)
{
    static const cpw_msg zero;
    FZ_CHECK(rc > CPW_OK && rc < CPW_ERR__COUNT);
    FZ_CHECK(e->code == rc);
    FZ_CHECK(e->text[0] != '\0');
    FZ_CHECK(strnlen(e->field, sizeof e->field) < sizeof e->field);
    FZ_CHECK(e->offset <= len || rc == CPW_ERR_TOO_LARGE);
    if (m)
        FZ_CHECK(memcmp(m, &zero, sizeof *m) == 0);
}

#endif
