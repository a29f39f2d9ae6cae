/* cpt_advice_cause.c — the rules on failures, trends and causes: tolerable
 * failures, growth, alignment, straggler skew, storage, start delay. */
#include "cpt_advice_int.h"
#include "cpt_fmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A phase dominates when it is at least half of the checkpoints' time. */
#define DOMINANT 0.5
#define MIN_PATHS 3

/* A phase's share of the checkpoints' time (0 with too few paths, or when
 * it is too short to matter: a 30 ms start delay in a 50 ms checkpoint is
 * the topology's depth, not backpressure). */
#define MIN_PHASE_US 100000

static double share(const adv_ctx *c, int phase)
{
    if (c->n_path < MIN_PATHS || c->path_dur <= 0 || c->path[phase] / c->n_path < MIN_PHASE_US)
        return 0;
    return (double)c->path[phase] / (double)c->path_dur;
}

/* ------------------------------------------------------------ tolerable */

typedef struct fail_counts {
    int counted, expired, declined, storage, other, uncounted;
    int max_run;
    int64_t run_from, run_to;
} fail_counts;

static void count_failures(const adv_ctx *c, fail_counts *f)
{
    memset(f, 0, sizeof *f);
    int run = 0;
    int64_t from = 0;
    for (int i = 0; i < c->n_fin; i++) {
        const cpw_cp *cp = c->fin[i];
        if (cp->status == CPW_CP_COMPLETED) {
            run = 0;
            continue;
        }
        int r = cp->reason;
        if (r < 0 || r >= CPW_FAIL__COUNT || !cpw_failure_counts((cpw_failure_reason)r)) {
            f->uncounted++; /* as the job's failure manager: no reset, no count */
            continue;
        }
        f->counted++;
        if (r == CPW_FAIL_EXPIRED)
            f->expired++;
        else if (r == CPW_FAIL_DECLINED)
            f->declined++;
        else if (r == CPW_FAIL_IO || r == CPW_FAIL_ASYNC_EXCEPTION)
            f->storage++;
        else
            f->other++;
        if (run++ == 0)
            from = cp->id;
        if (run > f->max_run)
            f->max_run = run, f->run_from = from, f->run_to = cp->id;
    }
}

/* Restarts the job would have had over the history with tolerance t. */
static int restarts_with(const adv_ctx *c, int t)
{
    int run = 0, n = 0;
    for (int i = 0; i < c->n_fin; i++) {
        const cpw_cp *cp = c->fin[i];
        if (cp->status == CPW_CP_COMPLETED)
            run = 0;
        else if (cp->reason >= 0 && cp->reason < CPW_FAIL__COUNT &&
                 cpw_failure_counts((cpw_failure_reason)cp->reason) && ++run > t)
            n++, run = 0;
    }
    return n;
}

static const char *main_cause(const fail_counts *f)
{
    int m = f->expired;
    const char *n = "CHECKPOINT_EXPIRED";
    if (f->declined > m)
        m = f->declined, n = "CHECKPOINT_DECLINED";
    if (f->storage > m)
        m = f->storage, n = "storage (IO / async)";
    if (f->other > m)
        n = "other";
    return n;
}

