/*
 * tuibench.c — the dashboard's half of `make bench`: cptop's model and view
 * (libcptui), measured in one run and printed side by side with the targets.
 *
 * The job: 8 operators x 128 subtasks (1,024), with the event stream a real
 * agent sends for it: per checkpoint a heartbeat (1,024 subtask rows, its own
 * frame, as the agent publishes it), cp_triggered, barrier_injected at the
 * sources, 1-4 barrier_received per subtask elsewhere (one per input
 * channel), alignment_start/end at multi-input subtasks, snapshot_start,
 * snapshot_sync_done, snapshot_async_done and ack (with sizes and
 * durations), then cp_completed and cp_committed; events in time order,
 * encoded with cpw_encode_event as NDJSON frames of 256 (hello first).
 *
 *   (i) ingest: events/s (a) through cpw_decode_frame -> cpt_model_on_msg,
 *       the path cptop really uses; (b) cpt_model_on_msg alone on the same
 *       messages decoded beforehand; (x) cpw_decode_frame alone;
 *   (r) render time per frame (cpt_view_render, 200x60) with 10,000
 *       checkpoints of history and one in flight: main, summary (cached and
 *       right after a checkpoint completed: cache miss), detail of the one in
 *       flight, events (and events behind a filter that matches nothing);
 *   (m) peak resident memory of a process holding that model (a child forked
 *       before anything else is allocated; its VmHWM).
 *
 * The stream is generated in chunks (the whole of it would not fit in
 * memory); only the decoding and applying are timed. Every model is checked
 * to have applied what it was fed (counts.completed, no gaps, nothing
 * ignored): a model still buffering for its get_state would look fast.
 *
 * It prints figures and targets; it never fails on a threshold. Exit status
 * is non-zero only when something breaks (a frame that does not decode, a
 * model that did not apply the stream).
 *
 *   cptuibench [--quick] [--events N] [--only PARTS] [--show]   (PARTS: any of "irm") 
 */
#include "cpt_frame.h"
#include "cpt_model.h"
#include "cpt_ui.h"
#include "cpt_view.h"
#include "cpw.h"
#include "bench_util.h"
#include "cpw_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Targets, printed beside the figures (never enforced). */
#define TARGET_INGEST_EVS 1000000.0
#define TARGET_FRAME_US 2000.0
#define TARGET_RSS_MIB 64.0

#define N_OPS 8
#define PAR 128
#define N_SUBS (N_OPS * PAR)
#define BATCH 256            /* events per frame, the agent's batch.max */
#define HISTORY 10000        /* (r) and (m) */
#define FRAME_W 200
#define FRAME_H 60
#define JOB "bench"

static const char *const op_names[N_OPS] = {"source", "parse", "aggregate", "enrich",
                                             "window", "dedupe", "format", "sink"};
/* input channels per subtask: a barrier_received each (sources inject) */
static const int op_inputs[N_OPS] = {0, 1, 4, 1, 4, 2, 1, 4};
/* operators with keyed state (big snapshots) */
static const bool op_stateful[N_OPS] = {false, false, true, false, true, true, false, true};

typedef struct opts {
    uint64_t events;         /* (i): at least this many events, whole checkpoints */
    int renders;             /* (r): frames timed per screen */
    bool quick, show;
    const char *only;
} opts;

/* ------------------------------------------------------------------ helpers */


static bool want(const opts *o, char part) { return !o->only || strchr(o->only, part); }

/* xorshift64*: deterministic figures */
static uint64_t rng_s = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_s ^= rng_s >> 12;
    rng_s ^= rng_s << 25;
    rng_s ^= rng_s >> 27;
    return rng_s * 0x2545F4914F6CDD1Dull;
}
static int64_t rnd_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cptuibench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ------------------------------------------------------------------ the job */

static cpw_hello hello;
static int64_t job_start_us;

