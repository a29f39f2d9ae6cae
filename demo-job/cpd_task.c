/*
 * cpd_task.c — a subtask's part in checkpoints, the same for every operator
 * (see cpd_job.h): barriers in, the snapshot, barriers out, and the channel
 * state of unaligned checkpoints (Flink's FLIP-76).
 *
 * A snapshot is taken at once (its synchronous part) and handed on (to the
 * snapshot I/O thread, or with the stager's batch) once it is complete:
 *  - aligned: at once, the barrier goes to the output in band, behind what
 *    the subtask produced before it;
 *  - unaligned: the barrier overtakes the output (cpd_chan_overtake), which
 *    becomes output channel state; records that then arrive on inputs whose
 *    barrier is not in yet are input channel state; it is complete when
 *    every input's barrier is in;
 *  - aligned with a timeout: as aligned, but it waits until its barrier has
 *    left the output queue; if the timeout passes first, the barrier is
 *    moved ahead of that queue (its records become output channel state) and
 *    the checkpoint is unaligned here (Flink's output-side switch). On the
 *    input side the subtask switches when it aligns past the timeout, or
 *    when a barrier it has not reached yet is queued past the timeout (it is
 *    taken out of line: cpd_inbox_extract).
 * A subtask with output waiting takes no new input (backpressure), but does
 * its priority work (a barrier that overtook, a timeout, a source's barrier)
 * while it waits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_clock.h"
#include "cpd_job.h"

#define SCRATCH (CPD_CHAN_CAP + CPD_CHAN_EVENT_SLOTS)
#define WAIT_SLICE_MS 5   /* how long a blocked subtask waits before looking at its barriers */

struct cpd_outent {
    int ch;
    cpd_item it;
};

/* A snapshot taken, not yet handed on. */
struct cpd_pending {
    int64_t cp, deadline_us;    /* deadline: aligned with a timeout, output side */
    bool unaligned;
    bool inputs_in;             /* every input's barrier is in */
    int out_left;               /* barriers of cp still in the output queue (with a timeout) */
    cpd_chanstate *cs;          /* NULL until a record is captured */
    cpd_snap *snap;
    cpd_stage_batch *batch;     /* parse, sink */
};

static const char *name_of(const cpd_task *t) { return cpd_op_names[t->op]; }

/* ------------------------------------------------------------------ output queue */

static struct cpd_outent *outq_at(cpd_outq *q, int k) { return &q->e[(q->head + k) % q->cap]; }

static bool outq_add(cpd_outq *q, int ch, const cpd_item *it)
{
    if (q->n == q->cap) {
        int cap = q->cap ? q->cap * 2 : 8;
        struct cpd_outent *e = malloc((size_t)cap * sizeof *e);
        if (!e)
            return false;
        for (int k = 0; k < q->n; k++)
            e[k] = *outq_at(q, k);
        free(q->e);
        q->e = e;
        q->cap = cap;
        q->head = 0;
    }
    *outq_at(q, q->n) = (struct cpd_outent){ch, *it};
    q->n++;
    return true;
}

/* Removes entry k, keeping the order of the rest. */
static void outq_remove(cpd_outq *q, int k)
{
    for (; k > 0; k--)
        *outq_at(q, k) = *outq_at(q, k - 1);
    q->head = (q->head + 1) % q->cap;
    q->n--;
}

bool cpd_task_output_pending(cpd_task *t)
{
    return t->outq.n || (t->hooks->held && t->hooks->held(t));
}

bool cpd_task_emit(cpd_task *t, int o, const cpd_item *it)
{
    if (!cpd_task_output_pending(t) && cpd_chan_offer(t->out[o], it, 0)) {
        if (it->kind == CPD_IT_RECORD)
            atomic_fetch_add(&t->rec_out, 1);
        return true;
    }
    if (outq_add(&t->outq, o, it))
        return true;
    cpd_job_fail(t->j, "%s#%d: out of memory for its output", name_of(t), t->sub);
    return false;
}

/* ------------------------------------------------------------------ pending snapshots */

static void pending_free(cpd_pending *p)
{
    cpd_chanstate_free(p->cs);
    cpd_snap_free(p->snap);
    cpd_stage_batch_free(p->batch);
    free(p);
}