bool cpt_adv_rule_tolerable(const adv_ctx *c, cpt_adv_item *it)
{
    fail_counts f;
    count_failures(c, &f);
    int t = c->conf->tolerable;
    char cur[16] = "", val[16];
    if (t >= 0)
        snprintf(cur, sizeof cur, "%d", t);
    cpt_adv_rule(it, "tolerate the longest run of failures seen when they are hiccups (< 20 %% "
                 "fail); when they are frequent, keep it low and fix the cause");
    double rate = c->n_fin ? (double)f.counted / c->n_fin : 0;
    int rec;
    if (!f.counted) {
        rec = t >= 0 ? t : 0;
        it->level = CPT_ADV_FINE;
        cpt_adv_title(it, "no failure that counts against the tolerance in the last %d", c->n_fin);
    } else if (rate < 0.2) {
        rec = t > f.max_run ? t : f.max_run;
        int r = restarts_with(c, t >= 0 ? t : 0);
        it->level = r ? CPT_ADV_WARN : CPT_ADV_FINE;
        if (r)
            cpt_adv_title(it, "tolerance %d restarts the job for hiccups: %d restart%s over this "
                          "history", t, r, r == 1 ? "" : "s");
        else
            cpt_adv_title(it, "tolerance %d absorbs the hiccups seen (%.0f %% failed)", t, rate * 100);
    } else {
        rec = t >= 0 && t < 3 ? t : 3;
        if (rec < 1)
            rec = 1;
        it->level = CPT_ADV_BAD;
        cpt_adv_title(it, "%.0f %% of checkpoints fail, mostly %s: %s", rate * 100, main_cause(&f),
                      t >= f.max_run ? "the tolerance hides a real problem" : "the job restarts for it");
    }
    snprintf(val, sizeof val, "%d", rec);
    cpt_adv_set(it, "execution.checkpointing.tolerable-failed-checkpoints", val, cur);
    cpt_adv_evidence(it, "%d of the last %d failed and count: %d expired, %d declined, %d storage, "
                     "%d other (%d more do not count: aborts, task failures)", f.counted, c->n_fin,
                     f.expired, f.declined, f.storage, f.other, f.uncounted);
    if (f.max_run)
        cpt_adv_evidence(it, "longest run of consecutive failures: %d (#%lld..#%lld)", f.max_run,
                         (long long)f.run_from, (long long)f.run_to);
    if (t >= 0 && f.counted)
        cpt_adv_evidence(it, "with %d (now) the job would have restarted %d time%s; with %d, %d",
                         t, restarts_with(c, t), restarts_with(c, t) == 1 ? "" : "s", rec,
                         restarts_with(c, rec));
    cpt_adv_evidence(it, "%d consecutive failure%s now", c->st->consecutive_failures,
                     c->st->consecutive_failures == 1 ? "" : "s");
    return true;
}

/* ------------------------------------------------------------ trends */

typedef struct fit {
    double slope;     /* per µs of wall time */
    double last;      /* fitted value at the newest point */
    double first;     /* at the oldest */
    double r;         /* correlation */
} fit;

/* Least squares of v against trigger time over the newest n completed. */
static fit fit_recent(const adv_ctx *c, int n, bool size)
{
    fit f = {0};
    int from = c->n_done - n;
    double t0 = (double)c->done[from]->trigger_ts;
    double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    for (int i = from; i < c->n_done; i++) {
        double x = (double)c->done[i]->trigger_ts - t0;
        double y = (double)(size ? c->done[i]->checkpointed_size : c->done[i]->duration_us);
        sx += x, sy += y, sxx += x * x, sxy += x * y, syy += y * y;
    }
    double vx = n * sxx - sx * sx, vy = n * syy - sy * sy;
    if (vx <= 0)
        return f;
    f.slope = (n * sxy - sx * sy) / vx;
    double icpt = (sy - f.slope * sx) / n;
    f.first = icpt;
    f.last = icpt + f.slope * ((double)c->done[c->n_done - 1]->trigger_ts - t0);
    f.r = vy > 0 ? (n * sxy - sx * sy) / sqrt(vx * vy) : 0;
    return f;
}

static bool growing(const fit *f)
{
    return f->slope > 0 && f->r >= 0.6 && f->last >= 1.25 * (f->first > 1 ? f->first : 1);
}

