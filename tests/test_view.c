/* test_view.c — cptop's pure render compared with golden frames, the
 * colour roles of what matters, and the keys' effects on the ui state.
 *
 * Golden frames live in tests/golden/NAME.txt. After an intended change of
 * the view, regenerate them with CPT_UPDATE_GOLDEN=1 make test T=test_view
 * and review the diff. */
#include "cpt_frame.h"
#include "cpt_model.h"
#include "cpt_golden.h"
#include "cpt_test.h"
#include "cpt_ui.h"
#include "cpt_view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW 1800000000000000LL /* 2027-01-15 08:00:00 UTC */
#define S 1000000LL

static const char *const op_names[4] = {"source", "parse", "aggregate", "sink"};

static void utc(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
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

typedef struct feeder {
    cpt_model *m;
    uint64_t seq;
} feeder;

static void put_ev(feeder *fd, cpw_event e)
{
    cpw_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.kind = CPW_K_EVENT;
    snprintf(msg.job, sizeof msg.job, "payments");
    msg.seq = ++fd->seq;
    msg.ev = e;
    cpt_model_on_msg(fd->m, &msg, NOW);
}

/* How a subtask takes its part in a checkpoint: aligned; unaligned from
 * its first barrier (no alignment, in-flight bytes persisted); or aligning
 * (aggregate only) until the aligned-checkpoint-timeout, then switching. */
enum { SUB_ALIGNED, SUB_UNALIGNED, SUB_SWITCHES };

/* The in-flight bytes a subtask persists when it is unaligned. */
static int64_t persisted_of(int op, int sub)
{
    return op * 3000 + sub * 512;
}

/* One subtask going through every phase of checkpoint id: barrier at +d,
 * alignment (aggregate only, unless unaligned), sync, async, ack. */
static void subtask_phases_as(feeder *fd, int how, int64_t id, int op, int sub, int64_t t0, int64_t d,
                              int64_t align, int64_t sync, int64_t async, int until_phase)
{
    int64_t t = t0 + d;
    put_ev(fd, ev(op == 0 ? CPW_EV_BARRIER_INJECTED : CPW_EV_BARRIER_RECEIVED, id, op, sub, t));
    if (until_phase == CPW_PH_PENDING)
        return;
    bool aligns = op == 2 && how != SUB_UNALIGNED;
    if (aligns) {
        put_ev(fd, ev(CPW_EV_ALIGNMENT_START, id, op, sub, t));
        if (until_phase == CPW_PH_ALIGNING)
            return;
        cpw_event e;
        if (how == SUB_SWITCHES) {
            e = ev(CPW_EV_SWITCHED_TO_UNALIGNED, id, op, sub, t + align);
            e.u.switched.elapsed_us = align;
            e.u.switched.timeout_us = align;
            put_ev(fd, e);
        }
        e = ev(CPW_EV_ALIGNMENT_END, id, op, sub, t + align);
        e.u.alignment.duration_us = align;
        e.u.alignment.buffered_bytes = 4096;
        put_ev(fd, e);
        t += align;
    }
    put_ev(fd, ev(CPW_EV_SNAPSHOT_START, id, op, sub, t));
    if (until_phase == CPW_PH_SYNC)
        return;
    cpw_event e = ev(CPW_EV_SNAPSHOT_SYNC_DONE, id, op, sub, t + sync);
    e.u.sync.duration_us = sync;
    put_ev(fd, e);
    t += sync;
    if (until_phase == CPW_PH_ASYNC)
        return;
    e = ev(CPW_EV_SNAPSHOT_ASYNC_DONE, id, op, sub, t + async);
    e.u.async.duration_us = async;
    e.u.async.bytes = 1000 * (op + 1);
    put_ev(fd, e);
    t += async;
    e = ev(CPW_EV_ACK, id, op, sub, t + 10);
    e.u.ack.state_size = 2000 * (op + 1);
    e.u.ack.checkpointed_size = 1000 * (op + 1);
    e.u.ack.start_delay_us = d;
    e.u.ack.alignment_us = aligns ? align : 0;
    e.u.ack.sync_us = sync;
    e.u.ack.async_us = async;
    if (how != SUB_ALIGNED) {
        e.u.ack.unaligned = 1;
        e.u.ack.persisted_data = persisted_of(op, sub);
    }
    put_ev(fd, e);
}

static void subtask_phases(feeder *fd, int64_t id, int op, int sub, int64_t t0, int64_t d,
                           int64_t align, int64_t sync, int64_t async, int until_phase)
{
    subtask_phases_as(fd, SUB_ALIGNED, id, op, sub, t0, d, align, sync, async, until_phase);
}

/* A whole checkpoint, triggered with alignment al: unaligned, every subtask
 * is; with the timeout, aggregate#1 and #2 switch. */
static void whole_cp_as(feeder *fd, int64_t id, int64_t t0, int64_t scale, cpw_trigger_kind kind,
                        cpw_alignment al)
{
    cpw_event e = ev(CPW_EV_CP_TRIGGERED, id, -1, -1, t0);
    e.u.triggered.kind = kind;
    e.u.triggered.alignment = al;
    put_ev(fd, e);
    int64_t end = t0;
    for (int op = 0; op < 4; op++)
        for (int s = 0; s < 4; s++) {
            int64_t d = scale * (1 + op * 2) + s * 100;
            int64_t async = scale * (op == 3 && s == 2 ? 12 : 3); /* sink#2 is slow to upload */
            int how = al == CPW_ALIGN_UNALIGNED ? SUB_UNALIGNED
                    : al == CPW_ALIGN_TIMEOUT && op == 2 && (s == 1 || s == 2) ? SUB_SWITCHES : SUB_ALIGNED;
            subtask_phases_as(fd, how, id, op, s, t0, d, how == SUB_UNALIGNED ? 0 : scale * 2, scale / 2,
                              async, CPW_PH_ACKED);
            int64_t t = t0 + d + (op == 2 && how != SUB_UNALIGNED ? scale * 2 : 0) + scale / 2 + async + 10;
            end = t > end ? t : end;
        }
    e = ev(CPW_EV_CP_COMPLETED, id, -1, -1, end + 500);
    e.u.completed.duration_us = end + 500 - t0;
    e.u.completed.state_size = 4 * (2000 + 4000 + 6000 + 8000);
    e.u.completed.checkpointed_size = 4 * (1000 + 2000 + 3000 + 4000) + id * 37;
    put_ev(fd, e);
    put_ev(fd, ev(CPW_EV_CP_COMMITTED, id, -1, -1, end + 900));
}

static void whole_cp(feeder *fd, int64_t id, int64_t t0, int64_t scale, cpw_trigger_kind kind)
{
    whole_cp_as(fd, id, t0, scale, kind, CPW_ALIGN_ALIGNED);
}

/* The failure table the goldens show (the demo job's kinds, built here so
 * that the goldens do not change with the demo job). */
static void demo_failures(cpw_hello *h, const char *evil)
{
    static const struct {
        const char *kind, *label;
        bool subtask;
        const char *param, *unit, *help;
        int64_t min, max, def;
    } t[] = {
        {"kill", "kill a subtask (task failure, restart from the last checkpoint)", true, NULL, NULL, NULL, 0, 0, 0},
        {"stall", "stall the next barrier at a subtask", true, "ms", "ms",
         "how long the barrier is held", 1, 3600000, 12000},
        {"decline", "decline the next checkpoint at a subtask", true, NULL, NULL, NULL, 0, 0, 0},
        {"fail-storage", "fail the next storage writes", false, "count", "", "how many writes fail",
         1, 1000, 3},
        {"slow-storage", "slow storage writes down (0 ms: back to normal)", false, "ms", "ms",
         "extra ms per write", 0, 600000, 500},
        {"fail-commit", "fail the next sink commit", false, NULL, NULL, NULL, 0, 0, 0},
        {"crash", "crash the whole job process (a supervisor restarts it)", false, NULL, NULL, NULL, 0, 0, 0},
        {"broker-down", "take the Kafka broker down for a while", false, "secs", "s",
         "how long every broker is down", 1, 600, 5},
        {"kafka-latency", "add Kafka round-trip latency (0 ms: none)", false, "ms", "ms",
         "added round trip", 0, 10000, 500},
    };
    h->has_failures = true;
    h->n_failures = (int)(sizeof t / sizeof t[0]);
    for (int i = 0; i < h->n_failures; i++) {
        cpw_failure_kind *k = &h->failures[i];
        snprintf(k->kind, sizeof k->kind, "%s", t[i].kind);
        snprintf(k->label, sizeof k->label, "%s", evil && i == 1 ? evil : t[i].label);
        k->subtask = t[i].subtask;
        if (!t[i].param)
            continue;
        k->n_params = 1;
        snprintf(k->params[0].name, sizeof k->params[0].name, "%s", t[i].param);
        snprintf(k->params[0].unit, sizeof k->params[0].unit, "%s", t[i].unit);
        snprintf(k->params[0].help, sizeof k->params[0].help, "%s", evil && i == 1 ? evil : t[i].help);
        k->params[0].min = t[i].min;
        k->params[0].max = t[i].max;
        k->params[0].def = t[i].def;
    }
}

static cpw_hello demo_hello(const char *evil)
{
    cpw_hello h;
    memset(&h, 0, sizeof h);
    snprintf(h.name, sizeof h.name, "payments");
    h.pid = 4242;
    h.start_ts_us = NOW - 3723 * S;
    h.n_ops = 4;
    for (int i = 0; i < 4; i++) {
        snprintf(h.ops[i].name, sizeof h.ops[i].name, "%s", evil && i == 2 ? evil : op_names[i]);
        h.ops[i].parallelism = 4;
    }
    const char *kv[][2] = {
        {"execution.checkpointing.interval", "2 s"},
        {"execution.checkpointing.mode", "EXACTLY_ONCE"},
        {"execution.checkpointing.timeout", "20 s"},
        {"execution.checkpointing.tolerable-failed-checkpoints", "2"},
    };
    h.n_config = 4;
    for (int i = 0; i < 4; i++) {
        snprintf(h.config_keys[i], CPW_NAME_MAX, "%s", kv[i][0]);
        snprintf(h.config_values[i], CPW_VALUE_MAX, "%s", kv[i][1]);
    }
    demo_failures(&h, evil);
    return h;
}

/* The job the goldens show: 40 finished checkpoints (two failed) and
 * checkpoint 41 in flight, its barriers part of the way through. With
 * unaligned: 33, 34 and 40 were unaligned, 37 and 39 switched (aggregate#1
 * and #2 after aligning), and 41 was triggered aligned with the timeout,
 * aggregate#1 and #2 switching and taking their snapshots. */
static cpt_model *demo_model_as(const char *evil_op, const char *evil_msg, bool unaligned)
{
    cpt_model *m = cpt_model_new(NULL);
    CPT_ASSERT(m);
    cpt_model_connecting(m, "ipc:///run/cptop/payments.events", NOW - 100 * S);
    cpw_state *st = cpw_state_new(64, 8);
    snprintf(st->job, sizeof st->job, "payments");
    cpw_hello h = demo_hello(evil_op);
    cpw_state_set_hello(st, &h);
    st->status = CPW_JOB_RUNNING;
    st->seq = 1;
    cpw_msg hb;
    memset(&hb, 0, sizeof hb);
    hb.kind = CPW_K_HEARTBEAT;
    hb.seq = 1;
    cpt_model_on_msg(m, &hb, NOW - 100 * S);
    cpt_model_state_sent(m);
    cpt_model_on_state(m, st, NOW - 100 * S);
    feeder fd = {m, 1};
    for (int64_t id = 1; id <= 40; id++) {
        int64_t t0 = NOW - (42 - id) * 2 * S;
        if (id == 35) {
            put_ev(&fd, ev(CPW_EV_CP_TRIGGERED, id, -1, -1, t0));
            subtask_phases(&fd, id, 0, 0, t0, 1000, 0, 100, 200, CPW_PH_ACKED);
            cpw_event e = ev(CPW_EV_CP_FAILED, id, -1, -1, t0 + 20 * S);
            e.u.failed.reason = CPW_FAIL_EXPIRED;
            snprintf(e.u.failed.message, sizeof e.u.failed.message, "%s",
                     evil_msg ? evil_msg : "Checkpoint expired before completing.");
            put_ev(&fd, e);
        } else if (id == 38) {
            cpw_event e = ev(CPW_EV_CP_TRIGGERED, id, -1, -1, t0);
            e.u.triggered.kind = CPW_TRIGGER_MANUAL;
            put_ev(&fd, e);
            e = ev(CPW_EV_DECLINE, id, 1, 3, t0 + 5000);
            snprintf(e.u.decline.reason, sizeof e.u.decline.reason, "injected decline");
            put_ev(&fd, e);
            e = ev(CPW_EV_CP_FAILED, id, -1, -1, t0 + 6000);
            e.u.failed.reason = CPW_FAIL_DECLINED;
            snprintf(e.u.failed.message, sizeof e.u.failed.message, "declined by parse#3");
            put_ev(&fd, e);
        } else {
            cpw_alignment al = !unaligned ? CPW_ALIGN_ALIGNED
                             : id == 33 || id == 34 || id == 40 ? CPW_ALIGN_UNALIGNED
                             : id == 37 || id == 39 ? CPW_ALIGN_TIMEOUT : CPW_ALIGN_ALIGNED;
            whole_cp_as(&fd, id, t0, 1000 + (id % 7) * 900, id == 40 ? CPW_TRIGGER_MANUAL : CPW_TRIGGER_PERIODIC, al);
        }
    }
    /* 41 in flight since 1.5 s: sources done, one parse still uploading,
     * aggregate aligning (one snapshotting), sinks waiting */
    int64_t t0 = NOW - 1500000;
    cpw_event trig = ev(CPW_EV_CP_TRIGGERED, 41, -1, -1, t0);
    trig.u.triggered.alignment = unaligned ? CPW_ALIGN_TIMEOUT : CPW_ALIGN_ALIGNED;
    put_ev(&fd, trig);
    for (int s = 0; s < 4; s++)
        subtask_phases(&fd, 41, 0, s, t0, 2000 + s * 300, 0, 500, 3000, CPW_PH_ACKED);
    for (int s = 0; s < 4; s++)
        subtask_phases(&fd, 41, 1, s, t0, 9000 + s * 300, 0, 500, 4000, s == 1 ? CPW_PH_ASYNC : CPW_PH_ACKED);
    for (int s = 0; s < 4; s++) {
        bool sw = unaligned && (s == 1 || s == 2);
        subtask_phases_as(&fd, sw ? SUB_SWITCHES : SUB_ALIGNED, 41, 2, s, t0, 20000 + s * 100, 1000000, 900, 0,
                          s == 3 || sw ? CPW_PH_SYNC : CPW_PH_ALIGNING);
    }
    m->events_per_s = 412;
    m->records_per_s = 1994;
    cpt_model_tick(m, NOW);
    return m;
}

static cpt_model *demo_model(const char *evil_op, const char *evil_msg)
{
    return demo_model_as(evil_op, evil_msg, false);
}

/* ------------------------------------------------------------------ goldens */

static cpt_frame render(cpt_model *m, cpt_ui *ui, int w, int h)
{
    cpt_frame f = {0};
    CPT_EQ_INT(cpt_frame_resize(&f, w, h), 0);
    cpt_view_render(m, ui, &f, NOW);
    return f;
}

/* Whether any cell of the frame is outside printable, one-column text. */
static void assert_clean(const cpt_frame *f)
{
    for (int y = 0; y < f->h; y++)
        for (int x = 0; x < f->w; x++) {
            uint32_t c = cpt_frame_at(f, x, y)->ch;
            CPT_ASSERTF(c >= 0x20 && c != 0x7f && !(c >= 0x80 && c < 0xa0),
                        "control character U+%04X at %d,%d", (unsigned)c, x, y);
        }
}

static int find_text(const cpt_frame *f, const char *needle, int *x, int *y)
{
    char *t = cpt_frame_text(f);
    char *p = strstr(t, needle);
    if (!p) {
        free(t);
        return 0;
    }
    /* count rows and columns (code points) up to p */
    int row = 0, col = 0;
    for (char *q = t; q < p; q++) {
        if (*q == '\n')
            row++, col = 0;
        else if (((unsigned char)*q & 0xC0) != 0x80)
            col++;
    }
    *x = col;
    *y = row;
    free(t);
    return 1;
}

CPT_TEST(golden_main_screen)
{
    utc();
    cpt_model *m = demo_model(NULL, NULL);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpt_frame f = render(m, &ui, 80, 24);
    cpt_golden_check("main_80x24", &f);
    assert_clean(&f);
    cpt_frame_free(&f);
    f = render(m, &ui, 160, 50);
    cpt_golden_check("main_160x50", &f);
    cpt_frame_free(&f);
    cpt_ui_init(&ui, true, false); /* ASCII, read-only */
    f = render(m, &ui, 80, 24);
    cpt_golden_check("main_ascii_readonly_80x24", &f);
    for (int y = 0; y < f.h; y++)
        for (int x = 0; x < f.w; x++)
            CPT_ASSERT(cpt_frame_at(&f, x, y)->ch < 0x80);
    cpt_frame_free(&f);
    cpt_model_free(m);
}

/* Unaligned and switched checkpoints: their type in the history and the
 * detail, the glyph of a subtask that went unaligned (and its ASCII
 * fallback), persisted bytes per subtask and in the summary, and the
 * switched_to_unaligned line of the event log. */
CPT_TEST(golden_unaligned_and_switched)
{
    utc();
    cpt_model *m = demo_model_as(NULL, NULL, true);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    int x, y;
    cpt_frame f = render(m, &ui, 80, 24);
    cpt_golden_check("main_unaligned_80x24", &f);
    assert_clean(&f);
    CPT_ASSERT(find_text(&f, "    40 completed unaligned", &x, &y));
    CPT_EQ_INT(cpt_frame_at(&f, 17, y)->role, CPT_R_NORMAL);
    CPT_ASSERT(find_text(&f, "    39 completed switched ", &x, &y));
    CPT_EQ_INT(cpt_frame_at(&f, 17, y)->role, CPT_R_WARN);
    CPT_ASSERT(find_text(&f, "    36 completed aligned ", &x, &y));
    CPT_EQ_INT(cpt_frame_at(&f, 17, y)->role, CPT_R_DIM);
    /* aggregate#1 and #2 switched and snapshot: the glyph, in the phase's colour */
    CPT_ASSERT(find_text(&f, "aggregate ", &x, &y));
    CPT_EQ_INT(cpt_frame_at(&f, x + 10, y)->ch, 0x25D4);
    CPT_EQ_INT(cpt_frame_at(&f, x + 11, y)->ch, 0x00BB);
    CPT_EQ_INT(cpt_frame_at(&f, x + 11, y)->role, CPT_R_SYNC);
    CPT_EQ_INT(cpt_frame_at(&f, x + 12, y)->ch, 0x00BB);
    CPT_EQ_INT(cpt_frame_at(&f, x + 13, y)->ch, 0x25D1);
    cpt_frame_free(&f);
    f = render(m, &ui, 160, 50);
    cpt_golden_check("main_unaligned_160x50", &f);
    CPT_ASSERT(find_text(&f, "7/16 acked  switched  waiting on aggregate#0", &x, &y));
    CPT_ASSERT(find_text(&f, "switched_to_unaligned cp 41 aggregate#1 after 1.0s aligning (timeout 1s)", &x, &y));
    CPT_ASSERT(find_text(&f, "    40 completed manual   unaligned 07:59:56     108ms  40.5 KiB  82.3 KiB", &x, &y));
    cpt_frame_free(&f);
    /* ASCII: the fallback glyph */
    cpt_ui_init(&ui, true, false);
    f = render(m, &ui, 80, 24);
    CPT_ASSERT(find_text(&f, "aggregate a>>s 0/4", &x, &y));
    cpt_frame_free(&f);

    /* the switched #39, then the unaligned #40 */
    cpt_ui_init(&ui, false, true);
    cpw_cmd cmd;
    cpt_ui_key(&ui, m, CPT_KEY_TAB, &cmd, NOW);
    cpt_ui_key(&ui, m, 'j', &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    CPT_EQ_INT(ui.detail_id, 39);
    f = render(m, &ui, 160, 50);
    cpt_golden_check("detail_switched_160x50", &f);
    CPT_ASSERT(find_text(&f, "completed periodic switched 07:59:54.000, 90ms, 40.5 KiB, 13.2 KiB persisted", &x, &y));
    /* aggregate#1: persisted bytes, the glyph and when it switched, the switch on its timeline */
    CPT_ASSERT(find_text(&f, "aggregate     1 ", &x, &y));
    char *t = cpt_frame_text(&f);
    CPT_ASSERT(strstr(t, "6.4 KiB   \xc2\xbb +32ms"));
    free(t);
    CPT_ASSERT(find_text(&f, "aggregate     0 ", &x, &y));
    cpt_frame_free(&f);
    f = render(m, &ui, 80, 24);
    cpt_golden_check("detail_switched_80x24", &f);
    assert_clean(&f);
    cpt_frame_free(&f);
    cpt_ui_key(&ui, m, CPT_KEY_ESC, &cmd, NOW);
    cpt_ui_key(&ui, m, 'k', &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    CPT_EQ_INT(ui.detail_id, 40);
    f = render(m, &ui, 80, 24);
    cpt_golden_check("detail_unaligned_80x24", &f);
    cpt_frame_free(&f);
    f = render(m, &ui, 160, 50);
    cpt_golden_check("detail_unaligned_160x50", &f);
    cpt_frame_free(&f);

    cpt_model_free(m);
}

/* The same job's summary and event log, and its screens at any size. */
CPT_TEST(golden_unaligned_summary_and_events)
{
    utc();
    cpt_model *m = demo_model_as(NULL, NULL, true);
    cpt_ui ui;
    cpw_cmd cmd;
    int x, y;
    /* the summary: types, persisted per checkpoint */
    cpt_ui_init(&ui, false, true);
    cpt_ui_key(&ui, m, 's', &cmd, NOW);
    cpt_frame f = render(m, &ui, 80, 24);
    cpt_golden_check("summary_unaligned_80x24", &f);
    CPT_ASSERT(find_text(&f, "persisted in flight", &x, &y));
    CPT_ASSERT(find_text(&f, "35 aligned, 3 unaligned, 2 switched; persisted 273.4 KiB", &x, &y));
    cpt_frame_free(&f);
    f = render(m, &ui, 160, 50);
    cpt_golden_check("summary_unaligned_160x50", &f);
    CPT_ASSERT(find_text(&f, "persisted 273.4 KiB in all, avg 54.7 KiB per completed unaligned/switched one", &x, &y));
    cpt_frame_free(&f);

    /* the event log, filtered to the switches */
    cpt_ui_key(&ui, m, 'e', &cmd, NOW);
    cpt_ui_key(&ui, m, '/', &cmd, NOW);
    for (const char *p = "switched"; *p; p++)
        cpt_ui_key(&ui, m, *p, &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    f = render(m, &ui, 80, 24);
    cpt_golden_check("events_switched_80x24", &f);
    CPT_ASSERT(find_text(&f, "switched_to_unaligned cp 41 aggregate#2 after 1.0s aligning", &x, &y));
    CPT_EQ_INT(cpt_frame_at(&f, x, y)->role, CPT_R_WARN);
    cpt_frame_free(&f);

    /* every screen at any size stays inside the frame with the new columns */
    static const int sizes[][2] = {{1, 1}, {20, 5}, {40, 10}, {79, 23}, {99, 30}, {119, 40}, {300, 120}};
    for (int scr = 0; scr < 4; scr++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            cpt_ui_init(&ui, i % 2, true);
            ui.screen = scr;
            ui.detail_id = scr == CPT_SCR_DETAIL && i % 2 ? 39 : 41;
            ui.detail_trigger_ts = ui.detail_id == 41 ? m->st->inflight[0].trigger_ts
                                 : cpw_state_history(m->st, 1)->trigger_ts; /* 39 */
            f = render(m, &ui, sizes[i][0], sizes[i][1]);
            assert_clean(&f);
            cpt_frame_free(&f);
        }
    cpt_model_free(m);

    /* a hostile operator name in that line is harmless text */
    m = demo_model_as("agg\x1b[31m\x07\x1b]0;pwned\x07", NULL, true);
    cpt_ui_init(&ui, false, true);
    cpt_ui_key(&ui, m, 'e', &cmd, NOW);
    f = render(m, &ui, 160, 50);
    assert_clean(&f);
    CPT_ASSERT(find_text(&f, "switched_to_unaligned cp 41 agg?[31m??]0;pwned?#2 after", &x, &y));
    cpt_frame_free(&f);
    cpt_model_free(m);
}

CPT_TEST(roles_carry_the_meaning)
{
    utc();
    cpt_model *m = demo_model(NULL, NULL);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpt_frame f = render(m, &ui, 160, 50);
    int x, y;
    /* the aggregate row: three aligning cells, one snapshotting */
    CPT_ASSERT(find_text(&f, "aggregate ", &x, &y));
    int cx = x + 10;
    CPT_EQ_INT(cpt_frame_at(&f, cx, y)->role, CPT_R_ALIGNING);
    CPT_EQ_INT(cpt_frame_at(&f, cx + 3, y)->role, CPT_R_SYNC);
    CPT_ASSERT(find_text(&f, "source    ", &x, &y));
    CPT_EQ_INT(cpt_frame_at(&f, x + 10, y)->role, CPT_R_ACKED);
    /* failed rows are marked as such, the slowest pending subtask named */
    CPT_ASSERT(find_text(&f, "failed ", &x, &y));
    CPT_EQ_INT(cpt_frame_at(&f, x, y)->role, CPT_R_BAD);
    CPT_ASSERT(find_text(&f, "waiting on aggregate#0 (aligning", &x, &y));
    CPT_EQ_INT(cpt_frame_at(&f, x, y)->role, CPT_R_ALIGNING);
    cpt_frame_free(&f);
    cpt_model_free(m);
}

CPT_TEST(golden_detail_screens)
{
    utc();
    cpt_model *m = demo_model(NULL, NULL);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpw_cmd cmd;
    /* Enter on the in-flight checkpoint */
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.screen, CPT_SCR_DETAIL);
    CPT_EQ_INT(ui.detail_id, 41);
    cpt_frame f = render(m, &ui, 80, 24);
    cpt_golden_check("detail_inflight_80x24", &f);
    cpt_frame_free(&f);
    /* a finished one: Tab to the history, down to #39, Enter */
    cpt_ui_key(&ui, m, CPT_KEY_ESC, &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_TAB, &cmd, NOW);
    CPT_EQ_INT(ui.pane, CPT_PANE_HISTORY);
    cpt_ui_key(&ui, m, 'j', &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    CPT_EQ_INT(ui.detail_id, 39);
    f = render(m, &ui, 160, 50);
    cpt_golden_check("detail_done_160x50", &f);
    int x, y;
    /* the critical path: sink#2's slow upload */
    CPT_ASSERT(find_text(&f, "critical path: sink#2 acknowledged last", &x, &y));
    CPT_ASSERT(find_text(&f, "async upload dominated it", &x, &y));
    cpt_frame_free(&f);
    cpt_model_free(m);
}

CPT_TEST(golden_summary_events_and_overlays)
{
    utc();
    cpt_model *m = demo_model(NULL, NULL);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpw_cmd cmd;
    cpt_ui_key(&ui, m, 's', &cmd, NOW);
    cpt_frame f = render(m, &ui, 80, 24);
    cpt_golden_check("summary_80x24", &f);
    int x, y;
    CPT_ASSERT(find_text(&f, "timeout advice", &x, &y));
    cpt_frame_free(&f);
    cpt_ui_key(&ui, m, 'e', &cmd, NOW);
    CPT_EQ_INT(ui.screen, CPT_SCR_EVENTS);
    f = render(m, &ui, 160, 50);
    cpt_golden_check("events_160x50", &f);
    cpt_frame_free(&f);
    /* filtered to the declines */
    cpt_ui_key(&ui, m, '/', &cmd, NOW);
    for (const char *p = "decline"; *p; p++)
        cpt_ui_key(&ui, m, *p, &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    CPT_EQ_STR(ui.filter, "decline");
    f = render(m, &ui, 80, 24);
    cpt_golden_check("events_filtered_80x24", &f);
    cpt_frame_free(&f);
    cpt_ui_init(&ui, false, true);
    cpt_ui_key(&ui, m, '?', &cmd, NOW);
    f = render(m, &ui, 80, 24);
    cpt_golden_check("help_80x24", &f);
    cpt_frame_free(&f);
    cpt_ui_key(&ui, m, 'x', &cmd, NOW); /* any key closes help */
    CPT_EQ_INT(ui.overlay, CPT_OV_NONE);
    cpt_ui_key(&ui, m, 'f', &cmd, NOW);
    f = render(m, &ui, 80, 24);
    cpt_golden_check("fail_menu_80x24", &f);
    cpt_frame_free(&f);
    cpt_ui_key(&ui, m, '2', &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    f = render(m, &ui, 80, 24);
    cpt_golden_check("fail_param_80x24", &f);
    cpt_frame_free(&f);
    cpt_ui_key(&ui, m, CPT_KEY_ESC, &cmd, NOW);
    cpt_ui_key(&ui, m, 'a', &cmd, NOW);
    f = render(m, &ui, 80, 24);
    cpt_golden_check("confirm_abort_80x24", &f);
    cpt_frame_free(&f);
    cpt_ui_key(&ui, m, 'n', &cmd, NOW);
    cpt_ui_key(&ui, m, 'c', &cmd, NOW);
    f = render(m, &ui, 80, 24);
    cpt_golden_check("config_80x24", &f);
    cpt_frame_free(&f);
    cpt_model_free(m);
}

CPT_TEST(hostile_strings_render_as_harmless_text)
{
    utc();
    int x, y;
    const char *evil_op = "agg\x1b[31m\x07\x1b]0;pwned\x07";
    const char *evil_msg = "expired\x1b[2J\x1b[H\r\nrm -rf \xff\xfe \xe6\x97\xa5 end";
    cpt_model *m = demo_model(evil_op, evil_msg);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpt_frame f = render(m, &ui, 160, 50);
    assert_clean(&f);
    cpt_golden_check("hostile_160x50", &f);
    cpt_frame_free(&f);
    cpw_cmd cmd;
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    f = render(m, &ui, 80, 24);
    assert_clean(&f);
    cpt_frame_free(&f);
    cpt_ui_key(&ui, m, 'e', &cmd, NOW);
    f = render(m, &ui, 80, 24);
    assert_clean(&f);
    cpt_frame_free(&f);
    /* the failure menu and a parameter's help come from the job too */
    cpt_ui_init(&ui, false, true);
    cpt_ui_key(&ui, m, 'f', &cmd, NOW);
    f = render(m, &ui, 80, 24);
    assert_clean(&f);
    CPT_ASSERT(find_text(&f, "stall", &x, &y));
    cpt_frame_free(&f);
    cpt_ui_key(&ui, m, '2', &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    f = render(m, &ui, 80, 24);
    assert_clean(&f);
    CPT_ASSERT(find_text(&f, "ms=12000_", &x, &y));
    cpt_frame_free(&f);
    cpt_model_free(m);
}

/* A job that declares no table, and one whose table is empty: the menu
 * says which, and nothing can be sent from it. */
CPT_TEST(failure_menu_without_a_table_explains)
{
    utc();
    cpt_model *m = demo_model(NULL, NULL);
    cpt_ui ui;
    cpw_cmd cmd;
    int x, y;
    m->st->hello.has_failures = false;
    m->st->hello.n_failures = 0;
    cpt_ui_init(&ui, false, true);
    cpt_ui_key(&ui, m, 'f', &cmd, NOW);
    cpt_frame f = render(m, &ui, 80, 24);
    cpt_golden_check("fail_none_80x24", &f);
    CPT_ASSERT(find_text(&f, "this job declares no failure kinds;", &x, &y));
    CPT_ASSERT(find_text(&f, "`cptop ctl fail KIND ...` sends one as is", &x, &y));
    cpt_frame_free(&f);
    CPT_EQ_INT(cpt_ui_key(&ui, m, '1', &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.overlay, CPT_OV_NONE);
    m->st->hello.has_failures = true;
    cpt_ui_key(&ui, m, 'f', &cmd, NOW);
    f = render(m, &ui, 80, 24);
    CPT_ASSERT(find_text(&f, "this job offers no failures", &x, &y));
    cpt_frame_free(&f);
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.overlay, CPT_OV_NONE);
    cpt_model_free(m);
}

CPT_TEST(empty_disconnected_and_tiny_screens)
{
    utc();
    cpt_model *m = cpt_model_new(NULL);
    cpt_model_connecting(m, "ipc:///x", NOW);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpt_frame f = render(m, &ui, 80, 24);
    cpt_golden_check("connecting_80x24", &f);
    cpt_frame_free(&f);
    cpt_model_free(m);

    m = demo_model(NULL, NULL);
    cpt_model_tick(m, NOW + 10 * S);
    CPT_EQ_INT(m->link, CPT_LINK_DOWN);
    cpt_frame g = {0};
    cpt_frame_resize(&g, 80, 24);
    cpt_view_render(m, &ui, &g, NOW + 12 * S);
    cpt_golden_check("disconnected_80x24", &g);
    cpt_frame_free(&g);
    /* every screen at sizes down to 1x1 stays inside the frame */
    static const int sizes[][2] = {{1, 1}, {20, 5}, {40, 10}, {79, 23}, {300, 120}};
    for (int scr = 0; scr < 4; scr++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            ui.screen = scr;
            ui.detail_id = 41;
            ui.detail_trigger_ts = m->st->n_inflight ? m->st->inflight[0].trigger_ts : 0;
            f = render(m, &ui, sizes[i][0], sizes[i][1]);
            assert_clean(&f);
            cpt_frame_free(&f);
        }
    cpt_model_free(m);
}

/* ------------------------------------------------------------------ keys */

CPT_TEST(keys_build_the_commands)
{
    utc();
    cpt_model *m = demo_model(NULL, NULL);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpw_cmd cmd;
    CPT_EQ_INT(cpt_ui_key(&ui, m, 't', &cmd, NOW), CPT_ACT_COMMAND);
    CPT_EQ_INT(cmd.type, CPW_CMD_TRIGGER);

    /* abort asks first; only y sends */
    CPT_EQ_INT(cpt_ui_key(&ui, m, 'a', &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.overlay, CPT_OV_CONFIRM_ABORT);
    CPT_EQ_INT(cpt_ui_key(&ui, m, 'n', &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.overlay, CPT_OV_NONE);
    cpt_ui_key(&ui, m, 'a', &cmd, NOW);
    CPT_EQ_INT(cpt_ui_key(&ui, m, 'y', &cmd, NOW), CPT_ACT_COMMAND);
    CPT_EQ_INT(cmd.type, CPW_CMD_ABORT);
    CPT_EQ_INT(cmd.cp_id, 41);

    /* stall: kind, operator (down twice: aggregate), subtask 1, ms 8000 */
    cpt_ui_key(&ui, m, 'f', &cmd, NOW);
    cpt_ui_key(&ui, m, '2', &cmd, NOW);
    CPT_EQ_INT(ui.step, 1);
    cpt_ui_key(&ui, m, 'j', &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_DOWN, &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    CPT_EQ_INT(ui.fail_op, 2);
    CPT_EQ_STR(ui.input, "0");
    cpt_ui_key(&ui, m, '7', &cmd, NOW); /* out of range: refused, not sent */
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW), CPT_ACT_REDRAW);
    CPT_ASSERT(strstr(ui.status, "0..3"));
    cpt_ui_key(&ui, m, CPT_KEY_BACKSPACE, &cmd, NOW);
    cpt_ui_key(&ui, m, '1', &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    CPT_EQ_INT(ui.step, 3);
    CPT_EQ_STR(ui.input, "12000"); /* the table's default */
    /* a value outside the table's range stays in the form, saying the range */
    for (const char *p = "9999999"; *p; p++)
        cpt_ui_key(&ui, m, *p, &cmd, NOW);
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.overlay, CPT_OV_FAIL);
    CPT_ASSERTF(strstr(ui.status, "1..3600000 ms"), "%s", ui.status);
    for (int i = 0; i < 7; i++)
        cpt_ui_key(&ui, m, CPT_KEY_BACKSPACE, &cmd, NOW);
    for (const char *p = "8000 ms"; *p; p++)
        cpt_ui_key(&ui, m, *p, &cmd, NOW);
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW), CPT_ACT_COMMAND);
    CPT_EQ_INT(cmd.type, CPW_CMD_INJECT_FAILURE);
    CPT_EQ_STR(cmd.kind, "stall");
    CPT_EQ_INT(cmd.op, 2);
    CPT_EQ_INT(cmd.subtask, 1);
    CPT_EQ_INT(cmd.n_params, 1);
    CPT_EQ_STR(cmd.keys[0], "ms");
    CPT_EQ_STR(cmd.values[0], "8000"); /* made canonical by the agent's own check */
    CPT_EQ_INT(ui.overlay, CPT_OV_NONE);

    /* fail-storage: no subtask, its count prefilled */
    cpt_ui_key(&ui, m, 'f', &cmd, NOW);
    cpt_ui_key(&ui, m, '4', &cmd, NOW);
    CPT_EQ_STR(ui.input, "3");
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW), CPT_ACT_COMMAND);
    CPT_EQ_STR(cmd.kind, "fail-storage");
    CPT_EQ_INT(cmd.op, -1);
    CPT_EQ_STR(cmd.keys[0], "count");
    CPT_EQ_STR(cmd.values[0], "3");
    /* fail-commit: straight away */
    cpt_ui_key(&ui, m, 'f', &cmd, NOW);
    CPT_EQ_INT(cpt_ui_key(&ui, m, '6', &cmd, NOW), CPT_ACT_COMMAND);
    CPT_EQ_STR(cmd.kind, "fail-commit");
    CPT_EQ_INT(cmd.n_params, 0);
    /* kill: operator and subtask, nothing more */
    cpt_ui_key(&ui, m, 'f', &cmd, NOW);
    cpt_ui_key(&ui, m, '1', &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    cpt_ui_key(&ui, m, '3', &cmd, NOW);
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW), CPT_ACT_COMMAND);
    CPT_EQ_STR(cmd.kind, "kill");
    CPT_EQ_INT(cmd.op, 0);
    CPT_EQ_INT(cmd.subtask, 3);
    /* the ninth kind by its digit, the arrows reach past it */
    cpt_ui_key(&ui, m, 'f', &cmd, NOW);
    cpt_ui_key(&ui, m, '9', &cmd, NOW);
    CPT_EQ_STR(ui.input, "500");
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW), CPT_ACT_COMMAND);
    CPT_EQ_STR(cmd.kind, "kafka-latency");
    /* Esc leaves the menu without sending */
    cpt_ui_key(&ui, m, 'f', &cmd, NOW);
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ESC, &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.overlay, CPT_OV_NONE);

    /* settings: the timeout row, a new value */
    cpt_ui_key(&ui, m, 'c', &cmd, NOW);
    cpt_ui_key(&ui, m, 'j', &cmd, NOW);
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    CPT_EQ_STR(ui.input, "20 s");
    for (const char *p = "1 min"; *p; p++)
        cpt_ui_key(&ui, m, *p, &cmd, NOW);
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW), CPT_ACT_COMMAND);
    CPT_EQ_INT(cmd.type, CPW_CMD_SET_CONFIG);
    CPT_EQ_STR(cmd.keys[0], "execution.checkpointing.timeout");
    CPT_EQ_STR(cmd.values[0], "1 min");

    /* one command at a time */
    ui.cmd_pending = true;
    CPT_EQ_INT(cpt_ui_key(&ui, m, 't', &cmd, NOW), CPT_ACT_REDRAW);
    CPT_ASSERT(strstr(ui.status, "still waiting"));
    CPT_EQ_INT(cpt_ui_key(&ui, m, 'q', &cmd, NOW), CPT_ACT_QUIT);
    cpt_model_free(m);
}

