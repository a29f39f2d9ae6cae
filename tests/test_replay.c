/*
 * test_replay.c — a recording played back into the model (tui/cpt_replay.c):
 * a job of 2 operators × 4 subtasks recorded through cpt_rec_session as the
 * agent sends it (hello, the get_state reply, NDJSON frames of events),
 * with a checkpoint that stalls on one subtask and expires. The replay must
 * show, at each position, exactly the state the live model had there: in
 * flight with the subtask it still waits on, then failed as expired; and
 * seeking back and forth, to the next and previous checkpoint, lands on
 * the same states.
 */
#include "cpt_rec_session.h"
#include "cpt_replay.h"
#include "cpt_recfix.h"
#include "cpt_test.h"
#include "cpw_state.h"

#define T0 1767225600000000LL
#define SEC 1000000LL
#define JOB "replay-job"
#define STALL_CP 5         /* op 1 subtask 2 never acks; expires 3 s later */

static void ev(cpt_recfix *r, cpw_event_type t, int op, int sub, int64_t cp, int64_t ts)
{
    cpw_event e = {.type = t, .op = op, .subtask = sub, .cp_id = cp, .ts_us = ts};
    if (t == CPW_EV_CP_FAILED)
        e.u.failed.reason = CPW_FAIL_EXPIRED;
    cpt_recfix_event(r, &e);
}

static void start(cpt_recfix *r)
{
    cpw_hello h = {.pid = 77, .n_ops = 2};
    snprintf(h.name, sizeof h.name, "replayed");
    for (int o = 0; o < 2; o++) {
        snprintf(h.ops[o].name, sizeof h.ops[o].name, o ? "sink" : "source");
        h.ops[o].parallelism = 4;
    }
    cpt_recfix_start(r, &h, T0);
}

/* Checkpoint id, triggered at second id: every subtask acks within 0.5 s,
 * except the stalled one. */
static void checkpoint(cpt_recfix *r, int64_t id)
{
    int64_t t = T0 + id * SEC;
    ev(r, CPW_EV_CP_TRIGGERED, -1, -1, id, t);
    for (int o = 0; o < 2; o++)
        for (int k = 0; k < 4; k++) {
            int64_t ts = t + 100000 + o * 50000 + k * 1000;
            ev(r, o ? CPW_EV_BARRIER_RECEIVED : CPW_EV_BARRIER_INJECTED, o, k, id, ts);
            if (id == STALL_CP && o == 1 && k == 2)
                continue;
            ev(r, CPW_EV_SNAPSHOT_START, o, k, id, ts + 100);
            ev(r, CPW_EV_ACK, o, k, id, ts + 200);
        }
    if (id == STALL_CP) {
        cpt_recfix_flush(r);
        ev(r, CPW_EV_CP_FAILED, -1, -1, id, t + 3 * SEC);
    } else {
        ev(r, CPW_EV_CP_COMPLETED, -1, -1, id, t + 400000);
    }
    cpt_recfix_flush(r);
}

/* Records 20 checkpoints (the stalled one holds the next three back) and
 * returns the live model's completed count at each whole second. */
static void make_recording(const char *path, int64_t *completed_at)
{
    cpt_recfix r;
    cpt_recfix_open(&r, path, 2 * SEC, JOB);
    start(&r);
    for (int64_t id = 1; id <= 20; id++) {
        if (id > STALL_CP && id <= STALL_CP + 3)
            continue; /* max one in flight: nothing triggered until it expires */
        checkpoint(&r, id);
        completed_at[id] = r.live->st->counts.completed;
    }
    CPT_EQ_INT(r.live->st->counts.failed, 1);
    cpt_recfix_close(&r);
}

static const char *rec_path(void)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/session.cprec", cpt_tmpdir());
    return p;
}

CPT_TEST(seek_shows_the_stalled_checkpoint_in_flight_then_expired)
{
    int64_t completed[21] = {0};
    make_recording(rec_path(), completed);
    char err[300];
    cpt_replay *rp = cpt_replay_open(rec_path(), NULL, NULL, NULL, err, sizeof err);
    CPT_ASSERTF(rp, "%s", err);
    cpt_model *m = cpt_model_new(NULL);
    /* 2 s after the stalled one's trigger: in flight, 7 of 8 acked */
    cpt_replay_seek(rp, m, T0 + STALL_CP * SEC + 2 * SEC);
    CPT_EQ_INT(m->st->n_inflight, 1);
    const cpw_cp *cp = &m->st->inflight[0];
    CPT_EQ_INT(cp->id, STALL_CP);
    CPT_EQ_INT(cp->acks, 7);
    CPT_ASSERT(cp->subs != NULL);
    int idx = cpw_state_sub_index(m->st, 1, 2);
    CPT_ASSERT(idx >= 0);
    CPT_ASSERT(cp->subs[idx].phase != CPW_PH_ACKED);
    CPT_EQ_INT(cp->subs[cpw_state_sub_index(m->st, 1, 1)].phase, CPW_PH_ACKED);
    CPT_EQ_INT(m->st->counts.completed, STALL_CP - 1);
    /* after its expiry: failed, as expired, and nothing in flight */
    cpt_replay_seek(rp, m, T0 + STALL_CP * SEC + 3 * SEC + 500000);
    CPT_EQ_INT(m->st->n_inflight, 0);
    CPT_EQ_INT(m->st->counts.failed, 1);
    const cpw_cp *h = cpw_state_history(m->st, 0);
    CPT_EQ_INT(h->id, STALL_CP);
    CPT_EQ_INT(h->status, CPW_CP_FAILED);
    CPT_EQ_INT(h->reason, CPW_FAIL_EXPIRED);
    /* every second, forwards then backwards: what the live model had */
    for (int dir = 0; dir < 2; dir++)
        for (int i = 1; i <= 20; i++) {
            int64_t id = dir ? 21 - i : i;
            if (id > STALL_CP && id <= STALL_CP + 3)
                continue;
            int64_t end = id == STALL_CP ? 3 * SEC : 400000;
            cpt_replay_seek(rp, m, T0 + id * SEC + end + 100000);
            CPT_EQ_INT(m->st->counts.completed, completed[id]);
            CPT_EQ_INT(m->st->n_inflight, 0);
        }
    cpt_model_free(m);
    cpt_replay_free(rp);
}

