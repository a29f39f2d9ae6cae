/* cptop_once.c — `cptop --once`: the job's state as text, every string
 * from the job sanitised. The state is the source's snapshot, so it reads
 * the same for an agent and a Flink cluster; `--replay FILE --once` prints
 * a replayed state through the same printer (cptop_once_print). */
#include "cptop.h"
#include "cpt_fmt.h"
#include "cpt_source.h"
#include "cpw_state.h"

#include <stdio.h>

/* "failures: slow-upload (subtask; ms 1..10000 ms, default 800)" */
static void print_failures(const cpw_hello *h)
{
    if (!h->has_failures) {
        printf("failures: none declared (ctl fail sends any kind as is)\n");
        return;
    }
    printf("failures:%s\n", h->n_failures ? "" : " none offered");
    for (int i = 0; i < h->n_failures; i++) {
        const cpw_failure_kind *k = &h->failures[i];
        char kind[CPW_KIND_MAX], label[CPW_TEXT_MAX], name[CPW_PARAM_NAME_MAX], unit[CPW_UNIT_MAX];
        cpw_sanitize(k->kind, kind, sizeof kind);
        cpw_sanitize(k->label, label, sizeof label);
        printf("  %-16s %s%s", kind, k->subtask ? "OP SUBTASK " : "", label);
        for (int p = 0; p < k->n_params; p++) {
            cpw_sanitize(k->params[p].name, name, sizeof name);
            cpw_sanitize(k->params[p].unit, unit, sizeof unit);
            printf("%s%s=%lld (%lld..%lld%s%s)", p ? ", " : "; ", name, (long long)k->params[p].def,
                   (long long)k->params[p].min, (long long)k->params[p].max, unit[0] ? " " : "", unit);
        }
        printf("\n");
    }
}

/* "source[3] aligning, sum[0] waiting" for a checkpoint in flight: the
 * subtasks that have not acknowledged it (four named, the rest counted);
 * "" when the state holds no per-subtask detail for it. */
static void waiting_on(const cpw_state *s, const cpw_cp *cp, char *out, size_t size)
{
    size_t k = 0;
    int shown = 0, more = 0;
    out[0] = 0;
    if (!cp->subs || cp->total != s->n_subtasks)
        return;
    for (int op = 0; op < s->hello.n_ops; op++)
        for (int i = 0; i < s->hello.ops[op].parallelism; i++) {
            const cpw_sub *u = &cp->subs[s->op_base[op] + i];
            if (u->phase == CPW_PH_ACKED || u->phase == CPW_PH_DECLINED)
                continue;
            if (shown == 4) {
                more++;
                continue;
            }
            char name[CPW_NAME_MAX];
            if (s->hello.ops[op].name[0])
                cpw_sanitize(s->hello.ops[op].name, name, sizeof name);
            else
                snprintf(name, sizeof name, "op%d", op);
            int w = snprintf(out + k, size - k, "%s%s[%d] %s", shown ? ", " : "", name, i,
                             cpw_phase_name((cpw_phase)u->phase));
            if (w > 0 && (size_t)w < size - k)
                k += (size_t)w;
            shown++;
        }
    if (more && k < size)
        snprintf(out + k, size - k, " and %d more", more);
}

/* One line per checkpoint: in flight first (elapsed at now_us, who it
 * still waits on), then a header and the history newest first, each with
 * its type (aligned / unaligned / switched) and the in-flight bytes its
 * unaligned subtasks persisted. */
static void print_checkpoints(const cpw_state *s, int64_t now_us, int max_history)
{
    char msg[CPW_TEXT_MAX], d[32], wait[400];
    for (int i = 0; i < s->n_inflight; i++) {
        const cpw_cp *cp = &s->inflight[i];
        cpt_fmt_dur(d, sizeof d, now_us - cp->trigger_ts);
        waiting_on(s, cp, wait, sizeof wait);
        printf("in flight %lld: %s, %d/%d acknowledged, %s elapsed, %lld B persisted%s%s\n",
               (long long)cp->id, cpw_cp_type_name((cpw_cp_type)cp->type), cp->acks, cp->total, d,
               (long long)cp->persisted_data, wait[0] ? "; still waiting on " : "", wait);
    }
    printf("%6s %-9s %-8s %-9s %9s %12s %12s            acks  reason\n", "id", "status",
           "trigger", "type", "duration", "size", "persisted");
    for (int i = 0; i < s->n_history && (max_history < 0 || i < max_history); i++) {
        const cpw_cp *cp = cpw_state_history(s, i);
        cpt_fmt_dur(d, sizeof d, cp->duration_us);
        cpw_sanitize(cp->message, msg, sizeof msg);
        printf("%6lld %-9s %-8s %-9s %9s %10lld B %10lld B persisted  %d/%d acks  %s%s%s\n",
               (long long)cp->id, cpw_cp_status_name(cp->status), cp->kind ? "manual" : "periodic",
               cpw_cp_type_name((cpw_cp_type)cp->type), d, (long long)cp->state_size,
               (long long)cp->persisted_data, cp->acks, cp->total,
               cp->reason >= 0 ? cpw_failure_reason_name((cpw_failure_reason)cp->reason) : "",
               msg[0] ? " " : "", msg);
    }
}

void cptop_once_print(const cpw_state *s, int64_t now_us, int max_history)
{
    char name[CPW_NAME_MAX], jobid[CPW_MAX_JOB_ID];
    cpw_sanitize(s->hello.name, name, sizeof name);
    cpw_sanitize(s->job, jobid, sizeof jobid);
    printf("job %s (%s), pid %d, status %s\n", jobid, name, s->hello.pid,
           cpw_job_status_name((cpw_job_status)s->status));
    printf("checkpoints: total %lld, in progress %lld, completed %lld, failed %lld, restored %lld;"
           " consecutive failures %d\n",
           (long long)s->counts.total, (long long)s->counts.in_progress,
           (long long)s->counts.completed, (long long)s->counts.failed,
           (long long)s->counts.restored, s->consecutive_failures);
    printf("topology:");
    for (int i = 0; i < s->hello.n_ops; i++) {
        cpw_sanitize(s->hello.ops[i].name, name, sizeof name);
        printf("%s %s x%d", i ? " ->" : "", name, s->hello.ops[i].parallelism);
    }
    printf("\n");
    print_failures(&s->hello);
    print_checkpoints(s, now_us, max_history);
}

int cptop_once(const cptop_opts *o, int argc, char **argv)
{
    (void)argc, (void)argv;
    cpt_source *src;
    int rc = cptop_open_source(o, &src);
    if (rc)
        return rc;
    cpw_state *s;
    char err[600];
    rc = cpt_source_snapshot(src, CPTOP_ONCE_HISTORY, o->timeout_ms, &s, err, sizeof err);
    cpt_source_destroy(src);
    if (rc) {
        cptop_complain(err);
        return 1;
    }
    cptop_once_print(s, cpw_now_us(), CPTOP_ONCE_HISTORY);
    cpw_state_free(s);
    return 0;
}
