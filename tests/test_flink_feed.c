/*
 * test_flink_feed.c — the Flink feed (tui/cpt_flink_feed*.c): recorded
 * responses (tests/fixtures/flink/) and constructed successive snapshots
 * (written by the protocol's Flink writer) turned into the agent's
 * messages, folded by the same cpt_model the dashboard uses.
 */
#include "cpt_test.h"
#include "cpt_flink_feed.h"
#include "cpt_model.h"
#include "cpw_flink.h"

#include <math.h>

#define CPT_FF_HOLD_TEST_US 2000001 /* past the feed's 2 s hold */

/* ------------------------------------------------------------------ helpers */

static char *slurp(const char *name, size_t *len)
{
    char path[512];
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__ + 1) : 0;
    snprintf(path, sizeof path, "%.*sfixtures/flink/%s", dir, __FILE__, name);
    FILE *f = fopen(path, "rb");
    CPT_ASSERTF(f != NULL, "cannot open fixture %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    CPT_ASSERT(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* What the feed emitted, folded into a model; counts per event type. */
typedef struct sink {
    cpt_model *m;
    int by_type[CPW_EV__COUNT];
    int hellos, heartbeats;
    uint64_t last_seq;
    bool seq_ok;
    int64_t ended[64];          /* checkpoints whose end was emitted */
    int n_ended;
    int late_acks;              /* acks emitted after their checkpoint's end */
    int real_acks;              /* acks with Flink's per-subtask timings */
} sink;

static void note_order(sink *s, const cpw_event *ev)
{
    if (ev->type == CPW_EV_CP_COMPLETED || ev->type == CPW_EV_CP_FAILED) {
        if (s->n_ended < 64)
            s->ended[s->n_ended++] = ev->cp_id;
    } else if (ev->type == CPW_EV_ACK) {
        for (int i = 0; i < s->n_ended; i++)
            s->late_acks += s->ended[i] == ev->cp_id;
        s->real_acks += ev->u.ack.async_us > 0 && ev->u.ack.start_delay_us > 0;
    }
}

static int on_msg(void *ud, const cpw_msg *msg)
{
    sink *s = ud;
    if (msg->seq != s->last_seq + 1)
        s->seq_ok = false;
    s->last_seq = msg->seq;
    if (msg->kind == CPW_K_EVENT && (unsigned)msg->ev.type < CPW_EV__COUNT) {
        s->by_type[msg->ev.type]++;
        note_order(s, &msg->ev);
    }
    s->hellos += msg->kind == CPW_K_HELLO;
    s->heartbeats += msg->kind == CPW_K_HEARTBEAT;
    cpt_model_on_msg(s->m, msg, 1);
    return 0;
}

#define JID "0123456789abcdef0123456789abcdef"
#define V0  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define V1  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define T0  1700000000000LL

static cpt_flink_feed *new_feed(sink *s)
{
    memset(s, 0, sizeof *s);
    s->m = cpt_model_new(NULL);
    s->seq_ok = true;
    /* the model starts from an empty state, as a source's resync gives it */
    cpt_model_state_sent(s->m);
    cpt_model_on_state(s->m, cpw_state_new(100, 100), 1);
    cpt_flink_feed *f = cpt_flink_feed_new(JID, 100, 100, on_msg, s);
    CPT_ASSERT(f != NULL);
    return f;
}

static void feed(cpt_flink_feed *f, const char *path, int status, const cpw_buf *b)
{
    char err[300];
    cpt_flink_feed_body(f, path, status, b->data, b->len, 1, err, sizeof err);
    CPT_ASSERTF(!err[0], "%s: %s", path, err);
}

static void feed_job(cpt_flink_feed *f)
{
    cpw_flink_vertex v[2] = {{.id = V0, .name = "source", .parallelism = 2, .status = "RUNNING"},
                             {.id = V1, .name = "sink", .parallelism = 1, .status = "RUNNING"}};
    cpw_flink_edge e = {0, 1, "HASH"};
    cpw_flink_job_details d = {.job = {.jid = JID, .name = "orders", .state = "RUNNING",
                                       .start_time = T0, .end_time = -1},
                               .n_vertices = 2, .vertices = v, .n_edges = 1, .edges = &e};
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_write_job_details(&b, &d);
    feed(f, "/jobs/" JID, 200, &b);
    cpw_buf_reset(&b);
    /* lowercase mode and Long.MAX interval, as real clusters send them */
    cpw_flink_cp_config c = {.mode = "exactly_once", .interval = INT64_MAX, .timeout = 600000,
                             .max_concurrent = 1, .tolerable_failed = 3};
    cpw_flink_write_cp_config(&b, &c);
    feed(f, "/v1/jobs/" JID "/checkpoints/config", 200, &b);
    cpw_buf_free(&b);
}

static cpw_flink_cp cp_of(int64_t id, cpw_flink_status st, int acked)
{
    cpw_flink_cp c = {.cls = st, .id = id, .status = st, .trigger_ts = T0 + id * 1000,
                      .latest_ack_ts = acked ? T0 + id * 1000 + 40 : -1,
                      .has_checkpointed_size = true, .checkpointed_size = 300,
                      .state_size = 900, .e2e = st == CPW_FLINK_IN_PROGRESS ? 0 : 40,
                      .num_subtasks = 3, .num_acked = acked, .checkpoint_type = "CHECKPOINT"};
    if (st == CPW_FLINK_FAILED) {
        c.failure_ts = T0 + id * 1000 + 600;
        c.failure_message = (char *)"Checkpoint expired before completing.";
    }
    return c;
}

/* /checkpoints with these entries (newest first), NaN percentiles. */
static void feed_stats(cpt_flink_feed *f, cpw_flink_cp *h, int n, cpw_flink_restored *r)
{
    cpw_flink_stats s = {.counts = {.total = n}, .has_checkpointed_size = true,
                         .latest_restored = r, .n_history = n, .history = h};
    s.checkpointed_size = s.state_size = s.e2e = s.alignment_buffered = s.processed =
        s.persisted = cpw_flink_stat_empty();
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_write_stats(&b, &s);
    CPT_ASSERT(strstr(b.data, "\"NaN\"") != NULL);
    feed(f, "/jobs/" JID "/checkpoints", 200, &b);
    cpw_buf_free(&b);
}

static void feed_details(cpt_flink_feed *f, cpw_flink_cp c, int acked0, int acked1)
{
    cpw_flink_task t[2] = {{.vertex = V0, .id = c.id, .status = c.status, .num_subtasks = 2,
                            .num_acked = acked0, .state_size = 600, .latest_ack_ts = T0},
                           {.vertex = V1, .id = c.id, .status = c.status, .num_subtasks = 1,
                            .num_acked = acked1, .state_size = 300, .latest_ack_ts = T0}};
    c.n_tasks = 2;
    c.tasks = t;
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_write_cp(&b, &c);
    char path[160];
    snprintf(path, sizeof path, "/jobs/%s/checkpoints/details/%lld", JID, (long long)c.id);
    feed(f, path, 200, &b);
    cpw_buf_free(&b);
}

/* A subtasks answer for checkpoint id's vertex vid: the first `done`
 * subtasks completed, with figures that name them (state 100 + index,
 * sync 3 ms, async 20 ms, start delay 2 ms). */
static void feed_subtasks_done(cpt_flink_feed *f, int64_t id, const char *vid, int done)
{
    int n = strcmp(vid, V0) ? 1 : 2;
    cpw_flink_subtask sub[2];
    for (int i = 0; i < n; i++)
        sub[i] = (cpw_flink_subtask){.index = i, .completed = i < done,
                                     .ack_ts = i < done ? T0 + id * 1000 + 30 : -1,
                                     .state_size = 100 + i, .sync = 3, .async = 20,
                                     .start_delay = 2};
    cpw_flink_task_detail td = {.task = {.id = id, .num_subtasks = n,
                                         .num_acked = done < n ? done : n},
                                .n_subtasks = n, .subtasks = sub};
    td.checkpointed_size = td.state_size = td.e2e = td.sync = td.async = td.align_buffered =
        td.align_processed = td.align_persisted = td.align_duration = td.start_delay =
            cpw_flink_stat_empty();
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_write_task_detail(&b, &td);
    char path[160];
    snprintf(path, sizeof path, "/jobs/%s/checkpoints/details/%lld/subtasks/%s", JID,
             (long long)id, vid);
    feed(f, path, 200, &b);
    cpw_buf_free(&b);
}

static void feed_subtasks(cpt_flink_feed *f, int64_t id, const char *vid)
{
    feed_subtasks_done(f, id, vid, 2);
}

/* Both vertices' subtasks of checkpoint id answered, V0's first. */
static void feed_vertices(cpt_flink_feed *f, int64_t id)
{
    feed_subtasks(f, id, V0);
    feed_subtasks(f, id, V1);
}

/* Answers every subtasks request the feed wants now; how many it wanted. */
static int answer_subtasks(cpt_flink_feed *f)
{
    char paths[16][160];
    int n = cpt_flink_feed_wanted(f, paths, 16);
    for (int i = 0; i < n; i++) {
        char jid[33], vid[33];
        int64_t id;
        CPT_EQ_INT(cpt_flink_feed_route(paths[i], jid, &id, vid), CPT_FF_SUBTASKS);
        feed_subtasks(f, id, vid);
    }
    return n;
}

/* Answers what the feed wants (details of c, then subtasks) until it
 * wants nothing more, four rounds at most. */
static void answer_all(cpt_flink_feed *f, cpw_flink_cp c)
{
    char paths[16][160];
    for (int round = 0, n; round < 4 && (n = cpt_flink_feed_wanted(f, paths, 16)) > 0; round++)
        for (int i = 0; i < n; i++) {
            char jid[33], vid[33];
            int64_t id;
            if (cpt_flink_feed_route(paths[i], jid, &id, vid) == CPT_FF_DETAILS)
                feed_details(f, c, 2, 1);
            else
                feed_subtasks(f, id, vid);
        }
}

/* ------------------------------------------------------------------ tests */

CPT_TEST(routes_read_paths_and_ids)
{
    char jid[33], vid[33];
    int64_t id = 0;
    CPT_EQ_INT(cpt_flink_feed_route("/config", jid, &id, vid), CPT_FF_CONFIG);
    CPT_EQ_INT(cpt_flink_feed_route("/v1/jobs/overview?x=1", jid, &id, vid), CPT_FF_OVERVIEW);
    CPT_EQ_INT(cpt_flink_feed_route("/jobs/" JID "/checkpoints", jid, &id, vid), CPT_FF_STATS);
    CPT_EQ_STR(jid, JID);
    CPT_EQ_INT(cpt_flink_feed_route("/jobs/" JID "/checkpoints/details/42/subtasks/" V1, jid, &id,
                                    vid), CPT_FF_SUBTASKS);
    CPT_EQ_INT(id, 42);
    CPT_EQ_STR(vid, V1);
    CPT_EQ_INT(cpt_flink_feed_route("/jobs/" JID "/checkpoints/" V0, jid, &id, vid), CPT_FF_TRIGGER);
    CPT_EQ_INT(cpt_flink_feed_route("/jobs/nothex/checkpoints", jid, &id, vid), CPT_FF_UNKNOWN);
    CPT_EQ_INT(cpt_flink_feed_route("/jobs/" JID "/checkpoints/details/-1", jid, &id, vid),
               CPT_FF_UNKNOWN);
    CPT_EQ_INT(cpt_flink_feed_route("", jid, &id, vid), CPT_FF_UNKNOWN);
}

CPT_TEST(fixture_flink_1_12_history_becomes_completed_checkpoints)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    size_t n;
    char *body = slurp("checkpoints-flink1.12-production.json", &n);
    char err[300];
    cpt_flink_feed_body(f, "/jobs/" JID "/checkpoints", 200, body, n, 5, err, sizeof err);
    CPT_EQ_STR(err, "");
    const cpw_state *st = cpt_flink_feed_state(f);
    CPT_ASSERT(st->n_history > 0);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], st->n_history);
    CPT_EQ_INT(cpw_state_history(st, 0)->id, 1914);
    CPT_EQ_INT(cpw_state_history(st, 0)->state_size, 31096);
    CPT_EQ_INT(cpw_state_history(st, 0)->duration_us, 89000);
    /* before 1.15 there is no checkpointed_size: the full size stands in */
    CPT_EQ_INT(cpw_state_history(st, 0)->checkpointed_size, 31096);
    CPT_EQ_INT(st->counts.completed, 1914);
    CPT_EQ_INT(s.m->st->n_history, st->n_history);
    /* the same body again (Flink's cache) changes nothing */
    int before = s.by_type[CPW_EV_CP_COMPLETED];
    cpt_flink_feed_body(f, "/jobs/" JID "/checkpoints", 200, body, n, 6, err, sizeof err);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], before);
    CPT_EQ_INT(cpt_flink_feed_info(f)->unchanged, 1);
    CPT_ASSERT(s.seq_ok);
    free(body);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

