/* cpt_flink_feed_cp.c — the Flink feed's checkpoint side: successive
 * /checkpoints, details and subtasks bodies diffed against what was already
 * emitted (f->st), as the events an agent would have sent. */
#include "cpt_flink_feed_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Newest history entries looked at per body: Flink keeps 10 by default; a
 * hostile or huge history costs no more than this. */
#define FF_MAX_SCAN 1024

static cpw_cp *inflight(cpt_flink_feed *f, int64_t id)
{
    return (cpw_cp *)cpw_state_find_inflight(f->st, id);
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The history's ids, sorted again when the history changed since (an
 * entry added: its newest entry or its length differ). false when out of
 * memory. */
static bool fin_ids(cpt_flink_feed *f)
{
    const cpw_state *st = f->st;
    const cpw_cp *top = st->n_history ? cpw_state_history(st, 0) : NULL;
    int64_t key[3] = {st->n_history, top ? top->id : 0, top ? top->end_ts : 0};
    if (f->fin_ids && !memcmp(key, f->fin_key, sizeof key))
        return true;
    if (st->n_history > f->fin_cap) {
        int64_t *n = realloc(f->fin_ids, sizeof *n * (size_t)st->n_history);
        if (!n)
            return false;
        f->fin_ids = n;
        f->fin_cap = st->n_history;
    }
    if (!f->fin_ids && !(f->fin_ids = malloc(sizeof *f->fin_ids)))
        return false;
    for (int i = 0; i < st->n_history; i++)
        f->fin_ids[i] = cpw_state_history(st, i)->id;
    f->n_fin = st->n_history;
    qsort(f->fin_ids, (size_t)f->n_fin, sizeof *f->fin_ids, cmp_id);
    memcpy(f->fin_key, key, sizeof key);
    return true;
}

static bool finished(cpt_flink_feed *f, int64_t id)
{
    if (id > f->st->history_max_id)
        return false;
    if (fin_ids(f))
        return bsearch(&id, f->fin_ids, (size_t)f->n_fin, sizeof id, cmp_id) != NULL;
    for (int i = 0; i < f->st->n_history; i++)
        if (cpw_state_history(f->st, i)->id == id)
            return true;
    return false;
}

static cpt_ff_track *track_of(cpt_flink_feed *f, int64_t id, bool make)
{
    cpt_ff_track *free_slot = NULL;
    for (int i = 0; i < CPW_MAX_INFLIGHT; i++) {
        cpt_ff_track *t = &f->track[i];
        if (t->id == id)
            return t;
        if (!free_slot && (!t->id || !inflight(f, t->id)))
            free_slot = t;
    }
    if (!make || !free_slot)
        return NULL;
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->id = id;
    return free_slot;
}

int cpt_ff_acked_of(const cpt_flink_feed *f, const cpw_cp *cp, int op)
{
    if (!cp->subs || op < 0 || op >= f->st->hello.n_ops)
        return 0;
    int n = 0;
    for (int s = 0; s < f->st->hello.ops[op].parallelism; s++) {
        int i = cpw_state_sub_index(f->st, op, s);
        n += i >= 0 && cp->subs[i].phase == CPW_PH_ACKED;
    }
    return n;
}

/* Acknowledges every subtask of op (-1: all operators) not acknowledged
 * yet, with the vertex's figures split evenly when known (Flink gives
 * them per vertex unless its subtasks are fetched). */
