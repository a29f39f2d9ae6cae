/* cpd_op_sink.c — the exactly-once sink operator: the rows its aggregate
 * subtask sends between two barriers are staged under the second (phase 1,
 * on its stager's thread, handed over by cpd_task.c with its channel state
 * when the checkpoint is unaligned); the coordinator's completion worker
 * commits them once that checkpoint completes (phase 2). See cpd_job.h,
 * cpd_sink.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_clock.h"
#include "cpd_job.h"

/* "Processing again": what the recovery benchmark measures to. */
static void first_row(cpd_job *j)
{
    if (atomic_exchange(&j->first_row_seen, true))
        return;
    cpd_job_say("processing: the first record reached the sink at %lld ms (epoch), %lld ms after "
                "the process started", (long long)cpd_wall_ms(),
                (long long)(cpd_mono_ms() - j->process_start_ms));
}

/* Rows of a checkpoint that is declined or fails are staged with the next
 * one (dropping them would lose updates the aggregate will not send again). */
static bool record(cpd_task *t, const cpd_item *it, int ch)
{
    (void)ch;
    first_row(t->j);
    if (!cpd_stage_batch_add_row(t->batch, &it->u.row)) {
        cpd_job_fail(t->j, "sink#%d: out of memory", t->sub);
        return false;
    }
    atomic_fetch_add(&t->rec_out, 1);
    return true;
}

static const cpd_op_hooks hooks = {.in = CPD_EDGE_ROW, .out = CPD_EDGE_NONE, .record = record};

void *cpd_op_sink_main(void *arg)
{
    cpd_task *t = arg;
    cpd_job *j = t->j;
    char err[300], *op = NULL;
    size_t op_len = 0;
    cpd_sink *sink = cpd_sink_open(j->cfg.sink, err, sizeof err);
    if (!sink) {
        cpd_job_fail(j, "sink#%d: %s", t->sub, err);
        return NULL;
    }
    cpd_stager_hooks sh = cpd_task_stager_hooks(t);
    t->stager = cpd_stager_new(sink, t->sub, false, &sh);
    if (!t->stager)
        cpd_job_fail(j, "sink#%d: out of memory", t->sub);
    else if (cpd_task_setup(t, &hooks, NULL) && cpd_task_restore(t, &op, &op_len) &&
             cpd_task_replay(t))
        cpd_task_run(t);
    free(op);
    cpd_stager_destroy(t->stager);
    t->stager = NULL;
    cpd_task_teardown(t);
    return NULL;
}
