/* test_ckpt.c — the coordinator thread and the completion worker, with fake
 * storage and sink hooks that can hang: expiry, triggers and commands must
 * not wait for them, and completions must commit in order. */
#include <pthread.h>
#include <time.h>

#include "cpd_ckpt.h"
#include "cpt_test.h"

/* Everything the service asked of the job, in order. */
typedef struct entry {
    char what;      /* T trigger, W write start, w write end, C completed, K commit, D discard,
                       F failed, J job failed */
    int64_t id, extra, at_ms;
} entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static entry log_[4096];
static int n_log;
static bool hang_writes, fail_writes, fail_commits, auto_ack;
static int commit_ms;
static int n_tasks = 2;
static char last_why[CPA_TEXT_MAX + 64];
static int64_t written_states, written_offset;
static cpd_ckpt *svc;

static void add(char what, int64_t id, int64_t extra)
{
    pthread_mutex_lock(&mu);
    if (n_log < (int)(sizeof log_ / sizeof log_[0]))
        log_[n_log++] = (entry){what, id, extra, cpt_now_ms()};
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
}

static int count_locked(char what, int64_t id)
{
    int n = 0;
    for (int i = 0; i < n_log; i++)
        n += log_[i].what == what && (id < 0 || log_[i].id == id);
    return n;
}

static int count(char what, int64_t id)
{
    pthread_mutex_lock(&mu);
    int n = count_locked(what, id);
    pthread_mutex_unlock(&mu);
    return n;
}

/* Waits up to ms for at least n entries what (of id, or any id < 0). */
static bool wait_for(char what, int64_t id, int n, int ms)
{
    int64_t until = cpt_now_ms() + ms;
    pthread_mutex_lock(&mu);
    while (count_locked(what, id) < n && cpt_now_ms() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&cond, &mu, &ts);
    }
    bool ok = count_locked(what, id) >= n;
    pthread_mutex_unlock(&mu);
    return ok;
}

static entry find(char what, int64_t id)
{
    entry e = {0};
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_log; i++)
        if (log_[i].what == what && log_[i].id == id) {
            e = log_[i];
            break;
        }
    pthread_mutex_unlock(&mu);
    return e;
}

/* index of the first entry what/id in the log, -1 if none */
static int pos(char what, int64_t id)
{
    pthread_mutex_lock(&mu);
    int at = -1;
    for (int i = 0; i < n_log && at < 0; i++)
        if (log_[i].what == what && log_[i].id == id)
            at = i;
    pthread_mutex_unlock(&mu);
    return at;
}

/* Waits up to ms for the service to publish id as committed. */
static bool committed(int64_t id, int ms)
{
    int64_t until = cpt_now_ms() + ms;
    while (cpd_ckpt_latest_committed(svc) < id && cpt_now_ms() < until) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return cpd_ckpt_latest_committed(svc) >= id;
}

static void ack_all(int64_t id)
{
    for (int t = 0; t < n_tasks; t++) {
        cpd_state_handle h = {.op = 0, .subtask = t, .size = 10};
        snprintf(h.file, sizeof h.file, "op0-sub%d.state", t);
        cpd_offset off = {.partition = t, .next = 100 + id};
        cpd_ckpt_ack(svc, id, t, &h, &off, 1);
    }
}

static void h_trigger(void *o, int64_t id, cpa_trigger_kind kind, int64_t trigger_us)
{
    (void)o;
    add('T', id, kind);
    CPT_ASSERT(trigger_us > 0);
    if (auto_ack)
        ack_all(id); /* a post: allowed from a hook */
}

static void h_completed(void *o, int64_t id, int64_t duration_ms, const cpd_metadata *md)
{
    (void)o;
    CPT_ASSERT(md);
    add('C', id, duration_ms);
}

static void h_failed(void *o, int64_t id, cpa_failure_reason reason, const char *message)
{
    (void)o;
    (void)message;
    add('F', id, reason);
}

static void h_fail_job(void *o, const char *why)
{
    (void)o;
    pthread_mutex_lock(&mu);
    snprintf(last_why, sizeof last_why, "%s", why);
    pthread_mutex_unlock(&mu);
    add('J', 0, 0);
}

