/* test_model.c — cptop's model fed recorded event sequences: in order, out
 * of order, with gaps and resyncs, across restores and job restarts. */
#include "cpt_model.h"
#include "cpt_test.h"

#include <string.h>

#define T0 1800000000000000LL /* a fixed wall clock, µs */

static const int PAR = 2; /* two operators, two subtasks each */

static cpw_hello hello_of(int pid)
{
    cpw_hello h;
    memset(&h, 0, sizeof h);
    snprintf(h.name, sizeof h.name, "payments");
    h.pid = pid;
    h.start_ts_us = T0 - 60000000;
    h.n_ops = 2;
    snprintf(h.ops[0].name, sizeof h.ops[0].name, "source");
    snprintf(h.ops[1].name, sizeof h.ops[1].name, "sink");
    h.ops[0].parallelism = h.ops[1].parallelism = PAR;
    h.n_config = 3;
    snprintf(h.config_keys[0], CPW_NAME_MAX, "execution.checkpointing.interval");
    snprintf(h.config_values[0], CPW_VALUE_MAX, "2 s");
    snprintf(h.config_keys[1], CPW_NAME_MAX, "execution.checkpointing.timeout");
    snprintf(h.config_values[1], CPW_VALUE_MAX, "10 min");
    snprintf(h.config_keys[2], CPW_NAME_MAX, "execution.checkpointing.tolerable-failed-checkpoints");
    snprintf(h.config_values[2], CPW_VALUE_MAX, "3");
    return h;
}

static cpw_event ev(cpw_event_type t, int64_t id, int op, int sub, int64_t ts)
{
    cpw_event e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.cp_id = id;
    e.op = op;
    e.subtask = sub;
    e.ts_us = ts;
    return e;
}

static cpw_event ack(int64_t id, int op, int sub, int64_t ts, int64_t align_us)
{
    cpw_event e = ev(CPW_EV_ACK, id, op, sub, ts);
    e.u.ack.state_size = 100;
    e.u.ack.checkpointed_size = 10;
    e.u.ack.alignment_us = align_us;
    return e;
}

static cpw_event completed(int64_t id, int64_t ts, int64_t dur)
{
    cpw_event e = ev(CPW_EV_CP_COMPLETED, id, -1, -1, ts);
    e.u.completed.duration_us = dur;
    e.u.completed.state_size = 400;
    e.u.completed.checkpointed_size = 40;
    return e;
}

static cpw_event failed(int64_t id, int64_t ts, cpw_failure_reason r, const char *msg)
{
    cpw_event e = ev(CPW_EV_CP_FAILED, id, -1, -1, ts);
    e.u.failed.reason = r;
    snprintf(e.u.failed.message, sizeof e.u.failed.message, "%s", msg);
    return e;
}

/* Sends one event message with this seq. */
static void feed(cpt_model *m, uint64_t seq, cpw_event e)
{
    cpw_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.v = 1;
    msg.kind = CPW_K_EVENT;
    snprintf(msg.job, sizeof msg.job, "payments");
    msg.seq = seq;
    msg.ts_us = e.ts_us;
    msg.ev = e;
    cpt_model_on_msg(m, &msg, e.ts_us ? e.ts_us : T0);
}

static void feed_hello_of(cpt_model *m, uint64_t seq, int pid, const char *instance, int64_t now)
{
    cpw_hello h = hello_of(pid);
    snprintf(h.instance, sizeof h.instance, "%s", instance);
    cpw_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.kind = CPW_K_HELLO;
    snprintf(msg.job, sizeof msg.job, "payments");
    msg.seq = seq;
    msg.hello = &h;
    cpt_model_on_msg(m, &msg, now);
}

static void feed_hello(cpt_model *m, uint64_t seq, int pid, int64_t now)
{
    feed_hello_of(m, seq, pid, "", now);
}

static void feed_heartbeat(cpt_model *m, uint64_t seq, int64_t now)
{
    cpw_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.kind = CPW_K_HEARTBEAT;
    snprintf(msg.job, sizeof msg.job, "payments");
    msg.seq = seq;
    msg.ts_us = now;
    cpt_model_on_msg(m, &msg, now);
}