static cpd_chanstate *pending_cs(cpd_task *t, cpd_pending *p)
{
    if (!p->cs)
        p->cs = cpd_chanstate_new(t->hooks->in, t->hooks->out);
    return p->cs;
}

/* Captured records of channel ch into the snapshot in progress; a failure
 * (out of memory) fails that checkpoint. */
static void capture(cpd_task *t, bool output, int ch, const cpd_item *items, int n)
{
    cpd_pending *p = t->pend;
    if (!p || n <= 0)
        return;
    cpd_chanstate *cs = pending_cs(t, p);
    for (int i = 0; cs && i < n; i++)
        if (!cpd_chanstate_add(cs, output, ch, &items[i]))
            cs = NULL;
    if (!cs) {
        cpd_task_write_failed(t, p->cp, "out of memory for the channel state");
        pending_free(p);
        t->pend = NULL;
    }
}

/* The snapshot will not be handed on (its checkpoint failed, or a newer one
 * came): what a parse or sink subtask gathered before it goes with the
 * next, ahead of what came since (never dropped: the aggregate will not
 * send those rows again). */
static void drop_pending(cpd_task *t)
{
    cpd_pending *p = t->pend;
    if (!p)
        return;
    t->pend = NULL;
    if (p->batch && t->batch) {
        if (!cpd_stage_batch_append(p->batch, t->batch))
            cpd_job_fail(t->j, "%s#%d: out of memory", name_of(t), t->sub);
        cpd_stage_batch_free(t->batch);
        t->batch = p->batch;
        p->batch = NULL;
    }
    pending_free(p);
}

/* Hands the complete snapshot on: its channel state goes into the state
 * file with the operator's own. */
static void finalize(cpd_task *t)
{
    cpd_pending *p = t->pend;
    t->pend = NULL;
    cpd_snap *s = p->snap;
    p->snap = NULL;
    s->unaligned = p->unaligned;
    if (p->cs && cpd_chanstate_count(p->cs)) {
        size_t clen = 0, len = 0;
        char *chan = cpd_chanstate_serialize(p->cs, &clen);
        char *file = chan ? cpd_snapfile_wrap(s->data, s->len, chan, clen, &len) : NULL;
        free(chan);
        if (!file) {
            cpd_task_write_failed(t, p->cp, "out of memory for the channel state");
            cpd_snap_free(s);
            pending_free(p);
            return;
        }
        free(s->data);
        s->data = file;
        s->len = len;
        s->persisted = (int64_t)clen;
    }
    if (t->stager) {
        cpd_stager_submit(t->stager, p->cp, p->batch, s->start_delay_us, s);
        p->batch = NULL;
    } else {
        cpd_job_snapshot(t->j, s);
    }
    pending_free(p);
}

static void maybe_finalize(cpd_task *t)
{
    if (t->pend && t->pend->inputs_in && !t->pend->out_left)
        finalize(t);
}

static void emit_switched(cpd_task *t, const cpd_item *b)
{
    cpa_event e = cpd_job_ev(CPA_EV_SWITCHED_TO_UNALIGNED, b->cp, t->op, t->sub);
    int64_t now = cpd_wall_us();
    e.u.switched.elapsed_us = b->trigger_us && now > b->trigger_us ? now - b->trigger_us : 0;
    e.u.switched.timeout_us = b->timeout_us;
    cpd_job_emit(t->j, e);
}

int64_t cpd_task_pending(const cpd_task *t, bool *unaligned, int *out_left)
{
    if (unaligned)
        *unaligned = t->pend && t->pend->unaligned;
    if (out_left)
        *out_left = t->pend ? t->pend->out_left : 0;
    return t->pend ? t->pend->cp : 0;
}

/* ------------------------------------------------------------------ barriers out */

/* Output channel state of channel o, oldest first: what its queue held
 * (items), then what waits in the output queue ahead of `before` (entry
 * index; -1: all), then what the operator holds back. */