static bool h_write(void *o, int64_t id, const cpd_metadata *md, char *err, size_t errsz)
{
    (void)o;
    add('W', id, 0);
    pthread_mutex_lock(&mu);
    written_states = (int64_t)md->n_states;
    const cpd_md_extra *x = cpd_metadata_find_extra(md, "offset.1");
    written_offset = x ? x->i : -1;
    while (hang_writes) /* a hung storage: until the test lets go */
        pthread_cond_wait(&cond, &mu);
    bool fail = fail_writes;
    pthread_mutex_unlock(&mu);
    add('w', id, 0);
    if (fail)
        snprintf(err, errsz, "injected: no space");
    return !fail;
}

static bool h_commit(void *o, int64_t id, const cpd_metadata *md, char *err, size_t errsz)
{
    (void)o;
    (void)md;
    if (commit_ms) {
        struct timespec ts = {0, (long)commit_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    add('K', id, 0);
    if (fail_commits)
        snprintf(err, errsz, "database is locked");
    return !fail_commits;
}

static void h_discard(void *o, int64_t id)
{
    (void)o;
    add('D', id, 0);
}

static void let_go(void)
{
    pthread_mutex_lock(&mu);
    hang_writes = false;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
}

static void start(int64_t interval, int64_t timeout, int max_concurrent, int tolerable)
{
    n_log = 0;
    cpd_coord_cfg cfg = {interval, timeout, 0, max_concurrent, tolerable, 1};
    cpd_ckpt_hooks h = {NULL,    h_trigger, h_completed, h_failed, h_fail_job,
                        h_write, h_commit,  h_discard};
    char err[128];
    svc = cpd_ckpt_new(&cfg, &h, err, sizeof err);
    CPT_ASSERTF(svc, "cpd_ckpt_new: %s", err);
    CPT_ASSERT(cpd_ckpt_begin(svc, n_tasks, 1));
}

CPT_TEST(bad_settings_are_refused)
{
    cpd_coord_cfg cfg = {100, 0, 0, 1, 0, 1};
    cpd_ckpt_hooks h = {0};
    char err[128] = "";
    CPT_ASSERT(!cpd_ckpt_new(&cfg, &h, err, sizeof err));
    CPT_ASSERT(strstr(err, "bad checkpoint settings"));
}

CPT_TEST(a_checkpoint_completes_then_commits_with_its_acks_in_the_metadata)
{
    start(0, 10000, 1, 0);
    int64_t id = 0;
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, &id, NULL), CPD_CKPT_OK);
    CPT_EQ_INT(id, 1);
    CPT_ASSERT(wait_for('T', 1, 1, 2000));
    CPT_ASSERT(cpd_ckpt_trigger_us(svc, 1) > 0);
    CPT_EQ_INT(cpd_ckpt_trigger_us(svc, 2), 0);
    CPT_EQ_INT(cpd_ckpt_inflight(svc), 1);
    ack_all(1);
    cpd_ckpt_ack(svc, 1, 0, NULL, NULL, 0); /* a repeated ack changes nothing */
    CPT_ASSERT(wait_for('K', 1, 1, 2000));
    CPT_EQ_INT(written_states, 2);
    CPT_EQ_INT(written_offset, 101);
    CPT_ASSERT(pos('W', 1) < pos('C', 1) && pos('C', 1) < pos('K', 1));
    CPT_EQ_INT(cpd_ckpt_latest_completed(svc), 1);
    CPT_ASSERT(committed(1, 2000));
    CPT_EQ_INT(cpd_ckpt_inflight(svc), 0);
    CPT_EQ_INT(count('F', -1), 0);
    cpd_ckpt_destroy(svc);
}

/* The storage hangs on checkpoint 1's _metadata: it still expires at its
 * timeout, commands are answered, and when the write ends at last it is
 * removed, never completed. */
