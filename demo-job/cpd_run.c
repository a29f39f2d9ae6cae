/* cpd_run.c — `cpdemo run`: the streaming job (see cpd_run.h). */
#include "cpd_run.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpagent.h"
#include "cpd_align.h"
#include "cpd_config.h"
#include "cpd_coord.h"
#include "cpd_kafka.h"
#include "cpd_supervise.h"
#include "cpd_parse.h"
#include "cpd_sink.h"
#include "cpd_storage.h"

enum { OP_SOURCE, OP_PARSE, OP_AGG, OP_SINK, N_OPS };
static const char *const op_names[N_OPS] = {"source", "parse", "aggregate", "sink"};

#define MAXP CPD_MAX_PARALLELISM
#define MAX_PARTS 256
#define CHAN_CAP 512
#define RAW_MAX 384
#define PENDING 64 /* per-checkpoint bookkeeping slots (id % PENDING) */

/* ------------------------------------------------------------------ items */

enum { IT_RECORD, IT_BARRIER };

typedef struct item {
    uint8_t kind;
    int64_t cp;                                     /* IT_BARRIER */
    union {
        struct { int32_t partition; int64_t offset; uint16_t len; uint8_t too_long;
                 char raw[RAW_MAX]; } src;
        struct { char account[32]; int64_t amount, ts; } pay;
        cpd_row row;
    } u;
} item;

struct inbox;
typedef struct chan {
    struct inbox *to;
    pthread_cond_t not_full;
    item *buf;
    int head, count;
} chan;

/* A consumer's input channels share its lock, so it can wait on all of them. */
typedef struct inbox {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int n;
    chan ch[MAXP];
    int next;          /* round-robin start */
} inbox;

/* ------------------------------------------------------------------ job */

typedef struct pending {
    int64_t id;
    int64_t trigger_us;
    cpd_metadata *md;                  /* states and offsets gathered from acks */
} pending;

typedef struct job job;

typedef struct task {
    job *j;
    int op, sub;
    pthread_t thread;
    bool started;
    inbox in;                          /* parse, aggregate, sink */
    chan *out[MAXP];                   /* where this task writes */
    int n_out;
    _Atomic int64_t rec_in, rec_out;
    _Atomic int blocked_out;           /* waiting on a full output channel */
    /* failure injection */
    atomic_int kill, decline_next, stall_ms;
} task;

typedef struct io_req {
    int64_t cp;
    int op, sub;
    void *data;
    size_t len;
    int64_t sync_us, start_delay_us, alignment_us;
    int32_t parts[MAX_PARTS];          /* source: offsets to record */
    int64_t offsets[MAX_PARTS];
    int n_parts;
    struct io_req *next;
} io_req;

struct job {
    cpd_config cfg;
    char bootstrap[512];
    char job_id[64];
    int P, n_parts;
    cpa_agent *agent;
    cpd_storage *st;
    cpd_sink *commit_sink;             /* the coordinator's */
    int attempt;
    int64_t next_id;
    /* --drain: read up to the end offsets seen at start, checkpoint, exit */
    bool drain;
    int64_t end_offsets[MAX_PARTS];
    atomic_int sources_done;
    _Atomic int64_t final_cp;          /* first checkpoint triggered after all sources ended */
    int64_t last_cp_ms, last_cp_bytes;
    /* per attempt */
    atomic_int stopping;
    atomic_int failed;
    char fail_reason[CPA_TEXT_MAX];
    pthread_mutex_t fail_mu;
    task tasks[N_OPS][MAXP];
    _Atomic int64_t pending_barrier[MAXP]; /* sources: inject this id */
    _Atomic int64_t aborted;               /* newest checkpoint that failed */
    int64_t start_offsets[MAX_PARTS];      /* restored */
    cpd_metadata *restored_md;
    /* coordinator */
    pthread_mutex_t cmu;
    pthread_cond_t ccond;
    cpd_coord *coord;
    pending pend[PENDING];
    pthread_t coord_thread;
    bool coord_started, io_started;
    /* io thread */
    pthread_mutex_t iomu;
    pthread_cond_t iocond;
    io_req *io_head, *io_tail;
    pthread_t io_thread;
};

static void publish_config(job *j);

static volatile sig_atomic_t quit;
static void on_signal(int sig) { (void)sig; quit = 1; }

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static atomic_bool first_row_seen;
static int64_t process_start_ms;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cpdemo run: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void emit(job *j, cpa_event ev) { cpa_emit(j->agent, &ev); }

static cpa_event ev_sub(cpa_event_type t, int64_t cp, int op, int sub)
{
    cpa_event e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.cp_id = cp;
    e.op = op;
    e.subtask = sub;
    return e;
}

/* A task failed, or the job must restart: everything stops, the attempt
 * loop restores from the latest completed checkpoint. */
static void job_fail(job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void job_fail(job *j, const char *fmt, ...)
{
    pthread_mutex_lock(&j->fail_mu);
    if (!atomic_load(&j->failed)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->fail_reason, sizeof j->fail_reason, fmt, ap);
        va_end(ap);
        atomic_store(&j->failed, 1);
    }
    pthread_mutex_unlock(&j->fail_mu);
    atomic_store(&j->stopping, 1);
}

/* ------------------------------------------------------------------ channels */

static bool inbox_init(inbox *b, int n)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cond, NULL);
    b->n = n;
    for (int i = 0; i < n; i++) {
        b->ch[i].to = b;
        pthread_cond_init(&b->ch[i].not_full, NULL);
        b->ch[i].buf = calloc(CHAN_CAP, sizeof(item));
        if (!b->ch[i].buf)
            return false;
    }
    return true;
}

static void inbox_free(inbox *b)
{
    for (int i = 0; i < b->n; i++) {
        free(b->ch[i].buf);
        pthread_cond_destroy(&b->ch[i].not_full);
    }
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cond);
    b->n = 0;
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += (long)ms * 1000000L;
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

/* Blocks while the channel is full (that is backpressure); false when the
 * job is stopping. */
static bool push(job *j, task *from, chan *c, const item *it)
{
    inbox *b = c->to;
    pthread_mutex_lock(&b->mu);
    while (c->count == CHAN_CAP && !atomic_load(&j->stopping) && !atomic_load(&from->kill)) {
        atomic_store(&from->blocked_out, 1);
        struct timespec ts;
        deadline_in(&ts, 100);
        pthread_cond_timedwait(&c->not_full, &b->mu, &ts);
    }
    atomic_store(&from->blocked_out, 0);
    if (atomic_load(&j->stopping) || c->count == CHAN_CAP) {
        pthread_mutex_unlock(&b->mu);
        return false;
    }
    c->buf[(c->head + c->count) % CHAN_CAP] = *it;
    c->count++;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->mu);
    return true;
}

/* Takes the next item from a channel that is not blocked by alignment.
 * 1: got one (*ch says from where); 0: nothing within 100 ms; -1: stopping. */
static int pop(job *j, inbox *b, const cpd_align *al, item *out, int *ch)
{
    pthread_mutex_lock(&b->mu);
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < b->n; k++) {
            int i = (b->next + k) % b->n;
            chan *c = &b->ch[i];
            if (!c->count || (al && cpd_align_blocked(al, i)))
                continue;
            *out = c->buf[c->head];
            c->head = (c->head + 1) % CHAN_CAP;
            c->count--;
            b->next = (i + 1) % b->n;
            *ch = i;
            pthread_cond_signal(&c->not_full);
            pthread_mutex_unlock(&b->mu);
            return 1;
        }
        if (atomic_load(&j->stopping)) {
            pthread_mutex_unlock(&b->mu);
            return -1;
        }
        if (round == 0) {
            struct timespec ts;
            deadline_in(&ts, 100);
            pthread_cond_timedwait(&b->cond, &b->mu, &ts);
        }
    }
    pthread_mutex_unlock(&b->mu);
    return 0;
}

static int fill_permille(inbox *b)
{
    pthread_mutex_lock(&b->mu);
    int total = 0;
    for (int i = 0; i < b->n; i++)
        total += b->ch[i].count;
    pthread_mutex_unlock(&b->mu);
    return b->n ? total * 1000 / (b->n * CHAN_CAP) : 0;
}

static void metrics(task *t, int64_t *last_ms)
{
    int64_t now = mono_ms();
    if (now - *last_ms < 200)
        return;
    *last_ms = now;
    cpa_subtask_metrics(t->j->agent, t->op, t->sub, atomic_load(&t->rec_in),
                        atomic_load(&t->rec_out), t->op == OP_SOURCE ? 0 : fill_permille(&t->in),
                        atomic_load(&t->blocked_out));
}

/* ------------------------------------------------------------------ checkpoint bookkeeping */

static pending *pend_of(job *j, int64_t cp) /* under cmu */
{
    pending *p = &j->pend[cp % PENDING];
    return p->id == cp ? p : NULL;
}

