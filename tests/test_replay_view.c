/*
 * test_replay_view.c — the interactive replay: a recording (a job of two
 * operators × 2 subtasks, heartbeats every second, a checkpoint a second,
 * one that stalls on sink#1 and expires) replayed through the replay source
 * (tui/cpt_src_replay.c) into the dashboard's model, moved with the replay
 * keys as the event loop does (cpt_ui_key, then cpt_replay_do), and drawn
 * by the pure view at the replay position: golden frames of the header at
 * the start, paused mid-way with the stalled checkpoint in flight (main and
 * detail screens), the summary screen mid-way (the checkpoints up to
 * there), at the end, the replay's help and its jump prompt; the keys'
 * effects and refusals; the live keys untouched outside a replay.
 *
 * Golden frames are tests/golden/replay_*.txt; regenerate them after an
 * intended change with CPT_UPDATE_GOLDEN=1 build/tests/test_replay_view.
 */
#include "cpt_rec_session.h"
#include "cpt_source.h"
#include "cpt_golden.h"
#include "cpt_recfix.h"
#include "cpt_test.h"
#include "cpt_ui.h"
#include "cpt_view.h"
#include "cpw_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T0 1800000000000000LL /* 2027-01-15 08:00:00 UTC */
#define SEC 1000000LL
#define JOB "payments"
#define STALL_CP 5            /* sink#1 never acks; expires 3 s after its trigger */
#define LAST_SEC 20

/* ------------------------------------------------------------ the recording */

static void ev(cpt_recfix *r, cpw_event_type t, int op, int sub, int64_t cp, int64_t ts)
{
    cpw_event e = {.type = t, .op = op, .subtask = sub, .cp_id = cp, .ts_us = ts};
    if (t == CPW_EV_CP_FAILED) {
        e.u.failed.reason = CPW_FAIL_EXPIRED;
        snprintf(e.u.failed.message, sizeof e.u.failed.message, "Checkpoint expired before completing.");
    }
    if (t == CPW_EV_ACK)
        e.u.ack.state_size = 4096 * (op + 1);
    if (t == CPW_EV_CP_COMPLETED) {
        e.u.completed.duration_us = 400000;
        e.u.completed.state_size = 2 * (4096 + 8192);
    }
    cpt_recfix_event(r, &e);
}

static void heartbeat(cpt_recfix *r, int64_t ts)
{
    cpt_recfix_flush(r);
    cpw_heartbeat hb = {.emitted = (uint64_t)r->seq, .sent = (uint64_t)r->seq};
    cpw_envelope env = {.job = JOB, .seq = ++r->seq, .ts_us = ts};
    cpw_buf_reset(&r->frame);
    cpw_encode_heartbeat(&r->frame, &env, &hb);
    cpt_recfix_deliver(r, r->frame.data, r->frame.len, ts);
    cpw_buf_reset(&r->frame);
}

static void start(cpt_recfix *r)
{
    static const char *const conf[][2] = {
        {"execution.checkpointing.mode", "EXACTLY_ONCE"},
        {"execution.checkpointing.interval", "1 s"},
        {"execution.checkpointing.timeout", "3 s"},
        {"execution.checkpointing.tolerable-failed-checkpoints", "5"},
    };
    cpw_hello h = {.pid = 4242, .n_ops = 2, .start_ts_us = T0 - 60 * SEC, .n_config = 4};
    snprintf(h.name, sizeof h.name, "payments");
    for (int o = 0; o < 2; o++) {
        snprintf(h.ops[o].name, sizeof h.ops[o].name, o ? "sink" : "source");
        h.ops[o].parallelism = 2;
    }
    for (int i = 0; i < 4; i++) {
        snprintf(h.config_keys[i], sizeof h.config_keys[i], "%s", conf[i][0]);
        snprintf(h.config_values[i], sizeof h.config_values[i], "%s", conf[i][1]);
    }
    cpt_recfix_start(r, &h, T0);
}

/* Checkpoint id, triggered at second id: every subtask acks within 0.3 s,
 * except sink#1 of the stalled one. */
