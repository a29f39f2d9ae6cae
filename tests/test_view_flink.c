/*
 * test_view_flink.c — the dashboard's screens for a job on Apache Flink:
 * constructed REST sequences (a small cluster kept here, answering the
 * paths a poller asks for, in the shapes of Flink 1.12, 1.15 and 1.19)
 * fed through the Flink translator (cpt_flink_feed) into the model, then
 * rendered and compared with golden frames (tests/golden/NAME.txt;
 * CPT_UPDATE_GOLDEN=1 rewrites them).
 *
 * The story the cluster tells: ten completed checkpoints, one in flight
 * whose acks rise until it completes, one that expires at the timeout, a
 * JobManager failover that restores the job from the last completed one
 * and starts Flink's history and counts over (cptop keeps its own), two
 * more completed, and one in flight that still waits on a window subtask
 * and the sink.
 */
#include "cpt_flink_feed.h"
#include "cpt_frame.h"
#include "cpt_golden.h"
#include "cpt_model.h"
#include "cpt_test.h"
#include "cpt_ui.h"
#include "cpt_view.h"
#include "cpw_flink.h"

#include <math.h>
#include <time.h>

#define NOW 1800000000000000LL /* 2027-01-15 08:00:00 UTC, in µs */
#define NOW_MS (NOW / 1000)
#define S_MS 1000LL

