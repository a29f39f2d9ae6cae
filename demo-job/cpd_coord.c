/* cpd_coord.c — checkpoint coordinator logic (see cpd_coord.h). */
#include "cpd_coord.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>



#define NEVER INT64_MAX
#define NONE INT64_MIN

typedef struct inflight {
    int64_t id;
    int64_t start, deadline;    /* deadline: start + the timeout in force at start */
    cpa_trigger_kind kind;
    bool finalizing;            /* every ack in, _metadata being written */
    int acks;
    uint8_t *acked;             /* n_tasks flags */
} inflight;

struct cpd_coord {
    cpd_coord_cfg cfg;
    cpd_coord_ops ops;
    void *opaque;
    inflight cps[CPD_MAX_INFLIGHT];
    int n;
    int64_t next_id;
    int64_t next_periodic;      /* when the next periodic checkpoint is due */
    int64_t last_periodic;      /* when the last one started (NONE: never) */
    bool manual_waiting;
    int64_t last_end;           /* when the last checkpoint ended (NONE: never) */
    int consecutive;
    int64_t latest_completed;
};

static const char *const rc_names[] = {
    "ok", "queued", "busy", "unknown checkpoint", "late", "duplicate", "bad task", "bad value",
    "not finalizing",
};

const char *cpd_coord_rc_name(cpd_coord_rc rc)
{
    return (unsigned)rc < sizeof rc_names / sizeof rc_names[0] ? rc_names[rc] : "?";
}

static bool cfg_valid(const cpd_coord_cfg *c)
{
    return c->interval_ms >= 0 && c->timeout_ms > 0 && c->min_pause_ms >= 0 &&
           c->max_concurrent >= 1 && c->max_concurrent <= CPD_MAX_INFLIGHT &&
           c->tolerable_failures >= 0 && c->n_tasks >= 1;
}

cpd_coord *cpd_coord_new(const cpd_coord_cfg *cfg, const cpd_coord_ops *ops, void *opaque,
                         int64_t now_ms)
{
    if (!cfg || !cfg_valid(cfg))
        return NULL;
    cpd_coord *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cfg = *cfg;
    if (ops)
        c->ops = *ops;
    c->opaque = opaque;
    c->next_id = 1;
    c->last_periodic = NONE;
    c->last_end = NONE;
    c->next_periodic = cfg->interval_ms ? now_ms + cfg->interval_ms : NEVER;
    return c;
}

void cpd_coord_free(cpd_coord *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++)
        free(c->cps[i].acked);
    free(c);
}

void cpd_coord_set_next_id(cpd_coord *c, int64_t next_id)
{
    if (next_id > c->next_id)
        c->next_id = next_id;
}

static cpd_coord_rc lookup(cpd_coord *c, int64_t id, int task, inflight **out);

static inflight *find(cpd_coord *c, int64_t id)
{
    for (int i = 0; i < c->n; i++)
        if (c->cps[i].id == id)
            return &c->cps[i];
    return NULL;
}

static void drop(cpd_coord *c, inflight *cp)
{
    free(cp->acked);
    int i = (int)(cp - c->cps);
    memmove(&c->cps[i], &c->cps[i + 1], (size_t)(c->n - i - 1) * sizeof c->cps[0]);
    c->n--;
}

/* A new checkpoint may start now: a free slot and the pause since the last
 * one ended has passed. */
static bool allowed(const cpd_coord *c, int64_t now)
{
    return c->n < c->cfg.max_concurrent &&
           (c->last_end == NONE || now >= c->last_end + c->cfg.min_pause_ms);
}

static bool start(cpd_coord *c, cpa_trigger_kind kind, int64_t now, int64_t *id_out)
{
    uint8_t *acked = calloc((size_t)c->cfg.n_tasks, 1);
    if (!acked)
        return false; /* retried on the next tick */
    inflight *cp = &c->cps[c->n++];
    cp->id = c->next_id++;
    cp->start = now;
    cp->deadline = now + c->cfg.timeout_ms;
    cp->kind = kind;
    cp->finalizing = false;
    cp->acks = 0;
    cp->acked = acked;
    if (id_out)
        *id_out = cp->id;
    if (c->ops.trigger)
        c->ops.trigger(c->opaque, cp->id, kind, now);
    return true;
}

/* Starts what is waiting, when allowed: a manual request first, then a due
 * periodic checkpoint (which then falls due again one interval later). */