static int64_t trigger_us_of(job *j, int64_t cp)
{
    pthread_mutex_lock(&j->cmu);
    pending *p = pend_of(j, cp);
    int64_t t = p ? p->trigger_us : 0;
    pthread_mutex_unlock(&j->cmu);
    return t;
}

static int task_index(job *j, int op, int sub) { return op * j->P + sub; }

/* A subtask's acknowledgement (after its state, if any, is stored). */
static void ack(job *j, int op, int sub, int64_t cp, const cpd_state_handle *h,
                const io_req *offs, cpa_ack_info info)
{
    cpa_event e = ev_sub(CPA_EV_ACK, cp, op, sub);
    e.u.ack = info;
    emit(j, e);
    pthread_mutex_lock(&j->cmu);
    pending *p = pend_of(j, cp);
    if (p && p->md) {
        if (h)
            cpd_metadata_add_state(p->md, h);
        for (int i = 0; offs && i < offs->n_parts; i++) {
            char key[32];
            snprintf(key, sizeof key, "offset.%d", offs->parts[i]);
            cpd_metadata_add_int(p->md, key, offs->offsets[i]);
        }
    }
    if (j->coord)
        cpd_coord_ack(j->coord, cp, task_index(j, op, sub), mono_ms());
    pthread_cond_signal(&j->ccond);
    pthread_mutex_unlock(&j->cmu);
}

static void decline(job *j, int op, int sub, int64_t cp, const char *reason)
{
    cpa_event e = ev_sub(CPA_EV_DECLINE, cp, op, sub);
    snprintf(e.u.decline.reason, sizeof e.u.decline.reason, "%s", reason);
    emit(j, e);
    pthread_mutex_lock(&j->cmu);
    if (j->coord)
        cpd_coord_decline(j->coord, cp, task_index(j, op, sub), reason, mono_ms());
    pthread_mutex_unlock(&j->cmu);
}

/* A checkpoint's storage or staging write failed: it fails with IO_EXCEPTION. */
static void fail_checkpoint(job *j, int64_t cp, const char *why)
{
    pthread_mutex_lock(&j->cmu);
    if (j->coord)
        cpd_coord_fail(j->coord, cp, CPA_FAIL_IO, why, mono_ms());
    pthread_mutex_unlock(&j->cmu);
}

/* Common to every subtask when barrier cp reaches it: injected stalls and
 * declines. false when it declined (the barrier is still forwarded). */
static bool barrier_checks(task *t, int64_t cp)
{
    job *j = t->j;
    int stall = atomic_exchange(&t->stall_ms, 0);
    for (int waited = 0; waited < stall && !atomic_load(&j->stopping); waited += 20)
        sleep_ms(20);
    if (atomic_exchange(&t->decline_next, 0)) {
        decline(j, t->op, t->sub, cp, "declined on request (failure injection)");
        return false;
    }
    return true;
}

static bool check_kill(task *t)
{
    if (!atomic_load(&t->kill))
        return false;
    job *j = t->j;
    cpa_event e = ev_sub(CPA_EV_TASK_FAILED, 0, t->op, t->sub);
    snprintf(e.u.task_failed.error, sizeof e.u.task_failed.error, "killed on request");
    emit(j, e);
    job_fail(j, "%s#%d was killed on request", op_names[t->op], t->sub);
    return true;
}

/* Queues a state write for the I/O thread (the asynchronous part). */
static void io_submit(job *j, io_req *r)
{
    pthread_mutex_lock(&j->iomu);
    if (j->io_tail)
        j->io_tail->next = r;
    else
        j->io_head = r;
    j->io_tail = r;
    pthread_cond_signal(&j->iocond);
    pthread_mutex_unlock(&j->iomu);
}

static void *io_main(void *arg)
{
    job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->iomu);
        while (!j->io_head && !atomic_load(&j->stopping)) {
            struct timespec ts;
            deadline_in(&ts, 100);
            pthread_cond_timedwait(&j->iocond, &j->iomu, &ts);
        }
        io_req *r = j->io_head;
        if (r) {
            j->io_head = r->next;
            if (!j->io_head)
                j->io_tail = NULL;
        }
        pthread_mutex_unlock(&j->iomu);
        if (!r)
            break; /* stopping and drained */
        if (!atomic_load(&j->stopping) && r->cp > atomic_load(&j->aborted)) {
            int64_t t0 = now_us();
            cpd_state_handle h;
            char err[300];
            cpd_st_rc rc = cpd_storage_write_state(j->st, r->cp, r->op, r->sub, r->data, r->len,
                                                   &h, err, sizeof err);
            int64_t async_us = now_us() - t0;
            if (rc == CPD_ST_OK) {
                cpa_event e = ev_sub(CPA_EV_SNAPSHOT_ASYNC_DONE, r->cp, r->op, r->sub);
                e.u.async.bytes = (int64_t)r->len;
                e.u.async.duration_us = async_us;
                emit(j, e);
                cpa_ack_info info = {.state_size = (int64_t)r->len,
                                     .checkpointed_size = (int64_t)r->len,
                                     .start_delay_us = r->start_delay_us,
                                     .alignment_us = r->alignment_us, .sync_us = r->sync_us,
                                     .async_us = async_us};
                ack(j, r->op, r->sub, r->cp, &h, r, info);
            } else {
                fail_checkpoint(j, r->cp, err);
            }
        }
        free(r->data);
        free(r);
    }
    return NULL;
}

/* ------------------------------------------------------------------ source */

