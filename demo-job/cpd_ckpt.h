/*
 * cpd_ckpt.h — the job's checkpoint service: the coordinator thread, the
 * one owner of cpd_coord and of every checkpoint's metadata, and the
 * completion worker that does the slow part of finishing checkpoints.
 *
 * Everyone else talks to the coordinator thread by message. Task threads
 * post acknowledgements (with the state handle and source offsets that go
 * into _metadata), declines and failed writes, and never wait. The agent's
 * command handler posts trigger, abort and set requests and waits for the
 * answer for a bounded time; the coordinator never blocks on anything but
 * its inbox, so the answer comes at once. The inbox lock is held only to
 * link a message in or out, never across work. Tasks read a checkpoint's
 * trigger time lock-free (cpd_ckpt_trigger_us). The job's threads and who
 * owns what: ARCHITECTURE.md, "Threads of the job, and who owns what".
 *
 * The completion worker (one thread) takes work in the order it was queued:
 * writing a checkpoint's _metadata (the commit point), then, once the
 * coordinator has declared it complete, the sink commit and retention
 * (one `commit` hook), and removing failed checkpoints. It posts each
 * outcome back to the coordinator. The guarantees that keep exactly once:
 *  - The sink commits completed checkpoints in id order: a checkpoint
 *    completes only once its _metadata is written, completing N fails
 *    (subsumes) every older one still in flight, and commits run in the
 *    order completions queued them.
 *  - A checkpoint that expires (or is aborted or subsumed) while its
 *    _metadata is being written stays failed (the rule in cpd_coord.h). Its
 *    removal was queued when it failed, so it runs after the write and
 *    removes what the write left; it is never committed.
 *  - Expiry and periodic triggers run on the coordinator's own timer and
 *    never wait for the worker: a hung storage or database stalls only the
 *    worker (and so only the completion of checkpoints).
 *
 * Lifetime: one per process, across the job's attempts. begin() starts an
 * attempt's coordinator; end() fails what is in flight (TASK_FAILURE), then
 * waits until the worker has finished the item it is on (bounded by the
 * storage's and the sink's own deadlines) and the sink commits already
 * queued; metadata writes and removals still queued are dropped (a restore
 * takes the newest valid checkpoint; retention removes the rest).
 */
#ifndef CPD_CKPT_H
#define CPD_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpagent.h"
#include "cpd_coord.h"
#include "cpd_sink.h"
#include "cpd_storage.h"

/* What the service asks of the job. Coordinator-thread hooks must return
 * quickly and do no I/O (emit events, store atomics); worker hooks may
 * block on storage and the sink. None may call back into the service
 * except the non-blocking posts (ack, decline, fail). */
typedef struct cpd_ckpt_hooks {
    void *opaque;
    /* Coordinator thread. Checkpoint id starts now (trigger_us, wall clock):
     * inject barrier id at every source. */
    void (*trigger)(void *o, int64_t id, cpa_trigger_kind kind, int64_t trigger_us);
    /* Coordinator thread. id completed (its _metadata md is written). */
    void (*completed)(void *o, int64_t id, int64_t duration_ms, const cpd_metadata *md);
    /* Coordinator thread. id failed; its removal is queued for the worker. */
    void (*failed)(void *o, int64_t id, cpa_failure_reason reason, const char *message);
    /* Coordinator thread. The job must restart (too many consecutive
     * failures, or a sink commit failed): why says which. */
    void (*fail_job)(void *o, const char *why);
    /* Worker. Writes _metadata of id. false with err on failure. */
    bool (*write_metadata)(void *o, int64_t id, const cpd_metadata *md, char *err, size_t errsz);
    /* Worker. Commits the sink up to completed id (offsets in md), then
     * retention. false with err when the sink commit failed. */
    bool (*commit)(void *o, int64_t id, const cpd_metadata *md, char *err, size_t errsz);
    /* Worker. Removes failed checkpoint id from storage (best effort). */
    void (*discard)(void *o, int64_t id);
} cpd_ckpt_hooks;

/* The settings that may change at run time (set_config). */
typedef struct cpd_ckpt_settings {
    int64_t interval_ms;        /* >= 0 (0: no periodic checkpoints) */
    int64_t timeout_ms;         /* > 0 */
    int tolerable_failures;     /* >= 0 */
} cpd_ckpt_settings;

