/* test_advice.c — the advice engine over constructed histories whose right
 * advice is known: a steady job, a bimodal one, a rising trend, one
 * straggler, storage-bound, alignment-bound, failures; the what-if replay;
 * the rounding to Flink durations. */
#include "cpt_advice.h"
#include "cpt_golden.h"
#include "cpt_test.h"

#include <string.h>

#define T0 1800000000000000LL
#define S 1000000LL
#define MS 1000LL

/* source x2 -> map x2 -> sink x4 */
static const int PAR[3] = {2, 2, 4};

typedef struct job {
    cpw_state *st;
    uint64_t seq;
    int64_t t;            /* trigger time of the next checkpoint */
    int64_t id;
} job;

static void conf(cpw_hello *h, const char *k, const char *v)
{
    snprintf(h->config_keys[h->n_config], CPW_NAME_MAX, "execution.checkpointing.%s", k);
    snprintf(h->config_values[h->n_config], CPW_VALUE_MAX, "%s", v);
    h->n_config++;
}

static job new_job(const char *interval, const char *timeout, const char *tolerable)
{
    job j = {.st = cpw_state_new(1000, 1000), .t = T0, .id = 0};
    CPT_ASSERT(j.st);
    cpw_hello h;
    memset(&h, 0, sizeof h);
    snprintf(h.name, sizeof h.name, "payments");
    static const char *const names[3] = {"source", "map", "sink"};
    h.n_ops = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(h.ops[i].name, sizeof h.ops[i].name, "%s", names[i]);
        h.ops[i].parallelism = PAR[i];
    }
    conf(&h, "mode", "EXACTLY_ONCE");
    conf(&h, "interval", interval);
    conf(&h, "timeout", timeout);
    conf(&h, "tolerable-failed-checkpoints", tolerable);
    conf(&h, "min-pause", "0 ms");
    conf(&h, "max-concurrent-checkpoints", "1");
    conf(&h, "unaligned.enabled", "false");
    cpw_state_set_hello(j.st, &h);
    return j;
}

static void apply(job *j, cpw_event e)
{
    cpw_state_apply(j->st, &e, ++j->seq);
}

static cpw_event ev(cpw_event_type t, int64_t id, int op, int sub, int64_t ts)
{
    cpw_event e;
    memset(&e, 0, sizeof e);
    e.type = t, e.cp_id = id, e.op = op, e.subtask = sub, e.ts_us = ts;
    return e;
}

/* The critical path of one checkpoint: the last subtask's phases. */
typedef struct path {
    int64_t delay, align, sync, async;
    int last;             /* global subtask index that acknowledges last */
    int64_t bytes;        /* each subtask's checkpointed (and full state) size */
} path;

static int64_t path_total(const path *p) { return p->delay + p->align + p->sync + p->async; }

/* A completed checkpoint: every subtask acknowledges with a tenth of the
 * path's figures, the last one with the path itself. */
static void completed(job *j, path p, int64_t spacing)
{
    int64_t id = ++j->id, t0 = j->t;
    cpw_event e = ev(CPW_EV_CP_TRIGGERED, id, -1, -1, t0);
    apply(j, e);
    int g = 0;
    int64_t end = t0;
    for (int op = 0; op < 3; op++)
        for (int s = 0; s < PAR[op]; s++, g++) {
            int div = g == p.last ? 1 : 10;
            e = ev(CPW_EV_ACK, id, op, s, 0);
            e.u.ack.start_delay_us = p.delay / div;
            e.u.ack.alignment_us = p.align / div;
            e.u.ack.sync_us = p.sync / div;
            e.u.ack.async_us = p.async / div;
            e.u.ack.state_size = p.bytes ? p.bytes : 1000;
            e.u.ack.checkpointed_size = p.bytes ? p.bytes : 100;
            e.ts_us = t0 + path_total(&p) / div;
            end = e.ts_us > end ? e.ts_us : end;
            apply(j, e);
        }
    e = ev(CPW_EV_CP_COMPLETED, id, -1, -1, end + 1000);
    e.u.completed.duration_us = end + 1000 - t0;
    int n = PAR[0] + PAR[1] + PAR[2];
    e.u.completed.state_size = n * (p.bytes ? p.bytes : 1000);
    e.u.completed.checkpointed_size = n * (p.bytes ? p.bytes : 100);
    apply(j, e);
    j->t += spacing;
}

static void failed(job *j, cpw_failure_reason r, int64_t after, int64_t spacing)
{
    int64_t id = ++j->id;
    apply(j, ev(CPW_EV_CP_TRIGGERED, id, -1, -1, j->t));
    apply(j, ev(CPW_EV_ACK, id, 0, 0, j->t + 1000));
    cpw_event e = ev(CPW_EV_CP_FAILED, id, -1, -1, j->t + after);
    e.u.failed.reason = r;
    apply(j, e);
    j->t += spacing;
}

/* A path of total d split evenly, the last acker rotating. */
static path even(int64_t d, int k)
{
    return (path){d / 4, d / 4, d / 4, d - 3 * (d / 4), k % 8, 0};
}

static const cpt_adv_item *item(const cpt_advice *a, cpt_adv_kind k)
{
    const cpt_adv_item *it = cpt_advice_find(a, k);
    CPT_ASSERTF(it, "no %s advice", cpt_adv_kind_name(k));
    return it;
}

