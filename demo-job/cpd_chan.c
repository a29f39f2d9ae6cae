/* cpd_chan.c — bounded in-band channels (see cpd_chan.h). */
#include "cpd_chan.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Condition variables wait on the monotonic clock: a wall-clock step must
 * not stretch or cut a wait. */
static void cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

static void wait_ms(pthread_cond_t *c, pthread_mutex_t *mu, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(c, mu, &ts);
}

bool cpd_inbox_init(cpd_inbox *b, int n, int cap)
{
    memset(b, 0, sizeof *b);
    if (n < 1 || n > CPD_INBOX_MAX || cap < 1)
        return false;
    pthread_mutex_init(&b->mu, NULL);
    cond_init(&b->cond);
    b->cap = cap;
    for (int i = 0; i < n; i++) {
        b->ch[i].to = b;
        cond_init(&b->ch[i].not_full);
        b->n = i + 1;
        b->ch[i].buf = calloc((size_t)cap, sizeof(cpd_item));
        if (!b->ch[i].buf)
            return false;
    }
    return true;
}

void cpd_inbox_free(cpd_inbox *b)
{
    if (!b->n)
        return;
    for (int i = 0; i < b->n; i++) {
        free(b->ch[i].buf);
        pthread_cond_destroy(&b->ch[i].not_full);
    }
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cond);
    memset(b, 0, sizeof *b);
}

static bool set(const atomic_int *flag) { return flag && atomic_load(flag); }

bool cpd_chan_push(cpd_chan *c, const cpd_item *it, const atomic_int *stop,
                   const atomic_int *cancel, atomic_int *blocked)
{
    cpd_inbox *b = c->to;
    pthread_mutex_lock(&b->mu);
    while (c->count == b->cap && !set(stop) && !set(cancel)) {
        if (blocked)
            atomic_store(blocked, 1);
        wait_ms(&c->not_full, &b->mu, 100);
    }
    if (blocked)
        atomic_store(blocked, 0);
    if (c->count == b->cap || set(stop)) {
        pthread_mutex_unlock(&b->mu);
        return false;
    }
    c->buf[(c->head + c->count) % b->cap] = *it;
    c->count++;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->mu);
    return true;
}

/* Under b->mu: the next item from a channel al does not hold. */
static bool take(cpd_inbox *b, const cpd_align *al, cpd_item *out, int *ch)
{
    for (int k = 0; k < b->n; k++) {
        int i = (b->next + k) % b->n;
        cpd_chan *c = &b->ch[i];
        if (!c->count || (al && cpd_align_blocked(al, i)))
            continue;
        *out = c->buf[c->head];
        c->head = (c->head + 1) % b->cap;
        c->count--;
        b->next = (i + 1) % b->n;
        *ch = i;
        pthread_cond_signal(&c->not_full);
        return true;
    }
    return false;
}

int cpd_inbox_pop(cpd_inbox *b, const cpd_align *al, const atomic_int *stop, int wait,
                  cpd_item *out, int *ch)
{
    pthread_mutex_lock(&b->mu);
    int rc = 1;
    if (!take(b, al, out, ch)) {
        if (set(stop))
            rc = -1;
        else {
            wait_ms(&b->cond, &b->mu, wait);
            rc = take(b, al, out, ch) ? 1 : set(stop) ? -1 : 0;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

int cpd_inbox_fill_permille(cpd_inbox *b)
{
    pthread_mutex_lock(&b->mu);
    int total = 0;
    for (int i = 0; i < b->n; i++)
        total += b->ch[i].count;
    pthread_mutex_unlock(&b->mu);
    return b->n ? total * 1000 / (b->n * b->cap) : 0;
}
