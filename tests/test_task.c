/*
 * test_task.c — a subtask's part in unaligned checkpoints (cpd_task.c), at a
 * subtask with three inputs and one output, driven step by step: the
 * snapshot, the channel state it captures (input records after the
 * snapshot and before their channel's barrier, records its barrier
 * overtook in its output), and a restore that replays that channel state.
 * Every record carries a unique id; the checks are that across the barrier
 * no record is lost and none is counted twice:
 *  - before the barrier: the snapshot's records, the subtask's input channel
 *    state and the upstreams' output channel state are exactly the records
 *    sent before each channel's barrier;
 *  - after a restore from that snapshot, with the upstreams replaying their
 *    output channel state and then sending the rest, the subtask has taken
 *    every record exactly once, and downstream, what it took before the
 *    barrier plus what the restored subtask sends is every record once.
 * Unaligned from the trigger, aligned with a timeout switching on the input
 * side (a barrier taken out of line), and on the output side.
 */
#include "cpd_clock.h"
#include "cpd_job.h"
#include "cpt_test.h"

#define MAXID 400
#define NCH 3

/* The operator: remembers which ids it took and passes each on. */
typedef struct fake {
    uint8_t took[MAXID];
} fake;

static bool rec(cpd_task *t, const cpd_item *it, int ch)
{
    (void)ch;
    fake *f = t->op_state;
    CPT_ASSERT(it->u.pay.amount > 0 && it->u.pay.amount < MAXID);
    f->took[it->u.pay.amount]++;
    return cpd_task_emit(t, 0, it);
}

/* its state: the ids it took, one a line */
static bool snap(cpd_task *t, cpd_snap *s)
{
    fake *f = t->op_state;
    char *buf = malloc(MAXID * 8);
    size_t len = 0;
    for (int i = 0; i < MAXID; i++)
        for (int k = 0; k < f->took[i]; k++)
            len += (size_t)sprintf(buf + len, "%d\n", i);
    s->data = buf;
    s->len = len;
    return true;
}

static const cpd_op_hooks hooks = {.in = CPD_EDGE_PAY, .out = CPD_EDGE_PAY, .record = rec,
                                   .snapshot = snap};

/* A batching operator (as the aggregate): what it takes goes out only after
 * its next snapshot, held back until then. */
typedef struct batching {
    fake f;
    cpd_item held[MAXID];
    int n_held, next;
    bool flushing;
} batching;

static bool b_rec(cpd_task *t, const cpd_item *it, int ch)
{
    (void)ch;
    batching *b = t->op_state;
    b->f.took[it->u.pay.amount]++;
    b->held[b->n_held++] = *it;
    return true;
}

static bool b_snap(cpd_task *t, cpd_snap *s)
{
    batching *b = t->op_state;
    b->flushing = b->next < b->n_held;
    return snap(t, s);
}

static bool b_held(cpd_task *t)
{
    batching *b = t->op_state;
    return b->flushing && b->next < b->n_held;
}

static int b_emit(cpd_task *t)
{
    batching *b = t->op_state;
    while (b->next < b->n_held && cpd_chan_offer(t->out[0], &b->held[b->next], 0))
        b->next++;
    return !b_held(t);
}

static bool b_capture(cpd_task *t, cpd_chanstate *cs)
{
    batching *b = t->op_state;
    for (int i = b->next; i < b->n_held; i++)
        if (!cpd_chanstate_add(cs, true, 0, &b->held[i]))
            return false;
    return true;
}

static const cpd_op_hooks b_hooks = {.in = CPD_EDGE_PAY, .out = CPD_EDGE_PAY, .record = b_rec,
                                     .snapshot = b_snap, .held = b_held, .held_emit = b_emit,
                                     .held_capture = b_capture};

static cpd_item pay(int id)
{
    cpd_item it;
    memset(&it, 0, sizeof it);
    it.kind = CPD_IT_RECORD;
    snprintf(it.u.pay.account, sizeof it.u.pay.account, "a%d", id);
    it.u.pay.amount = id;
    return it;
}

static cpd_item barrier(int64_t cp, cpd_barrier_mode mode, int64_t trigger_us, int64_t timeout_us)
{
    cpd_item b;
    memset(&b, 0, sizeof b);
    b.kind = CPD_IT_BARRIER;
    b.cp = cp;
    b.mode = (uint8_t)mode;
    b.trigger_us = trigger_us;
    b.timeout_us = timeout_us;
    return b;
}

/* A job holding one subtask (aggregate 0) under test, its three input
 * channels, and its downstream inbox. */