bool cpt_adv_rule_trend(const adv_ctx *c, cpt_adv_item *it)
{
    int n = c->n_done < 60 ? c->n_done : 60;
    if (n < 10)
        return false;
    fit d = fit_recent(c, n, false), s = fit_recent(c, n, true);
    /* still growing in the newer half: a step (a throttle, a bigger
     * input) fits a line over the whole window too, but is flat since */
    fit dh = fit_recent(c, n / 2, false), sh = fit_recent(c, n / 2, true);
    bool gd = growing(&d) && dh.slope > 0 && dh.r >= 0.6;
    bool gs = growing(&s) && sh.slope > 0 && sh.r >= 0.6;
    if (!gd && !gs)
        return false;
    char a[32], b[32], e[32];
    cpt_adv_rule(it, "a least-squares fit over the last %d completed; reported when it explains "
                 "most of it (r >= 0.6), rose by a quarter or more, and still rises in the newer "
                 "half", n);
    it->level = CPT_ADV_WARN;
    if (gd) {
        cpt_fmt_dur(a, sizeof a, (int64_t)(d.slope * 60e6));
        cpt_fmt_dur(b, sizeof b, (int64_t)d.first);
        cpt_fmt_dur(e, sizeof e, (int64_t)d.last);
        cpt_adv_evidence(it, "duration: %s -> %s, +%s per minute (r = %.2f)", b, e, a, d.r);
        if (c->conf->timeout_us > 0 && d.last < (double)c->conf->timeout_us) {
            double min = ((double)c->conf->timeout_us - d.last) / d.slope / 60e6;
            char t[32];
            cpt_fmt_limit(t, sizeof t, c->conf->timeout_us);
            cpt_adv_title(it, "durations grow: at this rate the timeout %s is reached in ~%.0f min",
                          t, min < 1 ? 1 : min);
            if (min < 60)
                it->level = CPT_ADV_BAD;
        } else {
            cpt_adv_title(it, "durations grow by %s per minute", a);
        }
    }
    if (gs) {
        cpt_fmt_bytes(a, sizeof a, (int64_t)(s.slope * 60e6));
        cpt_fmt_bytes(b, sizeof b, (int64_t)s.first);
        cpt_fmt_bytes(e, sizeof e, (int64_t)s.last);
        cpt_adv_evidence(it, "checkpointed size: %s -> %s, +%s per minute (r = %.2f)", b, e, a, s.r);
        if (!gd)
            cpt_adv_title(it, "checkpoint sizes grow by %s per minute", a);
    }
    cpt_adv_evidence(it, "no checkpoint setting stops growth: look at state that is never "
                     "cleared (state TTL) or a key space that keeps growing");
    return true;
}

/* ------------------------------------------------------------ causes */

/* The p50 of (duration - alignment) of the completed ones: what a
 * checkpoint takes when it does not align. */
static int64_t p50_unaligned_part(const adv_ctx *c)
{
    int64_t *v = malloc(((size_t)c->n_done + 1) * sizeof *v);
    if (!v)
        return c->p50;
    for (int i = 0; i < c->n_done; i++) {
        int64_t x = c->done[i]->duration_us - c->done[i]->alignment_us;
        v[i] = x > 0 ? x : 0;
    }
    cpt_adv_sort(v, c->n_done);
    int64_t r = cpt_adv_rank(v, c->n_done, 0.5);
    free(v);
    return r;
}

static void phase_evidence(const adv_ctx *c, cpt_adv_item *it, int phase, const char *word)
{
    char a[32], b[32];
    cpt_fmt_dur(a, sizeof a, c->path[phase] / (c->n_path ? c->n_path : 1));
    cpt_fmt_dur(b, sizeof b, c->path_dur / (c->n_path ? c->n_path : 1));
    cpt_adv_evidence(it, "%s is %.0f %% of the checkpoints' time: %s of %s on average, over the "
                     "%d that kept per-subtask detail", word,
                     c->path_dur > 0 ? 100.0 * (double)c->path[phase] / (double)c->path_dur : 0,
                     a, b, c->n_path);
}

