/*
 * rec_bench.c — recording and replay figures for `make bench` (cprecbench).
 *
 * A synthetic job of 8 operators × 128 subtasks checkpointing every second
 * (every subtask: barrier, alignment start and end, snapshot start, sync,
 * async, ack; a heartbeat of 1,024 rows a second), as the agent sends it:
 * NDJSON frames of up to 256 messages. Measured side by side in one run:
 *
 *   (a) watching: each frame decoded and folded into a cpt_model, as the
 *       dashboard does, CPU time per event;
 *   (b) recording: the same frames through the recorder as cptop
 *       --record's tap feeds it (cpt_rec_session_frame_begin, _msg for
 *       each message, which packs it, _end; a tick a second; keyframes of
 *       the followed model every chunk), for zstd and zlib at a few
 *       levels: the CPU of the recorder's calls alone per event (each
 *       frame is decoded first, then the calls are timed, then it is
 *       folded) and the bytes per event on disk. One recorder goes on over
 *       four passes (times shifted), as a dashboard has one; the first pass
 *       grows its buffers and is not counted; (a) and (b) alternate and
 *       the best of each is kept (a shared machine);
 *   (c) a one-hour recording (zstd, the default), then seeks to random
 *       times (keyframe + replay forward into a model) and a replay at
 *       full speed;
 *   (d) the same job served live, in real time, by a publisher (a child
 *       process speaking the agent protocol: the stream, and get_state
 *       from what it published), watched by three real cptop dashboards
 *       on pseudo-terminals of 200x60, one of them with --record, one a
 *       control (rec_live.c): their CPU over the same window.
 *
 * Issue 12's four figures are then printed side by side with their
 * targets, each as measured / target and pass or FAIL:
 *
 *   (1) recording's extra CPU: the recorder's calls per event (b, the
 *       default codec) against what a live dashboard spends per event
 *       watching (d: socket reads, decoding, folding, drawing). Both are
 *       CPU over many seconds, so the ratio is steady. The A/B of the
 *       live dashboards is printed beside it as a check with its A/A: two
 *       identical dashboards side by side differ by up to +-15 % on a
 *       shared 2-core machine, more than the effect, so it cannot be the
 *       figure. Against (a) alone (no socket, no drawing) is printed too.
 *   (2) bytes per event on disk: the hour-long recording of (c).
 *   (3) seek to any time: the slowest of the seeks of (c).
 *   (4) replay at full speed: events per wall-clock second in (c).
 *   (3) and (4) are wall-clock figures, so their CPU time is printed too:
 *   on a machine busy with other work the wall clock says more about the
 *   neighbours than about the replay.
 *
 * Figures and targets only; it never fails on a target (exit 0).
 *
 *   cprecbench [--minutes N] [--seconds N] [--live-seconds N] [--cptop PATH]
 *   (the long recording; the stream of (a)/(b); (d)'s window, 0: no (d),
 *   default 60; the cptop it runs, default: the one beside cprecbench)
 */
#include "bench_util.h"
#include "rec_live.h"
#include "cpt_model.h"
#include "cpt_rec_session.h"
#include "cpt_replay.h"
#include "cpw_discovery.h"
#include "cpw_srv.h"
#include "cpw_state.h"

#include <math.h>
#include <poll.h>
#include <signal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_OPS 8
#define PAR 128
#define BATCH 256
#define JOB "bench-job"

/* Checkpoints the job had taken before the stream starts, in the state a
 * dashboard gets when it connects: its model's history is full (1000, as
 * after 17 minutes of watching, or in a recording service), and so is
 * every keyframe of a recording, as in a long session. */
#define PRIOR 1000

#define TARGET_CPU_PCT 10.0
#define TARGET_BYTES 20.0
#define TARGET_SEEK_MS 200.0
#define TARGET_REPLAY 1000000.0

/* The stream's start: 2026-01-01 (µs); the live publisher's is its start. */
static int64_t t0_us = 1767225600000000LL;

/* Issue 12's four figures, filled by the parts, printed by summary(). */
static struct {
    double rec_ns;        /* (1) the recorder's calls, default codec, ns/event */
    double watch_ns;      /*     decode + fold, ns/event (a) */
    double events_s;      /*     the stream's events per second */
    double live_watch_ns; /*     a live dashboard watching, CPU ns/event (d); NAN: none */
    double live_ab_pct;   /*     the A/B of (d), the whole window */
    double live_aa_pct;   /*     its A/A: two watching dashboards */
    double live_pct;      /*     the A/B of (d), median of the slices */
    double bytes_ev;      /* (2) bytes per event on disk, the long recording */
    double seek_max_ms;   /* (3) the slowest seek (wall), and its CPU */
    double seek_max_cpu_ms;
    double replay_ev_s;   /* (4) events replayed per wall second, per CPU second */
    double replay_cpu_ev_s;
    int minutes;
} fig;

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ the stream */