static void checkpoint(cpt_recfix *r, int64_t id)
{
    int64_t t = T0 + id * SEC + 20000;
    ev(r, CPW_EV_CP_TRIGGERED, -1, -1, id, t);
    cpt_recfix_flush(r); /* frames as the agent batches them: a millisecond each */
    for (int o = 0; o < 2; o++)
        for (int k = 0; k < 2; k++) {
            int64_t ts = t + 100000 + o * 50000 + k * 1000;
            ev(r, o ? CPW_EV_BARRIER_RECEIVED : CPW_EV_BARRIER_INJECTED, o, k, id, ts);
            if (id == STALL_CP && o == 1 && k == 1)
                continue;
            ev(r, CPW_EV_SNAPSHOT_START, o, k, id, ts + 100);
            ev(r, CPW_EV_ACK, o, k, id, ts + 200);
        }
    cpt_recfix_flush(r);
    if (id != STALL_CP)
        ev(r, CPW_EV_CP_COMPLETED, -1, -1, id, t + 400000);
    cpt_recfix_flush(r);
}

/* A heartbeat every second, a checkpoint every second but while the
 * stalled one is in flight (it expires at second 8). */
static void make_recording(const char *path)
{
    cpt_recfix r;
    cpt_recfix_open(&r, path, 2 * SEC, JOB);
    start(&r);
    for (int64_t sec = 1; sec <= LAST_SEC; sec++) {
        heartbeat(&r, T0 + sec * SEC);
        if (sec == STALL_CP + 3) {
            ev(&r, CPW_EV_CP_FAILED, -1, -1, STALL_CP, T0 + sec * SEC + 20000);
            cpt_recfix_flush(&r);
        }
        if (sec <= STALL_CP || sec > STALL_CP + 3)
            checkpoint(&r, sec);
    }
    CPT_EQ_INT(r.live->st->counts.failed, 1);
    cpt_recfix_close(&r);
}

/* ------------------------------------------------------------ the dashboard */

/* What cptop_dash.c holds for a replay, driven as its loop drives it. */
typedef struct dash {
    cpt_source *src;
    cpt_replay *rp;
    cpt_model *m;
    cpt_ui ui;
} dash;

static void utc(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
}

static void open_dash(dash *d)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/replayed.cprec", cpt_tmpdir());
    make_recording(path);
    char err[600];
    cpt_src_replay_conf c = {.path = path, .history = 100, .detail = 50};
    memset(d, 0, sizeof *d);
    d->src = cpt_src_replay_new(&c, err, sizeof err);
    CPT_ASSERTF(d->src, "%s", err);
    d->rp = cpt_src_replay_player(d->src);
    CPT_ASSERT(d->rp);
    d->m = cpt_model_new(NULL);
    CPT_EQ_INT(cpt_source_start(d->src, d->m, 0, err, sizeof err), 0);
    cpt_ui_init(&d->ui, false, true);
    d->ui.replay = true;
    cpt_replay_get_info(d->rp, &d->ui.rp);
}

static void close_dash(dash *d)
{
    cpt_model_free(d->m);
    cpt_source_destroy(d->src);
}

/* One key, as the loop handles it; returns the action. */
static cpt_action press(dash *d, int key)
{
    cpw_cmd cmd;
    cpt_action a = cpt_ui_key(&d->ui, d->m, key, &cmd, T0);
    if (a == CPT_ACT_REPLAY) {
        char msg[200];
        bool went = cpt_replay_do(d->rp, d->m, &d->ui.rp_req, msg, sizeof msg);
        cpt_ui_status(&d->ui, !went, T0, "%s", msg);
    }
    cpt_replay_get_info(d->rp, &d->ui.rp);
    return a;
}

static void type(dash *d, const char *s)
{
    for (; *s; s++)
        press(d, (unsigned char)*s);
}

static int64_t pos(dash *d)
{
    return cpt_source_clock(d->src, 0);
}