static const cpt_adv_setting *setting(const cpt_adv_item *it, const char *key)
{
    for (int i = 0; i < it->n_settings; i++)
        if (!strcmp(it->settings[i].key, key))
            return &it->settings[i];
    cpt_fail_at(__FILE__, __LINE__, "%s advice sets no %s", cpt_adv_kind_name(it->kind), key);
}

static void has_evidence(const cpt_adv_item *it, const char *line)
{
    for (int i = 0; i < it->n_evidence; i++)
        if (!strcmp(it->evidence[i], line))
            return;
    for (int i = 0; i < it->n_evidence; i++)
        fprintf(stderr, "    evidence: %s\n", it->evidence[i]);
    cpt_fail_at(__FILE__, __LINE__, "%s advice lacks the evidence \"%s\"", cpt_adv_kind_name(it->kind),
                line);
}

static cpt_advice advise(job *j, cpt_adv_opts o)
{
    cpt_advice a;
    if (!o.now_us)
        o.now_us = j->t;
    CPT_EQ_INT(cpt_advice_compute(j->st, &o, &a), CPT_ADV_OK);
    return a;
}

/* ------------------------------------------------------------ steady */

static job steady(void)
{
    job j = new_job("10 s", "10 min", "0");
    for (int i = 0; i < 200; i++) /* 800 ms .. 1 s, evenly */
        completed(&j, even(800 * MS + (i * 37 % 21) * 10 * MS, i), 10 * S);
    return j;
}

CPT_TEST(steady_job_keeps_its_settings)
{
    job j = steady();
    cpt_advice a = advise(&j, (cpt_adv_opts){.records_per_s = 2000});
    CPT_EQ_INT(a.completed, 200);
    const cpt_adv_item *t = item(&a, CPT_ADV_TIMEOUT);
    /* p99.9 1.001 s: 3 x is 3.0 s, above p99.9 + the largest jump */
    CPT_EQ_STR(setting(t, "execution.checkpointing.timeout")->value, "5 s");
    CPT_EQ_STR(setting(t, "execution.checkpointing.timeout")->current, "10 min");
    CPT_EQ_INT(t->level, CPT_ADV_INFO);
    CPT_EQ_STR(t->title, "timeout 10m is 599x the p99 1.0s: a stuck checkpoint is noticed late");
    has_evidence(t, "with 10m (now), 0 of the last 200 would have expired");
    has_evidence(t, "with 5 s, 0 of the last 200 would have expired");
    CPT_EQ_INT(a.headline_level, CPT_ADV_FINE);
    CPT_EQ_STR(a.headline, "timeout 10m is 599x the p99 1.0s: ample headroom");
    /* about 9 % of the time in flight: within the default 10 % */
    const cpt_adv_item *iv = item(&a, CPT_ADV_INTERVAL);
    CPT_EQ_INT(iv->level, CPT_ADV_FINE);
    CPT_EQ_STR(setting(iv, "execution.checkpointing.interval")->value, "10 s");
    CPT_EQ_STR(setting(iv, "execution.checkpointing.min-pause")->value, "0 ms");
    has_evidence(iv, "every 10.0s a checkpoint is in flight for 901ms on average (9 %)");
    /* the last checkpoint was triggered 10 s before now */
    has_evidence(iv, "a restart now replays ~20000 records (10.0s of input at 2000 rec/s, since "
                     "#200) plus ~2.2s of restore");
    const cpt_adv_item *tol = item(&a, CPT_ADV_TOLERABLE);
    CPT_EQ_INT(tol->level, CPT_ADV_FINE);
    CPT_EQ_STR(setting(tol, "execution.checkpointing.tolerable-failed-checkpoints")->value, "0");
    /* nothing dominates, nothing grows, the last acker rotates */
    for (int k = CPT_ADV_TREND; k < CPT_ADV__COUNT; k++)
        CPT_ASSERTF(!cpt_advice_find(&a, (cpt_adv_kind)k), "unexpected %s advice",
                    cpt_adv_kind_name((cpt_adv_kind)k));
    cpw_state_free(j.st);
}

CPT_TEST(budgets_choose_the_interval)
{
    job j = steady();
    /* 5 %: at least 18 s between checkpoints; a replay of 30 s allows 29 s */
    cpt_advice a = advise(&j, (cpt_adv_opts){.max_overhead_pct = 5, .max_replay_us = 30 * S});
    const cpt_adv_item *iv = item(&a, CPT_ADV_INTERVAL);
    CPT_EQ_STR(setting(iv, "execution.checkpointing.interval")->value, "20 s");
    CPT_EQ_STR(setting(iv, "execution.checkpointing.interval")->current, "10 s");
    CPT_EQ_STR(setting(iv, "execution.checkpointing.max-concurrent-checkpoints")->value, "1");
    CPT_EQ_INT(iv->level, CPT_ADV_WARN);
    has_evidence(iv, "worst replay now: interval + p99 = 11.0s against a budget of 30.0s");
    /* a replay of 5 s cannot have 10 % overhead: the replay budget wins */
    a = advise(&j, (cpt_adv_opts){.max_replay_us = 5 * S});
    iv = item(&a, CPT_ADV_INTERVAL);
    CPT_EQ_STR(setting(iv, "execution.checkpointing.interval")->value, "3 s");
    CPT_ASSERT(strstr(iv->title, "the budgets conflict"));
    CPT_EQ_STR(setting(iv, "execution.checkpointing.min-pause")->value, "0 ms");
    /* 1 s with ~1 s checkpoints is back to back: a min-pause keeps processing going */
    a = advise(&j, (cpt_adv_opts){.max_replay_us = 2500 * MS});
    iv = item(&a, CPT_ADV_INTERVAL);
    CPT_EQ_STR(setting(iv, "execution.checkpointing.interval")->value, "1 s");
    CPT_EQ_STR(setting(iv, "execution.checkpointing.min-pause")->value, "50 ms");
    cpw_state_free(j.st);
}