typedef struct gen gen;
typedef void (*frame_fn)(gen *g, const char *data, size_t len, int64_t ts);

struct gen {
    cpw_buf frame;
    int n;                      /* messages in the frame */
    int64_t frame_ts;
    uint64_t seq, events;
    frame_fn on_frame;
    void *ud;
    /* direct folding (no decode): the frame's messages, applied after it */
    cpt_model *fold;
    cpw_event pend[BATCH];
    uint64_t pend_seq[BATCH];
};

static void flush(gen *g)
{
    if (!g->n)
        return;
    g->on_frame(g, g->frame.data, g->frame.len, g->frame_ts + 500);
    if (g->fold)
        for (int i = 0; i < g->n; i++) {
            cpw_msg m = {.v = 1, .kind = CPW_K_EVENT, .seq = g->pend_seq[i], .ev = g->pend[i]};
            snprintf(m.job, sizeof m.job, JOB);
            cpt_model_on_msg(g->fold, &m, g->frame_ts + 500);
        }
    cpw_buf_reset(&g->frame);
    g->n = 0;
}

static void emit(gen *g, const cpw_event *ev)
{
    if (g->n && cpw_buf_reserve(&g->frame, 1))
        g->frame.data[g->frame.len++] = '\n'; /* NDJSON, as the agent batches */
    cpw_envelope env = {.job = JOB, .seq = ++g->seq, .ts_us = ev->ts_us};
    cpw_encode_event(&g->frame, &env, ev);
    if (g->fold) {
        g->pend[g->n] = *ev;
        g->pend_seq[g->n] = g->seq;
    }
    g->frame_ts = ev->ts_us;
    g->events++;
    if (++g->n == BATCH)
        flush(g);
}

static void hello_of(cpw_hello *h)
{
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "bench");
    h->pid = 4242;
    h->start_ts_us = t0_us;
    snprintf(h->agent_version, sizeof h->agent_version, "0.2.0");
    h->n_ops = N_OPS;
    for (int o = 0; o < N_OPS; o++) {
        snprintf(h->ops[o].name, sizeof h->ops[o].name, "op-%d", o);
        h->ops[o].parallelism = PAR;
    }
    static const char *const kv[][2] = {{"execution.checkpointing.interval", "1 s"},
                                        {"execution.checkpointing.timeout", "10 min"},
                                        {"execution.checkpointing.mode", "EXACTLY_ONCE"}};
    h->n_config = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(h->config_keys[i], sizeof h->config_keys[i], "%s", kv[i][0]);
        snprintf(h->config_values[i], sizeof h->config_values[i], "%s", kv[i][1]);
    }
}

/* The job's start: its hello, and the get_state reply a dashboard asks for. */
static void start(gen *g, cpt_model *m)
{
    cpw_hello h;
    hello_of(&h);
    cpw_envelope env = {.job = JOB, .seq = ++g->seq, .ts_us = t0_us};
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_encode_hello(&b, &env, &h);
    g->on_frame(g, b.data, b.len, t0_us);
    cpw_state *st = cpw_state_new(1000, 50);
    snprintf(st->job, sizeof st->job, JOB);
    cpw_state_set_hello(st, &h);
    st->status = CPW_JOB_RUNNING;
    for (int i = 1; i <= PRIOR; i++) {
        int64_t t = t0_us - (int64_t)(PRIOR + 1 - i) * 1000000;
        cpw_event ev = {.type = CPW_EV_CP_TRIGGERED, .op = -1, .subtask = -1, .cp_id = i,
                        .ts_us = t};
        cpw_state_apply(st, &ev, g->seq);
        ev.type = CPW_EV_CP_COMPLETED;
        ev.ts_us = t + 200000;
        ev.u.completed.duration_us = 199000;
        ev.u.completed.state_size = (int64_t)PAR << 23;
        ev.u.completed.checkpointed_size = (int64_t)PAR << 19;
        cpw_state_apply(st, &ev, g->seq);
    }
    st->seq = g->seq;
    cpw_reply r = {.req = 1, .ok = true};
    cpw_buf_reset(&b);
    cpw_encode_reply(&b, &env, &r, st, -1);
    if (g->fold) {
        cpw_msg hm = {.v = 1, .kind = CPW_K_HELLO, .seq = g->seq, .hello = &h};
        snprintf(hm.job, sizeof hm.job, JOB);
        cpt_model_on_msg(m, &hm, t0_us);
    }
    g->on_frame(g, b.data, b.len, t0_us + 1000);
    if (g->fold) {
        cpt_model_state_sent(m);
        cpt_model_on_state(m, st, t0_us + 1000);
    } else {
        cpw_state_free(st);
    }
    cpw_buf_free(&b);
}

