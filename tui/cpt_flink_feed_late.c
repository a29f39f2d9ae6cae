/* cpt_flink_feed_late.c — the Flink feed's late figures: a checkpoint that
 * Flink shows finished while acks are missing here (it started and ended
 * between two polls) keeps its end until its subtasks answered, so its
 * acks carry Flink's figures and come before its end; and a finished
 * checkpoint whose acks were placed without figures gets them when the
 * user looks at it (the pick), filled into the state after its end. */
#include "cpt_flink_feed_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cpw_cp *history_cp(const cpt_flink_feed *f, int64_t id)
{
    for (int i = 0; i < f->st->n_history; i++)
        if (cpw_state_history(f->st, i)->id == id)
            return cpw_state_history(f->st, i);
    return NULL;
}

/* Vertices whose subtasks all acknowledged here (nothing to ask). */
static uint64_t acked_ops(const cpt_flink_feed *f, const cpw_cp *cp)
{
    uint64_t m = 0;
    for (int op = 0; op < f->st->hello.n_ops; op++)
        if (cpt_ff_acked_of(f, cp, op) >= f->st->hello.ops[op].parallelism)
            m |= 1ull << op;
    return m;
}

static bool all_done(const cpt_flink_feed *f, uint64_t done)
{
    int n = f->st->hello.n_ops;
    return n >= 64 ? done == UINT64_MAX : done == (1ull << n) - 1;
}

cpt_ff_hold *cpt_ff_held(const cpt_flink_feed *f, int64_t id)
{
    for (int i = 0; id > 0 && i < CPT_FF_HOLDS; i++)
        if (f->hold[i].id == id)
            return (cpt_ff_hold *)&f->hold[i];
    return NULL;
}

static cpt_ff_hold *free_hold(cpt_flink_feed *f)
{
    for (int i = 0; i < CPT_FF_HOLDS; i++)
        if (!f->hold[i].id)
            return &f->hold[i];
    return NULL;
}

/* h holds c's end, as Flink gave it, from now. */
static void hold_fill(cpt_ff_hold *h, const cpw_flink_cp *c, uint64_t done, int64_t now_us)
{
    memset(h, 0, sizeof *h);
    h->id = c->id;
    h->since_us = now_us;
    h->done = done;
    h->completed = c->status == CPW_FLINK_COMPLETED;
    h->ack_ms = c->latest_ack_ts > 0 ? c->latest_ack_ts : c->trigger_ts + c->e2e;
    h->e2e_ms = c->e2e;
    h->size = c->state_size;
    h->cpsize = c->has_checkpointed_size ? c->checkpointed_size : c->state_size;
    h->fail_us = cpt_ff_us(c->failure_ts > 0 ? c->failure_ts : c->trigger_ts + c->e2e);
    snprintf(h->message, sizeof h->message, "%s", c->failure_message ? c->failure_message : "");
    h->reason = cpt_flink_failure_reason(h->message);
}

bool cpt_ff_hold_start(cpt_flink_feed *f, const cpw_flink_cp *c, int64_t now_us)
{
    const cpw_cp *cp = cpw_state_find_inflight(f->st, c->id);
    bool completed = c->status == CPW_FLINK_COMPLETED;
    /* subtasks are asked by vertex id: the job's shape must be known */
    if (f->no_holds || !cp || !cp->subs || f->n_vertex != f->st->hello.n_ops || f->n_vertex == 0 ||
        cp->acks + cp->declines >= cp->total || (!completed && c->num_acked <= cp->acks))
        return false;
    cpt_ff_hold *h = free_hold(f);
    if (!h)
        return false;
    hold_fill(h, c, acked_ops(f, cp), now_us);
    return true;
}

bool cpt_ff_hold_behind(cpt_flink_feed *f, const cpw_flink_cp *c, int64_t now_us)
{
    bool older = false;
    for (int i = 0; i < CPT_FF_HOLDS; i++)
        older |= f->hold[i].id && f->hold[i].id < c->id;
    cpt_ff_hold *h = older && !cpt_ff_held(f, c->id) && cpw_state_find_inflight(f->st, c->id)
                         ? free_hold(f) : NULL;
    if (!h)
        return false;
    hold_fill(h, c, UINT64_MAX, now_us); /* asks nothing */
    h->ready = true;
    return true;
}