/* ------------------------------------------------------------ bimodal */

CPT_TEST(bimodal_job_gets_a_timeout_over_its_slow_mode)
{
    job j = new_job("20 s", "10 s", "3");
    for (int i = 0; i < 200; i++)
        completed(&j, even(i % 10 == 9 ? 8 * S : 200 * MS, i), 20 * S);
    cpt_advice a = advise(&j, (cpt_adv_opts){0});
    const cpt_adv_item *t = item(&a, CPT_ADV_TIMEOUT);
    /* p99.9 8 s: 3 x = 24 s beats 8 s + the 7.8 s jump; up to 30 s */
    CPT_EQ_STR(setting(t, "execution.checkpointing.timeout")->value, "30 s");
    CPT_EQ_INT(t->level, CPT_ADV_WARN);
    CPT_EQ_STR(t->title, "timeout 10s leaves little headroom over the p99 8.0s");
    has_evidence(t, "200 completed: p50 201ms, p99 8.0s, p99.9 8.0s, max 8.0s");
    has_evidence(t, "largest jump between consecutive checkpoints: +7.8s (#9 -> #10)");
    has_evidence(t, "with 10s (now), 0 of the last 200 would have expired");
    CPT_EQ_INT(a.headline_level, CPT_ADV_WARN);
    CPT_EQ_STR(a.headline, "timeout 10s is only 1.2x the p99 8.0s: little headroom; 24.0s (3x p99) "
                           "would absorb a slow upload");
    /* the slow mode, replayed against 5 s */
    cpt_whatif w;
    char err[200];
    CPT_EQ_INT(cpt_advice_what_if(j.st, "execution.checkpointing.timeout", "5s", &w, err, sizeof err),
               CPT_ADV_OK);
    CPT_EQ_INT(w.considered, 200);
    CPT_EQ_INT(w.changed, 20);
    CPT_EQ_INT(w.ids[0], 200);
    CPT_EQ_INT(w.ids[1], 190);
    CPT_EQ_STR(w.lines[0], "with a timeout of 5s, 20 of the 200 completed would have expired: "
                           "#200 (8.0s), #190 (8.0s), #180 (8.0s), #170 (8.0s), #160 (8.0s), "
                           "#150 (8.0s), #140 (8.0s), #130 (8.0s), ...");
    cpw_state_free(j.st);
}

/* ------------------------------------------------------------ trend */

CPT_TEST(rising_durations_say_when_the_timeout_is_reached)
{
    job j = new_job("10 s", "30 s", "3");
    /* +50 ms per checkpoint, one every 10 s: +300 ms a minute */
    for (int i = 0; i < 60; i++)
        completed(&j, even(1 * S + i * 50 * MS, i), 10 * S);
    cpt_advice a = advise(&j, (cpt_adv_opts){0});
    const cpt_adv_item *t = item(&a, CPT_ADV_TREND);
    /* fitted 3.95 s now: (30 - 3.95) / 0.3 = 86.8 minutes */
    CPT_EQ_STR(t->title, "durations grow: at this rate the timeout 30s is reached in ~87 min");
    CPT_EQ_INT(t->level, CPT_ADV_WARN);
    has_evidence(t, "duration: 1.0s -> 4.0s, +300ms per minute (r = 1.00)");
    CPT_EQ_INT(t->n_settings, 0);
    /* a flat job has no trend, a noisy one neither */
    job f = steady();
    a = advise(&f, (cpt_adv_opts){0});
    CPT_ASSERT(!cpt_advice_find(&a, CPT_ADV_TREND));
    cpw_state_free(f.st);
    cpw_state_free(j.st);
}

CPT_TEST(a_step_is_not_a_trend)
{
    /* 30 at 300 ms, then a throttle: 30 at 1.5 s. A line fits the whole
     * window (r ~ 0.87), but nothing has grown since the step. */
    job j = new_job("1 s", "5 s", "3");
    for (int i = 0; i < 60; i++)
        completed(&j, even(i < 30 ? 300 * MS : 1500 * MS, i), 1 * S);
    cpt_advice a = advise(&j, (cpt_adv_opts){0});
    CPT_ASSERT(!cpt_advice_find(&a, CPT_ADV_TREND));
    cpw_state_free(j.st);
}

/* ------------------------------------------------------------ straggler */

