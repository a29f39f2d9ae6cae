/* cpd_ckpt.c — the coordinator thread and the completion worker (see cpd_ckpt.h). */
#include "cpd_ckpt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpd_clock.h"

#define SLOTS 64 /* metadata and trigger times by id % SLOTS (> CPD_MAX_INFLIGHT) */
#define NEVER INT64_MAX

/* ------------------------------------------------------------------ messages */

typedef enum msg_kind { M_ACK, M_DECLINE, M_FAIL, M_FINALIZED, M_COMMITTED, M_REQUEST } msg_kind;

typedef enum req_type { R_BEGIN, R_END, R_TRIGGER, R_ABORT, R_SET } req_type;

/* A request waiting for the coordinator's answer. Two references: the
 * asker's and the coordinator's; whoever lets go last frees it, so an
 * asker that gave up waiting leaves nothing dangling. */
typedef struct req {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
    req_type type;
    int64_t id;                 /* ABORT: the checkpoint; BEGIN: next id */
    int n_tasks;                /* BEGIN */
    cpd_ckpt_settings set;      /* SET */
    cpd_ckpt_rc rc;             /* the answer */
    int64_t out_id;             /* TRIGGER: the id started */
    int inflight;               /* TRIGGER: in flight when it was queued */
} req;

typedef struct msg {
    struct msg *next;
    msg_kind kind;
    int64_t id;
    int task;
    bool ok;
    char text[CPA_TEXT_MAX];    /* decline reason, failure message */
    bool has_state;
    cpd_state_handle state;
    cpd_metadata *md;           /* FINALIZED: handed back by the worker */
    req *rq;                    /* REQUEST */
    int n_offsets;
    cpd_offset offsets[];       /* ACK from a source */
} msg;

typedef enum work_kind { W_FINALIZE, W_COMMIT, W_DISCARD } work_kind;

typedef struct work {
    struct work *next;
    work_kind kind;
    int64_t id;
    cpd_metadata *md;           /* owned by the work item */
} work;

typedef struct slot {
    int64_t id;
    cpd_metadata *md;           /* gathered from acks; NULL once handed to the worker */
} slot;

struct cpd_ckpt {
    cpd_ckpt_hooks h;
    /* inbox: the one lock others take, only to link messages */
    pthread_mutex_t imu;
    pthread_cond_t icond;
    msg *head, *tail;
    bool quit;
    pthread_t coord_thread;
    /* coordinator thread only */
    cpd_coord_cfg cfg;          /* settings for the next begin() (set changes them) */
    cpd_coord *coord;           /* NULL between attempts */
    slot slots[SLOTS];
    cpd_metadata *finalized_md; /* the md of the M_FINALIZED being handled */
    /* worker queue */
    pthread_mutex_t wmu;
    pthread_cond_t wcond, widle;
    work *whead, *wtail;
    bool wbusy, wquit;
    work_kind wkind;            /* what the worker is on, while wbusy */
    int64_t wid;
    pthread_t worker_thread;
    /* published for lock-free readers */
    _Atomic int64_t trig_id[SLOTS], trig_us[SLOTS];
    atomic_int inflight;
    _Atomic int64_t latest_completed, latest_committed;
};

static const char *const rc_names[] = {
    "ok", "queued", "busy", "not in flight", "bad value", "idle", "no answer", "out of memory",
};

const char *cpd_ckpt_rc_name(cpd_ckpt_rc rc)
{
    return (unsigned)rc < sizeof rc_names / sizeof rc_names[0] ? rc_names[rc] : "?";
}

static void cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

/* Waits on c until the monotonic time at_ms (no limit for NEVER). */
static void wait_until(pthread_cond_t *c, pthread_mutex_t *mu, int64_t at_ms)
{
    if (at_ms == NEVER) {
        pthread_cond_wait(c, mu);
        return;
    }
    struct timespec ts = {(time_t)(at_ms / 1000), (long)(at_ms % 1000) * 1000000L};
    pthread_cond_timedwait(c, mu, &ts);
}

static void post(cpd_ckpt *c, msg *m)
{
    m->next = NULL;
    pthread_mutex_lock(&c->imu);
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    pthread_cond_signal(&c->icond);
    pthread_mutex_unlock(&c->imu);
}