/* The frame at the replay position (the screens' "now"). */
static cpt_frame render(dash *d, int w, int h)
{
    cpt_frame f = {0};
    CPT_EQ_INT(cpt_frame_resize(&f, w, h), 0);
    cpt_model_tick(d->m, pos(d));
    cpt_view_render(d->m, &d->ui, &f, pos(d));
    return f;
}

static bool has(const cpt_frame *f, const char *needle)
{
    char *t = cpt_frame_text(f);
    bool found = t && strstr(t, needle);
    free(t);
    return found;
}

/* ------------------------------------------------------------ the tests */

CPT_TEST(golden_replay_at_the_start_paused_mid_way_and_at_the_end)
{
    utc();
    dash d;
    open_dash(&d);
    CPT_EQ_INT(pos(&d), T0);
    cpt_frame f = render(&d, 80, 24);
    cpt_golden_check("replay_start_80x24", &f);
    CPT_ASSERT(has(&f, "REPLAY 08:00:00"));
    cpt_frame_free(&f);

    /* paused, then b 08:00:07: the stalled checkpoint 2 s in flight */
    CPT_EQ_INT(press(&d, ' '), CPT_ACT_REPLAY);
    CPT_ASSERT(d.ui.rp.paused);
    CPT_EQ_INT(press(&d, 'b'), CPT_ACT_REDRAW);
    CPT_EQ_INT(d.ui.overlay, CPT_OV_JUMP);
    type(&d, "08:00:07");
    f = render(&d, 80, 24);
    cpt_golden_check("replay_jump_prompt_80x24", &f);
    CPT_ASSERT(has(&f, "jump to: 08:00:07_"));
    cpt_frame_free(&f);
    CPT_EQ_INT(press(&d, CPT_KEY_ENTER), CPT_ACT_REPLAY);
    CPT_EQ_INT(d.ui.overlay, CPT_OV_NONE);
    CPT_EQ_INT(pos(&d), T0 + 7 * SEC);
    CPT_EQ_INT(d.m->st->n_inflight, 1);
    CPT_EQ_INT(d.m->st->inflight[0].id, STALL_CP);
    CPT_EQ_INT(d.m->st->inflight[0].acks, 3);
    CPT_EQ_STR(d.ui.status, "jumped to '08:00:07': at 08:00:07");
    f = render(&d, 80, 24);
    cpt_golden_check("replay_paused_80x24", &f);
    CPT_ASSERT(has(&f, "PAUSED"));
    cpt_frame_free(&f);
    /* its detail, at the position */
    CPT_EQ_INT(press(&d, CPT_KEY_ENTER), CPT_ACT_REDRAW);
    CPT_EQ_INT(d.ui.screen, CPT_SCR_DETAIL);
    f = render(&d, 80, 24);
    cpt_golden_check("replay_detail_paused_80x24", &f);
    cpt_frame_free(&f);
    press(&d, CPT_KEY_ESC);

    /* Z: the end; the stalled one is in the history as expired */
    CPT_EQ_INT(press(&d, 'Z'), CPT_ACT_REPLAY);
    CPT_ASSERT(d.ui.rp.at_end);
    CPT_EQ_INT(d.m->st->n_inflight, 0);
    CPT_EQ_INT(d.m->st->counts.failed, 1);
    f = render(&d, 80, 24);
    cpt_golden_check("replay_end_80x24", &f);
    CPT_ASSERT(has(&f, "     5 failed    aligned   08:00:05      3.0s"));
    CPT_ASSERT(has(&f, "EXPIRED"));
    cpt_frame_free(&f);

    press(&d, '?');
    f = render(&d, 80, 24);
    cpt_golden_check("replay_help_80x24", &f);
    cpt_frame_free(&f);
    close_dash(&d);
}

/* The summary screen (s) at a position mid-way shows the checkpoints up to
 * there, not the whole recording's: at 08:00:10, 1-4 and 9 completed and
 * 5 expired (the end has 16 completed). */