static void heartbeat(gen *g, int64_t ts)
{
    static cpw_subtask_metrics rows[N_OPS * PAR];
    for (int i = 0; i < N_OPS * PAR; i++)
        rows[i] = (cpw_subtask_metrics){.op = i / PAR, .subtask = i % PAR,
                                        .records_in = ts / 1000 + i, .records_out = ts / 1000 + i,
                                        .queue_fill_permille = (int32_t)(i * 7 % 1000)};
    cpw_heartbeat hb = {.emitted = g->events, .sent = g->events, .n = N_OPS * PAR, .subtasks = rows};
    flush(g);
    cpw_envelope env = {.job = JOB, .seq = ++g->seq, .ts_us = ts};
    cpw_encode_heartbeat(&g->frame, &env, &hb);
    g->on_frame(g, g->frame.data, g->frame.len, ts + 300);
    if (g->fold) {
        cpw_msg m = {.v = 1, .kind = CPW_K_HEARTBEAT, .seq = g->seq, .heartbeat = hb};
        snprintf(m.job, sizeof m.job, JOB);
        cpt_model_on_msg(g->fold, &m, ts + 300);
    }
    cpw_buf_reset(&g->frame);
}

/* Second s of the job: checkpoint s+1 from trigger to completion. */
static void second(gen *g, int s)
{
    int64_t t = t0_us + (int64_t)s * 1000000 + 1000, id = PRIOR + s + 1;
    cpw_event ev = {.type = CPW_EV_CP_TRIGGERED, .op = -1, .subtask = -1, .cp_id = id, .ts_us = t};
    emit(g, &ev);
    static const cpw_event_type src[] = {CPW_EV_BARRIER_INJECTED, CPW_EV_SNAPSHOT_START,
                                         CPW_EV_SNAPSHOT_SYNC_DONE, CPW_EV_SNAPSHOT_ASYNC_DONE,
                                         CPW_EV_ACK};
    static const cpw_event_type mid[] = {CPW_EV_BARRIER_RECEIVED, CPW_EV_ALIGNMENT_START,
                                         CPW_EV_ALIGNMENT_END, CPW_EV_SNAPSHOT_START,
                                         CPW_EV_SNAPSHOT_SYNC_DONE, CPW_EV_SNAPSHOT_ASYNC_DONE,
                                         CPW_EV_ACK};
    for (int o = 0; o < N_OPS; o++) {
        const cpw_event_type *ty = o ? mid : src;
        int n = o ? 7 : 5;
        for (int k = 0; k < PAR; k++)
            for (int e = 0; e < n; e++) {
                int64_t ts = t + o * 20000 + k * 50 + e * 1500;
                ev = (cpw_event){.type = ty[e], .op = o, .subtask = k, .cp_id = id, .ts_us = ts};
                if (ty[e] == CPW_EV_ACK)
                    ev.u.ack = (cpw_ack_info){.state_size = 1 << 20, .checkpointed_size = 65536 + k,
                                              .start_delay_us = o * 20000 + k * 50,
                                              .alignment_us = 1500, .sync_us = 1500,
                                              .async_us = 1500};
                else if (ty[e] == CPW_EV_ALIGNMENT_END)
                    ev.u.alignment.duration_us = 1500;
                else if (ty[e] == CPW_EV_SNAPSHOT_ASYNC_DONE)
                    ev.u.async.bytes = 65536 + k, ev.u.async.duration_us = 1500;
                emit(g, &ev);
            }
    }
    ev = (cpw_event){.type = CPW_EV_CP_COMPLETED, .op = -1, .subtask = -1, .cp_id = id,
                     .ts_us = t + 200000};
    ev.u.completed.duration_us = 199000;
    ev.u.completed.state_size = (int64_t)PAR << 23;
    ev.u.completed.checkpointed_size = (int64_t)PAR << 19;
    emit(g, &ev);
    heartbeat(g, t + 500000);
}

/* ------------------------------------------------------------ (a), (b) */

typedef struct frame {
    int64_t ts;
    size_t off, len;
} frame;

typedef struct mem {
    char *data;
    size_t len, cap;
    frame *f;
    size_t n, cap_f;
} mem;

static void to_mem(gen *g, const char *data, size_t len, int64_t ts)
{
    mem *m = g->ud;
    if (m->len + len > m->cap) {
        m->cap = (m->len + len) * 2;
        m->data = realloc(m->data, m->cap);
    }
    if (m->n == m->cap_f) {
        m->cap_f = m->cap_f ? m->cap_f * 2 : 4096;
        m->f = realloc(m->f, m->cap_f * sizeof *m->f);
    }
    if (!m->data || !m->f) {
        fprintf(stderr, "cprecbench: out of memory\n");
        exit(1);
    }
    memcpy(m->data + m->len, data, len);
    m->f[m->n++] = (frame){.ts = ts, .off = m->len, .len = len};
    m->len += len;
}

typedef struct fold_ctx {
    cpt_model *m;             /* NULL: recording only */
    cpt_rec_session *s;       /* NULL: watching only */
    int64_t ts;
} fold_ctx;

