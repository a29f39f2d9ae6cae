/* cpd_align.c — barrier alignment (see cpd_align.h). */
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
}

cpd_align_step cpd_align_barrier(cpd_align *a, int channel, int64_t cp_id, int64_t now_us,
                                 int64_t *alignment_us)
{
    if (channel < 0 || channel >= a->n_channels || cp_id <= 0)
        return CPD_ALIGN_IGNORED;
    if (a->cp_id && cp_id < a->cp_id)
        return CPD_ALIGN_IGNORED; /* an older checkpoint's straggler */
    if (cp_id <= a->finished)
        return CPD_ALIGN_IGNORED; /* done or cancelled here already */
    cpd_align_step step = CPD_ALIGN_WAITING;
    if (a->cp_id && cp_id > a->cp_id) {
        a->finished = a->cp_id; /* superseded: it cannot complete here */
        reset(a);
    }
    if (!a->cp_id) {
        a->cp_id = cp_id;
        a->first_us = now_us;
        step = CPD_ALIGN_STARTED;
    } else if (a->received[channel]) {
        return CPD_ALIGN_IGNORED; /* repeated on this channel */
    }
    a->received[channel] = 1;
    if (++a->n_received < a->n_channels)
        return step;
    if (alignment_us)
        *alignment_us = now_us - a->first_us;
    a->finished = cp_id;
    reset(a);
    return CPD_ALIGN_DONE;
}

bool cpd_align_blocked(const cpd_align *a, int channel)
{
    return a->mode == CPD_EXACTLY_ONCE && a->cp_id && channel >= 0 &&
           channel < a->n_channels && a->received[channel];
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
