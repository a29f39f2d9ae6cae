/* cpw_state.c — a job's checkpoint state folded from its events (see
 * cpw_state.h); its JSON form is in cpw_state_codec.c. */
#include "cpw_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const phase_names[CPW_PH__COUNT] = {
    "pending", "aligning", "sync", "async", "acked", "declined",
};
static const char *const cp_status_names[] = {"in_progress", "completed", "failed"};
static const char *const cp_type_names[CPW_CPT__COUNT] = {"aligned", "unaligned", "switched"};

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

const char *cpw_cp_type_name(cpw_cp_type t)
{
    return ((unsigned)t < CPW_CPT__COUNT) ? cp_type_names[t] : "?";
}

int cpw_cp_type_from_name(const char *s, size_t n)
{
    for (int i = 0; i < CPW_CPT__COUNT; i++)
        if (strlen(cp_type_names[i]) == n && !memcmp(cp_type_names[i], s, n))
            return i;
    return -1;
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

void cpw_state_reindex(cpw_state *s)
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
    cpw_state_reindex(s);
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

static cpw_cp *start_cp(cpw_state *s, int64_t id, int kind, int alignment, int64_t ts)
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
    cp->alignment = (uint8_t)alignment;
    cp->type = alignment == CPW_ALIGN_UNALIGNED ? CPW_CPT_UNALIGNED : CPW_CPT_ALIGNED;
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
    return start_cp(s, id, CPW_TRIGGER_PERIODIC, CPW_ALIGN_ALIGNED, ts);
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

/* ---------------------------------------------------------------- folding
 * One function per event type, found through a table: a subtask's events
 * change its cpw_sub (and the checkpoint's sums), the job's events the
 * checkpoint or the job. */

typedef void (*sub_fold)(cpw_cp *cp, cpw_sub *u, const cpw_event *ev);
typedef void (*job_fold)(cpw_state *s, const cpw_event *ev);

static void sub_barrier_injected(cpw_cp *cp, cpw_sub *u, const cpw_event *ev)
{
    (void)cp;
    if (!u->barrier_ts)
        u->barrier_ts = ev->ts_us;
}

static void sub_barrier_received(cpw_cp *cp, cpw_sub *u, const cpw_event *ev)
{
    (void)cp;
    if (u->barriers < UINT16_MAX)
        u->barriers++;
    if (!u->barrier_ts)
        u->barrier_ts = ev->ts_us;
}

static void sub_alignment_start(cpw_cp *cp, cpw_sub *u, const cpw_event *ev)
{
    (void)cp;
    u->align_start_ts = ev->ts_us;
    if (u->phase < CPW_PH_ALIGNING)
        u->phase = CPW_PH_ALIGNING;
}

static void sub_alignment_end(cpw_cp *cp, cpw_sub *u, const cpw_event *ev)
{
    (void)cp;
    u->align_end_ts = ev->ts_us;
    u->buffered_bytes = ev->u.alignment.buffered_bytes;
    u->alignment_us = ev->u.alignment.duration_us;
}

static void sub_snapshot_start(cpw_cp *cp, cpw_sub *u, const cpw_event *ev)
{
    (void)cp;
    u->snap_start_ts = ev->ts_us;
    if (u->phase < CPW_PH_SYNC)
        u->phase = CPW_PH_SYNC;
}

static void sub_sync_done(cpw_cp *cp, cpw_sub *u, const cpw_event *ev)
{
    (void)cp;
    u->sync_done_ts = ev->ts_us;
    u->sync_us = ev->u.sync.duration_us;
    if (u->phase < CPW_PH_ASYNC)
        u->phase = CPW_PH_ASYNC;
}

static void sub_async_done(cpw_cp *cp, cpw_sub *u, const cpw_event *ev)
{
    (void)cp;
    u->async_done_ts = ev->ts_us;
    u->async_us = ev->u.async.duration_us;
    u->checkpointed_size = ev->u.async.bytes;
}

/* A subtask of cp went unaligned: an aligned checkpoint with a timeout has
 * switched (one triggered aligned without a timeout cannot, unless its
 * trigger was missed: then it counts as unaligned). */
static void went_unaligned(cpw_cp *cp)
{
    if (cp->type == CPW_CPT_ALIGNED)
        cp->type = cp->alignment == CPW_ALIGN_TIMEOUT ? CPW_CPT_SWITCHED : CPW_CPT_UNALIGNED;
}

static void sub_switched(cpw_cp *cp, cpw_sub *u, const cpw_event *ev)
{
    if (!u->switch_ts)
        u->switch_ts = ev->ts_us;
    u->unaligned = 1;
    if (cp->type != CPW_CPT_UNALIGNED)
        cp->type = CPW_CPT_SWITCHED;
}

static void sub_ack(cpw_cp *cp, cpw_sub *u, const cpw_event *ev)
{
    const cpw_ack_info *a = &ev->u.ack;
    u->phase = CPW_PH_ACKED;
    u->ack_ts = ev->ts_us;
    u->state_size = a->state_size;
    u->checkpointed_size = a->checkpointed_size;
    u->processed_data = a->processed_data;
    u->persisted_data = a->persisted_data;
    u->start_delay_us = a->start_delay_us;
    u->alignment_us = a->alignment_us;
    u->sync_us = a->sync_us;
    u->async_us = a->async_us;
    if (a->unaligned) {
        u->unaligned = 1;
        went_unaligned(cp);
    }
    if (!u->barrier_ts && cp->trigger_ts)
        u->barrier_ts = sat_add(cp->trigger_ts, a->start_delay_us);
    if (a->alignment_us > cp->alignment_us)
        cp->alignment_us = a->alignment_us;
    cp->acks++;
    cp->state_size = sat_add(cp->state_size, a->state_size);
    cp->checkpointed_size = sat_add(cp->checkpointed_size, a->checkpointed_size);
    cp->persisted_data = sat_add(cp->persisted_data, a->persisted_data);
    if (ev->ts_us > cp->latest_ack_ts)
        cp->latest_ack_ts = ev->ts_us;
}

static void sub_decline(cpw_cp *cp, cpw_sub *u, const cpw_event *ev)
{
    u->phase = CPW_PH_DECLINED;
    snprintf(u->reason, sizeof u->reason, "%s", ev->u.decline.reason);
    cp->declines++;
}

static void job_triggered(cpw_state *s, const cpw_event *ev)
{
    if (find_inflight(s, ev->cp_id) || ev->cp_id <= 0 ||
        (in_history(s, ev->cp_id) && !reused_after_restore(s, ev->cp_id))) {
        s->ignored++;
        return;
    }
    start_cp(s, ev->cp_id, ev->u.triggered.kind, ev->u.triggered.alignment, ev->ts_us);
}

static void job_completed(cpw_state *s, const cpw_event *ev)
{
    cpw_cp *cp = cp_for(s, ev->cp_id, ev->ts_us);
    if (!cp) {
        s->ignored++;
        return;
    }
    cp->status = CPW_CP_COMPLETED;
    cp->end_ts = ev->ts_us;
    cp->duration_us = ev->u.completed.duration_us;
    cp->state_size = ev->u.completed.state_size;
    cp->checkpointed_size = ev->u.completed.checkpointed_size;
    s->counts.completed++;
    s->consecutive_failures = 0;
    if (ev->cp_id > s->latest_completed_id) {
        s->latest_completed_id = ev->cp_id;
        s->latest_completed_ts = ev->ts_us;
    }
    finish(s, idx_of(s, cp));
}

static void job_failed(cpw_state *s, const cpw_event *ev)
{
    cpw_cp *cp = cp_for(s, ev->cp_id, ev->ts_us);
    if (!cp) {
        s->ignored++;
        return;
    }
    cp->status = CPW_CP_FAILED;
    cp->end_ts = ev->ts_us;
    cp->duration_us = ev->ts_us > cp->trigger_ts ? ev->ts_us - cp->trigger_ts : 0;
    cp->reason = (int8_t)ev->u.failed.reason;
    snprintf(cp->message, sizeof cp->message, "%s", ev->u.failed.message);
    s->counts.failed++;
    if (cpw_failure_counts(ev->u.failed.reason))
        s->consecutive_failures++;
    finish(s, idx_of(s, cp));
}

static void job_committed(cpw_state *s, const cpw_event *ev)
{
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
}

static void job_status(cpw_state *s, const cpw_event *ev)
{
    s->status = ev->u.job_status.status;
    snprintf(s->status_message, sizeof s->status_message, "%s", ev->u.job_status.message);
}

static void job_restored(cpw_state *s, const cpw_event *ev)
{
    /* A restart ends whatever was in flight: the job reports those as
     * failed first; anything it did not is closed here. */
    while (s->n_inflight) {
        cpw_cp *cp = &s->inflight[0];
        cp->status = CPW_CP_FAILED;
        cp->reason = CPW_FAIL_TASK_FAILURE;
        cp->end_ts = ev->ts_us;
        snprintf(cp->message, sizeof cp->message, "job restarted");
        s->counts.failed++;
        finish(s, 0);
    }
    s->restored_from = ev->cp_id;
    s->restore_attempt = ev->u.restored.attempt;
    s->last_restore_ts = ev->ts_us;
    if (ev->cp_id > 0)
        s->counts.restored++;
    s->consecutive_failures = 0;
}

/* Shown in event logs; no checkpoint state. */
static void job_log_only(cpw_state *s, const cpw_event *ev)
{
    (void)s;
    (void)ev;
}

static const struct {
    sub_fold sub;
    job_fold job;
} folds[CPW_EV__COUNT] = {
    [CPW_EV_CP_TRIGGERED] = {NULL, job_triggered},
    [CPW_EV_BARRIER_INJECTED] = {sub_barrier_injected, NULL},
    [CPW_EV_BARRIER_RECEIVED] = {sub_barrier_received, NULL},
    [CPW_EV_ALIGNMENT_START] = {sub_alignment_start, NULL},
    [CPW_EV_ALIGNMENT_END] = {sub_alignment_end, NULL},
    [CPW_EV_SNAPSHOT_START] = {sub_snapshot_start, NULL},
    [CPW_EV_SNAPSHOT_SYNC_DONE] = {sub_sync_done, NULL},
    [CPW_EV_SNAPSHOT_ASYNC_DONE] = {sub_async_done, NULL},
    [CPW_EV_ACK] = {sub_ack, NULL},
    [CPW_EV_DECLINE] = {sub_decline, NULL},
    [CPW_EV_CP_COMPLETED] = {NULL, job_completed},
    [CPW_EV_CP_FAILED] = {NULL, job_failed},
    [CPW_EV_CP_COMMITTED] = {NULL, job_committed},
    [CPW_EV_JOB_STATUS] = {NULL, job_status},
    [CPW_EV_RESTORED] = {NULL, job_restored},
    [CPW_EV_FAILURE_INJECTED] = {NULL, job_log_only},
    [CPW_EV_TASK_FAILED] = {NULL, job_log_only},
    [CPW_EV_SWITCHED_TO_UNALIGNED] = {sub_switched, NULL},
};

void cpw_state_apply(cpw_state *s, const cpw_event *ev, uint64_t seq)
{
    s->seq = seq;
    if ((unsigned)ev->type >= CPW_EV__COUNT || (!folds[ev->type].sub && !folds[ev->type].job)) {
        s->ignored++;
        return;
    }
    if (folds[ev->type].job) {
        folds[ev->type].job(s, ev);
        return;
    }
    cpw_cp *cp = cp_for(s, ev->cp_id, ev->ts_us);
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
    folds[ev->type].sub(cp, u, ev);
}