static void make_hello(void)
{
    memset(&hello, 0, sizeof hello);
    snprintf(hello.name, sizeof hello.name, "bench-job");
    hello.pid = 4242;
    hello.start_ts_us = job_start_us;
    snprintf(hello.agent_version, sizeof hello.agent_version, "0.1.0");
    hello.n_ops = N_OPS;
    for (int i = 0; i < N_OPS; i++) {
        snprintf(hello.ops[i].name, sizeof hello.ops[i].name, "%s", op_names[i]);
        hello.ops[i].parallelism = PAR;
    }
    hello.n_edges = N_OPS - 1;
    for (int i = 0; i + 1 < N_OPS; i++) {
        hello.edges[i].from = i;
        hello.edges[i].to = i + 1;
        snprintf(hello.edges[i].kind, sizeof hello.edges[i].kind, "%s",
                 op_inputs[i + 1] == 1 ? "forward" : i + 1 == N_OPS - 1 ? "rebalance" : "hash");
    }
    static const char *const cfg[][2] = {
        {"execution.checkpointing.interval", "1s"},
        {"execution.checkpointing.timeout", "10 min"},
        {"execution.checkpointing.mode", "EXACTLY_ONCE"},
        {"execution.checkpointing.tolerable-failed-checkpoints", "3"},
        {"execution.checkpointing.min-pause", "0 ms"},
        {"parallelism.default", "128"},
    };
    hello.n_config = (int)(sizeof cfg / sizeof cfg[0]);
    for (int i = 0; i < hello.n_config; i++) {
        snprintf(hello.config_keys[i], sizeof hello.config_keys[i], "%s", cfg[i][0]);
        snprintf(hello.config_values[i], sizeof hello.config_values[i], "%s", cfg[i][1]);
    }
}

/* A growable array of events. */
typedef struct evbuf {
    cpw_event *ev;
    size_t n, cap;
} evbuf;

static cpw_event *ev_push(evbuf *b, cpw_event_type type, int64_t id, int op, int sub, int64_t ts)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16384;
        b->ev = realloc(b->ev, b->cap * sizeof *b->ev);
        if (!b->ev)
            die("out of memory");
    }
    cpw_event *e = &b->ev[b->n++];
    memset(e, 0, sizeof *e);
    e->type = type;
    e->cp_id = id;
    e->op = op;
    e->subtask = sub;
    e->ts_us = ts;
    return e;
}

static int cmp_ts(const void *a, const void *b)
{
    const cpw_event *x = a, *y = b;
    if (x->ts_us != y->ts_us)
        return (x->ts_us > y->ts_us) - (x->ts_us < y->ts_us);
    /* same µs: keep each subtask's phases in order */
    return (x->type > y->type) - (x->type < y->type);
}

/* One subtask's acknowledgement figures. */
static void ack_figures(cpw_ack_info *a, int op)
{
    a->state_size = op_stateful[op] ? rnd_in(4 << 20, 64 << 20) : rnd_in(0, 64 << 10);
    a->checkpointed_size = a->state_size / 8 + rnd_in(0, 4096);
}

/*
 * A whole checkpoint as the agent would stream it, in time order, appended
 * to out: trigger at t0, then per subtask barrier(s), alignment, snapshot
 * phases and ack, then completed and committed. Returns cp_committed's time.
 */
static int64_t gen_checkpoint(evbuf *out, int64_t id, int64_t t0)
{
    ev_push(out, CPW_EV_CP_TRIGGERED, id, -1, -1, t0)->u.triggered.kind = CPW_TRIGGER_PERIODIC;
    size_t from = out->n;
    int64_t max_ack = t0, state = 0, ckpt = 0;
    for (int op = 0; op < N_OPS; op++) {
        for (int k = 0; k < PAR; k++) {
            int64_t first = t0 + 200 + op * 1500 + rnd_in(0, 1000), last = first;
            if (rnd() % 500 == 0)
                first += rnd_in(50000, 300000); /* a straggler: the barrier is held up */
            if (op == 0) {
                ev_push(out, CPW_EV_BARRIER_INJECTED, id, op, k, first);
                last = first;
            } else {
                int64_t t = first;
                for (int c = 0; c < op_inputs[op]; c++) {
                    if (c)
                        t += rnd_in(20, 600);
                    ev_push(out, CPW_EV_BARRIER_RECEIVED, id, op, k, t)->u.barrier.channel = c;
                }
                last = t;
            }
            int64_t align_us = 0, buffered = 0, t = last;
            if (op_inputs[op] > 1) {
                ev_push(out, CPW_EV_ALIGNMENT_START, id, op, k, first + 1);
                align_us = last + 1 - (first + 1);
                buffered = rnd_in(0, 256 << 10);
                t = last + 1;
                cpw_event *e = ev_push(out, CPW_EV_ALIGNMENT_END, id, op, k, t);
                e->u.alignment.buffered_bytes = buffered;
                e->u.alignment.duration_us = align_us;
            }
            t += 1 + rnd_in(0, 50);
            ev_push(out, CPW_EV_SNAPSHOT_START, id, op, k, t);
            int64_t sync_us = 100 + rnd_in(0, 1500);
            t += sync_us;
            ev_push(out, CPW_EV_SNAPSHOT_SYNC_DONE, id, op, k, t)->u.sync.duration_us = sync_us;
            int64_t async_us = 2000 + rnd_in(0, 60000);
            t += async_us;
            cpw_ack_info a = {0};
            ack_figures(&a, op);
            cpw_event *e = ev_push(out, CPW_EV_SNAPSHOT_ASYNC_DONE, id, op, k, t);
            e->u.async.bytes = a.checkpointed_size;
            e->u.async.duration_us = async_us;
            t += 10 + rnd_in(0, 200);
            a.processed_data = buffered;
            a.start_delay_us = first - t0;
            a.alignment_us = align_us;
            a.sync_us = sync_us;
            a.async_us = async_us;
            ev_push(out, CPW_EV_ACK, id, op, k, t)->u.ack = a;
            state += a.state_size;
            ckpt += a.checkpointed_size;
            if (t > max_ack)
                max_ack = t;
        }
    }
    qsort(out->ev + from, out->n - from, sizeof *out->ev, cmp_ts);
    int64_t done = max_ack + 500;
    cpw_event *e = ev_push(out, CPW_EV_CP_COMPLETED, id, -1, -1, done);
    e->u.completed.duration_us = done - t0;
    e->u.completed.state_size = state;
    e->u.completed.checkpointed_size = ckpt;
    ev_push(out, CPW_EV_CP_COMMITTED, id, -1, -1, done + 3000);
    return done + 3000;
}