bool cpt_adv_rule_alignment(const adv_ctx *c, cpt_adv_item *it)
{
    if (share(c, PATH_ALIGN) < DOMINANT)
        return false;
    char v[CPT_ADV_VALUE], cur[CPT_ADV_VALUE] = "";
    cpt_adv_rule(it, "alignment at least half of the time: let barriers overtake (unaligned), "
                 "switching after as long as a checkpoint takes without alignment (p50)");
    it->level = CPT_ADV_WARN;
    cpt_advice_round_dur(p50_unaligned_part(c), false, v, sizeof v);
    if (c->conf->aligned_timeout_us >= 0)
        cpt_advice_round_dur(c->conf->aligned_timeout_us, false, cur, sizeof cur);
    cpt_adv_set(it, "execution.checkpointing.unaligned.enabled", "true",
                c->conf->unaligned ? "true" : "false");
    cpt_adv_set(it, "execution.checkpointing.aligned-checkpoint-timeout", v, cur);
    cpt_adv_title(it, c->conf->unaligned ? "alignment dominates although unaligned checkpoints are "
                                           "on: the aligned-checkpoint-timeout is too long"
                                         : "alignment dominates: barriers wait behind records");
    phase_evidence(c, it, PATH_ALIGN, "alignment");
    int64_t pers = 0;
    int nu = 0;
    for (int i = 0; i < c->n_done; i++)
        if (c->done[i]->type != CPW_CPT_ALIGNED)
            pers += c->done[i]->persisted_data, nu++;
    if (nu) {
        char b[32];
        cpt_fmt_bytes(b, sizeof b, pers / nu);
        cpt_adv_evidence(it, "%d went unaligned, persisting %s of in-flight data each on average",
                         nu, b);
    }
    cpt_adv_evidence(it, "unaligned checkpoints persist the records in flight instead: bigger, "
                     "but not held up by backpressure");
    return true;
}

/* The subtask that acknowledged last most often, and how often. */
static int usual_last(const adv_ctx *c, int *count, int *of)
{
    int best = -1, bn = 0, n = 0;
    for (int i = 0; i < c->n_done; i++) {
        if (c->last_sub[i] < 0)
            continue;
        n++;
        int k = 0;
        for (int j = 0; j < c->n_done; j++)
            k += c->last_sub[j] == c->last_sub[i];
        if (k > bn)
            bn = k, best = c->last_sub[i];
    }
    *count = bn, *of = n;
    return best;
}

/* How much later s acknowledged than the others of its operator, summed
 * over the checkpoints where it was last (trigger to ack, µs). */
static void lateness(const adv_ctx *c, int s, int op, int64_t *own, int64_t *others)
{
    *own = *others = 0;
    const cpw_state *st = c->st;
    for (int i = 0; i < c->n_done; i++) {
        if (c->last_sub[i] != s)
            continue;
        const cpw_cp *cp = c->done[i];
        int64_t sum = 0;
        int no = 0;
        for (int j = 0; j < st->hello.ops[op].parallelism; j++) {
            int g = st->op_base[op] + j;
            if (g != s && cp->subs[g].phase == CPW_PH_ACKED)
                sum += cp->subs[g].ack_ts - cp->trigger_ts, no++;
        }
        if (!no)
            continue;
        *own += cp->subs[s].ack_ts - cp->trigger_ts;
        *others += sum / no;
    }
}

bool cpt_adv_rule_skew(const adv_ctx *c, cpt_adv_item *it)
{
    int k, n;
    int s = usual_last(c, &k, &n);
    if (s < 0 || k < 3 || k * 10 < n * 6)
        return false;
    int op = 0;
    while (op + 1 < c->st->hello.n_ops && c->st->op_base[op + 1] <= s)
        op++;
    if (op >= c->st->hello.n_ops || c->st->hello.ops[op].parallelism < 2)
        return false; /* alone in its operator: last by position, not by skew */
    int64_t own, others;
    lateness(c, s, op, &own, &others);
    if (own * 2 < others * 3)
        return false; /* last by a hair: the detail screen's straggler rule, 1.5 x */
    char who[CPW_NAME_MAX + 16], a[32], b[32];
    cpt_adv_sub_name(c->st, s, who, sizeof who);
    cpt_adv_rule(it, "the same subtask acknowledging last in at least 60 %% of the checkpoints "
                 "(and 3), 1.5 x later than its operator's others: skew (more data, more state or "
                 "a slower machine there)");
    it->level = CPT_ADV_WARN;
    cpt_adv_title(it, "%s is the straggler again and again: skew, not a setting", who);
    cpt_adv_evidence(it, "%s acknowledged last in %d of %d checkpoints with detail", who, k, n);
    cpt_fmt_dur(a, sizeof a, own / k);
    cpt_fmt_dur(b, sizeof b, others / k);
    cpt_adv_evidence(it, "it acknowledged after %s on average in those, the others of its "
                     "operator after %s", a, b);
    cpt_adv_evidence(it, "rebalance its keys, or look at what that subtask runs on");
    return true;
}