static void hold_end(cpt_flink_feed *f, cpt_ff_hold *h, int64_t now_us)
{
    cpt_ff_hold x = *h;
    h->id = 0; /* free before emitting: the end must not be held again */
    if (x.completed)
        cpt_ff_complete(f, x.id, x.ack_ms, x.e2e_ms, x.size, x.cpsize, now_us);
    else
        cpt_ff_fail(f, x.id, x.fail_us, x.reason, x.message, now_us);
    /* Flink's counts already held this end when it was seen: the fold's
     * count of it is not another one */
    const cpw_flink_counts *c = &f->info.counts;
    if (c->total || c->completed || c->failed) {
        f->st->counts.total = c->total;
        f->st->counts.completed = c->completed;
        f->st->counts.failed = c->failed;
    }
}

void cpt_ff_hold_release(cpt_flink_feed *f, int64_t upto, int64_t now_us)
{
    for (;;) {
        cpt_ff_hold *h = NULL;
        for (int i = 0; i < CPT_FF_HOLDS; i++)
            if (f->hold[i].id && (!h || f->hold[i].id < h->id))
                h = &f->hold[i];
        if (!h || !(h->id <= upto || h->ready || now_us - h->since_us > CPT_FF_HOLD_US))
            return;
        hold_end(f, h, now_us);
    }
}

void cpt_ff_late_answer(cpt_flink_feed *f, int64_t id, int op, int status, const char *why,
                        int64_t now_us)
{
    uint64_t bit = op >= 0 && op < 64 ? 1ull << op : 0;
    cpt_ff_hold *h = cpt_ff_held(f, id);
    if (h) {
        /* answered either way: asked once, never again */
        h->done |= bit;
        const cpw_cp *cp = cpw_state_find_inflight(f->st, id);
        if (all_done(f, h->done) || !cp || cp->acks + cp->declines >= cp->total) {
            h->ready = true;
            cpt_ff_hold_release(f, 0, now_us); /* after the older ones */
        }
    }
    if (id != f->pick_id || f->pick_state != CPT_FF_PICK_ASKING)
        return;
    f->pick_done |= bit;
    if (status == 404) {
        f->pick_state = CPT_FF_PICK_GONE;
    } else if (status < 200 || status > 299) {
        f->pick_state = CPT_FF_PICK_FAILED;
        snprintf(f->pick_err, sizeof f->pick_err, "%s", why && why[0] ? why : "no answer");
    } else if (all_done(f, f->pick_done)) {
        f->pick_state = CPT_FF_PICK_FILLED;
        for (int i = 0; i < CPT_FF_BLIND; i++)
            f->blind[i] = f->blind[i] == id ? 0 : f->blind[i];
    }
}

/* One subtask's ack as the fold would have made it. */
static void fill_sub(cpw_sub *u, const cpw_flink_subtask *x, int64_t trigger_ts)
{
    u->phase = CPW_PH_ACKED;
    u->ack_ts = cpt_ff_us(x->ack_ts);
    u->state_size = x->state_size;
    u->checkpointed_size = x->has_checkpointed_size ? x->checkpointed_size : x->state_size;
    u->processed_data = x->align_processed;
    u->persisted_data = x->align_persisted;
    u->start_delay_us = cpt_ff_us(x->start_delay);
    u->alignment_us = cpt_ff_us(x->align_duration);
    u->sync_us = cpt_ff_us(x->sync);
    u->async_us = cpt_ff_us(x->async);
    u->unaligned = x->unaligned;
    if (trigger_ts)
        u->barrier_ts = trigger_ts + u->start_delay_us;
}