CPT_TEST(golden_replay_summary_mid_way)
{
    utc();
    dash d;
    open_dash(&d);
    press(&d, ' ');
    press(&d, 'b');
    type(&d, "08:00:10");
    CPT_EQ_INT(press(&d, CPT_KEY_ENTER), CPT_ACT_REPLAY);
    CPT_EQ_INT(pos(&d), T0 + 10 * SEC);
    CPT_EQ_INT(d.m->st->counts.completed, 5);
    CPT_EQ_INT(d.m->st->counts.failed, 1);
    CPT_EQ_INT(press(&d, 's'), CPT_ACT_REDRAW);
    CPT_EQ_INT(d.ui.screen, CPT_SCR_SUMMARY);
    cpt_frame f = render(&d, 80, 24);
    cpt_golden_check("replay_summary_mid_80x24", &f);
    CPT_ASSERT(has(&f, "REPLAY 08:00:10"));
    CPT_ASSERT(has(&f, "Summary of the 6 retained checkpoints (5 completed, 1 failed)"));
    CPT_ASSERT(has(&f, "1  CHECKPOINT_EXPIRED"));
    cpt_frame_free(&f);
    /* Z: the same screen at the end covers the whole recording */
    CPT_EQ_INT(press(&d, 'Z'), CPT_ACT_REPLAY);
    CPT_EQ_INT(d.ui.screen, CPT_SCR_SUMMARY);
    f = render(&d, 80, 24);
    CPT_ASSERT(has(&f, "Summary of the 17 retained checkpoints (16 completed, 1 failed)"));
    cpt_frame_free(&f);
    close_dash(&d);
}

/* Small terminals: the replay line gives up its bar, then its right part,
 * and nothing is drawn outside the frame. */
CPT_TEST(replay_line_in_small_terminals)
{
    utc();
    dash d;
    open_dash(&d);
    press(&d, ' ');
    static const int sizes[][2] = {{60, 16}, {40, 10}, {20, 6}, {20, 5}, {8, 4}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        cpt_frame f = render(&d, sizes[i][0], sizes[i][1]);
        char *t = cpt_frame_text(&f);
        CPT_ASSERT(t);
        /* from 6 rows up (below, the status line takes its row) */
        CPT_ASSERTF(sizes[i][0] < 16 || sizes[i][1] < 6 || strstr(t, "REPLAY 08:00:00"),
                    "%dx%d:\n%s", sizes[i][0], sizes[i][1], t);
        CPT_ASSERT(sizes[i][0] < 40 || strstr(t, "PAUSED"));
        free(t);
        cpt_frame_free(&f);
    }
    close_dash(&d);
}

