/*
 * flink_bench.c — the Flink translator's half of `make bench`
 * (cpflinkbench): what one poll of GET /jobs/:jid/checkpoints costs cptop
 * when Flink's history holds 1,000 entries (web.checkpoints.history = 1000;
 * Flink's default is 10).
 *
 * The body is written by the protocol's Flink writer (1.19's shape, every
 * entry a completed checkpoint with sizes and durations, NaN-free summary),
 * then fed to cpt_flink_feed_body the way the source does:
 *
 *   (a) the JSON reader alone (cpw_flink_read_stats): the floor;
 *   (b) a changed poll: the history moved on by one checkpoint since the
 *       last poll (the newest is new, the oldest dropped), so the feed reads
 *       and diffs all 1,000 and emits one checkpoint's events; its messages
 *       folded by a cpt_model, as the dashboard does (and (b') with nowhere
 *       to go, as --json before printing);
 *   (c) an unchanged poll: the same bytes again (Flink's own cache answers
 *       within web.refresh-interval), which the feed recognises.
 *
 * Each figure is the median (and p99) over --polls polls of the process's
 * CPU time (CLOCK_PROCESS_CPUTIME_ID: a busy machine does not inflate it),
 * the body built outside the timed region. The share of one core a job costs at the
 * default poll (1 s) follows from (b), and so does the same for 50 jobs
 * against the target of 5 % of a core. Figures only: it never fails on a
 * target; exit status 1 when the feed did not fold what it was fed.
 *
 *   cpflinkbench [--polls N] [--history N]
 */
#include "bench_util.h"
#include "cpt_flink_feed.h"
#include "cpt_model.h"
#include "cpw_flink.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JID "be7c00000000000000000000000000aa"
#define T0_MS 1800000000000LL

static int history = 1000;

/* This process's CPU time: what a poll costs a core, whatever else the
 * machine runs meanwhile. */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static cpw_flink_cp entry_of(int64_t id)
{
    return (cpw_flink_cp){.cls = CPW_FLINK_COMPLETED, .id = id, .status = CPW_FLINK_COMPLETED,
                          .trigger_ts = T0_MS + id * 5000, .latest_ack_ts = T0_MS + id * 5000 + 800,
                          .has_checkpointed_size = true, .checkpointed_size = 1048704 + id,
                          .state_size = 4194304 + id, .e2e = 800 + id % 97,
                          .processed = 4096, .num_subtasks = 5, .num_acked = 5,
                          .checkpoint_type = "CHECKPOINT",
                          .external_path = (char *)"<checkpoint-not-externally-addressable>"};
}

static void entry_at(void *opaque, int i, cpw_flink_cp *tmp)
{
    *tmp = entry_of(*(const int64_t *)opaque - i);
}

/* /checkpoints with `history` completed entries, the newest `newest`. */
static void body_of(cpw_buf *b, int64_t newest)
{
    cpw_flink_cp latest = entry_of(newest);
    cpw_flink_stats s = {.counts = {.total = newest, .completed = newest},
                         .has_checkpointed_size = true, .latest_completed = &latest,
                         .n_history = history, .history_at = entry_at, .history_opaque = &newest};
    s.checkpointed_size = s.state_size = s.e2e = s.alignment_buffered = s.processed =
        s.persisted = cpw_flink_stat_empty();
    s.e2e = (cpw_flink_stat){.min = 800, .max = 896, .avg = 848, .has_pct = true, .p50 = 848,
                             .p90 = 886, .p95 = 891, .p99 = 895, .p999 = 896};
    cpw_buf_reset(b);
    cpw_flink_write_stats(b, &s);
}

typedef struct sink {
    cpt_model *m;       /* NULL: the messages go nowhere */
    uint64_t msgs;
} sink;