CPT_TEST(one_straggler_is_skew)
{
    job j = new_job("10 s", "1 min", "3");
    for (int i = 0; i < 20; i++) /* sink#2 (global 6) last every time, mostly in sync */
        completed(&j, (path){200 * MS, 200 * MS, 1000 * MS, 600 * MS, 6, 0}, 10 * S);
    cpt_advice a = advise(&j, (cpt_adv_opts){0});
    const cpt_adv_item *s = item(&a, CPT_ADV_SKEW);
    CPT_EQ_STR(s->title, "sink#2 is the straggler again and again: skew, not a setting");
    has_evidence(s, "sink#2 acknowledged last in 20 of 20 checkpoints with detail");
    has_evidence(s, "it acknowledged after 2.0s on average in those, the others of its operator "
                    "after 200ms");
    CPT_ASSERT(!cpt_advice_find(&a, CPT_ADV_STORAGE));
    CPT_ASSERT(!cpt_advice_find(&a, CPT_ADV_ALIGNMENT));
    cpw_state_free(j.st);
    /* last every time, but by a hair: not skew */
    job h = new_job("10 s", "1 min", "3");
    for (int i = 0; i < 20; i++) {
        path p = {20 * MS, 20 * MS, 100 * MS, 60 * MS, 6, 0};
        completed(&h, p, 10 * S);
    }
    /* the others of sink acknowledged at a tenth: make them nearly as late */
    for (int i = 0; i < h.st->n_history; i++) {
        cpw_cp *cp = (cpw_cp *)cpw_state_history(h.st, i);
        for (int g = 4; g < 8; g++)
            if (g != 6)
                cp->subs[g].ack_ts = cp->subs[6].ack_ts - 10 * MS;
    }
    a = advise(&h, (cpt_adv_opts){0});
    CPT_ASSERT(!cpt_advice_find(&a, CPT_ADV_SKEW));
    cpw_state_free(h.st);
}

/* ------------------------------------------------------------ storage */

CPT_TEST(upload_bound_job_points_at_storage)
{
    job j = new_job("10 s", "1 min", "3");
    for (int i = 0; i < 20; i++) /* the upload 80 % of the path; full snapshots */
        completed(&j, (path){100 * MS, 100 * MS, 200 * MS, 1600 * MS, i % 8, 1 << 20}, 10 * S);
    cpt_advice a = advise(&j, (cpt_adv_opts){0});
    const cpt_adv_item *s = item(&a, CPT_ADV_STORAGE);
    CPT_EQ_STR(s->title, "uploads dominate: the checkpoint storage is the bottleneck");
    CPT_EQ_INT(s->level, CPT_ADV_WARN);
    has_evidence(s, "upload is 80 % of the checkpoints' time: 1.6s of 2.0s on average, over the 20 "
                    "that kept per-subtask detail");
    has_evidence(s, "the slowest subtask uploaded at 640.0 KiB/s");
    CPT_EQ_STR(setting(s, "state.backend.incremental")->value, "true");
    CPT_ASSERT(!cpt_advice_find(&a, CPT_ADV_SKEW)); /* the last acker rotates */
    /* storage failures alone are enough */
    job f = new_job("10 s", "1 min", "3");
    for (int i = 0; i < 20; i++)
        completed(&f, even(1 * S, i), 10 * S);
    failed(&f, CPW_FAIL_IO, 3 * S, 10 * S);
    a = advise(&f, (cpt_adv_opts){0});
    s = item(&a, CPT_ADV_STORAGE);
    CPT_EQ_INT(s->level, CPT_ADV_BAD);
    CPT_EQ_STR(s->title, "checkpoint storage fails: 1 checkpoint failed writing");
    cpw_state_free(f.st);
    cpw_state_free(j.st);
}

/* ------------------------------------------------------------ alignment */

CPT_TEST(alignment_bound_job_goes_unaligned)
{
    job j = new_job("10 s", "1 min", "3");
    for (int i = 0; i < 20; i++) /* alignment 70 % of 2 s */
        completed(&j, (path){200 * MS, 1400 * MS, 200 * MS, 200 * MS, i % 8, 0}, 10 * S);
    cpt_advice a = advise(&j, (cpt_adv_opts){0});
    const cpt_adv_item *al = item(&a, CPT_ADV_ALIGNMENT);
    CPT_EQ_STR(al->title, "alignment dominates: barriers wait behind records");
    CPT_EQ_STR(setting(al, "execution.checkpointing.unaligned.enabled")->value, "true");
    CPT_EQ_STR(setting(al, "execution.checkpointing.unaligned.enabled")->current, "false");
    /* what a checkpoint takes without its alignment: 2.001 - 1.4 s, up to 1 s */
    CPT_EQ_STR(setting(al, "execution.checkpointing.aligned-checkpoint-timeout")->value, "1 s");
    has_evidence(al, "alignment is 70 % of the checkpoints' time: 1.4s of 2.0s on average, over "
                     "the 20 that kept per-subtask detail");
    CPT_ASSERT(!cpt_advice_find(&a, CPT_ADV_BACKPRESSURE));
    /* what-if: an aligned timeout of 1 s switches every one of them */
    cpt_whatif w;
    char err[200];
    CPT_EQ_INT(cpt_advice_what_if(j.st, "aligned-checkpoint-timeout", "1 s", &w, err, sizeof err),
               CPT_ADV_OK);
    CPT_EQ_INT(w.changed, 20);
    CPT_EQ_INT(cpt_advice_what_if(j.st, "aligned-checkpoint-timeout", "2 s", &w, err, sizeof err),
               CPT_ADV_OK);
    CPT_EQ_INT(w.changed, 0);
    cpw_state_free(j.st);
}