CPT_TEST(checkpointing_off_is_said)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    const char *body = "{\"errors\":[\"Checkpointing is not enabled for this job (" JID ").\"]}";
    char err[300];
    cpt_flink_feed_body(f, "/jobs/" JID "/checkpoints", 404, body, strlen(body), 1, err,
                        sizeof err);
    CPT_ASSERT(cpt_flink_feed_info(f)->checkpointing_off);
    CPT_EQ_INT(cpt_flink_feed_state(f)->n_history, 0);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

CPT_TEST(topology_and_config_become_one_hello)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    CPT_EQ_INT(s.hellos, 2); /* the shape, then the config it did not know yet */
    CPT_EQ_INT(s.m->st->hello.n_ops, 2);
    CPT_EQ_STR(s.m->st->hello.ops[0].name, "source");
    CPT_EQ_INT(s.m->st->n_subtasks, 3);
    CPT_EQ_INT(s.m->st->hello.n_edges, 1);
    CPT_EQ_STR(s.m->mode, "EXACTLY_ONCE");
    CPT_EQ_INT(s.m->interval_us, -1); /* Long.MAX: no periodic checkpoints */
    CPT_EQ_INT(s.m->timeout_us, 600000000);
    CPT_EQ_INT(s.m->tolerable, 3);
    feed_job(f); /* unchanged: no new hello */
    CPT_EQ_INT(s.hellos, 2);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

