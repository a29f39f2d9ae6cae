/*
 * cpd_align.h — what a subtask does when barriers arrive on its input
 * channels (Flink's SingleCheckpointBarrierHandler, as pure logic).
 *
 * Aligned (EXACTLY_ONCE): when barrier N arrives on a channel, that channel
 * is blocked (its later records wait) until N has arrived on every channel;
 * then the subtask snapshots and forwards N, and all channels flow again. So
 * the snapshot holds exactly the records before N on every channel.
 * AT_LEAST_ONCE: nothing is blocked; the subtask snapshots when the last
 * barrier N arrives, so records after N on early channels may be in it (and
 * are replayed after a restore: duplicates, never loss).
 *
 * Unaligned (cpd_barrier_unaligned): the first barrier N on any channel
 * makes the subtask snapshot at once and forward N ahead of its output;
 * nothing is blocked. Records that then arrive on a channel whose barrier N
 * is not in yet were before N in the stream but after the snapshot: they
 * are processed and recorded (cpd_align_recording) as channel state, until
 * N arrives on that channel; once it has on every one, the channel state is
 * complete. A checkpoint aligned with a timeout (CPD_BAR_TIMEOUT) goes
 * unaligned here when its deadline passes while it aligns
 * (cpd_align_timeout), or when an unaligned barrier of it arrives (an
 * upstream subtask switched).
 *
 * A barrier of a newer checkpoint cancels the one in progress (it can no
 * longer complete at this subtask); older or repeated barriers are ignored.
 * Pure logic, no clock of its own; not thread-safe (one subtask thread).
 */
#ifndef CPD_ALIGN_H
#define CPD_ALIGN_H

#include <stdbool.h>
#include <stdint.h>

#include "cpd_config.h"
#include "cpd_item.h"

/* What a barrier or a timeout asks of the subtask: a set of these (0: the
 * barrier is ignored, stale or repeated). */
enum {
    CPD_ALIGN_STARTED = 1 << 0,   /* aligned, first of several inputs: alignment begins */
    CPD_ALIGN_SNAPSHOT = 1 << 1,  /* snapshot now and forward the barrier */
    CPD_ALIGN_UNALIGNED = 1 << 2, /* ...unaligned: ahead of the output, inputs recorded */
    CPD_ALIGN_SWITCHED = 1 << 3,  /* a checkpoint aligned with a timeout went unaligned */
    CPD_ALIGN_ALL_IN = 1 << 4,    /* its last input's barrier: alignment ended, or the
                                   * channel state is complete */
};

typedef struct cpd_align {
    int n_channels;
    cpd_mode mode;
    int64_t cp_id;          /* checkpoint in progress, 0: none */
    bool unaligned;         /* ...collected unaligned */
    int64_t first_us;       /* when its first barrier arrived */
    int64_t deadline_us;    /* CPD_BAR_TIMEOUT, aligned: when it goes unaligned (0: never) */
    int n_received;
    int64_t finished;       /* newest checkpoint done or cancelled here: older barriers are stale */
    uint8_t *received;      /* per channel */
} cpd_align;

/* 1..4096 channels. false on a bad count or out of memory. */
bool cpd_align_init(cpd_align *a, int n_channels, cpd_mode mode);
void cpd_align_free(cpd_align *a);

/* Barrier b arrived on channel at now_us. With CPD_ALIGN_ALL_IN,
 * *alignment_us (may be NULL) is the time from the first barrier to this one
 * (0 with one channel). */
unsigned cpd_align_barrier(cpd_align *a, int channel, const cpd_item *b, int64_t now_us,
                           int64_t *alignment_us);

/* The checkpoint being aligned goes unaligned if its deadline has passed:
 * CPD_ALIGN_SNAPSHOT | CPD_ALIGN_UNALIGNED | CPD_ALIGN_SWITCHED, else 0. */
unsigned cpd_align_timeout(cpd_align *a, int64_t now_us);

/* Whether records from channel must wait (aligned, EXACTLY_ONCE, its barrier is in). */
bool cpd_align_blocked(const cpd_align *a, int channel);

/* Whether records from channel are channel state of the checkpoint in
 * progress (unaligned, its barrier is not in yet). */
bool cpd_align_recording(const cpd_align *a, int channel);

/* Whether barrier cp can still matter here (not stale, not done). */
bool cpd_align_wants(const cpd_align *a, int64_t cp);

/* Checkpoint cp was aborted or expired: stop aligning it, release all. */
void cpd_align_abort(cpd_align *a, int64_t cp_id);

#endif