typedef struct rig {
    cpd_job *j;
    cpd_task *t;
    cpd_inbox down;
    fake f;
} rig;

static void rig_init_as(rig *r, int down_cap, const cpd_op_hooks *h, void *op)
{
    memset(r, 0, sizeof *r);
    r->j = calloc(1, sizeof *r->j);
    CPT_ASSERT(r->j);
    r->j->cfg.mode = CPD_EXACTLY_ONCE;
    pthread_mutex_init(&r->j->iomu, NULL);
    pthread_mutex_init(&r->j->fail_mu, NULL);
    pthread_cond_init(&r->j->iocond, NULL);
    r->t = &r->j->tasks[CPD_OP_AGG][0];
    r->t->j = r->j;
    r->t->op = CPD_OP_AGG;
    CPT_ASSERT(cpd_inbox_init(&r->t->in, NCH, 64));
    CPT_ASSERT(cpd_inbox_init(&r->down, 1, down_cap));
    r->t->out[0] = &r->down.ch[0];
    r->t->n_out = 1;
    CPT_ASSERT(cpd_task_setup(r->t, h, op ? op : &r->f));
}

static void rig_init(rig *r, int down_cap) { rig_init_as(r, down_cap, &hooks, NULL); }

static void rig_free(rig *r)
{
    cpd_task_teardown(r->t);
    cpd_inbox_free(&r->t->in);
    cpd_inbox_free(&r->down);
    for (cpd_snap *s = r->j->io_head, *n; s; s = n) {
        n = s->next;
        cpd_snap_free(s);
    }
    free(r->j);
}

/* One turn of the subtask's loop, without waiting: priority work, output,
 * one input item. false when nothing moved. */
static bool step(cpd_task *t)
{
    if (cpd_task_priority_due(t))
        cpd_task_priority(t);
    if (cpd_task_output_pending(t)) {
        int before = t->outq.n;
        bool held = t->hooks->held && t->hooks->held(t);
        cpd_task_flush(t, 0);
        return t->outq.n != before || held != (t->hooks->held && t->hooks->held(t));
    }
    cpd_item it;
    int ch;
    if (cpd_inbox_pop(&t->in, &t->al, NULL, 0, &it, &ch) != 1)
        return false;
    if (it.kind == CPD_IT_BARRIER)
        cpd_task_barrier(t, &it, ch);
    else
        cpd_task_record(t, &it, ch);
    return true;
}

static void run_dry(cpd_task *t)
{
    for (int i = 0; i < 10000 && step(t); i++) {
    }
}

/* Up to n items from the downstream channel: record ids into got until a
 * barrier (*saw_barrier), or all when after_too. Returns how many ids. */
static int drain_down(cpd_inbox *d, uint8_t *got, int n, bool *saw_barrier, bool after_too)
{
    int k = 0;
    cpd_item it;
    int ch;
    while (k < n && cpd_inbox_pop(d, NULL, NULL, 0, &it, &ch) == 1) {
        if (it.kind == CPD_IT_BARRIER) {
            *saw_barrier = true;
            if (!after_too)
                break;
            continue;
        }
        got[it.u.pay.amount]++;
        k++;
    }
    return k;
}

/* The snapshot the subtask handed on: its ids, and its channel state. */
static void handed_on(rig *r, uint8_t *state, cpd_chanstate **cs, int64_t *persisted)
{
    cpd_snap *s = r->j->io_head;
    CPT_ASSERTF(s && !s->next, "one snapshot handed on");
    const char *op, *ch;
    size_t ol, cl;
    char err[128];
    CPT_ASSERT(cpd_snapfile_unwrap(s->data, s->len, &op, &ol, &ch, &cl, err, sizeof err));
    for (const char *p = op; p < op + ol;) {
        int id = atoi(p);
        state[id]++;
        p = (const char *)memchr(p, '\n', (size_t)(op + ol - p)) + 1;
    }
    *cs = cpd_chanstate_new(CPD_EDGE_PAY, CPD_EDGE_PAY);
    if (ch)
        CPT_ASSERTF(cpd_chanstate_parse(*cs, ch, cl, err, sizeof err), "%s", err);
    CPT_EQ_INT(s->persisted, (int64_t)cl);
    *persisted = s->persisted;
    CPT_ASSERT(s->unaligned);
}

static void add_ids(uint8_t *set, const cpd_item *items, int n)
{
    for (int i = 0; i < n; i++)
        set[items[i].u.pay.amount]++;
}

/* Restores a fresh subtask from what r's handed on, replays the upstreams'
 * output state (up[ch], n_up[ch]) and then `after` records, and checks
 * the three invariants against `all` (every id sent) and `pre`. */
