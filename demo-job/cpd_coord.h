/*
 * cpd_coord.h — the checkpoint coordinator of cpdemo, as pure logic.
 *
 * It decides when checkpoints start, end and fail, following Flink's
 * CheckpointCoordinator (demo-job/README.md): periodic and manual triggers,
 * at most max-concurrent in flight, at least min-pause between the end of
 * one and the start of the next, expiry at exactly `timeout`, consecutive
 * failures counted against the tolerance. It owns no thread and reads no
 * clock: the caller passes the time in every call, so tests drive it with a
 * fake clock, and it acts through callbacks (the job injects barriers,
 * writes _metadata, commits the sink, restarts).
 *
 * Writing _metadata may be slow (S3), so it may finish later: finalize
 * answers PENDING and the outcome comes with cpd_coord_finalized(). Until
 * then the checkpoint is "finalizing": still in flight (it holds its slot
 * against max-concurrent), takes no more acks or declines, and still
 * expires at its deadline, can be aborted, and is subsumed when a newer one
 * completes. The rule for a checkpoint that fails while finalizing: it stays
 * failed. Its metadata write's outcome is then answered LATE and the caller
 * removes whatever was written (the failed callback already asked for that).
 * A checkpoint is never completed late (Flink never does) and never counted
 * twice. Exactly once holds either way: a _metadata that lands after the
 * expiry describes states every task acknowledged, so a restore from it in
 * the moment before it is removed is as consistent as from any other.
 *
 * Not thread-safe: one thread owns it (the job's coordinator thread, see
 * cpd_ckpt.h); everything else reaches it through that thread.
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

/* How finalize went: done (ok or failed) now, or later through
 * cpd_coord_finalized(). */
typedef enum cpd_coord_fin {
    CPD_COORD_FIN_OK = 0,
    CPD_COORD_FIN_FAILED,       /* the checkpoint fails with CPA_FAIL_IO */
    CPD_COORD_FIN_PENDING,      /* the write is under way: finalizing */
} cpd_coord_fin;

/* What the coordinator asks of the job. Any may be NULL. They run inside
 * the coordinator's calls and must not call back into it (queue the work). */
typedef struct cpd_coord_ops {
    /* Start checkpoint id: inject barrier id at every source. */
    void (*trigger)(void *opaque, int64_t id, cpa_trigger_kind kind, int64_t now_ms);
    /* Every task acknowledged id: write _metadata (the commit point). Return
     * OK or FAILED when done, PENDING when the outcome will come through
     * cpd_coord_finalized(). NULL: finalizing always succeeds at once. */
    cpd_coord_fin (*finalize)(void *opaque, int64_t id, int64_t now_ms);
    /* id completed (after finalize): the job tells the sink, cleans up. */
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
    CPD_COORD_NOT_FINALIZING,   /* finalized() for a checkpoint still waiting for acks */
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
/* The outcome of a PENDING finalize: ok completes id (and subsumes older
 * ones), !ok fails it with CPA_FAIL_IO and message. LATE when id failed
 * meanwhile (expired, aborted, subsumed, task failure): nothing changes and
 * the caller removes what the write left. */
cpd_coord_rc cpd_coord_finalized(cpd_coord *c, int64_t id, bool ok, const char *message,
                                 int64_t now_ms);
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
/* Whether id is in flight, not finalizing, and waits for task's ack (so an
 * ack from task would be taken). */
bool cpd_coord_awaits(const cpd_coord *c, int64_t id, int task);
/* Whether id is in flight with its metadata write under way. */
bool cpd_coord_finalizing(const cpd_coord *c, int64_t id);
/* Tasks that have not acknowledged in-flight checkpoint id (the "still
 * waiting on" list); returns the count, -1 if id is not in flight. */
int cpd_coord_pending_tasks(const cpd_coord *c, int64_t id, int *tasks, int max);

#endif
