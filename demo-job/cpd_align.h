/*
 * cpd_align.h — barrier alignment at one subtask with several input channels.
 *
 * EXACTLY_ONCE: when barrier N arrives on a channel, that channel is blocked
 * (its later records wait) until N has arrived on every channel; then the
 * subtask snapshots and forwards N, and all channels flow again. So the
 * snapshot holds exactly the records before N on every channel.
 * AT_LEAST_ONCE: nothing is blocked; the subtask snapshots when the last
 * barrier N arrives, so records after N on early channels may be in it (and
 * are replayed after a restore: duplicates, never loss).
 *
 * A barrier of a newer checkpoint cancels the alignment of an older one (the
 * older checkpoint can no longer complete at this subtask); older or repeated
 * barriers are ignored. Pure logic, no clock of its own; not thread-safe
 * (one subtask thread).
 */
#ifndef CPD_ALIGN_H
#define CPD_ALIGN_H

#include <stdbool.h>
#include <stdint.h>

#include "cpd_config.h"

typedef enum cpd_align_step {
    CPD_ALIGN_IGNORED = 0,  /* stale or repeated barrier: nothing to do */
    CPD_ALIGN_STARTED,      /* first barrier of a checkpoint: alignment begins */
    CPD_ALIGN_WAITING,      /* one more channel in; still waiting for others */
    CPD_ALIGN_DONE,         /* all channels in: snapshot, forward the barrier */
} cpd_align_step;

typedef struct cpd_align {
    int n_channels;
    cpd_mode mode;
    int64_t cp_id;          /* checkpoint being aligned, 0: none */
    int64_t first_us;       /* when its first barrier arrived */
    int n_received;
    int64_t finished;       /* newest checkpoint done or cancelled here: older barriers are stale */
    uint8_t *received;      /* per channel */
} cpd_align;

/* 1..4096 channels. false on a bad count or out of memory. */
bool cpd_align_init(cpd_align *a, int n_channels, cpd_mode mode);
void cpd_align_free(cpd_align *a);

/* Barrier cp_id arrived on channel at now_us. On DONE, *alignment_us is
 * the time from the first barrier to this one (0 with one channel). */
cpd_align_step cpd_align_barrier(cpd_align *a, int channel, int64_t cp_id, int64_t now_us,
                                 int64_t *alignment_us);

/* Whether records from channel must wait (EXACTLY_ONCE, its barrier is in). */
bool cpd_align_blocked(const cpd_align *a, int channel);

/* Checkpoint cp_id was aborted or expired: stop aligning it, release all. */
void cpd_align_abort(cpd_align *a, int64_t cp_id);

#endif