/* A cheaper checkpoint for filling a history: trigger, an ack per subtask
 * (with the figures the summary reads), completed, committed. */
static void gen_cheap_checkpoint(evbuf *out, int64_t id, int64_t t0)
{
    ev_push(out, CPW_EV_CP_TRIGGERED, id, -1, -1, t0)->u.triggered.kind = CPW_TRIGGER_PERIODIC;
    int64_t t = t0 + 1000, state = 0, ckpt = 0;
    for (int op = 0; op < N_OPS; op++)
        for (int k = 0; k < PAR; k++) {
            cpw_ack_info a = {0};
            ack_figures(&a, op);
            a.start_delay_us = 200 + op * 1500 + rnd_in(0, 1000);
            a.alignment_us = op_inputs[op] > 1 ? rnd_in(20, 2000) : 0;
            a.sync_us = 100 + rnd_in(0, 1500);
            a.async_us = 2000 + rnd_in(0, 60000);
            t += rnd_in(0, 60);
            ev_push(out, CPW_EV_ACK, id, op, k, t)->u.ack = a;
            state += a.state_size;
            ckpt += a.checkpointed_size;
        }
    int64_t done = t + 500 + (rnd() % 50 == 0 ? rnd_in(100000, 900000) : 0);
    cpw_event *e = ev_push(out, CPW_EV_CP_COMPLETED, id, -1, -1, done);
    e->u.completed.duration_us = done - t0;
    e->u.completed.state_size = state;
    e->u.completed.checkpointed_size = ckpt;
    ev_push(out, CPW_EV_CP_COMMITTED, id, -1, -1, done + 3000);
}

/* ------------------------------------------------------------------ models */

/* A model past its first get_state: what it is fed is applied, not buffered.
 * The state is what an agent would answer before its first event: the
 * topology, seq 0. */
static cpt_model *new_model(const cpt_model_conf *conf)
{
    cpt_model *m = cpt_model_new(conf);
    cpw_state *st = cpw_state_new(64, 64);
    if (!m || !st)
        die("out of memory");
    snprintf(st->job, sizeof st->job, JOB);
    cpw_state_set_hello(st, &hello);
    st->status = CPW_JOB_RUNNING;
    st->seq = 0;
    cpt_model_connecting(m, "ipc:///bench", job_start_us);
    cpt_model_state_sent(m);
    cpt_model_on_state(m, st, job_start_us);
    if (m->want_state || m->state_pending)
        die("the model did not take its initial state");
    return m;
}

/* Checks that a model applied what it was fed. */
static void check_model(const char *what, const cpt_model *m, int64_t completed, uint64_t events)
{
    const cpw_state *st = m->st;
    if (st->counts.completed != completed || m->events != events || m->gaps || m->restarts ||
        m->bad_frames || m->want_state || m->state_pending || m->pend_n || st->ignored ||
        st->n_subtasks != N_SUBS)
        die("%s: the model did not apply the stream: %lld of %lld completed, %s of %s events, "
            "%llu gaps, %llu restarts, %lld ignored, %d buffered%s", what,
            (long long)st->counts.completed, (long long)completed, bench_commas(m->events), bench_commas(events),
            (unsigned long long)m->gaps, (unsigned long long)m->restarts, (long long)st->ignored,
            m->pend_n, m->want_state || m->state_pending ? ", waiting for a state" : "");
}

