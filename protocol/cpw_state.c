/* cpw_state.c — checkpoint state folded from events; encode/decode. */
#include "cpw_state.h"
#include "cpw_json.h"
#include "cpw_jx.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *const phase_names[CPW_PH__COUNT] = {
    "pending", "aligning", "sync", "async", "acked", "declined",
};
static const char *const cp_status_names[] = {"in_progress", "completed", "failed"};

const char *cpw_phase_name(cpw_phase p)
{
    return ((unsigned)p < CPW_PH__COUNT) ? phase_names[p] : "?";
}

int cpw_phase_from_name(const char *s, size_t n)
{
    for (int i = 0; i < CPW_PH__COUNT; i++)
        if (strlen(phase_names[i]) == n && !memcmp(phase_names[i], s, n))
            return i;
    return -1;
}

const char *cpw_cp_status_name(cpw_cp_status s)
{
    return ((unsigned)s < 3) ? cp_status_names[s] : "?";
}

cpw_state *cpw_state_new(int history_cap, int detail_cap)
{
    if (history_cap < 1)
        history_cap = 1;
    if (history_cap > CPW_MAX_HISTORY)
        history_cap = CPW_MAX_HISTORY;
    if (detail_cap < 0)
        detail_cap = 0;
    cpw_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->history = calloc((size_t)history_cap, sizeof *s->history);
    if (!s->history) {
        free(s);
        return NULL;
    }
    s->history_cap = history_cap;
    s->detail_cap = detail_cap;
    s->restored_from = -1;
    s->history_head = -1;
    return s;
}

void cpw_state_free(cpw_state *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_inflight; i++)
        free(s->inflight[i].subs);
    for (int i = 0; i < s->history_cap; i++)
        free(s->history[i].subs);
    free(s->history);
    free(s);
}

static void compute_bases(cpw_state *s)
{
    int base = 0;
    for (int i = 0; i < s->hello.n_ops; i++) {
        s->op_base[i] = base;
        base += s->hello.ops[i].parallelism;
    }
    s->op_base[s->hello.n_ops] = base;
    s->n_subtasks = base;
}

void cpw_state_set_hello(cpw_state *s, const cpw_hello *h)
{
    bool same = h->n_ops == s->hello.n_ops;
    for (int i = 0; same && i < h->n_ops; i++)
        same = h->ops[i].parallelism == s->hello.ops[i].parallelism;
    s->hello = *h;
    compute_bases(s);
    if (same)
        return;
    /* Shape changed: per-subtask detail of checkpoints in flight no longer
     * maps onto the topology; start it afresh. */
    for (int i = 0; i < s->n_inflight; i++) {
        cpw_cp *cp = &s->inflight[i];
        free(cp->subs);
        cp->subs = s->n_subtasks ? calloc((size_t)s->n_subtasks, sizeof *cp->subs) : NULL;
        cp->total = s->n_subtasks;
        cp->acks = cp->declines = 0;
    }
}

int cpw_state_sub_index(const cpw_state *s, int op, int subtask)
{
    if (op < 0 || op >= s->hello.n_ops || subtask < 0 ||
        subtask >= s->hello.ops[op].parallelism)
        return -1;
    return s->op_base[op] + subtask;
}

const cpw_cp *cpw_state_history(const cpw_state *s, int i)
{
    if (i < 0 || i >= s->n_history)
        return NULL;
    int k = (s->history_head - i) % s->history_cap;
    if (k < 0)
        k += s->history_cap;
    return &s->history[k];
}

static cpw_cp *find_inflight(cpw_state *s, int64_t id)
{
    for (int i = 0; i < s->n_inflight; i++)
        if (s->inflight[i].id == id)
            return &s->inflight[i];
    return NULL;
}

const cpw_cp *cpw_state_find_inflight(const cpw_state *s, int64_t id)
{
    return find_inflight((cpw_state *)s, id);
}

static bool in_history(const cpw_state *s, int64_t id)
{
    if (id > s->history_max_id)
        return false; /* newer than anything finished: the common case */
    for (int i = 0; i < s->n_history; i++)
        if (cpw_state_history(s, i)->id == id)
            return true;
    return false;
}

/* Whether the history entry with this id finished before the job started
 * numbering afresh: after a restore from checkpoint N the job numbers from
 * N+1 again (as Flink does without HA), and a new process of the job (a
 * crash, a restart without a restore) numbers from wherever it starts. Such
 * an id names a new checkpoint, not a late event of the old one. */
