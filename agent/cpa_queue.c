/* cpa_queue.c — bounded lock-free multi-producer queue (see cpa_internal.h). */
#include "cpa_internal.h"

#include <stdlib.h>
#include <string.h>

bool cpa_queue_init(cpa_queue *q, size_t size)
{
    memset(q, 0, sizeof *q);
    if (size < 2 || (size & (size - 1)))
        return false;
    q->cells = aligned_alloc(64, ((size * sizeof *q->cells) + 63) & ~(size_t)63);
    if (!q->cells)
        return false;
    for (size_t i = 0; i < size; i++)
        atomic_init(&q->cells[i].seq, i);
    q->mask = size - 1;
    atomic_init(&q->enq, 0);
    atomic_init(&q->deq, 0);
    return true;
}

void cpa_queue_free(cpa_queue *q)
{
    free(q->cells);
    q->cells = NULL;
}

bool cpa_queue_push(cpa_queue *q, const cpa_event *ev, int64_t ts_us)
{
    size_t pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
    cpa_cell *c;
    for (;;) {
        c = &q->cells[pos & q->mask];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)pos;
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->enq, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (dif < 0) {
            return false; /* full: the consumer has not freed this slot */
        } else {
            pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
        }
    }
    c->ev = *ev;
    if (ts_us)
        c->ev.ts_us = ts_us;
    atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
    return true;
}

bool cpa_queue_pop(cpa_queue *q, cpa_event *out)
{
    size_t pos = atomic_load_explicit(&q->deq, memory_order_relaxed);
    cpa_cell *c = &q->cells[pos & q->mask];
    size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    if ((intptr_t)seq - (intptr_t)(pos + 1) < 0)
        return false;
    *out = c->ev;
    atomic_store_explicit(&c->seq, pos + q->mask + 1, memory_order_release);
    atomic_store_explicit(&q->deq, pos + 1, memory_order_release);
    return true;
}

size_t cpa_queue_depth(const cpa_queue *q)
{
    size_t d = atomic_load_explicit(&((cpa_queue *)q)->deq, memory_order_acquire);
    size_t e = atomic_load_explicit(&((cpa_queue *)q)->enq, memory_order_acquire);
    return e >= d ? e - d : 0;
}