/* Feeds events straight into a model as decoded messages (no JSON). */
typedef struct feeder {
    cpt_model *m;
    uint64_t seq;
} feeder;

static void feed(feeder *fd, const cpw_event *ev)
{
    cpw_msg msg = {.v = 1, .kind = CPW_K_EVENT, .seq = ++fd->seq, .ts_us = ev->ts_us, .ev = *ev};
    snprintf(msg.job, sizeof msg.job, JOB);
    cpt_model_on_msg(fd->m, &msg, ev->ts_us);
}

static void feed_all(feeder *fd, const evbuf *b)
{
    for (size_t i = 0; i < b->n; i++)
        feed(fd, &b->ev[i]);
}

/* ------------------------------------------------------------------ (i) ingest */

/* One chunk of the recorded stream: NDJSON frames in one buffer. */
typedef struct chunk {
    cpw_buf text;
    size_t *off, *len;
    int n_frames, cap_frames;
    uint64_t events, msgs;
} chunk;

static void chunk_frame_end(chunk *c, size_t start)
{
    if (c->text.len == start)
        return;
    if (c->n_frames == c->cap_frames) {
        c->cap_frames = c->cap_frames ? c->cap_frames * 2 : 1024;
        c->off = realloc(c->off, (size_t)c->cap_frames * sizeof *c->off);
        c->len = realloc(c->len, (size_t)c->cap_frames * sizeof *c->len);
        if (!c->off || !c->len)
            die("out of memory");
    }
    c->off[c->n_frames] = start;
    c->len[c->n_frames] = c->text.len - start;
    c->n_frames++;
}

typedef struct stream {
    uint64_t seq;
    int64_t next_id, next_t;
    int64_t records;         /* heartbeat counters */
    cpw_subtask_metrics rows[N_SUBS];
    evbuf evs;
} stream;

/* Appends ncp checkpoints (each after its heartbeat) to c as frames. */
static void gen_chunk(stream *s, chunk *c, int ncp, bool with_hello)
{
    cpw_buf_reset(&c->text);
    c->n_frames = 0;
    c->events = c->msgs = 0;
    cpw_envelope env = {.job = JOB};
    if (with_hello) {
        env.seq = ++s->seq;
        env.ts_us = s->next_t - 500000;
        cpw_encode_hello(&c->text, &env, &hello);
        chunk_frame_end(c, 0);
        c->msgs++;
    }
    for (int i = 0; i < ncp; i++) {
        /* the heartbeat: its own frame, as the agent publishes it */
        s->records += 500;
        for (int k = 0; k < N_SUBS; k++) {
            cpw_subtask_metrics *r = &s->rows[k];
            r->op = k / PAR;
            r->subtask = k % PAR;
            r->records_in = s->records + k;
            r->records_out = s->records + k;
            r->queue_fill_permille = (int32_t)rnd_in(0, 300);
            r->backpressured = 0;
        }
        cpw_heartbeat hb = {.emitted = s->seq, .sent = s->seq, .n = N_SUBS, .subtasks = s->rows};
        size_t start = c->text.len;
        env.seq = ++s->seq;
        env.ts_us = s->next_t - 1000;
        cpw_encode_heartbeat(&c->text, &env, &hb);
        chunk_frame_end(c, start);
        c->msgs++;

        s->evs.n = 0;
        gen_checkpoint(&s->evs, s->next_id++, s->next_t);
        s->next_t += 1000000; /* every second (the commit is long done by then) */
        start = c->text.len;
        int in_batch = 0;
        for (size_t j = 0; j < s->evs.n; j++) {
            if (in_batch == BATCH) {
                chunk_frame_end(c, start);
                start = c->text.len;
                in_batch = 0;
            }
            if (in_batch)
                cpw_buf_reserve(&c->text, 1), c->text.data[c->text.len++] = '\n';
            env.seq = ++s->seq;
            env.ts_us = s->evs.ev[j].ts_us;
            cpw_encode_event(&c->text, &env, &s->evs.ev[j]);
            in_batch++;
        }
        chunk_frame_end(c, start);
        c->events += s->evs.n;
        c->msgs += s->evs.n;
    }
    if (c->text.failed)
        die("out of memory encoding the stream");
}

typedef struct feed_ctx {
    cpt_model *m;
    cpw_msg *msgs;           /* (b): decoded messages kept */
    size_t n, cap;
} feed_ctx;

static int cb_apply(void *opaque, cpw_msg *msg)
{
    feed_ctx *f = opaque;
    cpt_model_on_msg(f->m, msg, msg->ts_us);
    return 0;
}