static int on_msg(void *ud, const cpw_msg *msg)
{
    sink *s = ud;
    s->msgs++;
    if (s->m)
        cpt_model_on_msg(s->m, msg, cpw_now_us());
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct figure {
    double p50, p99;    /* ns */
} figure;

static figure figure_of(int64_t *ns, int n)
{
    qsort(ns, (size_t)n, sizeof *ns, cmp_i64);
    return (figure){(double)ns[n / 2], (double)ns[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1]};
}

static void die(const char *why)
{
    fprintf(stderr, "cpflinkbench: %s\n", why);
    exit(1);
}

/* (a): the reader alone. */
static figure bench_reader(cpw_buf *b, int polls, int64_t *ns)
{
    body_of(b, 5000);
    for (int i = 0; i < polls; i++) {
        cpw_flink_stats s;
        cpw_error e;
        int64_t t = cpu_ns();
        if (cpw_flink_read_stats(b->data, b->len, &s, &e) != CPW_OK)
            die(e.text);
        ns[i] = cpu_ns() - t;
        if (s.n_history != history)
            die("the reader lost entries");
        cpw_flink_stats_clear(&s);
    }
    return figure_of(ns, polls);
}

/* (b) with a model or none: polls each one checkpoint newer; then (c),
 * the last body again, into *same. */
static figure bench_feed(cpw_buf *b, int polls, int64_t *ns, bool model, figure *same)
{
    const char *path = "/jobs/" JID "/checkpoints";
    sink s = {.m = model ? cpt_model_new(NULL) : NULL};
    if (model && !s.m)
        die("out of memory");
    if (s.m) { /* a model in step with the feed, as the source's resync leaves it */
        cpt_model_state_sent(s.m);
        cpt_model_on_state(s.m, cpw_state_new(1000, 50), cpw_now_us());
    }
    cpt_flink_feed *f = cpt_flink_feed_new(JID, 1000, 50, on_msg, &s);
    if (!f)
        die("out of memory");
    char err[300];
    int64_t newest = 5000;
    body_of(b, newest);
    cpt_flink_feed_body(f, path, 200, b->data, b->len, cpw_now_us(), err, sizeof err);
    if (err[0])
        die(err);
    for (int i = 0; i < polls; i++) {
        body_of(b, ++newest);
        int64_t t = cpu_ns();
        cpt_flink_feed_body(f, path, 200, b->data, b->len, cpw_now_us(), err, sizeof err);
        ns[i] = cpu_ns() - t;
        if (err[0])
            die(err);
    }
    const cpw_state *st = s.m ? s.m->st : cpt_flink_feed_state(f);
    int want = history < 1000 ? history : 1000; /* the state's history cap */
    if (st->n_history < want || cpw_state_history(st, 0)->id != newest) {
        fprintf(stderr, "cpflinkbench: newest #%lld of %d (want #%lld of %d)\n",
                st->n_history ? (long long)cpw_state_history(st, 0)->id : -1LL, st->n_history,
                (long long)newest, want);
        die("the feed did not fold the newest checkpoint");
    }
    figure changed = figure_of(ns, polls);
    uint64_t before = s.msgs;
    for (int i = 0; i < polls; i++) {
        int64_t t = cpu_ns();
        cpt_flink_feed_body(f, path, 200, b->data, b->len, cpw_now_us(), err, sizeof err);
        ns[i] = cpu_ns() - t;
    }
    if (s.msgs != before || cpt_flink_feed_info(f)->unchanged < (uint64_t)polls)
        die("an unchanged body changed something");
    *same = figure_of(ns, polls);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
    return changed;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cpflinkbench [--polls N] [--history N]\n");
}

int main(int argc, char **argv)
{
    int polls = 200;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--polls") && i + 1 < argc) {
            polls = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--history") && i + 1 < argc) {
            history = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (polls < 10 || polls > 100000 || history < 10 || history > 100000)
        die("--polls wants 10..100000, --history 10..100000");
    setvbuf(stdout, NULL, _IOLBF, 0);
    bench_origin_ns = bench_now_ns();
    int64_t *ns = malloc(sizeof *ns * (size_t)polls);
    cpw_buf b;
    cpw_buf_init(&b);
    if (!ns)
        die("out of memory");
    body_of(&b, 5000);
    printf("Flink translator: GET /jobs/:jid/checkpoints with %d history entries (%s bytes), "
           "%d polls\n", history, bench_commas(b.len), polls);
    figure rd = bench_reader(&b, polls, ns);
    figure same, same2;
    figure bare = bench_feed(&b, polls, ns, false, &same2);
    figure dash = bench_feed(&b, polls, ns, true, &same);
    printf("  (a) JSON reader alone            p50 %10s  p99 %10s  (%.0f MB/s)\n",
           bench_fmt_ns(rd.p50), bench_fmt_ns(rd.p99), (double)b.len / rd.p50 * 1e3);
    printf("  (b) changed poll, into a model   p50 %10s  p99 %10s\n", bench_fmt_ns(dash.p50),
           bench_fmt_ns(dash.p99));
    printf("  (b') changed poll, no model      p50 %10s  p99 %10s\n", bench_fmt_ns(bare.p50),
           bench_fmt_ns(bare.p99));
    printf("  (c) unchanged poll (same bytes)  p50 %10s  p99 %10s\n", bench_fmt_ns(same.p50),
           bench_fmt_ns(same.p99));
    double job_pct = dash.p50 / 1e9 * 100; /* one poll a second */
    printf("  at the default poll (1 s): %.2f %% of a core per job; 50 jobs: %.1f %% "
           "(target <= 5 %%: %s, ratio %.2f)\n", job_pct, 50 * job_pct,
           50 * job_pct <= 5 ? "met" : "NOT met", 50 * job_pct / 5);
    cpw_buf_free(&b);
    free(ns);
    return 0;
}