CPT_TEST(read_only_refuses_every_action)
{
    utc();
    cpt_model *m = demo_model(NULL, NULL);
    cpt_ui ui;
    cpt_ui_init(&ui, true, true);
    cpw_cmd cmd;
    const int keys[] = {'t', 'a', 'f'};
    for (size_t i = 0; i < 3; i++) {
        CPT_EQ_INT(cpt_ui_key(&ui, m, keys[i], &cmd, NOW), CPT_ACT_REDRAW);
        CPT_EQ_INT(ui.overlay, CPT_OV_NONE);
        CPT_ASSERT(strstr(ui.status, "read-only"));
    }
    /* settings are shown but not edited */
    cpt_ui_key(&ui, m, 'c', &cmd, NOW);
    CPT_EQ_INT(ui.overlay, CPT_OV_CONFIG);
    CPT_EQ_INT(cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW), CPT_ACT_REDRAW);
    CPT_EQ_INT(ui.overlay, CPT_OV_NONE);
    CPT_ASSERT(strstr(ui.status, "read-only"));
    cpt_model_free(m);
}

CPT_TEST(history_selection_follows_its_checkpoint)
{
    utc();
    cpt_model *m = demo_model(NULL, NULL);
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpw_cmd cmd;
    cpt_ui_key(&ui, m, CPT_KEY_TAB, &cmd, NOW);
    cpt_ui_key(&ui, m, 'j', &cmd, NOW);
    cpt_ui_key(&ui, m, 'j', &cmd, NOW);
    cpt_frame f = render(m, &ui, 80, 24);
    CPT_EQ_INT(cpw_state_history(m->st, ui.sel_history)->id, 38);
    /* two more finish: the selection stays on 38 */
    feeder fd = {m, m->last_seq};
    cpw_event e = ev(CPW_EV_CP_FAILED, 41, -1, -1, NOW);
    e.u.failed.reason = CPW_FAIL_ABORTED;
    put_ev(&fd, e);
    whole_cp(&fd, 42, NOW, 1000, CPW_TRIGGER_PERIODIC);
    cpt_view_render(m, &ui, &f, NOW);
    CPT_EQ_INT(cpw_state_history(m->st, ui.sel_history)->id, 38);
    /* PgDn/End/Home stay in range */
    cpt_ui_key(&ui, m, CPT_KEY_END, &cmd, NOW);
    CPT_EQ_INT(ui.sel_history, m->st->n_history - 1);
    cpt_ui_key(&ui, m, CPT_KEY_PGDN, &cmd, NOW);
    CPT_EQ_INT(ui.sel_history, m->st->n_history - 1);
    cpt_ui_key(&ui, m, CPT_KEY_HOME, &cmd, NOW);
    CPT_EQ_INT(ui.sel_history, 0);
    cpt_frame_free(&f);
    cpt_model_free(m);
}