static int cb_none(void *opaque, cpw_msg *msg)
{
    (void)opaque;
    (void)msg;
    return 0;
}

static int cb_keep(void *opaque, cpw_msg *msg)
{
    feed_ctx *f = opaque;
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 65536;
        f->msgs = realloc(f->msgs, f->cap * sizeof *f->msgs);
        if (!f->msgs)
            die("out of memory");
    }
    f->msgs[f->n++] = *msg;
    /* the copy owns what the message owned */
    msg->hello = NULL;
    msg->heartbeat.subtasks = NULL;
    msg->heartbeat.n = 0;
    return 0;
}

static void decode_chunk(const chunk *c, cpw_msg_cb cb, void *opaque)
{
    for (int i = 0; i < c->n_frames; i++) {
        cpw_error err;
        size_t count = 0;
        if (cpw_decode_frame(c->text.data + c->off[i], c->len[i], cb, opaque, &count, &err) != CPW_OK)
            die("frame %d does not decode: %s", i, err.text);
    }
}

typedef struct ingest_result {
    uint64_t events, msgs, frames, bytes;
    int64_t checkpoints;
    double a_ns, b_ns, x_ns;  /* time of (a), (b), (x) */
    double a_evs, b_evs, x_evs;
} ingest_result;

static ingest_result run_ingest(const opts *o)
{
    ingest_result r = {0};
    static stream s;         /* big: rows */
    memset(&s, 0, sizeof s);
    s.next_id = 1;
    s.next_t = job_start_us + 2000000;
    chunk c = {0};
    cpw_buf_init(&c.text);
    cpt_model *ma = new_model(NULL), *mb = new_model(NULL);  /* cptop's defaults */
    feed_ctx fa = {.m = ma}, fb = {.m = mb};
    const int per_chunk = 16; /* checkpoints per chunk: ~120,000 events, ~30 MB of JSON */
    bool first = true;
    while (r.events < o->events) {
        gen_chunk(&s, &c, per_chunk, first);
        first = false;
        r.events += c.events;
        r.msgs += c.msgs;
        r.frames += (uint64_t)c.n_frames;
        r.bytes += c.text.len;
        r.checkpoints += per_chunk;

        /* (x) decode alone */
        int64_t t0 = bench_now_ns();
        decode_chunk(&c, cb_none, NULL);
        r.x_ns += (double)(bench_now_ns() - t0);

        /* (a) decode + apply */
        t0 = bench_now_ns();
        decode_chunk(&c, cb_apply, &fa);
        r.a_ns += (double)(bench_now_ns() - t0);

        /* (b) apply alone, on the same messages decoded beforehand */
        fb.n = 0;
        decode_chunk(&c, cb_keep, &fb);
        t0 = bench_now_ns();
        for (size_t i = 0; i < fb.n; i++)
            cpt_model_on_msg(mb, &fb.msgs[i], fb.msgs[i].ts_us);
        r.b_ns += (double)(bench_now_ns() - t0);
        for (size_t i = 0; i < fb.n; i++)
            cpw_msg_clear(&fb.msgs[i]);
    }
    check_model("(a) decode + apply", ma, r.checkpoints, r.events);
    check_model("(b) apply alone", mb, r.checkpoints, r.events);
    r.a_evs = (double)r.events * 1e9 / r.a_ns;
    r.b_evs = (double)r.events * 1e9 / r.b_ns;
    r.x_evs = (double)r.events * 1e9 / r.x_ns;
    cpt_model_free(ma);
    cpt_model_free(mb);
    free(fb.msgs);
    free(s.evs.ev);
    cpw_buf_free(&c.text);
    free(c.off);
    free(c.len);
    return r;
}

/* ------------------------------------------------------------------ (r) render */

typedef struct dash {
    cpt_model *m;
    feeder fd;
    int64_t next_id, next_t;
    int64_t inflight_id, inflight_t0, now;
} dash;

/* The model of (r) and (m): HISTORY completed checkpoints retained (the
 * newest 50 with per-subtask detail, cptop's default), one in flight about
 * 40 ms in (barriers all in, uploads under way, about half acknowledged). */
