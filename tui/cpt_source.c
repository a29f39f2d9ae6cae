/* cpt_source.c — see cpt_source.h: the generic half of a source (the ops
 * dispatch, the tap and the observer); each kind is a cpt_src_*.c. */
#include "cpt_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cpt_source {
    const cpt_source_ops *ops;
    void *impl;
    cpt_tap_fn tap;
    void *tap_ud;
    cpt_src_msg_fn obs_msg;
    cpt_src_bad_fn obs_bad;
    void *obs_ud;
};

/* What a source that cannot do something says, when its kind has no
 * sentence of its own; indexed by the bit position of the cap. */
static const char *const generic_cannot[] = {
    "this source cannot trigger checkpoints",
    "this source cannot abort a checkpoint",
    "this job announced no failure table: nothing to inject",
    "this source cannot change settings",
    "this source is polled, not pushed",
    "this source cannot ask for a full checkpoint",
    "this source watches one job and lists no others (J picks among the jobs on this machine)",
    "this source takes no savepoints (a Flink cluster does: cptop --flink URL ctl savepoint)",
};

cpt_source *cpt_source_new(const cpt_source_ops *ops, void *impl)
{
    cpt_source *s = calloc(1, sizeof *s);
    if (!s) {
        ops->destroy(impl);
        return NULL;
    }
    s->ops = ops;
    s->impl = impl;
    return s;
}

void *cpt_source_impl(const cpt_source *s) { return s->impl; }

void cpt_source_destroy(cpt_source *s)
{
    if (!s)
        return;
    s->ops->destroy(s->impl);
    free(s);
}

const char *cpt_source_kind(const cpt_source *s) { return s->ops->kind; }

void cpt_source_describe(const cpt_source *s, char *out, size_t size)
{
    if (size == 0)
        return;
    out[0] = 0;
    if (s->ops->describe)
        s->ops->describe(s->impl, out, size);
}

unsigned cpt_source_caps(const cpt_source *s, const cpt_model *m)
{
    return s->ops->caps ? s->ops->caps(s->impl, m) : 0;
}

static int cap_bit(cpt_src_cap cap)
{
    for (int b = 0; b < 32; b++)
        if ((unsigned)cap == 1u << b)
            return b;
    return -1;
}

const char *cpt_source_cannot(const cpt_source *s, cpt_src_cap cap)
{
    int b = cap_bit(cap);
    const size_t n = sizeof generic_cannot / sizeof generic_cannot[0];
    if (b < 0 || (size_t)b >= n)
        return "this source cannot do that";
    /* a kind's sentences end at the first NULL (later caps: the generic one) */
    for (int i = 0; s->ops->cannot && s->ops->cannot[i]; i++)
        if (i == b)
            return s->ops->cannot[b];
    return generic_cannot[b];
}

int64_t cpt_source_clock(const cpt_source *s, int64_t now_us)
{
    return s->ops->clock ? s->ops->clock(s->impl, now_us) : now_us;
}

int cpt_source_start(cpt_source *s, cpt_model *m, int64_t now_us, char *err, size_t errsz)
{
    return s->ops->start ? s->ops->start(s, m, now_us, err, errsz) : 0;
}

int cpt_source_pollfds(const cpt_source *s, struct pollfd *pfd, int max, int64_t *next_us)
{
    return s->ops->pollfds ? s->ops->pollfds(s->impl, pfd, max, next_us) : 0;
}

void cpt_source_on_ready(cpt_source *s, cpt_model *m, int64_t now_us)
{
    if (s->ops->on_ready)
        s->ops->on_ready(s, m, now_us);
}

void cpt_source_tick(cpt_source *s, cpt_model *m, int64_t now_us)
{
    if (s->ops->tick)
        s->ops->tick(s, m, now_us);
}

/* The capability a command needs. */
static cpt_src_cap cmd_cap(cpw_cmd_type t)
{
    static const cpt_src_cap need[CPW_CMD__COUNT] = {
        [CPW_CMD_TRIGGER] = CPT_CAP_TRIGGER,
        [CPW_CMD_ABORT] = CPT_CAP_ABORT,
        [CPW_CMD_INJECT_FAILURE] = CPT_CAP_FAIL,
        [CPW_CMD_SET_CONFIG] = CPT_CAP_CONFIG,
    };
    return (unsigned)t < CPW_CMD__COUNT ? need[t] : 0;
}

/* A command the source has no op for, or no capability for (failure
 * injection is left to the job: an agent without a table still takes
 * any kind, and says itself what it refuses). */
static bool wants_type(const cpw_cmd *c, const char *type)
{
    return c->type == CPW_CMD_TRIGGER && c->n_params > 0 && !strcmp(c->keys[0], "type") &&
           !strcmp(c->values[0], type);
}

void cpt_source_cmd_full(cpw_cmd *c)
{
    c->n_params = 1;
    snprintf(c->keys[0], sizeof c->keys[0], "type");
    snprintf(c->values[0], sizeof c->values[0], "full");
}

