/* cpd_stager.c — phase 1 staging on a thread of its own (see cpd_stager.h). */
#include "cpd_stager.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_clock.h"

struct cpd_stage_batch {
    struct cpd_stage_batch *next;
    int64_t cp, start_delay_us;
    void *attach;               /* the subtask's, for done() */
    cpd_row *rows;
    int n_rows, cap_rows;
    cpd_dead *dead;
    char (*raws)[CPD_RAW_MAX];  /* dead[i].raw points into raws[i] when staged */
    int n_dead, cap_dead;
};

struct cpd_stager {
    cpd_sink *sink;
    int sub;
    bool dead;
    cpd_stager_hooks h;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    cpd_stage_batch *head, *tail;
    bool quit;
    pthread_t thread;
};

cpd_stage_batch *cpd_stage_batch_new(void) { return calloc(1, sizeof(cpd_stage_batch)); }

void cpd_stage_batch_free(cpd_stage_batch *b)
{
    if (!b)
        return;
    free(b->rows);
    free(b->dead);
    free(b->raws);
    free(b);
}

int cpd_stage_batch_count(const cpd_stage_batch *b) { return b->n_rows + b->n_dead; }

bool cpd_stage_batch_add_row(cpd_stage_batch *b, const cpd_row *row)
{
    if (b->n_rows == b->cap_rows) {
        int cap = b->cap_rows ? b->cap_rows * 2 : 256;
        cpd_row *r = realloc(b->rows, (size_t)cap * sizeof *r);
        if (!r)
            return false;
        b->rows = r;
        b->cap_rows = cap;
    }
    b->rows[b->n_rows++] = *row;
    return true;
}

bool cpd_stage_batch_add_dead(cpd_stage_batch *b, int32_t partition, int64_t offset,
                              const char *error, const char *raw, size_t len)
{
    if (b->n_dead == b->cap_dead) {
        int cap = b->cap_dead ? b->cap_dead * 2 : 64;
        cpd_dead *d = realloc(b->dead, (size_t)cap * sizeof *d);
        if (!d)
            return false;
        b->dead = d;
        char (*r)[CPD_RAW_MAX] = realloc(b->raws, (size_t)cap * sizeof *r);
        if (!r)
            return false;
        b->raws = r;
        b->cap_dead = cap;
    }
    if (len > CPD_RAW_MAX)
        len = CPD_RAW_MAX;
    memcpy(b->raws[b->n_dead], raw, len);
    cpd_dead *d = &b->dead[b->n_dead++];
    memset(d, 0, sizeof *d);
    d->partition = partition;
    d->offset = offset;
    d->raw_len = len;
    snprintf(d->error, sizeof d->error, "%s", error);
    return true;
}

static void release(cpd_stager *s, cpd_stage_batch *b)
{
    if (b->attach && s->h.release)
        s->h.release(s->h.opaque, b->attach);
    b->attach = NULL;
}

bool cpd_stage_batch_append(cpd_stage_batch *dst, const cpd_stage_batch *src)
{
    bool ok = true;
    for (int i = 0; ok && i < src->n_rows; i++)
        ok = cpd_stage_batch_add_row(dst, &src->rows[i]);
    for (int i = 0; ok && i < src->n_dead; i++)
        ok = cpd_stage_batch_add_dead(dst, src->dead[i].partition, src->dead[i].offset,
                                      src->dead[i].error, src->raws[i], src->dead[i].raw_len);
    return ok;
}

/* Appends everything in b to carry (b is freed); carry's attachment (of a
 * checkpoint that failed) gives way to b's. false when out of memory
 * (carry keeps what fitted, b's rest is lost: the caller fails the job). */
static bool merge(cpd_stager *s, cpd_stage_batch *carry, cpd_stage_batch *b)
{
    bool ok = cpd_stage_batch_append(carry, b);
    carry->cp = b->cp;
    carry->start_delay_us = b->start_delay_us;
    release(s, carry);
    carry->attach = b->attach;
    b->attach = NULL;
    cpd_stage_batch_free(b);
    return ok;
}

/* Stages carry under its checkpoint; true when done (carry may go). */
static bool stage(cpd_stager *s, cpd_stage_batch *carry)
{
    char err[300] = "";
    int64_t t0 = cpd_mono_us();
    int rc;
    if (s->dead) {
        for (int i = 0; i < carry->n_dead; i++)
            carry->dead[i].raw = carry->raws[i]; /* raws may have moved */
        rc = cpd_sink_stage_dead(s->sink, carry->cp, s->sub, carry->dead, carry->n_dead, err,
                                 sizeof err);
    } else {
        rc = cpd_sink_stage(s->sink, carry->cp, s->sub, carry->rows, carry->n_rows, err,
                            sizeof err);
    }
    int64_t n = cpd_stage_batch_count(carry);
    int64_t bytes = (int64_t)carry->n_rows * (int64_t)sizeof(cpd_row);
    void *attach = carry->attach;
    carry->attach = NULL; /* done owns it, whatever the outcome */
    if (s->h.done)
        s->h.done(s->h.opaque, carry->cp, rc == 0, err, n, bytes, cpd_mono_us() - t0,
                  carry->start_delay_us, attach);
    else if (attach && s->h.release)
        s->h.release(s->h.opaque, attach);
    return rc == 0;
}

static void *stager_main(void *arg)
{
    cpd_stager *s = arg;
    cpd_stage_batch *carry = NULL;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->quit)
            pthread_cond_wait(&s->cond, &s->mu);
        if (s->quit)
            break;
        cpd_stage_batch *b = s->head;
        s->head = b->next;
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        b->next = NULL;
        if (!carry) {
            carry = b;
        } else if (!merge(s, carry, b)) {
            void *attach = carry->attach;
            carry->attach = NULL;
            if (s->h.done)
                s->h.done(s->h.opaque, carry->cp, false, "out of memory staging", 0, 0, 0, 0,
                          attach);
        }
        /* a checkpoint that failed already: its batch goes with the next one */
        if (!(s->h.failed && s->h.failed(s->h.opaque, carry->cp)) && stage(s, carry)) {
            cpd_stage_batch_free(carry);
            carry = NULL;
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    if (carry)
        release(s, carry);
    cpd_stage_batch_free(carry);
    return NULL;
}

cpd_stager *cpd_stager_new(cpd_sink *sink, int sub, bool dead, const cpd_stager_hooks *hooks)
{
    cpd_stager *s = calloc(1, sizeof *s);
    if (!s) {
        cpd_sink_close(sink);
        return NULL;
    }
    s->sink = sink;
    s->sub = sub;
    s->dead = dead;
    s->h = *hooks;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (pthread_create(&s->thread, NULL, stager_main, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cond);
        cpd_sink_close(sink);
        free(s);
        return NULL;
    }
    char name[16];
    snprintf(name, sizeof name, "stage-%s#%d", dead ? "dl" : "row", sub);
    pthread_setname_np(s->thread, name);
    return s;
}

void cpd_stager_destroy(cpd_stager *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->quit = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    for (cpd_stage_batch *b = s->head, *n; b; b = n) {
        n = b->next;
        release(s, b);
        cpd_stage_batch_free(b);
    }
    cpd_sink_close(s->sink);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    free(s);
}

void cpd_stager_submit(cpd_stager *s, int64_t cp, cpd_stage_batch *b, int64_t start_delay_us,
                       void *attach)
{
    b->cp = cp;
    b->start_delay_us = start_delay_us;
    b->attach = attach;
    b->next = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->tail)
        s->tail->next = b;
    else
        s->head = b;
    s->tail = b;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
}