static void capture_output(cpd_task *t, int o, const cpd_item *items, int n, int before)
{
    capture(t, true, o, items, n);
    for (int k = 0; t->pend && k < (before < 0 ? t->outq.n : before); k++) {
        struct cpd_outent *e = outq_at(&t->outq, k);
        if (e->ch == o && e->it.kind == CPD_IT_RECORD)
            capture(t, true, o, &e->it, 1);
    }
    if (t->pend && o == 0 && t->hooks->held && t->hooks->held(t) &&
        !t->hooks->held_capture(t, pending_cs(t, t->pend))) {
        cpd_task_write_failed(t, t->pend->cp, "out of memory for the channel state");
        pending_free(t->pend);
        t->pend = NULL;
    }
}

/* Barrier b goes to every output: ahead of everything (unaligned), or in
 * band behind what came before it. */
static void forward(cpd_task *t, const cpd_item *b, bool unaligned)
{
    cpd_item fb = *b;
    fb.overtook = 0;
    if (unaligned) {
        for (int o = 0; o < t->n_out; o++) {
            int n = cpd_chan_overtake(t->out[o], &fb, t->pend ? t->scratch : NULL);
            capture_output(t, o, t->scratch, n, -1);
        }
        return;
    }
    for (int o = 0; o < t->n_out; o++)
        cpd_task_emit(t, o, &fb);
    if (t->pend && b->mode == CPD_BAR_TIMEOUT) {
        for (int k = 0; k < t->outq.n; k++) {
            const cpd_item *it = &outq_at(&t->outq, k)->it;
            t->pend->out_left += it->kind == CPD_IT_BARRIER && it->cp == b->cp;
        }
        t->pend->deadline_us = b->trigger_us + b->timeout_us;
    }
}

/* Aligned with a timeout, and the timeout passed while its barrier still
 * waits in the output queue: it overtakes that queue, which becomes output
 * channel state; the checkpoint is unaligned here. */
static void switch_outputs(cpd_task *t)
{
    cpd_pending *p = t->pend;
    cpd_item b = t->bar;
    for (int k = 0; t->pend == p && k < t->outq.n;) {
        struct cpd_outent *e = outq_at(&t->outq, k);
        if (e->it.kind != CPD_IT_BARRIER || e->it.cp != p->cp) {
            k++;
            continue;
        }
        b = e->it;
        int o = e->ch, n = cpd_chan_overtake(t->out[o], &e->it, t->scratch);
        capture_output(t, o, t->scratch, n, k);
        outq_remove(&t->outq, k);
    }
    if (t->pend != p)
        return; /* the capture failed, and with it the checkpoint */
    p->out_left = 0;
    p->unaligned = true;
    emit_switched(t, &b);
    maybe_finalize(t);
}

/* ------------------------------------------------------------------ the snapshot */

static cpd_pending *pending_new(cpd_task *t, const cpd_item *b, bool unaligned)
{
    cpd_pending *p = calloc(1, sizeof *p);
    cpd_snap *s = p ? calloc(1, sizeof *s) : NULL;
    if (!s) {
        free(p);
        return NULL;
    }
    p->cp = b->cp;
    p->unaligned = unaligned;
    p->snap = s;
    s->cp = b->cp;
    s->op = t->op;
    s->sub = t->sub;
    return p;
}

/* The operator's part, synchronously, with its events. false: out of memory. */
static bool operator_snapshot(cpd_task *t, cpd_pending *p, int64_t s0)
{
    cpd_job_emit(t->j, cpd_job_ev(CPA_EV_SNAPSHOT_START, p->cp, t->op, t->sub));
    bool ok = !t->hooks->snapshot || t->hooks->snapshot(t, p->snap);
    if (ok && t->stager) { /* parse, sink: what they gathered goes with the snapshot */
        p->batch = t->batch;
        t->batch = cpd_stage_batch_new();
        ok = t->batch != NULL;
    }
    p->snap->sync_us = cpd_wall_us() - s0;
    cpa_event e = cpd_job_ev(CPA_EV_SNAPSHOT_SYNC_DONE, p->cp, t->op, t->sub);
    e.u.sync.duration_us = p->snap->sync_us;
    cpd_job_emit(t->j, e);
    return ok;
}

/* The subtask snapshots checkpoint b->cp now (flags from cpd_align) and
 * forwards its barrier. An injected decline, or a checkpoint that failed
 * already, takes no snapshot; the barrier still goes on. */
