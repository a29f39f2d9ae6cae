/* cpd_op_parse.c — the parse operator: good records go on to the aggregate
 * subtask of their account, the rest become dead letters, staged under the
 * next checkpoint by the subtask's stager (see cpd_job.h, cpd_stager.h). */
#include <stdio.h>
#include <string.h>

#include "cpd_aggstate.h"
#include "cpd_clock.h"
#include "cpd_job.h"
#include "cpd_parse.h"

/* Barrier cp: forwarded; the dead letters since the last barrier go to the
 * stager (phase 1 under cp), unless the task declined or cp failed
 * already: then they wait for the next one, never dropped. */
static void barrier(cpd_task *t, cpd_stager *stager, cpd_stage_batch **dead, const cpd_item *it,
                    int ch)
{
    cpd_job *j = t->j;
    int64_t cp = it->cp, b0 = cpd_wall_us();
    cpa_event e = cpd_job_ev(CPA_EV_BARRIER_RECEIVED, cp, CPD_OP_PARSE, t->sub);
    e.u.barrier.channel = ch;
    cpd_job_emit(j, e);
    bool ok = cpd_task_barrier_checks(t, cp);
    for (int o = 0; o < t->n_out; o++)
        cpd_task_push(t, o, it);
    if (!ok || cp <= atomic_load(&j->aborted))
        return;
    cpd_stage_batch *next = cpd_stage_batch_new();
    if (!next) {
        cpd_task_write_failed(t, cp, "out of memory");
        return;
    }
    cpd_job_emit(j, cpd_job_ev(CPA_EV_SNAPSHOT_START, cp, CPD_OP_PARSE, t->sub));
    cpd_job_emit(j, cpd_job_ev(CPA_EV_SNAPSHOT_SYNC_DONE, cp, CPD_OP_PARSE, t->sub));
    cpd_stager_submit(stager, cp, *dead, it->trigger_us ? b0 - it->trigger_us : 0);
    *dead = next;
}

static void record(cpd_task *t, cpd_stage_batch *dead, const cpd_item *it)
{
    atomic_fetch_add(&t->rec_in, 1);
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
        if (cpd_task_push(t, dst, &out)) /* else stopping or killed */
            atomic_fetch_add(&t->rec_out, 1);
        return;
    }
    if (it->u.src.too_long)
        snprintf(why, sizeof why, "record longer than %d bytes", CPD_RAW_MAX);
    if (!cpd_stage_batch_add_dead(dead, it->u.src.partition, it->u.src.offset, why,
                                  it->u.src.raw, it->u.src.len))
        cpd_job_fail(t->j, "parse#%d: out of memory for dead letters", t->sub);
}

void *cpd_op_parse_main(void *arg)
{
    cpd_task *t = arg;
    cpd_job *j = t->j;
    char err[300];
    cpd_sink *sink = cpd_sink_open(j->cfg.sink, err, sizeof err);
    if (!sink) {
        cpd_job_fail(j, "parse#%d: %s", t->sub, err);
        return NULL;
    }
    cpd_stager_hooks hooks = cpd_task_stager_hooks(t);
    cpd_stager *stager = cpd_stager_new(sink, t->sub, true, &hooks);
    cpd_stage_batch *dead = cpd_stage_batch_new();
    if (!stager || !dead) {
        cpd_job_fail(j, "parse#%d: out of memory", t->sub);
        cpd_stager_destroy(stager);
        cpd_stage_batch_free(dead);
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
        if (it.kind == CPD_IT_BARRIER)
            barrier(t, stager, &dead, &it, ch);
        else
            record(t, dead, &it);
    }
    cpd_stager_destroy(stager);
    cpd_stage_batch_free(dead);
    return NULL;
}
