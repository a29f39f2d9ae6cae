/*
 * cpd_chan.h — the job's channels: bounded FIFOs carrying records and
 * barriers in-band from one subtask to the next.
 *
 * A consumer owns one inbox holding all its input channels; they share the
 * inbox's lock and condition, so the consumer waits on all of them at once
 * and takes from them round-robin, skipping channels that alignment holds
 * (cpd_align). A full channel blocks its writer: that is the backpressure
 * the heartbeat reports. The lock is held only to copy an item in or out.
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
#include "cpd_sink.h"

#define CPD_CHAN_CAP 512        /* items per channel in the job */
#define CPD_INBOX_MAX 64        /* input channels of one inbox (CPD_MAX_PARALLELISM) */
#define CPD_RAW_MAX 384         /* bytes of a raw Kafka record carried; longer ones are cut */

typedef enum cpd_item_kind { CPD_IT_RECORD = 0, CPD_IT_BARRIER = 1 } cpd_item_kind;

/* One item: a record (which member depends on the edge) or a barrier. */
typedef struct cpd_item {
    uint8_t kind;               /* cpd_item_kind */
    int64_t cp;                 /* barrier: the checkpoint id */
    int64_t trigger_us;         /* barrier: when it was triggered (wall clock), for start delays */
    union {
        struct { int32_t partition; int64_t offset; uint16_t len; uint8_t too_long;
                 char raw[CPD_RAW_MAX]; } src;              /* source -> parse */
        struct { char account[32]; int64_t amount, ts; } pay; /* parse -> aggregate */
        cpd_row row;                                        /* aggregate -> sink */
    } u;
} cpd_item;

struct cpd_inbox;

/* One input channel of an inbox. Fields are the inbox's; use the calls. */
typedef struct cpd_chan {
    struct cpd_inbox *to;
    pthread_cond_t not_full;
    cpd_item *buf;
    int head, count;
} cpd_chan;

typedef struct cpd_inbox {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int n, cap;                 /* channels, items per channel */
    int next;                   /* round-robin start */
    cpd_chan ch[CPD_INBOX_MAX];
} cpd_inbox;

/* An inbox of n (1..CPD_INBOX_MAX) channels of cap (>= 1) items each.
 * false on a bad count or out of memory (then cpd_inbox_free it). */
bool cpd_inbox_init(cpd_inbox *b, int n, int cap);
/* Releases what init allocated; the inbox may be initialised again. */
void cpd_inbox_free(cpd_inbox *b);

/* Appends it to c, waiting while c is full. Gives up (false) once *stop or
 * *cancel (either may be NULL) becomes non-zero; they are looked at every
 * 100 ms while waiting. *blocked (may be NULL) is 1 while it waits. */
bool cpd_chan_push(cpd_chan *c, const cpd_item *it, const atomic_int *stop,
                   const atomic_int *cancel, atomic_int *blocked);

/* Takes the next item from a channel of b that al (may be NULL) does not
 * hold, round-robin. 1: got one, *ch says from which channel; 0: nothing
 * within wait_ms; -1: *stop (may be NULL) is set and nothing is ready. */
int cpd_inbox_pop(cpd_inbox *b, const cpd_align *al, const atomic_int *stop, int wait_ms,
                  cpd_item *out, int *ch);

/* How full the inbox is, 0..1000 (for the heartbeat). */
int cpd_inbox_fill_permille(cpd_inbox *b);

#endif
