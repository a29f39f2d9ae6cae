/* test_coord.c — the checkpoint coordinator as a unit, on a fake clock. */
#include "cpd_coord.h"
#include "cpt_test.h"

/* Everything the coordinator asked of the job, in order. */
typedef struct rec {
    char what;              /* 'T'rigger, 'M'etadata write, 'C'ompleted, 'F'ailed, 'J'ob failed */
    int64_t id, at, extra;  /* extra: kind / duration / reason / consecutive */
} rec;

static rec log_[256];
static int n_log;
static cpd_coord_fin fin_result = CPD_COORD_FIN_OK;

static void on_trigger(void *o, int64_t id, cpa_trigger_kind kind, int64_t now)
{
    (void)o;
    log_[n_log++] = (rec){'T', id, now, kind};
}
static cpd_coord_fin on_finalize(void *o, int64_t id, int64_t now)
{
    (void)o;
    log_[n_log++] = (rec){'M', id, now, fin_result}; /* the _metadata write starts */
    return fin_result;
}
static void on_completed(void *o, int64_t id, int64_t dur, int64_t now)
{
    (void)o;
    log_[n_log++] = (rec){'C', id, now, dur};
}
static void on_failed(void *o, int64_t id, cpa_failure_reason r, const char *msg, int64_t now)
{
    (void)o;
    (void)msg;
    log_[n_log++] = (rec){'F', id, now, r};
}
static void on_fail_job(void *o, int n, int64_t now)
{
    (void)o;
    log_[n_log++] = (rec){'J', 0, now, n};
}

static const cpd_coord_ops ops = {on_trigger, on_finalize, on_completed, on_failed, on_fail_job};

static cpd_coord *make(int64_t interval, int64_t timeout, int64_t min_pause, int max_conc,
                       int tolerable, int tasks)
{
    n_log = 0;
    fin_result = CPD_COORD_FIN_OK;
    cpd_coord_cfg cfg = {interval, timeout, min_pause, max_conc, tolerable, tasks};
    cpd_coord *c = cpd_coord_new(&cfg, &ops, NULL, 0);
    CPT_ASSERT(c);
    return c;
}

/* advance the fake clock ms by ms from `from` to `to`, ticking each step */
static void run(cpd_coord *c, int64_t from, int64_t to)
{
    for (int64_t t = from; t <= to; t++)
        cpd_coord_tick(c, t);
}

static void ack_all(cpd_coord *c, int64_t id, int tasks, int64_t now)
{
    for (int t = 0; t < tasks; t++)
        CPT_EQ_INT(cpd_coord_ack(c, id, t, now), CPD_COORD_OK);
}

static int count(char what)
{
    int n = 0;
    for (int i = 0; i < n_log; i++)
        n += log_[i].what == what;
    return n;
}

