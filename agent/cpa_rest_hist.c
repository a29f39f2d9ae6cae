/* cpa_rest_hist.c — the REST endpoint's memory of finished checkpoints: the
 * newest web.checkpoints.history of them (with per-operator figures, so
 * details answer after the agent's own per-subtask detail is gone) and a
 * summary over every completed checkpoint since the agent started.
 *
 * The summary is bounded in memory whatever the job's age: min, max, sum and
 * count exactly, and percentiles from a log-linear histogram per figure
 * (exact below 256, then 128 buckets per power of two: within 0.4% of the
 * true value). Flink instead keeps the newest values in a sliding window
 * and computes exact percentiles over that window only; agent/REST.md
 * says so. */
#include "cpa_rest_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ histogram */

#define LH_LINEAR 256           /* values below: one bucket each */
#define LH_SUB 128              /* buckets per power of two above */
#define LH_BUCKETS (LH_LINEAR + (62 - 8 + 1) * LH_SUB)

typedef struct loghist {
    int64_t count, min, max, sum;
    uint32_t *b;                /* LH_BUCKETS */
    bool dirty;                 /* cached is stale */
    cpw_flink_stat cached;
} loghist;

static int lh_bucket(int64_t v)
{
    if (v < LH_LINEAR)
        return (int)v;
    int e = 63 - __builtin_clzll((uint64_t)v); /* 8…62 */
    return LH_LINEAR + (e - 8) * LH_SUB + (int)((v >> (e - 7)) - LH_SUB);
}

/* The value a bucket stands for: itself below LH_LINEAR, else the middle
 * of its range. */
static int64_t lh_value(int i)
{
    if (i < LH_LINEAR)
        return i;
    int e = (i - LH_LINEAR) / LH_SUB + 8, shift = e - 7;
    int64_t lo = (int64_t)((i - LH_LINEAR) % LH_SUB + LH_SUB) << shift;
    return lo + (((int64_t)1 << shift) - 1) / 2;
}

/* Flink's StatsSummary.add(): negative values are not samples. */
static void lh_add(loghist *h, int64_t v)
{
    if (v < 0)
        return;
    if (!h->count || v < h->min)
        h->min = v;
    if (!h->count || v > h->max)
        h->max = v;
    h->count++;
    h->sum = h->sum > INT64_MAX - v ? INT64_MAX : h->sum + v;
    uint32_t *c = &h->b[lh_bucket(v)];
    if (*c < UINT32_MAX)
        (*c)++;
    h->dirty = true;
}