static msg *msg_new(msg_kind kind, int64_t id, int n_offsets)
{
    msg *m = calloc(1, sizeof *m + (size_t)n_offsets * sizeof(cpd_offset));
    if (m) {
        m->kind = kind;
        m->id = id;
        m->n_offsets = n_offsets;
    }
    return m;
}

/* ------------------------------------------------------------------ worker */

static void queue_work(cpd_ckpt *c, work_kind kind, int64_t id, cpd_metadata *md)
{
    work *w = calloc(1, sizeof *w);
    if (!w) {
        cpd_metadata_free(md);
        return; /* a removal skipped is retention's; a lost write or commit fails by expiry / recovery */
    }
    w->kind = kind;
    w->id = id;
    w->md = md;
    pthread_mutex_lock(&c->wmu);
    if (c->wtail)
        c->wtail->next = w;
    else
        c->whead = w;
    c->wtail = w;
    pthread_cond_signal(&c->wcond);
    pthread_mutex_unlock(&c->wmu);
}

static void do_work(cpd_ckpt *c, work *w)
{
    char err[CPA_TEXT_MAX] = "";
    if (w->kind == W_DISCARD) {
        if (c->h.discard)
            c->h.discard(c->h.opaque, w->id);
        return;
    }
    msg *m = msg_new(w->kind == W_FINALIZE ? M_FINALIZED : M_COMMITTED, w->id, 0);
    bool ok = true;
    if (w->kind == W_FINALIZE)
        ok = !c->h.write_metadata ||
             c->h.write_metadata(c->h.opaque, w->id, w->md, err, sizeof err);
    else
        ok = !c->h.commit || c->h.commit(c->h.opaque, w->id, w->md, err, sizeof err);
    if (!m) {
        cpd_metadata_free(w->md);
        w->md = NULL;
        return; /* out of memory: the checkpoint expires; a commit is redone by recovery */
    }
    m->ok = ok;
    snprintf(m->text, sizeof m->text, "%s", err);
    if (w->kind == W_FINALIZE) {
        m->md = w->md; /* back to the coordinator: it completes with it */
        w->md = NULL;
    }
    post(c, m);
}

static void *worker_main(void *arg)
{
    cpd_ckpt *c = arg;
    pthread_mutex_lock(&c->wmu);
    for (;;) {
        while (!c->whead && !c->wquit)
            pthread_cond_wait(&c->wcond, &c->wmu);
        work *w = c->whead;
        if (!w)
            break;
        c->whead = w->next;
        if (!c->whead)
            c->wtail = NULL;
        c->wbusy = true;
        c->wkind = w->kind;
        c->wid = w->id;
        pthread_mutex_unlock(&c->wmu);
        do_work(c, w);
        cpd_metadata_free(w->md);
        free(w);
        pthread_mutex_lock(&c->wmu);
        c->wbusy = false;
        if (!c->whead)
            pthread_cond_broadcast(&c->widle);
    }
    pthread_mutex_unlock(&c->wmu);
    return NULL;
}

/* end(): drops queued metadata writes and removals, keeps the sink commits
 * of completed checkpoints and the removal of a checkpoint whose metadata
 * the worker is writing right now (it failed meanwhile), and waits until
 * the worker has done them. */
static void worker_settle(cpd_ckpt *c)
{
    pthread_mutex_lock(&c->wmu);
    work **p = &c->whead;
    c->wtail = NULL;
    bool writing = c->wbusy && c->wkind == W_FINALIZE;
    int64_t written = c->wid;
    while (*p) {
        work *w = *p;
        if (w->kind == W_COMMIT || (w->kind == W_DISCARD && writing && w->id == written)) {
            c->wtail = w;
            p = &w->next;
            continue;
        }
        *p = w->next;
        cpd_metadata_free(w->md);
        free(w);
    }
    while (c->whead || c->wbusy)
        pthread_cond_wait(&c->widle, &c->wmu);
    pthread_mutex_unlock(&c->wmu);
}

/* ------------------------------------------------------------------ coordinator callbacks */