static void *source_main(void *arg)
{
    task *t = arg;
    job *j = t->j;
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[96];
    snprintf(group, sizeof group, "cpdemo-%s", j->job_id);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", j->bootstrap, err, sizeof err) ||
        rd_kafka_conf_set(conf, "group.id", group, err, sizeof err) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, sizeof err) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err) ||
        rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err)) {
        rd_kafka_conf_destroy(conf);
        job_fail(j, "source#%d: kafka configuration: %s", t->sub, err);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        job_fail(j, "source#%d: %s", t->sub, err);
        return NULL;
    }
    /* partitions assigned explicitly; offsets from the restored state */
    int32_t parts[MAX_PARTS];
    int64_t next[MAX_PARTS];
    int n = 0;
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(j->n_parts);
    for (int p = t->sub; p < j->n_parts; p += j->P) {
        parts[n] = p;
        next[n] = j->start_offsets[p];
        rd_kafka_topic_partition_list_add(tl, j->cfg.topic, p)->offset = next[n];
        n++;
    }
    rd_kafka_resp_err_t ke = rd_kafka_assign(rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    if (ke) {
        job_fail(j, "source#%d: assign: %s", t->sub, rd_kafka_err2str(ke));
        rd_kafka_destroy(rk);
        return NULL;
    }
    int64_t injected = 0, last_metrics = 0;
    bool finished = false;
    item it;
    while (!atomic_load(&j->stopping)) {
        metrics(t, &last_metrics);
        if (check_kill(t))
            break;
        int64_t want = atomic_load(&j->pending_barrier[t->sub]);
        if (want > injected) {
            injected = want;
            int64_t tr = trigger_us_of(j, want);
            emit(j, ev_sub(CPA_EV_BARRIER_INJECTED, want, OP_SOURCE, t->sub));
            bool ok = barrier_checks(t, want);
            memset(&it, 0, sizeof it);
            it.kind = IT_BARRIER;
            it.cp = want;
            for (int o = 0; o < t->n_out; o++)
                push(j, t, t->out[o], &it);
            if (ok) {
                int64_t s0 = now_us();
                emit(j, ev_sub(CPA_EV_SNAPSHOT_START, want, OP_SOURCE, t->sub));
                io_req *r = calloc(1, sizeof *r);
                char *buf = malloc((size_t)n * 32 + 1);
                size_t len = 0;
                for (int i = 0; i < n; i++) {
                    len += (size_t)sprintf(buf + len, "%d %lld\n", parts[i], (long long)next[i]);
                    r->parts[i] = parts[i];
                    r->offsets[i] = next[i];
                }
                r->n_parts = n;
                r->cp = want;
                r->op = OP_SOURCE;
                r->sub = t->sub;
                r->data = buf;
                r->len = len;
                r->sync_us = now_us() - s0;
                r->start_delay_us = tr ? s0 - tr : 0;
                cpa_event e = ev_sub(CPA_EV_SNAPSHOT_SYNC_DONE, want, OP_SOURCE, t->sub);
                e.u.sync.duration_us = r->sync_us;
                emit(j, e);
                io_submit(j, r);
            }
            continue;
        }
        if (j->drain) {
            bool all = true;
            for (int i = 0; i < n; i++)
                all &= next[i] >= j->end_offsets[parts[i]];
            if (all) {
                if (!finished) {
                    finished = true;
                    atomic_fetch_add(&j->sources_done, 1);
                }
                sleep_ms(5); /* still here to inject barriers */
                continue;
            }
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                say("source#%d: %s", t->sub, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        int idx = -1;
        for (int i = 0; i < n; i++)
            if (parts[i] == m->partition)
                idx = i;
        if (idx < 0 || m->offset < next[idx] ||
            (j->drain && m->offset >= j->end_offsets[parts[idx]])) { /* not ours, or done */
            rd_kafka_message_destroy(m);
            continue;
        }
        memset(&it, 0, sizeof it);
        it.kind = IT_RECORD;
        it.u.src.partition = m->partition;
        it.u.src.offset = m->offset;
        if (m->len > RAW_MAX) { /* no payment is that long: parse sends it to dead letters */
            it.u.src.too_long = 1;
            it.u.src.len = 64;
            memcpy(it.u.src.raw, m->payload, 64);
        } else {
            it.u.src.len = (uint16_t)m->len;
            memcpy(it.u.src.raw, m->payload, m->len);
        }
        next[idx] = m->offset + 1;
        rd_kafka_message_destroy(m);
        atomic_fetch_add(&t->rec_in, 1);
        if (!push(j, t, t->out[0], &it))
            continue; /* stopping or killed: the loop head decides */
        atomic_fetch_add(&t->rec_out, 1);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

/* ------------------------------------------------------------------ parse */

static unsigned hash_str(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static void *parse_main(void *arg)
{
    task *t = arg;
    job *j = t->j;
    char err[300];
    cpd_sink *sink = cpd_sink_open(j->cfg.sink, err, sizeof err);
    if (!sink) {
        job_fail(j, "parse#%d: %s", t->sub, err);
        return NULL;
    }
    cpd_dead *dead = NULL;
    char (*raws)[RAW_MAX] = NULL;
    int n_dead = 0, cap_dead = 0;
    int64_t last_metrics = 0;
    item it, out;
    int ch;
    while (!check_kill(t)) {
        metrics(t, &last_metrics);
        int r = pop(j, &t->in, NULL, &it, &ch);
        if (r < 0)
            break;
        if (r == 0)
            continue;
        if (it.kind == IT_BARRIER) {
            int64_t cp = it.cp;
            int64_t tr = trigger_us_of(j, cp), b0 = now_us();
            cpa_event e = ev_sub(CPA_EV_BARRIER_RECEIVED, cp, OP_PARSE, t->sub);
            e.u.barrier.channel = ch;
            emit(j, e);
            bool ok = barrier_checks(t, cp);
            for (int o = 0; o < t->n_out; o++)
                push(j, t, t->out[o], &it);
            if (ok && cp > atomic_load(&j->aborted)) {
                emit(j, ev_sub(CPA_EV_SNAPSHOT_START, cp, OP_PARSE, t->sub));
                e = ev_sub(CPA_EV_SNAPSHOT_SYNC_DONE, cp, OP_PARSE, t->sub);
                emit(j, e);
                int64_t a0 = now_us();
                /* dead letters since the last barrier are staged under cp */
                if (cpd_sink_stage_dead(sink, cp, t->sub, dead, n_dead, err, sizeof err)) {
                    fail_checkpoint(j, cp, err);
                } else {
                    int64_t async_us = now_us() - a0;
                    e = ev_sub(CPA_EV_SNAPSHOT_ASYNC_DONE, cp, OP_PARSE, t->sub);
                    e.u.async.duration_us = async_us;
                    emit(j, e);
                    cpa_ack_info info = {.start_delay_us = tr ? b0 - tr : 0, .async_us = async_us};
                    ack(j, OP_PARSE, t->sub, cp, NULL, NULL, info);
                    n_dead = 0;
                }
            }
            /* not staged (declined, aborted, failed): they go with the next
             * checkpoint, never dropped */
            continue;
        }
        atomic_fetch_add(&t->rec_in, 1);
        char why[128];
        memset(&out, 0, sizeof out);
        out.kind = IT_RECORD;
        cpd_vrecord rec;
        if (!it.u.src.too_long &&
            cpd_parse_record(it.u.src.raw, it.u.src.len, &rec, why, sizeof why)) {
            snprintf(out.u.pay.account, sizeof out.u.pay.account, "%s", rec.account);
            out.u.pay.amount = rec.amount_cents;
            out.u.pay.ts = rec.ts_ms;
            int dst = (int)(hash_str(out.u.pay.account) % (unsigned)t->n_out);
            if (!push(j, t, t->out[dst], &out))
                continue; /* stopping or killed */
            atomic_fetch_add(&t->rec_out, 1);
        } else {
            if (it.u.src.too_long)
                snprintf(why, sizeof why, "record longer than %d bytes", RAW_MAX);
            if (n_dead == cap_dead) {
                cap_dead = cap_dead ? cap_dead * 2 : 64;
                dead = realloc(dead, (size_t)cap_dead * sizeof *dead);
                raws = realloc(raws, (size_t)cap_dead * sizeof *raws);
            }
            memcpy(raws[n_dead], it.u.src.raw, it.u.src.len);
            dead[n_dead] = (cpd_dead){.partition = it.u.src.partition, .offset = it.u.src.offset,
                                      .raw = raws[n_dead], .raw_len = it.u.src.len};
            snprintf(dead[n_dead].error, sizeof dead[n_dead].error, "%s", why);
            n_dead++;
            /* raws may have moved: re-point every entry */
            for (int k = 0; k < n_dead; k++)
                dead[k].raw = raws[k];
        }
    }
    free(dead);
    free(raws);
    cpd_sink_close(sink);
    return NULL;
}

/* ------------------------------------------------------------------ aggregate */

typedef struct agg_ent {
    cpd_row row;
    bool used, dirty;
} agg_ent;

typedef struct agg_map {
    agg_ent *e;
    size_t cap, n;
} agg_map;

static agg_ent *agg_get(agg_map *m, const char *acct)
{
    if (m->n * 10 >= m->cap * 7) {
        size_t ncap = m->cap ? m->cap * 2 : 1024;
        agg_ent *ne = calloc(ncap, sizeof *ne);
        if (!ne)
            return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->e[i].used)
                continue;
            size_t k = hash_str(m->e[i].row.account) & (ncap - 1);
            while (ne[k].used)
                k = (k + 1) & (ncap - 1);
            ne[k] = m->e[i];
        }
        free(m->e);
        m->e = ne;
        m->cap = ncap;
    }
    size_t k = hash_str(acct) & (m->cap - 1);
    while (m->e[k].used && strcmp(m->e[k].row.account, acct))
        k = (k + 1) & (m->cap - 1);
    if (!m->e[k].used) {
        memset(&m->e[k], 0, sizeof m->e[k]);
        m->e[k].used = true;
        snprintf(m->e[k].row.account, sizeof m->e[k].row.account, "%s", acct);
        m->n++;
    }
    return &m->e[k];
}

/* The state as text: one "account count sum min max last_ts" line per account. */
static char *agg_serialize(const agg_map *m, size_t *len)
{
    char *buf = malloc(m->n * 120 + 1);
    size_t l = 0;
    for (size_t i = 0; buf && i < m->cap; i++) {
        const cpd_row *r = &m->e[i].row;
        if (m->e[i].used)
            l += (size_t)sprintf(buf + l, "%s %lld %lld %lld %lld %lld\n", r->account,
                                 (long long)r->count, (long long)r->sum_cents,
                                 (long long)r->min_cents, (long long)r->max_cents,
                                 (long long)r->last_ts_ms);
    }
    *len = l;
    return buf;
}

static bool agg_restore(agg_map *m, const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return false;
        char line[200];
        size_t l = (size_t)(nl - p);
        if (l >= sizeof line)
            return false;
        memcpy(line, p, l);
        line[l] = '\0';
        char acct[32];
        long long c, s, mn, mx, ts;
        if (sscanf(line, "%31s %lld %lld %lld %lld %lld", acct, &c, &s, &mn, &mx, &ts) != 6)
            return false;
        agg_ent *e = agg_get(m, acct);
        if (!e)
            return false;
        e->row.count = c;
        e->row.sum_cents = s;
        e->row.min_cents = mn;
        e->row.max_cents = mx;
        e->row.last_ts_ms = ts;
        p = nl + 1;
    }
    return true;
}

static void *agg_main(void *arg)
{
    task *t = arg;
    job *j = t->j;
    agg_map m = {0};
    char err[300];
    if (j->restored_md) {
        void *data = NULL;
        size_t len = 0;
        cpd_st_rc rc = cpd_storage_read_state(j->st, j->restored_md, OP_AGG, t->sub, &data, &len,
                                              err, sizeof err);
        if (rc != CPD_ST_OK || !agg_restore(&m, data, len)) {
            free(data);
            job_fail(j, "aggregate#%d: cannot restore its state: %s", t->sub,
                     rc != CPD_ST_OK ? err : "malformed state");
            return NULL;
        }
        free(data);
    }
    cpd_align al;
    if (!cpd_align_init(&al, t->in.n, j->cfg.mode)) {
        job_fail(j, "aggregate#%d: out of memory", t->sub);
        free(m.e);
        return NULL;
    }
    int64_t last_metrics = 0, seen_aborted = 0;
    item it;
    int ch;
    while (!check_kill(t)) {
        metrics(t, &last_metrics);
        int64_t ab = atomic_load(&j->aborted);
        if (ab > seen_aborted) {
            cpd_align_abort(&al, ab);
            seen_aborted = ab;
        }
        int r = pop(j, &t->in, &al, &it, &ch);
        if (r < 0)
            break;
        if (r == 0)
            continue;
        if (it.kind == IT_BARRIER) {
            int64_t cp = it.cp, now = now_us(), alignment = 0;
            cpa_event e = ev_sub(CPA_EV_BARRIER_RECEIVED, cp, OP_AGG, t->sub);
            e.u.barrier.channel = ch;
            emit(j, e);
            cpd_align_step step = cpd_align_barrier(&al, ch, cp, now, &alignment);
            if (step == CPD_ALIGN_STARTED && t->in.n > 1)
                emit(j, ev_sub(CPA_EV_ALIGNMENT_START, cp, OP_AGG, t->sub));
            if (step != CPD_ALIGN_DONE)
                continue;
            if (t->in.n > 1) {
                e = ev_sub(CPA_EV_ALIGNMENT_END, cp, OP_AGG, t->sub);
                e.u.alignment.duration_us = alignment;
                emit(j, e);
            }
            int64_t tr = trigger_us_of(j, cp);
            bool ok = barrier_checks(t, cp);
            /* rows of accounts changed since the last barrier, then the barrier */
            item row;
            for (size_t i = 0; i < m.cap && !atomic_load(&j->stopping); i++) {
                if (!m.e[i].used || !m.e[i].dirty)
                    continue;
                memset(&row, 0, sizeof row);
                row.kind = IT_RECORD;
                row.u.row = m.e[i].row;
                m.e[i].dirty = false;
                push(j, t, t->out[0], &row);
                atomic_fetch_add(&t->rec_out, 1);
            }
            push(j, t, t->out[0], &it);
            if (!ok || cp <= atomic_load(&j->aborted))
                continue;
            int64_t s0 = now_us();
            emit(j, ev_sub(CPA_EV_SNAPSHOT_START, cp, OP_AGG, t->sub));
            io_req *rq = calloc(1, sizeof *rq);
            rq->data = agg_serialize(&m, &rq->len); /* the synchronous copy */
            rq->cp = cp;
            rq->op = OP_AGG;
            rq->sub = t->sub;
            rq->sync_us = now_us() - s0;
            rq->alignment_us = alignment;
            rq->start_delay_us = tr ? now - alignment - tr : 0;
            e = ev_sub(CPA_EV_SNAPSHOT_SYNC_DONE, cp, OP_AGG, t->sub);
            e.u.sync.duration_us = rq->sync_us;
            emit(j, e);
            io_submit(j, rq);
            continue;
        }
        atomic_fetch_add(&t->rec_in, 1);
        agg_ent *a = agg_get(&m, it.u.pay.account);
        if (!a) {
            job_fail(j, "aggregate#%d: out of memory", t->sub);
            break;
        }
        cpd_row *row = &a->row;
        if (!row->count || it.u.pay.amount < row->min_cents)
            row->min_cents = it.u.pay.amount;
        if (!row->count || it.u.pay.amount > row->max_cents)
            row->max_cents = it.u.pay.amount;
        row->count++;
        row->sum_cents += it.u.pay.amount;
        row->last_ts_ms = it.u.pay.ts;
        a->dirty = true;
    }
    cpd_align_free(&al);
    free(m.e);
    return NULL;
}

/* ------------------------------------------------------------------ sink */

static void *sink_main(void *arg)
{
    task *t = arg;
    job *j = t->j;
    char err[300];
    cpd_sink *sink = cpd_sink_open(j->cfg.sink, err, sizeof err);
    if (!sink) {
        job_fail(j, "sink#%d: %s", t->sub, err);
        return NULL;
    }
    cpd_row *rows = NULL;
    int n = 0, cap = 0;
    int64_t last_metrics = 0;
    item it;
    int ch;
    while (!check_kill(t)) {
        metrics(t, &last_metrics);
        int r = pop(j, &t->in, NULL, &it, &ch);
        if (r < 0)
            break;
        if (r == 0)
            continue;
        if (it.kind == IT_BARRIER) {
            int64_t cp = it.cp, b0 = now_us(), tr = trigger_us_of(j, cp);
            cpa_event e = ev_sub(CPA_EV_BARRIER_RECEIVED, cp, OP_SINK, t->sub);
            e.u.barrier.channel = ch;
            emit(j, e);
            bool ok = barrier_checks(t, cp);
            if (ok && cp > atomic_load(&j->aborted)) {
                emit(j, ev_sub(CPA_EV_SNAPSHOT_START, cp, OP_SINK, t->sub));
                emit(j, ev_sub(CPA_EV_SNAPSHOT_SYNC_DONE, cp, OP_SINK, t->sub));
                int64_t a0 = now_us();
                /* phase 1 of the two-phase commit: stage the rows under cp */
                if (cpd_sink_stage(sink, cp, t->sub, rows, n, err, sizeof err)) {
                    fail_checkpoint(j, cp, err);
                } else {
                    int64_t async_us = now_us() - a0;
                    e = ev_sub(CPA_EV_SNAPSHOT_ASYNC_DONE, cp, OP_SINK, t->sub);
                    e.u.async.bytes = (int64_t)n * (int64_t)sizeof(cpd_row);
                    e.u.async.duration_us = async_us;
                    emit(j, e);
                    cpa_ack_info info = {.checkpointed_size = (int64_t)n * (int64_t)sizeof(cpd_row),
                                         .start_delay_us = tr ? b0 - tr : 0,
                                         .async_us = async_us};
                    ack(j, OP_SINK, t->sub, cp, NULL, NULL, info);
                    n = 0;
                }
            }
            /* rows not staged under cp (declined, aborted, failed) are staged
             * with the next checkpoint: dropping them would lose updates the
             * aggregate will not send again */
            continue;
        }
        atomic_fetch_add(&t->rec_in, 1);
        if (!atomic_exchange(&first_row_seen, true)) {
            /* "processing again": what recovery time is measured to */
            struct timespec wall;
            clock_gettime(CLOCK_REALTIME, &wall);
            say("processing: the first record reached the sink at %lld ms (epoch), %lld ms after "
                "the process started", (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000,
                (long long)(mono_ms() - process_start_ms));
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            rows = realloc(rows, (size_t)cap * sizeof *rows);
        }
        rows[n++] = it.u.row;
        atomic_fetch_add(&t->rec_out, 1);
    }
    free(rows);
    cpd_sink_close(sink);
    return NULL;
}

/* ------------------------------------------------------------------ coordinator */

static void on_trigger(void *o, int64_t id, cpa_trigger_kind kind, int64_t now)
{
    (void)now;
    job *j = o;
    pending *p = &j->pend[id % PENDING];
    cpd_metadata_free(p->md);
    p->id = id;
    p->trigger_us = now_us();
    p->md = cpd_metadata_new();
    if (id >= j->next_id)
        j->next_id = id + 1;
    cpa_event e = ev_sub(CPA_EV_CP_TRIGGERED, id, -1, -1);
    e.ts_us = p->trigger_us;
    e.u.triggered.kind = kind;
    emit(j, e);
    for (int s = 0; s < j->P; s++)
        atomic_store(&j->pending_barrier[s], id);
    if (j->drain && atomic_load(&j->sources_done) == j->P && !atomic_load(&j->final_cp))
        atomic_store(&j->final_cp, id); /* every record is before its barriers */
}

static int md_offsets(const cpd_metadata *md, cpd_offset *out, int max)
{
    int n = 0;
    for (size_t i = 0; md && i < md->n_extra && n < max; i++)
        if (!strncmp(md->extra[i].key, "offset.", 7) && md->extra[i].kind == CPD_MD_INT) {
            out[n].partition = atoi(md->extra[i].key + 7);
            out[n].next = md->extra[i].i;
            n++;
        }
    return n;
}

static cpd_coord_fin on_finalize(void *o, int64_t id, int64_t now)
{
    (void)now;
    job *j = o;
    pending *p = pend_of(j, id);
    char err[300];
    if (!p || !p->md || cpd_storage_commit(j->st, id, p->md, err, sizeof err) != CPD_ST_OK) {
        if (p)
            say("checkpoint %lld: %s", (long long)id, p->md ? err : "no metadata");
        return CPD_COORD_FIN_FAILED;
    }
    return CPD_COORD_FIN_OK;
}

static void on_completed(void *o, int64_t id, int64_t dur_ms, int64_t now)
{
    (void)now;
    job *j = o;
    pending *p = pend_of(j, id);
    cpa_event e = ev_sub(CPA_EV_CP_COMPLETED, id, -1, -1);
    e.u.completed.duration_us = dur_ms * 1000;
    int64_t size = 0;
    for (size_t i = 0; p && p->md && i < p->md->n_states; i++)
        size += (int64_t)p->md->states[i].size;
    e.u.completed.state_size = size;
    e.u.completed.checkpointed_size = size;
    emit(j, e);
    j->last_cp_ms = dur_ms;
    j->last_cp_bytes = size;
    /* phase 2: the sink commits what was staged up to id */
    cpd_offset offs[MAX_PARTS];
    int n = md_offsets(p ? p->md : NULL, offs, MAX_PARTS);
    char err[300];
    if (cpd_sink_commit(j->commit_sink, id, offs, n, err, sizeof err)) {
        job_fail(j, "sink commit of checkpoint %lld failed: %s", (long long)id, err);
    } else {
        emit(j, ev_sub(CPA_EV_CP_COMMITTED, id, -1, -1));
        if (cpd_storage_retain(j->st, j->cfg.num_retained, err, sizeof err) != CPD_ST_OK)
            say("retention: %s", err);
    }
    if (p) {
        cpd_metadata_free(p->md);
        p->md = NULL;
    }
}

static void on_failed(void *o, int64_t id, cpa_failure_reason reason, const char *msg,
                      int64_t now)
{
    (void)now;
    job *j = o;
    if (id > atomic_load(&j->aborted))
        atomic_store(&j->aborted, id);
    cpa_event e = ev_sub(CPA_EV_CP_FAILED, id, -1, -1);
    e.u.failed.reason = reason;
    snprintf(e.u.failed.message, sizeof e.u.failed.message, "%s", msg ? msg : "");
    emit(j, e);
    char err[300];
    cpd_storage_discard(j->st, id, err, sizeof err);
    pending *p = pend_of(j, id);
    if (p) {
        cpd_metadata_free(p->md);
        p->md = NULL;
    }
}

static void on_fail_job(void *o, int consecutive, int64_t now)
{
    (void)now;
    job *j = o;
    job_fail(j, "%d consecutive checkpoint failures exceed the tolerance of %d", consecutive,
             j->cfg.tolerable_failures);
}

static void *coord_main(void *arg)
{
    job *j = arg;
    pthread_mutex_lock(&j->cmu);
    while (!atomic_load(&j->stopping)) {
        int64_t now = mono_ms();
        cpd_coord_tick(j->coord, now);
        int64_t next = cpd_coord_next_deadline(j->coord);
        int64_t wait = next == INT64_MAX ? 100 : next - now;
        if (wait > 100)
            wait = 100;
        if (wait > 0) {
            struct timespec ts;
            deadline_in(&ts, (int)wait);
            pthread_cond_timedwait(&j->ccond, &j->cmu, &ts);
        }
    }
    pthread_mutex_unlock(&j->cmu);
    return NULL;
}

/* ------------------------------------------------------------------ commands */

static task *target(job *j, const cpa_command *c, char *msg, size_t size)
{
    if (c->op < 0 || c->op >= N_OPS || c->subtask < 0 || c->subtask >= j->P) {
        snprintf(msg, size, "target %d/%d: operators 0..%d, subtasks 0..%d", c->op, c->subtask,
                 N_OPS - 1, j->P - 1);
        return NULL;
    }
    return &j->tasks[c->op][c->subtask];
}

/* "crash": the whole process dies as under kill -9, a moment after the
 * agent has sent the reply (so the dashboard hears it was accepted). */
static void *crash_soon(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    raise(SIGKILL);
    return NULL;
}

/* The embedded Kafka's control socket: next to its bootstrap file. */
static bool kafka_control_path(const job *j, char *out, size_t size)
{
    if (!j->cfg.bootstrap_file[0] || j->cfg.bootstrap[0])
        return false;
    return snprintf(out, size, "%s.ctl", j->cfg.bootstrap_file) < (int)size;
}

static const char *param(const cpa_command *c, const char *key)
{
    for (int i = 0; i < c->n_params; i++)
        if (!strcmp(c->keys[i], key))
            return c->values[i];
    return NULL;
}

static cpa_err on_command(void *opaque, const cpa_command *c, char *msg, size_t size)
{
    job *j = opaque;
    cpa_err rc = CPA_OK;
    /* The coordinator holds this lock across storage and sink calls (the
     * commit of _metadata, retention, a discard). A hung S3 or database must
     * not hang the agent thread too: heartbeats and every dashboard would
     * stop. Give up after 2 s and say why. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    if (pthread_mutex_timedlock(&j->cmu, &until) != 0) {
        snprintf(msg, size, "the checkpoint coordinator is busy (waiting on storage or the sink "
                            "for over 2 s); try again");
        return CPA_ERR_HANDLER;
    }
    if (!j->coord) {
        pthread_mutex_unlock(&j->cmu);
        snprintf(msg, size, "the job is restarting; try again in a moment");
        return CPA_ERR_HANDLER;
    }
    switch (c->type) {
    case CPA_CMD_TRIGGER: {
        int64_t id = 0;
        cpd_coord_rc r = cpd_coord_trigger(j->coord, mono_ms(), &id);
        if (r == CPD_COORD_OK)
            snprintf(msg, size, "checkpoint %lld triggered", (long long)id);
        else if (r == CPD_COORD_QUEUED)
            snprintf(msg, size, "queued: starts once %s",
                     cpd_coord_inflight(j->coord) ? "a checkpoint in flight ends"
                                                  : "the minimum pause has passed");
        else {
            snprintf(msg, size, "not triggered: a manual checkpoint is already waiting");
            rc = CPA_ERR_HANDLER;
        }
        break;
    }
    case CPA_CMD_ABORT: {
        cpd_coord_rc r = cpd_coord_abort(j->coord, c->cp_id, mono_ms());
        if (r == CPD_COORD_OK)
            snprintf(msg, size, "checkpoint %lld aborted", (long long)c->cp_id);
        else {
            snprintf(msg, size, "checkpoint %lld is not in flight", (long long)c->cp_id);
            rc = CPA_ERR_HANDLER;
        }
        break;
    }
    case CPA_CMD_SET_CONFIG: {
        int64_t interval = j->cfg.interval_ms, timeout = j->cfg.timeout_ms;
        int tolerable = j->cfg.tolerable_failures;
        for (int i = 0; i < c->n_params && rc == CPA_OK; i++) {
            const char *k = c->keys[i], *v = c->values[i];
            char *end;
            if (!strcmp(k, "execution.checkpointing.interval") || !strcmp(k, "interval")) {
                if (!cpd_parse_duration_ms(v, &interval))
                    rc = CPA_ERR_HANDLER;
            } else if (!strcmp(k, "execution.checkpointing.timeout") || !strcmp(k, "timeout")) {
                if (!cpd_parse_duration_ms(v, &timeout) || timeout <= 0)
                    rc = CPA_ERR_HANDLER;
            } else if (!strcmp(k, "execution.checkpointing.tolerable-failed-checkpoints") ||
                       !strcmp(k, "tolerable-failed-checkpoints")) {
                long x = strtol(v, &end, 10);
                if (*end || x < 0 || x > 1000000)
                    rc = CPA_ERR_HANDLER;
                tolerable = (int)x;
            } else {
                snprintf(msg, size, "%s cannot be changed at run time (interval, timeout, "
                                    "tolerable-failed-checkpoints can)", k);
                rc = CPA_ERR_UNSUPPORTED;
                break;
            }
            if (rc)
                snprintf(msg, size, "%s: \"%s\" is not a valid value", k, v);
        }
        if (rc == CPA_OK && cpd_coord_set(j->coord, interval, timeout, tolerable) == CPD_COORD_OK) {
            j->cfg.interval_ms = interval;
            j->cfg.timeout_ms = timeout;
            j->cfg.tolerable_failures = tolerable;
            publish_config(j);
            char a[32], b[32];
            cpd_format_duration(interval, a, sizeof a);
            cpd_format_duration(timeout, b, sizeof b);
            snprintf(msg, size, "interval %s, timeout %s, tolerable failures %d", a, b, tolerable);
        } else if (rc == CPA_OK) {
            snprintf(msg, size, "values out of range");
            rc = CPA_ERR_HANDLER;
        }
        break;
    }
    case CPA_CMD_INJECT_FAILURE: {
        const char *k = c->kind;
        task *t = NULL;
        if (!strcmp(k, "kill")) {
            if ((t = target(j, c, msg, size)))
                atomic_store(&t->kill, 1), snprintf(msg, size, "killing %s#%d",
                                                    op_names[c->op], c->subtask);
        } else if (!strcmp(k, "stall")) {
            const char *ms = param(c, "ms");
            int v = ms ? atoi(ms) : 5000;
            if ((t = target(j, c, msg, size)) && v > 0 && v <= 3600000)
                atomic_store(&t->stall_ms, v), snprintf(msg, size,
                    "the next barrier stalls %d ms at %s#%d", v, op_names[c->op], c->subtask);
            else if (t)
                snprintf(msg, size, "ms=%s: 1..3600000", ms), t = NULL;
        } else if (!strcmp(k, "decline")) {
            if ((t = target(j, c, msg, size)))
                atomic_store(&t->decline_next, 1), snprintf(msg, size,
                    "%s#%d declines the next checkpoint", op_names[c->op], c->subtask);
        } else if (!strcmp(k, "fail-storage")) {
            const char *n = param(c, "count");
            int v = n ? atoi(n) : 1;
            if (v > 0 && v <= 1000) {
                cpd_storage_fail_next(j->st, v);
                snprintf(msg, size, "the next %d storage writes fail", v);
                t = &j->tasks[0][0];
            } else {
                snprintf(msg, size, "count=%s: 1..1000", n);
            }
        } else if (!strcmp(k, "slow-storage")) {
            const char *ms = param(c, "ms");
            char *end = NULL;
            long v = ms ? strtol(ms, &end, 10) : 500;
            if (ms && (end == ms || *end || v < 0 || v > 60000)) {
                snprintf(msg, size, "ms=%s: 0..60000 (0: back to normal)", ms);
            } else {
                cpd_storage_set_delay_ms(j->st, (int)v);
                if (v)
                    snprintf(msg, size, "storage writes take %ld ms more", v);
                else
                    snprintf(msg, size, "storage writes at full speed again");
                t = &j->tasks[0][0];
            }
        } else if (!strcmp(k, "fail-commit")) {
            cpd_sink_fail_next_commits(j->commit_sink, 1);
            snprintf(msg, size, "the next sink commit fails");
            t = &j->tasks[0][0];
        } else if (!strcmp(k, "crash")) {
            /* the whole process, as a kill -9 would; after this reply */
            pthread_t th;
            if (pthread_create(&th, NULL, crash_soon, NULL) == 0) {
                pthread_detach(th);
                snprintf(msg, size, "the job process (pid %d) crashes now%s", (int)getpid(),
                         getenv("CPDEMO_SUPERVISED") ? "; its supervisor restarts it"
                                                     : " (not supervised: nothing will restart it)");
                t = &j->tasks[0][0];
            } else {
                snprintf(msg, size, "cannot start the crash thread");
            }
        } else if (!strcmp(k, "broker-down") || !strcmp(k, "kafka-latency")) {
            bool down = !strcmp(k, "broker-down");
            const char *v = param(c, down ? "secs" : "ms");
            char cmdline[64], path[600], *end = NULL;
            double num = v ? strtod(v, &end) : 1;
            snprintf(cmdline, sizeof cmdline, "%s %s", down ? "down" : "rtt", v ? v : down ? "5" : "500");
            if (v && (end == v || *end || (down ? (num < 1 || num > 3600) : (num < 0 || num > 60000))))
                snprintf(msg, size, down ? "secs=%s: 1..3600 (the broker comes back by itself)"
                                         : "ms=%s: 0..60000 (0: no added latency)", v);
            else if (!kafka_control_path(j, path, sizeof path))
                snprintf(msg, size, "%s needs the embedded Kafka (source.kafka.bootstrap-file): a real "
                                    "broker list cannot be taken down from here", k);
            else if (cpd_kafka_control(path, cmdline, msg, size) == 0)
                t = &j->tasks[0][0];
        } else {
            snprintf(msg, size, "unknown failure \"%s\" (kill, stall, decline, fail-storage, "
                                "slow-storage, fail-commit, crash, broker-down, kafka-latency)", k);
        }
        if (!t) {
            rc = CPA_ERR_HANDLER;
        } else {
            cpa_event e = ev_sub(CPA_EV_FAILURE_INJECTED, 0, c->op, c->subtask);
            snprintf(e.u.failure.kind, sizeof e.u.failure.kind, "%s", k);
            snprintf(e.u.failure.params, sizeof e.u.failure.params, "%s", msg);
            emit(j, e);
        }
        break;
    }
    default:
        rc = CPA_ERR_UNSUPPORTED;
        snprintf(msg, size, "unsupported");
    }
    pthread_mutex_unlock(&j->cmu);
    return rc;
}