static bool reused_after_restore(const cpw_state *s, int64_t id)
{
    int64_t fence = s->last_restore_ts > s->hello.start_ts_us ? s->last_restore_ts
                                                              : s->hello.start_ts_us;
    if (fence <= 0)
        return false;
    for (int i = 0; i < s->n_history; i++) {
        const cpw_cp *h = cpw_state_history(s, i);
        if (h->id == id)
            return h->end_ts <= fence;
    }
    return false;
}

/* Moves inflight[i] into the history ring. */
static void finish(cpw_state *s, int i)
{
    cpw_cp cp = s->inflight[i];
    memmove(&s->inflight[i], &s->inflight[i + 1],
            (size_t)(s->n_inflight - i - 1) * sizeof s->inflight[0]);
    s->n_inflight--;
    memset(&s->inflight[s->n_inflight], 0, sizeof s->inflight[0]);
    s->counts.in_progress = s->n_inflight;

    s->history_head = (s->history_head + 1) % s->history_cap;
    cpw_cp *slot = &s->history[s->history_head];
    free(slot->subs);
    *slot = cp;
    if (cp.id > s->history_max_id)
        s->history_max_id = cp.id;
    if (s->n_history < s->history_cap)
        s->n_history++;
    if (s->detail_cap == 0) {
        free(slot->subs);
        slot->subs = NULL;
    } else if (s->n_history > s->detail_cap) {
        cpw_cp *old = (cpw_cp *)cpw_state_history(s, s->detail_cap);
        free(old->subs);
        old->subs = NULL;
    }
}

/* Appends a copy of cp (with a copy of its detail, if kept) as the newest
 * history entry. */
static void push_copy(cpw_state *s, const cpw_cp *cp)
{
    s->history_head = (s->history_head + 1) % s->history_cap;
    cpw_cp *slot = &s->history[s->history_head];
    free(slot->subs);
    *slot = *cp;
    slot->subs = NULL;
    if (cp->id > s->history_max_id)
        s->history_max_id = cp->id;
    if (s->n_history < s->history_cap)
        s->n_history++;
    if (cp->subs && s->detail_cap > 0 && cp->total == s->n_subtasks && cp->total > 0) {
        slot->subs = malloc((size_t)cp->total * sizeof *slot->subs);
        if (slot->subs)
            memcpy(slot->subs, cp->subs, (size_t)cp->total * sizeof *slot->subs);
    }
    if (s->detail_cap > 0 && s->n_history > s->detail_cap) {
        cpw_cp *old = (cpw_cp *)cpw_state_history(s, s->detail_cap);
        free(old->subs);
        old->subs = NULL;
    }
}

cpw_state *cpw_state_rebase(cpw_state *fresh, const cpw_state *old, int history_cap,
                            int detail_cap)
{
    cpw_state *ns = cpw_state_new(history_cap, detail_cap);
    if (!ns)
        return NULL;
    cpw_state_set_hello(ns, &fresh->hello);
    memcpy(ns->job, fresh->job, sizeof ns->job);
    ns->seq = fresh->seq;
    ns->status = fresh->status;
    memcpy(ns->status_message, fresh->status_message, sizeof ns->status_message);
    ns->restored_from = fresh->restored_from;
    ns->restore_attempt = fresh->restore_attempt;
    ns->last_restore_ts = fresh->last_restore_ts;
    ns->counts = fresh->counts;
    ns->consecutive_failures = fresh->consecutive_failures;
    ns->latest_completed_id = fresh->latest_completed_id;
    ns->latest_completed_ts = fresh->latest_completed_ts;
    ns->last_trigger_ts = fresh->last_trigger_ts;
    ns->ignored = fresh->ignored;
    ns->agent_emitted = fresh->agent_emitted;
    ns->agent_sent = fresh->agent_sent;
    ns->agent_dropped = fresh->agent_dropped;
    /* in-flight checkpoints move over with their detail */
    int64_t cutoff = INT64_MAX;
    ns->n_inflight = fresh->n_inflight;
    for (int i = 0; i < fresh->n_inflight; i++) {
        ns->inflight[i] = fresh->inflight[i];
        fresh->inflight[i].subs = NULL;
        if (ns->inflight[i].subs && ns->inflight[i].total != ns->n_subtasks) {
            free(ns->inflight[i].subs);
            ns->inflight[i].subs = NULL;
        }
        if (ns->inflight[i].trigger_ts < cutoff)
            cutoff = ns->inflight[i].trigger_ts;
    }
    fresh->n_inflight = 0;
    for (int i = 0; i < fresh->n_history; i++) {
        int64_t t = cpw_state_history(fresh, i)->trigger_ts;
        if (t < cutoff)
            cutoff = t;
    }
    /* what only the old model remembers, oldest first, then the fresh history */
    for (int i = old ? old->n_history - 1 : -1; i >= 0; i--) {
        const cpw_cp *cp = cpw_state_history(old, i);
        if (cp->trigger_ts < cutoff && cp->end_ts < cutoff)
            push_copy(ns, cp);
    }
    for (int i = fresh->n_history - 1; i >= 0; i--)
        push_copy(ns, cpw_state_history(fresh, i));
    return ns;
}

