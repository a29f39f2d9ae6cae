/* test_agent_load.c — 4 threads emit 1,000,000 events while a subscriber
 * reads: no emit ever waits (a full queue refuses at once), and
 * emitted = sent + dropped holds exactly. */
#include "cpagent.h"
#include "cpt_sub.h"
#include "cpt_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define THREADS 4
#define PER_THREAD 250000

static cpa_agent *agent;
static atomic_int go;
static uint64_t ok_count[THREADS], full_count[THREADS], other_count[THREADS];

static void *emitter(void *arg)
{
    int t = (int)(intptr_t)arg;
    while (!atomic_load(&go)) {
    }
    cpa_event e;
    memset(&e, 0, sizeof e);
    e.type = CPA_EV_BARRIER_RECEIVED;
    e.op = 1;
    e.subtask = t;
    for (int i = 0; i < PER_THREAD; i++) {
        e.cp_id = i / 1000 + 1;
        e.u.barrier.channel = i & 3;
        cpa_err r = cpa_emit(agent, &e);
        if (r == CPA_OK)
            ok_count[t]++;
        else if (r == CPA_ERR_QUEUE_FULL)
            full_count[t]++;
        else
            other_count[t]++;
    }
    return NULL;
}

/* The subscriber thread owns `sub` until joined; the main thread only sets
 * the seq it must reach and reads caught_up. */
static atomic_int sub_done, caught_up;
static _Atomic uint64_t target_seq;
static cpt_sub sub;
static void *subscriber(void *arg)
{
    (void)arg;
    while (!atomic_load(&sub_done)) {
        cpt_sub_poll(&sub, 20);
        uint64_t t = atomic_load(&target_seq);
        if (t && sub.last_seq >= t) {
            atomic_store(&caught_up, 1);
            break;
        }
    }
    return NULL;
}

CPT_TEST_T(four_threads_one_million_events, 240)
{
    char rt[300], err[200];
    snprintf(rt, sizeof rt, "%s/rt", cpt_tmpdir());
    cpa_conf *c = cpa_conf_new();
    cpa_conf_set(c, "runtime.dir", rt, err, sizeof err);
    cpa_conf_set(c, "job.id", "load", err, sizeof err);
    cpa_conf_set(c, "queue.size", "16384", err, sizeof err);
    cpa_conf_set(c, "heartbeat.ms", "100", err, sizeof err);
    agent = cpa_new(c, err, sizeof err);
    CPT_ASSERT(agent);
    const cpa_operator ops[] = {{"source", 4}, {"agg", 4}};
    CPT_EQ_INT(cpa_set_topology(agent, ops, 2, NULL, 0), CPA_OK);
    CPT_EQ_INT(cpa_start(agent), CPA_OK);
    CPT_EQ_INT(cpt_sub_open(&sub, cpa_events_url(agent)), 0);
    /* connected once the first heartbeat arrives */
    int64_t t0 = cpt_now_ms();
    while (!sub.messages && cpt_now_ms() - t0 < 5000)
        cpt_sub_poll(&sub, 50);
    CPT_ASSERT(sub.messages);
    pthread_t th[THREADS], st;
    pthread_create(&st, NULL, subscriber, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, emitter, (void *)(intptr_t)i);
    atomic_store(&go, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    /* let the subscriber catch up with everything published before stopping */
    cpa_stats s;
    t0 = cpt_now_ms();
    do {
        cpa_get_stats(agent, &s);
        usleep(1000);
    } while (s.sent + s.dropped < s.emitted && cpt_now_ms() - t0 < 10000);
    cpw_command cmd = {.req = 1, .history = 0};
    cmd.c.type = CPW_CMD_GET_STATE;
    cpw_msg r;
    CPT_EQ_INT(cpt_command(cpa_commands_url(agent), &cmd, NULL, 0, &r, 5000), 0);
    uint64_t final_seq = r.reply->state->seq;
    cpw_msg_clear(&r);
    atomic_store(&target_seq, final_seq);
    t0 = cpt_now_ms();
    while (!atomic_load(&caught_up) && cpt_now_ms() - t0 < 10000)
        usleep(1000);
    atomic_store(&sub_done, 1);
    pthread_join(st, NULL);
    CPT_EQ_INT(cpa_stop(agent), CPA_OK);

    uint64_t ok = 0, full = 0;
    for (int i = 0; i < THREADS; i++) {
        ok += ok_count[i];
        full += full_count[i];
        CPT_EQ_INT(other_count[i], 0);
    }
    cpa_get_stats(agent, &s);
    fprintf(stderr, "    emitted %llu sent %llu dropped %llu (queue full %llu); subscriber "
                    "got %llu events in %llu frames, missed %llu messages\n",
            (unsigned long long)s.emitted, (unsigned long long)s.sent,
            (unsigned long long)s.dropped, (unsigned long long)full,
            (unsigned long long)sub.events, (unsigned long long)sub.frames,
            (unsigned long long)sub.missed);
    CPT_EQ_INT(ok + full, THREADS * PER_THREAD);
    CPT_EQ_INT(s.emitted, THREADS * PER_THREAD);
    CPT_EQ_INT(s.emitted, s.sent + s.dropped);
    CPT_EQ_INT(s.dropped, full);      /* every drop was a refused emit, seen by the caller */
    CPT_EQ_INT(s.sent, ok);
    CPT_EQ_INT(s.send_errors, 0);
    CPT_EQ_INT(sub.errors, 0);
    CPT_ASSERT(sub.events > 0);
    CPT_ASSERT(sub.events <= s.sent);
    CPT_ASSERT(sub.last_seq >= final_seq);
    CPT_EQ_INT(sub.messages + sub.missed, sub.last_seq - sub.first_seq + 1);
    cpt_sub_close(&sub);
    cpa_destroy(agent);
}