/* ------------------------------------------------------------------ one attempt */

static int kafka_partitions(job *j, char *err, size_t errsz)
{
    char e[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", j->bootstrap, e, sizeof e);
    rd_kafka_conf_set(conf, "log_level", "0", e, sizeof e);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!rk) {
        snprintf(err, errsz, "kafka: %s", e);
        return -1;
    }
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, j->cfg.topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t ke = rd_kafka_metadata(rk, 0, t, &md, 10000);
    int n = -1;
    if (ke)
        snprintf(err, errsz, "kafka at %s: %s (is `cpdemo kafka` running?)", j->bootstrap,
                 rd_kafka_err2str(ke));
    else if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1)
        snprintf(err, errsz, "kafka at %s: topic \"%s\" not found", j->bootstrap, j->cfg.topic);
    else
        n = md->topics[0].partition_cnt;
    for (int p = 0; j->drain && p < n && p < MAX_PARTS; p++) {
        int64_t lo = 0, hi = 0;
        ke = rd_kafka_query_watermark_offsets(rk, j->cfg.topic, p, &lo, &hi, 10000);
        if (ke) {
            snprintf(err, errsz, "kafka: end of partition %d: %s", p, rd_kafka_err2str(ke));
            n = -1;
            break;
        }
        j->end_offsets[p] = hi;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    if (n > MAX_PARTS) {
        snprintf(err, errsz, "topic \"%s\" has %d partitions; at most %d", j->cfg.topic, n,
                 MAX_PARTS);
        n = -1;
    }
    return n;
}