static void maybe_start(cpd_coord *c, int64_t now)
{
    if (c->manual_waiting && allowed(c, now) && start(c, CPA_TRIGGER_MANUAL, now, NULL))
        c->manual_waiting = false;
    if (c->next_periodic != NEVER && now >= c->next_periodic && allowed(c, now) &&
        start(c, CPA_TRIGGER_PERIODIC, now, NULL)) {
        c->last_periodic = now;
        c->next_periodic = now + c->cfg.interval_ms;
    }
}

static void end_failed(cpd_coord *c, inflight *cp, cpa_failure_reason reason, const char *msg,
                       int64_t now)
{
    int64_t id = cp->id;
    drop(c, cp);
    c->last_end = now;
    if (c->ops.failed)
        c->ops.failed(c->opaque, id, reason, msg, now);
    if (cpa_failure_reason_counts(reason) && ++c->consecutive > c->cfg.tolerable_failures) {
        int n = c->consecutive;
        c->consecutive = 0; /* the job restarts from here */
        if (c->ops.fail_job)
            c->ops.fail_job(c->opaque, n, now);
    }
}

/* _metadata is written: id completed; older checkpoints still in flight
 * can never be needed now. */
static void completed(cpd_coord *c, inflight *cp, int64_t now)
{
    int64_t id = cp->id, started = cp->start;
    drop(c, cp);
    c->last_end = now;
    c->consecutive = 0;
    if (id > c->latest_completed)
        c->latest_completed = id;
    if (c->ops.completed)
        c->ops.completed(c->opaque, id, now - started, now);
    for (int i = 0; i < c->n;) {
        if (c->cps[i].id < id)
            end_failed(c, &c->cps[i], CPA_FAIL_SUBSUMED, "subsumed by a later checkpoint", now);
        else
            i++;
    }
}

static const char metadata_failed[] = "writing the checkpoint metadata failed";

/* Every ack is in: write _metadata, now or later. */
static void finalize(cpd_coord *c, inflight *cp, int64_t now)
{
    cpd_coord_fin fin = c->ops.finalize ? c->ops.finalize(c->opaque, cp->id, now)
                                        : CPD_COORD_FIN_OK;
    if (fin == CPD_COORD_FIN_PENDING)
        cp->finalizing = true;
    else if (fin == CPD_COORD_FIN_OK)
        completed(c, cp, now);
    else
        end_failed(c, cp, CPA_FAIL_IO, metadata_failed, now);
}

cpd_coord_rc cpd_coord_finalized(cpd_coord *c, int64_t id, bool ok, const char *message,
                                 int64_t now)
{
    inflight *cp;
    cpd_coord_rc rc = lookup(c, id, -1, &cp);
    if (rc)
        return rc;
    if (!cp->finalizing)
        return CPD_COORD_NOT_FINALIZING;
    if (ok)
        completed(c, cp, now);
    else
        end_failed(c, cp, CPA_FAIL_IO, message && *message ? message : metadata_failed, now);
    maybe_start(c, now);
    return CPD_COORD_OK;
}

void cpd_coord_tick(cpd_coord *c, int64_t now)
{
    for (int i = 0; i < c->n;) {
        if (now >= c->cps[i].deadline)
            end_failed(c, &c->cps[i], CPA_FAIL_EXPIRED, "Checkpoint expired before completing.",
                       now);
        else
            i++;
    }
    maybe_start(c, now);
}

int64_t cpd_coord_next_deadline(const cpd_coord *c)
{
    int64_t t = NEVER;
    for (int i = 0; i < c->n; i++)
        if (c->cps[i].deadline < t)
            t = c->cps[i].deadline;
    bool waiting = c->manual_waiting || c->next_periodic != NEVER;
    int64_t due = c->manual_waiting ? NONE : c->next_periodic;
    if (waiting && c->n < c->cfg.max_concurrent) {
        /* due now or at the periodic time, but not before the pause ends */
        int64_t at = due;
        if (c->last_end != NONE && c->last_end + c->cfg.min_pause_ms > at)
            at = c->last_end + c->cfg.min_pause_ms;
        if (at < t)
            t = at;
    }
    return t;
}

cpd_coord_rc cpd_coord_trigger(cpd_coord *c, int64_t now, int64_t *id)
{
    if (c->manual_waiting)
        return CPD_COORD_BUSY;
    if (allowed(c, now) && start(c, CPA_TRIGGER_MANUAL, now, id))
        return CPD_COORD_OK;
    c->manual_waiting = true;
    return CPD_COORD_QUEUED;
}

static cpd_coord_rc lookup(cpd_coord *c, int64_t id, int task, inflight **out)
{
    if (task < -1 || task >= c->cfg.n_tasks)
        return CPD_COORD_BAD_TASK;
    *out = find(c, id);
    if (*out)
        return CPD_COORD_OK;
    return id > 0 && id < c->next_id ? CPD_COORD_LATE : CPD_COORD_UNKNOWN;
}