CPT_TEST(start_delay_bound_job_is_backpressured)
{
    job j = new_job("10 s", "1 min", "3");
    for (int i = 0; i < 20; i++) /* the barrier reaches the last acker after 1.5 s of 2 s */
        completed(&j, (path){1500 * MS, 100 * MS, 200 * MS, 200 * MS, 4 + i % 4, 0}, 10 * S);
    cpt_advice a = advise(&j, (cpt_adv_opts){0});
    const cpt_adv_item *b = item(&a, CPT_ADV_BACKPRESSURE);
    CPT_EQ_STR(b->title, "start delay dominates: barriers queue behind records (backpressure)");
    CPT_EQ_STR(setting(b, "execution.checkpointing.unaligned.enabled")->value, "true");
    has_evidence(b, "start delay is 75 % of the checkpoints' time: 1.5s of 2.0s on average, over "
                    "the 20 that kept per-subtask detail");
    CPT_ASSERT(!cpt_advice_find(&a, CPT_ADV_ALIGNMENT));
    cpw_state_free(j.st);
}

/* ------------------------------------------------------------ failures */

CPT_TEST(tolerance_against_hiccups_and_real_problems)
{
    /* three isolated expiries in 60, tolerance 0: three restarts for hiccups */
    job j = new_job("10 s", "5 s", "0");
    for (int i = 0; i < 60; i++) {
        if (i % 20 == 10)
            failed(&j, CPW_FAIL_EXPIRED, 5 * S, 10 * S);
        else
            completed(&j, even(1 * S, i), 10 * S);
    }
    cpt_advice a = advise(&j, (cpt_adv_opts){0});
    const cpt_adv_item *t = item(&a, CPT_ADV_TOLERABLE);
    CPT_EQ_INT(t->level, CPT_ADV_WARN);
    CPT_EQ_STR(t->title, "tolerance 0 restarts the job for hiccups: 3 restarts over this history");
    CPT_EQ_STR(setting(t, "execution.checkpointing.tolerable-failed-checkpoints")->value, "1");
    has_evidence(t, "3 of the last 60 failed and count: 3 expired, 0 declined, 0 storage, 0 other "
                    "(0 more do not count: aborts, task failures)");
    has_evidence(t, "with 0 (now) the job would have restarted 3 times; with 1, 0");
    /* the expired ones: the timeout rule says why no value is sure to save them */
    const cpt_adv_item *to = item(&a, CPT_ADV_TIMEOUT);
    has_evidence(to, "with 5s (now), 3 of the last 60 would have expired");
    has_evidence(to, "3 expired; the newest, #51, after 5.0s with 1/8 acks, waiting on source#1: "
                     "it needed more than 5.0s, how much more is unknown");
    cpt_whatif w;
    char err[200];
    CPT_EQ_INT(cpt_advice_what_if(j.st, "tolerable-failed-checkpoints", "0", &w, err, sizeof err),
               CPT_ADV_OK);
    CPT_EQ_INT(w.changed, 3);
    CPT_EQ_STR(w.lines[0], "with 0 tolerated, the job would have restarted 3 times over the last "
                           "60, at #11, #31, #51");
    cpw_state_free(j.st);

    /* one in three declined: a real problem, which a tolerance of 10 hides */
    job k = new_job("10 s", "1 min", "10");
    for (int i = 0; i < 30; i++) {
        if (i % 3 == 0)
            failed(&k, CPW_FAIL_DECLINED, 100 * MS, 10 * S);
        else
            completed(&k, even(1 * S, i), 10 * S);
    }
    a = advise(&k, (cpt_adv_opts){0});
    t = item(&a, CPT_ADV_TOLERABLE);
    CPT_EQ_INT(t->level, CPT_ADV_BAD);
    CPT_EQ_STR(t->title, "33 % of checkpoints fail, mostly CHECKPOINT_DECLINED: the tolerance hides a "
                         "real problem");
    CPT_EQ_STR(setting(t, "execution.checkpointing.tolerable-failed-checkpoints")->value, "3");
    cpw_state_free(k.st);
}

/* The job stamps its trigger event a little after arming the expiry timer:
 * an expiry's measured duration can fall inside the timeout it ran out. */
CPT_TEST(an_expiry_stamped_inside_its_timeout_counts_against_it)
{
    job j = new_job("10 s", "5 s", "10");
    for (int i = 0; i < 20; i++) {
        if (i == 10)
            failed(&j, CPW_FAIL_EXPIRED, 5 * S - 3 * MS, 10 * S);
        else
            completed(&j, even(1 * S, i), 10 * S);
    }
    cpt_advice a = advise(&j, (cpt_adv_opts){0});
    const cpt_adv_item *to = item(&a, CPT_ADV_TIMEOUT);
    has_evidence(to, "with 5s (now), 1 of the last 20 would have expired");
    cpw_state_free(j.st);

    /* one that failed well inside the timeout is not taken for an expiry at it */
    job k = new_job("10 s", "5 s", "10");
    for (int i = 0; i < 20; i++) {
        if (i == 10)
            failed(&k, CPW_FAIL_EXPIRED, 4 * S, 10 * S);
        else
            completed(&k, even(1 * S, i), 10 * S);
    }
    a = advise(&k, (cpt_adv_opts){0});
    has_evidence(item(&a, CPT_ADV_TIMEOUT), "with 5s (now), 0 of the last 20 would have expired");
    cpw_state_free(k.st);
}

/* ------------------------------------------------------------ what-if, rounding */