static void stop_attempt(job *j)
{
    atomic_store(&j->stopping, 1);
    for (int op = 0; op < N_OPS; op++)
        for (int s = 0; s < j->P; s++)
            if (j->tasks[op][s].started)
                pthread_join(j->tasks[op][s].thread, NULL);
    pthread_cond_broadcast(&j->ccond);
    if (j->coord_started)
        pthread_join(j->coord_thread, NULL);
    pthread_mutex_lock(&j->iomu);
    pthread_cond_broadcast(&j->iocond);
    pthread_mutex_unlock(&j->iomu);
    if (j->io_started)
        pthread_join(j->io_thread, NULL);
    j->coord_started = j->io_started = false;
    for (io_req *r = j->io_head, *nx; r; r = nx) { /* never started */
        nx = r->next;
        free(r->data);
        free(r);
    }
    j->io_head = j->io_tail = NULL;
    pthread_mutex_lock(&j->cmu);
    if (j->coord) {
        /* whatever was in flight can no longer complete */
        cpd_coord_task_failed(j->coord, mono_ms());
        cpd_coord_free(j->coord);
        j->coord = NULL;
    }
    for (int i = 0; i < PENDING; i++) {
        cpd_metadata_free(j->pend[i].md);
        j->pend[i].md = NULL;
        j->pend[i].id = 0;
    }
    pthread_mutex_unlock(&j->cmu);
    for (int op = 0; op < N_OPS; op++)
        for (int s = 0; s < j->P; s++)
            if (j->tasks[op][s].in.n)
                inbox_free(&j->tasks[op][s].in);
    cpd_sink_close(j->commit_sink);
    j->commit_sink = NULL;
    cpd_metadata_free(j->restored_md);
    j->restored_md = NULL;
}

