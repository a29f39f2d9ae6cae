/*
 * test_flink_rows.c — the cluster overview's per-job checkpoint figures
 * (tui/cpt_flink_rows.c): which job is asked when, and what each answer
 * (recorded, constructed, an error, garbage) leaves in its row.
 */
#include "cpt_test.h"
#include "cpt_flink_rows.h"
#include "cpw_flink.h"

#define T0 1700000000000LL /* ms */
#define NOW ((int64_t)T0 * 1000)
#define SEC 1000000LL

static const char *jid(int i)
{
    static char b[4][33];
    snprintf(b[i], sizeof b[i], "%032x", 0xa0 + i);
    return b[i];
}

/* A cluster of n jobs; finished ones have an end time. */
static cpw_flink_jobs cluster(cpw_flink_job *j, int n, int finished)
{
    for (int i = 0; i < n; i++) {
        memset(&j[i], 0, sizeof j[i]);
        snprintf(j[i].jid, sizeof j[i].jid, "%s", jid(i));
        snprintf(j[i].name, sizeof j[i].name, "job-%d", i);
        bool fin = i >= n - finished;
        snprintf(j[i].state, sizeof j[i].state, "%s", fin ? "FINISHED" : "RUNNING");
        j[i].start_time = T0 - 3600000;
        j[i].end_time = fin ? T0 - 60000 : -1;
    }
    return (cpw_flink_jobs){.n = n, .jobs = j};
}

static int due(cpt_flink_rows *r, int64_t now, const char *skip, char (*p)[160])
{
    return cpt_flink_rows_due(r, now, 3 * SEC, skip, p, 8);
}

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

static bool answer(cpt_flink_rows *r, int i, int status, const char *body)
{
    char p[160];
    snprintf(p, sizeof p, "/jobs/%s/checkpoints", jid(i));
    return cpt_flink_rows_answer(r, p, status, body, strlen(body), NOW);
}

CPT_TEST(new_jobs_are_asked_spread_over_a_second_then_once_a_period)
{
    cpt_flink_rows *r = cpt_flink_rows_new();
    cpw_flink_job j[3];
    cpw_flink_jobs js = cluster(j, 3, 0);
    cpt_flink_rows_sync(r, &js, 900000, NOW);
    char p[8][160];
    CPT_EQ_INT(due(r, NOW, "", p), 1); /* not three at once */
    CPT_EQ_STR(p[0], "/jobs/000000000000000000000000000000a0/checkpoints");
    CPT_EQ_INT(cpt_flink_rows_next(r, ""), NOW + 300000);
    CPT_EQ_INT(due(r, NOW + 300000, "", p), 1);
    CPT_EQ_INT(due(r, NOW + 600000, "", p), 1);
    CPT_EQ_INT(due(r, NOW + 600000, "", p), 0); /* asked: not again */
    /* each again one period after it was asked */
    CPT_EQ_INT(due(r, NOW + 3 * SEC - 1, "", p), 0);
    CPT_EQ_INT(due(r, NOW + 3 * SEC, "", p), 1);
    CPT_EQ_INT(due(r, NOW + 4 * SEC, "", p), 2);
    /* the watched job is the feed's: never asked here */
    CPT_EQ_INT(due(r, NOW + 10 * SEC, jid(1), p), 2);
    CPT_ASSERT(!strstr(p[0], jid(1)) && !strstr(p[1], jid(1)));
    CPT_EQ_INT(cpt_flink_rows_unheard(r, ""), 3);
    CPT_EQ_INT(cpt_flink_rows_unheard(r, jid(1)), 2);
    cpt_flink_rows_destroy(r);
}