CPT_TEST(replay_keys_move_the_position)
{
    utc();
    dash d;
    open_dash(&d);
    press(&d, ' ');
    press(&d, ']');
    CPT_EQ_INT(pos(&d), T0 + 10 * SEC);
    CPT_EQ_STR(d.ui.status, "10 s forward: at 08:00:10");
    press(&d, '[');
    CPT_EQ_INT(pos(&d), T0);
    CPT_EQ_STR(d.ui.status, "10 s back: at 08:00:00");
    /* t: the next checkpoint event (1 triggered, then completed); T back */
    press(&d, 't');
    CPT_EQ_INT(d.m->st->n_inflight, 1);
    int64_t trig = pos(&d);
    CPT_ASSERT(trig > T0 + SEC && trig < T0 + 2 * SEC);
    press(&d, 't');
    CPT_EQ_INT(d.m->st->n_inflight, 0);
    CPT_EQ_INT(d.m->st->counts.completed, 1);
    press(&d, 'T');
    CPT_EQ_INT(pos(&d), trig);
    CPT_EQ_INT(d.m->st->n_inflight, 1);
    /* relative times: +Ns after the start, -Ns before the end */
    press(&d, 'b');
    type(&d, "+6s");
    press(&d, CPT_KEY_ENTER);
    CPT_EQ_INT(pos(&d), T0 + 6 * SEC);
    CPT_EQ_INT(d.m->st->inflight[0].id, STALL_CP);
    cpt_replay_info in;
    cpt_replay_get_info(d.rp, &in);
    press(&d, 'b');
    type(&d, "-2s");
    press(&d, CPT_KEY_ENTER);
    CPT_EQ_INT(pos(&d), in.last_us - 2 * SEC);
    /* bad input names itself; nothing moves */
    press(&d, 'b');
    type(&d, "soon");
    press(&d, CPT_KEY_ENTER);
    CPT_EQ_INT(pos(&d), in.last_us - 2 * SEC);
    CPT_ASSERT(d.ui.status_bad);
    CPT_ASSERT(strstr(d.ui.status, "'soon' is not a time") != NULL);
    press(&d, 'b');
    type(&d, "09:30");
    press(&d, CPT_KEY_ENTER);
    CPT_ASSERT(strstr(d.ui.status, "'09:30' is outside the recording (08:00:00 to 08:00:2") != NULL);
    /* Esc leaves the prompt without moving */
    press(&d, 'b');
    type(&d, "+1s");
    press(&d, CPT_KEY_ESC);
    CPT_EQ_INT(d.ui.overlay, CPT_OV_NONE);
    CPT_EQ_INT(pos(&d), in.last_us - 2 * SEC);
    /* r: the start; Z: the end */
    press(&d, 'r');
    CPT_EQ_INT(pos(&d), T0);
    CPT_EQ_INT(d.m->st->counts.completed, 0);
    press(&d, 'Z');
    CPT_EQ_INT(pos(&d), in.last_us);
    CPT_EQ_INT(d.m->st->counts.completed, LAST_SEC - 4);
    /* speed: 1x 2x 10x 100x max, and back, stopping at the ends */
    static const int up[] = {2, 10, 100, 0, 0};
    for (int i = 0; i < 5; i++) {
        press(&d, '+');
        CPT_EQ_INT(d.ui.rp.speed, up[i]);
    }
    CPT_EQ_STR(d.ui.status, "speed: as fast as possible (paused)");
    for (int i = 0; i < 5; i++)
        press(&d, '-');
    CPT_EQ_INT(d.ui.rp.speed, 1);
    CPT_EQ_STR(d.ui.status, "speed 1x (paused)");
    press(&d, ' ');
    CPT_ASSERT(!d.ui.rp.paused);
    close_dash(&d);
}

CPT_TEST(playing_moves_the_clock_and_the_model)
{
    utc();
    dash d;
    open_dash(&d);
    /* the first tick sets the clock; later ones play what is due */
    cpt_source_tick(d.src, d.m, 0);
    press(&d, '+');
    press(&d, '+');
    press(&d, '+'); /* 100x */
    for (int i = 0; i < 40 && !d.ui.rp.at_end; i++) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
        cpt_source_tick(d.src, d.m, 0);
        cpt_replay_get_info(d.rp, &d.ui.rp);
    }
    CPT_ASSERT(pos(&d) > T0 + SEC);
    CPT_ASSERT(d.m->st->counts.completed > 0);
    /* paused: no time is wanted, nothing moves */
    press(&d, ' ');
    int64_t at = pos(&d);
    struct pollfd pfd[4];
    int64_t next = INT64_MAX;
    CPT_EQ_INT(cpt_source_pollfds(d.src, pfd, 4, &next), 0);
    CPT_EQ_INT(next, INT64_MAX);
    cpt_source_tick(d.src, d.m, 0);
    CPT_EQ_INT(pos(&d), at);
    close_dash(&d);
}