static void take_snapshot(cpd_task *t, const cpd_item *b, unsigned flags, int64_t alignment_us)
{
    cpd_job *j = t->j;
    bool unaligned = flags & CPD_ALIGN_UNALIGNED;
    drop_pending(t);
    if (flags & CPD_ALIGN_SWITCHED)
        emit_switched(t, b);
    bool ok = cpd_task_barrier_checks(t, b->cp) && b->cp > atomic_load(&j->aborted);
    cpd_pending *p = ok ? pending_new(t, b, unaligned) : NULL;
    if (p) {
        int64_t s0 = cpd_wall_us();
        p->snap->alignment_us = alignment_us;
        p->snap->start_delay_us = b->trigger_us ? s0 - alignment_us - b->trigger_us : 0;
        if (!operator_snapshot(t, p, s0)) {
            cpd_task_write_failed(t, b->cp, "out of memory for the snapshot");
            pending_free(p);
            p = NULL;
        }
    }
    t->pend = p;
    forward(t, b, unaligned);
    if (t->pend) /* handed on by the caller once complete (maybe_finalize) */
        t->pend->inputs_in = !t->in.n || (flags & CPD_ALIGN_ALL_IN);
}

static void barrier_in(cpd_task *t, const cpd_item *b, int ch, const cpd_item *ahead, int n,
                       bool extract);

/* Barriers of cp queued in band on inputs whose barrier is not in: taken
 * out of line, the records ahead of them captured as input channel state
 * (they stay queued and are processed after the snapshot). */
static void extract_announced(cpd_task *t, int64_t cp)
{
    for (int ch = 0; ch < t->in.n; ch++) {
        if (!cpd_align_wants(&t->al, cp) || (t->al.cp_id == cp && t->al.received[ch]))
            continue;
        cpd_item b;
        int n = cpd_inbox_extract(&t->in, ch, cp, &b, t->in_scratch);
        if (n < 0)
            continue;
        b.overtook = 1;
        barrier_in(t, &b, ch, t->in_scratch, n, false); /* snapshots if it is the first */
    }
}

void cpd_task_barrier(cpd_task *t, const cpd_item *b, int ch)
{
    barrier_in(t, b, ch, NULL, 0, true);
}

/* Barrier b came in on channel ch, taken out of line ahead of n records
 * (ahead: they become channel state); extract: take the same barrier out of
 * line on the other inputs when it is unaligned here. */
static void barrier_in(cpd_task *t, const cpd_item *b, int ch, const cpd_item *ahead, int n,
                       bool extract)
{
    cpd_job *j = t->j;
    int64_t now = cpd_wall_us(), alignment = 0;
    cpa_event e = cpd_job_ev(CPA_EV_BARRIER_RECEIVED, b->cp, t->op, t->sub);
    e.u.barrier.channel = ch;
    cpd_job_emit(j, e);
    if (!cpd_align_wants(&t->al, b->cp))
        return;
    if (t->pend && t->pend->cp < b->cp)
        drop_pending(t); /* superseded: it cannot complete here any more */
    if (t->al.cp_id != b->cp)
        t->bar = *b;
    unsigned f = cpd_align_barrier(&t->al, ch, b, now, &alignment);
    if (f & CPD_ALIGN_STARTED)
        cpd_job_emit(j, cpd_job_ev(CPA_EV_ALIGNMENT_START, b->cp, t->op, t->sub));
    if ((f & CPD_ALIGN_ALL_IN) && (f & CPD_ALIGN_SNAPSHOT) && !(f & CPD_ALIGN_UNALIGNED) &&
        t->in.n > 1) {
        e = cpd_job_ev(CPA_EV_ALIGNMENT_END, b->cp, t->op, t->sub);
        e.u.alignment.duration_us = alignment;
        cpd_job_emit(j, e);
    }
    if (f & CPD_ALIGN_SNAPSHOT)
        take_snapshot(t, b, f, (f & CPD_ALIGN_UNALIGNED) ? 0 : alignment);
    if (t->pend && t->pend->cp == b->cp) {
        capture(t, false, ch, ahead, n); /* before the barrier, not processed yet */
        if ((f & CPD_ALIGN_ALL_IN) && t->pend && !(f & CPD_ALIGN_SNAPSHOT)) {
            t->pend->inputs_in = true; /* unaligned: the channel state is complete */
            t->pend->snap->alignment_us = alignment;
        }
    }
    if (extract && (f & CPD_ALIGN_UNALIGNED) && !(f & CPD_ALIGN_ALL_IN))
        extract_announced(t, b->cp);
    maybe_finalize(t);
}