static void publish_inflight(cpd_ckpt *c)
{
    atomic_store(&c->inflight, c->coord ? cpd_coord_inflight(c->coord) : 0);
}

static void on_trigger(void *o, int64_t id, cpa_trigger_kind kind, int64_t now_ms)
{
    (void)now_ms;
    cpd_ckpt *c = o;
    slot *s = &c->slots[id % SLOTS];
    cpd_metadata_free(s->md);
    s->id = id;
    s->md = cpd_metadata_new(); /* NULL (out of memory): its finalize fails */
    int64_t us = cpd_wall_us();
    /* published id last: a reader that sees id sees its time */
    atomic_store(&c->trig_id[id % SLOTS], 0);
    atomic_store(&c->trig_us[id % SLOTS], us);
    atomic_store(&c->trig_id[id % SLOTS], id);
    if (c->h.trigger)
        c->h.trigger(c->h.opaque, id, kind, us);
}

static cpd_coord_fin on_finalize(void *o, int64_t id, int64_t now_ms)
{
    (void)now_ms;
    cpd_ckpt *c = o;
    slot *s = &c->slots[id % SLOTS];
    if (s->id != id || !s->md)
        return CPD_COORD_FIN_FAILED;
    queue_work(c, W_FINALIZE, id, s->md);
    s->md = NULL;
    return CPD_COORD_FIN_PENDING;
}

static void on_completed(void *o, int64_t id, int64_t duration_ms, int64_t now_ms)
{
    (void)now_ms;
    cpd_ckpt *c = o;
    cpd_metadata *md = c->finalized_md;
    c->finalized_md = NULL;
    if (id > atomic_load(&c->latest_completed))
        atomic_store(&c->latest_completed, id);
    if (c->h.completed)
        c->h.completed(c->h.opaque, id, duration_ms, md);
    queue_work(c, W_COMMIT, id, md);
}

static void on_failed(void *o, int64_t id, cpa_failure_reason reason, const char *message,
                      int64_t now_ms)
{
    (void)now_ms;
    cpd_ckpt *c = o;
    slot *s = &c->slots[id % SLOTS];
    if (s->id == id) {
        cpd_metadata_free(s->md);
        s->md = NULL;
    }
    if (c->h.failed)
        c->h.failed(c->h.opaque, id, reason, message);
    queue_work(c, W_DISCARD, id, NULL); /* after its metadata write, if one is under way */
}

static void on_fail_job(void *o, int consecutive, int64_t now_ms)
{
    (void)now_ms;
    cpd_ckpt *c = o;
    char why[CPA_TEXT_MAX];
    snprintf(why, sizeof why, "%d consecutive checkpoint failures exceed the tolerance of %d",
             consecutive, c->cfg.tolerable_failures);
    if (c->h.fail_job)
        c->h.fail_job(c->h.opaque, why);
}

static const cpd_coord_ops coord_ops = {on_trigger, on_finalize, on_completed, on_failed,
                                        on_fail_job};

/* ------------------------------------------------------------------ coordinator thread */

static void end_attempt(cpd_ckpt *c)
{
    if (!c->coord)
        return;
    cpd_coord_task_failed(c->coord, cpd_mono_ms()); /* nothing in flight can complete now */
    cpd_coord_free(c->coord);
    c->coord = NULL;
    for (int i = 0; i < SLOTS; i++) {
        cpd_metadata_free(c->slots[i].md);
        c->slots[i].md = NULL;
        c->slots[i].id = 0;
    }
}

static cpd_ckpt_rc answer_trigger(cpd_ckpt *c, req *r)
{
    switch (cpd_coord_trigger(c->coord, cpd_mono_ms(), &r->out_id)) {
    case CPD_COORD_OK:
        return CPD_CKPT_OK;
    case CPD_COORD_QUEUED:
        r->inflight = cpd_coord_inflight(c->coord);
        return CPD_CKPT_QUEUED;
    default:
        return CPD_CKPT_BUSY;
    }
}