CPT_TEST(a_replay_is_read_only_and_says_so)
{
    dash d;
    open_dash(&d);
    CPT_EQ_STR(cpt_source_kind(d.src), "replay");
    CPT_EQ_INT(cpt_source_caps(d.src, d.m), 0);
    char err[300], desc[300];
    cpt_source_describe(d.src, desc, sizeof desc);
    CPT_EQ_STR(desc, "replay of replayed.cprec");
    cpw_cmd c = {.type = CPW_CMD_TRIGGER, .op = -1, .subtask = -1};
    CPT_EQ_INT(cpt_source_send_cmd(d.src, &c, err, sizeof err), -1);
    CPT_ASSERT(strstr(err, "a replay shows a recording") != NULL);
    c.type = CPW_CMD_ABORT;
    CPT_EQ_INT(cpt_source_send_cmd(d.src, &c, err, sizeof err), -1);
    CPT_EQ_STR(err, "a replay shows a recording: it cannot abort a checkpoint");
    CPT_EQ_STR(cpt_source_cannot(d.src, CPT_CAP_CONFIG),
               "a replay shows a recording: it cannot change settings");
    /* every capability has a sentence (the dashboard asks for the job list's) */
    CPT_EQ_STR(cpt_source_cannot(d.src, CPT_CAP_JOBS), "a replay shows the one job it recorded");
    for (unsigned cap = 1; cap <= CPT_CAP_JOBS; cap <<= 1)
        CPT_ASSERT(cpt_source_cannot(d.src, (cpt_src_cap)cap)[0] != 0);
    CPT_ASSERT(cpt_ui_replay_takes(&d.ui, 't'));
    CPT_ASSERT(!cpt_ui_replay_takes(&d.ui, 'a'));
    close_dash(&d);
}

CPT_TEST(live_keys_are_untouched_outside_a_replay)
{
    cpt_model *m = cpt_model_new(NULL);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpw_cmd cmd;
    CPT_EQ_INT(cpt_ui_key(&ui, m, 't', &cmd, T0), CPT_ACT_COMMAND);
    CPT_EQ_INT(cmd.type, CPW_CMD_TRIGGER);
    static const int replay_only[] = {' ', 'T', ']', '[', 'b', 'r', 'Z', '+', '-'};
    for (size_t i = 0; i < sizeof replay_only / sizeof replay_only[0]; i++) {
        CPT_EQ_INT(cpt_ui_key(&ui, m, replay_only[i], &cmd, T0), CPT_ACT_NONE);
        CPT_ASSERT(!cpt_ui_replay_takes(&ui, replay_only[i]));
    }
    CPT_EQ_INT(ui.overlay, CPT_OV_NONE);
    cpt_model_free(m);
}

/* Recorded Flink REST bodies (here a HistoryServer archive, imported as
 * such) replay through the Flink translator into the same model: the job,
 * its state and topology, on the same screens. */
CPT_TEST(a_flink_archive_replays_through_the_translator)
{
    utc();
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__ + 1) : 0;
    char path[512], err[600];
    snprintf(path, sizeof path,
             "%.*sfixtures/flink/historyserver-archive-flink1.15-checkpointing-off.json", dir,
             __FILE__);
    cpt_src_replay_conf c = {.path = path, .history = 100, .detail = 50};
    dash d = {.src = cpt_src_replay_new(&c, err, sizeof err)};
    CPT_ASSERTF(d.src, "%s", err);
    d.rp = cpt_src_replay_player(d.src);
    d.m = cpt_model_new(NULL);
    CPT_EQ_INT(cpt_source_start(d.src, d.m, 0, err, sizeof err), 0);
    cpt_ui_init(&d.ui, false, true);
    d.ui.replay = true;
    cpt_replay_get_info(d.rp, &d.ui.rp);
    CPT_EQ_STR(d.m->st->hello.name, "test555");
    CPT_EQ_INT(d.m->st->status, CPW_JOB_FAILED);
    CPT_EQ_INT(d.m->st->hello.n_ops, 1);
    cpt_frame f = render(&d, 100, 24);
    CPT_ASSERT(has(&f, "cptop test555"));
    CPT_ASSERT(has(&f, "FAILED"));
    CPT_ASSERT(has(&f, "REPLAY 03:58:22"));
    cpt_frame_free(&f);
    /* a seek starts the translator over: the same state again */
    press(&d, 'r');
    CPT_EQ_STR(d.m->st->hello.name, "test555");
    CPT_EQ_INT(d.m->st->status, CPW_JOB_FAILED);
    close_dash(&d);
}