CPT_TEST(a_checkpoint_appears_acks_rise_and_it_completes)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    cpw_flink_cp c = cp_of(7, CPW_FLINK_IN_PROGRESS, 0);
    feed_stats(f, &c, 1, NULL);
    CPT_EQ_INT(s.m->st->n_inflight, 1);
    CPT_EQ_INT(s.m->st->inflight[0].id, 7);
    CPT_EQ_INT(s.m->st->inflight[0].trigger_ts, (T0 + 7000) * 1000);
    char paths[8][160];
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 8), 1); /* its details, nothing else */
    CPT_EQ_STR(paths[0], "/jobs/" JID "/checkpoints/details/7");
    /* the source vertex is done, the sink is not: the source's subtasks
     * are asked for, and their acks carry Flink's figures */
    feed_details(f, cp_of(7, CPW_FLINK_IN_PROGRESS, 2), 2, 0);
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 8), 1);
    CPT_EQ_STR(paths[0], "/jobs/" JID "/checkpoints/details/7/subtasks/" V0);
    feed_subtasks(f, 7, V0);
    CPT_EQ_INT(s.m->st->inflight[0].acks, 2);
    CPT_EQ_INT(s.real_acks, 2);
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 8), 0); /* nothing new to learn */
    /* one more ack counted by Flink: details, then the sink's subtasks */
    c = cp_of(7, CPW_FLINK_IN_PROGRESS, 3);
    feed_stats(f, &c, 1, NULL);
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 8), 1);
    cpw_flink_cp d = cp_of(7, CPW_FLINK_IN_PROGRESS, 2);
    d.num_acked = 2; /* an older cache: the sink still shows 0 here */
    feed_details(f, d, 2, 0);
    cpw_flink_subtask sub = {.index = 0, .completed = true, .ack_ts = T0 + 7040, .state_size = 300,
                             .sync = 3, .async = 20, .align_duration = 5, .start_delay = 2};
    cpw_flink_task_detail td = {.task = {.id = 7, .num_subtasks = 1, .num_acked = 1},
                                .n_subtasks = 1, .subtasks = &sub};
    td.checkpointed_size = td.state_size = td.e2e = td.sync = td.async = td.align_buffered =
        td.align_processed = td.align_persisted = td.align_duration = td.start_delay =
            cpw_flink_stat_empty();
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_write_task_detail(&b, &td);
    feed(f, "/jobs/" JID "/checkpoints/details/7/subtasks/" V1, 200, &b);
    cpw_buf_free(&b);
    CPT_EQ_INT(s.m->st->inflight[0].acks, 3);
    int sink_sub = cpw_state_sub_index(s.m->st, 1, 0);
    CPT_EQ_INT(s.m->st->inflight[0].subs[sink_sub].async_us, 20000);
    CPT_EQ_INT(s.m->st->inflight[0].subs[sink_sub].alignment_us, 5000);
    /* completed */
    c = cp_of(7, CPW_FLINK_COMPLETED, 3);
    feed_stats(f, &c, 1, NULL);
    CPT_EQ_INT(s.m->st->n_inflight, 0);
    const cpw_cp *h = cpw_state_history(s.m->st, 0);
    CPT_EQ_INT(h->id, 7);
    CPT_EQ_INT(h->status, CPW_CP_COMPLETED);
    CPT_EQ_INT(h->acks, 3);
    CPT_EQ_INT(h->duration_us, 40000);
    CPT_EQ_INT(h->state_size, 900);
    CPT_EQ_INT(s.by_type[CPW_EV_ACK], 3); /* each subtask acknowledged once */
    CPT_ASSERT(s.seq_ok);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