static void ack_rest(cpt_flink_feed *f, int64_t id, int op, int64_t ts_ms,
                     const cpw_flink_task *t, int64_t now_us)
{
    int lo = op < 0 ? 0 : op, hi = op < 0 ? f->st->hello.n_ops : op + 1;
    for (int o = lo; o < hi && o < f->st->hello.n_ops; o++) {
        int n = f->st->hello.ops[o].parallelism;
        for (int s = 0; s < n; s++) {
            cpw_cp *cp = inflight(f, id);
            int i = cpw_state_sub_index(f->st, o, s);
            if (!cp || !cp->subs || i < 0)
                return;
            if (cp->subs[i].phase == CPW_PH_ACKED || cp->subs[i].phase == CPW_PH_DECLINED)
                continue;
            cpw_event ev = {.type = CPW_EV_ACK, .op = o, .subtask = s, .cp_id = id,
                            .ts_us = cpt_ff_us(ts_ms)};
            if (t && n > 0) {
                ev.u.ack.state_size = t->state_size / n;
                ev.u.ack.checkpointed_size =
                    (t->has_checkpointed_size ? t->checkpointed_size : t->state_size) / n;
                ev.u.ack.processed_data = t->processed / n;
                ev.u.ack.persisted_data = t->persisted / n;
            }
            cpt_ff_event(f, &ev, now_us);
            cpt_ff_blind(f, id); /* its figures are a share, or none */
        }
    }
}

static void trigger(cpt_flink_feed *f, const cpw_flink_cp *c, int64_t now_us)
{
    cpw_event ev = {.type = CPW_EV_CP_TRIGGERED, .op = -1, .subtask = -1, .cp_id = c->id,
                    .ts_us = cpt_ff_us(c->trigger_ts)};
    ev.u.triggered.kind = c->is_savepoint ? CPW_TRIGGER_MANUAL : CPW_TRIGGER_PERIODIC;
    ev.u.triggered.alignment =
        !strcmp(c->checkpoint_type, "UNALIGNED_CHECKPOINT") ? CPW_ALIGN_UNALIGNED : CPW_ALIGN_ALIGNED;
    cpt_ff_event(f, &ev, now_us);
}

void cpt_ff_complete(cpt_flink_feed *f, int64_t id, int64_t ack_ms, int64_t e2e_ms, int64_t size,
                     int64_t cpsize, int64_t now_us)
{
    ack_rest(f, id, -1, ack_ms, NULL, now_us);
    cpw_event ev = {.type = CPW_EV_CP_COMPLETED, .op = -1, .subtask = -1, .cp_id = id,
                    .ts_us = cpt_ff_us(ack_ms)};
    ev.u.completed.duration_us = cpt_ff_us(e2e_ms);
    ev.u.completed.state_size = size;
    ev.u.completed.checkpointed_size = cpsize;
    cpt_ff_event(f, &ev, now_us);
}

void cpt_ff_fail(cpt_flink_feed *f, int64_t id, int64_t ts_us, cpw_failure_reason r,
                 const char *msg, int64_t now_us)
{
    cpw_event ev = {.type = CPW_EV_CP_FAILED, .op = -1, .subtask = -1, .cp_id = id, .ts_us = ts_us};
    ev.u.failed.reason = r;
    snprintf(ev.u.failed.message, sizeof ev.u.failed.message, "%s", msg ? msg : "");
    cpt_ff_event(f, &ev, now_us);
}

/* One checkpoint as Flink shows it now against what was emitted;
 * may_hold: its end may wait for its subtasks' figures. */
