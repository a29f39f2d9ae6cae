/*
 * cpd_coord.h — the checkpoint coordinator of cpdemo, as pure logic.
 *
 * It decides when checkpoints start, end and fail, following Flink's rules
 * (ARCHITECTURE.md, "Checkpoint semantics"): periodic and manual triggers,
 * at most max-concurrent in flight, at least min-pause between the end of
 * one and the start of the next, expiry at exactly `timeout`, consecutive
 * failures counted against the tolerance. It owns no thread and reads no
 * clock: the caller passes the time in every call, so tests drive it with a
 * fake clock, and it acts through callbacks (the job injects barriers,
 * writes _metadata, commits the sink, restarts).
 *
 * Not thread-safe: the job calls it from its coordinator thread only.
 */
#ifndef CPD_COORD_H
#define CPD_COORD_H

#include <stdbool.h>
#include <stdint.h>

#include "cpagent.h"

#define CPD_MAX_INFLIGHT 16

typedef struct cpd_coord_cfg {
    int64_t interval_ms;        /* 0: no periodic checkpoints */
    int64_t timeout_ms;         /* > 0 */
    int64_t min_pause_ms;       /* >= 0 */
    int max_concurrent;         /* 1..CPD_MAX_INFLIGHT */
    int tolerable_failures;     /* >= 0 */
    int n_tasks;                /* subtasks that must acknowledge, >= 1 */
} cpd_coord_cfg;

/* What the coordinator asks of the job. Any may be NULL. They run inside
 * the coordinator's calls and must not call back into it (queue the work). */
typedef struct cpd_coord_ops {
    /* Start checkpoint id: inject barrier id at every source. */
    void (*trigger)(void *opaque, int64_t id, cpa_trigger_kind kind, int64_t now_ms);
    /* Every task acknowledged id: write _metadata (the commit point), tell
     * the sink, clean up. Return false when that failed (storage): the
     * checkpoint then fails with CPA_FAIL_IO. */
    bool (*finalize)(void *opaque, int64_t id, int64_t now_ms);
    /* id completed (after finalize). */
    void (*completed)(void *opaque, int64_t id, int64_t duration_ms, int64_t now_ms);
    /* id failed: tasks drop its barriers and state, storage removes its files. */
    void (*failed)(void *opaque, int64_t id, cpa_failure_reason reason, const char *message,
                   int64_t now_ms);
    /* Consecutive failures went beyond the tolerance: restart the job. */
    void (*fail_job)(void *opaque, int consecutive, int64_t now_ms);
} cpd_coord_ops;

typedef enum cpd_coord_rc {
    CPD_COORD_OK = 0,
    CPD_COORD_QUEUED,           /* manual trigger: will start once allowed */
    CPD_COORD_BUSY,             /* manual trigger: one is already waiting */
    CPD_COORD_UNKNOWN,          /* no such checkpoint in flight */
    CPD_COORD_LATE,             /* ack/decline for a checkpoint no longer in flight: ignored */
    CPD_COORD_DUPLICATE,        /* this task already acknowledged */
    CPD_COORD_BAD_TASK,         /* task index out of range */
    CPD_COORD_BAD_VALUE,        /* a setting out of range */
} cpd_coord_rc;

const char *cpd_coord_rc_name(cpd_coord_rc rc);

typedef struct cpd_coord cpd_coord;

/* A coordinator started at now_ms (the first periodic trigger is due at
 * now_ms + interval). NULL on a bad configuration or out of memory. */
cpd_coord *cpd_coord_new(const cpd_coord_cfg *cfg, const cpd_coord_ops *ops, void *opaque,
                         int64_t now_ms);
void cpd_coord_free(cpd_coord *c);

/* Ids continue from here (after a restore: the restored id). */
void cpd_coord_set_next_id(cpd_coord *c, int64_t next_id);

/* Advances time: expires checkpoints whose timeout has come, starts a due
 * periodic or a waiting manual checkpoint when allowed. */
void cpd_coord_tick(cpd_coord *c, int64_t now_ms);

/* The next time tick() has something to do (INT64_MAX: nothing planned). */
int64_t cpd_coord_next_deadline(const cpd_coord *c);

/* A manual trigger: starts now when allowed (OK, *id set), else waits for
 * the first moment it is (QUEUED); a second one while one waits is BUSY. */
cpd_coord_rc cpd_coord_trigger(cpd_coord *c, int64_t now_ms, int64_t *id);

cpd_coord_rc cpd_coord_ack(cpd_coord *c, int64_t id, int task, int64_t now_ms);
cpd_coord_rc cpd_coord_decline(cpd_coord *c, int64_t id, int task, const char *reason,
                               int64_t now_ms);
/* Aborted by the user. */
cpd_coord_rc cpd_coord_abort(cpd_coord *c, int64_t id, int64_t now_ms);
/* A checkpoint's asynchronous part failed (storage write): it fails. */
cpd_coord_rc cpd_coord_fail(cpd_coord *c, int64_t id, cpa_failure_reason reason,
                            const char *message, int64_t now_ms);
/* A task failed: everything in flight fails with TASK_FAILURE; the job restarts. */
void cpd_coord_task_failed(cpd_coord *c, int64_t now_ms);

/* Run-time settings (set_config). BAD_VALUE leaves everything unchanged. */
cpd_coord_rc cpd_coord_set(cpd_coord *c, int64_t interval_ms, int64_t timeout_ms,
                           int tolerable_failures);

int cpd_coord_inflight(const cpd_coord *c);
int cpd_coord_consecutive_failures(const cpd_coord *c);
int64_t cpd_coord_latest_completed(const cpd_coord *c);
/* In-flight ids, oldest first; returns the count (at most max). */
int cpd_coord_inflight_ids(const cpd_coord *c, int64_t *ids, int max);
/* Tasks that have not acknowledged in-flight checkpoint id (the "still
 * waiting on" list); returns the count, -1 if id is not in flight. */
int cpd_coord_pending_tasks(const cpd_coord *c, int64_t id, int *tasks, int max);

#endif
