/* cpd_align.c — barrier alignment, aligned and unaligned (see cpd_align.h). */
#include "cpd_align.h"

#include <stdlib.h>
#include <string.h>

bool cpd_align_init(cpd_align *a, int n_channels, cpd_mode mode)
{
    memset(a, 0, sizeof *a);
    if (n_channels < 1 || n_channels > 4096)
        return false;
    a->received = calloc((size_t)n_channels, 1);
    if (!a->received)
        return false;
    a->n_channels = n_channels;
    a->mode = mode;
    return true;
}

void cpd_align_free(cpd_align *a)
{
    free(a->received);
    a->received = NULL;
}

static void reset(cpd_align *a)
{
    memset(a->received, 0, (size_t)a->n_channels);
    a->n_received = 0;
    a->cp_id = 0;
    a->unaligned = false;
    a->deadline_us = 0;
}

bool cpd_align_wants(const cpd_align *a, int64_t cp)
{
    return cp > 0 && cp > a->finished && (!a->cp_id || cp >= a->cp_id);
}

/* The first barrier of checkpoint b->cp here. */
static unsigned begin(cpd_align *a, const cpd_item *b, int64_t now_us)
{
    a->cp_id = b->cp;
    a->first_us = now_us;
    a->unaligned = cpd_barrier_unaligned(b);
    a->deadline_us = b->mode == CPD_BAR_TIMEOUT && !a->unaligned && b->timeout_us >= 0
                         ? b->trigger_us + b->timeout_us
                         : 0;
    if (a->unaligned) /* a timeout checkpoint arriving unaligned: an upstream switched */
        return CPD_ALIGN_SNAPSHOT | CPD_ALIGN_UNALIGNED |
               (b->mode == CPD_BAR_TIMEOUT ? CPD_ALIGN_SWITCHED : 0);
    return a->n_channels > 1 ? CPD_ALIGN_STARTED : 0;
}

unsigned cpd_align_barrier(cpd_align *a, int channel, const cpd_item *b, int64_t now_us,
                           int64_t *alignment_us)
{
    if (channel < 0 || channel >= a->n_channels || !cpd_align_wants(a, b->cp))
        return 0;
    if (a->cp_id && b->cp > a->cp_id) {
        a->finished = a->cp_id; /* superseded: it cannot complete here */
        reset(a);
    }
    unsigned r = 0;
    if (!a->cp_id) {
        r = begin(a, b, now_us);
    } else if (a->received[channel]) {
        return 0; /* repeated on this channel */
    } else if (!a->unaligned && cpd_barrier_unaligned(b)) {
        a->unaligned = true; /* an upstream went unaligned: so does this subtask */
        a->deadline_us = 0;
        r = CPD_ALIGN_SNAPSHOT | CPD_ALIGN_UNALIGNED | CPD_ALIGN_SWITCHED;
    }
    a->received[channel] = 1;
    if (++a->n_received < a->n_channels)
        return r;
    if (alignment_us)
        *alignment_us = now_us - a->first_us;
    r |= CPD_ALIGN_ALL_IN;
    if (!a->unaligned)
        r |= CPD_ALIGN_SNAPSHOT; /* aligned: done */
    a->finished = b->cp;
    reset(a);
    return r;
}

unsigned cpd_align_timeout(cpd_align *a, int64_t now_us)
{
    if (!a->cp_id || a->unaligned || !a->deadline_us || now_us < a->deadline_us)
        return 0;
    a->unaligned = true;
    a->deadline_us = 0;
    return CPD_ALIGN_SNAPSHOT | CPD_ALIGN_UNALIGNED | CPD_ALIGN_SWITCHED;
}

bool cpd_align_blocked(const cpd_align *a, int channel)
{
    return a->mode == CPD_EXACTLY_ONCE && a->cp_id && !a->unaligned && channel >= 0 &&
           channel < a->n_channels && a->received[channel];
}

bool cpd_align_recording(const cpd_align *a, int channel)
{
    return a->cp_id && a->unaligned && channel >= 0 && channel < a->n_channels &&
           !a->received[channel];
}

void cpd_align_abort(cpd_align *a, int64_t cp_id)
{
    if (a->cp_id && a->cp_id == cp_id)
        reset(a);
    /* its barriers that are still on their way must not start an alignment;
     * an older checkpoint being aligned is left alone */
    if (!a->cp_id && cp_id > a->finished)
        a->finished = cp_id;
}