static void reconcile(cpt_flink_feed *f, const cpw_flink_cp *c, bool may_hold, int64_t now_us)
{
    if (c->id <= 0)
        return;
    if (!inflight(f, c->id)) {
        if (finished(f, c->id))
            return; /* an end is final */
        trigger(f, c, now_us);
        if (!inflight(f, c->id))
            return; /* refused (more in flight than we track) */
    }
    if (c->status != CPW_FLINK_IN_PROGRESS &&
        (cpt_ff_held(f, c->id) || (may_hold && cpt_ff_hold_start(f, c, now_us))))
        return; /* ends once its subtasks answered */
    /* in flight, a vertex's subtasks are asked for (cpt_flink_feed_wanted):
     * its share of the vertex's figures only stands in at an end */
    for (int i = 0; c->status != CPW_FLINK_IN_PROGRESS && i < c->n_tasks; i++) {
        const cpw_flink_task *t = &c->tasks[i];
        int op = cpt_ff_op_of(f, t->vertex);
        if (op >= 0 && t->num_subtasks > 0 && t->num_acked >= t->num_subtasks)
            ack_rest(f, c->id, op, t->latest_ack_ts, t, now_us);
    }
    if (c->status != CPW_FLINK_IN_PROGRESS && cpt_ff_hold_behind(f, c, now_us))
        return; /* ends after the older ones held */
    if (c->status == CPW_FLINK_COMPLETED) {
        int64_t ack = c->latest_ack_ts > 0 ? c->latest_ack_ts : c->trigger_ts + c->e2e;
        cpt_ff_complete(f, c->id, ack, c->e2e, c->state_size,
                 c->has_checkpointed_size ? c->checkpointed_size : c->state_size, now_us);
    } else if (c->status == CPW_FLINK_FAILED) {
        const char *m = c->failure_message ? c->failure_message : "";
        cpt_ff_fail(f, c->id, cpt_ff_us(c->failure_ts > 0 ? c->failure_ts : c->trigger_ts + c->e2e),
             cpt_flink_failure_reason(m), m, now_us);
    }
}

void cpt_ff_gone(cpt_flink_feed *f, int64_t id, int64_t now_us)
{
    if (!inflight(f, id))
        return;
    if (cpt_ff_held(f, id)) {
        cpt_ff_hold_release(f, id, now_us); /* Flink said how it (and older) ended */
        return;
    }
    if (id == f->latest_completed_id) {
        cpt_ff_complete(f, id, f->latest_completed_ack, f->latest_completed_e2e,
                 f->latest_completed_size, f->latest_completed_cpsize, now_us);
        return;
    }
    bool later = f->latest_completed_id > id;
    cpt_ff_fail(f, id, now_us, later ? CPW_FAIL_SUBSUMED : CPW_FAIL_DECLINED,
         "left Flink's checkpoint history before cptop saw how it ended", now_us);
}

/* A new restore: the restart ended every checkpoint still in flight here.
 * Each gets its end as an event first, as a job reports them before its
 * restored (PROTOCOL.md: what it did not report the fold closes silently,
 * and a reader of the events would see a checkpoint begin and never end):
 * Flink's own when the history lists it ended (expired, declined…), else
 * failed by the restart (a JobManager failover takes the ones in flight
 * with it; the new one's history never lists them). */
static void restored(cpt_flink_feed *f, const cpw_flink_stats *s, int64_t now_us)
{
    const cpw_flink_restored *r = s->latest_restored;
    if (!r || r->restore_ts <= f->restore_ts)
        return;
    f->restore_ts = r->restore_ts;
    cpt_ff_hold_release(f, INT64_MAX, now_us); /* a restore fails what is in flight */
    int64_t ids[CPW_MAX_INFLIGHT];
    int n = 0;
    for (int k = 0; k < f->st->n_inflight && n < CPW_MAX_INFLIGHT; k++)
        ids[n++] = f->st->inflight[k].id;
    for (int k = 0; k < n; k++) {
        const cpw_flink_cp *c = NULL;
        for (int i = 0; i < s->n_history && i < FF_MAX_SCAN && !c; i++)
            if (s->history[i].id == ids[k])
                c = &s->history[i];
        if (c && c->status != CPW_FLINK_IN_PROGRESS) {
            reconcile(f, c, false, now_us); /* no hold: the restart ends it now */
        } else if (inflight(f, ids[k])) {
            char msg[160];
            snprintf(msg, sizeof msg,
                     "the job restarted (from checkpoint %lld) before this checkpoint ended",
                     (long long)r->id);
            cpt_ff_fail(f, ids[k], cpt_ff_us(r->restore_ts), CPW_FAIL_TASK_FAILURE, msg, now_us);
        }
    }
    cpw_event ev = {.type = CPW_EV_RESTORED, .op = -1, .subtask = -1, .cp_id = r->id,
                    .ts_us = cpt_ff_us(r->restore_ts)};
    ev.u.restored.attempt = (int32_t)(s->counts.restored > INT32_MAX ? INT32_MAX : s->counts.restored);
    cpt_ff_event(f, &ev, now_us);
}