/* A source puts barrier cp into its output. */
static void inject(cpd_task *t, int64_t cp, cpd_barrier_mode mode)
{
    cpd_job *j = t->j;
    t->injected = cp;
    cpd_item b;
    memset(&b, 0, sizeof b);
    b.kind = CPD_IT_BARRIER;
    b.mode = (uint8_t)mode;
    b.cp = cp;
    b.trigger_us = cpd_ckpt_trigger_us(j->ckpt, cp);
    b.timeout_us = atomic_load(&j->aligned_timeout_ms) * 1000;
    t->bar = b;
    cpd_job_emit(j, cpd_job_ev(CPA_EV_BARRIER_INJECTED, cp, t->op, t->sub));
    unsigned f = CPD_ALIGN_SNAPSHOT | CPD_ALIGN_ALL_IN;
    take_snapshot(t, &b, mode == CPD_BAR_UNALIGNED ? f | CPD_ALIGN_UNALIGNED : f, 0);
    maybe_finalize(t);
}

/* ------------------------------------------------------------------ priority work */

/* The newest announced timeout barrier past its deadline that this subtask
 * has not looked for yet; 0 when none. */
static int64_t announced_due(cpd_task *t, int64_t now)
{
    int64_t deadline, cp = t->in.n ? cpd_inbox_announced(&t->in, &deadline) : 0;
    if (!cp || now < deadline || !cpd_align_wants(&t->al, cp))
        return 0;
    return (unsigned)atomic_load(&t->in.announced_seq) != t->ann_scanned ? cp : 0;
}

bool cpd_task_priority_due(cpd_task *t)
{
    cpd_job *j = t->j;
    if (t->pend && t->pend->cp <= atomic_load(&j->aborted))
        return true;
    if (t->op == CPD_OP_SOURCE && atomic_load(&j->pending_barrier[t->sub]) / 4 > t->injected)
        return true;
    if (t->in.n && atomic_load(&t->in.n_prio))
        return true;
    int64_t now = cpd_wall_us();
    if ((t->al.deadline_us && now >= t->al.deadline_us) || announced_due(t, now))
        return true;
    return t->pend && t->pend->out_left && now >= t->pend->deadline_us;
}

void cpd_task_priority(cpd_task *t)
{
    cpd_job *j = t->j;
    if (t->pend && t->pend->cp <= atomic_load(&j->aborted))
        drop_pending(t);
    if (t->op == CPD_OP_SOURCE) {
        int64_t want = atomic_load(&j->pending_barrier[t->sub]);
        if (want / 4 > t->injected)
            inject(t, want / 4, (cpd_barrier_mode)(want % 4));
    }
    cpd_item b;
    int ch;
    while (t->in.n && cpd_inbox_take_priority(&t->in, &b, &ch))
        cpd_task_barrier(t, &b, ch);
    int64_t now = cpd_wall_us();
    unsigned f = cpd_align_timeout(&t->al, now);
    if (f) { /* aligned past the timeout: unaligned from here */
        take_snapshot(t, &t->bar, f, 0);
        extract_announced(t, t->bar.cp);
        maybe_finalize(t);
    }
    int64_t cp = announced_due(t, now);
    if (cp) {
        t->ann_scanned = (unsigned)atomic_load(&t->in.announced_seq);
        extract_announced(t, cp);
    }
    if (t->pend && t->pend->out_left && now >= t->pend->deadline_us)
        switch_outputs(t);
}

/* ------------------------------------------------------------------ flushing */