static void build_dash(dash *d)
{
    cpt_model_conf conf = {.history_cap = HISTORY};
    d->m = new_model(&conf);
    d->fd = (feeder){.m = d->m};
    d->next_id = 1;
    d->next_t = job_start_us + 2000000;
    evbuf b = {0};
    int64_t n_completed = 0;
    for (int i = 0; i < HISTORY; i++) {
        b.n = 0;
        if (i >= HISTORY - 50)
            gen_checkpoint(&b, d->next_id++, d->next_t); /* the detailed ones: real phases */
        else
            gen_cheap_checkpoint(&b, d->next_id++, d->next_t);
        feed_all(&d->fd, &b);
        d->next_t += 1000000;
        n_completed++;
    }
    b.n = 0;
    d->inflight_id = d->next_id++;
    d->inflight_t0 = d->next_t;
    d->next_t += 1000000;
    gen_checkpoint(&b, d->inflight_id, d->inflight_t0);
    d->now = d->inflight_t0 + 40000;
    for (size_t i = 0; i < b.n && b.ev[i].ts_us <= d->now; i++)
        feed(&d->fd, &b.ev[i]);
    free(b.ev);
    check_model("(r) model", d->m, n_completed, d->fd.seq);
    const cpw_cp *cp = cpw_state_find_inflight(d->m->st, d->inflight_id);
    if (d->m->st->n_history != HISTORY || !cp || cp->acks == 0 || cp->acks == cp->total)
        die("(r) model: %d in the history, in flight %s", d->m->st->n_history,
            cp ? "without acks or all acked" : "missing");
}

/* One more completed checkpoint (cheap), after the one in flight; returns
 * the time of its last event. */
static int64_t complete_one(dash *d)
{
    static evbuf b;
    b.n = 0;
    gen_cheap_checkpoint(&b, d->next_id++, d->next_t);
    d->next_t += 1000000;
    feed_all(&d->fd, &b);
    return b.ev[b.n - 1].ts_us;
}

typedef struct lat {
    double med, p99, max;
    int n;
} lat;

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static lat lat_of(double *v, int n)
{
    lat l = {.n = n};
    if (!n)
        return l;
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    int k99 = (int)(0.99 * n + 0.999999);
    l.med = v[(n - 1) / 2];
    l.p99 = v[(k99 < 1 ? 1 : k99 > n ? n : k99) - 1];
    l.max = v[n - 1];
    return l;
}

/* Renders one screen reps times (the clock moving 1 ms a frame); ns per frame. */
static lat time_screen(dash *d, cpt_ui *ui, cpt_frame *f, int reps, double *v)
{
    cpt_view_render(d->m, ui, f, d->now); /* warm */
    for (int i = 0; i < reps; i++) {
        int64_t t0 = bench_now_ns();
        cpt_view_render(d->m, ui, f, d->now + i * 1000);
        v[i] = (double)(bench_now_ns() - t0);
    }
    return lat_of(v, reps);
}

typedef struct render_result {
    lat main_, summary, summary_miss, summary_calc, detail, events, events_filter;
    int log_n;
    char *shown[4];          /* --show: the screens as text */
} render_result;

static void ui_screen(cpt_ui *ui, const dash *d, int screen)
{
    cpt_ui_init(ui, false, true);
    ui->screen = screen;
    ui->detail_id = d->inflight_id;
    ui->detail_trigger_ts = d->inflight_t0;
}

static render_result run_render(const opts *o, dash *d)
{
    render_result r = {0};
    int reps = o->renders;
    double *v = malloc((size_t)reps * sizeof *v);
    cpt_frame f = {0};
    if (!v || cpt_frame_resize(&f, FRAME_W, FRAME_H))
        die("out of memory");
    cpt_ui ui;

    ui_screen(&ui, d, CPT_SCR_MAIN);
    r.main_ = time_screen(d, &ui, &f, reps, v);
    ui_screen(&ui, d, CPT_SCR_SUMMARY);
    r.summary = time_screen(d, &ui, &f, reps, v);
    ui_screen(&ui, d, CPT_SCR_DETAIL);
    r.detail = time_screen(d, &ui, &f, reps, v);
    if (!cpt_ui_detail_cp(&ui, d->m))
        die("(r) the detail screen does not find the checkpoint in flight");
    ui_screen(&ui, d, CPT_SCR_EVENTS);
    r.events = time_screen(d, &ui, &f, reps, v);
    /* a filter nothing matches: every retained line is formatted and tested */
    ui_screen(&ui, d, CPT_SCR_EVENTS);
    snprintf(ui.filter, sizeof ui.filter, "no-such-text");
    r.events_filter = time_screen(d, &ui, &f, reps / 4 > 20 ? reps / 4 : 20, v);
    r.log_n = d->m->log_n;

    /* --show: the screens as timed */
    static const int screens[] = {CPT_SCR_MAIN, CPT_SCR_SUMMARY, CPT_SCR_DETAIL, CPT_SCR_EVENTS};
    for (size_t i = 0; o->show && i < sizeof screens / sizeof screens[0]; i++) {
        ui_screen(&ui, d, screens[i]);
        cpt_view_render(d->m, &ui, &f, d->now);
        char *t = cpt_frame_text(&f);
        if (t)
            r.shown[i] = t;
    }

    /* summary right after a checkpoint completed: the cache is stale */
    int miss = reps / 4 > 20 ? reps / 4 : 20;
    ui_screen(&ui, d, CPT_SCR_SUMMARY);
    cpt_view_render(d->m, &ui, &f, d->now);
    for (int i = 0; i < miss; i++) {
        int64_t done = complete_one(d);
        int64_t t0 = bench_now_ns();
        cpt_view_render(d->m, &ui, &f, done);
        v[i] = (double)(bench_now_ns() - t0);
    }
    r.summary_miss = lat_of(v, miss);
    /* of which the summary itself (cpt_model_summary on a stale cache) */
    for (int i = 0; i < miss; i++) {
        d->m->hist_version++;
        int64_t t0 = bench_now_ns();
        cpt_model_summary(d->m);
        v[i] = (double)(bench_now_ns() - t0);
    }
    r.summary_calc = lat_of(v, miss);
    if (d->m->st->n_history != HISTORY || !cpw_state_find_inflight(d->m->st, d->inflight_id))
        die("(r) the model changed shape while rendering");
    cpt_frame_free(&f);
    free(v);
    return r;
}