typedef struct upstream {
    cpd_item out[NCH][80];      /* their output channel state */
    int n_out[NCH];
} upstream;

static void check_restore(rig *r, const uint8_t *all, const uint8_t *pre, const upstream *up,
                          const cpd_item *after, const int *after_ch, int n_after,
                          const uint8_t *down_pre)
{
    uint8_t state[MAXID] = {0}, in_cs[MAXID] = {0}, union_pre[MAXID] = {0};
    cpd_chanstate *cs;
    int64_t persisted;
    handed_on(r, state, &cs, &persisted);
    CPT_ASSERT(persisted > 0);
    for (int i = 0; i < cpd_chanstate_count(cs); i++) {
        bool out;
        int ch;
        const cpd_item *it = cpd_chanstate_at(cs, i, &out, &ch);
        if (!out)
            in_cs[it->u.pay.amount]++;
    }
    for (int id = 0; id < MAXID; id++)
        union_pre[id] = state[id] + in_cs[id];
    for (int ch = 0; ch < NCH; ch++)
        add_ids(union_pre, up->out[ch], up->n_out[ch]);
    for (int id = 0; id < MAXID; id++)
        CPT_ASSERTF(union_pre[id] == pre[id], "id %d: snapshot %d + channel state %d + "
                    "upstream %d, sent before the barrier %d", id, state[id], in_cs[id],
                    union_pre[id] - state[id] - in_cs[id], pre[id]);
    /* the restore: a fresh subtask, its state, its channel state first */
    rig r2;
    rig_init(&r2, 512);
    memcpy(r2.f.took, state, sizeof state);
    r2.t->restored = cs;
    CPT_ASSERT(cpd_task_replay(r2.t));
    for (int ch = 0; ch < NCH; ch++)
        for (int i = 0; i < up->n_out[ch]; i++)
            CPT_ASSERT(cpd_chan_offer(&r2.t->in.ch[ch], &up->out[ch][i], 0));
    for (int i = 0; i < n_after; i++)
        CPT_ASSERT(cpd_chan_offer(&r2.t->in.ch[after_ch[i]], &after[i], 0));
    run_dry(r2.t);
    uint8_t down[MAXID] = {0};
    bool b = false;
    drain_down(&r2.down, down, 100000, &b, true);
    for (int id = 0; id < MAXID; id++) {
        CPT_ASSERTF(r2.f.took[id] == all[id], "after the restore id %d taken %d times, sent %d",
                    id, r2.f.took[id], all[id]);
        CPT_ASSERTF(down_pre[id] + down[id] == all[id], "downstream id %d: %d before the "
                    "barrier + %d after the restore, sent %d", id, down_pre[id], down[id],
                    all[id]);
    }
    rig_free(&r2);
}

/* Unaligned from the trigger: upstream 0's barrier overtakes its queue;
 * upstreams 1 and 2 are late, so records keep coming on their channels
 * after the subtask's snapshot (its input channel state) until their
 * barriers overtake what is left. The subtask's barrier overtakes what
 * it had sent downstream. */