/* Restores, runs until stopped or failed. 0: stopped by the user;
 * 1: failed (restart); 2: cannot run at all. */
static int run_attempt(job *j, int64_t from_checkpoint, int64_t deadline_ms)
{
    char err[600], note[600] = "";
    atomic_store(&j->stopping, 0);
    atomic_store(&j->failed, 0);
    atomic_store(&j->aborted, 0);
    atomic_store(&j->sources_done, 0);
    atomic_store(&j->final_cp, 0);
    j->fail_reason[0] = '\0';
    memset(j->tasks, 0, sizeof j->tasks);
    memset(j->start_offsets, 0, sizeof j->start_offsets);
    for (int s = 0; s < MAXP; s++)
        atomic_store(&j->pending_barrier[s], 0);

    /* restore */
    cpd_metadata *md = NULL;
    cpd_st_rc rc = from_checkpoint > 0
                       ? cpd_storage_load(j->st, from_checkpoint, &md, err, sizeof err)
                       : cpd_storage_latest(j->st, -1, &md, note, sizeof note, err, sizeof err);
    if (rc != CPD_ST_OK && rc != CPD_ST_NOT_FOUND) {
        say("cannot read checkpoints: %s", err);
        return 1;
    }
    if (from_checkpoint > 0 && rc != CPD_ST_OK) {
        say("--from-checkpoint %lld: %s", (long long)from_checkpoint, err);
        return 2;
    }
    int64_t restored = md ? md->checkpoint_id : 0;
    if (note[0])
        say("%s", note);
    cpd_offset offs[MAX_PARTS];
    int n_offs = md_offsets(md, offs, MAX_PARTS);
    for (int i = 0; i < n_offs; i++)
        if (offs[i].partition >= 0 && offs[i].partition < MAX_PARTS)
            j->start_offsets[offs[i].partition] = offs[i].next;
    j->restored_md = md;
    j->commit_sink = cpd_sink_open(j->cfg.sink, err, sizeof err);
    if (!j->commit_sink) {
        say("%s", err);
        cpd_metadata_free(md);
        j->restored_md = NULL;
        /* at start a sink that cannot open is a setup error; on a restart
         * it is the database being away a little longer: restart again */
        if (j->attempt > 0) {
            snprintf(j->fail_reason, sizeof j->fail_reason, "sink: %s", err);
            return 1;
        }
        return 2;
    }
    if (cpd_sink_recover(j->commit_sink, restored, offs, n_offs, err, sizeof err)) {
        say("sink recovery: %s", err);
        stop_attempt(j);
        return 1;
    }
    if (restored >= j->next_id)
        j->next_id = restored + 1;
    cpa_event e = ev_sub(CPA_EV_RESTORED, restored, -1, -1);
    e.u.restored.attempt = j->attempt;
    emit(j, e);
    if (restored)
        say("attempt %d: restored from checkpoint %lld", j->attempt, (long long)restored);
    else
        say("attempt %d: starting from scratch", j->attempt);

    /* coordinator */
    cpd_coord_cfg cc = {j->cfg.interval_ms, j->cfg.timeout_ms, j->cfg.min_pause_ms,
                        j->cfg.max_concurrent, j->cfg.tolerable_failures, N_OPS * j->P};
    cpd_coord_ops ops = {on_trigger, on_finalize, on_completed, on_failed, on_fail_job};
    pthread_mutex_lock(&j->cmu);
    j->coord = cpd_coord_new(&cc, &ops, j, mono_ms());
    if (j->coord)
        cpd_coord_set_next_id(j->coord, j->next_id);
    pthread_mutex_unlock(&j->cmu);
    if (!j->coord) {
        say("bad checkpoint settings");
        stop_attempt(j);
        return 2;
    }

    /* tasks and channels: source i → parse i; parse * → aggregate (by account);
     * aggregate i → sink i */
    int P = j->P;
    bool ok = true;
    for (int op = 0; op < N_OPS; op++)
        for (int s = 0; s < P; s++) {
            task *t = &j->tasks[op][s];
            t->j = j;
            t->op = op;
            t->sub = s;
            if (op == OP_PARSE || op == OP_SINK)
                ok &= inbox_init(&t->in, 1);
            else if (op == OP_AGG)
                ok &= inbox_init(&t->in, P);
        }
    for (int s = 0; s < P; s++) {
        j->tasks[OP_SOURCE][s].out[0] = &j->tasks[OP_PARSE][s].in.ch[0];
        j->tasks[OP_SOURCE][s].n_out = 1;
        for (int a = 0; a < P; a++)
            j->tasks[OP_PARSE][s].out[a] = &j->tasks[OP_AGG][a].in.ch[s];
        j->tasks[OP_PARSE][s].n_out = P;
        j->tasks[OP_AGG][s].out[0] = &j->tasks[OP_SINK][s].in.ch[0];
        j->tasks[OP_AGG][s].n_out = 1;
    }
    if (!ok) {
        say("out of memory for the channels");
        stop_attempt(j);
        return 2;
    }
    j->io_started = pthread_create(&j->io_thread, NULL, io_main, j) == 0;
    j->coord_started = pthread_create(&j->coord_thread, NULL, coord_main, j) == 0;
    if (j->io_started)
        pthread_setname_np(j->io_thread, "state-io");
    if (j->coord_started)
        pthread_setname_np(j->coord_thread, "coordinator");
    void *(*mains[N_OPS])(void *) = {source_main, parse_main, agg_main, sink_main};
    for (int op = N_OPS - 1; op >= 0; op--)
        for (int s = 0; s < P; s++) {
            task *t = &j->tasks[op][s];
            t->started = pthread_create(&t->thread, NULL, mains[op], t) == 0;
            char name[16]; /* what top -H and perf show */
            snprintf(name, sizeof name, "%.9s#%d", op_names[op], s);
            if (t->started)
                pthread_setname_np(t->thread, name);
        }
    e = ev_sub(CPA_EV_JOB_STATUS, 0, -1, -1);
    e.u.job_status.status = CPA_JOB_RUNNING;
    snprintf(e.u.job_status.message, sizeof e.u.job_status.message, "attempt %d", j->attempt);
    emit(j, e);
    int64_t t_start = mono_ms();
    while (!quit && !atomic_load(&j->failed) && mono_ms() < deadline_ms) {
        sleep_ms(j->drain ? 5 : 50);
        if (!j->drain || atomic_load(&j->sources_done) < P)
            continue;
        pthread_mutex_lock(&j->cmu);
        int64_t fin = atomic_load(&j->final_cp);
        if (!fin && !cpd_coord_inflight(j->coord))
            cpd_coord_trigger(j->coord, mono_ms(), NULL);
        bool drained = fin && cpd_coord_latest_completed(j->coord) >= fin;
        pthread_mutex_unlock(&j->cmu);
        if (drained) {
            double secs = (double)(mono_ms() - t_start) / 1000.0;
            int64_t recs = 0;
            for (int s = 0; s < P; s++)
                recs += atomic_load(&j->tasks[OP_SOURCE][s].rec_out);
            printf("drained %lld records in %.3f s (%.0f records/s); final checkpoint %lld took "
                   "%lld ms for %lld bytes of state\n",
                   (long long)recs, secs, secs > 0 ? (double)recs / secs : 0.0, (long long)fin,
                   (long long)j->last_cp_ms, (long long)j->last_cp_bytes);
            fflush(stdout);
            stop_attempt(j);
            return 3;
        }
    }
    bool failed = atomic_load(&j->failed);
    if (failed) {
        say("failure: %s", j->fail_reason);
        e = ev_sub(CPA_EV_JOB_STATUS, 0, -1, -1);
        e.u.job_status.status = CPA_JOB_FAILING;
        snprintf(e.u.job_status.message, sizeof e.u.job_status.message, "%s", j->fail_reason);
        emit(j, e);
    }
    stop_attempt(j);
    return failed ? 1 : 0;
}