static cpw_cp *start_cp(cpw_state *s, int64_t id, int kind, int64_t ts)
{
    if (s->n_inflight == CPW_MAX_INFLIGHT) {
        /* Bounded: the oldest is given up on as failed. */
        cpw_cp *old = &s->inflight[0];
        old->status = CPW_CP_FAILED;
        old->reason = -1;
        old->end_ts = ts;
        snprintf(old->message, sizeof old->message, "no longer tracked: over %d in flight",
                 CPW_MAX_INFLIGHT);
        s->counts.failed++;
        finish(s, 0);
    }
    cpw_cp *cp = &s->inflight[s->n_inflight++];
    memset(cp, 0, sizeof *cp);
    cp->id = id;
    cp->kind = (uint8_t)kind;
    cp->reason = -1;
    cp->trigger_ts = ts;
    cp->total = s->n_subtasks;
    cp->subs = s->n_subtasks ? calloc((size_t)s->n_subtasks, sizeof *cp->subs) : NULL;
    s->counts.total++;
    s->counts.in_progress = s->n_inflight;
    if (ts > s->last_trigger_ts)
        s->last_trigger_ts = ts;
    return cp;
}

/* The in-flight checkpoint an event refers to; created when its
 * cp_triggered was missed, NULL when it already finished (a late event). */
static cpw_cp *cp_for(cpw_state *s, int64_t id, int64_t ts)
{
    if (id <= 0)
        return NULL;
    cpw_cp *cp = find_inflight(s, id);
    if (cp)
        return cp;
    if ((in_history(s, id) && !reused_after_restore(s, id)) ||
        (s->latest_completed_id && id <= s->latest_completed_id))
        return NULL;
    return start_cp(s, id, CPW_TRIGGER_PERIODIC, ts);
}

/* Sums of figures from the wire saturate instead of overflowing. */
static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

static int idx_of(cpw_state *s, const cpw_cp *cp)
{
    return (int)(cp - s->inflight);
}

