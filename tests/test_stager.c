/* test_stager.c — phase 1 on its own thread, against a SQLite sink: batches
 * staged in order, and what misses its checkpoint carried into the next. */
#include <pthread.h>
#include <time.h>

#include "cpd_stager.h"
#include "cpt_test.h"

typedef struct outcome {
    int64_t cp, n, bytes, delay;
    bool ok;
} outcome;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static outcome outs[64];
static int n_outs;
static int64_t failed_upto; /* checkpoints up to here count as failed */

static bool h_failed(void *o, int64_t cp)
{
    (void)o;
    pthread_mutex_lock(&mu);
    bool f = cp <= failed_upto;
    pthread_mutex_unlock(&mu);
    return f;
}

/* Attachments: a malloc'd checkpoint id; done records it, release counts. */
static int64_t attached[64];
static int n_released;

static void *attach(int64_t cp)
{
    int64_t *a = malloc(sizeof *a);
    *a = cp;
    return a;
}

static void h_done(void *o, int64_t cp, bool ok, const char *err, int64_t n, int64_t bytes,
                   int64_t duration_us, int64_t start_delay_us, void *att)
{
    (void)o;
    (void)err;
    CPT_ASSERT(duration_us >= 0);
    pthread_mutex_lock(&mu);
    attached[n_outs] = att ? *(int64_t *)att : 0;
    outs[n_outs++] = (outcome){cp, n, bytes, start_delay_us, ok};
    pthread_mutex_unlock(&mu);
    free(att);
}

static void h_release(void *o, void *att)
{
    (void)o;
    pthread_mutex_lock(&mu);
    n_released++;
    pthread_mutex_unlock(&mu);
    free(att);
}

static bool wait_outcomes(int n)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&mu);
        int have = n_outs;
        pthread_mutex_unlock(&mu);
        if (have >= n)
            return true;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return false;
}

static char url[512];

static cpd_sink *open_sink(void)
{
    snprintf(url, sizeof url, "sqlite:%s/s.db", cpt_tmpdir());
    char err[256];
    cpd_sink *s = cpd_sink_open(url, err, sizeof err);
    CPT_ASSERTF(s, "%s", err);
    return s;
}

static cpd_stage_batch *rows(const char *prefix, int n, int64_t value)
{
    cpd_stage_batch *b = cpd_stage_batch_new();
    for (int i = 0; i < n; i++) {
        cpd_row r = {.count = value, .sum_cents = value, .min_cents = value, .max_cents = value};
        snprintf(r.account, sizeof r.account, "%s%d", prefix, i);
        CPT_ASSERT(cpd_stage_batch_add_row(b, &r));
    }
    return b;
}

static int64_t sum_of_counts;
static int scan_cb(void *o, const cpd_row *r)
{
    (void)o;
    sum_of_counts += r->count;
    return 0;
}

CPT_TEST(batches_are_staged_in_order_and_a_failed_checkpoints_rows_go_with_the_next)
{
    n_outs = 0;
    failed_upto = 0;
    cpd_sink *check = open_sink();
    cpd_stager_hooks h = {NULL, h_failed, h_done, h_release};
    cpd_stager *s = cpd_stager_new(open_sink(), 0, false, &h);
    CPT_ASSERT(s);
    n_released = 0;
    cpd_stager_submit(s, 1, rows("a", 10, 1), 111, attach(1));
    CPT_ASSERT(wait_outcomes(1));
    CPT_EQ_INT(outs[0].cp, 1);
    CPT_ASSERT(outs[0].ok);
    CPT_EQ_INT(outs[0].n, 10);
    CPT_EQ_INT(outs[0].bytes, 10 * (int64_t)sizeof(cpd_row));
    CPT_EQ_INT(outs[0].delay, 111);
    CPT_EQ_INT(attached[0], 1);
    /* checkpoint 2 fails before its turn: its rows are staged under 3 */
    pthread_mutex_lock(&mu);
    failed_upto = 2;
    pthread_mutex_unlock(&mu);
    cpd_stager_submit(s, 2, rows("b", 5, 2), 0, attach(2));
    cpd_stager_submit(s, 3, rows("c", 4, 3), 333, attach(3));
    CPT_ASSERT(wait_outcomes(2));
    CPT_EQ_INT(outs[1].cp, 3);
    CPT_EQ_INT(outs[1].n, 9);
    CPT_EQ_INT(outs[1].delay, 333);
    CPT_EQ_INT(attached[1], 3); /* 2's attachment went with 2 */
    CPT_EQ_INT(n_released, 1);
    char err[256];
    cpd_offset off = {0, 1};
    CPT_EQ_INT(cpd_sink_commit(check, 3, &off, 1, err, sizeof err), 0);
    sum_of_counts = 0;
    CPT_EQ_INT(cpd_sink_scan(check, scan_cb, NULL, err, sizeof err), 0);
    CPT_EQ_INT(sum_of_counts, 10 * 1 + 5 * 2 + 4 * 3); /* nothing dropped */
    cpd_stager_destroy(s);
    cpd_sink_close(check);
}

CPT_TEST(dead_letters_are_staged_with_their_raw_bytes)
{
    n_outs = 0;
    failed_upto = 0;
    cpd_sink *check = open_sink();
    cpd_stager_hooks h = {NULL, h_failed, h_done, h_release};
    cpd_stager *s = cpd_stager_new(open_sink(), 1, true, &h);
    cpd_stage_batch *b = cpd_stage_batch_new();
    char raw[CPD_RAW_MAX + 50];
    memset(raw, 'x', sizeof raw);
    for (int i = 0; i < 100; i++) /* grows its arrays several times */
        CPT_ASSERT(cpd_stage_batch_add_dead(b, 0, i, "not JSON", raw, i % 2 ? sizeof raw : 7));
    CPT_EQ_INT(cpd_stage_batch_count(b), 100);
    cpd_stager_submit(s, 1, b, 0, NULL);
    CPT_ASSERT(wait_outcomes(1));
    CPT_ASSERT(outs[0].ok);
    CPT_EQ_INT(outs[0].n, 100);
    char err[256];
    cpd_offset off = {0, 100};
    CPT_EQ_INT(cpd_sink_commit(check, 1, &off, 1, err, sizeof err), 0);
    CPT_EQ_INT(cpd_sink_dead_count(check), 100);
    cpd_stager_destroy(s);
    cpd_sink_close(check);
}

CPT_TEST(destroy_drops_what_is_queued)
{
    n_outs = 0;
    n_released = 0;
    pthread_mutex_lock(&mu);
    failed_upto = 1000; /* nothing is staged: everything waits */
    pthread_mutex_unlock(&mu);
    cpd_stager_hooks h = {NULL, h_failed, h_done, h_release};
    cpd_stager *s = cpd_stager_new(open_sink(), 0, false, &h);
    for (int cp = 1; cp <= 20; cp++)
        cpd_stager_submit(s, cp, rows("q", 50, cp), 0, attach(cp));
    cpd_stager_destroy(s); /* no leak, no outcome for them (ASan checks the first) */
    CPT_EQ_INT(n_outs, 0);
    CPT_EQ_INT(n_released, 20); /* every attachment given back */
}