cpd_coord_rc cpd_coord_ack(cpd_coord *c, int64_t id, int task, int64_t now)
{
    inflight *cp;
    cpd_coord_rc rc = lookup(c, id, task, &cp);
    if (rc)
        return rc;
    if (task < 0)
        return CPD_COORD_BAD_TASK;
    if (cp->acked[task] || cp->finalizing)
        return CPD_COORD_DUPLICATE;
    cp->acked[task] = 1;
    if (++cp->acks == c->cfg.n_tasks)
        finalize(c, cp, now);
    maybe_start(c, now);
    return CPD_COORD_OK;
}

cpd_coord_rc cpd_coord_decline(cpd_coord *c, int64_t id, int task, const char *reason,
                               int64_t now)
{
    inflight *cp;
    cpd_coord_rc rc = lookup(c, id, task, &cp);
    if (rc)
        return rc;
    if (cp->finalizing)
        return CPD_COORD_DUPLICATE; /* every task has acknowledged it */
    char msg[CPA_TEXT_MAX];
    snprintf(msg, sizeof msg, "declined by task %d: %s", task, reason ? reason : "");
    end_failed(c, cp, CPA_FAIL_DECLINED, msg, now);
    maybe_start(c, now);
    return CPD_COORD_OK;
}

cpd_coord_rc cpd_coord_abort(cpd_coord *c, int64_t id, int64_t now)
{
    return cpd_coord_fail(c, id, CPA_FAIL_ABORTED, "aborted by the user", now);
}

cpd_coord_rc cpd_coord_fail(cpd_coord *c, int64_t id, cpa_failure_reason reason,
                            const char *message, int64_t now)
{
    inflight *cp;
    cpd_coord_rc rc = lookup(c, id, -1, &cp);
    if (rc)
        return rc;
    end_failed(c, cp, reason, message ? message : "", now);
    maybe_start(c, now);
    return CPD_COORD_OK;
}

void cpd_coord_task_failed(cpd_coord *c, int64_t now)
{
    while (c->n)
        end_failed(c, &c->cps[0], CPA_FAIL_TASK_FAILURE, "a task failed", now);
}

cpd_coord_rc cpd_coord_set(cpd_coord *c, int64_t interval_ms, int64_t timeout_ms,
                           int tolerable_failures)
{
    if (interval_ms < 0 || timeout_ms <= 0 || tolerable_failures < 0)
        return CPD_COORD_BAD_VALUE;
    if (interval_ms != c->cfg.interval_ms) {
        /* the new interval counts from the last periodic start (or now) */
        c->cfg.interval_ms = interval_ms;
        if (!interval_ms)
            c->next_periodic = NEVER;
        else if (c->last_periodic != NONE)
            c->next_periodic = c->last_periodic + interval_ms;
        else if (c->next_periodic == NEVER)
            c->next_periodic = NONE; /* due at the next tick */
    }
    c->cfg.timeout_ms = timeout_ms; /* applies to checkpoints started from now on */
    c->cfg.tolerable_failures = tolerable_failures;
    return CPD_COORD_OK;
}

int cpd_coord_inflight(const cpd_coord *c) { return c->n; }
int cpd_coord_consecutive_failures(const cpd_coord *c) { return c->consecutive; }
int64_t cpd_coord_latest_completed(const cpd_coord *c) { return c->latest_completed; }

int cpd_coord_inflight_ids(const cpd_coord *c, int64_t *ids, int max)
{
    int k = 0;
    for (int i = 0; i < c->n && k < max; i++)
        ids[k++] = c->cps[i].id;
    return k;
}

bool cpd_coord_awaits(const cpd_coord *c, int64_t id, int task)
{
    const inflight *cp = find((cpd_coord *)c, id);
    return cp && !cp->finalizing && task >= 0 && task < c->cfg.n_tasks && !cp->acked[task];
}

bool cpd_coord_finalizing(const cpd_coord *c, int64_t id)
{
    const inflight *cp = find((cpd_coord *)c, id);
    return cp && cp->finalizing;
}

int cpd_coord_pending_tasks(const cpd_coord *c, int64_t id, int *tasks, int max)
{
    const inflight *cp = find((cpd_coord *)c, id);
    if (!cp)
        return -1;
    int k = 0;
    for (int t = 0; t < c->cfg.n_tasks && k < max; t++)
        if (!cp->acked[t])
            tasks[k++] = t;
    return k;
}