void cpw_state_apply(cpw_state *s, const cpw_event *ev, uint64_t seq)
{
    s->seq = seq;
    int64_t ts = ev->ts_us;
    switch (ev->type) {
    case CPW_EV_CP_TRIGGERED:
        if (find_inflight(s, ev->cp_id) || ev->cp_id <= 0 ||
            (in_history(s, ev->cp_id) && !reused_after_restore(s, ev->cp_id))) {
            s->ignored++;
            return;
        }
        start_cp(s, ev->cp_id, ev->u.triggered.kind, ts);
        return;
    case CPW_EV_BARRIER_INJECTED:
    case CPW_EV_BARRIER_RECEIVED:
    case CPW_EV_ALIGNMENT_START:
    case CPW_EV_ALIGNMENT_END:
    case CPW_EV_SNAPSHOT_START:
    case CPW_EV_SNAPSHOT_SYNC_DONE:
    case CPW_EV_SNAPSHOT_ASYNC_DONE:
    case CPW_EV_ACK:
    case CPW_EV_DECLINE: {
        cpw_cp *cp = cp_for(s, ev->cp_id, ts);
        int i = cpw_state_sub_index(s, ev->op, ev->subtask);
        if (!cp || i < 0 || !cp->subs) {
            s->ignored++;
            return;
        }
        cpw_sub *u = &cp->subs[i];
        if (u->phase == CPW_PH_ACKED || u->phase == CPW_PH_DECLINED) {
            s->ignored++; /* nothing follows an ack or decline */
            return;
        }
        switch (ev->type) {
        case CPW_EV_BARRIER_INJECTED:
            if (!u->barrier_ts)
                u->barrier_ts = ts;
            break;
        case CPW_EV_BARRIER_RECEIVED:
            if (u->barriers < UINT16_MAX)
                u->barriers++;
            if (!u->barrier_ts)
                u->barrier_ts = ts;
            break;
        case CPW_EV_ALIGNMENT_START:
            u->align_start_ts = ts;
            if (u->phase < CPW_PH_ALIGNING)
                u->phase = CPW_PH_ALIGNING;
            break;
        case CPW_EV_ALIGNMENT_END:
            u->align_end_ts = ts;
            u->buffered_bytes = ev->u.alignment.buffered_bytes;
            u->alignment_us = ev->u.alignment.duration_us;
            break;
        case CPW_EV_SNAPSHOT_START:
            u->snap_start_ts = ts;
            if (u->phase < CPW_PH_SYNC)
                u->phase = CPW_PH_SYNC;
            break;
        case CPW_EV_SNAPSHOT_SYNC_DONE:
            u->sync_done_ts = ts;
            u->sync_us = ev->u.sync.duration_us;
            if (u->phase < CPW_PH_ASYNC)
                u->phase = CPW_PH_ASYNC;
            break;
        case CPW_EV_SNAPSHOT_ASYNC_DONE:
            u->async_done_ts = ts;
            u->async_us = ev->u.async.duration_us;
            u->checkpointed_size = ev->u.async.bytes;
            break;
        case CPW_EV_ACK: {
            const cpw_ack_info *a = &ev->u.ack;
            u->phase = CPW_PH_ACKED;
            u->ack_ts = ts;
            u->state_size = a->state_size;
            u->checkpointed_size = a->checkpointed_size;
            u->processed_data = a->processed_data;
            u->persisted_data = a->persisted_data;
            u->start_delay_us = a->start_delay_us;
            u->alignment_us = a->alignment_us;
            u->sync_us = a->sync_us;
            u->async_us = a->async_us;
            u->unaligned = a->unaligned ? 1 : 0;
            if (!u->barrier_ts && cp->trigger_ts)
                u->barrier_ts = sat_add(cp->trigger_ts, a->start_delay_us);
            if (a->alignment_us > cp->alignment_us)
                cp->alignment_us = a->alignment_us;
            cp->acks++;
            cp->state_size = sat_add(cp->state_size, a->state_size);
            cp->checkpointed_size = sat_add(cp->checkpointed_size, a->checkpointed_size);
            if (ts > cp->latest_ack_ts)
                cp->latest_ack_ts = ts;
            break;
        }
        case CPW_EV_DECLINE:
            u->phase = CPW_PH_DECLINED;
            snprintf(u->reason, sizeof u->reason, "%s", ev->u.decline.reason);
            cp->declines++;
            break;
        default:
            break;
        }
        return;
    }
    case CPW_EV_CP_COMPLETED: {
        cpw_cp *cp = cp_for(s, ev->cp_id, ts);
        if (!cp) {
            s->ignored++;
            return;
        }
        cp->status = CPW_CP_COMPLETED;
        cp->end_ts = ts;
        cp->duration_us = ev->u.completed.duration_us;
        cp->state_size = ev->u.completed.state_size;
        cp->checkpointed_size = ev->u.completed.checkpointed_size;
        s->counts.completed++;
        s->consecutive_failures = 0;
        if (ev->cp_id > s->latest_completed_id) {
            s->latest_completed_id = ev->cp_id;
            s->latest_completed_ts = ts;
        }
        finish(s, idx_of(s, cp));
        return;
    }
    case CPW_EV_CP_FAILED: {
        cpw_cp *cp = cp_for(s, ev->cp_id, ts);
        if (!cp) {
            s->ignored++;
            return;
        }
        cp->status = CPW_CP_FAILED;
        cp->end_ts = ts;
        cp->duration_us = ts > cp->trigger_ts ? ts - cp->trigger_ts : 0;
        cp->reason = (int8_t)ev->u.failed.reason;
        snprintf(cp->message, sizeof cp->message, "%s", ev->u.failed.message);
        s->counts.failed++;
        if (cpw_failure_counts(ev->u.failed.reason))
            s->consecutive_failures++;
        finish(s, idx_of(s, cp));
        return;
    }
    case CPW_EV_CP_COMMITTED: {
        cpw_cp *cp = find_inflight(s, ev->cp_id);
        for (int i = 0; !cp && i < s->n_history; i++) {
            cpw_cp *h = (cpw_cp *)cpw_state_history(s, i);
            if (h->id == ev->cp_id)
                cp = h;
        }
        if (cp)
            cp->committed = 1;
        else
            s->ignored++;
        return;
    }
    case CPW_EV_JOB_STATUS:
        s->status = ev->u.job_status.status;
        snprintf(s->status_message, sizeof s->status_message, "%s", ev->u.job_status.message);
        return;
    case CPW_EV_RESTORED:
        /* A restart ends whatever was in flight: the job reports those as
         * failed first; anything it did not is closed here. */
        while (s->n_inflight) {
            cpw_cp *cp = &s->inflight[0];
            cp->status = CPW_CP_FAILED;
            cp->reason = CPW_FAIL_TASK_FAILURE;
            cp->end_ts = ts;
            snprintf(cp->message, sizeof cp->message, "job restarted");
            s->counts.failed++;
            finish(s, 0);
        }
        s->restored_from = ev->cp_id;
        s->restore_attempt = ev->u.restored.attempt;
        s->last_restore_ts = ts;
        if (ev->cp_id > 0)
            s->counts.restored++;
        s->consecutive_failures = 0;
        return;
    case CPW_EV_FAILURE_INJECTED:
    case CPW_EV_TASK_FAILED:
        return; /* shown in event logs; no checkpoint state */
    default:
        s->ignored++;
        return;
    }
}