bool cpt_adv_rule_storage(const adv_ctx *c, cpt_adv_item *it)
{
    int io = 0;
    for (int i = 0; i < c->n_fin; i++)
        io += c->fin[i]->status == CPW_CP_FAILED &&
              (c->fin[i]->reason == CPW_FAIL_IO || c->fin[i]->reason == CPW_FAIL_ASYNC_EXCEPTION);
    double sh = share(c, PATH_ASYNC);
    if (sh < DOMINANT && !io)
        return false;
    cpt_adv_rule(it, "the upload at least half of the time, or storage failures: the checkpoint "
                 "storage is the limit, not the job");
    it->level = io ? CPT_ADV_BAD : CPT_ADV_WARN;
    if (io)
        cpt_adv_title(it, "checkpoint storage fails: %d checkpoint%s failed writing", io,
                      io == 1 ? "" : "s");
    else
        cpt_adv_title(it, "uploads dominate: the checkpoint storage is the bottleneck");
    if (c->n_path >= MIN_PATHS)
        phase_evidence(c, it, PATH_ASYNC, "upload");
    int64_t bytes = 0;
    for (int i = 0; i < c->n_done; i++)
        if (c->last_sub[i] >= 0)
            bytes += c->done[i]->subs[c->last_sub[i]].checkpointed_size;
    if (c->path[PATH_ASYNC] > 0) {
        char b[32];
        cpt_fmt_bytes(b, sizeof b, (int64_t)((double)bytes * 1e6 / (double)c->path[PATH_ASYNC]));
        cpt_adv_evidence(it, "the slowest subtask uploaded at %s/s", b);
    }
    const cpw_cp *last = c->n_done ? c->done[c->n_done - 1] : NULL;
    if (last && last->state_size > 0 && last->checkpointed_size * 10 >= last->state_size * 9) {
        cpt_adv_set(it, "state.backend.incremental", "true", "");
        cpt_adv_evidence(it, "each checkpoint writes all its state (%lld of %lld bytes): "
                         "incremental checkpoints write only what changed",
                         (long long)last->checkpointed_size, (long long)last->state_size);
    }
    if (io)
        cpt_adv_evidence(it, "%d failed with IO_EXCEPTION or CHECKPOINT_ASYNC_EXCEPTION", io);
    return true;
}

bool cpt_adv_rule_backpressure(const adv_ctx *c, cpt_adv_item *it)
{
    if (share(c, PATH_DELAY) < DOMINANT)
        return false;
    cpt_adv_rule(it, "the barrier's start delay at least half of the time: records queued ahead "
                 "of it (backpressure); barriers that overtake them are not held");
    it->level = CPT_ADV_WARN;
    cpt_adv_title(it, "start delay dominates: barriers queue behind records (backpressure)");
    if (!c->conf->unaligned)
        cpt_adv_set(it, "execution.checkpointing.unaligned.enabled", "true", "false");
    cpt_adv_set(it, "taskmanager.network.memory.buffer-debloat.enabled", "true", "");
    phase_evidence(c, it, PATH_DELAY, "start delay");
    int64_t worst = 0;
    int ws = -1;
    int64_t wid = 0;
    for (int i = 0; i < c->n_done; i++)
        if (c->last_sub[i] >= 0 && c->done[i]->subs[c->last_sub[i]].start_delay_us > worst)
            worst = c->done[i]->subs[c->last_sub[i]].start_delay_us, ws = c->last_sub[i],
            wid = c->done[i]->id;
    if (ws >= 0) {
        char who[CPW_NAME_MAX + 16], a[32];
        cpt_adv_sub_name(c->st, ws, who, sizeof who);
        cpt_fmt_dur(a, sizeof a, worst);
        cpt_adv_evidence(it, "longest: %s waited %s for the barrier of #%lld", who, a, (long long)wid);
    }
    cpt_adv_evidence(it, "the cause is a slow operator downstream: the backpressured one's "
                     "consumer");
    return true;
}
