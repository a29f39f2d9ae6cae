/*
 * cpd_stager.h — phase 1 of the sink's two-phase commit, off the record
 * path: one thread per parse or sink subtask stages what that subtask
 * produced before barrier N (result rows, or dead letters) under N in the
 * database, in barrier order, and reports each outcome.
 *
 * The subtask hands over a batch at each barrier and goes straight back to
 * its records, so a slow or locked database delays checkpoints (they
 * expire), never the stream. What could not be staged under N (N failed
 * before its turn, or the write failed) is carried into the next batch and
 * staged under the next checkpoint ahead of it, never dropped: the
 * aggregate will not send those rows again.
 *
 * Threads: submit from the subtask's thread; the callbacks run on the
 * stager's thread. The stager owns the sink handle it was given (one
 * handle, one thread at a time, as cpd_sink.h asks).
 */
#ifndef CPD_STAGER_H
#define CPD_STAGER_H

#include <stdbool.h>
#include <stdint.h>

#include "cpd_item.h"
#include "cpd_sink.h"

typedef struct cpd_stager_hooks {
    void *opaque;
    /* true when checkpoint cp has failed already: its batch waits for the
     * next checkpoint instead of being staged (any thread; lock-free). */
    bool (*failed)(void *opaque, int64_t cp);
    /* The outcome of staging under cp: ok, or err. n items staged (carried
     * ones included), bytes, how long the write took, the start delay the
     * subtask measured at its barrier, and the batch's attachment (may be
     * NULL), which done now owns. */
    void (*done)(void *opaque, int64_t cp, bool ok, const char *err, int64_t n, int64_t bytes,
                 int64_t duration_us, int64_t start_delay_us, void *attach);
    /* Frees an attachment whose checkpoint will not be staged (its batch
     * was carried into the next, or the stager stops). May be NULL when no
     * batch has one. */
    void (*release)(void *opaque, void *attach);
} cpd_stager_hooks;

typedef struct cpd_stager cpd_stager;

/* A stager for subtask sub writing through sink (taken over: closed by
 * destroy, also on failure). dead: it stages dead letters, else rows.
 * NULL when out of memory or the thread cannot start. */
cpd_stager *cpd_stager_new(cpd_sink *sink, int sub, bool dead, const cpd_stager_hooks *hooks);

/* Stops after the batch being written (blocks until it is done: the sink's
 * own deadlines bound that), drops what is queued, closes the sink. NULL
 * is fine. */
void cpd_stager_destroy(cpd_stager *s);

/* What a subtask gathers between two barriers, and hands over at once. */
typedef struct cpd_stage_batch cpd_stage_batch;

cpd_stage_batch *cpd_stage_batch_new(void);
void cpd_stage_batch_free(cpd_stage_batch *b);
int cpd_stage_batch_count(const cpd_stage_batch *b);
/* Appends a row (a later row of an account supersedes an earlier one when
 * applied). false when out of memory. */
bool cpd_stage_batch_add_row(cpd_stage_batch *b, const cpd_row *row);
/* Appends a dead letter; raw (len bytes, at most CPD_RAW_MAX kept) is copied. */
bool cpd_stage_batch_add_dead(cpd_stage_batch *b, int32_t partition, int64_t offset,
                              const char *error, const char *raw, size_t len);
/* Appends copies of everything in src to dst (src unchanged). false when
 * out of memory (dst keeps what fitted). */
bool cpd_stage_batch_append(cpd_stage_batch *dst, const cpd_stage_batch *src);

/* Queues b (taken over) to be staged under checkpoint cp; start_delay_us
 * and attach (taken over, may be NULL: what the subtask hands over with the
 * batch, e.g. its channel state) come back in done(). Never blocks beyond
 * the queue's lock. */
void cpd_stager_submit(cpd_stager *s, int64_t cp, cpd_stage_batch *b, int64_t start_delay_us,
                       void *attach);

#endif