CPT_TEST(failed_by_expiry_evicted_and_failover)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    cpw_flink_cp h[2] = {cp_of(9, CPW_FLINK_IN_PROGRESS, 0), cp_of(8, CPW_FLINK_IN_PROGRESS, 0)};
    feed_stats(f, h, 2, NULL);
    CPT_EQ_INT(s.m->st->n_inflight, 2);
    /* 8 expires */
    h[1] = cp_of(8, CPW_FLINK_FAILED, 0);
    feed_stats(f, h, 2, NULL);
    const cpw_cp *x = cpw_state_history(s.m->st, 0);
    CPT_EQ_INT(x->id, 8);
    CPT_EQ_INT(x->status, CPW_CP_FAILED);
    CPT_EQ_INT(x->reason, CPW_FAIL_EXPIRED);
    CPT_EQ_STR(x->message, "Checkpoint expired before completing.");
    /* 9 left Flink's history: its details answer 404 */
    const char *nf = "{\"errors\":[\"Could not find checkpointing statistics for checkpoint 9.\"]}";
    char err[300];
    cpt_flink_feed_body(f, "/jobs/" JID "/checkpoints/details/9", 404, nf, strlen(nf), 1, err,
                        sizeof err);
    CPT_EQ_INT(s.m->st->n_inflight, 0);
    CPT_EQ_INT(cpw_state_history(s.m->st, 0)->id, 9);
    CPT_EQ_INT(cpw_state_history(s.m->st, 0)->status, CPW_CP_FAILED);
    /* a JobManager failover: history starts empty while 10 was in flight */
    h[0] = cp_of(10, CPW_FLINK_IN_PROGRESS, 0);
    feed_stats(f, h, 1, NULL);
    CPT_EQ_INT(s.m->st->n_inflight, 1);
    feed_stats(f, NULL, 0, NULL);
    CPT_EQ_INT(s.m->st->n_inflight, 0);
    CPT_EQ_INT(cpw_state_history(s.m->st, 0)->id, 10);
    /* cptop keeps what Flink forgot */
    CPT_EQ_INT(s.m->st->n_history, 3);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