/* ------------------------------------------------------------------ cpdemo run */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cpdemo run --config FILE [--from-checkpoint N] [--seconds S] [--drain]\n"
            "                  [--supervise [--max-restarts N]]\n"
            "Runs the job: Kafka source -> parse -> keyBy(account) -> aggregate -> sink,\n"
            "checkpointing as configured (see demo-job/README.md for every key), streaming\n"
            "its checkpoints to cptop. Restores from the latest completed checkpoint (or N).\n"
            "Runs until Ctrl-C / SIGTERM, or for S seconds. --drain: reads what the topic holds\n"
            "now, takes a final checkpoint (committing everything), prints the rate and exits.\n"
            "agent.listen \"off\" runs without the agent. Exit: 0 stopped, 1 failed, 2 usage.\n"
            "--supervise: runs the job as a child process and starts it again (after 1 s)\n"
            "whenever the process dies, e.g. of kill -9 or cptop's \"crash\" failure; it\n"
            "restores from the latest completed checkpoint. --max-restarts N limits that\n"
            "(default: no limit). SIGINT/SIGTERM stop the job and the supervisor.\n");
}

static bool read_bootstrap(job *j, char *err, size_t errsz)
{
    if (j->cfg.bootstrap[0]) {
        snprintf(j->bootstrap, sizeof j->bootstrap, "%s", j->cfg.bootstrap);
        return true;
    }
    if (!j->cfg.bootstrap_file[0]) {
        snprintf(err, errsz, "no Kafka: set source.kafka.bootstrap-servers or "
                             "source.kafka.bootstrap-file");
        return false;
    }
    char why[256];
    if (!cpd_read_first_line(j->cfg.bootstrap_file, j->bootstrap, sizeof j->bootstrap, why,
                             sizeof why)) {
        snprintf(err, errsz, "source.kafka.bootstrap-file %s: %s (is `cpdemo kafka` running?)",
                 j->cfg.bootstrap_file, why);
        return false;
    }
    return true;
}

static void agent_log(void *o, int level, const char *msg)
{
    (void)o;
    if (level <= CPA_LOG_WARNING)
        say("agent: %s", msg);
}

/* The job's settings as cptop shows them (republished after set_config). */
static void publish_config(job *j)
{
    char iv[32], to[32], tol[16], par[16], mp[32];
    cpd_format_duration(j->cfg.interval_ms, iv, sizeof iv);
    cpd_format_duration(j->cfg.timeout_ms, to, sizeof to);
    cpd_format_duration(j->cfg.min_pause_ms, mp, sizeof mp);
    snprintf(tol, sizeof tol, "%d", j->cfg.tolerable_failures);
    snprintf(par, sizeof par, "%d", j->P);
    char sink[sizeof j->cfg.sink];
    cpd_sink_redact(j->cfg.sink, sink, sizeof sink); /* dashboards see no password */
    const char *keys[] = {"execution.checkpointing.interval", "execution.checkpointing.mode",
                          "execution.checkpointing.timeout",
                          "execution.checkpointing.tolerable-failed-checkpoints",
                          "execution.checkpointing.min-pause", "execution.checkpointing.storage",
                          "parallelism.default", "sink.url", "source.kafka.topic"};
    const char *vals[] = {iv, j->cfg.mode == CPD_EXACTLY_ONCE ? "EXACTLY_ONCE" : "AT_LEAST_ONCE",
                          to, tol, mp, j->cfg.storage, par, sink, j->cfg.topic};
    cpa_set_job_config(j->agent, keys, vals, 9);
}