void cpt_source_cmd_savepoint(cpw_cmd *c, const char *dir)
{
    c->n_params = 1;
    snprintf(c->keys[0], sizeof c->keys[0], "type");
    snprintf(c->values[0], sizeof c->values[0], "savepoint");
    if (dir) {
        c->n_params = 2;
        snprintf(c->keys[1], sizeof c->keys[1], "dir");
        snprintf(c->values[1], sizeof c->values[1], "%s", dir);
    }
}

static bool refuse(const cpt_source *s, const cpw_cmd *c, bool has_op, char *err, size_t errsz)
{
    cpt_src_cap need = wants_type(c, "full")        ? CPT_CAP_FULL
                       : wants_type(c, "savepoint") ? CPT_CAP_SAVEPOINT
                                                    : cmd_cap(c->type);
    unsigned caps = cpt_source_caps(s, NULL);
    if (has_op && (!need || need == CPT_CAP_FAIL || (caps & need)))
        return false;
    snprintf(err, errsz, "%s", cpt_source_cannot(s, need));
    return true;
}

int cpt_source_send_cmd(cpt_source *s, const cpw_cmd *c, char *err, size_t errsz)
{
    if (refuse(s, c, s->ops->send_cmd != NULL, err, errsz))
        return -1;
    return s->ops->send_cmd(s, c, err, errsz);
}

bool cpt_source_cmd_pending(const cpt_source *s)
{
    return s->ops->cmd_pending && s->ops->cmd_pending(s->impl);
}

const char *cpt_source_cmd_name(const cpt_source *s)
{
    const char *n = s->ops->cmd_name ? s->ops->cmd_name(s->impl) : NULL;
    return n ? n : "command";
}

int cpt_source_poll_cmd(cpt_source *s, int64_t now_us, int timeout_ms, bool *ok, char *text,
                        size_t size)
{
    return s->ops->poll_cmd ? s->ops->poll_cmd(s, now_us, timeout_ms, ok, text, size) : 0;
}

int cpt_source_request(cpt_source *s, const cpw_cmd *c, int timeout_ms, cpt_src_reply *r,
                       char *err, size_t errsz)
{
    memset(r, 0, sizeof *r);
    if (refuse(s, c, s->ops->request != NULL, err, errsz)) {
        /* refused here, as the job would: an answer, not an outage */
        snprintf(r->error, sizeof r->error, "unsupported");
        snprintf(r->message, sizeof r->message, "%s", err);
        return 0;
    }
    return s->ops->request(s, c, timeout_ms, r, err, errsz);
}

int cpt_source_snapshot(cpt_source *s, int history, int timeout_ms, cpw_state **out, char *err,
                        size_t errsz)
{
    *out = NULL;
    if (!s->ops->snapshot) {
        snprintf(err, errsz, "this source keeps no state to show");
        return -1;
    }
    return s->ops->snapshot(s, history, timeout_ms, out, err, errsz);
}

int cpt_source_jobs(const cpt_source *s, cpt_job_row *out, int max)
{
    return s->ops->jobs ? s->ops->jobs(s->impl, out, max) : -1;
}

uint64_t cpt_source_jobs_gen(const cpt_source *s)
{
    return s->ops->jobs_gen ? s->ops->jobs_gen(s->impl) : 0;
}

void cpt_source_want_jobs(cpt_source *s, bool on)
{
    if (s->ops->want_jobs)
        s->ops->want_jobs(s->impl, on);
}

void cpt_source_want_detail(cpt_source *s, cpt_model *m, int64_t cp_id)
{
    if (s->ops->want_detail)
        s->ops->want_detail(s, m, cp_id);
}

int cpt_source_watch(cpt_source *s, const char *job, char *err, size_t errsz)
{
    if (!s->ops->watch) {
        snprintf(err, errsz, "%s", cpt_source_cannot(s, CPT_CAP_JOBS));
        return -1;
    }
    return s->ops->watch(s, job, err, errsz);
}

void cpt_source_set_tap(cpt_source *s, cpt_tap_fn fn, void *ud)
{
    s->tap = fn;
    s->tap_ud = ud;
}

void cpt_source_set_observer(cpt_source *s, cpt_src_msg_fn msg, cpt_src_bad_fn bad, void *ud)
{
    s->obs_msg = msg;
    s->obs_bad = bad;
    s->obs_ud = ud;
}

void cpt_source_tap(cpt_source *s, cpt_tap_kind kind, const char *where, const void *bytes,
                    size_t len, int64_t recv_us)
{
    if (s->tap)
        s->tap(s->tap_ud, kind, where ? where : "", bytes, len, recv_us);
}

int cpt_source_emit(cpt_source *s, cpt_model *m, const cpw_msg *msg, int64_t now_us)
{
    int stop = s->obs_msg ? s->obs_msg(s->obs_ud, msg) : 0;
    if (m)
        cpt_model_on_msg(m, msg, now_us);
    return stop;
}

void cpt_source_bad(cpt_source *s, cpt_model *m, const char *why, int64_t now_us)
{
    if (s->obs_bad)
        s->obs_bad(s->obs_ud, why);
    if (m)
        cpt_model_on_bad_frame(m, why, now_us);
}