CPT_TEST(a_restore_is_followed)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    cpw_flink_cp c = cp_of(5, CPW_FLINK_COMPLETED, 3);
    feed_stats(f, &c, 1, NULL);
    cpw_flink_restored r = {.id = 5, .restore_ts = T0 + 9000};
    feed_stats(f, &c, 1, &r);
    CPT_EQ_INT(s.by_type[CPW_EV_RESTORED], 1);
    CPT_EQ_INT(s.m->st->restored_from, 5);
    feed_stats(f, &c, 1, &r); /* the same restore again: once */
    CPT_EQ_INT(s.by_type[CPW_EV_RESTORED], 1);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

/* A restore ends what was in flight: each such checkpoint gets its end as
 * an event before restored (as a job reports them), never a silent close
 * in the fold that a reader of the events would miss: Flink's own end when
 * the history lists it, else failed by the restart (a JobManager failover:
 * the new history is empty, ids go on). */
CPT_TEST(a_restore_ends_what_was_in_flight_with_events)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    cpw_flink_cp h[2] = {cp_of(6, CPW_FLINK_IN_PROGRESS, 0), cp_of(5, CPW_FLINK_COMPLETED, 3)};
    feed_stats(f, h, 2, NULL);
    /* 5 ended before the first poll: its end waits for its details and
     * subtasks, which the cluster answers */
    answer_all(f, h[1]);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 1);
    CPT_EQ_INT(s.m->st->n_inflight, 1);
    /* a task failure: Flink restored 5, and lists 6 as failed with its reason */
    h[0] = cp_of(6, CPW_FLINK_FAILED, 0);
    h[0].failure_message = (char *)"Checkpoint was declined (task failure)";
    cpw_flink_restored r = {.id = 5, .restore_ts = T0 + 6500};
    feed_stats(f, h, 2, &r);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_FAILED], 1);
    CPT_EQ_INT(s.by_type[CPW_EV_RESTORED], 1);
    const cpw_cp *x = cpw_state_history(s.m->st, 0);
    CPT_EQ_INT(x->id, 6);
    CPT_EQ_STR(x->message, "Checkpoint was declined (task failure)");
    /* 7 in flight, then the JobManager fails over: an empty history, a
     * newer restore (of 5), 7 never listed again */
    cpw_flink_cp g[3] = {cp_of(7, CPW_FLINK_IN_PROGRESS, 1), h[0], h[1]};
    feed_stats(f, g, 3, &r);
    CPT_EQ_INT(s.m->st->n_inflight, 1);
    cpw_flink_restored r2 = {.id = 5, .restore_ts = T0 + 7900};
    feed_stats(f, NULL, 0, &r2);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_FAILED], 2); /* 7's end is an event */
    CPT_EQ_INT(s.by_type[CPW_EV_RESTORED], 2);
    CPT_EQ_INT(s.m->st->n_inflight, 0);
    x = cpw_state_history(s.m->st, 0);
    CPT_EQ_INT(x->id, 7);
    CPT_EQ_INT(x->status, CPW_CP_FAILED);
    CPT_EQ_INT(x->reason, CPW_FAIL_TASK_FAILURE);
    CPT_ASSERT(strstr(x->message, "restarted (from checkpoint 5)") != NULL);
    /* ids go on after the failover; nothing is ended twice */
    cpw_flink_cp n = cp_of(8, CPW_FLINK_COMPLETED, 3);
    feed_stats(f, &n, 1, &r2);
    answer_all(f, n);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 2);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_FAILED], 2);
    CPT_EQ_INT(s.m->st->n_history, 4);
    CPT_ASSERT(s.seq_ok);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

CPT_TEST(garbage_is_an_error_never_a_change)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    int hellos = s.hellos;
    const char *bad[] = {"", "{", "[]", "{\"history\":7}", "{\"counts\":\"x\"}", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[300];
        cpt_flink_feed_body(f, "/jobs/" JID "/checkpoints", 200, bad[i], strlen(bad[i]), 1, err,
                            sizeof err);
        CPT_ASSERTF(err[0], "'%s' was accepted", bad[i]);
        cpt_flink_feed_body(f, "/jobs/" JID, 200, bad[i], strlen(bad[i]), 1, err, sizeof err);
        CPT_ASSERT(err[0]);
    }
    char err[300];
    cpt_flink_feed_body(f, "/jobs/" JID "/checkpoints", 500, "oops", 4, 1, err, sizeof err);
    CPT_ASSERT(strstr(err, "HTTP 500") != NULL);
    CPT_EQ_INT(s.hellos, hellos);
    CPT_EQ_INT(s.m->st->n_history, 0);
    /* another job's answer is not ours */
    cpt_flink_feed_body(f, "/jobs/ffffffffffffffffffffffffffffffff/checkpoints", 200, "{}", 2, 1,
                        err, sizeof err);
    CPT_EQ_STR(err, "");
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