CPT_TEST(what_if_refuses_what_it_cannot_replay)
{
    job j = steady();
    cpt_whatif w;
    char err[300];
    CPT_EQ_INT(cpt_advice_what_if(j.st, "execution.checkpointing.interval", "5s", &w, err, sizeof err),
               CPT_ADV_ERR_KEY);
    CPT_ASSERT(strstr(err, "cannot replay 'execution.checkpointing.interval'"));
    CPT_EQ_INT(cpt_advice_what_if(j.st, "timeout", "soon", &w, err, sizeof err), CPT_ADV_ERR_VALUE);
    CPT_ASSERT(strstr(err, "'soon' is not a duration"));
    CPT_EQ_INT(cpt_advice_what_if(j.st, "tolerable-failed-checkpoints", "-1", &w, err, sizeof err),
               CPT_ADV_ERR_VALUE);
    /* hostile text comes back sanitised */
    CPT_EQ_INT(cpt_advice_what_if(j.st, "time\x1b[2Jout", "1s", &w, err, sizeof err), CPT_ADV_ERR_KEY);
    CPT_ASSERT(!strchr(err, '\x1b'));
    /* a steady job against 950 ms: the slow tail would have expired */
    CPT_EQ_INT(cpt_advice_what_if(j.st, "timeout", "950 ms", &w, err, sizeof err), CPT_ADV_OK);
    CPT_ASSERT(w.changed > 0 && w.changed < 200);
    for (int i = 0; i < w.n_ids; i++)
        for (int h = 0; h < j.st->n_history; h++)
            if (cpw_state_history(j.st, h)->id == w.ids[i])
                CPT_ASSERT(cpw_state_history(j.st, h)->duration_us > 950 * MS);
    cpw_state_free(j.st);
}

/* From a recording: an expired checkpoint the recording saw still in
 * progress after it expired (a stalled barrier that moved on at 4.5 s)
 * would have expired with any timeout up to that too; one it saw nothing
 * more of might have completed with a longer one; what another process
 * did with the same id says nothing about it. */
CPT_TEST(what_if_timeout_uses_what_a_recording_saw_after_an_expiry)
{
    job j = new_job("10 s", "2 s", "10");
    for (int i = 0; i < 10; i++) {
        if (i == 3 || i == 6)
            failed(&j, CPW_FAIL_EXPIRED, 2 * S, 10 * S);
        else
            completed(&j, even(i == 8 ? 1500 * MS : 300 * MS, i), 10 * S);
    }
    int64_t trig4 = T0 + 3 * 10 * S, trig7 = T0 + 6 * 10 * S;
    const cpt_adv_seen seen[] = {
        {4, trig4 + 1000, trig4 + 4500 * MS},     /* #4: still moving at 4.5 s */
        {7, trig7 + 500 * S, trig7 + 520 * S},    /* not #7: a later process's */
        {9, T0 + 8 * 10 * S, T0 + 8 * 10 * S + 1500 * MS},
    };
    cpt_whatif w;
    char err[200];
    CPT_EQ_INT(cpt_advice_what_if_seen(j.st, seen, 3, "timeout", "3s", &w, err, sizeof err),
               CPT_ADV_OK);
    CPT_EQ_INT(w.considered, 10);
    CPT_EQ_INT(w.changed, 0);
    CPT_EQ_INT(w.n_maybe, 1);
    CPT_EQ_INT(w.maybe[0], 7);
    CPT_EQ_STR(w.lines[0], "with a timeout of 3s, 0 of the 8 completed would have expired");
    CPT_EQ_STR(w.lines[1], "1 that expired might have completed with 3s: #7 (expired at 2.0s); how "
                           "long it needed is unknown");
    CPT_EQ_STR(w.lines[2], "1 that expired would have expired with 3s too: the recording saw it "
                           "still in progress past it: #4 (at 4.5s)");
    /* 5 s is past what was seen of #4: both might have completed; 1 s fails #9 */
    CPT_EQ_INT(cpt_advice_what_if_seen(j.st, seen, 3, "timeout", "5s", &w, err, sizeof err),
               CPT_ADV_OK);
    CPT_EQ_INT(w.n_maybe, 2);
    CPT_EQ_INT(w.maybe[0], 7);
    CPT_EQ_INT(w.maybe[1], 4);
    CPT_EQ_STR(w.lines[1], "2 that expired might have completed with 5s: #7 (expired at 2.0s), #4 "
                           "(expired at 2.0s, in progress at 4.5s); how long they needed is unknown");
    CPT_EQ_INT(w.n_lines, 2);
    CPT_EQ_INT(cpt_advice_what_if_seen(j.st, seen, 3, "timeout", "1s", &w, err, sizeof err),
               CPT_ADV_OK);
    CPT_EQ_INT(w.changed, 1);
    CPT_EQ_INT(w.ids[0], 9);
    CPT_EQ_INT(w.n_maybe, 0);
    CPT_EQ_INT(w.n_lines, 1);
    /* without a recording, as live: nothing is known after an expiry */
    CPT_EQ_INT(cpt_advice_what_if(j.st, "timeout", "3s", &w, err, sizeof err), CPT_ADV_OK);
    CPT_EQ_INT(w.n_maybe, 2);
    cpw_state_free(j.st);
}

/* The timeout advice from a recording: an expired checkpoint seen still in
 * progress 9 s after its trigger would have expired with the recommended
 * 5 s too, and the evidence says how long it was seen busy. */