/* A get_state result as the agent would fold it: hello then events. */
static cpw_state *agent_state(int pid, const cpw_event *evs, int n, uint64_t first_seq)
{
    cpw_state *s = cpw_state_new(64, 8);
    snprintf(s->job, sizeof s->job, "payments");
    cpw_hello h = hello_of(pid);
    cpw_state_set_hello(s, &h);
    s->seq = first_seq - 1;
    for (int i = 0; i < n; i++)
        cpw_state_apply(s, &evs[i], first_seq + (uint64_t)i);
    return s;
}

/* One whole checkpoint: triggered, acks from all four subtasks, completed. */
static int whole_cp(cpw_event *out, int64_t id, int64_t t, int64_t dur)
{
    int n = 0;
    out[n++] = ev(CPW_EV_CP_TRIGGERED, id, -1, -1, t);
    for (int op = 0; op < 2; op++)
        for (int s = 0; s < PAR; s++)
            out[n++] = ack(id, op, s, t + dur / 2, op == 1 ? dur / 10 : 0);
    out[n++] = completed(id, t + dur, dur);
    return n;
}

static cpt_model *synced_model(void)
{
    cpt_model *m = cpt_model_new(NULL);
    CPT_ASSERT(m);
    cpt_model_connecting(m, "ipc:///x", T0);
    CPT_ASSERT(m->want_state);
    feed_heartbeat(m, 1, T0); /* the subscription is up */
    cpt_model_state_sent(m);
    cpt_model_on_state(m, agent_state(42, NULL, 0, 2), T0);
    CPT_ASSERT(!m->want_state && !m->state_pending);
    CPT_EQ_INT(m->last_seq, 1);
    return m;
}

CPT_TEST(state_then_stream_replays_only_newer_messages)
{
    cpt_model *m = cpt_model_new(NULL);
    cpt_model_connecting(m, "ipc:///x", T0);
    feed_heartbeat(m, 9, T0);
    cpt_model_state_sent(m);
    /* seq 10..13 arrive while the get_state is out: buffered, not folded */
    cpw_event evs[16];
    int n = whole_cp(evs, 1, T0, 1000);
    for (int i = 0; i < 4; i++)
        feed(m, 10 + (uint64_t)i, evs[i]);
    CPT_EQ_INT(m->st->counts.total, 0);
    /* the reply folded up to seq 11 (triggered and the first ack) */
    cpw_state *st = cpw_state_new(64, 8);
    snprintf(st->job, sizeof st->job, "payments");
    cpw_hello h = hello_of(42);
    cpw_state_set_hello(st, &h);
    cpw_state_apply(st, &evs[0], 10);
    cpw_state_apply(st, &evs[1], 11);
    cpt_model_on_state(m, st, T0);
    /* 12 and 13 replayed on top; 10 and 11 not twice */
    CPT_EQ_INT(m->st->n_inflight, 1);
    CPT_EQ_INT(m->st->inflight[0].acks, 3);
    CPT_EQ_INT(m->st->seq, 13);
    CPT_EQ_INT(m->gaps, 0);
    CPT_EQ_INT(m->resyncs, 1);
    /* and the stream carries on */
    for (int i = 4; i < n; i++)
        feed(m, 10 + (uint64_t)i, evs[i]);
    CPT_EQ_INT(m->st->counts.completed, 1);
    CPT_EQ_INT(m->st->n_history, 1);
    CPT_EQ_INT(cpw_state_history(m->st, 0)->acks, 4);
    CPT_EQ_INT(m->st->latest_completed_id, 1);
    /* configuration read from the hello in the state */
    CPT_EQ_INT(m->interval_us, 2000000);
    CPT_EQ_INT(m->timeout_us, 600000000);
    CPT_EQ_INT(m->tolerable, 3);
    cpt_model_free(m);
}