CPT_TEST(failure_messages_map_to_reasons)
{
    CPT_EQ_INT(cpt_flink_failure_reason("Checkpoint expired before completing."), CPW_FAIL_EXPIRED);
    CPT_EQ_INT(cpt_flink_failure_reason("Checkpoint was declined."), CPW_FAIL_DECLINED);
    CPT_EQ_INT(cpt_flink_failure_reason("Checkpoint has been subsumed."), CPW_FAIL_SUBSUMED);
    CPT_EQ_INT(cpt_flink_failure_reason("Not all required tasks are currently running."),
               CPW_FAIL_NOT_ALL_RUNNING);
    CPT_EQ_INT(cpt_flink_failure_reason(NULL), CPW_FAIL_ASYNC_EXCEPTION);
}

CPT_TEST(a_copy_is_what_a_resync_installs)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    cpw_flink_cp h[2] = {cp_of(2, CPW_FLINK_COMPLETED, 3), cp_of(1, CPW_FLINK_COMPLETED, 3)};
    feed_stats(f, h, 2, NULL);
    /* both ended between polls: they end once their subtasks answered */
    CPT_EQ_INT(answer_subtasks(f), 4);
    cpw_state *c = cpt_flink_feed_copy(f, -1);
    CPT_ASSERT(c != NULL);
    CPT_EQ_INT(c->n_history, 2);
    CPT_EQ_INT(c->hello.n_ops, 2);
    CPT_EQ_STR(c->job, JID);
    cpt_model *m = cpt_model_new(NULL);
    cpt_model_state_sent(m);
    cpt_model_on_state(m, c, 1);
    CPT_EQ_INT(m->st->n_history, 2);
    CPT_EQ_INT(cpw_state_history(m->st, 0)->id, 2);
    cpt_model_free(m);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

CPT_TEST(a_checkpoint_ended_between_polls_gets_its_real_figures_before_its_end)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    /* first seen completed: triggered, its end held for its subtasks */
    cpw_flink_cp c = cp_of(35, CPW_FLINK_COMPLETED, 3);
    feed_stats(f, &c, 1, NULL);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_TRIGGERED], 1);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 0);
    char paths[8][160];
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 8), 2); /* each vertex's subtasks, no details */
    CPT_EQ_STR(paths[0], "/jobs/" JID "/checkpoints/details/35/subtasks/" V0);
    CPT_EQ_STR(paths[1], "/jobs/" JID "/checkpoints/details/35/subtasks/" V1);
    feed_stats(f, &c, 1, NULL); /* the same body again: still held, nothing twice */
    CPT_EQ_INT(s.by_type[CPW_EV_CP_TRIGGERED], 1);
    feed_subtasks(f, 35, V0);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 0); /* the sink has not answered */
    feed_subtasks(f, 35, V1);
    CPT_EQ_INT(s.by_type[CPW_EV_ACK], 3);
    CPT_EQ_INT(s.real_acks, 3);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 1);
    CPT_EQ_INT(s.late_acks, 0);
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 8), 0); /* asked once */
    /* the model (and so --json's and the screens' state) has the figures */
    const cpw_cp *h = cpw_state_history(s.m->st, 0);
    CPT_EQ_INT(h->id, 35);
    CPT_EQ_INT(h->status, CPW_CP_COMPLETED);
    CPT_EQ_INT(h->acks, 3);
    CPT_EQ_INT(h->state_size, 900); /* the end's figures, as Flink gave them */
    CPT_EQ_INT(h->duration_us, 40000);
    CPT_ASSERT(h->subs != NULL);
    int k = cpw_state_sub_index(s.m->st, 0, 1);
    CPT_EQ_INT(h->subs[k].state_size, 101);
    CPT_EQ_INT(h->subs[k].sync_us, 3000);
    CPT_EQ_INT(h->subs[k].async_us, 20000);
    CPT_EQ_INT(h->subs[k].start_delay_us, 2000);
    CPT_ASSERT(s.seq_ok);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

CPT_TEST(one_in_flight_that_ended_between_polls_is_held_for_its_missing_vertex)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    cpw_flink_cp c = cp_of(7, CPW_FLINK_IN_PROGRESS, 0);
    feed_stats(f, &c, 1, NULL);
    feed_details(f, cp_of(7, CPW_FLINK_IN_PROGRESS, 2), 2, 0); /* the sources acked */
    feed_subtasks(f, 7, V0);
    c = cp_of(7, CPW_FLINK_COMPLETED, 3);
    feed_stats(f, &c, 1, NULL);
    char paths[8][160];
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 8), 1); /* only the sink's */
    CPT_EQ_STR(paths[0], "/jobs/" JID "/checkpoints/details/7/subtasks/" V1);
    feed_subtasks(f, 7, V1);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 1);
    CPT_EQ_INT(s.by_type[CPW_EV_ACK], 3);
    CPT_EQ_INT(s.late_acks, 0);
    const cpw_cp *h = cpw_state_history(s.m->st, 0);
    CPT_EQ_INT(h->subs[cpw_state_sub_index(s.m->st, 1, 0)].async_us, 20000);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