/* Values at the given 1-based ranks (any order), in one walk. */
static void lh_at_ranks(const loghist *h, const int64_t *ranks, int n, double *out)
{
    int order[16];
    for (int i = 0; i < n; i++) { /* insertion sort of at most 16 */
        int k = i;
        while (k > 0 && ranks[order[k - 1]] > ranks[i]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    int64_t seen = 0;
    int k = 0;
    for (int i = 0; i < LH_BUCKETS && k < n; i++) {
        seen += h->b[i];
        while (k < n && ranks[order[k]] <= seen) {
            int64_t v = lh_value(i);
            out[order[k++]] = (double)(v < h->min ? h->min : v > h->max ? h->max : v);
        }
    }
    while (k < n)
        out[order[k++]] = (double)h->max;
}

/* commons-math's default percentile over the histogram (see
 * cpa_rest_percentile for the exact one). */
static const cpw_flink_stat *lh_stat(loghist *h)
{
    if (!h->dirty)
        return &h->cached;
    cpw_flink_stat *s = &h->cached;
    *s = cpw_flink_stat_empty();
    h->dirty = false;
    if (!h->count)
        return s;
    s->min = h->min;
    s->max = h->max;
    s->avg = h->sum / h->count;
    static const double ps[5] = {50, 90, 95, 99, 99.9};
    double *out[5] = {&s->p50, &s->p90, &s->p95, &s->p99, &s->p999};
    int64_t ranks[10];
    double frac[5], vals[10];
    for (int i = 0; i < 5; i++) {
        double pos = ps[i] * (double)(h->count + 1) / 100.0;
        if (pos < 1)
            pos = 1;
        if (pos > (double)h->count)
            pos = (double)h->count;
        ranks[2 * i] = (int64_t)floor(pos);
        ranks[2 * i + 1] = ranks[2 * i] < h->count ? ranks[2 * i] + 1 : ranks[2 * i];
        frac[i] = pos - floor(pos);
    }
    lh_at_ranks(h, ranks, 10, vals);
    for (int i = 0; i < 5; i++)
        *out[i] = vals[2 * i] + frac[i] * (vals[2 * i + 1] - vals[2 * i]);
    return s;
}

double cpa_rest_percentile(const int64_t *x, int n, double p)
{
    if (n <= 0)
        return NAN;
    double pos = p * (n + 1) / 100.0;
    if (pos < 1)
        return (double)x[0];
    if (pos >= n)
        return (double)x[n - 1];
    int i = (int)floor(pos);
    return (double)x[i - 1] + (pos - floor(pos)) * (double)(x[i] - x[i - 1]);
}

/* ------------------------------------------------------------------ history */

enum { F_CHECKPOINTED, F_STATE, F_E2E, F_PROCESSED, F_PERSISTED, F__COUNT };

struct cpa_rest_hist {
    int cap, n, head;           /* ring; head: the newest */
    cpa_hist_entry *ring;
    int64_t seen;               /* finished checkpoints taken in */
    cpa_hist_entry latest[2];   /* completed, failed; tasks NULL */
    bool has_latest[2];
    loghist f[F__COUNT];
};

cpa_rest_hist *cpa_rest_hist_new(int cap)
{
    cpa_rest_hist *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->cap = cap < 1 ? 1 : cap;
    h->head = -1;
    h->ring = calloc((size_t)h->cap, sizeof *h->ring);
    bool ok = h->ring != NULL;
    for (int i = 0; i < F__COUNT; i++)
        ok = ok && (h->f[i].b = calloc(LH_BUCKETS, sizeof *h->f[i].b)) != NULL;
    if (!ok) {
        cpa_rest_hist_free(h);
        return NULL;
    }
    for (int i = 0; i < F__COUNT; i++)
        h->f[i].dirty = true;
    return h;
}

void cpa_rest_hist_free(cpa_rest_hist *h)
{
    if (!h)
        return;
    for (int i = 0; h->ring && i < h->cap; i++) {
        free(h->ring[i].tasks);
        free(h->ring[i].json);
    }
    free(h->ring);
    for (int i = 0; i < F__COUNT; i++)
        free(h->f[i].b);
    free(h);
}

bool cpa_rest_aggregate(const cpw_state *s, const cpw_cp *cp, cpa_task_agg *tasks,
                        int64_t *processed, int64_t *persisted, bool *unaligned)
{
    *processed = *persisted = 0;
    *unaligned = false;
    if (!cp->subs || cp->total != s->n_subtasks)
        return false;
    for (int op = 0; op < s->hello.n_ops; op++) {
        cpa_task_agg t = {.total = s->hello.ops[op].parallelism};
        for (int k = 0; k < t.total; k++) {
            const cpw_sub *u = &cp->subs[s->op_base[op] + k];
            if (u->phase != CPW_PH_ACKED)
                continue;
            t.acked++;
            if (u->ack_ts > t.latest_ack_us)
                t.latest_ack_us = u->ack_ts;
            t.state_size += u->state_size;
            t.checkpointed_size += u->checkpointed_size;
            t.processed += u->processed_data;
            t.persisted += u->persisted_data;
            *unaligned = *unaligned || u->unaligned;
        }
        *processed += t.processed;
        *persisted += t.persisted;
        if (tasks)
            tasks[op] = t;
    }
    return true;
}

/* Flink's texts for its failure reasons, with the job's own words after. */
static const char *const reason_text[CPW_FAIL__COUNT] = {
    [CPW_FAIL_EXPIRED] = "Checkpoint expired before completing.",
    [CPW_FAIL_DECLINED] = "Checkpoint was declined.",
    [CPW_FAIL_ABORTED] = "Checkpoint was aborted by the user.",
    [CPW_FAIL_ASYNC_EXCEPTION] = "Asynchronous task checkpoint failed.",
    [CPW_FAIL_IO] = "An Exception occurred while triggering the checkpoint. IO-problem detected.",
    [CPW_FAIL_TASK_FAILURE] = "Task has failed.",
    [CPW_FAIL_NOT_ALL_RUNNING] = "Not all required tasks are currently running.",
    [CPW_FAIL_TOO_MANY_REQUESTS] = "The maximum number of queued checkpoint requests exceeded",
    [CPW_FAIL_SUBSUMED] = "Checkpoint has been subsumed.",
};

void cpa_rest_failure_message(const cpw_cp *cp, char *out, size_t size)
{
    const char *t = cp->reason >= 0 && cp->reason < CPW_FAIL__COUNT ? reason_text[cp->reason]
                                                                    : "Checkpoint failed.";
    if (cp->message[0])
        snprintf(out, size, "%s %s", t, cp->message);
    else
        snprintf(out, size, "%s", t);
}

static cpa_hist_entry *take(cpa_rest_hist *h, const cpw_state *s, const cpw_cp *cp)
{
    h->head = (h->head + 1) % h->cap;
    cpa_hist_entry *e = &h->ring[h->head];
    free(e->tasks);
    free(e->json);
    memset(e, 0, sizeof *e);
    if (h->n < h->cap)
        h->n++;
    e->cp = *cp;
    e->cp.subs = NULL;
    int n_ops = s->hello.n_ops;
    e->tasks = n_ops && cp->subs ? calloc((size_t)n_ops, sizeof *e->tasks) : NULL;
    if (cpa_rest_aggregate(s, cp, e->tasks, &e->processed, &e->persisted, &e->unaligned) &&
        e->tasks)
        e->n_tasks = n_ops;
    if (cp->status == CPW_CP_FAILED)
        cpa_rest_failure_message(cp, e->failure, sizeof e->failure);
    int which = cp->status == CPW_CP_COMPLETED ? 0 : cp->status == CPW_CP_FAILED ? 1 : -1;
    if (which >= 0) {
        h->latest[which] = *e;
        h->latest[which].tasks = NULL;
        h->latest[which].n_tasks = 0;
        h->latest[which].json = NULL;
        h->has_latest[which] = true;
    }
    if (which == 0) {
        lh_add(&h->f[F_CHECKPOINTED], cp->checkpointed_size);
        lh_add(&h->f[F_STATE], cp->state_size);
        lh_add(&h->f[F_E2E], cp->duration_us / 1000);
        lh_add(&h->f[F_PROCESSED], e->processed);
        lh_add(&h->f[F_PERSISTED], e->persisted);
    }
    return e;
}

void cpa_rest_hist_sync(cpa_rest_hist *h, const cpw_state *s,
                        void (*done)(void *opaque, cpa_hist_entry *e), void *opaque)
{
    /* every move into the state's history counts one completed or failed */
    int64_t fin = s->counts.completed + s->counts.failed;
    int64_t k = fin - h->seen;
    h->seen = fin;
    if (k <= 0)
        return;
    if (k > s->n_history)
        k = s->n_history;
    for (int i = (int)k - 1; i >= 0; i--) {
        cpa_hist_entry *e = take(h, s, cpw_state_history(s, i));
        if (done)
            done(opaque, e);
    }
}

int cpa_rest_hist_count(const cpa_rest_hist *h) { return h->n; }

const cpa_hist_entry *cpa_rest_hist_at(const cpa_rest_hist *h, int i)
{
    if (i < 0 || i >= h->n)
        return NULL;
    return &h->ring[((h->head - i) % h->cap + h->cap) % h->cap];
}

const cpa_hist_entry *cpa_rest_hist_find(const cpa_rest_hist *h, int64_t id)
{
    for (int i = 0; i < h->n; i++) {
        const cpa_hist_entry *e = cpa_rest_hist_at(h, i);
        if (e->cp.id == id)
            return e;
    }
    return NULL;
}

const cpa_hist_entry *cpa_rest_hist_latest(const cpa_rest_hist *h, cpw_cp_status status)
{
    int which = status == CPW_CP_COMPLETED ? 0 : status == CPW_CP_FAILED ? 1 : -1;
    return which >= 0 && h->has_latest[which] ? &h->latest[which] : NULL;
}

void cpa_rest_hist_summary(cpa_rest_hist *h, cpw_flink_stats *s)
{
    s->has_checkpointed_size = true;
    s->checkpointed_size = *lh_stat(&h->f[F_CHECKPOINTED]);
    s->state_size = *lh_stat(&h->f[F_STATE]);
    s->e2e = *lh_stat(&h->f[F_E2E]);
    s->processed = *lh_stat(&h->f[F_PROCESSED]);
    s->persisted = *lh_stat(&h->f[F_PERSISTED]);
    /* Flink reports a constant zero here since buffering went away */
    s->alignment_buffered = (cpw_flink_stat){.has_pct = true};
}