CPT_TEST(gap_asks_for_state_and_resumes_after_it)
{
    cpt_model *m = synced_model();
    cpw_event evs[16];
    int n = whole_cp(evs, 1, T0, 1000);
    feed(m, 2, evs[0]);
    feed(m, 3, evs[1]);
    /* seq 4 and 5 are lost on the way */
    feed(m, 6, evs[4]);
    CPT_EQ_INT(m->gaps, 1);
    CPT_EQ_INT(m->missed, 2);
    CPT_ASSERT(m->want_state);
    const cpt_log_entry *note = NULL;
    for (int i = 0; i < m->log_n && !note; i++)
        if (cpt_model_log(m, i)->kind == CPT_LOG_NOTE)
            note = cpt_model_log(m, i);
    CPT_ASSERT(note && strstr(note->u.note, "missed 2 message"));
    cpt_model_state_sent(m);
    feed(m, 7, evs[5]); /* completed: arrives before the reply */
    CPT_EQ_INT(m->st->counts.completed, 0);
    /* the agent folded everything up to 6 */
    cpw_state *st = agent_state(42, evs, 5, 2);
    CPT_EQ_INT(st->seq, 6);
    cpt_model_on_state(m, st, T0);
    CPT_EQ_INT(m->st->counts.completed, 1);
    CPT_EQ_INT(cpw_state_history(m->st, 0)->acks, 4);
    CPT_ASSERT(!m->want_state);
    CPT_EQ_INT(m->last_seq, 7);
    (void)n;
    cpt_model_free(m);
}

CPT_TEST(a_gap_inside_the_buffer_asks_again)
{
    cpt_model *m = synced_model();
    feed(m, 5, ev(CPW_EV_CP_TRIGGERED, 1, -1, -1, T0)); /* 2..4 missed */
    CPT_ASSERT(m->want_state);
    cpt_model_state_sent(m);
    feed(m, 6, ack(1, 0, 0, T0 + 10, 0));
    /* the reply is older than the buffer: seq 3 is its last, 4 is nowhere */
    cpt_model_on_state(m, agent_state(42, NULL, 0, 4), T0);
    CPT_ASSERT(m->want_state);
    CPT_EQ_INT(m->gaps, 2);
    cpt_model_free(m);
}

CPT_TEST(out_of_order_and_missing_events_are_tolerated)
{
    cpt_model *m = synced_model();
    uint64_t seq = 2;
    /* no cp_triggered at all, an ack before the barrier events, a late
     * barrier after the ack, the completion, then a straggling ack */
    feed(m, seq++, ack(7, 1, 0, T0 + 50, 0));
    CPT_EQ_INT(m->st->n_inflight, 1);
    CPT_EQ_INT(m->st->inflight[0].id, 7);
    feed(m, seq++, ev(CPW_EV_BARRIER_RECEIVED, 7, 1, 0, T0 + 60));
    CPT_EQ_INT(m->st->inflight[0].subs[cpw_state_sub_index(m->st, 1, 0)].phase, CPW_PH_ACKED);
    feed(m, seq++, ev(CPW_EV_SNAPSHOT_START, 7, 0, 1, T0 + 20));
    CPT_EQ_INT(m->st->inflight[0].subs[cpw_state_sub_index(m->st, 0, 1)].phase, CPW_PH_SYNC);
    feed(m, seq++, ev(CPW_EV_ALIGNMENT_START, 7, 0, 1, T0 + 10)); /* older than the snapshot */
    CPT_EQ_INT(m->st->inflight[0].subs[cpw_state_sub_index(m->st, 0, 1)].phase, CPW_PH_SYNC);
    feed(m, seq++, completed(7, T0 + 100, 100));
    CPT_EQ_INT(m->st->n_inflight, 0);
    feed(m, seq++, ack(7, 0, 0, T0 + 120, 0)); /* late: the checkpoint is history */
    CPT_EQ_INT(m->st->n_inflight, 0);
    CPT_EQ_INT(m->st->counts.completed, 1);
    CPT_EQ_INT(m->gaps, 0);
    CPT_ASSERT(m->st->ignored >= 1);
    /* an event naming an operator the topology lacks changes nothing */
    feed(m, seq++, ack(8, 9, 0, T0 + 130, 0));
    CPT_EQ_INT(m->st->n_inflight, 1); /* checkpoint 8 is known to run */
    CPT_EQ_INT(m->st->inflight[0].acks, 0);
    cpt_model_free(m);
}

