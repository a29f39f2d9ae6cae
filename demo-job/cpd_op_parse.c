/* cpd_op_parse.c — the parse operator: good records go on to the aggregate
 * subtask of their account, the rest become dead letters, staged under the
 * next checkpoint by the subtask's stager (see cpd_job.h, cpd_stager.h).
 * Its snapshot is those dead letters (cpd_task.c hands them to the stager),
 * with its channel state when the checkpoint is unaligned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_aggstate.h"
#include "cpd_job.h"
#include "cpd_parse.h"

static bool record(cpd_task *t, const cpd_item *it, int ch)
{
    (void)ch;
    char why[128];
    cpd_vrecord rec;
    if (!it->u.src.too_long &&
        cpd_parse_record(it->u.src.raw, it->u.src.len, &rec, why, sizeof why)) {
        cpd_item out;
        memset(&out, 0, sizeof out);
        out.kind = CPD_IT_RECORD;
        snprintf(out.u.pay.account, sizeof out.u.pay.account, "%s", rec.account);
        out.u.pay.amount = rec.amount_cents;
        out.u.pay.ts = rec.ts_ms;
        int dst = (int)(cpd_account_hash(out.u.pay.account) % (unsigned)t->n_out);
        return cpd_task_emit(t, dst, &out);
    }
    if (it->u.src.too_long)
        snprintf(why, sizeof why, "record longer than %d bytes", CPD_RAW_MAX);
    if (cpd_stage_batch_add_dead(t->batch, it->u.src.partition, it->u.src.offset, why,
                                 it->u.src.raw, it->u.src.len))
        return true;
    cpd_job_fail(t->j, "parse#%d: out of memory for dead letters", t->sub);
    return false;
}

static const cpd_op_hooks hooks = {.in = CPD_EDGE_SRC, .out = CPD_EDGE_PAY, .record = record};

void *cpd_op_parse_main(void *arg)
{
    cpd_task *t = arg;
    cpd_job *j = t->j;
    char err[300], *op = NULL;
    size_t op_len = 0;
    cpd_sink *sink = cpd_sink_open(j->cfg.sink, err, sizeof err);
    if (!sink) {
        cpd_job_fail(j, "parse#%d: %s", t->sub, err);
        return NULL;
    }
    cpd_stager_hooks sh = cpd_task_stager_hooks(t);
    t->stager = cpd_stager_new(sink, t->sub, true, &sh);
    if (!t->stager)
        cpd_job_fail(j, "parse#%d: out of memory", t->sub);
    else if (cpd_task_setup(t, &hooks, NULL) && cpd_task_restore(t, &op, &op_len) &&
             cpd_task_replay(t))
        cpd_task_run(t);
    free(op);
    cpd_stager_destroy(t->stager); /* before the batch it may still be merging goes */
    t->stager = NULL;
    cpd_task_teardown(t);
    return NULL;
}