cpw_err cpt_ff_read_stats(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                          const char *vid, int64_t now_us, cpw_error *err)
{
    (void)id, (void)vid;
    cpw_flink_stats s;
    cpw_err rc = cpw_flink_read_stats(b, n, &s, err);
    if (rc)
        return rc;
    if (s.latest_completed) {
        const cpw_flink_cp *c = s.latest_completed;
        f->latest_completed_id = c->id;
        f->latest_completed_e2e = c->e2e;
        f->latest_completed_size = c->state_size;
        f->latest_completed_cpsize = c->has_checkpointed_size ? c->checkpointed_size : c->state_size;
        f->latest_completed_ack = c->latest_ack_ts > 0 ? c->latest_ack_ts : c->trigger_ts + c->e2e;
    }
    restored(f, &s, now_us);
    int scan = s.n_history < FF_MAX_SCAN ? s.n_history : FF_MAX_SCAN;
    /* the newest ends not folded yet may wait for their figures */
    int64_t newest[CPT_FF_HOLD_NEW] = {0};
    for (int i = 0, k = 0; i < scan && k < CPT_FF_HOLD_NEW; i++)
        if (s.history[i].status != CPW_FLINK_IN_PROGRESS && !finished(f, s.history[i].id) &&
            !inflight(f, s.history[i].id))
            newest[k++] = s.history[i].id;
    for (int i = scan - 1; i >= 0; i--) { /* oldest first, as they happened */
        const cpw_flink_cp *c = &s.history[i];
        bool may_hold = c->id > 0 && inflight(f, c->id);
        for (int k = 0; k < CPT_FF_HOLD_NEW; k++)
            may_hold |= c->id > 0 && newest[k] == c->id;
        reconcile(f, c, may_hold, now_us);
        cpt_ff_track *t = c->status == CPW_FLINK_IN_PROGRESS ? track_of(f, c->id, true) : NULL;
        if (t)
            t->hist_acked = c->num_acked;
    }
    /* in flight here, unknown to Flink: evicted, or its JobManager failed over */
    for (int k = f->st->n_inflight - 1; k >= 0; k--) {
        int64_t cid = f->st->inflight[k].id;
        bool listed = false;
        for (int i = 0; i < scan && !listed; i++)
            listed = s.history[i].id == cid;
        if (!listed)
            cpt_ff_gone(f, cid, now_us);
    }
    f->info.counts = s.counts;
    f->st->counts.total = s.counts.total;
    f->st->counts.completed = s.counts.completed;
    f->st->counts.failed = s.counts.failed;
    f->st->counts.restored = s.counts.restored;
    cpw_flink_stats_clear(&s);
    return CPW_OK;
}

cpw_err cpt_ff_read_details(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                            const char *vid, int64_t now_us, cpw_error *err)
{
    (void)vid;
    cpw_flink_cp c;
    cpw_err rc = cpw_flink_read_cp(b, n, &c, err);
    if (rc)
        return rc;
    if (c.id != id) {
        cpw_flink_cp_clear(&c);
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "id", "details of %lld name checkpoint %lld",
                        (long long)id, (long long)c.id);
    }
    cpt_ff_track *t = track_of(f, id, c.status == CPW_FLINK_IN_PROGRESS);
    if (t) {
        t->seen = true;
        t->hist_acked = t->det_at = c.num_acked;
        for (int i = 0; i < c.n_tasks; i++) {
            int op = cpt_ff_op_of(f, c.tasks[i].vertex);
            if (op >= 0)
                t->acked[op] = c.tasks[i].num_acked;
        }
    }
    reconcile(f, &c, true, now_us);
    cpw_flink_cp_clear(&c);
    return CPW_OK;
}