CPT_TEST(restore_and_reused_checkpoint_ids)
{
    cpt_model *m = synced_model();
    cpw_event evs[16];
    uint64_t seq = 2;
    int n = whole_cp(evs, 5, T0, 1000);
    for (int i = 0; i < n; i++)
        feed(m, seq++, evs[i]);
    feed(m, seq++, ev(CPW_EV_CP_TRIGGERED, 6, -1, -1, T0 + 2000));
    feed(m, seq++, ack(6, 0, 0, T0 + 2100, 0));
    /* a task fails: the checkpoint in flight fails, the job restores 5 */
    feed(m, seq++, failed(6, T0 + 2200, CPW_FAIL_TASK_FAILURE, "sink#1 failed"));
    cpw_event r = ev(CPW_EV_RESTORED, 5, -1, -1, T0 + 3000);
    r.u.restored.attempt = 1;
    feed(m, seq++, r);
    CPT_EQ_INT(m->st->restored_from, 5);
    CPT_EQ_INT(m->st->counts.restored, 1);
    /* the restarted job numbers from 6 again: a new checkpoint, not a late event */
    n = whole_cp(evs, 6, T0 + 4000, 500);
    for (int i = 0; i < n; i++)
        feed(m, seq++, evs[i]);
    CPT_EQ_INT(m->st->counts.completed, 2);
    CPT_EQ_INT(m->st->counts.failed, 1);
    CPT_EQ_INT(m->st->n_history, 3);
    const cpw_cp *h0 = cpw_state_history(m->st, 0), *h1 = cpw_state_history(m->st, 1);
    CPT_EQ_INT(h0->id, 6);
    CPT_EQ_INT(h0->status, CPW_CP_COMPLETED);
    CPT_EQ_INT(h0->acks, 4);
    CPT_EQ_INT(h1->id, 6);
    CPT_EQ_INT(h1->status, CPW_CP_FAILED);
    CPT_EQ_INT(h1->reason, CPW_FAIL_TASK_FAILURE);
    CPT_EQ_INT(m->st->latest_completed_id, 6);
    /* but without a restore in between, a repeated trigger is a duplicate */
    feed(m, seq++, ev(CPW_EV_CP_TRIGGERED, 6, -1, -1, T0 + 9000));
    CPT_EQ_INT(m->st->n_inflight, 0);
    cpt_model_free(m);
}

CPT_TEST(job_restart_resyncs_and_keeps_the_history)
{
    cpt_model *m = synced_model();
    feed_hello(m, 2, 42, T0);
    cpw_event evs[16];
    uint64_t seq = 3;
    for (int64_t id = 1; id <= 3; id++) {
        int n = whole_cp(evs, id, T0 + id * 1000, 300);
        for (int i = 0; i < n; i++)
            feed(m, seq++, evs[i]);
    }
    CPT_EQ_INT(m->st->n_history, 3);
    /* the process dies; a supervisor starts a new one: seq from 1, new pid */
    feed_hello(m, 1, 43, T0 + 10000000);
    CPT_EQ_INT(m->restarts, 1);
    CPT_ASSERT(m->want_state);
    cpt_model_state_sent(m);
    cpw_event r = ev(CPW_EV_RESTORED, 3, -1, -1, T0 + 10000100);
    feed(m, 2, r);
    cpw_state *st = agent_state(43, &r, 1, 2);
    cpt_model_on_state(m, st, T0 + 10000200);
    CPT_EQ_INT(m->pid, 43);
    CPT_EQ_INT(m->st->hello.pid, 43);
    CPT_EQ_INT(m->st->restored_from, 3);
    /* what the new process does not know is still on screen */
    CPT_EQ_INT(m->st->n_history, 3);
    CPT_EQ_INT(cpw_state_history(m->st, 0)->id, 3);
    CPT_EQ_INT(m->last_seq, 2);
    /* and the new stream goes on from there */
    int n = whole_cp(evs, 4, T0 + 11000000, 300);
    for (int i = 0; i < n; i++)
        feed(m, 3 + (uint64_t)i, evs[i]);
    CPT_EQ_INT(m->st->n_history, 4);
    CPT_EQ_INT(m->gaps, 0);
    cpt_model_free(m);
}