/* ------------------------------------------------------------------ (m) memory */

static long status_kb(const char *key)
{
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp)
        return -1;
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, fp))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(fp);
    return v;
}

typedef struct mem_result {
    long base_kb, rss_kb, hwm_kb;
    bool ok;
} mem_result;

/* In a child forked before anything big is allocated: the model of (r),
 * every screen rendered once; its peak RSS. */
static mem_result run_memory(void)
{
    mem_result r = {0};
    int p[2];
    if (pipe(p))
        die("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(p[0]);
        mem_result c = {.base_kb = status_kb("VmRSS")};
        dash d;
        build_dash(&d);
        cpt_frame f = {0};
        cpt_frame_resize(&f, FRAME_W, FRAME_H);
        cpt_ui ui;
        static const int screens[] = {CPT_SCR_MAIN, CPT_SCR_SUMMARY, CPT_SCR_DETAIL, CPT_SCR_EVENTS};
        for (size_t i = 0; i < sizeof screens / sizeof screens[0]; i++) {
            ui_screen(&ui, &d, screens[i]);
            cpt_view_render(d.m, &ui, &f, d.now);
        }
        c.rss_kb = status_kb("VmRSS");
        c.hwm_kb = status_kb("VmHWM");
        c.ok = c.hwm_kb > 0;
        if (write(p[1], &c, sizeof c) != (ssize_t)sizeof c)
            _exit(1);
        _exit(0);
    }
    close(p[1]);
    ssize_t n = read(p[0], &r, sizeof r);
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    if (n != (ssize_t)sizeof r || !WIFEXITED(status) || WEXITSTATUS(status))
        die("the memory child failed");
    return r;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: cptuibench [--quick] [--events N] [--only PARTS] [--show]\n"
            "  --events N   events for the ingest figures (default 2,000,000; --quick 300,000)\n"
            "  --only PARTS any of i (ingest), r (render), m (memory)\n"
            "  --show       print the screens (r) renders, after the figures\n");
}

static void print_lat(const char *label, const lat *l)
{
    printf("    %-34s median %9s  p99 %9s  max %9s   p99 %5.2fx the target\n", label, bench_fmt_ns(l->med),
           bench_fmt_ns(l->p99), bench_fmt_ns(l->max), l->p99 / (TARGET_FRAME_US * 1e3));
}