#define JID "5f3c0a0de6b94e0a8d7c33c0b1a2f001"
#define JID2 "9b1e77f2c3d84a51b0e6f4a9d2c81e02"
#define JID3 "c04d5a6b7e8f90a1b2c3d4e5f6a7b803"
static const char *const vid[3] = {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01",
                                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa02",
                                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa03"};
static const char *const vname[3] = {"Source: orders", "window(5 min)", "Sink: payments"};
static const int vpar[3] = {2, 2, 1};
#define SUBTASKS 5

/* ------------------------------------------------------------ the cluster */

typedef struct fake_cp {
    int64_t id, trigger_ms;
    cpw_flink_status status;
    int acked[3];           /* per vertex */
    int64_t end_ms;         /* completed or failed */
} fake_cp;

typedef struct cluster {
    int minor;              /* Flink 1.minor: 12, 15 or 19 */
    fake_cp hist[16];       /* newest first, as Flink lists them */
    int n;
    cpw_flink_counts counts;
    bool restored;
    int64_t restored_id, restore_ms;
} cluster;

/* Flink before 1.15 wrote "@class" where later versions write "className". */
static void old_class_keys(cpw_buf *b)
{
    char *p;
    while ((p = strstr(b->data, "\"className\""))) {
        memmove(p + 8, p + 11, strlen(p + 11) + 1);
        memcpy(p, "\"@class\"", 8);
        b->len -= 3;
    }
}

/* A summary as the version sends it: numbers (1.19), "NaN" before the
 * first sample (1.15), no percentiles at all (1.12). */
static cpw_flink_stat stat_of(const cluster *c, int64_t v)
{
    cpw_flink_stat s = cpw_flink_stat_empty();
    s.min = s.avg = s.max = v;
    if (c->minor >= 19)
        s.p50 = s.p90 = s.p95 = s.p99 = s.p999 = (double)v;
    s.has_pct = c->minor >= 14;
    return s;
}

static int acked_of(const fake_cp *x)
{
    return x->acked[0] + x->acked[1] + x->acked[2];
}

static cpw_flink_cp cp_entry(const cluster *c, const fake_cp *x)
{
    cpw_flink_cp e = {.cls = x->status, .id = x->id, .status = x->status,
                      .trigger_ts = x->trigger_ms, .num_subtasks = SUBTASKS,
                      .num_acked = acked_of(x), .checkpoint_type = "CHECKPOINT",
                      .has_checkpointed_size = c->minor >= 15,
                      .latest_ack_ts = acked_of(x) ? x->trigger_ms + 700 : -1};
    e.state_size = 48000000 + x->id * 1000;
    e.checkpointed_size = 3000000 + x->id * 100;
    e.e2e = x->status == CPW_FLINK_IN_PROGRESS ? 0 : x->end_ms - x->trigger_ms;
    if (x->status == CPW_FLINK_FAILED) {
        e.failure_ts = x->end_ms;
        e.failure_message = (char *)"Checkpoint expired before completing.";
    }
    return e;
}

/* A body in the version's shape: "@class" before 1.15. */
static void finish(const cluster *c, cpw_buf *b)
{
    if (c->minor < 15) {
        old_class_keys(b);
        CPT_ASSERT(!strstr(b->data, "\"className\""));
    }
}

static void body_config(const cluster *c, cpw_buf *b)
{
    cpw_flink_dashboard d = {.refresh_interval = 3000, .timezone_name = "UTC"};
    snprintf(d.flink_version, sizeof d.flink_version, "1.%d.%d", c->minor,
             c->minor == 12 ? 7 : c->minor == 15 ? 4 : 1);
    snprintf(d.flink_revision, sizeof d.flink_revision, "abc1234");
    cpw_flink_write_dashboard(b, &d);
}

static void body_overview(const cluster *c, cpw_buf *b)
{
    (void)c;
    cpw_flink_job j[3] = {
        {.jid = JID, .name = "payments", .state = "RUNNING", .start_time = NOW_MS - 7450 * S_MS,
         .end_time = -1, .duration = 7450 * S_MS, .tasks_total = SUBTASKS},
        {.jid = JID2, .name = "fraud-scoring \x1b[31mred", .state = "RESTARTING",
         .start_time = NOW_MS - 86400 * 3 * S_MS, .end_time = -1, .duration = 86400 * 3 * S_MS,
         .tasks_total = 12},
        {.jid = JID3, .name = "backfill-2026-11", .state = "FINISHED",
         .start_time = NOW_MS - 9000 * S_MS, .end_time = NOW_MS - 5400 * S_MS,
         .duration = 3600 * S_MS, .tasks_total = 4},
    };
    cpw_flink_jobs js = {.n = 3, .jobs = j};
    cpw_flink_write_overview(b, &js);
}

static void body_job(const cluster *c, cpw_buf *b)
{
    (void)c;
    cpw_flink_vertex v[3];
    memset(v, 0, sizeof v);
    for (int i = 0; i < 3; i++) {
        snprintf(v[i].id, sizeof v[i].id, "%s", vid[i]);
        snprintf(v[i].name, sizeof v[i].name, "%s", vname[i]);
        snprintf(v[i].status, sizeof v[i].status, "RUNNING");
        v[i].parallelism = vpar[i];
    }
    cpw_flink_edge e[2] = {{0, 1, "HASH"}, {1, 2, "FORWARD"}};
    cpw_flink_job_details d = {.job = {.jid = JID, .name = "payments", .state = "RUNNING",
                                       .start_time = NOW_MS - 7450 * S_MS, .end_time = -1},
                               .n_vertices = 3, .vertices = v, .n_edges = 2, .edges = e};
    cpw_flink_write_job_details(b, &d);
}

static void body_cp_config(const cluster *c, cpw_buf *b)
{
    cpw_flink_cp_config k = {.interval = 10 * S_MS, .timeout = 60 * S_MS, .min_pause = 0,
                             .max_concurrent = 1, .tolerable_failed = 3};
    /* lowercase before 1.19 (and Flink's own docs vary) */
    snprintf(k.mode, sizeof k.mode, "%s", c->minor >= 19 ? "EXACTLY_ONCE" : "exactly_once");
    cpw_flink_write_cp_config(b, &k);
}

static void body_stats(const cluster *c, cpw_buf *b)
{
    cpw_flink_cp h[16];
    for (int i = 0; i < c->n; i++)
        h[i] = cp_entry(c, &c->hist[i]);
    cpw_flink_restored r = {.id = c->restored_id, .restore_ts = c->restore_ms};
    cpw_flink_stats s = {.counts = c->counts, .has_checkpointed_size = c->minor >= 15,
                         .latest_restored = c->restored ? &r : NULL, .n_history = c->n,
                         .history = h};
    s.checkpointed_size = stat_of(c, 3000000);
    s.state_size = stat_of(c, 48000000);
    s.e2e = stat_of(c, 2400);
    s.alignment_buffered = s.processed = s.persisted = stat_of(c, 0);
    cpw_flink_write_stats(b, &s);
    finish(c, b);
    /* the summary's shape: no percentiles, "NaN" ones, numbers */
    CPT_ASSERT(!strstr(b->data, "\"p50\"") == (c->minor < 14));
    CPT_ASSERT(!strstr(b->data, "\"p50\":\"NaN\"") == (c->minor < 14 || c->minor >= 19));
    CPT_ASSERT(!c->n || !strstr(b->data, "\"@class\"") == (c->minor >= 15));
}

static const fake_cp *find_cp(const cluster *c, int64_t id)
{
    for (int i = 0; i < c->n; i++)
        if (c->hist[i].id == id)
            return &c->hist[i];
    return NULL;
}

static void body_details(const cluster *c, const fake_cp *x, cpw_buf *b)
{
    cpw_flink_cp e = cp_entry(c, x);
    cpw_flink_task t[3];
    memset(t, 0, sizeof t);
    for (int v = 0; v < 3; v++) {
        snprintf(t[v].vertex, sizeof t[v].vertex, "%s", vid[v]);
        t[v].id = x->id;
        t[v].status = x->status;
        t[v].num_subtasks = vpar[v];
        t[v].num_acked = x->acked[v];
        t[v].latest_ack_ts = x->acked[v] ? x->trigger_ms + 300 + 200 * v : -1;
        t[v].e2e = x->acked[v] ? 300 + 200 * v : -1;
        t[v].has_checkpointed_size = c->minor >= 15;
        t[v].state_size = 16000000 * x->acked[v];
    }
    e.n_tasks = 3;
    e.tasks = t;
    cpw_flink_write_cp(b, &e);
    finish(c, b);
}

static void body_subtasks(const cluster *c, const fake_cp *x, int v, cpw_buf *b)
{
    cpw_flink_subtask sub[2];
    memset(sub, 0, sizeof sub);
    for (int k = 0; k < vpar[v]; k++) {
        sub[k].index = k;
        sub[k].completed = k < x->acked[v];
        if (!sub[k].completed)
            continue;
        sub[k].ack_ts = x->trigger_ms + 300 + 200 * v + 50 * k;
        sub[k].e2e = 300 + 200 * v + 50 * k;
        sub[k].has_checkpointed_size = c->minor >= 15;
        sub[k].state_size = 8000000;
        sub[k].checkpointed_size = 500000;
        sub[k].start_delay = 20 + 100 * v;
        sub[k].align_duration = v == 1 ? 120 : 0;
        sub[k].sync = 15;
        sub[k].async = 150 + 40 * k;
    }
    cpw_flink_task_detail d = {.task = {.id = x->id, .status = x->status,
                                        .num_subtasks = vpar[v], .num_acked = x->acked[v]},
                               .has_checkpointed_size = c->minor >= 15, .n_subtasks = vpar[v],
                               .subtasks = sub};
    d.checkpointed_size = d.state_size = d.e2e = d.sync = d.async = d.align_buffered =
        d.align_processed = d.align_persisted = d.align_duration = d.start_delay =
            stat_of(c, 10);
    cpw_flink_write_task_detail(b, &d);
    finish(c, b);
}

/* The cluster's answer to path: 200 with a body, or 404. */
static int serve(const cluster *c, const char *path, cpw_buf *b)
{
    char jid[33], v[33];
    int64_t id = 0;
    cpt_ff_kind k = cpt_flink_feed_route(path, jid, &id, v);
    const fake_cp *x = id ? find_cp(c, id) : NULL;
    switch (k) {
    case CPT_FF_CONFIG: body_config(c, b); return 200;
    case CPT_FF_OVERVIEW: body_overview(c, b); return 200;
    case CPT_FF_JOB: body_job(c, b); return 200;
    case CPT_FF_CP_CONFIG: body_cp_config(c, b); return 200;
    case CPT_FF_STATS: body_stats(c, b); return 200;
    case CPT_FF_DETAILS:
        if (!x)
            break;
        body_details(c, x, b);
        return 200;
    case CPT_FF_SUBTASKS:
        for (int i = 0; x && i < 3; i++)
            if (!strcmp(v, vid[i])) {
                body_subtasks(c, x, i, b);
                return 200;
            }
        break;
    default:
        break;
    }
    cpw_flink_write_error(b, "Not found");
    return 404;
}

/* ------------------------------------------------------------ the watcher */

typedef struct watch {
    cluster c;
    cpt_model *m;
    cpt_flink_feed *f;
    int64_t now;        /* µs: the time of the current round */
} watch;

static int on_msg(void *ud, const cpw_msg *msg)
{
    watch *w = ud;
    cpt_model_on_msg(w->m, msg, w->now);
    return 0;
}

static void ask(watch *w, const char *path)
{
    cpw_buf b;
    cpw_buf_init(&b);
    int status = serve(&w->c, path, &b);
    char err[300];
    cpt_flink_feed_body(w->f, path, status, b.data, b.len, w->now, err, sizeof err);
    CPT_ASSERTF(!err[0] || status == 404, "%s: %s", path, err);
    cpw_buf_free(&b);
}

/* One poll round at t_ms, as the source makes it: the slow paths, the
 * statistics, then the details the feed asks for until it asks no more. */
static void round_at(watch *w, int64_t t_ms)
{
    w->now = t_ms * 1000;
    ask(w, "/config");
    ask(w, "/jobs/overview");
    ask(w, "/jobs/" JID);
    ask(w, "/jobs/" JID "/checkpoints/config");
    ask(w, "/jobs/" JID "/checkpoints");
    cpt_flink_feed_alive(w->f, w->now);
    for (int guard = 0; guard < 8; guard++) {
        char paths[16][160];
        int n = cpt_flink_feed_wanted(w->f, paths, 16);
        if (!n)
            break;
        for (int i = 0; i < n; i++)
            ask(w, paths[i]);
    }
    cpt_model_tick(w->m, w->now);
}

static fake_cp *push_cp(cluster *c, int64_t id, int64_t trigger_ms)
{
    if (c->n == 10) /* Flink keeps the newest ten */
        c->n = 9;
    memmove(&c->hist[1], &c->hist[0], sizeof c->hist[0] * (size_t)c->n);
    c->n++;
    c->hist[0] = (fake_cp){.id = id, .trigger_ms = trigger_ms, .status = CPW_FLINK_IN_PROGRESS};
    c->counts.total++;
    c->counts.in_progress++;
    return &c->hist[0];
}

static void complete(cluster *c, fake_cp *x, int64_t end_ms)
{
    x->status = CPW_FLINK_COMPLETED;
    x->acked[0] = vpar[0], x->acked[1] = vpar[1], x->acked[2] = vpar[2];
    x->end_ms = end_ms;
    c->counts.in_progress--;
    c->counts.completed++;
}

/* The story, in Flink 1.minor's shapes; ends at NOW - 1 s. */
static void tell(watch *w, int minor)
{
    memset(w, 0, sizeof *w);
    w->c.minor = minor;
    w->m = cpt_model_new(NULL);
    CPT_ASSERT(w->m);
    /* the model starts from the feed's empty state, as the source's resync gives it */
    cpt_model_state_sent(w->m);
    cpt_model_on_state(w->m, cpw_state_new(1000, 50), NOW - 300000000);
    w->f = cpt_flink_feed_new(JID, 1000, 50, on_msg, w);
    CPT_ASSERT(w->f);
    cluster *c = &w->c;
    int64_t t = NOW_MS - 240 * S_MS;
    /* ten completed before cptop looked: Flink's history is full */
    for (int64_t id = 91; id <= 100; id++) {
        fake_cp *x = push_cp(c, id, t - (101 - id) * 10 * S_MS);
        complete(c, x, x->trigger_ms + 1800 + 100 * (id % 4));
    }
    c->counts.total = c->counts.completed = 100;
    round_at(w, t);
    /* 101 in flight: the source acks, then everything; it completes */
    fake_cp *x = push_cp(c, 101, t + 500);
    x->acked[0] = 2;
    round_at(w, t + 1000);
    x->acked[1] = 2;
    x->acked[2] = 1;
    round_at(w, t + 2000);
    complete(c, x, t + 2600);
    round_at(w, t + 3000);
    /* 102 hangs in the window and expires at the 60 s timeout */
    x = push_cp(c, 102, t + 10500);
    x->acked[0] = 2;
    x->acked[1] = 1;
    round_at(w, t + 12000);
    round_at(w, t + 40000);
    x->status = CPW_FLINK_FAILED;
    x->end_ms = x->trigger_ms + 60 * S_MS;
    c->counts.in_progress--;
    c->counts.failed++;
    round_at(w, t + 71000);
    /* 103 completes, then the JobManager fails over: the job is restored
     * from 103, Flink's history and counts start over */
    x = push_cp(c, 103, t + 72000);
    complete(c, x, t + 74100);
    round_at(w, t + 75000);
    memset(c->hist, 0, sizeof c->hist);
    c->n = 0;
    c->counts = (cpw_flink_counts){.restored = 1};
    c->restored = true;
    c->restored_id = 103;
    c->restore_ms = t + 90000;
    round_at(w, t + 95000);
    for (int64_t id = 104; id <= 105; id++) {
        x = push_cp(c, id, t + 100000 + (id - 104) * 10000);
        complete(c, x, x->trigger_ms + 2100 + 200 * (id - 104));
        round_at(w, x->end_ms + 400);
    }
    /* 106 in flight 25 s: the sources and one window subtask acked */
    x = push_cp(c, 106, NOW_MS - 25 * S_MS);
    x->acked[0] = 2;
    x->acked[1] = 1;
    round_at(w, NOW_MS - 20 * S_MS);
    round_at(w, NOW_MS - 1 * S_MS);
    /* what the source writes into the header's source line */
    cpt_flink_feed_describe(w->f, "http://jobmanager:8081", 1000, "", NOW, w->m->endpoint,
                            sizeof w->m->endpoint);
}

static void done(watch *w)
{
    cpt_flink_feed_destroy(w->f);
    cpt_model_free(w->m);
}

static void utc(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
}

static cpt_frame render(watch *w, cpt_ui *ui, int width, int height)
{
    cpt_frame f = {0};
    CPT_EQ_INT(cpt_frame_resize(&f, width, height), 0);
    cpt_view_render(w->m, ui, &f, NOW);
    return f;
}

static bool frame_has(const cpt_frame *f, const char *needle)
{
    char *t = cpt_frame_text(f);
    bool r = t && strstr(t, needle);
    free(t);
    return r;
}

/* ------------------------------------------------------------------ tests */

/* What the model holds after the story, whatever the version's shapes. */
static void assert_story(const watch *w)
{
    const cpw_state *st = w->m->st;
    CPT_EQ_INT(st->n_inflight, 1);
    CPT_EQ_INT(st->inflight[0].id, 106);
    CPT_EQ_INT(st->inflight[0].acks, 3);
    /* cptop's history: 91..105, although Flink now lists only 104 and 105 */
    CPT_EQ_INT(st->n_history, 15);
    CPT_EQ_INT(cpw_state_history(st, 0)->id, 105);
    CPT_EQ_INT(cpw_state_history(st, 14)->id, 91);
    const cpw_cp *x = NULL;
    for (int i = 0; i < st->n_history; i++)
        if (cpw_state_history(st, i)->id == 102)
            x = cpw_state_history(st, i);
    CPT_ASSERT(x && x->status == CPW_CP_FAILED && x->reason == CPW_FAIL_EXPIRED);
    CPT_EQ_INT(st->restored_from, 103);
    CPT_EQ_STR(w->m->mode, "EXACTLY_ONCE");
    CPT_EQ_INT(w->m->timeout_us, 60000000);
}

CPT_TEST(flink_main_screens_of_three_versions)
{
    utc();
    static const struct {
        int minor;
        const char *golden;
    } v[] = {{12, "main_flink112_80x24"}, {15, "main_flink115_80x24"},
             {19, "main_flink119_80x24"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        watch w;
        tell(&w, v[i].minor);
        assert_story(&w);
        cpt_ui ui;
        cpt_ui_init(&ui, false, true);
        cpt_frame f = render(&w, &ui, 80, 24);
        cpt_golden_check(v[i].golden, &f);
        char ver[32];
        snprintf(ver, sizeof ver, "Flink 1.%d.", v[i].minor);
        CPT_ASSERTF(frame_has(&f, ver), "no '%s' in the header", ver);
        cpt_frame_free(&f);
        if (v[i].minor == 19) { /* wide: the job's id, the URL, the restore's origin */
            f = render(&w, &ui, 160, 50);
            cpt_golden_check("main_flink119_160x50", &f);
            CPT_ASSERT(frame_has(&f, "(" JID ")"));
            CPT_ASSERT(frame_has(&f, "http://jobmanager:8081"));
            CPT_ASSERT(frame_has(&f, "(from #103)"));
            cpt_frame_free(&f);
        }
        done(&w);
    }
}

CPT_TEST(flink_detail_says_what_it_still_waits_on)
{
    utc();
    watch w;
    tell(&w, 19);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    CPT_EQ_INT(cpt_ui_key(&ui, w.m, CPT_KEY_ENTER, &(cpw_cmd){0}, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.screen, CPT_SCR_DETAIL);
    CPT_EQ_INT(ui.detail_id, 106);
    cpt_frame f = render(&w, &ui, 80, 24);
    cpt_golden_check("detail_flink_waiting_80x24", &f);
    CPT_ASSERT(frame_has(&f, "still waiting on 2 subtasks"));
    cpt_frame_free(&f);
    done(&w);
}

CPT_TEST(flink_summary_covers_what_flink_forgot)
{
    utc();
    watch w;
    tell(&w, 15);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpt_ui_key(&ui, w.m, 's', &(cpw_cmd){0}, NOW);
    CPT_EQ_INT(ui.screen, CPT_SCR_SUMMARY);
    cpt_frame f = render(&w, &ui, 80, 24);
    cpt_golden_check("summary_flink_80x24", &f);
    /* 14 completed and one failed: more than the two Flink still lists */
    CPT_EQ_INT(cpt_model_summary(w.m)->completed, 14);
    CPT_EQ_INT(cpt_model_summary(w.m)->failed, 1);
    cpt_frame_free(&f);
    done(&w);
}

/* No control character reaches the terminal (names come from the cluster). */
static void assert_clean(const cpt_frame *f)
{
    for (int y = 0; y < f->h; y++)
        for (int x = 0; x < f->w; x++) {
            uint32_t ch = cpt_frame_at(f, x, y)->ch;
            CPT_ASSERTF(ch >= 0x20 && ch != 0x7f && !(ch >= 0x80 && ch < 0xa0),
                        "control character U+%04X at %d,%d", (unsigned)ch, x, y);
        }
}

CPT_TEST(flink_overview_lists_the_cluster_and_enter_watches_one)
{
    utc();
    watch w;
    tell(&w, 19);
    /* the rows the Flink source lists, as the dashboard puts them in the model */
    cpt_job_row rows[CPT_JOBS_MAX];
    int n = cpt_flink_feed_job_rows(w.f, rows, CPT_JOBS_MAX);
    CPT_EQ_INT(n, 3);
    CPT_ASSERT(rows[0].watched && !rows[1].watched && !rows[2].watched);
    /* the other jobs' own figures, as the source's rows give them */
    rows[1].cp = (cpt_job_cp){.known = true, .last_id = 4410, .last_end_us = NOW - 12000000,
                              .last_dur_us = 3400000, .failed = 7, .inflight = 1,
                              .inflight_since_us = NOW - 40000000};
    rows[2].cp = (cpt_job_cp){.known = true};
    snprintf(rows[2].cp.note, sizeof rows[2].cp.note, "checkpointing off");
    uint64_t v = w.m->version;
    CPT_EQ_INT(cpt_model_set_jobs(w.m, rows, n, ""), 0);
    CPT_ASSERT(w.m->version > v);
    v = w.m->version;
    cpt_model_set_jobs(w.m, rows, n, ""); /* the same list: nothing to draw */
    CPT_EQ_INT(w.m->version, v);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpw_cmd cmd;
    ui.jobs_sel = 2;
    CPT_EQ_INT(cpt_ui_key(&ui, w.m, 'o', &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.screen, CPT_SCR_JOBS);
    CPT_EQ_INT(ui.jobs_sel, 0); /* opens on the watched job */
    cpt_ui_key(&ui, w.m, CPT_KEY_DOWN, &cmd, NOW);
    cpt_frame f = render(&w, &ui, 80, 24);
    cpt_golden_check("jobs_flink_80x24", &f);
    assert_clean(&f);
    CPT_ASSERT(frame_has(&f, "fraud-scoring"));
    /* each job's last checkpoint (age, took), failed, in flight (how long) */
    CPT_ASSERT(frame_has(&f, "2m09s    2.3s      1 1 25.0s")); /* the watched one: the model's */
    CPT_ASSERT(frame_has(&f, "12.0s    3.4s      7 1 40.0s")); /* fraud-scoring's row */
    CPT_ASSERT(frame_has(&f, "checkpointing off"));
    cpt_frame_free(&f);
    f = render(&w, &ui, 160, 30);
    CPT_ASSERT(frame_has(&f, JID2)); /* wide: whole ids */
    cpt_frame_free(&f);
    for (int h = 4; h <= 12; h += 4) { /* small terminals: still drawn, nothing spills */
        f = render(&w, &ui, 40, h);
        assert_clean(&f);
        cpt_frame_free(&f);
    }
    /* Enter on another job asks to watch it; on the watched one: back */
    CPT_EQ_INT(cpt_ui_key(&ui, w.m, CPT_KEY_ENTER, &cmd, NOW), CPT_ACT_WATCH);
    CPT_EQ_INT(ui.jobs_sel, 1);
    CPT_EQ_INT(ui.screen, CPT_SCR_MAIN);
    cpt_ui_key(&ui, w.m, 'o', &cmd, NOW);
    CPT_EQ_INT(cpt_ui_key(&ui, w.m, CPT_KEY_ENTER, &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.screen, CPT_SCR_MAIN);
    /* o again and Esc close it; q still quits from it */
    cpt_ui_key(&ui, w.m, 'o', &cmd, NOW);
    CPT_EQ_INT(cpt_ui_key(&ui, w.m, 'o', &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.screen, CPT_SCR_MAIN);
    cpt_ui_key(&ui, w.m, 'o', &cmd, NOW);
    cpt_ui_key(&ui, w.m, CPT_KEY_ESC, &cmd, NOW);
    CPT_EQ_INT(ui.screen, CPT_SCR_MAIN);
    cpt_ui_key(&ui, w.m, 'o', &cmd, NOW);
    CPT_EQ_INT(cpt_ui_key(&ui, w.m, 'q', &cmd, NOW), CPT_ACT_QUIT);
    done(&w);
}

CPT_TEST(overview_of_a_source_without_a_list_says_why)
{
    utc();
    watch w;
    tell(&w, 19);
    cpt_model_set_jobs(w.m, NULL, -1, "this source watches one job and lists no others");
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpw_cmd cmd;
    cpt_ui_key(&ui, w.m, 'o', &cmd, NOW);
    CPT_EQ_INT(ui.screen, CPT_SCR_JOBS);
    CPT_EQ_INT(cpt_ui_key(&ui, w.m, CPT_KEY_ENTER, &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.screen, CPT_SCR_JOBS); /* nothing to watch */
    cpt_frame f = render(&w, &ui, 80, 24);
    CPT_ASSERT(frame_has(&f, "lists no others"));
    CPT_ASSERT(frame_has(&f, "Jobs on the cluster (0)"));
    cpt_frame_free(&f);
    done(&w);
}

/* A cluster without a REST checkpoint trigger (Flink < 1.17): t asks
 * whether to take a savepoint instead; anything but y takes none. */
CPT_TEST(t_offers_a_savepoint_where_flink_has_no_trigger)
{
    utc();
    watch w;
    tell(&w, 15);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    ui.t_savepoint = true;
    cpw_cmd cmd;
    CPT_EQ_INT(cpt_ui_key(&ui, w.m, 't', &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.overlay, CPT_OV_CONFIRM_SAVEPOINT);
    cpt_frame f = render(&w, &ui, 80, 24);
    CPT_ASSERT(frame_has(&f, "no REST checkpoint trigger (Flink 1.17+)"));
    CPT_ASSERT(frame_has(&f, "Take a savepoint instead?  y: take it"));
    cpt_frame_free(&f);
    CPT_EQ_INT(cpt_ui_key(&ui, w.m, 'n', &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.overlay, CPT_OV_NONE);
    CPT_ASSERT(strstr(ui.status, "no savepoint taken") != NULL);
    cpt_ui_key(&ui, w.m, 't', &cmd, NOW);
    CPT_EQ_INT(cpt_ui_key(&ui, w.m, 'y', &cmd, NOW), CPT_ACT_COMMAND);
    CPT_EQ_INT(cmd.type, CPW_CMD_TRIGGER);
    CPT_EQ_INT(cmd.n_params, 1);
    CPT_EQ_STR(cmd.keys[0], "type");
    CPT_EQ_STR(cmd.values[0], "savepoint");
    /* where the trigger exists, t sends it straight away */
    ui.t_savepoint = false;
    CPT_EQ_INT(cpt_ui_key(&ui, w.m, 't', &cmd, NOW), CPT_ACT_COMMAND);
    CPT_EQ_INT(cmd.n_params, 0);
    done(&w);
}

static const cpw_cp *model_cp(const cpt_model *m, int64_t id)
{
    for (int i = 0; i < m->st->n_history; i++)
        if (cpw_state_history(m->st, i)->id == id)
            return cpw_state_history(m->st, i);
    return NULL;
}

/* What the Flink source does for the detail screen's checkpoint (the
 * dashboard's cpt_source_want_detail): asks the feed, answers what it
 * wants, hands the model the note and the figures filled in. */
static void open_detail(watch *w, cpt_ui *ui, int64_t id)
{
    const cpw_cp *cp = model_cp(w->m, id);
    CPT_ASSERT(cp != NULL);
    ui->screen = CPT_SCR_DETAIL;
    ui->detail_id = id;
    ui->detail_trigger_ts = cp->trigger_ts;
    CPT_ASSERT(cpt_flink_feed_want_detail(w->f, id));
    char paths[16][160], note[200];
    int n = cpt_flink_feed_wanted(w->f, paths, 16);
    CPT_EQ_INT(n, 3); /* one per vertex */
    for (int i = 0; i < n; i++)
        ask(w, paths[i]);
    cpt_flink_feed_detail_note(w->f, id, note, sizeof note);
    cpt_model_detail_note(w->m, id, note);
    const cpw_state *st = cpt_flink_feed_state(w->f);
    for (int i = 0; i < st->n_history; i++)
        if (cpw_state_history(st, i)->id == id)
            cpt_model_fill_detail(w->m, cpw_state_history(st, i));
}

CPT_TEST(flink_detail_of_a_checkpoint_ended_unseen_gets_its_figures_or_says_flink_forgot_it)
{
    utc();
    watch w;
    tell(&w, 19);
    /* three end between two polls: the newest two are held for their
     * subtasks, 107 ends without figures */
    for (int64_t id = 107; id <= 109; id++) {
        fake_cp *x = push_cp(&w.c, id, NOW_MS - 900 + (id - 107) * 100);
        complete(&w.c, x, x->trigger_ms + 300);
    }
    round_at(&w, NOW_MS - 200);
    const cpw_cp *cp = model_cp(w.m, 107);
    int src0 = cpw_state_sub_index(w.m->st, 0, 0);
    CPT_ASSERT(cp && cp->subs && cp->subs[src0].async_us == 0);
    CPT_EQ_INT(model_cp(w.m, 109)->subs[src0].async_us, 150000);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    open_detail(&w, &ui, 107);
    CPT_EQ_INT(model_cp(w.m, 107)->subs[src0].async_us, 150000);
    CPT_EQ_STR(w.m->detail_note, "");
    cpt_frame f = render(&w, &ui, 120, 30);
    CPT_ASSERT(frame_has(&f, "Checkpoint #107"));
    CPT_ASSERT(frame_has(&f, "150ms"));
    cpt_frame_free(&f);
    /* 95 ended before cptop looked and left Flink's history at the failover */
    open_detail(&w, &ui, 95);
    f = render(&w, &ui, 160, 30);
    CPT_ASSERT(frame_has(&f, "Checkpoint #95"));
    CPT_ASSERT(frame_has(&f, "left Flink's checkpoint history"));
    cpt_frame_free(&f);
    done(&w);
}