CPT_TEST(silence_is_a_disconnect_and_the_job_coming_back_resyncs)
{
    cpt_model *m = synced_model();
    CPT_EQ_INT(m->link, CPT_LINK_UP);
    feed_heartbeat(m, 2, T0 + 1000000);
    cpt_model_tick(m, T0 + 2000000);
    CPT_EQ_INT(m->link, CPT_LINK_UP);
    cpt_model_tick(m, T0 + 1000000 + CPT_SILENCE_US + 1);
    CPT_EQ_INT(m->link, CPT_LINK_DOWN);
    CPT_ASSERT(strstr(cpt_model_log(m, 0)->u.note, "disconnected"));
    /* history stays while it is away */
    feed_heartbeat(m, 3, T0 + 9000000);
    CPT_EQ_INT(m->link, CPT_LINK_UP);
    CPT_ASSERT(m->want_state);
    cpt_model_free(m);
}

CPT_TEST(event_log_is_bounded_and_newest_first)
{
    cpt_model_conf c = {.history_cap = 10, .detail_cap = 2, .log_cap = 100};
    cpt_model *m = cpt_model_new(&c);
    feed_heartbeat(m, 1, T0);
    cpt_model_state_sent(m);
    cpt_model_on_state(m, agent_state(42, NULL, 0, 2), T0);
    uint64_t seq = 2;
    cpw_event evs[16];
    for (int64_t id = 1; id <= 50; id++) {
        int n = whole_cp(evs, id, T0 + id * 10000, 1000 + id);
        for (int i = 0; i < n; i++)
            feed(m, seq++, evs[i]);
    }
    CPT_EQ_INT(m->log_n, 100);
    CPT_ASSERT(m->log_total >= 300);
    CPT_EQ_INT(cpt_model_log(m, 0)->u.ev.type, CPW_EV_CP_COMPLETED);
    CPT_EQ_INT(cpt_model_log(m, 0)->u.ev.cp_id, 50);
    CPT_ASSERT(cpt_model_log(m, 100) == NULL);
    /* history capped, detail only for the newest two */
    CPT_EQ_INT(m->st->n_history, 10);
    CPT_EQ_INT(cpw_state_history(m->st, 0)->id, 50);
    CPT_EQ_INT(cpw_state_history(m->st, 9)->id, 41);
    CPT_ASSERT(cpw_state_history(m->st, 1)->subs != NULL);
    CPT_ASSERT(cpw_state_history(m->st, 2)->subs == NULL);
    char line[300];
    cpt_model_log_text(m, cpt_model_log(m, 0), line, sizeof line);
    CPT_ASSERT(strstr(line, "cp_completed") && strstr(line, "cp 50"));
    cpt_model_free(m);
}

CPT_TEST(summary_percentiles_and_failures)
{
    cpt_model *m = synced_model();
    uint64_t seq = 2;
    cpw_event evs[16];
    /* 100 completed checkpoints lasting 1..100 ms, in shuffled order */
    for (int64_t i = 1; i <= 100; i++) {
        int64_t d = ((i * 37) % 100 + 1) * 1000;
        int n = whole_cp(evs, i, T0 + i * 1000000, d);
        for (int k = 0; k < n; k++)
            feed(m, seq++, evs[k]);
    }
    feed(m, seq++, ev(CPW_EV_CP_TRIGGERED, 101, -1, -1, T0 + 200000000));
    feed(m, seq++, failed(101, T0 + 201000000, CPW_FAIL_EXPIRED, "Checkpoint expired before completing."));
    feed(m, seq++, ev(CPW_EV_CP_TRIGGERED, 102, -1, -1, T0 + 202000000));
    feed(m, seq++, failed(102, T0 + 202000100, CPW_FAIL_DECLINED, "declined"));
    const cpt_summary *s = cpt_model_summary(m);
    CPT_EQ_INT(s->completed, 100);
    CPT_EQ_INT(s->failed, 2);
    CPT_EQ_INT(s->duration_us.n, 100);
    CPT_EQ_INT(s->duration_us.min, 1000);
    CPT_EQ_INT(s->duration_us.p50, 50000);
    CPT_EQ_INT(s->duration_us.p90, 90000);
    CPT_EQ_INT(s->duration_us.p99, 99000);
    CPT_EQ_INT(s->duration_us.max, 100000);
    CPT_EQ_INT(s->size.p50, 40);
    CPT_EQ_INT(s->alignment_us.max, 10000); /* the sinks align for d/10 */
    CPT_EQ_INT(s->by_reason[CPW_FAIL_EXPIRED], 1);
    CPT_EQ_INT(s->by_reason[CPW_FAIL_DECLINED], 1);
    CPT_EQ_INT(m->st->consecutive_failures, 2);
    /* cached until the history changes, then recomputed */
    CPT_ASSERT(cpt_model_summary(m) == s);
    int n = whole_cp(evs, 103, T0 + 300000000, 1000000);
    for (int k = 0; k < n; k++)
        feed(m, seq++, evs[k]);
    CPT_EQ_INT(cpt_model_summary(m)->duration_us.max, 1000000);
    CPT_EQ_INT(m->st->consecutive_failures, 0);
    cpt_model_free(m);
}

