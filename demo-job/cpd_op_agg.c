/* cpd_op_agg.c — the keyed aggregate: one input channel per parse subtask,
 * aligned at barriers (cpd_align), its state in cpd_aggstate; at each
 * barrier the rows of accounts changed since the last one go to its sink
 * subtask ahead of the barrier (see cpd_job.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_aggstate.h"
#include "cpd_align.h"
#include "cpd_clock.h"
#include "cpd_job.h"

static bool restore(cpd_task *t, cpd_aggstate *m)
{
    cpd_job *j = t->j;
    if (!j->restored_md)
        return true;
    void *data = NULL;
    size_t len = 0;
    char err[300];
    cpd_st_rc rc = cpd_storage_read_state(j->st, j->restored_md, CPD_OP_AGG, t->sub, &data, &len,
                                          err, sizeof err);
    bool ok = rc == CPD_ST_OK && cpd_aggstate_restore(m, data, len, err, sizeof err);
    free(data);
    if (!ok)
        cpd_job_fail(j, "aggregate#%d: cannot restore its state: %s", t->sub, err);
    return ok;
}

static bool emit_row(void *o, const cpd_row *row)
{
    cpd_task *t = o;
    cpd_item it;
    memset(&it, 0, sizeof it);
    it.kind = CPD_IT_RECORD;
    it.u.row = *row;
    if (!cpd_task_push(t, 0, &it))
        return false; /* stopping */
    atomic_fetch_add(&t->rec_out, 1);
    return true;
}

/* The snapshot: the synchronous copy here, the write on the I/O thread. */
static void snapshot(cpd_task *t, cpd_aggstate *m, int64_t cp, int64_t start_delay_us,
                     int64_t alignment_us)
{
    cpd_job *j = t->j;
    int64_t s0 = cpd_wall_us();
    cpd_job_emit(j, cpd_job_ev(CPA_EV_SNAPSHOT_START, cp, CPD_OP_AGG, t->sub));
    cpd_snap *r = calloc(1, sizeof *r);
    if (r)
        r->data = cpd_aggstate_serialize(m, &r->len);
    if (!r || !r->data) {
        free(r);
        cpd_task_write_failed(t, cp, "out of memory for the snapshot");
        return;
    }
    r->cp = cp;
    r->op = CPD_OP_AGG;
    r->sub = t->sub;
    r->sync_us = cpd_wall_us() - s0;
    r->alignment_us = alignment_us;
    r->start_delay_us = start_delay_us;
    cpa_event e = cpd_job_ev(CPA_EV_SNAPSHOT_SYNC_DONE, cp, CPD_OP_AGG, t->sub);
    e.u.sync.duration_us = r->sync_us;
    cpd_job_emit(j, e);
    cpd_job_snapshot(j, r);
}

static void barrier(cpd_task *t, cpd_aggstate *m, cpd_align *al, const cpd_item *it, int ch)
{
    cpd_job *j = t->j;
    int64_t cp = it->cp, now = cpd_wall_us(), alignment = 0;
    cpa_event e = cpd_job_ev(CPA_EV_BARRIER_RECEIVED, cp, CPD_OP_AGG, t->sub);
    e.u.barrier.channel = ch;
    cpd_job_emit(j, e);
    cpd_align_step step = cpd_align_barrier(al, ch, cp, now, &alignment);
    if (step == CPD_ALIGN_STARTED && t->in.n > 1)
        cpd_job_emit(j, cpd_job_ev(CPA_EV_ALIGNMENT_START, cp, CPD_OP_AGG, t->sub));
    if (step != CPD_ALIGN_DONE)
        return;
    if (t->in.n > 1) {
        e = cpd_job_ev(CPA_EV_ALIGNMENT_END, cp, CPD_OP_AGG, t->sub);
        e.u.alignment.duration_us = alignment;
        cpd_job_emit(j, e);
    }
    bool ok = cpd_task_barrier_checks(t, cp);
    cpd_aggstate_flush(m, emit_row, t); /* the rows changed since the last barrier */
    cpd_task_push(t, 0, it);
    if (ok && cp > atomic_load(&j->aborted))
        snapshot(t, m, cp, it->trigger_us ? now - alignment - it->trigger_us : 0, alignment);
}

void *cpd_op_agg_main(void *arg)
{
    cpd_task *t = arg;
    cpd_job *j = t->j;
    cpd_aggstate *m = cpd_aggstate_new();
    cpd_align al;
    if (!m || !cpd_align_init(&al, t->in.n, j->cfg.mode)) {
        cpd_job_fail(j, "aggregate#%d: out of memory", t->sub);
        cpd_aggstate_free(m);
        return NULL;
    }
    int64_t last_metrics = 0, seen_aborted = 0;
    cpd_item it;
    int ch;
    if (!restore(t, m))
        goto out;
    while (!cpd_task_killed(t)) {
        cpd_task_metrics(t, &last_metrics);
        int64_t ab = atomic_load(&j->aborted);
        if (ab > seen_aborted) {
            cpd_align_abort(&al, ab);
            seen_aborted = ab;
        }
        int r = cpd_inbox_pop(&t->in, &al, &j->stopping, 100, &it, &ch);
        if (r < 0)
            break;
        if (r == 0)
            continue;
        if (it.kind == CPD_IT_BARRIER) {
            barrier(t, m, &al, &it, ch);
            continue;
        }
        atomic_fetch_add(&t->rec_in, 1);
        if (!cpd_aggstate_add(m, it.u.pay.account, it.u.pay.amount, it.u.pay.ts)) {
            cpd_job_fail(j, "aggregate#%d: out of memory", t->sub);
            break;
        }
    }
out:
    cpd_align_free(&al);
    cpd_aggstate_free(m);
    return NULL;
}