static cpd_ckpt_rc answer_set(cpd_ckpt *c, const cpd_ckpt_settings *s)
{
    if (s->interval_ms < 0 || s->timeout_ms <= 0 || s->tolerable_failures < 0)
        return CPD_CKPT_BAD_VALUE;
    if (c->coord && cpd_coord_set(c->coord, s->interval_ms, s->timeout_ms,
                                  s->tolerable_failures) != CPD_COORD_OK)
        return CPD_CKPT_BAD_VALUE;
    c->cfg.interval_ms = s->interval_ms;
    c->cfg.timeout_ms = s->timeout_ms;
    c->cfg.tolerable_failures = s->tolerable_failures;
    return CPD_CKPT_OK;
}

static cpd_ckpt_rc answer(cpd_ckpt *c, req *r)
{
    if (r->type == R_BEGIN) {
        end_attempt(c);
        cpd_coord_cfg cfg = c->cfg;
        cfg.n_tasks = r->n_tasks;
        c->coord = cpd_coord_new(&cfg, &coord_ops, c, cpd_mono_ms());
        if (!c->coord)
            return CPD_CKPT_BAD_VALUE;
        cpd_coord_set_next_id(c->coord, r->id);
        return CPD_CKPT_OK;
    }
    if (r->type == R_END) {
        end_attempt(c);
        return CPD_CKPT_OK;
    }
    if (r->type == R_SET)
        return answer_set(c, &r->set);
    if (!c->coord)
        return CPD_CKPT_IDLE;
    if (r->type == R_TRIGGER)
        return answer_trigger(c, r);
    return cpd_coord_abort(c->coord, r->id, cpd_mono_ms()) == CPD_COORD_OK
               ? CPD_CKPT_OK
               : CPD_CKPT_NOT_IN_FLIGHT;
}

static void req_release(req *r)
{
    if (atomic_fetch_sub(&r->refs, 1) == 1) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cond);
        free(r);
    }
}

static void on_ack(cpd_ckpt *c, msg *m, int64_t now)
{
    if (!cpd_coord_awaits(c->coord, m->id, m->task))
        return; /* late, repeated or unknown: its state is not the checkpoint's */
    cpd_metadata *md = c->slots[m->id % SLOTS].md;
    if (md && c->slots[m->id % SLOTS].id == m->id) {
        if (m->has_state)
            cpd_metadata_add_state(md, &m->state);
        for (int i = 0; i < m->n_offsets; i++) {
            char key[32];
            snprintf(key, sizeof key, "offset.%d", m->offsets[i].partition);
            cpd_metadata_add_int(md, key, m->offsets[i].next);
        }
    }
    cpd_coord_ack(c->coord, m->id, m->task, now);
}

static void handle(cpd_ckpt *c, msg *m)
{
    int64_t now = cpd_mono_ms();
    if (m->kind == M_REQUEST) {
        req *r = m->rq;
        cpd_ckpt_rc rc = answer(c, r);
        publish_inflight(c); /* what the asker reads next agrees with the answer */
        pthread_mutex_lock(&r->mu);
        r->rc = rc;
        r->done = true;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->mu);
        req_release(r);
    } else if (m->kind == M_COMMITTED) {
        if (!m->ok && c->coord && c->h.fail_job) {
            char why[CPA_TEXT_MAX + 64];
            snprintf(why, sizeof why, "sink commit of checkpoint %lld failed: %s",
                     (long long)m->id, m->text);
            c->h.fail_job(c->h.opaque, why);
        } else if (m->ok && m->id > atomic_load(&c->latest_committed)) {
            atomic_store(&c->latest_committed, m->id);
        }
    } else if (!c->coord) {
        /* between attempts: nothing is in flight */
    } else if (m->kind == M_ACK) {
        on_ack(c, m, now);
    } else if (m->kind == M_DECLINE) {
        cpd_coord_decline(c->coord, m->id, m->task, m->text, now);
    } else if (m->kind == M_FAIL) {
        cpd_coord_fail(c->coord, m->id, CPA_FAIL_IO, m->text, now);
    } else if (m->kind == M_FINALIZED) {
        c->finalized_md = m->md; /* on_completed takes it */
        m->md = NULL;
        cpd_coord_finalized(c->coord, m->id, m->ok, m->text, now);
        /* failed, or LATE (it failed meanwhile; its removal is queued) */
        cpd_metadata_free(c->finalized_md);
        c->finalized_md = NULL;
    }
    cpd_metadata_free(m->md);
    free(m);
}