/* ------------------------------------------------------------------ encode */

static void enc_rel(cpw_buf *b, int64_t ts, int64_t base)
{
    cpj_char(b, ',');
    /* a timestamp before the trigger (clock skew between threads, or a
     * missed cp_triggered) is sent as 0 so that the reply stays decodable */
    cpj_i64(b, ts ? (ts > base ? ts - base : 0) : -1);
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
            const cpw_sub *u = &cp->subs[i];
            if (i)
                cpj_char(b, ',');
            cpj_char(b, '[');
            cpj_str(b, cpw_phase_name(u->phase));
            cpj_char(b, ',');
            cpj_i64(b, u->barriers);
            enc_rel(b, u->barrier_ts, cp->trigger_ts);
            enc_rel(b, u->align_start_ts, cp->trigger_ts);
            enc_rel(b, u->align_end_ts, cp->trigger_ts);
            enc_rel(b, u->snap_start_ts, cp->trigger_ts);
            enc_rel(b, u->sync_done_ts, cp->trigger_ts);
            enc_rel(b, u->async_done_ts, cp->trigger_ts);
            enc_rel(b, u->ack_ts, cp->trigger_ts);
            const int64_t v[] = {u->buffered_bytes, u->state_size, u->checkpointed_size,
                                 u->processed_data, u->persisted_data, u->start_delay_us,
                                 u->alignment_us, u->sync_us, u->async_us, u->unaligned};
            for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
                cpj_char(b, ',');
                cpj_i64(b, v[k]);
            }
            cpj_char(b, ',');
            cpj_str(b, u->reason);
            cpj_char(b, ']');
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
    cpj_hello_members(b, h);
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

static cpw_err dec_sub(json_t *row, cpw_sub *u, int64_t base, size_t idx, cpw_error *err)
{
    if (!json_is_array(row) || json_array_size(row) != 20)
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "subtasks",
                        "subtasks[%zu] must be an array of 20 values", idx);
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
    return CPW_OK;
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
    TRY(cpw_jx_str(j, "name", s->hello.name, sizeof s->hello.name, true, err));
    v = 0; /* optional */
    TRY(cpw_jx_int(j, "pid", 0, INT32_MAX, &v, false, err));
    s->hello.pid = (int)v;
    v = 0;
    TRY(cpw_jx_int(j, "start_ts_us", 0, INT64_MAX, &v, false, err));
    s->hello.start_ts_us = v;
    TRY(cpw_jx_str(j, "agent_version", s->hello.agent_version, sizeof s->hello.agent_version,
                   false, err));
    TRY(cpw_jx_topology(j, &s->hello, err));
    compute_bases(s);
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