static void ack_subtask(cpt_flink_feed *f, int64_t id, int op, const cpw_flink_subtask *x,
                        int64_t now_us)
{
    cpw_event ev = {.type = CPW_EV_ACK, .op = op, .subtask = x->index, .cp_id = id,
                    .ts_us = cpt_ff_us(x->ack_ts)};
    cpw_ack_info *a = &ev.u.ack;
    a->state_size = x->state_size;
    a->checkpointed_size = x->has_checkpointed_size ? x->checkpointed_size : x->state_size;
    a->processed_data = x->align_processed;
    a->persisted_data = x->align_persisted;
    a->start_delay_us = cpt_ff_us(x->start_delay);
    a->alignment_us = cpt_ff_us(x->align_duration);
    a->sync_us = cpt_ff_us(x->sync);
    a->async_us = cpt_ff_us(x->async);
    a->unaligned = x->unaligned;
    cpt_ff_event(f, &ev, now_us);
}

cpw_err cpt_ff_read_subtasks(cpt_flink_feed *f, const char *b, size_t n, int64_t id,
                             const char *vid, int64_t now_us, cpw_error *err)
{
    cpw_flink_task_detail d;
    cpw_err rc = cpw_flink_read_task_detail(b, n, &d, err);
    if (rc)
        return rc;
    int op = cpt_ff_op_of(f, vid);
    if (op >= 0 && !inflight(f, id))
        cpt_ff_late_fill(f, id, op, &d); /* a finished one's detail, asked for */
    for (int i = 0; op >= 0 && i < d.n_subtasks; i++) {
        const cpw_flink_subtask *x = &d.subtasks[i];
        cpw_cp *cp = inflight(f, id);
        int k = cpw_state_sub_index(f->st, op, x->index);
        if (!cp || !cp->subs || k < 0 || !x->completed)
            continue;
        if (cp->subs[k].phase != CPW_PH_ACKED && cp->subs[k].phase != CPW_PH_DECLINED)
            ack_subtask(f, id, op, x, now_us);
    }
    cpt_ff_track *t = track_of(f, id, false);
    if (t && op >= 0 && d.task.num_acked > t->acked[op])
        t->acked[op] = d.task.num_acked;
    if (t && op >= 0)
        t->sub_at[op] = t->acked[op];
    cpw_flink_task_detail_clear(&d);
    cpt_ff_late_answer(f, id, op, 200, "", now_us);
    return CPW_OK;
}

int cpt_flink_feed_wanted(const cpt_flink_feed *f, char (*paths)[160], int max)
{
    int n = 0;
    for (int k = 0; k < f->st->n_inflight && n < max; k++) {
        const cpw_cp *cp = &f->st->inflight[k];
        const cpt_ff_track *t = NULL;
        if (cpt_ff_held(f, cp->id))
            continue; /* asked below */
        for (int i = 0; i < CPW_MAX_INFLIGHT && !t; i++)
            if (f->track[i].id == cp->id)
                t = &f->track[i];
        /* details only when Flink counts acks that neither we placed nor
         * the last details placed on a vertex (its subtasks are asked) */
        int32_t known = 0;
        for (int op = 0; t && op < f->n_vertex; op++)
            known += t->acked[op];
        if (!t || !t->seen ||
            (t->hist_acked > t->det_at && t->hist_acked > (known > cp->acks ? known : cp->acks)))
            snprintf(paths[n++], 160, "/jobs/%s/checkpoints/details/%lld", f->jid,
                     (long long)cp->id);
        for (int op = 0; t && t->seen && op < f->n_vertex && n < max; op++)
            if (t->acked[op] > cpt_ff_acked_of(f, cp, op) && t->acked[op] > t->sub_at[op])
                snprintf(paths[n++], 160, "/jobs/%s/checkpoints/details/%lld/subtasks/%s",
                         f->jid, (long long)cp->id, f->vertex[op]);
    }
    return cpt_ff_late_wanted(f, paths, n, max);
}