CPT_TEST(unaligned_capture_and_restore_at_three_inputs)
{
    rig r;
    rig_init(&r, 512);
    uint8_t all[MAXID] = {0}, pre[MAXID] = {0}, down_pre[MAXID] = {0};
    upstream up;
    memset(&up, 0, sizeof up);
    cpd_item after[64];
    int after_ch[64], n_after = 0, id = 1;
    cpd_item b = barrier(5, CPD_BAR_UNALIGNED, cpd_wall_us(), 0);
    /* before anything: 6 records a channel; the subtask takes some */
    for (int ch = 0; ch < NCH; ch++)
        for (int k = 0; k < 6; k++, id++) {
            cpd_item it = pay(id);
            CPT_ASSERT(cpd_chan_offer(&r.t->in.ch[ch], &it, 0));
            all[id]++, pre[id]++;
        }
    for (int k = 0; k < 5; k++)
        CPT_ASSERT(step(r.t));
    bool saw = false;
    drain_down(&r.down, down_pre, 2, &saw, false); /* downstream took 2 of its outputs */
    /* upstream 0's barrier overtakes its queue: those records are its state */
    up.n_out[0] = cpd_chan_overtake(&r.t->in.ch[0], &b, up.out[0]);
    CPT_ASSERT(up.n_out[0] > 0);
    for (int k = 0; k < 4; k++, id++) { /* upstream 0 goes on: after the barrier */
        cpd_item it = pay(id);
        CPT_ASSERT(cpd_chan_offer(&r.t->in.ch[0], &it, 0));
        all[id]++;
        after[n_after] = it;
        after_ch[n_after++] = 0;
    }
    CPT_ASSERT(step(r.t)); /* the barrier first: the snapshot, its own barrier out */
    bool un;
    int left;
    CPT_ASSERT(cpd_task_pending(r.t, &un, NULL) == 5 && un);
    /* it goes on with records; 1 and 2 send more before their barriers */
    for (int k = 0; k < 4; k++)
        step(r.t);
    for (int ch = 1; ch < NCH; ch++)
        for (int k = 0; k < 3; k++, id++) {
            cpd_item it = pay(id);
            CPT_ASSERT(cpd_chan_offer(&r.t->in.ch[ch], &it, 0));
            all[id]++, pre[id]++;
        }
    for (int k = 0; k < 5; k++)
        step(r.t);
    for (int ch = 1; ch < NCH; ch++) {
        up.n_out[ch] = cpd_chan_overtake(&r.t->in.ch[ch], &b, up.out[ch]);
        for (int k = 0; k < 2; k++, id++) {
            cpd_item it = pay(id);
            CPT_ASSERT(cpd_chan_offer(&r.t->in.ch[ch], &it, 0));
            all[id]++;
            after[n_after] = it;
            after_ch[n_after++] = ch;
        }
    }
    run_dry(r.t);
    CPT_ASSERT(!cpd_task_pending(r.t, NULL, NULL)); /* every barrier in: handed on */
    (void)left;
    /* downstream: the barrier came before everything still queued */
    drain_down(&r.down, down_pre, 100000, &saw, false);
    CPT_ASSERT(saw);
    check_restore(&r, all, pre, &up, after, after_ch, n_after, down_pre);
    rig_free(&r);
}

/* Aligned with a timeout that has passed: the subtask aligns on channel 0,
 * then switches; channel 1's barrier is queued behind records (taken out of
 * line: the records ahead are its input state); channel 2's has not come
 * (its records are recorded as they come, until it does, in band). */
CPT_TEST(aligned_timeout_switches_on_the_input_side)
{
    rig r;
    rig_init(&r, 512);
    uint8_t all[MAXID] = {0}, pre[MAXID] = {0}, down_pre[MAXID] = {0};
    upstream up;
    memset(&up, 0, sizeof up);
    cpd_item after[64];
    int after_ch[64], n_after = 0, id = 1;
    cpd_item b = barrier(9, CPD_BAR_TIMEOUT, cpd_wall_us() - 2000000, 1000000);
    for (int ch = 0; ch < NCH; ch++) {
        for (int k = 0; k < (ch == 0 ? 1 : 8); k++, id++) {
            cpd_item it = pay(id);
            CPT_ASSERT(cpd_chan_offer(&r.t->in.ch[ch], &it, 0));
            all[id]++, pre[id]++;
        }
        if (ch < 2) /* barriers in band on 0 and 1, not yet on 2 */
            CPT_ASSERT(cpd_chan_offer(&r.t->in.ch[ch], &b, 0));
        for (int k = 0; k < 2; k++, id++) {
            cpd_item it = pay(id);
            if (ch < 2) {
                CPT_ASSERT(cpd_chan_offer(&r.t->in.ch[ch], &it, 0));
                after[n_after] = it; /* for the restore: sent again by upstream */
                after_ch[n_after++] = ch;
            } else {
                CPT_ASSERT(cpd_chan_offer(&r.t->in.ch[ch], &it, 0));
                pre[id]++;
            }
            all[id]++;
        }
    }
    /* the first turns: barrier 9 on channel 0 starts an alignment, and at
     * once the timeout (past) switches it */
    bool un;
    for (int k = 0; k < 10 && !cpd_task_pending(r.t, NULL, NULL); k++)
        step(r.t);
    CPT_ASSERT(cpd_task_pending(r.t, &un, NULL) == 9 && un);
    CPT_ASSERT(!cpd_align_recording(&r.t->al, 1)); /* taken out of line */
    CPT_ASSERT(cpd_align_recording(&r.t->al, 2));
    run_dry(r.t);
    CPT_ASSERT(cpd_task_pending(r.t, NULL, NULL)); /* channel 2's barrier still to come */
    for (int k = 0; k < 2; k++, id++) {
        cpd_item it = pay(id);
        CPT_ASSERT(cpd_chan_offer(&r.t->in.ch[2], &it, 0));
        all[id]++, pre[id]++;
    }
    CPT_ASSERT(cpd_chan_offer(&r.t->in.ch[2], &b, 0));
    cpd_item last = pay(id++);
    CPT_ASSERT(cpd_chan_offer(&r.t->in.ch[2], &last, 0));
    all[last.u.pay.amount]++;
    after[n_after] = last;
    after_ch[n_after++] = 2;
    run_dry(r.t);
    CPT_ASSERT(!cpd_task_pending(r.t, NULL, NULL));
    bool saw = false;
    drain_down(&r.down, down_pre, 100000, &saw, false);
    CPT_ASSERT(saw);
    check_restore(&r, all, pre, &up, after, after_ch, n_after, down_pre);
    rig_free(&r);
}