CPT_TEST(bad_frames_and_buffer_overflow_ask_again)
{
    cpt_model *m = synced_model();
    cpt_model_on_bad_frame(m, "truncated", T0);
    CPT_EQ_INT(m->bad_frames, 1);
    CPT_ASSERT(m->want_state);
    cpt_model_state_sent(m);
    /* more than the resync buffer holds arrives before the reply */
    uint64_t seq = 2;
    for (int i = 0; i < 20000; i++)
        feed(m, seq++, ack(1, 0, 0, T0 + i, 0));
    cpt_model_on_state(m, agent_state(42, NULL, 0, 2), T0);
    CPT_ASSERT(m->want_state); /* the buffer overflowed: nothing to trust but a new state */
    cpt_model_state_failed(m, "no reply in time", T0);
    CPT_ASSERT(m->want_state && !m->state_pending);
    cpt_model_free(m);
}

CPT_TEST(log_text_is_sanitised)
{
    cpt_model *m = synced_model();
    cpw_event d = ev(CPW_EV_DECLINE, 1, 0, 1, T0);
    snprintf(d.u.decline.reason, sizeof d.u.decline.reason, "evil\x1b]0;pwned\x07\x1b[2J reason");
    feed(m, 2, d);
    char line[300];
    cpt_model_log_text(m, cpt_model_log(m, 0), line, sizeof line);
    for (const char *p = line; *p; p++)
        CPT_ASSERTF((unsigned char)*p >= 0x20 && *p != 0x7f, "control byte 0x%02x in \"%s\"",
                    (unsigned char)*p, line);
    CPT_ASSERT(strstr(line, "source#1") && strstr(line, "reason"));
    cpt_model_free(m);
}

CPT_TEST(durations_as_flink_writes_them)
{
    int64_t us = 0;
    CPT_ASSERT(cpt_parse_duration_us("30s", &us) && us == 30000000);
    CPT_ASSERT(cpt_parse_duration_us("10 min", &us) && us == 600000000);
    CPT_ASSERT(cpt_parse_duration_us("500 ms", &us) && us == 500000);
    CPT_ASSERT(cpt_parse_duration_us("1h", &us) && us == 3600000000LL);
    CPT_ASSERT(cpt_parse_duration_us("2 min 30 s", &us) && us == 150000000);
    CPT_ASSERT(cpt_parse_duration_us("1500", &us) && us == 1500000);
    CPT_ASSERT(!cpt_parse_duration_us("", &us));
    CPT_ASSERT(!cpt_parse_duration_us("abc", &us));
    CPT_ASSERT(!cpt_parse_duration_us("10 parsecs", &us));
    CPT_ASSERT(!cpt_parse_duration_us("-5s", &us));
    CPT_ASSERT(!cpt_parse_duration_us("99999999999999999999 h", &us));
}

