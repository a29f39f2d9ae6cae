/* cpd_op_sink.c — the exactly-once sink operator: the rows its aggregate
 * subtask sends between two barriers are staged under the second (phase 1,
 * on its stager's thread); the coordinator's completion worker commits them
 * once that checkpoint completes (phase 2). See cpd_job.h, cpd_sink.h. */
#include <stdio.h>
#include <string.h>

#include "cpd_clock.h"
#include "cpd_job.h"

/* Barrier cp: the rows since the last barrier go to the stager, unless the
 * task declined or cp failed already; then they are staged with the next
 * checkpoint (dropping them would lose updates the aggregate will not send
 * again). */
static void barrier(cpd_task *t, cpd_stager *stager, cpd_stage_batch **rows, const cpd_item *it,
                    int ch)
{
    cpd_job *j = t->j;
    int64_t cp = it->cp, b0 = cpd_wall_us();
    cpa_event e = cpd_job_ev(CPA_EV_BARRIER_RECEIVED, cp, CPD_OP_SINK, t->sub);
    e.u.barrier.channel = ch;
    cpd_job_emit(j, e);
    bool ok = cpd_task_barrier_checks(t, cp);
    if (!ok || cp <= atomic_load(&j->aborted))
        return;
    cpd_stage_batch *next = cpd_stage_batch_new();
    if (!next) {
        cpd_task_write_failed(t, cp, "out of memory");
        return;
    }
    cpd_job_emit(j, cpd_job_ev(CPA_EV_SNAPSHOT_START, cp, CPD_OP_SINK, t->sub));
    cpd_job_emit(j, cpd_job_ev(CPA_EV_SNAPSHOT_SYNC_DONE, cp, CPD_OP_SINK, t->sub));
    cpd_stager_submit(stager, cp, *rows, it->trigger_us ? b0 - it->trigger_us : 0);
    *rows = next;
}

/* "Processing again": what the recovery benchmark measures to. */
static void first_row(cpd_job *j)
{
    if (atomic_exchange(&j->first_row_seen, true))
        return;
    cpd_job_say("processing: the first record reached the sink at %lld ms (epoch), %lld ms after "
                "the process started", (long long)cpd_wall_ms(),
                (long long)(cpd_mono_ms() - j->process_start_ms));
}

void *cpd_op_sink_main(void *arg)
{
    cpd_task *t = arg;
    cpd_job *j = t->j;
    char err[300];
    cpd_sink *sink = cpd_sink_open(j->cfg.sink, err, sizeof err);
    if (!sink) {
        cpd_job_fail(j, "sink#%d: %s", t->sub, err);
        return NULL;
    }
    cpd_stager_hooks hooks = cpd_task_stager_hooks(t);
    cpd_stager *stager = cpd_stager_new(sink, t->sub, false, &hooks);
    cpd_stage_batch *rows = cpd_stage_batch_new();
    if (!stager || !rows) {
        cpd_job_fail(j, "sink#%d: out of memory", t->sub);
        cpd_stager_destroy(stager);
        cpd_stage_batch_free(rows);
        return NULL;
    }
    int64_t last_metrics = 0;
    cpd_item it;
    int ch;
    while (!cpd_task_killed(t)) {
        cpd_task_metrics(t, &last_metrics);
        int r = cpd_inbox_pop(&t->in, NULL, &j->stopping, 100, &it, &ch);
        if (r < 0)
            break;
        if (r == 0)
            continue;
        if (it.kind == CPD_IT_BARRIER) {
            barrier(t, stager, &rows, &it, ch);
            continue;
        }
        atomic_fetch_add(&t->rec_in, 1);
        first_row(j);
        if (!cpd_stage_batch_add_row(rows, &it.u.row)) {
            cpd_job_fail(j, "sink#%d: out of memory", t->sub);
            break;
        }
        atomic_fetch_add(&t->rec_out, 1);
    }
    cpd_stager_destroy(stager);
    cpd_stage_batch_free(rows);
    return NULL;
}