/* Aligned with a timeout, on the output side: the subtask (batching, as the
 * aggregate) aligns and snapshots; what it took goes out after the
 * snapshot, ahead of the barrier, but the downstream channel is full, so the
 * barrier waits in the output queue; the snapshot is not handed on. When the
 * timeout passes the barrier overtakes the held records and the channel's
 * queue, which become its output channel state. */
CPT_TEST(aligned_timeout_switches_on_the_output_side)
{
    rig r;
    static batching bt;
    memset(&bt, 0, sizeof bt);
    rig_init_as(&r, 4, &b_hooks, &bt);
    uint8_t pre[MAXID] = {0}, down_pre[MAXID] = {0};
    int64_t timeout_us = 300000;
    cpd_item b = barrier(3, CPD_BAR_TIMEOUT, cpd_wall_us(), timeout_us);
    int id = 1;
    for (int ch = 0; ch < NCH; ch++) {
        for (int k = 0; k < 3; k++, id++) {
            cpd_item it = pay(id);
            CPT_ASSERT(cpd_chan_offer(&r.t->in.ch[ch], &it, 0));
            pre[id]++;
        }
        CPT_ASSERT(cpd_chan_offer(&r.t->in.ch[ch], &b, 0));
    }
    bool un = true;
    int left = 0;
    for (int k = 0; k < 40 && !cpd_task_pending(r.t, NULL, NULL); k++)
        step(r.t);
    CPT_ASSERT(cpd_task_pending(r.t, &un, &left) == 3 && !un && left == 1);
    run_dry(r.t); /* 4 of the 9 fit downstream */
    CPT_ASSERT(r.j->io_head == NULL); /* not handed on while its barrier waits */
    bool saw = false;
    drain_down(&r.down, down_pre, 1, &saw, false); /* downstream takes one */
    run_dry(r.t);
    CPT_ASSERT(cpd_task_pending(r.t, NULL, &left) == 3 && left == 1);
    cpd_sleep_us(timeout_us + 50000);
    CPT_ASSERT(cpd_task_priority_due(r.t));
    cpd_task_priority(r.t);
    CPT_ASSERT(!cpd_task_pending(r.t, NULL, NULL)); /* switched and handed on */
    uint8_t state[MAXID] = {0}, out_cs[MAXID] = {0};
    cpd_chanstate *cs;
    int64_t persisted;
    handed_on(&r, state, &cs, &persisted);
    for (int i = 0; i < cpd_chanstate_count(cs); i++) {
        bool out;
        int ch;
        const cpd_item *it = cpd_chanstate_at(cs, i, &out, &ch);
        CPT_ASSERT(out && ch == 0);
        out_cs[it->u.pay.amount]++;
    }
    CPT_EQ_INT(cpd_chanstate_count(cs), 8); /* 4 queued downstream, 4 held */
    cpd_chanstate_free(cs);
    /* downstream sees the barrier first now; what it took before it plus
     * the output state is everything the subtask took before the barrier,
     * and the held records still go out after the barrier */
    drain_down(&r.down, down_pre, 100000, &saw, false);
    CPT_ASSERT(saw);
    for (int i = 1; i < id; i++)
        CPT_ASSERTF(down_pre[i] + out_cs[i] == pre[i] && state[i] == pre[i],
                    "id %d: downstream %d + output state %d, snapshot %d, sent %d", i,
                    down_pre[i], out_cs[i], state[i], pre[i]);
    uint8_t later[MAXID] = {0};
    for (int k = 0; k < 10; k++) { /* the rest goes out as downstream takes it */
        run_dry(r.t);
        drain_down(&r.down, later, 100000, &saw, true);
    }
    int n_later = 0;
    for (int i = 1; i < id; i++)
        n_later += later[i];
    CPT_EQ_INT(n_later, 8); /* the 4 queued and the 4 held, behind the barrier */
    rig_free(&r);
}
