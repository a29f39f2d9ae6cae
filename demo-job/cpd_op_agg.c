/* cpd_op_agg.c — the keyed aggregate: one input channel per parse subtask,
 * barriers handled by cpd_task.c (aligned, or unaligned), its state in
 * cpd_aggstate. After each snapshot the rows of accounts changed since the
 * last one go to its sink subtask: ahead of the barrier when it travels in
 * band, behind it (and in the channel state) when it overtook them (see
 * cpd_job.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_aggstate.h"
#include "cpd_job.h"

typedef struct agg {
    cpd_aggstate *m;
    bool flushing;              /* the changed rows are output now (after a snapshot) */
} agg;

static bool record(cpd_task *t, const cpd_item *it, int ch)
{
    (void)ch;
    agg *a = t->op_state;
    if (cpd_aggstate_add(a->m, it->u.pay.account, it->u.pay.amount, it->u.pay.ts))
        return true;
    cpd_job_fail(t->j, "aggregate#%d: out of memory", t->sub);
    return false;
}

/* The snapshot: the synchronous copy here, the write on the I/O thread. */
static bool snapshot(cpd_task *t, cpd_snap *s)
{
    agg *a = t->op_state;
    s->data = cpd_aggstate_serialize(a->m, &s->len);
    a->flushing = cpd_aggstate_dirty(a->m) > 0;
    return s->data != NULL;
}

static bool held(cpd_task *t)
{
    agg *a = t->op_state;
    if (a->flushing && !cpd_aggstate_dirty(a->m))
        a->flushing = false;
    return a->flushing;
}

static cpd_item row_item(const cpd_row *row)
{
    cpd_item it;
    memset(&it, 0, sizeof it);
    it.kind = CPD_IT_RECORD;
    it.u.row = *row;
    return it;
}

static bool offer_row(void *o, const cpd_row *row)
{
    cpd_task *t = o;
    cpd_item it = row_item(row);
    if (!cpd_chan_offer(t->out[0], &it, 0))
        return false; /* full: the row keeps its mark */
    atomic_fetch_add(&t->rec_out, 1);
    return true;
}

static int held_emit(cpd_task *t)
{
    agg *a = t->op_state;
    cpd_aggstate_flush(a->m, offer_row, t);
    return !held(t);
}

static bool capture_row(void *o, const cpd_row *row)
{
    cpd_item it = row_item(row);
    return cpd_chanstate_add(o, true, 0, &it);
}

static bool held_capture(cpd_task *t, cpd_chanstate *cs)
{
    agg *a = t->op_state;
    return cs && cpd_aggstate_each_dirty(a->m, capture_row, cs);
}

static const cpd_op_hooks hooks = {.in = CPD_EDGE_PAY, .out = CPD_EDGE_ROW, .record = record,
                                   .snapshot = snapshot, .held = held, .held_emit = held_emit,
                                   .held_capture = held_capture};

/* The restored checkpoint's keyed state, then its channel state. */
static bool restore(cpd_task *t, agg *a)
{
    char *op = NULL, err[300];
    size_t len = 0;
    if (!cpd_task_restore(t, &op, &len))
        return false;
    bool ok = !op || cpd_aggstate_restore(a->m, op, len, err, sizeof err);
    if (!ok)
        cpd_job_fail(t->j, "aggregate#%d: cannot restore its state: %s", t->sub, err);
    free(op);
    return ok && cpd_task_replay(t);
}

void *cpd_op_agg_main(void *arg)
{
    cpd_task *t = arg;
    agg a = {.m = cpd_aggstate_new()};
    if (!a.m)
        cpd_job_fail(t->j, "aggregate#%d: out of memory", t->sub);
    else if (cpd_task_setup(t, &hooks, &a) && restore(t, &a))
        cpd_task_run(t);
    cpd_task_teardown(t);
    cpd_aggstate_free(a.m);
    return NULL;
}