CPT_TEST(a_finished_job_is_asked_once_a_state_change_at_once)
{
    cpt_flink_rows *r = cpt_flink_rows_new();
    cpw_flink_job j[2];
    cpw_flink_jobs js = cluster(j, 2, 1);
    cpt_flink_rows_sync(r, &js, 0, NOW);
    char p[8][160];
    CPT_EQ_INT(due(r, NOW, "", p), 2);
    CPT_EQ_INT(due(r, NOW + 60 * SEC, "", p), 1); /* the running one only */
    CPT_ASSERT(strstr(p[0], jid(0)) != NULL);
    CPT_EQ_INT(cpt_flink_rows_next(r, jid(0)), INT64_MAX);
    /* the running one fails: asked at the next turn, not a period later */
    snprintf(j[0].state, sizeof j[0].state, "RESTARTING");
    cpt_flink_rows_sync(r, &js, 0, NOW + 61 * SEC);
    CPT_EQ_INT(due(r, NOW + 61 * SEC, "", p), 1);
    /* a job no longer listed is forgotten; its late answer changes nothing */
    js.n = 1;
    cpt_flink_rows_sync(r, &js, 0, NOW + 62 * SEC);
    CPT_ASSERT(!answer(r, 1, 200, "{}"));
    CPT_ASSERT(cpt_flink_rows_get(r, jid(1)) == NULL);
    cpt_flink_rows_destroy(r);
}

CPT_TEST(a_recorded_body_gives_the_last_checkpoint_and_counts)
{
    cpt_flink_rows *r = cpt_flink_rows_new();
    cpw_flink_job j[1];
    cpw_flink_jobs js = cluster(j, 1, 0);
    cpt_flink_rows_sync(r, &js, 0, NOW);
    CPT_ASSERT(cpt_flink_rows_get(r, jid(0)) == NULL); /* not heard yet */
    size_t len;
    char *body = slurp("checkpoints-flink1.12-production.json", &len);
    char p[160];
    snprintf(p, sizeof p, "/v1/jobs/%s/checkpoints", jid(0));
    CPT_ASSERT(cpt_flink_rows_answer(r, p, 200, body, len, NOW));
    const cpt_job_cp *cp = cpt_flink_rows_get(r, jid(0));
    CPT_ASSERT(cp && cp->known && !cp->note[0]);
    CPT_EQ_INT(cp->last_id, 1914);
    CPT_EQ_INT(cp->last_end_us, 1658138497372LL * 1000);
    CPT_EQ_INT(cp->last_dur_us, 89000);
    CPT_EQ_INT(cp->failed, 0);
    CPT_EQ_INT(cp->inflight, 0);
    CPT_EQ_INT(cpt_flink_rows_unheard(r, ""), 0);
    /* the same body again (Flink's cache): no change to draw */
    CPT_ASSERT(!cpt_flink_rows_answer(r, p, 200, body, len, NOW + SEC));
    free(body);
    cpt_flink_rows_destroy(r);
}

CPT_TEST(in_flight_failed_and_the_oldest_in_flight)
{
    cpt_flink_rows *r = cpt_flink_rows_new();
    cpw_flink_job j[1];
    cpw_flink_jobs js = cluster(j, 1, 0);
    cpt_flink_rows_sync(r, &js, 0, NOW);
    cpw_flink_cp h[4];
    memset(h, 0, sizeof h);
    for (int i = 0; i < 4; i++) {
        int64_t id = 9 - i; /* newest first: 9, 8 in flight; 7 completed; 6 failed */
        cpw_flink_status st = i < 2 ? CPW_FLINK_IN_PROGRESS
                                    : i == 2 ? CPW_FLINK_COMPLETED : CPW_FLINK_FAILED;
        h[i] = (cpw_flink_cp){.cls = st, .id = id, .status = st, .trigger_ts = T0 + id * 1000,
                              .latest_ack_ts = T0 + id * 1000 + 700, .e2e = 700,
                              .num_subtasks = 4, .num_acked = 2,
                              .checkpoint_type = "CHECKPOINT"};
        if (st == CPW_FLINK_FAILED)
            h[i].failure_ts = T0 + id * 1000 + 900;
    }
    cpw_flink_stats s = {.counts = {.total = 10, .in_progress = 2, .completed = 5, .failed = 3},
                         .latest_completed = &h[2], .latest_failed = &h[3], .n_history = 4,
                         .history = h};
    s.checkpointed_size = s.state_size = s.e2e = s.alignment_buffered = s.processed =
        s.persisted = cpw_flink_stat_empty();
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_write_stats(&b, &s);
    CPT_ASSERT(answer(r, 0, 200, b.data));
    cpw_buf_free(&b);
    const cpt_job_cp *cp = cpt_flink_rows_get(r, jid(0));
    CPT_ASSERT(cp != NULL);
    CPT_EQ_INT(cp->last_id, 7);
    CPT_EQ_INT(cp->last_end_us, (T0 + 7700) * 1000);
    CPT_EQ_INT(cp->last_dur_us, 700000);
    CPT_EQ_INT(cp->failed, 3);
    CPT_EQ_INT(cp->inflight, 2);
    CPT_EQ_INT(cp->inflight_since_us, (T0 + 8000) * 1000); /* #8, the older one */
    cpt_flink_rows_destroy(r);
}