CPT_TEST(timeout_advice_uses_what_a_recording_saw_after_an_expiry)
{
    job j = new_job("10 s", "2 s", "10");
    for (int i = 0; i < 10; i++) {
        if (i == 3 || i == 6)
            failed(&j, CPW_FAIL_EXPIRED, 2 * S, 10 * S);
        else
            completed(&j, even(i == 8 ? 1500 * MS : 300 * MS, i), 10 * S);
    }
    int64_t trig7 = T0 + 6 * 10 * S;
    const cpt_adv_seen seen[] = {{7, trig7 + 1000, trig7 + 9 * S}};
    cpt_advice a = advise(&j, (cpt_adv_opts){.seen = seen, .n_seen = 1});
    const cpt_adv_item *t = item(&a, CPT_ADV_TIMEOUT);
    CPT_EQ_STR(setting(t, "execution.checkpointing.timeout")->value, "5 s");
    has_evidence(t, "with 2s (now), 2 of the last 10 would have expired");
    has_evidence(t, "with 5 s, 1 of the last 10 would have expired (and the expired ones might "
                    "have completed)");
    has_evidence(t, "2 expired; the newest, #7, after 2.0s with 1/8 acks, waiting on source#1: the "
                    "recording saw it still in progress at 9.0s, so it needed more than that, how "
                    "much more is unknown");
    /* live (nothing seen after the expiry): both might have completed with 5 s */
    a = advise(&j, (cpt_adv_opts){0});
    t = item(&a, CPT_ADV_TIMEOUT);
    has_evidence(t, "with 5 s, 0 of the last 10 would have expired (and the expired ones might "
                    "have completed)");
    cpw_state_free(j.st);
}

CPT_TEST(durations_round_to_what_flink_conf_says)
{
    char b[32];
    CPT_EQ_INT(cpt_advice_round_dur(3 * S + 1, false, b, sizeof b), 5 * S);
    CPT_EQ_STR(b, "5 s");
    CPT_EQ_INT(cpt_advice_round_dur(3 * S, false, b, sizeof b), 3 * S);
    CPT_EQ_INT(cpt_advice_round_dur(400 * MS, false, b, sizeof b), 500 * MS);
    CPT_EQ_STR(b, "500 ms");
    CPT_EQ_INT(cpt_advice_round_dur(100 * S, false, b, sizeof b), 120 * S);
    CPT_EQ_STR(b, "2 min");
    CPT_EQ_INT(cpt_advice_round_dur(75 * S, false, b, sizeof b), 90 * S);
    CPT_EQ_STR(b, "90 s");
    CPT_EQ_INT(cpt_advice_round_dur(4 * S, true, b, sizeof b), 3 * S);
    CPT_EQ_INT(cpt_advice_round_dur(50 * 3600 * S, false, b, sizeof b), 50 * 3600 * S);
    CPT_EQ_STR(b, "50 h");
    CPT_EQ_INT(cpt_advice_round_dur(0, true, b, sizeof b), 0);
    CPT_EQ_STR(b, "0 ms");
}

CPT_TEST(empty_history_says_so)
{
    job j = new_job("10 s", "1 min", "3");
    cpt_advice a = advise(&j, (cpt_adv_opts){0});
    CPT_EQ_STR(item(&a, CPT_ADV_TIMEOUT)->title, "no completed checkpoint yet: nothing to base a "
                                                  "timeout on");
    CPT_EQ_STR(a.headline, "not enough data yet (timeout 1m, 0 completed)");
    CPT_EQ_INT(item(&a, CPT_ADV_TIMEOUT)->n_settings, 0);
    cpw_state_free(j.st);
}

/* ------------------------------------------------------------ the screen */

#include "cpt_frame.h"
#include "cpt_model.h"
#include "cpt_ui.h"
#include "cpt_view.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* The job the goldens show: 60 checkpoints, alignment-bound, two expired
 * at the 5 s timeout, the newest every 10 s; the model live at 2000 rec/s. */
static cpt_model *screen_model(int64_t *now)
{
    setenv("TZ", "UTC", 1);
    tzset();
    job j = new_job("10 s", "5 s", "0");
    cpw_hello h = j.st->hello;
    h.pid = 4242;
    h.start_ts_us = T0 - 3600 * S;
    cpw_state_set_hello(j.st, &h);
    snprintf(j.st->job, sizeof j.st->job, "payments");
    j.st->status = CPW_JOB_RUNNING;
    for (int i = 0; i < 60; i++) {
        if (i == 20 || i == 50)
            failed(&j, CPW_FAIL_EXPIRED, 5 * S, 10 * S);
        else
            completed(&j, (path){200 * MS, 1400 * MS + (i % 5) * 100 * MS, 200 * MS, 200 * MS,
                                 i % 8, 0}, 10 * S);
    }
    *now = j.t - 4 * S;
    j.st->seq = j.seq;
    cpt_model *m = cpt_model_new(NULL);
    CPT_ASSERT(m);
    cpt_model_connecting(m, "ipc:///run/cptop/payments.events", *now - 10 * S);
    cpw_msg hb;
    memset(&hb, 0, sizeof hb);
    hb.kind = CPW_K_HEARTBEAT;
    hb.seq = j.seq;
    snprintf(hb.job, sizeof hb.job, "payments");
    cpt_model_on_msg(m, &hb, *now - 1 * S);
    cpt_model_state_sent(m);
    cpt_model_on_state(m, j.st, *now - 1 * S);
    m->records_per_s = 2000;
    m->events_per_s = 120;
    cpt_model_tick(m, *now);
    return m;
}