CPT_TEST(a_backlog_of_ends_asks_for_the_newest_two_only_and_a_hold_is_bounded)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    /* ten ended while cptop was away (newest first) */
    cpw_flink_cp h[10];
    for (int i = 0; i < 10; i++)
        h[i] = cp_of(20 - i, CPW_FLINK_COMPLETED, 3);
    feed_stats(f, h, 10, NULL);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 8); /* the older ones end at once */
    char paths[16][160];
    int n = cpt_flink_feed_wanted(f, paths, 16);
    CPT_EQ_INT(n, 4); /* 2 checkpoints x 2 vertices, nothing for the other 8 */
    for (int i = 0; i < n; i++)
        CPT_ASSERTF(strstr(paths[i], "/details/20/") || strstr(paths[i], "/details/19/"), "%s",
                    paths[i]);
    /* nobody answers: a body 2 s later ends them with what is known */
    char err[300];
    cpt_flink_feed_body(f, "/config", 200, "{}", 2, 1 + CPT_FF_HOLD_TEST_US, err, sizeof err);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 10);
    CPT_EQ_INT(s.m->st->n_inflight, 0);
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 16), 0);
    CPT_EQ_INT(s.late_acks, 0);
    /* a failure answered instead: a 404 ends it too */
    cpw_flink_cp c = cp_of(21, CPW_FLINK_FAILED, 2);
    feed_stats(f, &c, 1, NULL);
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 16), 2);
    const char *nf = "{\"errors\":[\"Could not find checkpointing statistics.\"]}";
    cpt_flink_feed_body(f, "/jobs/" JID "/checkpoints/details/21/subtasks/" V0, 404, nf,
                        strlen(nf), 2, err, sizeof err);
    feed_subtasks(f, 21, V1);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_FAILED], 1);
    CPT_EQ_INT(cpw_state_history(s.m->st, 0)->reason, CPW_FAIL_EXPIRED);
    CPT_EQ_INT(cpw_state_history(s.m->st, 0)->acks, 1); /* the sink's, before its end */
    CPT_ASSERT(s.seq_ok);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

CPT_TEST(an_opened_checkpoint_without_figures_gets_them_or_says_flink_forgot_it)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    cpw_flink_cp h[4];
    for (int i = 0; i < 4; i++)
        h[i] = cp_of(14 - i, CPW_FLINK_COMPLETED, 3);
    feed_stats(f, h, 4, NULL); /* 11 and 12 end without figures */
    answer_subtasks(f);        /* 13 and 14 end with theirs */
    char paths[16][160], note[200];
    CPT_ASSERT(!cpt_flink_feed_want_detail(f, 14)); /* it has its figures */
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 16), 0);
    uint64_t gen = cpt_flink_feed_filled(f, NULL);
    CPT_ASSERT(cpt_flink_feed_want_detail(f, 12));
    cpt_flink_feed_detail_note(f, 12, note, sizeof note);
    CPT_ASSERT(strstr(note, "asking Flink") != NULL);
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 16), 2);
    int events = s.by_type[CPW_EV_ACK];
    CPT_EQ_INT(answer_subtasks(f), 2);
    CPT_EQ_INT(s.by_type[CPW_EV_ACK], events); /* filled in the state, no late event */
    int64_t id = 0;
    CPT_ASSERT(cpt_flink_feed_filled(f, &id) != gen);
    CPT_EQ_INT(id, 12);
    const cpw_state *st = cpt_flink_feed_state(f);
    const cpw_cp *x = cpw_state_history(st, 2);
    CPT_EQ_INT(x->id, 12);
    CPT_EQ_INT(x->subs[cpw_state_sub_index(st, 0, 1)].async_us, 20000);
    cpt_flink_feed_detail_note(f, 12, note, sizeof note);
    CPT_EQ_STR(note, "");
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 16), 0); /* once */
    /* 11 left Flink's history: a 404, said on its detail screen */
    CPT_ASSERT(cpt_flink_feed_want_detail(f, 11));
    const char *nf = "{\"errors\":[\"Could not find checkpointing statistics.\"]}";
    char err[300];
    cpt_flink_feed_body(f, "/jobs/" JID "/checkpoints/details/11/subtasks/" V0, 404, nf,
                        strlen(nf), 2, err, sizeof err);
    cpt_flink_feed_detail_note(f, 11, note, sizeof note);
    CPT_ASSERT(strstr(note, "left Flink's checkpoint history") != NULL);
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 16), 0);
    CPT_ASSERT(!cpt_flink_feed_want_detail(f, 11)); /* not asked again */
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

CPT_TEST(a_stale_answer_is_not_asked_again_until_flink_counts_more)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    cpw_flink_cp c = cp_of(7, CPW_FLINK_IN_PROGRESS, 2);
    feed_stats(f, &c, 1, NULL);
    feed_details(f, cp_of(7, CPW_FLINK_IN_PROGRESS, 2), 2, 0);
    char paths[8][160];
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 8), 1); /* the sources' subtasks */
    /* Flink's cache answers an older view: one of the two completed */
    feed_subtasks_done(f, 7, V0, 1);
    CPT_EQ_INT(s.m->st->inflight[0].acks, 1);
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 8), 0); /* not again at once */
    feed_stats(f, &c, 1, NULL);                        /* the same count: still not */
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 8), 0);
    c = cp_of(7, CPW_FLINK_IN_PROGRESS, 3); /* Flink counts more: details again */
    feed_stats(f, &c, 1, NULL);
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 8), 1);
    CPT_EQ_STR(paths[0], "/jobs/" JID "/checkpoints/details/7");
    feed_details(f, cp_of(7, CPW_FLINK_IN_PROGRESS, 3), 2, 1);
    CPT_EQ_INT(cpt_flink_feed_wanted(f, paths, 8), 1); /* the sink's rose */
    CPT_EQ_STR(paths[0], "/jobs/" JID "/checkpoints/details/7/subtasks/" V1);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

