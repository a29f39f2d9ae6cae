/*
 * cpd_chan.h — the job's channels: bounded FIFOs carrying records and
 * barriers from one subtask to the next, with a priority lane that lets a
 * barrier overtake what is queued (unaligned checkpoints).
 *
 * A consumer owns one inbox holding all its input channels; they share the
 * inbox's lock and condition, so the consumer waits on all of them at once
 * and takes from them round-robin, skipping channels that alignment holds
 * (cpd_align). A channel takes `cap` records; a full one makes its writer
 * wait: that is the backpressure the heartbeat reports. Barriers in band may
 * use CPD_CHAN_EVENT_SLOTS more slots, so a full channel still takes them
 * (as Flink's network stack always takes events). The lock is held only to
 * copy items in or out.
 *
 * Overtaking. Here a subtask's output queue and the next subtask's input
 * queue are one and the same queue, so one overtaking covers Flink's two
 * (output buffer and input channel). Two ways:
 *  - The producer side (cpd_chan_overtake): a subtask that snapshots
 *    unaligned puts its barrier into the channel's priority slot, which the
 *    consumer takes before anything queued, and copies the records queued
 *    ahead of where the barrier would have been (all of them, or those ahead
 *    of that barrier if it was queued in band already) as its output channel
 *    state. They stay queued and reach the consumer after the barrier.
 *  - The consumer side (cpd_inbox_extract): a subtask whose aligned barrier
 *    N is queued in band behind records and whose timeout has passed takes N
 *    out of the queue and copies the records ahead of it as its input
 *    channel state; they stay queued and are processed after its snapshot.
 * Either way every overtaken record is persisted exactly once: by the side
 * that moved the barrier past it. A barrier queued in band announces itself
 * (cpd_inbox_announced), so the consumer knows a timeout barrier is waiting
 * without looking through its queues.
 *
 * Threads: any number of writers (one per channel is the job's use) and one
 * reader per inbox. init/free are not concurrent with anything.
 */
#ifndef CPD_CHAN_H
#define CPD_CHAN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpd_align.h"
#include "cpd_item.h"

#define CPD_CHAN_CAP 512        /* records per channel in the job */
#define CPD_CHAN_EVENT_SLOTS 8  /* more slots a channel keeps for barriers in band */
#define CPD_INBOX_MAX 64        /* input channels of one inbox (CPD_MAX_PARALLELISM) */

struct cpd_inbox;

/* One input channel of an inbox. Fields are the inbox's; use the calls. */
typedef struct cpd_chan {
    struct cpd_inbox *to;
    pthread_cond_t not_full;
    cpd_item *buf;              /* cap + CPD_CHAN_EVENT_SLOTS */
    int head, count;
    bool has_prio;              /* a barrier overtook everything queued */
    cpd_item prio;
    int64_t announced;          /* newest barrier queued in band (0: none) */
} cpd_chan;

typedef struct cpd_inbox {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int n, cap;                 /* channels, records per channel */
    int next;                   /* round-robin start */
    atomic_int n_prio;          /* channels with a barrier in their priority slot */
    /* the newest timeout barrier queued in band on any channel, and when it
     * goes unaligned (lock-free reads for the consumer's loop) */
    _Atomic int64_t announced_cp, announced_deadline_us;
    atomic_uint announced_seq;  /* counts those pushes: a new one to look for */
    cpd_chan ch[CPD_INBOX_MAX];
} cpd_inbox;

/* An inbox of n (1..CPD_INBOX_MAX) channels of cap (>= 1) records each.
 * false on a bad count or out of memory (then cpd_inbox_free it). */
bool cpd_inbox_init(cpd_inbox *b, int n, int cap);
/* Releases what init allocated; the inbox may be initialised again. */
void cpd_inbox_free(cpd_inbox *b);

/* Appends it to c if there is room, waiting for room at most wait_ms (0:
 * not at all). 1: appended; 0: still full. */
int cpd_chan_offer(cpd_chan *c, const cpd_item *it, int wait_ms);

/* Waits at most wait_ms for room for a record in c. true: there is. */
bool cpd_chan_wait_room(cpd_chan *c, int wait_ms);

/* Appends it to c, waiting while c is full. Gives up (false) once *stop or
 * *cancel (either may be NULL) becomes non-zero; they are looked at every
 * 100 ms while waiting. *blocked (may be NULL) is 1 while it waits. */
bool cpd_chan_push(cpd_chan *c, const cpd_item *it, const atomic_int *stop,
                   const atomic_int *cancel, atomic_int *blocked);

/* Producer side: barrier b goes into c's priority slot, marked as having
 * overtaken (a newer one replaces an older one still there). The records
 * queued ahead of where it would be (all, or those before b's own
 * checkpoint's barrier queued in band, which is removed) are copied into
 * out (room for CPD_CHAN_CAP + CPD_CHAN_EVENT_SLOTS items; NULL: not
 * copied), oldest first. Returns how many; never waits beyond the lock. */
int cpd_chan_overtake(cpd_chan *c, const cpd_item *b, cpd_item *out);

/* Takes the next item from a channel of b: a barrier in a priority slot
 * first, else round-robin from channels al (may be NULL) does not hold.
 * 1: got one, *ch says from which channel; 0: nothing within wait_ms;
 * -1: *stop (may be NULL) is set and nothing is ready. */
int cpd_inbox_pop(cpd_inbox *b, const cpd_align *al, const atomic_int *stop, int wait_ms,
                  cpd_item *out, int *ch);

/* Takes a barrier from a priority slot, if any: 1 (with *ch), else 0.
 * Never waits beyond the lock; a lock-free check first. */
int cpd_inbox_take_priority(cpd_inbox *b, cpd_item *out, int *ch);

/* Consumer side: if barrier cp is queued in band on channel ch, takes it
 * out of the queue (into *barrier) and copies the records ahead of it into
 * out (room as for cpd_chan_overtake), oldest first; they stay queued.
 * Returns how many, or -1 when cp is not queued there. */
int cpd_inbox_extract(cpd_inbox *b, int ch, int64_t cp, cpd_item *barrier, cpd_item *out);

/* The newest CPD_BAR_TIMEOUT barrier pushed in band into b (0: none yet)
 * and when it goes unaligned. Lock-free; it may have been taken since. */
int64_t cpd_inbox_announced(cpd_inbox *b, int64_t *deadline_us);

/* How full the inbox is, 0..1000 (for the heartbeat). */
int cpd_inbox_fill_permille(cpd_inbox *b);

#endif