static void *coord_main(void *arg)
{
    cpd_ckpt *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->imu);
        for (;;) {
            if (c->head || c->quit)
                break;
            int64_t due = c->coord ? cpd_coord_next_deadline(c->coord) : NEVER;
            if (due <= cpd_mono_ms())
                break;
            wait_until(&c->icond, &c->imu, due);
        }
        msg *list = c->head;
        c->head = c->tail = NULL;
        bool quit = c->quit;
        pthread_mutex_unlock(&c->imu);
        while (list) {
            msg *next = list->next;
            handle(c, list);
            list = next;
        }
        if (c->coord)
            cpd_coord_tick(c->coord, cpd_mono_ms());
        publish_inflight(c);
        if (quit)
            break;
    }
    end_attempt(c);
    publish_inflight(c);
    return NULL;
}

/* ------------------------------------------------------------------ API */

cpd_ckpt *cpd_ckpt_new(const cpd_coord_cfg *cfg, const cpd_ckpt_hooks *hooks, char *err,
                       size_t errsz)
{
    cpd_coord_cfg probe = *cfg;
    probe.n_tasks = 1;
    cpd_coord *check = cpd_coord_new(&probe, NULL, NULL, 0);
    if (!check) {
        snprintf(err, errsz, "bad checkpoint settings");
        return NULL;
    }
    cpd_coord_free(check);
    cpd_ckpt *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->h = *hooks;
    pthread_mutex_init(&c->imu, NULL);
    cond_init(&c->icond);
    pthread_mutex_init(&c->wmu, NULL);
    cond_init(&c->wcond);
    cond_init(&c->widle);
    if (pthread_create(&c->worker_thread, NULL, worker_main, c) != 0) {
        snprintf(err, errsz, "cannot start the completion worker");
        free(c);
        return NULL;
    }
    if (pthread_create(&c->coord_thread, NULL, coord_main, c) != 0) {
        snprintf(err, errsz, "cannot start the coordinator thread");
        pthread_mutex_lock(&c->wmu);
        c->wquit = true;
        pthread_cond_signal(&c->wcond);
        pthread_mutex_unlock(&c->wmu);
        pthread_join(c->worker_thread, NULL);
        free(c);
        return NULL;
    }
    pthread_setname_np(c->worker_thread, "ckpt-complete");
    pthread_setname_np(c->coord_thread, "coordinator");
    return c;
}

/* Posts r and waits up to wait_ms for its answer. */
static cpd_ckpt_rc ask(cpd_ckpt *c, req *r, int wait_ms)
{
    msg *m = msg_new(M_REQUEST, 0, 0);
    if (!m) {
        req_release(r);
        req_release(r);
        return CPD_CKPT_NOMEM;
    }
    m->rq = r;
    post(c, m);
    int64_t until = wait_ms < 0 ? NEVER : cpd_mono_ms() + wait_ms;
    pthread_mutex_lock(&r->mu);
    while (!r->done && cpd_mono_ms() < until)
        wait_until(&r->cond, &r->mu, until);
    cpd_ckpt_rc rc = r->done ? r->rc : CPD_CKPT_NO_ANSWER;
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static req *req_new(req_type type)
{
    req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    atomic_init(&r->refs, 2);
    pthread_mutex_init(&r->mu, NULL);
    cond_init(&r->cond);
    r->type = type;
    return r;
}

bool cpd_ckpt_begin(cpd_ckpt *c, int n_tasks, int64_t next_id)
{
    req *r = req_new(R_BEGIN);
    if (!r)
        return false;
    r->n_tasks = n_tasks;
    r->id = next_id;
    cpd_ckpt_rc rc = ask(c, r, -1);
    req_release(r);
    return rc == CPD_CKPT_OK;
}

void cpd_ckpt_end(cpd_ckpt *c)
{
    req *r = req_new(R_END);
    if (r) {
        ask(c, r, -1);
        req_release(r);
    }
    worker_settle(c);
}

void cpd_ckpt_destroy(cpd_ckpt *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->imu);
    c->quit = true;
    pthread_cond_signal(&c->icond);
    pthread_mutex_unlock(&c->imu);
    pthread_join(c->coord_thread, NULL);
    worker_settle(c);
    pthread_mutex_lock(&c->wmu);
    c->wquit = true;
    pthread_cond_signal(&c->wcond);
    pthread_mutex_unlock(&c->wmu);
    pthread_join(c->worker_thread, NULL);
    for (msg *m = c->head, *n; m; m = n) { /* the worker's last outcomes */
        n = m->next;
        if (m->kind == M_REQUEST)
            req_release(m->rq);
        cpd_metadata_free(m->md);
        free(m);
    }
    pthread_mutex_destroy(&c->imu);
    pthread_cond_destroy(&c->icond);
    pthread_mutex_destroy(&c->wmu);
    pthread_cond_destroy(&c->wcond);
    pthread_cond_destroy(&c->widle);
    free(c);
}