/* A held end is counted once: Flink's counts already hold it when the
 * body shows it finished, and the fold of its late end adds nothing. */
CPT_TEST(a_held_end_is_counted_once)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    cpw_flink_cp h[1] = {cp_of(4, CPW_FLINK_COMPLETED, 3)};
    cpw_flink_stats st = {.counts = {.total = 4, .completed = 4}, .has_checkpointed_size = true,
                          .n_history = 1, .history = h};
    st.checkpointed_size = st.state_size = st.e2e = st.alignment_buffered = st.processed =
        st.persisted = cpw_flink_stat_empty();
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_write_stats(&b, &st);
    feed(f, "/jobs/" JID "/checkpoints", 200, &b);
    cpw_buf_free(&b);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 0); /* held for its subtasks */
    /* a copy taken meanwhile (a resync, a dashboard's first state) has it
     * in flight, so not among the completed: its end will count it */
    cpw_state *c = cpt_flink_feed_copy(f, -1);
    CPT_ASSERT(c && cpw_state_find_inflight(c, 4));
    CPT_EQ_INT(c->counts.completed, 3);
    cpw_state_free(c);
    answer_all(f, h[0]);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 1);
    CPT_EQ_INT(cpt_flink_feed_state(f)->counts.completed, 4);
    CPT_EQ_INT(cpt_flink_feed_state(f)->counts.total, 4);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}

/* Flink ends checkpoints in id order, and the ends are told in that order
 * whichever hold's subtasks answer first: two first seen completed (both
 * held), the newer's answered first, waits for the older's; one that
 * completes here with every ack while an older is held waits too. ci14:
 * --once showed 6 as newer than 7 when 7's subtasks answered first. */
CPT_TEST(held_ends_are_told_oldest_first_whichever_answers_first)
{
    sink s;
    cpt_flink_feed *f = new_feed(&s);
    feed_job(f);
    cpw_flink_cp h[2] = {cp_of(9, CPW_FLINK_COMPLETED, 3), cp_of(8, CPW_FLINK_COMPLETED, 3)};
    feed_stats(f, h, 2, NULL);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 0); /* both held */
    feed_vertices(f, 9);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 0); /* 9 waits for 8 */
    feed_subtasks(f, 8, V1);
    feed_subtasks(f, 8, V0);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 2);
    CPT_EQ_INT(s.ended[0], 8);
    CPT_EQ_INT(s.ended[1], 9);
    CPT_EQ_INT(s.real_acks, 6); /* each with its subtasks' own figures */
    CPT_EQ_INT(s.late_acks, 0);
    CPT_EQ_INT(cpw_state_history(s.m->st, 0)->id, 9);

    /* 11 held; 12 in flight, all its acks here, completes: after 11 */
    cpw_flink_cp g[2] = {cp_of(12, CPW_FLINK_IN_PROGRESS, 0), cp_of(11, CPW_FLINK_COMPLETED, 3)};
    feed_stats(f, g, 2, NULL);
    feed_details(f, cp_of(12, CPW_FLINK_IN_PROGRESS, 3), 2, 1);
    feed_vertices(f, 12);
    g[0] = cp_of(12, CPW_FLINK_COMPLETED, 3);
    feed_stats(f, g, 2, NULL);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 2); /* 12 waits behind 11 */
    char paths[8][160];
    int n = cpt_flink_feed_wanted(f, paths, 8);
    CPT_EQ_INT(n, 2); /* 11's two vertices; 12 asks nothing more */
    for (int i = 0; i < n; i++)
        CPT_ASSERTF(strstr(paths[i], "/details/11/"), "%s", paths[i]);
    feed_vertices(f, 11);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 4);
    CPT_EQ_INT(s.ended[2], 11);
    CPT_EQ_INT(s.ended[3], 12);
    CPT_EQ_INT(s.late_acks, 0);
    CPT_ASSERT(s.seq_ok);

    /* nobody answers the older: at its bound, both end, in order */
    cpw_flink_cp k[2] = {cp_of(14, CPW_FLINK_COMPLETED, 3), cp_of(13, CPW_FLINK_COMPLETED, 3)};
    feed_stats(f, k, 2, NULL);
    feed_vertices(f, 14);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 4);
    cpt_flink_feed_release(f, false, 1 + CPT_FF_HOLD_TEST_US);
    CPT_EQ_INT(s.by_type[CPW_EV_CP_COMPLETED], 6);
    CPT_EQ_INT(s.ended[4], 13);
    CPT_EQ_INT(s.ended[5], 14);
    cpt_flink_feed_destroy(f);
    cpt_model_free(s.m);
}