CPT_TEST(expiry_and_commands_do_not_wait_for_a_hung_metadata_write)
{
    hang_writes = true;
    start(0, 300, 1, 100);
    int64_t id = 0;
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, &id, NULL), CPD_CKPT_OK);
    ack_all(1);
    CPT_ASSERT(wait_for('W', 1, 1, 2000)); /* the worker is stuck in it now */
    CPT_ASSERT(wait_for('F', 1, 1, 3000));
    entry f = find('F', 1), t = find('T', 1);
    CPT_EQ_INT(f.extra, CPA_FAIL_EXPIRED);
    /* on time (test_coord proves the exact instant on a fake clock; here the
     * log's times are taken a scheduling moment after the coordinator's) */
    CPT_ASSERTF(f.at_ms - t.at_ms >= 150 && f.at_ms - t.at_ms < 2000, "expired after %lld ms",
                (long long)(f.at_ms - t.at_ms));
    CPT_EQ_INT(count('w', 1), 0); /* the write is still hanging */
    /* commands are answered meanwhile */
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, &id, NULL), CPD_CKPT_OK);
    CPT_EQ_INT(id, 2);
    CPT_EQ_INT(cpd_ckpt_abort(svc, 2, 1000), CPD_CKPT_OK);
    CPT_EQ_INT(cpd_ckpt_abort(svc, 2, 1000), CPD_CKPT_NOT_IN_FLIGHT);
    cpd_ckpt_settings s = {0, 300, 100};
    CPT_EQ_INT(cpd_ckpt_set(svc, &s, 1000), CPD_CKPT_OK);
    CPT_EQ_INT(count('w', 1), 0);
    let_go();
    CPT_ASSERT(wait_for('D', 1, 1, 2000));
    CPT_ASSERT(pos('w', 1) < pos('D', 1)); /* removed after what the write left */
    CPT_EQ_INT(count('C', -1), 0);
    CPT_EQ_INT(count('K', -1), 0);
    CPT_EQ_INT(count('F', 1), 1); /* failed once */
    /* the storage is back: the next one completes */
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, &id, NULL), CPD_CKPT_OK);
    ack_all(id);
    CPT_ASSERT(wait_for('K', id, 1, 2000));
    cpd_ckpt_destroy(svc);
}

/* Periodic checkpoints keep being triggered and expiring on time while the
 * worker is stuck; nothing is completed or committed until it is free. */
CPT_TEST(periodic_triggers_keep_their_pace_while_the_worker_is_stuck)
{
    hang_writes = true;
    auto_ack = true;
    start(100, 150, 1, 1000);
    CPT_ASSERT(wait_for('F', -1, 4, 5000));
    int64_t worst = 0;
    for (int64_t id = 1; id <= 4; id++) {
        entry t = find('T', id), f = find('F', id);
        CPT_EQ_INT(f.extra, CPA_FAIL_EXPIRED);
        if (f.at_ms - t.at_ms > worst)
            worst = f.at_ms - t.at_ms;
        CPT_ASSERT(f.at_ms - t.at_ms >= 75); /* not early (see above) */
    }
    CPT_ASSERTF(worst < 2000, "an expiry came %lld ms after its trigger", (long long)worst);
    CPT_EQ_INT(count('W', -1), 1); /* only the first write started: the worker is stuck */
    CPT_EQ_INT(count('C', -1), 0);
    let_go();
    CPT_ASSERT(wait_for('K', -1, 1, 5000)); /* once free, checkpoints complete again */
    cpd_ckpt_destroy(svc);
    auto_ack = false;
}

CPT_TEST(a_failed_metadata_write_fails_the_checkpoint)
{
    fail_writes = true;
    start(0, 10000, 1, 5);
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, NULL, NULL), CPD_CKPT_OK);
    ack_all(1);
    CPT_ASSERT(wait_for('F', 1, 1, 2000));
    CPT_EQ_INT(find('F', 1).extra, CPA_FAIL_IO);
    CPT_ASSERT(wait_for('D', 1, 1, 2000));
    CPT_EQ_INT(count('C', -1), 0);
    cpd_ckpt_destroy(svc);
    fail_writes = false;
}

CPT_TEST(a_failed_sink_commit_fails_the_job)
{
    fail_commits = true;
    start(0, 10000, 1, 5);
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, NULL, NULL), CPD_CKPT_OK);
    ack_all(1);
    CPT_ASSERT(wait_for('J', 0, 1, 2000));
    CPT_ASSERT(strstr(last_why, "sink commit of checkpoint 1 failed: database is locked"));
    CPT_EQ_INT(cpd_ckpt_latest_completed(svc), 1);
    CPT_EQ_INT(cpd_ckpt_latest_committed(svc), 0);
    cpd_ckpt_destroy(svc);
    fail_commits = false;
}

