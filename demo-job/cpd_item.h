/*
 * cpd_item.h — what travels on the job's channels: a record (its shape
 * depends on the edge) or a checkpoint barrier, with how that barrier
 * travels.
 *
 * A barrier carries its checkpoint's alignment, chosen when the checkpoint
 * was triggered (Flink's checkpoint options): ALIGNED barriers wait behind
 * the records before them; UNALIGNED ones overtake them (the priority lane
 * of cpd_chan.h), and those records become channel state; TIMEOUT ones start
 * aligned, and a subtask still waiting for them once the
 * aligned-checkpoint-timeout has passed since the trigger goes unaligned.
 * `overtook` marks a barrier that came through the priority lane: where it
 * arrives, its checkpoint is unaligned whatever its mode says.
 */
#ifndef CPD_ITEM_H
#define CPD_ITEM_H

#include <stdbool.h>
#include <stdint.h>

#include "cpd_sink.h"

#define CPD_RAW_MAX 384         /* bytes of a raw Kafka record carried; longer ones are cut */

typedef enum cpd_item_kind { CPD_IT_RECORD = 0, CPD_IT_BARRIER = 1 } cpd_item_kind;

/* The values of cpa_alignment. */
typedef enum cpd_barrier_mode {
    CPD_BAR_ALIGNED = 0,
    CPD_BAR_UNALIGNED = 1,
    CPD_BAR_TIMEOUT = 2,
} cpd_barrier_mode;

/* Which member of the union an edge carries. */
typedef enum cpd_edge {
    CPD_EDGE_NONE = 0,
    CPD_EDGE_SRC,               /* source -> parse: a raw Kafka record */
    CPD_EDGE_PAY,               /* parse -> aggregate: a payment */
    CPD_EDGE_ROW,               /* aggregate -> sink: an account's row */
} cpd_edge;

/* One item: a record or a barrier. Plain value. */
typedef struct cpd_item {
    uint8_t kind;               /* cpd_item_kind */
    uint8_t mode;               /* barrier: cpd_barrier_mode of its checkpoint */
    uint8_t overtook;           /* barrier: it came through the priority lane */
    int64_t cp;                 /* barrier: the checkpoint id */
    int64_t trigger_us;         /* barrier: when it was triggered (wall clock) */
    int64_t timeout_us;         /* barrier, CPD_BAR_TIMEOUT: the aligned-checkpoint-timeout */
    union {
        struct { int32_t partition; int64_t offset; uint16_t len; uint8_t too_long;
                 char raw[CPD_RAW_MAX]; } src;              /* CPD_EDGE_SRC */
        struct { char account[32]; int64_t amount, ts; } pay; /* CPD_EDGE_PAY */
        cpd_row row;                                        /* CPD_EDGE_ROW */
    } u;
} cpd_item;

/* Whether barrier b's checkpoint is unaligned where it arrives. */
static inline bool cpd_barrier_unaligned(const cpd_item *b)
{
    return b->mode == CPD_BAR_UNALIGNED || b->overtook;
}

#endif