CPT_TEST(a_barrier_held_after_alignment_is_not_called_aligning)
{
    utc();
    cpt_model *m = demo_model(NULL, NULL);
    /* aggregate#0..2 finished aligning (#0 1 s ago, the others later) but
     * never started their snapshots (stalled): shown as held since then,
     * not as aligning; the one held longest is named */
    feeder fd = {m, m->last_seq};
    for (int s = 0; s < 3; s++) {
        cpw_event e = ev(CPW_EV_ALIGNMENT_END, 41, 2, s, NOW - 1000000 + s * 200000);
        e.u.alignment.duration_us = 480000;
        put_ev(&fd, e);
    }
    cpt_ui ui;
    cpt_ui_init(&ui, false, true);
    cpt_frame f = render(m, &ui, 160, 50);
    int x, y;
    CPT_ASSERT(find_text(&f, "aggregate ", &x, &y));
    CPT_EQ_INT(cpt_frame_at(&f, x + 10, y)->ch, 0x25D3);
    CPT_EQ_INT(cpt_frame_at(&f, x + 10, y)->role, CPT_R_WARN);
    /* the culprit is still aggregate#0, and it says what it is doing */
    CPT_ASSERT(find_text(&f, "waiting on aggregate#0 (barrier held 1.0s)", &x, &y));
    cpt_frame_free(&f);
    cpw_cmd cmd;
    cpt_ui_key(&ui, m, CPT_KEY_ENTER, &cmd, NOW);
    f = render(m, &ui, 160, 50);
    CPT_ASSERT(find_text(&f, "the furthest behind: aggregate#0, barrier in, no snapshot yet for 1.0s", &x, &y));
    cpt_frame_free(&f);
    cpt_model_free(m);
}