CPT_TEST(declines_and_failed_writes_fail_the_checkpoint_and_count)
{
    start(0, 10000, 1, 1);
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, NULL, NULL), CPD_CKPT_OK);
    cpd_ckpt_decline(svc, 1, 1, "no");
    CPT_ASSERT(wait_for('F', 1, 1, 2000));
    CPT_EQ_INT(find('F', 1).extra, CPA_FAIL_DECLINED);
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, NULL, NULL), CPD_CKPT_OK);
    cpd_ckpt_fail(svc, 2, "upload failed");
    CPT_ASSERT(wait_for('F', 2, 1, 2000));
    CPT_EQ_INT(find('F', 2).extra, CPA_FAIL_IO);
    CPT_ASSERT(wait_for('J', 0, 1, 2000)); /* two in a row, tolerance 1 */
    CPT_ASSERT(strstr(last_why, "2 consecutive checkpoint failures exceed the tolerance of 1"));
    cpd_ckpt_destroy(svc);
}

CPT_TEST(manual_triggers_queue_behind_one_in_flight)
{
    start(0, 10000, 1, 0);
    int64_t id = 0;
    int inflight = 0;
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, &id, NULL), CPD_CKPT_OK);
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, &id, &inflight), CPD_CKPT_QUEUED);
    CPT_EQ_INT(inflight, 1);
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, &id, NULL), CPD_CKPT_BUSY);
    ack_all(1);
    CPT_ASSERT(wait_for('T', 2, 1, 2000)); /* the queued one starts when 1 ends */
    CPT_EQ_INT(find('T', 2).extra, CPA_TRIGGER_MANUAL);
    cpd_ckpt_destroy(svc);
}

/* end() fails what is in flight, lets queued sink commits finish, and the
 * service answers IDLE until the next begin(). */
CPT_TEST(an_attempt_ends_cleanly_and_the_next_continues_the_ids)
{
    commit_ms = 200;
    start(0, 10000, 2, 0);
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, NULL, NULL), CPD_CKPT_OK);
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, NULL, NULL), CPD_CKPT_OK);
    ack_all(1);
    CPT_ASSERT(wait_for('C', 1, 1, 2000));
    cpd_ckpt_end(svc); /* 1's commit is under way or queued: end waits for it */
    CPT_EQ_INT(count('K', 1), 1);
    CPT_ASSERT(committed(1, 2000)); /* its outcome reaches the coordinator after the end */
    CPT_EQ_INT(find('F', 2).extra, CPA_FAIL_TASK_FAILURE);
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, NULL, NULL), CPD_CKPT_IDLE);
    CPT_EQ_INT(cpd_ckpt_abort(svc, 2, 1000), CPD_CKPT_IDLE);
    ack_all(2); /* a straggler after the end: dropped */
    CPT_ASSERT(cpd_ckpt_begin(svc, n_tasks, 3));
    int64_t id = 0;
    CPT_EQ_INT(cpd_ckpt_trigger(svc, 1000, &id, NULL), CPD_CKPT_OK);
    CPT_EQ_INT(id, 3);
    cpd_ckpt_destroy(svc);
    commit_ms = 0;
}

CPT_TEST(settings_change_at_run_time_and_bad_ones_are_refused)
{
    start(0, 10000, 1, 0);
    cpd_ckpt_settings bad = {-1, 100, 0}, bad2 = {100, 0, 0}, good = {100, 10000, 3};
    CPT_EQ_INT(cpd_ckpt_set(svc, &bad, 1000), CPD_CKPT_BAD_VALUE);
    CPT_EQ_INT(cpd_ckpt_set(svc, &bad2, 1000), CPD_CKPT_BAD_VALUE);
    CPT_EQ_INT(count('T', -1), 0);
    auto_ack = true;
    CPT_EQ_INT(cpd_ckpt_set(svc, &good, 1000), CPD_CKPT_OK); /* periodic from now on */
    CPT_ASSERT(wait_for('K', -1, 3, 3000));
    auto_ack = false;
    cpd_ckpt_destroy(svc);
}