CPT_TEST(messages_already_in_the_state_are_not_a_restart)
{
    cpt_model *m = cpt_model_new(NULL);
    cpt_model_connecting(m, "ipc:///x", T0);
    feed_heartbeat(m, 9, T0);
    cpt_model_state_sent(m);
    /* the agent folded up to 13 before the subscriber saw 10..13 */
    cpw_event evs[16];
    int n = whole_cp(evs, 1, T0, 1000);
    cpw_state *st = cpw_state_new(64, 8);
    snprintf(st->job, sizeof st->job, "payments");
    cpw_hello h = hello_of(42);
    cpw_state_set_hello(st, &h);
    for (int i = 0; i < 4; i++)
        cpw_state_apply(st, &evs[i], 10 + (uint64_t)i);
    cpt_model_on_state(m, st, T0);
    CPT_EQ_INT(m->st->inflight[0].acks, 3);
    uint64_t logged = m->log_total;
    for (int i = 0; i < n; i++)
        feed(m, 10 + (uint64_t)i, evs[i]);
    CPT_EQ_INT(m->restarts, 0);
    CPT_EQ_INT(m->gaps, 0);
    CPT_ASSERT(!m->want_state);
    CPT_EQ_INT(m->log_total, logged + (uint64_t)n); /* every event is in the log */
    CPT_EQ_INT(cpw_state_history(m->st, 0)->acks, 4); /* and none applied twice */
    CPT_EQ_INT(m->st->counts.completed, 1);
    /* a seq going back later is a new process, and says so */
    feed(m, 3, ev(CPW_EV_CP_TRIGGERED, 1, -1, -1, T0 + 5000));
    CPT_EQ_INT(m->restarts, 1);
    CPT_EQ_INT(cpt_model_log(m, 1)->kind, CPT_LOG_NOTE);
    CPT_ASSERT(strstr(cpt_model_log(m, 1)->u.note, "seq went back"));
    cpt_model_free(m);
}

CPT_TEST(a_new_process_numbering_from_one_is_followed)
{
    /* the job's process restarts without restoring anything (a fresh job):
     * its checkpoints 1, 2, 3 are new ones, not repeats of the old 1, 2, 3 */
    cpt_model *m = synced_model();
    feed_hello(m, 2, 42, T0);
    cpw_event evs[16];
    uint64_t seq = 3;
    for (int64_t id = 1; id <= 3; id++) {
        int n = whole_cp(evs, id, T0 + id * 1000, 300);
        for (int i = 0; i < n; i++)
            feed(m, seq++, evs[i]);
    }
    int64_t t1 = T0 + 60000000; /* a minute later, a new process */
    feed_hello(m, 1, 43, t1);
    cpt_model_state_sent(m);
    cpw_state *st = agent_state(43, NULL, 0, 2);
    st->hello.start_ts_us = t1;
    cpt_model_on_state(m, st, t1);
    seq = 2;
    for (int64_t id = 1; id <= 3; id++) {
        int n = whole_cp(evs, id, t1 + id * 1000, 200);
        for (int i = 0; i < n; i++)
            feed(m, seq++, evs[i]);
    }
    CPT_EQ_INT(m->st->n_history, 6);
    /* newest first: the new process's 3, 2, 1, then the old 3, 2, 1 */
    CPT_EQ_INT(cpw_state_history(m->st, 0)->id, 3);
    CPT_EQ_INT(cpw_state_history(m->st, 0)->trigger_ts, t1 + 3000);
    CPT_EQ_INT(cpw_state_history(m->st, 0)->acks, 4);
    CPT_EQ_INT(cpw_state_history(m->st, 2)->id, 1);
    CPT_EQ_INT(cpw_state_history(m->st, 3)->id, 3);
    CPT_EQ_INT(cpw_state_history(m->st, 3)->trigger_ts, T0 + 3000);
    CPT_EQ_INT(m->st->counts.completed, 3); /* the counts are the new process's */
    cpt_model_free(m);
}

/* A job restarted in a container gets the same pid (1) again: its new
 * agent instance is what says it is another process; the same instance
 * republishing its hello (new settings) is not a restart. */
CPT_TEST(a_new_instance_is_a_new_process_even_with_the_same_pid)
{
    static const char a[] = "0123456789abcdef0123456789abcdef";
    static const char b[] = "fedcba9876543210fedcba9876543210";
    cpt_model *m = synced_model();
    feed_hello_of(m, 2, 42, a, T0); /* the process the state came from */
    CPT_EQ_INT(m->restarts, 0);
    CPT_EQ_STR(m->instance, a);
    feed_heartbeat(m, 3, T0 + 1000);
    feed_hello_of(m, 4, 42, a, T0 + 2000); /* republished: same process */
    CPT_EQ_INT(m->restarts, 0);
    CPT_ASSERT(!m->want_state);
    feed_hello_of(m, 5, 42, b, T0 + 3000); /* same pid, another run: a restart */
    CPT_EQ_INT(m->restarts, 1);
    CPT_ASSERT(m->want_state);
    CPT_EQ_STR(m->instance, b);
    cpt_model_free(m);
}