/* Each message as the agent source hands it on: to the recorder's tap
 * (which packs it), then to the model. */
static int fold_msg(void *opaque, cpw_msg *msg)
{
    fold_ctx *c = opaque;
    if (c->s)
        cpt_rec_session_frame_msg(c->s, msg);
    if (!c->m)
        return 0;
    if (msg->kind == CPW_K_REPLY) {
        if (msg->reply->state) {
            cpt_model_state_sent(c->m);
            cpt_model_on_state(c->m, msg->reply->state, c->ts);
            msg->reply->state = NULL;
        }
        return 0;
    }
    cpt_model_on_msg(c->m, msg, c->ts);
    return 0;
}

/* A frame's messages, decoded and kept (owned parts stolen from the
 * decoder) so that the recorder's calls can be timed apart from decoding. */
typedef struct kept {
    cpw_msg m[BATCH + 8];
    int n;
} kept;

static int keep_msg(void *opaque, cpw_msg *msg)
{
    kept *k = opaque;
    if (k->n == (int)(sizeof k->m / sizeof k->m[0])) {
        fprintf(stderr, "cprecbench: a frame of more than %d messages\n", k->n);
        exit(1);
    }
    k->m[k->n++] = *msg;
    msg->hello = NULL;
    msg->heartbeat.subtasks = NULL;
    msg->cmd = NULL;
    msg->reply = NULL;
    return 0;
}

static void decode_or_die(const char *d, size_t len, cpw_msg_cb cb, void *ud)
{
    cpw_error err;
    size_t count;
    if (cpw_decode_frame(d, len, cb, ud, &count, &err) != CPW_OK) {
        fprintf(stderr, "cprecbench: a frame does not decode: %s\n", err.text);
        exit(1);
    }
}

#define CONNECT_FRAMES 2

/* Decodes and folds every frame; returns CPU seconds after the first
 * CONNECT_FRAMES. When s is not NULL
 * every frame is also recorded (with keyframes of the model unless told
 * not to), as cptop --record's tap does it, its times shifted by shift_us
 * (one recorder goes on over several passes), and *rec_ns gets the CPU
 * spent in the recorder's calls alone, per event: each frame is decoded
 * first, then the recorder is called for it between two clock readings
 * (frame_begin with any keyframes and chunk due, frame_msg for each
 * message, frame_end, the tick), then it is folded. */
static double pass(const mem *in, cpt_rec_session *s, bool keyframes, double *rec_ns,
                   int64_t shift_us)
{
    cpt_model *m = cpt_model_new(NULL);
    if (s && keyframes)
        cpt_rec_session_follow(s, m);
    static kept k;
    double c0 = 0, rec = 0;
    int64_t last_tick = 0;
    uint64_t events = 0;
    for (size_t i = 0; i < in->n; i++) {
        /* the hello and the state reply (1000 checkpoints) are what a
         * dashboard decodes once, when it connects: not timed */
        if (i == CONNECT_FRAMES) {
            c0 = cpu_s();
            rec = 0;
            events = 0;
        }
        const frame *f = &in->f[i];
        const char *d = in->data + f->off;
        int64_t ts = f->ts + shift_us;
        fold_ctx c = {m, NULL, ts};
        if (!s) {
            decode_or_die(d, f->len, fold_msg, &c);
            continue;
        }
        k.n = 0;
        decode_or_die(d, f->len, keep_msg, &k);
        double r0 = cpu_s();
        if (ts - last_tick >= 1000000) {
            cpt_rec_session_tick(s, ts);
            last_tick = ts;
        }
        cpt_rec_session_frame_begin(s, d, f->len, ts);
        for (int j = 0; j < k.n; j++)
            cpt_rec_session_frame_msg(s, &k.m[j]);
        cpt_rec_session_frame_end(s);
        rec += cpu_s() - r0;
        for (int j = 0; j < k.n; j++)
            events += k.m[j].kind == CPW_K_EVENT;
        for (int j = 0; j < k.n; j++) {
            fold_msg(&c, &k.m[j]);
            cpw_msg_clear(&k.m[j]);
        }
    }
    double c1 = cpu_s() - c0;
    if (m->st->counts.completed < 10) {
        fprintf(stderr, "cprecbench: the model folded only %lld checkpoints\n",
                (long long)m->st->counts.completed);
        exit(1);
    }
    if (s)
        cpt_rec_session_unfollow(s, m);
    cpt_model_free(m);
    if (rec_ns)
        *rec_ns = rec * 1e9 / (double)(events ? events : 1);
    return c1;
}

typedef struct codec_case {
    const char *name;
    int codec, level;     /* codec 0, level 0: cptop --record's default */
    bool no_keyframes;    /* a diagnostic: what the keyframes cost */
} codec_case;