void cpd_ckpt_ack(cpd_ckpt *c, int64_t id, int task, const cpd_state_handle *state,
                  const cpd_offset *offsets, int n_offsets)
{
    msg *m = msg_new(M_ACK, id, n_offsets > 0 ? n_offsets : 0);
    if (!m)
        return; /* out of memory: the checkpoint expires */
    m->task = task;
    if (state) {
        m->has_state = true;
        m->state = *state;
    }
    if (n_offsets > 0)
        memcpy(m->offsets, offsets, (size_t)n_offsets * sizeof *offsets);
    post(c, m);
}

void cpd_ckpt_decline(cpd_ckpt *c, int64_t id, int task, const char *reason)
{
    msg *m = msg_new(M_DECLINE, id, 0);
    if (!m)
        return;
    m->task = task;
    snprintf(m->text, sizeof m->text, "%s", reason ? reason : "");
    post(c, m);
}

void cpd_ckpt_fail(cpd_ckpt *c, int64_t id, const char *why)
{
    msg *m = msg_new(M_FAIL, id, 0);
    if (!m)
        return;
    snprintf(m->text, sizeof m->text, "%s", why ? why : "");
    post(c, m);
}

cpd_ckpt_rc cpd_ckpt_trigger(cpd_ckpt *c, int wait_ms, int64_t *id, int *inflight)
{
    req *r = req_new(R_TRIGGER);
    if (!r)
        return CPD_CKPT_NOMEM;
    cpd_ckpt_rc rc = ask(c, r, wait_ms);
    if (rc != CPD_CKPT_NO_ANSWER) {
        if (id)
            *id = r->out_id;
        if (inflight)
            *inflight = r->inflight;
    }
    req_release(r);
    return rc;
}

cpd_ckpt_rc cpd_ckpt_abort(cpd_ckpt *c, int64_t id, int wait_ms)
{
    req *r = req_new(R_ABORT);
    if (!r)
        return CPD_CKPT_NOMEM;
    r->id = id;
    cpd_ckpt_rc rc = ask(c, r, wait_ms);
    req_release(r);
    return rc;
}

cpd_ckpt_rc cpd_ckpt_set(cpd_ckpt *c, const cpd_ckpt_settings *s, int wait_ms)
{
    req *r = req_new(R_SET);
    if (!r)
        return CPD_CKPT_NOMEM;
    r->set = *s;
    cpd_ckpt_rc rc = ask(c, r, wait_ms);
    req_release(r);
    return rc;
}

int64_t cpd_ckpt_trigger_us(const cpd_ckpt *c, int64_t id)
{
    cpd_ckpt *m = (cpd_ckpt *)c;
    int k = (int)(id % SLOTS);
    int64_t a = atomic_load(&m->trig_id[k]), us = atomic_load(&m->trig_us[k]);
    return a == id && atomic_load(&m->trig_id[k]) == id ? us : 0;
}

int cpd_ckpt_inflight(const cpd_ckpt *c) { return atomic_load(&((cpd_ckpt *)c)->inflight); }

int64_t cpd_ckpt_latest_completed(const cpd_ckpt *c)
{
    return atomic_load(&((cpd_ckpt *)c)->latest_completed);
}

int64_t cpd_ckpt_latest_committed(const cpd_ckpt *c)
{
    return atomic_load(&((cpd_ckpt *)c)->latest_committed);
}
