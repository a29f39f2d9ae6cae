/* cpd_chan.c — bounded channels with a priority lane (see cpd_chan.h). */
#include "cpd_chan.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS(b) ((b)->cap + CPD_CHAN_EVENT_SLOTS)

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
        b->ch[i].buf = calloc((size_t)SLOTS(b), sizeof(cpd_item));
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

/* Under the lock: whether it fits (barriers may use the event slots). */
static bool room(const cpd_chan *c, const cpd_item *it)
{
    return c->count < (it->kind == CPD_IT_BARRIER ? SLOTS(c->to) : c->to->cap);
}

static cpd_item *at(cpd_chan *c, int k) { return &c->buf[(c->head + k) % SLOTS(c->to)]; }

/* Under the lock. */
static void append(cpd_chan *c, const cpd_item *it)
{
    cpd_inbox *b = c->to;
    *at(c, c->count) = *it;
    c->count++;
    if (it->kind == CPD_IT_BARRIER) {
        c->announced = it->cp;
        if (it->mode == CPD_BAR_TIMEOUT && it->cp >= atomic_load(&b->announced_cp)) {
            atomic_store(&b->announced_deadline_us, it->trigger_us + it->timeout_us);
            atomic_store(&b->announced_cp, it->cp);
            atomic_fetch_add(&b->announced_seq, 1);
        }
    }
    pthread_cond_signal(&b->cond);
}

int cpd_chan_offer(cpd_chan *c, const cpd_item *it, int wait)
{
    cpd_inbox *b = c->to;
    pthread_mutex_lock(&b->mu);
    if (!room(c, it) && wait > 0)
        wait_ms(&c->not_full, &b->mu, wait);
    int ok = room(c, it);
    if (ok)
        append(c, it);
    pthread_mutex_unlock(&b->mu);
    return ok;
}

bool cpd_chan_wait_room(cpd_chan *c, int wait)
{
    cpd_inbox *b = c->to;
    pthread_mutex_lock(&b->mu);
    if (c->count >= b->cap && wait > 0)
        wait_ms(&c->not_full, &b->mu, wait);
    bool ok = c->count < b->cap;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

bool cpd_chan_push(cpd_chan *c, const cpd_item *it, const atomic_int *stop,
                   const atomic_int *cancel, atomic_int *blocked)
{
    cpd_inbox *b = c->to;
    pthread_mutex_lock(&b->mu);
    while (!room(c, it) && !set(stop) && !set(cancel)) {
        if (blocked)
            atomic_store(blocked, 1);
        wait_ms(&c->not_full, &b->mu, 100);
    }
    if (blocked)
        atomic_store(blocked, 0);
    bool ok = room(c, it) && !set(stop);
    if (ok)
        append(c, it);
    pthread_mutex_unlock(&b->mu);
    return ok;
}

/* Under the lock: the position of barrier cp in c's queue, -1 if absent. */
static int find_barrier(cpd_chan *c, int64_t cp)
{
    if (c->announced < cp)
        return -1; /* nothing that new was queued */
    for (int k = 0; k < c->count; k++) {
        const cpd_item *it = at(c, k);
        if (it->kind == CPD_IT_BARRIER && it->cp == cp)
            return k;
    }
    return -1;
}

/* Under the lock: copies the records among the first n queued into out;
 * removes item n when remove (the barrier overtaken), keeping the order of
 * the rest. Returns how many were copied. */
static int copy_ahead(cpd_chan *c, int n, cpd_item *out, bool remove)
{
    int got = 0;
    for (int k = 0; k < n; k++) {
        const cpd_item *it = at(c, k);
        if (it->kind == CPD_IT_RECORD && out)
            out[got++] = *it;
    }
    if (remove) {
        int64_t cp = at(c, n)->cp;
        for (int k = n; k > 0; k--)
            *at(c, k) = *at(c, k - 1);
        c->head = (c->head + 1) % SLOTS(c->to);
        c->count--;
        if (c->announced == cp)
            c->announced = 0;
        pthread_cond_signal(&c->not_full);
    }
    return got;
}

int cpd_chan_overtake(cpd_chan *c, const cpd_item *b, cpd_item *out)
{
    cpd_inbox *in = c->to;
    pthread_mutex_lock(&in->mu);
    int pos = find_barrier(c, b->cp);
    int got = copy_ahead(c, pos < 0 ? c->count : pos, out, pos >= 0);
    if (!c->has_prio || c->prio.cp <= b->cp) {
        if (!c->has_prio)
            atomic_fetch_add(&in->n_prio, 1);
        c->prio = *b;
        c->prio.overtook = 1;
        c->has_prio = true;
    }
    pthread_cond_signal(&in->cond);
    pthread_mutex_unlock(&in->mu);
    return got;
}

/* Under the lock: a barrier from a priority slot. */
static bool take_prio(cpd_inbox *b, cpd_item *out, int *ch)
{
    if (!atomic_load(&b->n_prio))
        return false;
    for (int i = 0; i < b->n; i++) {
        cpd_chan *c = &b->ch[i];
        if (!c->has_prio)
            continue;
        *out = c->prio;
        *ch = i;
        c->has_prio = false;
        atomic_fetch_sub(&b->n_prio, 1);
        return true;
    }
    return false;
}

/* Under b->mu: the next item from a channel al does not hold. */
static bool take(cpd_inbox *b, const cpd_align *al, cpd_item *out, int *ch)
{
    if (take_prio(b, out, ch))
        return true;
    for (int k = 0; k < b->n; k++) {
        int i = (b->next + k) % b->n;
        cpd_chan *c = &b->ch[i];
        if (!c->count || (al && cpd_align_blocked(al, i)))
            continue;
        *out = *at(c, 0);
        c->head = (c->head + 1) % SLOTS(b);
        c->count--;
        if (out->kind == CPD_IT_BARRIER && out->cp == c->announced)
            c->announced = 0;
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

int cpd_inbox_take_priority(cpd_inbox *b, cpd_item *out, int *ch)
{
    if (!atomic_load(&b->n_prio))
        return 0;
    pthread_mutex_lock(&b->mu);
    int rc = take_prio(b, out, ch);
    pthread_mutex_unlock(&b->mu);
    return rc;
}

int cpd_inbox_extract(cpd_inbox *b, int ch, int64_t cp, cpd_item *barrier, cpd_item *out)
{
    if (ch < 0 || ch >= b->n)
        return -1;
    cpd_chan *c = &b->ch[ch];
    pthread_mutex_lock(&b->mu);
    int pos = find_barrier(c, cp), got = -1;
    if (pos >= 0) {
        *barrier = *at(c, pos);
        got = copy_ahead(c, pos, out, true);
    }
    pthread_mutex_unlock(&b->mu);
    return got;
}

int64_t cpd_inbox_announced(cpd_inbox *b, int64_t *deadline_us)
{
    int64_t cp = atomic_load(&b->announced_cp);
    if (deadline_us)
        *deadline_us = atomic_load(&b->announced_deadline_us);
    return cp;
}

int cpd_inbox_fill_permille(cpd_inbox *b)
{
    pthread_mutex_lock(&b->mu);
    int total = 0;
    for (int i = 0; i < b->n; i++)
        total += b->ch[i].count;
    pthread_mutex_unlock(&b->mu);
    int fill = b->n ? total * 1000 / (b->n * b->cap) : 0;
    return fill > 1000 ? 1000 : fill;
}