static const codec_case cases[] = {
    {"none", -1, 0, false}, {"zstd --fast=3", 0, -3, false}, {"zstd --fast=1", 0, -1, false},
    {"zstd (default: -1)", 0, 0, false}, {"zstd -1, no keyframes", 0, 0, true},
    {"zstd -3", 0, 3, false}, {"zstd -9", 0, 9, false},
    {"zlib -1", CPT_REC_CODEC_ZLIB, 1, false}, {"zlib -6", CPT_REC_CODEC_ZLIB, 6, false},
};

static void part_ab(const char *dir, int seconds)
{
    mem in = {0};
    gen g = {.on_frame = to_mem, .ud = &in};
    cpw_buf_init(&g.frame);
    start(&g, NULL);
    for (int s = 0; s < seconds; s++)
        second(&g, s);
    flush(&g);
    double ev = (double)g.events;
    printf("  stream: %d s of a job of %d x %d subtasks, %s events, %s frames, %.0f bytes/event "
           "as NDJSON\n", seconds, N_OPS, PAR, bench_commas(g.events), bench_commas(in.n),
           (double)in.len / ev);
    enum { N_CASES = sizeof cases / sizeof cases[0] };
    double base = 1e9, rec_of[N_CASES];
    int64_t bytes_of[N_CASES];
    /* the stream's span, and a second: pass k of a recorder is shifted by k of them */
    int64_t span = in.f[in.n - 1].ts - in.f[0].ts + 1000000;
    for (size_t i = 0; i < N_CASES; i++) {
        char path[512], err[300];
        snprintf(path, sizeof path, "%s/ab-%zu.cprec", dir, i);
        cpt_rec_conf conf = {.codec = cases[i].codec, .level = cases[i].level};
        cpt_rec_session *s = cpt_rec_session_new(path, &conf, err, sizeof err);
        if (!s) {
            fprintf(stderr, "cprecbench: %s\n", err);
            exit(1);
        }
        /* (a) and (b) alternate, the best of each kept: the machine is
         * shared. One recorder over all of (b)'s passes, as a dashboard has
         * one: the first pass grows its buffers (first-touch page faults a
         * dashboard pays once) and is not counted. */
        double best_rec = 1e9;
        for (int k = 0; k < 4; k++) {
            double w = pass(&in, NULL, false, NULL, 0), rec;
            if (w < base)
                base = w;
            pass(&in, s, !cases[i].no_keyframes, &rec, k * span);
            if (k && rec < best_rec)
                best_rec = rec;
        }
        cpt_rec_session_close(s, err, sizeof err);
        FILE *f = fopen(path, "rb");
        fseek(f, 0, SEEK_END);
        bytes_of[i] = ftell(f) / 4; /* four passes */
        fclose(f);
        unlink(path);
        rec_of[i] = best_rec;
    }
    fig.watch_ns = base * 1e9 / ev;
    fig.events_s = ev / seconds;
    printf("  (a) watching (decode + fold):      %7.1f ns/event CPU\n"
           "  (b) + recording: the recorder's calls (CPU per event; against (a)), on disk:\n",
           fig.watch_ns);
    for (size_t i = 0; i < N_CASES; i++) {
        double extra = rec_of[i] / fig.watch_ns * 100;
        if (cases[i].codec == 0 && cases[i].level == 0 && !cases[i].no_keyframes)
            fig.rec_ns = rec_of[i];
        printf("      %-28s %7.1f ns/event (%+6.1f %%)  %5.1f B/event\n", cases[i].name, rec_of[i],
               extra, (double)bytes_of[i] / ev);
    }
    free(in.data);
    free(in.f);
    cpw_buf_free(&g.frame);
}

/* ------------------------------------------------------------ (c) */

static void to_session(gen *g, const char *data, size_t len, int64_t ts)
{
    cpt_rec_session *s = g->ud;
    if (ts / 1000000 != g->frame_ts / 1000000 || !g->n)
        cpt_rec_session_tick(s, ts);
    /* as cptop --record: decoded, each message packed */
    cpt_rec_session_frame_begin(s, data, len, ts);
    fold_ctx c = {NULL, s, ts};
    cpw_error err;
    size_t count;
    if (cpw_decode_frame(data, len, fold_msg, &c, &count, &err) != CPW_OK) {
        fprintf(stderr, "cprecbench: a frame does not decode: %s\n", err.text);
        exit(1);
    }
    cpt_rec_session_frame_end(s);
}