typedef enum cpd_ckpt_rc {
    CPD_CKPT_OK = 0,
    CPD_CKPT_QUEUED,            /* trigger: starts once allowed */
    CPD_CKPT_BUSY,              /* trigger: a manual one is already waiting */
    CPD_CKPT_NOT_IN_FLIGHT,     /* abort: no such checkpoint in flight */
    CPD_CKPT_BAD_VALUE,         /* set: a value out of range */
    CPD_CKPT_IDLE,              /* no attempt running (the job is restarting) */
    CPD_CKPT_NO_ANSWER,         /* the coordinator did not answer in time */
    CPD_CKPT_NOMEM,
} cpd_ckpt_rc;

/* A short name for rc ("ok", "queued", ...); never NULL. */
const char *cpd_ckpt_rc_name(cpd_ckpt_rc rc);

typedef struct cpd_ckpt cpd_ckpt;

/* Starts the coordinator thread and the worker. cfg gives the settings
 * (n_tasks is taken from begin()); hooks is copied. NULL with err on a bad
 * configuration or when a thread cannot start. */
cpd_ckpt *cpd_ckpt_new(const cpd_coord_cfg *cfg, const cpd_ckpt_hooks *hooks, char *err,
                       size_t errsz);
/* Ends an attempt still running, stops both threads, frees everything.
 * Nothing may post any more. NULL is fine. */
void cpd_ckpt_destroy(cpd_ckpt *c);

/* Starts an attempt: a coordinator for n_tasks acknowledging subtasks whose
 * ids continue from next_id (periodic triggers count from now). Controlling
 * thread only; waits for the coordinator thread (which answers at once).
 * false when out of memory or settings are refused. */
bool cpd_ckpt_begin(cpd_ckpt *c, int n_tasks, int64_t next_id);
/* Ends the attempt (see the lifetime above). Controlling thread only; call
 * it once every thread that posts acks has stopped. Blocks until the worker
 * is idle. */
void cpd_ckpt_end(cpd_ckpt *c);

/* Posts, from any thread; they never wait beyond the inbox lock. Anything
 * for a checkpoint no longer in flight (or with no attempt running) is
 * dropped by the coordinator. */
/* task acknowledged id; state (may be NULL) and n_offsets source offsets
 * (partition, next offset) go into its _metadata. */
void cpd_ckpt_ack(cpd_ckpt *c, int64_t id, int task, const cpd_state_handle *state,
                  const cpd_offset *offsets, int n_offsets);
void cpd_ckpt_decline(cpd_ckpt *c, int64_t id, int task, const char *reason);
/* A task's write for id (state upload, sink staging) failed: id fails with
 * IO_EXCEPTION. */
void cpd_ckpt_fail(cpd_ckpt *c, int64_t id, const char *why);

/* Requests, from any thread: each waits at most wait_ms (< 0: no limit) for
 * the coordinator's answer (NO_ANSWER after that). */
/* A manual trigger: OK with *id, QUEUED (with *inflight checkpoints in
 * flight: they or the min-pause hold it back), BUSY, IDLE. */
cpd_ckpt_rc cpd_ckpt_trigger(cpd_ckpt *c, int wait_ms, int64_t *id, int *inflight);
/* Aborts in-flight id: OK, NOT_IN_FLIGHT, IDLE. */
cpd_ckpt_rc cpd_ckpt_abort(cpd_ckpt *c, int64_t id, int wait_ms);
/* Applies s now (a running attempt) and to later attempts: OK, BAD_VALUE. */
cpd_ckpt_rc cpd_ckpt_set(cpd_ckpt *c, const cpd_ckpt_settings *s, int wait_ms);

/* Lock-free reads, any thread. */
/* When id was triggered (wall-clock us), 0 when unknown (long past). */
int64_t cpd_ckpt_trigger_us(const cpd_ckpt *c, int64_t id);
int cpd_ckpt_inflight(const cpd_ckpt *c);
int64_t cpd_ckpt_latest_completed(const cpd_ckpt *c);
/* The newest checkpoint whose sink commit succeeded (0: none yet). */
int64_t cpd_ckpt_latest_committed(const cpd_ckpt *c);

#endif