CPT_TEST(errors_garbage_and_a_job_without_checkpointing_say_so)
{
    cpt_flink_rows *r = cpt_flink_rows_new();
    cpw_flink_job j[1];
    cpw_flink_jobs js = cluster(j, 1, 0);
    cpt_flink_rows_sync(r, &js, 0, NOW);
    char p[8][160];
    CPT_EQ_INT(due(r, NOW, "", p), 1);
    CPT_ASSERT(answer(r, 0, 500, "{\"errors\":[\"Internal server error.\"]}"));
    CPT_EQ_STR(cpt_flink_rows_get(r, jid(0))->note, "HTTP 500");
    CPT_ASSERT(answer(r, 0, 200, "{\"counts\": [1,2"));
    CPT_EQ_STR(cpt_flink_rows_get(r, jid(0))->note, "bad answer");
    /* wrong types: as bad, so nothing to draw again */
    CPT_ASSERT(!answer(r, 0, 200, "{\"counts\":\"lots\",\"history\":{}}"));
    CPT_EQ_STR(cpt_flink_rows_get(r, jid(0))->note, "bad answer");
    CPT_ASSERT(cpt_flink_rows_answer(r, p[0], 0, "timed out", 9, NOW));
    CPT_EQ_STR(cpt_flink_rows_get(r, jid(0))->note, "no answer");
    /* Flink's words for a job that does not checkpoint: asked a minute on */
    CPT_ASSERT(answer(r, 0, 404,
                      "{\"errors\":[\"Checkpointing was not enabled for job 00a0.\"]}"));
    CPT_EQ_STR(cpt_flink_rows_get(r, jid(0))->note, "checkpointing off");
    CPT_EQ_INT(due(r, NOW + 30 * SEC, "", p), 0);
    CPT_EQ_INT(due(r, NOW + 60 * SEC, "", p), 1);
    /* a path not its kind is not its answer */
    CPT_ASSERT(!cpt_flink_rows_answer(r, "/jobs/overview", 200, "{}", 2, NOW));
    cpt_flink_rows_destroy(r);
}

CPT_TEST(resuming_spreads_the_overdue_ones)
{
    cpt_flink_rows *r = cpt_flink_rows_new();
    cpw_flink_job j[4];
    cpw_flink_jobs js = cluster(j, 4, 0);
    cpt_flink_rows_sync(r, &js, 0, NOW);
    char p[8][160];
    CPT_EQ_INT(due(r, NOW, "", p), 4);
    /* not wanted for a minute, then wanted again */
    cpt_flink_rows_resume(r, SEC, NOW + 60 * SEC);
    CPT_EQ_INT(due(r, NOW + 60 * SEC, "", p), 1);
    CPT_EQ_INT(due(r, NOW + 60 * SEC + SEC / 2, "", p), 2);
    CPT_EQ_INT(due(r, NOW + 61 * SEC, "", p), 1);
    cpt_flink_rows_destroy(r);
}