static int count_msg(void *ud, const cpw_msg *m, int64_t recv_us)
{
    (void)recv_us;
    if (m->kind == CPW_K_EVENT)
        ++*(uint64_t *)ud;
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void part_c(const char *dir, int minutes)
{
    char path[512], err[300];
    snprintf(path, sizeof path, "%s/hour.cprec", dir);
    cpt_rec_session *s = cpt_rec_session_new(path, NULL, err, sizeof err);
    cpt_model *m = cpt_model_new(NULL);
    if (!s || !m) {
        fprintf(stderr, "cprecbench: %s\n", s ? "out of memory" : err);
        exit(1);
    }
    cpt_rec_session_follow(s, m);
    gen g = {.on_frame = to_session, .ud = s, .fold = m};
    cpw_buf_init(&g.frame);
    int64_t w0 = bench_now_ns();
    start(&g, m);
    for (int sec = 0; sec < minutes * 60; sec++)
        second(&g, sec);
    flush(&g);
    int64_t bytes;
    cpt_rec_session_stats(s, NULL, &bytes);
    cpt_rec_session_close(s, err, sizeof err);
    cpt_model_free(m);
    cpw_buf_free(&g.frame);
    printf("  (c) a %d-minute recording: %s events, %.1f MB, %.1f bytes/event (written in %.1f s)\n",
           minutes, bench_commas(g.events), (double)bytes / 1e6, (double)bytes / (double)g.events,
           (double)(bench_now_ns() - w0) / 1e9);
    fig.bytes_ev = (double)bytes / (double)g.events;
    fig.minutes = minutes;

    cpt_replay *rp = cpt_replay_open(path, NULL, NULL, NULL, err, sizeof err);
    m = cpt_model_new(NULL);
    if (!rp || !m) {
        fprintf(stderr, "cprecbench: %s\n", rp ? "out of memory" : err);
        exit(1);
    }
    enum { SEEKS = 40 };
    double ms[SEEKS];
    srand(12345);
    for (int i = 0; i < SEEKS; i++) {
        int64_t t = t0_us + (int64_t)((double)rand() / RAND_MAX * minutes * 60e6);
        int64_t a = bench_now_ns();
        double c0 = cpu_s();
        cpt_replay_seek(rp, m, t);
        ms[i] = (double)(bench_now_ns() - a) / 1e6;
        double c = (cpu_s() - c0) * 1e3;
        if (c > fig.seek_max_cpu_ms)
            fig.seek_max_cpu_ms = c;
        if (m->st->counts.completed < (t - t0_us) / 1000000 - 2) {
            fprintf(stderr, "cprecbench: after a seek to +%lld s the model has %lld checkpoints\n",
                    (long long)((t - t0_us) / 1000000), (long long)m->st->counts.completed);
            exit(1);
        }
    }
    qsort(ms, SEEKS, sizeof ms[0], cmp_d);
    fig.seek_max_ms = ms[SEEKS - 1];
    printf("      seek to a random time (keyframe + replay forward), %d seeks: median %.0f ms, "
           "max %.0f ms (target <= %.0f ms)\n", SEEKS, ms[SEEKS / 2], ms[SEEKS - 1], TARGET_SEEK_MS);

    uint64_t n = 0;
    cpt_replay_set_observer(rp, count_msg, &n);
    cpt_replay_seek(rp, m, t0_us);
    int64_t a = bench_now_ns();
    double c0 = cpu_s();
    int64_t span = minutes * 60e6 < 120e6 ? (int64_t)(minutes * 60e6) : 120000000;
    cpt_replay_run(rp, m, t0_us + span, 0);
    double secs = (double)(bench_now_ns() - a) / 1e9, cpu = cpu_s() - c0;
    fig.replay_ev_s = (double)n / secs;
    fig.replay_cpu_ev_s = (double)n / cpu;
    printf("      replay at full speed (read, decompress, decode, fold) over %lld s: %s events/s "
           "(%s per CPU second; target >= %s)\n", (long long)(span / 1000000),
           bench_commas((uint64_t)(n / secs)), bench_commas((uint64_t)(n / cpu)),
           bench_commas((uint64_t)TARGET_REPLAY));
    cpt_replay_free(rp);
    cpt_model_free(m);
    unlink(path);
}

/* ------------------------------------------------------------ (d) */

static volatile sig_atomic_t pub_quit;
static void on_term(int sig) { (void)sig; pub_quit = 1; }

typedef struct pub {
    cpw_srv *ev, *cmd;
    cpt_model *m;            /* what get_state answers: what was published */
} pub;

static void pub_answer(pub *p, const cpw_srv_req *req)
{
    cpw_msg msg;
    if (cpw_decode_one(req->data, req->len, &msg, NULL) != CPW_OK || msg.kind != CPW_K_COMMAND) {
        cpw_msg_clear(&msg);
        return;
    }
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = JOB, .seq = p->m->st->seq, .ts_us = cpw_now_us()};
    cpw_reply r = {.req = msg.cmd->req, .ok = msg.cmd->c.type == CPW_CMD_GET_STATE};
    if (!r.ok)
        snprintf(r.message, sizeof r.message, "a benchmark's publisher only answers get_state");
    cpw_encode_reply(&b, &env, &r, r.ok ? p->m->st : NULL, -1);
    cpw_srv_reply(p->cmd, req, b.data, b.len);
    cpw_buf_free(&b);
    cpw_msg_clear(&msg);
}