void cpt_ff_late_fill(cpt_flink_feed *f, int64_t id, int op, const cpw_flink_task_detail *d)
{
    cpw_cp *cp = (cpw_cp *)history_cp(f, id);
    if (id != f->pick_id || f->pick_state != CPT_FF_PICK_ASKING || !cp ||
        cp->total != f->st->n_subtasks || cp->total <= 0)
        return;
    if (!cp->subs && !(cp->subs = calloc((size_t)cp->total, sizeof *cp->subs)))
        return;
    bool any = false;
    for (int i = 0; i < d->n_subtasks; i++) {
        int k = cpw_state_sub_index(f->st, op, d->subtasks[i].index);
        if (k >= 0 && d->subtasks[i].completed) {
            fill_sub(&cp->subs[k], &d->subtasks[i], cp->trigger_ts);
            any = true;
        }
    }
    if (!any)
        return;
    /* the sums the fold keeps from acks */
    cp->persisted_data = cp->alignment_us = 0;
    for (int k = 0; k < cp->total; k++) {
        cp->persisted_data += cp->subs[k].persisted_data;
        if (cp->subs[k].alignment_us > cp->alignment_us)
            cp->alignment_us = cp->subs[k].alignment_us;
    }
    f->filled_gen++;
}

void cpt_ff_blind(cpt_flink_feed *f, int64_t id)
{
    int last = (f->blind_next + CPT_FF_BLIND - 1) % CPT_FF_BLIND;
    if (f->blind[last] == id)
        return;
    f->blind[f->blind_next] = id;
    f->blind_next = (f->blind_next + 1) % CPT_FF_BLIND;
}

static bool is_blind(const cpt_flink_feed *f, int64_t id)
{
    for (int i = 0; id > 0 && i < CPT_FF_BLIND; i++)
        if (f->blind[i] == id)
            return true;
    return false;
}

/* The subtasks paths of checkpoint id for vertices not in done. */
static int subtask_paths(const cpt_flink_feed *f, int64_t id, uint64_t done, char (*paths)[160],
                         int n, int max)
{
    for (int op = 0; op < f->n_vertex && op < 64 && n < max; op++)
        if (!(done & (1ull << op)))
            snprintf(paths[n++], 160, "/jobs/%s/checkpoints/details/%lld/subtasks/%s", f->jid,
                     (long long)id, f->vertex[op]);
    return n;
}

int cpt_ff_late_wanted(const cpt_flink_feed *f, char (*paths)[160], int n, int max)
{
    for (int i = 0; i < CPT_FF_HOLDS; i++)
        if (f->hold[i].id)
            n = subtask_paths(f, f->hold[i].id, f->hold[i].done, paths, n, max);
    if (f->pick_state == CPT_FF_PICK_ASKING)
        n = subtask_paths(f, f->pick_id, f->pick_done, paths, n, max);
    return n;
}

bool cpt_flink_feed_want_detail(cpt_flink_feed *f, int64_t id)
{
    if (id <= 0 || id == f->pick_id)
        return id > 0 && f->pick_state == CPT_FF_PICK_ASKING;
    const cpw_cp *cp = history_cp(f, id);
    if (!cp || !is_blind(f, id) || f->n_vertex != f->st->hello.n_ops || !f->n_vertex)
        return false;
    f->pick_id = id;
    f->pick_state = CPT_FF_PICK_ASKING;
    f->pick_done = 0;
    f->pick_err[0] = 0;
    return true;
}

uint64_t cpt_flink_feed_filled(const cpt_flink_feed *f, int64_t *id)
{
    if (id)
        *id = f->pick_id;
    return f->filled_gen;
}

void cpt_flink_feed_detail_note(const cpt_flink_feed *f, int64_t id, char *out, size_t size)
{
    out[0] = 0;
    if (id <= 0 || id != f->pick_id)
        return;
    if (f->pick_state == CPT_FF_PICK_ASKING)
        snprintf(out, size, "per-subtask figures: asking Flink for them");
    else if (f->pick_state == CPT_FF_PICK_GONE)
        snprintf(out, size, "per-subtask figures unknown: checkpoint %lld left Flink's checkpoint "
                 "history before cptop asked for them", (long long)id);
    else if (f->pick_state == CPT_FF_PICK_FAILED)
        snprintf(out, size, "per-subtask figures unknown: Flink did not give them (%s)",
                 f->pick_err);
}