CPT_TEST(next_and_previous_checkpoint_and_playback)
{
    int64_t completed[21] = {0};
    make_recording(rec_path(), completed);
    char err[300];
    cpt_replay *rp = cpt_replay_open(rec_path(), NULL, NULL, NULL, err, sizeof err);
    cpt_model *m = cpt_model_new(NULL);
    cpt_replay_seek(rp, m, T0 + 2 * SEC + 500000); /* after checkpoint 2 completed */
    CPT_ASSERT(cpt_replay_find_cp(rp, m, +1));      /* 3 triggered */
    cpt_replay_info in;
    cpt_replay_get_info(rp, &in);
    /* the receive time of the frame that carried the trigger */
    int64_t trig = in.pos_us;
    CPT_ASSERT(trig >= T0 + 3 * SEC && trig < T0 + 3 * SEC + 400000);
    CPT_EQ_INT(m->st->n_inflight, 1);
    CPT_ASSERT(cpt_replay_find_cp(rp, m, +1));      /* 3 completed */
    cpt_replay_get_info(rp, &in);
    CPT_ASSERT(in.pos_us > T0 + 3 * SEC && in.pos_us < T0 + 4 * SEC);
    CPT_EQ_INT(m->st->n_inflight, 0);
    CPT_ASSERT(cpt_replay_find_cp(rp, m, -1));      /* back to 3 triggered */
    cpt_replay_get_info(rp, &in);
    CPT_EQ_INT(in.pos_us, trig);
    CPT_EQ_INT(m->st->n_inflight, 1);
    CPT_EQ_INT(m->st->inflight[0].id, 3);

    /* the clock: paused nothing moves; 10x moves ten times the wall time */
    cpt_replay_seek(rp, m, T0 + 8 * SEC);
    cpt_replay_pause(rp, true);
    cpt_replay_play(rp, m, 1000000);
    cpt_replay_play(rp, m, 2000000);
    cpt_replay_get_info(rp, &in);
    CPT_EQ_INT(in.pos_us, T0 + 8 * SEC);
    cpt_replay_pause(rp, false);
    cpt_replay_speed(rp, +1);
    cpt_replay_speed(rp, +1); /* 10x */
    cpt_replay_play(rp, m, 3000000);
    cpt_replay_play(rp, m, 3300000);
    cpt_replay_get_info(rp, &in);
    CPT_EQ_INT(in.speed, 10);
    CPT_EQ_INT(in.pos_us, T0 + 11 * SEC);
    CPT_EQ_INT(m->st->counts.completed, completed[10]);
    for (int i = 0; i < 5; i++)
        cpt_replay_speed(rp, +1);
    cpt_replay_get_info(rp, &in);
    CPT_EQ_INT(in.speed, 0); /* as fast as possible */
    while (cpt_replay_play(rp, m, 4000000) > 0)
        ;
    cpt_replay_get_info(rp, &in);
    CPT_ASSERT(in.at_end);
    CPT_EQ_INT(m->st->counts.completed, completed[20]);
    cpt_model_free(m);
    cpt_replay_free(rp);
}

/* A keyframe made the seek: the first chunk's hello and reply are not
 * needed to know the job past the first chunk. */
CPT_TEST(a_seek_replays_one_chunk_at_most)
{
    int64_t completed[21] = {0};
    make_recording(rec_path(), completed);
    char err[300];
    cpt_replay *rp = cpt_replay_open(rec_path(), NULL, NULL, NULL, err, sizeof err);
    cpt_model *m = cpt_model_new(NULL);
    int n = cpt_replay_seek(rp, m, T0 + 15 * SEC);
    CPT_ASSERTF(n < 40, "%d records replayed", n); /* 2 s chunks: a few frames */
    CPT_EQ_INT(m->st->hello.n_ops, 2);
    CPT_EQ_STR(m->st->job, JOB);
    CPT_EQ_INT(m->st->counts.completed, completed[14]);
    CPT_ASSERT(!m->want_state);
    cpt_model_free(m);
    cpt_replay_free(rp);
}