/* Serves both endpoints until the wall clock reaches until_us. */
static void pub_wait(pub *p, int64_t until_us)
{
    while (!pub_quit) {
        struct pollfd fds[64];
        int ne = cpw_srv_pollfds(p->ev, fds, 32), nc = cpw_srv_pollfds(p->cmd, fds + ne, 32);
        int64_t now = cpw_now_us();
        poll(fds, (nfds_t)(ne + nc), until_us > now ? (int)((until_us - now) / 1000) : 0);
        int64_t ms = cpw_mono_us() / 1000;
        cpw_srv_service(p->ev, fds, ne, ms);
        cpw_srv_service(p->cmd, fds + ne, nc, ms);
        cpw_srv_req req;
        while (cpw_srv_next_request(p->cmd, &req))
            pub_answer(p, &req);
        if (cpw_now_us() >= until_us)
            return;
    }
}

static void to_pub(gen *g, const char *data, size_t len, int64_t ts)
{
    pub *p = g->ud;
    pub_wait(p, ts);
    cpw_srv_publish(p->ev, data, len);
}

static void no_frame(gen *g, const char *data, size_t len, int64_t ts)
{
    (void)g, (void)data, (void)len, (void)ts;
}

/* (d)'s publisher (rec_live_pub_fn): the job of (a), second after second
 * in real time, announced in rt as an agent announces itself. */
static void publish_live(const char *rt, const char *job)
{
    signal(SIGTERM, on_term);
    char err[600], path[CPW_PATH_MAX];
    cpw_job_entry e = {.pid = (int)getpid(), .started_us = cpw_now_us()};
    snprintf(e.job, sizeof e.job, "%s", job);
    snprintf(e.name, sizeof e.name, "bench");
    snprintf(e.events, sizeof e.events, "ipc://%s/%s.events", rt, job);
    snprintf(e.commands, sizeof e.commands, "ipc://%s/%s.cmd", rt, job);
    cpw_random_hex(e.instance, CPW_INSTANCE_HEX);
    pub p = {.m = cpt_model_new(NULL)};
    p.ev = cpw_srv_new(CPW_SRV_PUB, e.events, NULL, err, sizeof err);
    p.cmd = p.ev ? cpw_srv_new(CPW_SRV_REP, e.commands, NULL, err, sizeof err) : NULL;
    if (!p.m || !p.cmd || cpw_discovery_write(rt, &e, path, err, sizeof err)) {
        fprintf(stderr, "cprecbench: the publisher: %s\n", p.m ? err : "out of memory");
        return;
    }
    t0_us = cpw_now_us() + 500000;
    gen g = {.on_frame = no_frame, .ud = &p, .fold = p.m};
    cpw_buf_init(&g.frame);
    start(&g, p.m);
    memcpy(p.m->st->hello.instance, e.instance, sizeof e.instance);
    g.on_frame = to_pub;
    for (int sec = 0; !pub_quit; sec++)
        second(&g, sec);
    cpw_discovery_remove(path, e.instance);
    cpw_srv_destroy(p.ev);
    cpw_srv_destroy(p.cmd);
    cpt_model_free(p.m);
    cpw_buf_free(&g.frame);
}

static void part_d(const char *dir, const char *cptop, int seconds)
{
    fig.live_pct = fig.live_watch_ns = NAN;
    if (seconds <= 0)
        return;
    rec_live_res r;
    printf("  (d) three cptop dashboards (200x60 ptys) watching the job live, one with --record:\n");
    fflush(stdout);
    if (!rec_live_measure(cptop, dir, JOB, 5, seconds, publish_live, &r)) {
        printf("      not measured: %s\n", r.err);
        return;
    }
    fig.live_pct = r.extra_median;
    fig.live_ab_pct = r.plain_s > 0 ? (r.rec_s - r.plain_s) / r.plain_s * 100 : 0;
    /* the publisher sends (a)'s stream at its rate */
    fig.live_watch_ns = r.plain_s * 1e9 / (r.window_s * fig.events_s);
    printf("      over %.0f s: watching %.3f s CPU (%.2f %% of a core), watching and recording "
           "%.3f s (%.2f %%): %+.1f %%; %.1f MB recorded%s\n", r.window_s, r.plain_s,
           r.plain_s / r.window_s * 100, r.rec_s, r.rec_s / r.window_s * 100,
           r.plain_s > 0 ? (r.rec_s - r.plain_s) / r.plain_s * 100 : 0, (double)r.rec_bytes / 1e6,
           r.resolution_s > 1e-6 ? " (CPU in clock ticks: coarse)" : "");
    printf("      in %d slices of the window: median %+.1f %%, from %+.1f %% to %+.1f %%\n",
           REC_LIVE_SLICES, r.extra_median, r.extra_min, r.extra_max);
    fig.live_aa_pct = r.plain_s > 0 ? (r.control_s - r.plain_s) / r.plain_s * 100 : 0;
    printf("      a second watching one (the control, A/A): %.3f s, %+.1f %%\n", r.control_s,
           fig.live_aa_pct);
    printf("      the dashboard watching: %.0f ns CPU per event (decode, fold, socket, drawing)\n",
           fig.live_watch_ns);
}