int main(int argc, char **argv)
{
    opts o = {.events = 2000000, .renders = 400};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            o.quick = true;
            o.events = 300000;
            o.renders = 100;
        } else if (!strcmp(argv[i], "--events") && i + 1 < argc) {
            char *end;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (*end || v < 1 || v > 100000000)
                die("--events wants 1..100000000");
            o.events = v;
        } else if (!strcmp(argv[i], "--show")) {
            o.show = true;
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            o.only = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    bench_origin_ns = bench_now_ns();
    /* fixed, so that every run renders the same clock text; an hour of uptime */
    job_start_us = (cpw_now_us() / 1000000) * 1000000 - 3 * 3600 * 1000000LL;
    make_hello();

    mem_result mem = {0};
    if (want(&o, 'm')) {
        bench_note("(m) a child builds a model of %s checkpoints and reports its peak RSS", bench_commas(HISTORY));
        mem = run_memory();
    }
    ingest_result ing = {0};
    if (want(&o, 'i')) {
        bench_note("(i) ingest: >= %s events of an %d x %d job, frames of %d", bench_commas(o.events), N_OPS, PAR,
             BATCH);
        ing = run_ingest(&o);
    }
    render_result ren = {0};
    if (want(&o, 'r')) {
        bench_note("(r) filling a model with %s checkpoints", bench_commas(HISTORY));
        dash d;
        build_dash(&d);
        bench_note("(r) rendering %dx%d, %d frames per screen", FRAME_W, FRAME_H, o.renders);
        ren = run_render(&o, &d);
        cpt_model_free(d.m);
    }

    double secs = (double)(bench_now_ns() - bench_origin_ns) / 1e9;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("\ntuibench — %ld cores, a job of %d operators x %d subtasks (%s), cptop's model and view\n",
           cores, N_OPS, PAR, bench_commas(N_SUBS));
    if (want(&o, 'i')) {
        printf("(i) ingest, decode + apply           %11s ev/s   target >= %s   %.2fx the target"
               "   (cpw_decode_frame -> cpt_model_on_msg, what cptop runs)\n",
               bench_commas((uint64_t)ing.a_evs), bench_commas((uint64_t)TARGET_INGEST_EVS),
               ing.a_evs / TARGET_INGEST_EVS);
        printf("    apply alone (decoded beforehand) %11s ev/s   %.1fx (a)   (cpt_model_on_msg)\n",
               bench_commas((uint64_t)ing.b_evs), ing.b_evs / ing.a_evs);
        printf("    decode alone                     %11s ev/s   %.1fx (a)   (cpw_decode_frame, no "
               "callback work)\n", bench_commas((uint64_t)ing.x_evs), ing.x_evs / ing.a_evs);
        printf("    per event: decode + apply %s; decode alone %s, apply alone %s\n",
               bench_fmt_ns(ing.a_ns / (double)ing.events), bench_fmt_ns(ing.x_ns / (double)ing.events),
               bench_fmt_ns(ing.b_ns / (double)ing.events));
        printf("    stream: %s events in %s checkpoints (%s per checkpoint), %s frames, %.0f MB of "
               "NDJSON, %.0f bytes/event; plus a %s-row heartbeat per checkpoint (timed, not "
               "counted)\n",
               bench_commas(ing.events), bench_commas((uint64_t)ing.checkpoints),
               bench_commas(ing.events / (uint64_t)ing.checkpoints), bench_commas(ing.frames),
               (double)ing.bytes / 1e6, (double)ing.bytes / (double)ing.msgs, bench_commas(N_SUBS));
    }
    if (want(&o, 'r')) {
        printf("(r) render %dx%d, %s checkpoints of history + 1 in flight, target <= %.0f ms a frame\n",
               FRAME_W, FRAME_H, bench_commas(HISTORY), TARGET_FRAME_US / 1e3);
        print_lat("main screen", &ren.main_);
        print_lat("summary (cached)", &ren.summary);
        print_lat("summary, one just completed", &ren.summary_miss);
        printf("      of which cpt_model_summary       median %9s  p99 %9s   (sorts %s figures x3)\n",
               bench_fmt_ns(ren.summary_calc.med), bench_fmt_ns(ren.summary_calc.p99), bench_commas(HISTORY));
        print_lat("detail of the one in flight", &ren.detail);
        print_lat("events", &ren.events);
        char lbl[64];
        snprintf(lbl, sizeof lbl, "events, filter matching none");
        print_lat(lbl, &ren.events_filter);
        printf("      (%s lines kept; each is matched once per filter, then cached)\n",
               bench_commas((uint64_t)ren.log_n));
    }
    if (want(&o, 'm')) {
        double hwm = (double)mem.hwm_kb / 1024.0;
        printf("(m) memory, %s checkpoints retained (50 with per-subtask detail), 1 in flight\n",
               bench_commas(HISTORY));
        printf("    peak RSS (VmHWM)              %8.1f MiB   target <= %.0f MiB   %.2fx the target"
               "   (now %.1f MiB; %.1f MiB before the model)\n",
               hwm, TARGET_RSS_MIB, hwm / TARGET_RSS_MIB, (double)mem.rss_kb / 1024.0,
               (double)mem.base_kb / 1024.0);
    }
    printf("    total %.1f s\n", secs);
    for (int i = 0; i < 4; i++)
        if (ren.shown[i]) {
            printf("\n%s", ren.shown[i]);
            free(ren.shown[i]);
        }
    return 0;
}