static void golden(cpt_model *m, cpt_ui *ui, int64_t now, int w, int h, const char *name)
{
    cpt_frame f = {0};
    CPT_EQ_INT(cpt_frame_resize(&f, w, h), 0);
    cpt_view_render(m, ui, &f, now);
    cpt_golden_check(name, &f);
    cpt_frame_free(&f);
}

static bool frame_has(cpt_model *m, cpt_ui *ui, int64_t now, const char *text)
{
    cpt_frame f = {0};
    CPT_EQ_INT(cpt_frame_resize(&f, 80, 24), 0);
    cpt_view_render(m, ui, &f, now);
    char *t = cpt_frame_text(&f);
    bool r = strstr(t, text) != NULL;
    free(t);
    cpt_frame_free(&f);
    return r;
}

CPT_TEST(advice_screen_golden_frames)
{
    int64_t now;
    cpt_model *m = screen_model(&now);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpw_cmd cmd;
    CPT_EQ_INT(cpt_ui_key(&ui, m, 'A', &cmd, now), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.screen, CPT_SCR_ADVICE);
    golden(m, &ui, now, 80, 24, "advice_80x24");
    golden(m, &ui, now, 160, 50, "advice_160x50");
    /* down to the alignment advice; for a job that cannot change settings,
     * its flink-conf lines */
    while (ui.adv.items[ui.adv_sel].kind != CPT_ADV_ALIGNMENT) {
        int sel = ui.adv_sel;
        CPT_EQ_INT(cpt_ui_key(&ui, m, 'j', &cmd, now), CPT_ACT_REDRAW);
        CPT_ASSERT(ui.adv_sel == sel + 1);
    }
    ui.adv_no_set = true;
    golden(m, &ui, now, 80, 24, "advice_flink_80x24");
    CPT_ASSERT(frame_has(m, &ui, now, "execution.checkpointing.unaligned.enabled: true"));
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, now), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.overlay, CPT_OV_NONE);
    CPT_ASSERT(strstr(ui.status, "cannot change at run time"));
    ui.adv_no_set = false;
    ui.status[0] = 0;
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, now), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.overlay, CPT_OV_CONFIRM_APPLY);
    golden(m, &ui, now, 80, 24, "advice_confirm_80x24");
    /* the summary's timeout line is the engine's */
    cpt_ui_init(&ui, false, true);
    CPT_EQ_INT(cpt_ui_key(&ui, m, 's', &cmd, now), CPT_ACT_REDRAW);
    const cpt_advice *a = cpt_advice_ui_get(&ui, m, now);
    CPT_ASSERT(frame_has(m, &ui, now, "timeout 5s is only 2.1x the p99 2.4s: little"));
    CPT_EQ_STR(a->headline, "timeout 5s is only 2.1x the p99 2.4s: little headroom; 7.2s (3x p99) "
                            "would absorb a slow upload");
    cpt_model_free(m);
}

CPT_TEST(applying_advice_sends_what_changes_after_y)
{
    int64_t now;
    cpt_model *m = screen_model(&now);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpw_cmd cmd;
    cpt_ui_key(&ui, m, 'A', &cmd, now);
    cpt_advice_ui_get(&ui, m, now);
    while (ui.adv.items[ui.adv_sel].kind != CPT_ADV_ALIGNMENT)
        cpt_ui_key(&ui, m, 'j', &cmd, now);
    /* any key but y keeps the settings */
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, now);
    CPT_EQ_INT(cpt_ui_key(&ui, m, 'n', &cmd, now), CPT_ACT_REDRAW);
    CPT_EQ_STR(ui.status, "advice not applied");
    /* y sends both keys the job announced and runs otherwise */
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, now);
    CPT_EQ_INT(cpt_ui_key(&ui, m, 'y', &cmd, now), CPT_ACT_COMMAND);
    CPT_EQ_INT(cmd.type, CPW_CMD_SET_CONFIG);
    CPT_EQ_INT(cmd.n_params, 1);
    CPT_EQ_STR(cmd.keys[0], "execution.checkpointing.unaligned.enabled");
    CPT_EQ_STR(cmd.values[0], "true");
    /* the timeout advice: one key, the duration as flink-conf writes it */
    cpt_ui_key(&ui, m, 'g', &cmd, now);
    CPT_EQ_INT(ui.adv.items[ui.adv_sel].kind, CPT_ADV_TIMEOUT);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, now);
    CPT_EQ_INT(cpt_ui_key(&ui, m, 'y', &cmd, now), CPT_ACT_COMMAND);
    CPT_EQ_INT(cmd.n_params, 1);
    CPT_EQ_STR(cmd.keys[0], "execution.checkpointing.timeout");
    CPT_EQ_STR(cmd.values[0], "10 s");
    /* read-only: refused, nothing sent */
    cpt_ui_init(&ui, true, true);
    cpt_ui_key(&ui, m, 'A', &cmd, now);
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, now), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.overlay, CPT_OV_NONE);
    CPT_ASSERT(strstr(ui.status, "read-only"));
    cpt_model_free(m);
}