/* One of issue 12's figures: measured against its target (at most, or at
 * least), the ratio measured / target, and whether it passes. */
static void fig_row(const char *what, const char *measured, double v, bool at_most, double target,
                    const char *target_text)
{
    bool ok = at_most ? v <= target : v >= target;
    printf("    %-44s %16s   %s %-9s %5.2f  %s\n", what, measured, at_most ? "<=" : ">=",
           target_text, v / target, ok ? "pass" : "FAIL");
}

static void summary(void)
{
    char v[4][48], what[80];
    double inproc = fig.rec_ns / fig.watch_ns * 100;
    snprintf(v[0], sizeof v[0], "%+.1f %%", fig.rec_ns / fig.live_watch_ns * 100);
    snprintf(v[1], sizeof v[1], "%.1f B", fig.bytes_ev);
    snprintf(v[2], sizeof v[2], "%.0f ms", fig.seek_max_ms);
    snprintf(v[3], sizeof v[3], "%s ev/s", bench_commas((uint64_t)fig.replay_ev_s));
    double load[1] = {-1};
    if (getloadavg(load, 1) != 1)
        load[0] = -1;
    printf("  issue 12's targets, side by side (%d x %d subtasks, a checkpoint a second; load "
           "average %.1f on %ld CPUs):\n    %-44s %16s   %-12s %5s\n", N_OPS, PAR, load[0],
           sysconf(_SC_NPROCESSORS_ONLN), "figure", "measured", "target", "ratio");
    /* (1): what the recorder's calls cost per event (b), against what a
     * live dashboard spends per event watching (d). Both are measured in
     * CPU over many seconds; the A/B of two dashboards side by side is
     * printed as a check, but its slices vary by +-15 % on a shared machine,
     * more than the effect. The ratio is of the extra share: +8 % against
     * 10 % is 0.80. */
    if (!isnan(fig.live_watch_ns)) {
        fig_row("(1) recording's extra CPU: recorder (b) / live", v[0],
                fig.rec_ns / fig.live_watch_ns * 100, true, TARGET_CPU_PCT, "10 %");
        printf("        (%.0f ns/event recording, %.0f watching live); check: live dashboards\n"
               "        A/B %+.1f %% over the window (slice median %+.1f %%), A/A (noise) %+.1f %%\n",
               fig.rec_ns, fig.live_watch_ns, fig.live_ab_pct, fig.live_pct, fig.live_aa_pct);
    } else {
        printf("    %-44s %16s\n", "(1) recording's extra CPU", "not measured (needs (d))");
    }
    printf("        against decode + fold alone (no socket, no drawing): %+.1f %% (%.0f / %.0f ns)\n",
           inproc, fig.rec_ns, fig.watch_ns);
    snprintf(what, sizeof what, "(2) bytes per event on disk (%d min)", fig.minutes);
    fig_row(what, v[1], fig.bytes_ev, true, TARGET_BYTES, "20 B");
    snprintf(what, sizeof what, "(3) seek to any time in %d min (slowest)", fig.minutes);
    fig_row(what, v[2], fig.seek_max_ms, true, TARGET_SEEK_MS, "200 ms");
    fig_row("(4) replay at full speed", v[3], fig.replay_ev_s, false, TARGET_REPLAY, "1 M ev/s");
    /* (3) and (4) are wall-clock figures: on a loaded machine, their CPU */
    printf("    (3) and (4) in CPU time: slowest seek %.0f ms, replay %s events per CPU second\n",
           fig.seek_max_cpu_ms, bench_commas((uint64_t)fig.replay_cpu_ev_s));
}

int main(int argc, char **argv)
{
    int minutes = 60, seconds = 60, live = 60;
    char cptop[4096];
    const char *slash = strrchr(argv[0], '/');
    snprintf(cptop, sizeof cptop, "%.*scptop", slash ? (int)(slash - argv[0] + 1) : 0, argv[0]);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--minutes"))
            minutes = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--live-seconds"))
            live = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cptop"))
            snprintf(cptop, sizeof cptop, "%s", argv[i + 1]);
    }
    if (minutes < 1 || seconds < 15 || live < 0) {
        fprintf(stderr, "usage: cprecbench [--minutes N>=1] [--seconds N>=15] "
                        "[--live-seconds N>=0] [--cptop PATH]\n");
        return 2;
    }
    bench_origin_ns = bench_now_ns();
    char dir[] = "/tmp/cprecbench.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("cprecbench: mkdtemp");
        return 1;
    }
    printf("recording and replay (cprecbench)\n");
    part_ab(dir, seconds);
    part_c(dir, minutes);
    part_d(dir, cptop, live);
    summary();
    rmdir(dir);
    return 0;
}