/* Moves one thing along: 1 done, 0 nothing waits, -1 channel *full is full. */
static int push_next(cpd_task *t, int *full)
{
    struct cpd_outent *e = t->outq.n ? outq_at(&t->outq, 0) : NULL;
    if (e && e->it.kind == CPD_IT_RECORD) {
        if (!cpd_chan_offer(t->out[e->ch], &e->it, 0))
            return *full = e->ch, -1;
        atomic_fetch_add(&t->rec_out, 1);
        outq_remove(&t->outq, 0);
        return 1;
    }
    /* what the operator holds back came before any barrier still queued */
    if (t->hooks->held && t->hooks->held(t))
        return t->hooks->held_emit(t) ? 1 : (*full = 0, -1);
    if (!e)
        return 0;
    if (!cpd_chan_offer(t->out[e->ch], &e->it, 0))
        return *full = e->ch, -1;
    int64_t cp = e->it.cp;
    outq_remove(&t->outq, 0);
    if (t->pend && t->pend->cp == cp && t->pend->out_left && !--t->pend->out_left)
        maybe_finalize(t); /* its barrier left in band: aligned here */
    return 1;
}

bool cpd_task_flush(cpd_task *t, int wait_ms)
{
    cpd_job *j = t->j;
    int64_t until = cpd_mono_ms() + wait_ms;
    for (;;) {
        if (atomic_load(&j->stopping) || atomic_load(&t->kill))
            break;
        int full = 0, r = push_next(t, &full);
        if (r > 0)
            continue;
        if (r == 0) {
            atomic_store(&t->blocked_out, 0);
            return true;
        }
        atomic_store(&t->blocked_out, 1);
        int64_t left = until - cpd_mono_ms();
        if (left <= 0 || cpd_task_priority_due(t))
            return false;
        cpd_chan_wait_room(t->out[full], left < WAIT_SLICE_MS ? (int)left : WAIT_SLICE_MS);
    }
    atomic_store(&t->blocked_out, 0);
    return false;
}

/* ------------------------------------------------------------------ records in */

/* An injected throttle: per-record time accumulates and is slept off in
 * pieces of a millisecond or more (oversleeping counts against the next). */
void cpd_task_throttle(cpd_task *t)
{
    int us = atomic_load(&t->throttle_us);
    if (us <= 0) {
        t->throttle_debt_us = 0;
        return;
    }
    t->throttle_debt_us += us;
    int64_t t0 = cpd_mono_us();
    while (t->throttle_debt_us >= 1000 && !atomic_load(&t->j->stopping) &&
           !atomic_load(&t->kill)) {
        cpd_sleep_us(t->throttle_debt_us < 20000 ? t->throttle_debt_us : 20000);
        int64_t now = cpd_mono_us();
        t->throttle_debt_us -= now - t0;
        t0 = now;
    }
}

void cpd_task_record(cpd_task *t, const cpd_item *it, int ch)
{
    if (t->pend && t->al.cp_id == t->pend->cp && cpd_align_recording(&t->al, ch))
        capture(t, false, ch, it, 1); /* before the barrier, after the snapshot */
    cpd_task_throttle(t);
    atomic_fetch_add(&t->rec_in, 1);
    t->hooks->record(t, it, ch);
}

/* How long the loop may wait for input: until the next deadline. */
static int wait_ms(cpd_task *t)
{
    int64_t now = cpd_wall_us(), next = t->al.deadline_us, dl = 0;
    if (t->pend && t->pend->out_left && (!next || t->pend->deadline_us < next))
        next = t->pend->deadline_us;
    int64_t cp = cpd_inbox_announced(&t->in, &dl);
    if (cp && dl > now && cpd_align_wants(&t->al, cp) && (!next || dl < next))
        next = dl; /* a timeout barrier queued here comes due then */
    int64_t left = next ? (next - now) / 1000 + 1 : 100;
    return left < 1 ? 1 : left > 100 ? 100 : (int)left;
}

void cpd_task_run(cpd_task *t)
{
    cpd_job *j = t->j;
    int64_t last_metrics = 0, seen_aborted = 0;
    cpd_item it;
    int ch;
    while (!cpd_task_killed(t) && !atomic_load(&j->stopping)) {
        cpd_task_metrics(t, &last_metrics);
        int64_t ab = atomic_load(&j->aborted);
        if (ab > seen_aborted) {
            cpd_align_abort(&t->al, ab);
            seen_aborted = ab;
        }
        if (cpd_task_priority_due(t))
            cpd_task_priority(t);
        if (cpd_task_output_pending(t)) {
            cpd_task_flush(t, 100);
            continue;
        }
        int r = cpd_inbox_pop(&t->in, &t->al, &j->stopping, wait_ms(t), &it, &ch);
        if (r < 0)
            break;
        if (r > 0 && it.kind == CPD_IT_BARRIER)
            cpd_task_barrier(t, &it, ch);
        else if (r > 0)
            cpd_task_record(t, &it, ch);
    }
}