/* The agent, unless agent.listen is "off" (then events go nowhere). */
static bool start_agent(job *j)
{
    char err[600];
    if (!strcmp(j->cfg.agent_listen, "off"))
        return true;
    cpa_conf *ac = cpa_conf_new();
    cpa_conf_set(ac, "job.name", j->cfg.name, err, sizeof err);
    cpa_conf_set(ac, "job.id", j->job_id, err, sizeof err);
    if (cpa_conf_set(ac, "listen", j->cfg.agent_listen, err, sizeof err)) {
        fprintf(stderr, "cpdemo run: agent.listen: %s\n", err);
        cpa_conf_destroy(ac);
        return false;
    }
    cpa_conf_set_log_cb(ac, agent_log, NULL);
    for (int t = CPA_CMD_TRIGGER; t < CPA_CMD__COUNT; t++)
        cpa_conf_set_command_cb(ac, (cpa_command_type)t, on_command, j);
    j->agent = cpa_new(ac, err, sizeof err);
    if (!j->agent) {
        fprintf(stderr, "cpdemo run: agent: %s\n", err);
        return false;
    }
    cpa_operator ops[N_OPS];
    for (int i = 0; i < N_OPS; i++)
        ops[i] = (cpa_operator){op_names[i], j->P};
    const cpa_edge edges[] = {{0, 1, "forward"}, {1, 2, "hash"}, {2, 3, "forward"}};
    cpa_set_topology(j->agent, ops, N_OPS, edges, 3);
    publish_config(j);
    cpa_err ae = cpa_start(j->agent);
    if (ae) {
        fprintf(stderr, "cpdemo run: agent: %s\n", cpa_strerror(ae));
        cpa_destroy(j->agent);
        j->agent = NULL;
        return false;
    }
    return true;
}


int cpd_cmd_run(int argc, char **argv)
{
    int max_restarts = -1;
    bool supervise = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--supervise"))
            supervise = true;
        else if (!strcmp(argv[i], "--max-restarts") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > 1000000) {
                fprintf(stderr, "cpdemo run: --max-restarts '%s' must be 0..1000000\n", argv[i]);
                return 2;
            }
            max_restarts = (int)v;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            break;
        }
    }
    if (supervise)
        return cpd_supervise(argc, argv, max_restarts, 1000);
    process_start_ms = mono_ms();
    const char *config = NULL;
    int64_t from = 0, seconds = 0;
    bool drain = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strcmp(argv[i], "--from-checkpoint") && i + 1 < argc) {
            from = atoll(argv[++i]);
            if (from <= 0) {
                fprintf(stderr, "cpdemo run: --from-checkpoint '%s' is not a checkpoint id\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--drain")) {
            drain = true;
        } else if (!strcmp(argv[i], "--max-restarts") && i + 1 < argc) {
            fprintf(stderr, "cpdemo run: --max-restarts goes with --supervise\n");
            return 2;
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atoll(argv[++i]);
            if (seconds <= 0) {
                fprintf(stderr, "cpdemo run: --seconds '%s' must be positive\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "cpdemo run: unknown argument '%s' (see cpdemo run --help)\n", argv[i]);
            return 2;
        }
    }
    if (!config) {
        fprintf(stderr, "cpdemo run: --config FILE is required\n");
        usage(stderr);
        return 2;
    }
    job *j = calloc(1, sizeof *j);
    char errs[4096], warns[2048];
    cpd_config_defaults(&j->cfg);
    if (cpd_config_load(config, &j->cfg, errs, sizeof errs, warns, sizeof warns)) {
        fprintf(stderr, "cpdemo run: bad configuration:\n%s", errs);
        free(j);
        return 2;
    }
    if (warns[0])
        fprintf(stderr, "cpdemo run: %s", warns);
    if (j->cfg.unaligned)
        fprintf(stderr, "cpdemo run: execution.checkpointing.unaligned.enabled: unaligned "
                        "checkpoints are not built yet; barriers are aligned\n");
    char err[600];
    if (!read_bootstrap(j, err, sizeof err)) {
        fprintf(stderr, "cpdemo run: %s\n", err);
        free(j);
        return 2;
    }
    j->P = j->cfg.parallelism;
    j->drain = drain;
    if (j->cfg.agent_job_id[0])
        snprintf(j->job_id, sizeof j->job_id, "%s", j->cfg.agent_job_id);
    else {
        size_t k = 0;
        for (const char *p = j->cfg.name; *p && k + 1 < sizeof j->job_id; p++)
            j->job_id[k++] = (isalnum((unsigned char)*p) || *p == '-' || *p == '_') ? *p : '-';
        j->job_id[k] = '\0';
    }
    j->n_parts = kafka_partitions(j, err, sizeof err);
    if (j->n_parts < 0) {
        fprintf(stderr, "cpdemo run: %s\n", err);
        free(j);
        return 2;
    }
    cpd_storage_s3_opts s3 = {.endpoint = j->cfg.s3_endpoint, .path_style = j->cfg.s3_path_style,
                              .access_key = j->cfg.s3_access_key,
                              .secret_key = j->cfg.s3_secret_key}; /* unset: from the env */
    j->st = cpd_storage_open_ex(j->cfg.storage, j->job_id, &s3, err, sizeof err);
    if (!j->st) {
        fprintf(stderr, "cpdemo run: execution.checkpointing.storage: %s\n", err);
        free(j);
        return 2;
    }
    if (!start_agent(j)) {
        cpd_storage_close(j->st);
        free(j);
        return 2;
    }
    char iv[32];
    cpd_format_duration(j->cfg.interval_ms, iv, sizeof iv);
    pthread_mutex_init(&j->fail_mu, NULL);
    pthread_mutex_init(&j->cmu, NULL);
    pthread_cond_init(&j->ccond, NULL);
    pthread_mutex_init(&j->iomu, NULL);
    pthread_cond_init(&j->iocond, NULL);
    j->next_id = 1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    say("job %s: %d partitions of \"%s\" at %s, parallelism %d, %s, checkpoints every %s to %s",
        j->job_id, j->n_parts, j->cfg.topic, j->bootstrap, j->P,
        j->cfg.mode == CPD_EXACTLY_ONCE ? "EXACTLY_ONCE" : "AT_LEAST_ONCE", iv,
        cpd_storage_location(j->st));
    int64_t deadline = seconds ? mono_ms() + seconds * 1000 : INT64_MAX;
    int rc = 0;
    for (;;) {
        int r = run_attempt(j, j->attempt == 0 ? from : 0, deadline);
        if (r == 0 || r == 3 || quit || mono_ms() >= deadline) {
            rc = 0;
            break;
        }
        if (r == 2) {
            rc = 2;
            break;
        }
        if (j->attempt >= j->cfg.restart_attempts) {
            say("giving up after %d restarts", j->attempt);
            cpa_event e = ev_sub(CPA_EV_JOB_STATUS, 0, -1, -1);
            e.u.job_status.status = CPA_JOB_FAILED;
            snprintf(e.u.job_status.message, sizeof e.u.job_status.message, "%s", j->fail_reason);
            emit(j, e);
            rc = 1;
            break;
        }
        j->attempt++;
        cpa_event e = ev_sub(CPA_EV_JOB_STATUS, 0, -1, -1);
        e.u.job_status.status = CPA_JOB_RESTARTING;
        snprintf(e.u.job_status.message, sizeof e.u.job_status.message, "restart %d in %lld ms",
                 j->attempt, (long long)j->cfg.restart_delay_ms);
        emit(j, e);
        for (int64_t w = 0; w < j->cfg.restart_delay_ms && !quit; w += 50)
            sleep_ms(50);
        if (quit)
            break;
    }
    cpa_event e = ev_sub(CPA_EV_JOB_STATUS, 0, -1, -1);
    e.u.job_status.status = rc == 1 ? CPA_JOB_FAILED : CPA_JOB_FINISHED;
    emit(j, e);
    cpa_stop(j->agent);
    cpa_destroy(j->agent);
    cpd_storage_close(j->st);
    pthread_mutex_destroy(&j->fail_mu);
    pthread_mutex_destroy(&j->cmu);
    pthread_cond_destroy(&j->ccond);
    pthread_mutex_destroy(&j->iomu);
    pthread_cond_destroy(&j->iocond);
    free(j);
    return rc;
}