CPT_TEST(bad_config_is_refused)
{
    cpd_coord_cfg bad[] = {
        {-1, 1000, 0, 1, 0, 1}, {1000, 0, 0, 1, 0, 1}, {1000, 1000, -1, 1, 0, 1},
        {1000, 1000, 0, 0, 0, 1}, {1000, 1000, 0, CPD_MAX_INFLIGHT + 1, 0, 1},
        {1000, 1000, 0, 1, -1, 1}, {1000, 1000, 0, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CPT_ASSERTF(!cpd_coord_new(&bad[i], &ops, NULL, 0), "config %zu accepted", i);
}

CPT_TEST(periodic_triggers_are_spaced_by_the_interval)
{
    cpd_coord *c = make(1000, 60000, 0, 1, 0, 2);
    CPT_EQ_INT(cpd_coord_next_deadline(c), 1000);
    run(c, 0, 999);
    CPT_EQ_INT(count('T'), 0);
    for (int k = 1; k <= 5; k++) {
        cpd_coord_tick(c, k * 1000);
        CPT_EQ_INT(count('T'), k);
        CPT_EQ_INT(log_[n_log - 1].at, k * 1000);
        CPT_EQ_INT(log_[n_log - 1].id, k);
        CPT_EQ_INT(log_[n_log - 1].extra, CPA_TRIGGER_PERIODIC);
        ack_all(c, k, 2, k * 1000 + 10);
        CPT_EQ_INT(log_[n_log - 1].what, 'C');
        CPT_EQ_INT(log_[n_log - 1].extra, 10); /* duration */
        run(c, k * 1000 + 10, k * 1000 + 999);
        CPT_EQ_INT(count('T'), k); /* nothing before the next interval */
    }
    CPT_EQ_INT(cpd_coord_latest_completed(c), 5);
    cpd_coord_free(c);
}

CPT_TEST(max_concurrent_holds_back_triggers)
{
    cpd_coord *c = make(100, 60000, 0, 2, 0, 1);
    run(c, 0, 1000); /* nothing acknowledges */
    CPT_EQ_INT(count('T'), 2);
    CPT_EQ_INT(cpd_coord_inflight(c), 2);
    /* the due periodic one starts the moment a slot frees */
    CPT_EQ_INT(cpd_coord_ack(c, 1, 0, 1000), CPD_COORD_OK);
    CPT_EQ_INT(count('T'), 3);
    CPT_EQ_INT(log_[n_log - 1].at, 1000);
    CPT_EQ_INT(cpd_coord_inflight(c), 2);
    /* a manual trigger waits for a slot too, and goes first */
    CPT_EQ_INT(cpd_coord_trigger(c, 1001, NULL), CPD_COORD_QUEUED);
    CPT_EQ_INT(cpd_coord_trigger(c, 1002, NULL), CPD_COORD_BUSY);
    CPT_EQ_INT(cpd_coord_ack(c, 2, 0, 1050), CPD_COORD_OK);
    CPT_EQ_INT(log_[n_log - 1].what, 'T');
    CPT_EQ_INT(log_[n_log - 1].extra, CPA_TRIGGER_MANUAL);
    CPT_EQ_INT(cpd_coord_inflight(c), 2);
    cpd_coord_free(c);
}

CPT_TEST(min_pause_separates_end_and_next_start)
{
    cpd_coord *c = make(100, 60000, 500, 1, 0, 1);
    run(c, 0, 100);
    CPT_EQ_INT(count('T'), 1);
    ack_all(c, 1, 1, 450); /* ends at 450: the next may start at 950 */
    CPT_EQ_INT(cpd_coord_next_deadline(c), 950);
    run(c, 450, 949);
    CPT_EQ_INT(count('T'), 1);
    CPT_EQ_INT(cpd_coord_trigger(c, 900, NULL), CPD_COORD_QUEUED); /* manual respects it too */
    cpd_coord_tick(c, 950);
    CPT_EQ_INT(count('T'), 2);
    CPT_EQ_INT(log_[n_log - 1].at, 950);
    CPT_EQ_INT(log_[n_log - 1].extra, CPA_TRIGGER_MANUAL);
    cpd_coord_free(c);
}

CPT_TEST(expiry_at_exactly_the_timeout)
{
    cpd_coord *c = make(1000, 600, 0, 1, 5, 3);
    run(c, 0, 1000);
    CPT_EQ_INT(cpd_coord_next_deadline(c), 1600);
    CPT_EQ_INT(cpd_coord_ack(c, 1, 0, 1100), CPD_COORD_OK);
    /* still waiting on tasks 1 and 2 */
    int pend[8];
    CPT_EQ_INT(cpd_coord_pending_tasks(c, 1, pend, 8), 2);
    CPT_EQ_INT(pend[0], 1);
    CPT_EQ_INT(pend[1], 2);
    run(c, 1001, 1599);
    CPT_EQ_INT(count('F'), 0);
    cpd_coord_tick(c, 1600);
    CPT_EQ_INT(count('F'), 1);
    CPT_EQ_INT(log_[n_log - 1].id, 1);
    CPT_EQ_INT(log_[n_log - 1].at, 1600);
    CPT_EQ_INT(log_[n_log - 1].extra, CPA_FAIL_EXPIRED);
    /* late acks of the expired checkpoint are ignored */
    CPT_EQ_INT(cpd_coord_ack(c, 1, 1, 1700), CPD_COORD_LATE);
    CPT_EQ_INT(cpd_coord_ack(c, 1, 2, 1700), CPD_COORD_LATE);
    CPT_EQ_INT(count('C'), 0);
    CPT_EQ_INT(cpd_coord_ack(c, 99, 0, 1700), CPD_COORD_UNKNOWN);
    CPT_EQ_INT(cpd_coord_pending_tasks(c, 1, pend, 8), -1);
    cpd_coord_free(c);
}

CPT_TEST(tolerance_counts_consecutive_failures_and_resets_on_success)
{
    cpd_coord *c = make(100, 50, 0, 1, 2, 1); /* two may fail in a row; the third fails the job */
    run(c, 0, 160);                           /* 1 triggers at 100, expires at 150 */
    CPT_EQ_INT(cpd_coord_consecutive_failures(c), 1);
    run(c, 161, 260);                         /* 2 expires at 250 */
    CPT_EQ_INT(cpd_coord_consecutive_failures(c), 2);
    CPT_EQ_INT(count('J'), 0);
    run(c, 261, 300);                         /* 3 triggered at 300 */
    ack_all(c, 3, 1, 310);                    /* success resets the count */
    CPT_EQ_INT(cpd_coord_consecutive_failures(c), 0);
    run(c, 311, 560);                         /* 4 and 5 expire */
    CPT_EQ_INT(cpd_coord_consecutive_failures(c), 2);
    CPT_EQ_INT(count('J'), 0);
    run(c, 561, 660);                         /* 6 expires: third in a row */
    CPT_EQ_INT(count('J'), 1);
    CPT_EQ_INT(log_[n_log - 1].extra, 3);
    CPT_EQ_INT(cpd_coord_consecutive_failures(c), 0);
    cpd_coord_free(c);
}

CPT_TEST(user_aborts_and_task_failures_do_not_count)
{
    cpd_coord *c = make(100, 10000, 0, 1, 0, 2);
    run(c, 0, 100);
    CPT_EQ_INT(cpd_coord_abort(c, 1, 150), CPD_COORD_OK);
    CPT_EQ_INT(log_[n_log - 1].extra, CPA_FAIL_ABORTED);
    CPT_EQ_INT(cpd_coord_abort(c, 1, 151), CPD_COORD_LATE);
    CPT_EQ_INT(cpd_coord_abort(c, 42, 151), CPD_COORD_UNKNOWN);
    run(c, 151, 200);
    cpd_coord_task_failed(c, 210);
    CPT_EQ_INT(log_[n_log - 1].extra, CPA_FAIL_TASK_FAILURE);
    CPT_EQ_INT(count('J'), 0);
    CPT_EQ_INT(cpd_coord_consecutive_failures(c), 0);
    /* a decline does count: tolerance 0, so the job fails */
    run(c, 211, 300);
    CPT_EQ_INT(cpd_coord_decline(c, 3, 1, "disk full", 310), CPD_COORD_OK);
    CPT_EQ_INT(log_[n_log - 2].extra, CPA_FAIL_DECLINED);
    CPT_EQ_INT(log_[n_log - 1].what, 'J');
    CPT_EQ_INT(cpd_coord_decline(c, 3, 0, "late", 320), CPD_COORD_LATE);
    cpd_coord_free(c);
}

CPT_TEST(acks_are_checked)
{
    cpd_coord *c = make(100, 10000, 0, 1, 0, 2);
    run(c, 0, 100);
    CPT_EQ_INT(cpd_coord_ack(c, 1, 2, 110), CPD_COORD_BAD_TASK);
    CPT_EQ_INT(cpd_coord_ack(c, 1, -1, 110), CPD_COORD_BAD_TASK);
    CPT_EQ_INT(cpd_coord_ack(c, 1, 0, 110), CPD_COORD_OK);
    CPT_EQ_INT(cpd_coord_ack(c, 1, 0, 111), CPD_COORD_DUPLICATE);
    CPT_EQ_INT(count('C'), 0);
    CPT_EQ_INT(cpd_coord_ack(c, 1, 1, 112), CPD_COORD_OK);
    CPT_EQ_INT(count('C'), 1);
    cpd_coord_free(c);
}

CPT_TEST(metadata_failure_fails_the_checkpoint)
{
    cpd_coord *c = make(100, 10000, 0, 1, 1, 1);
    run(c, 0, 100);
    fin_result = CPD_COORD_FIN_FAILED;
    CPT_EQ_INT(cpd_coord_ack(c, 1, 0, 120), CPD_COORD_OK);
    CPT_EQ_INT(count('C'), 0);
    CPT_EQ_INT(log_[n_log - 1].extra, CPA_FAIL_IO);
    CPT_EQ_INT(cpd_coord_latest_completed(c), 0);
    CPT_EQ_INT(cpd_coord_consecutive_failures(c), 1);
    cpd_coord_free(c);
}

CPT_TEST(a_completed_checkpoint_subsumes_older_ones)
{
    cpd_coord *c = make(100, 10000, 0, 3, 0, 1);
    run(c, 0, 300); /* 1, 2, 3 in flight */
    CPT_EQ_INT(cpd_coord_inflight(c), 3);
    CPT_EQ_INT(cpd_coord_ack(c, 2, 0, 310), CPD_COORD_OK);
    /* 2 completed; 1 can never be needed: subsumed, not counted */
    CPT_EQ_INT(count('C'), 1);
    CPT_EQ_INT(log_[n_log - 1].what, 'F');
    CPT_EQ_INT(log_[n_log - 1].id, 1);
    CPT_EQ_INT(log_[n_log - 1].extra, CPA_FAIL_SUBSUMED);
    CPT_EQ_INT(count('J'), 0);
    int64_t ids[4];
    CPT_EQ_INT(cpd_coord_inflight_ids(c, ids, 4), 1);
    CPT_EQ_INT(ids[0], 3);
    cpd_coord_free(c);
}

CPT_TEST(settings_change_at_run_time)
{
    cpd_coord *c = make(1000, 10000, 0, 1, 0, 1);
    run(c, 0, 1000);
    ack_all(c, 1, 1, 1001);
    CPT_EQ_INT(cpd_coord_set(c, -1, 100, 0), CPD_COORD_BAD_VALUE);
    CPT_EQ_INT(cpd_coord_set(c, 200, 0, 0), CPD_COORD_BAD_VALUE);
    CPT_EQ_INT(cpd_coord_set(c, 200, 50, 5), CPD_COORD_OK);
    CPT_EQ_INT(cpd_coord_next_deadline(c), 1200); /* from the last start */
    run(c, 1002, 1200);
    CPT_EQ_INT(count('T'), 2);
    run(c, 1201, 1250); /* the new timeout applies to it */
    CPT_EQ_INT(log_[n_log - 1].extra, CPA_FAIL_EXPIRED);
    CPT_EQ_INT(log_[n_log - 1].at, 1250);
    CPT_EQ_INT(cpd_coord_set(c, 0, 50, 5), CPD_COORD_OK); /* periodic off */
    int before = count('T');
    run(c, 1251, 5000);
    CPT_EQ_INT(count('T'), before);
    CPT_EQ_INT(cpd_coord_trigger(c, 5001, NULL), CPD_COORD_OK); /* manual still works */
    cpd_coord_free(c);
}

CPT_TEST(ids_continue_after_restore)
{
    cpd_coord *c = make(100, 10000, 0, 1, 0, 1);
    cpd_coord_set_next_id(c, 43);
    int64_t id = 0;
    CPT_EQ_INT(cpd_coord_trigger(c, 5, &id), CPD_COORD_OK);
    CPT_EQ_INT(id, 43);
    CPT_EQ_INT(cpd_coord_ack(c, 12, 0, 6), CPD_COORD_LATE); /* an old id */
    cpd_coord_free(c);
}

static int64_t last_failed_reason(int64_t id)
{
    for (int i = n_log - 1; i >= 0; i--)
        if (log_[i].what == 'F' && log_[i].id == id)
            return log_[i].extra;
    return -1;
}

CPT_TEST(a_pending_metadata_write_completes_when_it_ends)
{
    cpd_coord *c = make(100, 1000, 0, 1, 0, 2);
    fin_result = CPD_COORD_FIN_PENDING;
    run(c, 0, 100);
    ack_all(c, 1, 2, 150);
    CPT_EQ_INT(log_[n_log - 1].what, 'M');
    CPT_ASSERT(cpd_coord_finalizing(c, 1));
    CPT_EQ_INT(cpd_coord_inflight(c), 1); /* it still holds its slot */
    CPT_ASSERT(!cpd_coord_awaits(c, 1, 0));
    /* no more acks or declines for it */
    CPT_EQ_INT(cpd_coord_ack(c, 1, 0, 160), CPD_COORD_DUPLICATE);
    CPT_EQ_INT(cpd_coord_decline(c, 1, 1, "late", 160), CPD_COORD_DUPLICATE);
    run(c, 151, 400); /* the periodic one is due, but max-concurrent is 1 */
    CPT_EQ_INT(count('T'), 1);
    CPT_EQ_INT(cpd_coord_finalized(c, 1, true, NULL, 400), CPD_COORD_OK);
    CPT_EQ_INT(count('C'), 1);
    CPT_EQ_INT(log_[n_log - 2].what, 'C');
    CPT_EQ_INT(log_[n_log - 2].extra, 300); /* from trigger to the end of the write */
    CPT_EQ_INT(log_[n_log - 1].what, 'T'); /* the waiting periodic one starts at once */
    CPT_EQ_INT(cpd_coord_latest_completed(c), 1);
    CPT_EQ_INT(cpd_coord_finalized(c, 1, true, NULL, 401), CPD_COORD_LATE);
    CPT_EQ_INT(count('C'), 1);
    cpd_coord_free(c);
}

CPT_TEST(a_pending_metadata_write_that_fails_fails_the_checkpoint_once)
{
    cpd_coord *c = make(100, 1000, 0, 1, 5, 1);
    fin_result = CPD_COORD_FIN_PENDING;
    run(c, 0, 100);
    ack_all(c, 1, 1, 110);
    CPT_EQ_INT(cpd_coord_finalized(c, 1, false, "s3://b/chk-1/_metadata: timed out", 200),
               CPD_COORD_OK);
    CPT_EQ_INT(last_failed_reason(1), CPA_FAIL_IO);
    CPT_EQ_INT(cpd_coord_consecutive_failures(c), 1);
    CPT_EQ_INT(cpd_coord_finalized(c, 1, false, "again", 201), CPD_COORD_LATE);
    CPT_EQ_INT(count('F'), 1);
    CPT_EQ_INT(cpd_coord_consecutive_failures(c), 1);
    cpd_coord_free(c);
}

/* The rule for a write that outlives the timeout: the checkpoint expires on
 * time, once; the write's outcome is LATE and never completes it. */
CPT_TEST(a_checkpoint_expires_on_time_while_its_metadata_write_hangs)
{
    cpd_coord *c = make(100, 500, 0, 1, 5, 2);
    fin_result = CPD_COORD_FIN_PENDING;
    run(c, 0, 100);
    ack_all(c, 1, 2, 200);
    CPT_EQ_INT(cpd_coord_next_deadline(c), 600);
    run(c, 201, 599);
    CPT_EQ_INT(count('F'), 0);
    cpd_coord_tick(c, 600);
    CPT_EQ_INT(count('F'), 1);
    CPT_EQ_INT(last_failed_reason(1), CPA_FAIL_EXPIRED);
    CPT_EQ_INT(log_[n_log - 2].at, 600);
    CPT_ASSERT(!cpd_coord_finalizing(c, 1));
    CPT_EQ_INT(cpd_coord_consecutive_failures(c), 1);
    CPT_EQ_INT(log_[n_log - 1].what, 'T'); /* the next starts at once: its slot is free */
    /* the hung write ends, successfully or not: nothing changes */
    CPT_EQ_INT(cpd_coord_finalized(c, 1, true, NULL, 5000), CPD_COORD_LATE);
    CPT_EQ_INT(cpd_coord_finalized(c, 1, false, "x", 5001), CPD_COORD_LATE);
    CPT_EQ_INT(count('C'), 0);
    CPT_EQ_INT(count('F'), 1);
    CPT_EQ_INT(cpd_coord_latest_completed(c), 0);
    CPT_EQ_INT(cpd_coord_consecutive_failures(c), 1);
    cpd_coord_free(c);
}

CPT_TEST(a_finalizing_checkpoint_can_be_aborted_or_subsumed)
{
    cpd_coord *c = make(100, 10000, 0, 3, 0, 1);
    fin_result = CPD_COORD_FIN_PENDING;
    run(c, 0, 300); /* 1, 2, 3 in flight */
    ack_all(c, 1, 1, 310);
    ack_all(c, 2, 1, 320);
    ack_all(c, 3, 1, 330);
    CPT_ASSERT(cpd_coord_finalizing(c, 1) && cpd_coord_finalizing(c, 2));
    CPT_EQ_INT(cpd_coord_abort(c, 3, 340), CPD_COORD_OK);
    CPT_EQ_INT(last_failed_reason(3), CPA_FAIL_ABORTED);
    /* 2's write ends first: 1 is subsumed, whatever its write does */
    CPT_EQ_INT(cpd_coord_finalized(c, 2, true, NULL, 350), CPD_COORD_OK);
    CPT_EQ_INT(last_failed_reason(1), CPA_FAIL_SUBSUMED);
    CPT_EQ_INT(cpd_coord_finalized(c, 1, true, NULL, 360), CPD_COORD_LATE);
    CPT_EQ_INT(cpd_coord_finalized(c, 3, true, NULL, 360), CPD_COORD_LATE);
    CPT_EQ_INT(count('C'), 1);
    CPT_EQ_INT(cpd_coord_latest_completed(c), 2);
    CPT_EQ_INT(cpd_coord_consecutive_failures(c), 0);
    CPT_EQ_INT(count('J'), 0);
    cpd_coord_free(c);
}

CPT_TEST(finalized_is_only_taken_for_a_finalizing_checkpoint)
{
    cpd_coord *c = make(100, 10000, 0, 1, 0, 2);
    fin_result = CPD_COORD_FIN_PENDING;
    run(c, 0, 100);
    CPT_ASSERT(cpd_coord_awaits(c, 1, 0) && cpd_coord_awaits(c, 1, 1));
    CPT_ASSERT(!cpd_coord_awaits(c, 1, 2) && !cpd_coord_awaits(c, 7, 0));
    CPT_EQ_INT(cpd_coord_finalized(c, 1, true, NULL, 110), CPD_COORD_NOT_FINALIZING);
    CPT_EQ_INT(cpd_coord_ack(c, 1, 0, 120), CPD_COORD_OK);
    CPT_ASSERT(!cpd_coord_awaits(c, 1, 0) && cpd_coord_awaits(c, 1, 1));
    CPT_EQ_INT(cpd_coord_finalized(c, 1, true, NULL, 130), CPD_COORD_NOT_FINALIZING);
    CPT_EQ_INT(cpd_coord_finalized(c, 9, true, NULL, 130), CPD_COORD_UNKNOWN);
    /* a task failure takes finalizing checkpoints too */
    CPT_EQ_INT(cpd_coord_ack(c, 1, 1, 140), CPD_COORD_OK);
    cpd_coord_task_failed(c, 150);
    CPT_EQ_INT(last_failed_reason(1), CPA_FAIL_TASK_FAILURE);
    CPT_EQ_INT(cpd_coord_finalized(c, 1, true, NULL, 160), CPD_COORD_LATE);
    CPT_EQ_INT(count('C'), 0);
    cpd_coord_free(c);
}