/* ------------------------------------------------------------------ set up, restore */

bool cpd_task_setup(cpd_task *t, const cpd_op_hooks *h, void *op)
{
    t->hooks = h;
    t->op_state = op;
    t->pend = NULL;
    t->restored = NULL;
    t->injected = 0;
    t->throttle_debt_us = 0;
    t->ann_scanned = 0;
    memset(&t->outq, 0, sizeof t->outq);
    memset(&t->al, 0, sizeof t->al);
    t->scratch = malloc(SCRATCH * sizeof(cpd_item));
    t->in_scratch = t->in.n ? malloc(SCRATCH * sizeof(cpd_item)) : NULL;
    bool ok = t->scratch && (!t->in.n || (t->in_scratch &&
                                          cpd_align_init(&t->al, t->in.n, t->j->cfg.mode)));
    if (ok && t->stager)
        ok = (t->batch = cpd_stage_batch_new()) != NULL;
    if (!ok)
        cpd_job_fail(t->j, "%s#%d: out of memory", name_of(t), t->sub);
    return ok;
}

void cpd_task_teardown(cpd_task *t)
{
    if (t->pend)
        pending_free(t->pend);
    t->pend = NULL;
    cpd_chanstate_free(t->restored);
    t->restored = NULL;
    cpd_stage_batch_free(t->batch);
    t->batch = NULL;
    free(t->outq.e);
    memset(&t->outq, 0, sizeof t->outq);
    free(t->scratch);
    free(t->in_scratch);
    t->scratch = t->in_scratch = NULL;
    cpd_align_free(&t->al);
}

bool cpd_task_restore(cpd_task *t, char **op, size_t *op_len)
{
    cpd_job *j = t->j;
    *op = NULL;
    *op_len = 0;
    if (!j->restored_md)
        return true;
    void *data = NULL;
    size_t len = 0, olen = 0, clen = 0;
    const char *o = NULL, *c = NULL;
    char err[300];
    cpd_st_rc rc = cpd_storage_read_state(j->st, j->restored_md, t->op, t->sub, &data, &len,
                                          err, sizeof err);
    if (rc == CPD_ST_NOT_FOUND)
        return true; /* nothing of this subtask in it */
    bool ok = rc == CPD_ST_OK && cpd_snapfile_unwrap(data, len, &o, &olen, &c, &clen, err,
                                                     sizeof err);
    if (ok && c) {
        t->restored = cpd_chanstate_new(t->hooks->in, t->hooks->out);
        ok = t->restored && cpd_chanstate_parse(t->restored, c, clen, err, sizeof err);
    }
    if (ok && olen) {
        *op = malloc(olen);
        if (*op)
            memcpy(*op, o, olen);
        *op_len = olen;
        ok = *op != NULL;
    }
    free(data);
    if (!ok)
        cpd_job_fail(j, "%s#%d: cannot restore its state: %s", name_of(t), t->sub,
                     rc == CPD_ST_OK ? err : "unreadable");
    return ok;
}

bool cpd_task_replay(cpd_task *t)
{
    cpd_chanstate *cs = t->restored;
    t->restored = NULL;
    bool ok = true;
    for (int i = 0; cs && ok && i < cpd_chanstate_count(cs); i++) {
        bool output;
        int ch;
        const cpd_item *it = cpd_chanstate_at(cs, i, &output, &ch);
        if (output ? ch >= t->n_out : ch >= t->in.n) {
            cpd_job_fail(t->j, "%s#%d: its channel state names channel %d, it has %d",
                         name_of(t), t->sub, ch, output ? t->n_out : t->in.n);
            ok = false;
        } else if (output) {
            ok = outq_add(&t->outq, ch, it);
        } else {
            atomic_fetch_add(&t->rec_in, 1);
            t->hooks->record(t, it, ch);
        }
    }
    if (!ok && !atomic_load(&t->j->failed))
        cpd_job_fail(t->j, "%s#%d: out of memory replaying its channel state", name_of(t),
                     t->sub);
    cpd_chanstate_free(cs);
    return ok;
}
