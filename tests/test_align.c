/* test_align.c — barrier handling at a subtask: every arrival order, both
 * modes, aligned and unaligned, and the switch of an aligned checkpoint with
 * a timeout. */
#include "cpd_align.h"
#include "cpt_test.h"

static cpd_item bar(int64_t cp, cpd_barrier_mode mode)
{
    cpd_item b;
    memset(&b, 0, sizeof b);
    b.kind = CPD_IT_BARRIER;
    b.cp = cp;
    b.mode = (uint8_t)mode;
    return b;
}

/* an aligned barrier of checkpoint cp */
static unsigned on(cpd_align *a, int ch, int64_t cp, int64_t now, int64_t *al)
{
    cpd_item b = bar(cp, CPD_BAR_ALIGNED);
    return cpd_align_barrier(a, ch, &b, now, al);
}

#define DONE (CPD_ALIGN_SNAPSHOT | CPD_ALIGN_ALL_IN)

/* A channel carries `pre` records, the barrier, then `post` records; record
 * values are 1 before the barrier and 1000 after, so the snapshot's sum says
 * exactly which records it holds. */
#define MAXCH 3
typedef struct chan {
    int pre, post, pos; /* pos: next item, 0..pre+post (the barrier is item `pre`) */
} chan;

/* Runs one subtask: each step reads one item from the next channel in the
 * `order` rotation that is not blocked and not exhausted. Returns the state
 * at the moment of the snapshot (-1 if none). */
static long simulate_as(int n, const int *order, const int *pre, const int *post, cpd_mode mode,
                        cpd_barrier_mode how, int *blocked_reads, long *recorded)
{
    cpd_align a;
    CPT_ASSERT(cpd_align_init(&a, n, mode));
    chan ch[MAXCH];
    for (int i = 0; i < n; i++)
        ch[i] = (chan){pre[i], post[i], 0};
    long state = 0, snapshot = -1;
    int64_t now = 0;
    *blocked_reads = 0;
    *recorded = 0;
    for (int step = 0, r = 0; step < 10000; step++, r = (r + 1) % n) {
        int c = order[r];
        if (ch[c].pos > ch[c].pre + ch[c].post)
            continue; /* exhausted */
        if (cpd_align_blocked(&a, c)) {
            (*blocked_reads)++;
            continue;
        }
        int item = ch[c].pos++;
        now += 10;
        if (item == ch[c].pre) {
            int64_t al = -1;
            cpd_item b = bar(1, how);
            unsigned f = cpd_align_barrier(&a, c, &b, now, &al);
            if (f & CPD_ALIGN_SNAPSHOT) {
                CPT_ASSERT(snapshot < 0);
                snapshot = state;
            }
            if (f & CPD_ALIGN_ALL_IN)
                CPT_ASSERT(al >= 0);
        } else {
            long v = item < ch[c].pre ? 1 : 1000;
            if (cpd_align_recording(&a, c))
                *recorded += v; /* channel state: processed after the snapshot */
            state += v;
        }
        bool all_done = true;
        for (int i = 0; i < n; i++)
            all_done &= ch[i].pos > ch[i].pre + ch[i].post;
        if (all_done)
            break;
    }
    cpd_align_free(&a);
    return snapshot;
}

static long simulate(int n, const int *order, const int *pre, const int *post, cpd_mode mode,
                     int *blocked_reads)
{
    long recorded;
    long snap = simulate_as(n, order, pre, post, mode, CPD_BAR_ALIGNED, blocked_reads, &recorded);
    CPT_EQ_INT(recorded, 0);
    return snap;
}

static void permutations(int n, void (*fn)(int n, const int *order))
{
    int p[MAXCH];
    for (int i = 0; i < n; i++)
        p[i] = i;
    /* Heap's algorithm, iterative */
    int c[MAXCH] = {0};
    fn(n, p);
    for (int i = 0; i < n;) {
        if (c[i] < i) {
            int k = i % 2 ? c[i] : 0, t = p[k];
            p[k] = p[i];
            p[i] = t;
            fn(n, p);
            c[i]++;
            i = 0;
        } else {
            c[i++] = 0;
        }
    }
}

static int orders_seen;
static void check_exactly_once(int n, const int *order)
{
    /* barriers at different depths so they arrive in many relative orders */
    static const int shapes[][MAXCH] = {{0, 3, 7}, {5, 0, 2}, {2, 2, 2}, {7, 1, 0}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int *pre = shapes[s];
        const int post[MAXCH] = {4, 4, 4};
        int blocked;
        long snap = simulate(n, order, pre, post, CPD_EXACTLY_ONCE, &blocked);
        long want = 0;
        for (int i = 0; i < n; i++)
            want += pre[i];
        CPT_ASSERTF(snap == want, "EO %d inputs, shape %zu: snapshot %ld, want %ld (only "
                    "records before the barrier)", n, s, snap, want);
    }
    orders_seen++;
}

CPT_TEST(exactly_once_snapshot_holds_only_records_before_the_barrier)
{
    orders_seen = 0;
    permutations(2, check_exactly_once);
    CPT_EQ_INT(orders_seen, 2);
    orders_seen = 0;
    permutations(3, check_exactly_once);
    CPT_EQ_INT(orders_seen, 6);
}

CPT_TEST(exactly_once_blocks_and_at_least_once_does_not)
{
    int order[2] = {0, 1}, pre[2] = {0, 6}, post[2] = {5, 5};
    int blocked;
    long snap = simulate(2, order, pre, post, CPD_EXACTLY_ONCE, &blocked);
    CPT_EQ_INT(snap, 6);
    CPT_ASSERT(blocked > 0); /* channel 0 waited while channel 1 caught up */
    snap = simulate(2, order, pre, post, CPD_AT_LEAST_ONCE, &blocked);
    CPT_EQ_INT(blocked, 0);
    /* channel 0's records after its barrier went into the state before the
     * snapshot: included (they will be replayed after a restore) */
    CPT_ASSERTF(snap > 6 && snap % 1000 == 6, "ALO snapshot %ld", snap);
}

CPT_TEST(one_channel_completes_at_once)
{
    cpd_align a;
    CPT_ASSERT(cpd_align_init(&a, 1, CPD_EXACTLY_ONCE));
    int64_t al = -1;
    CPT_EQ_INT(on(&a, 0, 1, 100, &al), DONE);
    CPT_EQ_INT(al, 0);
    CPT_ASSERT(!cpd_align_blocked(&a, 0));
    cpd_align_free(&a);
}

CPT_TEST(alignment_time_and_repeated_or_stale_barriers)
{
    cpd_align a;
    CPT_ASSERT(cpd_align_init(&a, 3, CPD_EXACTLY_ONCE));
    int64_t al = -1;
    CPT_EQ_INT(on(&a, 1, 5, 1000, &al), CPD_ALIGN_STARTED);
    CPT_ASSERT(cpd_align_blocked(&a, 1));
    CPT_ASSERT(!cpd_align_blocked(&a, 0));
    CPT_EQ_INT(on(&a, 1, 5, 1100, &al), 0); /* repeated */
    CPT_EQ_INT(on(&a, 0, 4, 1150, &al), 0); /* older */
    CPT_EQ_INT(on(&a, 0, 5, 1200, &al), 0); /* one more in, still waiting */
    CPT_EQ_INT(on(&a, 2, 5, 1700, &al), DONE);
    CPT_EQ_INT(al, 700);
    CPT_ASSERT(!cpd_align_blocked(&a, 0) && !cpd_align_blocked(&a, 1));
    CPT_EQ_INT(on(&a, 2, 5, 1800, &al), 0); /* after done */
    CPT_EQ_INT(on(&a, 9, 6, 1800, &al), 0); /* no channel 9 */
    cpd_align_free(&a);
}

CPT_TEST(newer_barrier_cancels_and_abort_releases)
{
    cpd_align a;
    CPT_ASSERT(cpd_align_init(&a, 2, CPD_EXACTLY_ONCE));
    int64_t al;
    CPT_EQ_INT(on(&a, 0, 7, 0, &al), CPD_ALIGN_STARTED);
    /* barrier 8 overtook 7 on channel 1 (7 was dropped upstream): 7 cannot
     * complete here any more; align 8 */
    CPT_EQ_INT(on(&a, 1, 8, 10, &al), CPD_ALIGN_STARTED);
    CPT_ASSERT(!cpd_align_blocked(&a, 0));
    CPT_ASSERT(cpd_align_blocked(&a, 1));
    CPT_EQ_INT(on(&a, 1, 7, 20, &al), 0);
    /* 8 aborted by the coordinator: everything flows again, and its
     * barriers still on their way are ignored */
    cpd_align_abort(&a, 8);
    CPT_ASSERT(!cpd_align_blocked(&a, 1));
    CPT_EQ_INT(on(&a, 0, 8, 30, &al), 0);
    /* an abort of a checkpoint not yet seen here: its barriers are ignored too */
    cpd_align_abort(&a, 9);
    CPT_EQ_INT(on(&a, 0, 9, 40, &al), 0);
    CPT_EQ_INT(on(&a, 0, 10, 50, &al), CPD_ALIGN_STARTED);
    CPT_EQ_INT(on(&a, 1, 10, 60, &al), DONE);
    cpd_align_free(&a);
    CPT_ASSERT(!cpd_align_init(&a, 0, CPD_EXACTLY_ONCE));
}

/* Unaligned: the snapshot is taken at the first barrier, nothing is
 * blocked, and the records recorded as channel state (those that arrive on
 * a channel before its barrier, after the snapshot) plus the snapshot are
 * exactly the records before the barrier: none lost, none twice. */
static void check_unaligned(int n, const int *order)
{
    static const int shapes[][MAXCH] = {{0, 3, 7}, {5, 0, 2}, {2, 2, 2}, {7, 1, 0}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int *pre = shapes[s];
        const int post[MAXCH] = {4, 4, 4};
        int blocked;
        long recorded;
        long snap = simulate_as(n, order, pre, post, CPD_EXACTLY_ONCE, CPD_BAR_UNALIGNED,
                                &blocked, &recorded);
        long want = 0;
        for (int i = 0; i < n; i++)
            want += pre[i];
        CPT_EQ_INT(blocked, 0);
        CPT_ASSERTF(snap >= 0 && snap + recorded == want,
                    "unaligned %d inputs, shape %zu: snapshot %ld + channel state %ld, want %ld",
                    n, s, snap, recorded, want);
    }
    orders_seen++;
}

CPT_TEST(unaligned_snapshot_plus_channel_state_is_what_came_before_the_barrier)
{
    orders_seen = 0;
    permutations(2, check_unaligned);
    permutations(3, check_unaligned);
    CPT_EQ_INT(orders_seen, 8);
}

CPT_TEST(unaligned_steps)
{
    cpd_align a;
    CPT_ASSERT(cpd_align_init(&a, 3, CPD_EXACTLY_ONCE));
    cpd_item b = bar(4, CPD_BAR_UNALIGNED);
    int64_t al = -1;
    CPT_EQ_INT(cpd_align_barrier(&a, 1, &b, 100, &al), CPD_ALIGN_SNAPSHOT | CPD_ALIGN_UNALIGNED);
    CPT_ASSERT(!cpd_align_blocked(&a, 1)); /* nothing waits */
    CPT_ASSERT(cpd_align_recording(&a, 0) && cpd_align_recording(&a, 2));
    CPT_ASSERT(!cpd_align_recording(&a, 1));
    CPT_EQ_INT(cpd_align_barrier(&a, 0, &b, 150, &al), 0);
    CPT_ASSERT(!cpd_align_recording(&a, 0));
    CPT_EQ_INT(cpd_align_barrier(&a, 2, &b, 400, &al), CPD_ALIGN_ALL_IN);
    CPT_EQ_INT(al, 300);
    CPT_ASSERT(!cpd_align_recording(&a, 2));
    CPT_ASSERT(!cpd_align_wants(&a, 4));
    /* a barrier that overtook is unaligned whatever its checkpoint's mode */
    cpd_item o = bar(5, CPD_BAR_ALIGNED);
    o.overtook = 1;
    CPT_EQ_INT(cpd_align_barrier(&a, 0, &o, 500, &al), CPD_ALIGN_SNAPSHOT | CPD_ALIGN_UNALIGNED);
    /* one input: snapshot and complete at once */
    cpd_align one;
    CPT_ASSERT(cpd_align_init(&one, 1, CPD_EXACTLY_ONCE));
    CPT_EQ_INT(cpd_align_barrier(&one, 0, &b, 100, &al),
               CPD_ALIGN_SNAPSHOT | CPD_ALIGN_UNALIGNED | CPD_ALIGN_ALL_IN);
    cpd_align_free(&one);
    cpd_align_free(&a);
}

/* Aligned with a timeout: aligned until the deadline (trigger + timeout),
 * then unaligned: the channels flow, those not in are recorded. An
 * unaligned barrier of it (an upstream switched) switches it too. */
CPT_TEST(aligned_checkpoint_timeout_switches_to_unaligned)
{
    cpd_align a;
    CPT_ASSERT(cpd_align_init(&a, 2, CPD_EXACTLY_ONCE));
    cpd_item b = bar(3, CPD_BAR_TIMEOUT);
    b.trigger_us = 1000;
    b.timeout_us = 500;
    int64_t al;
    CPT_EQ_INT(cpd_align_barrier(&a, 0, &b, 1200, &al), CPD_ALIGN_STARTED);
    CPT_ASSERT(cpd_align_blocked(&a, 0));
    CPT_EQ_INT(cpd_align_timeout(&a, 1499), 0);
    CPT_EQ_INT(cpd_align_timeout(&a, 1500),
               CPD_ALIGN_SNAPSHOT | CPD_ALIGN_UNALIGNED | CPD_ALIGN_SWITCHED);
    CPT_EQ_INT(cpd_align_timeout(&a, 1600), 0); /* once */
    CPT_ASSERT(!cpd_align_blocked(&a, 0));
    CPT_ASSERT(cpd_align_recording(&a, 1));
    CPT_EQ_INT(cpd_align_barrier(&a, 1, &b, 1700, &al), CPD_ALIGN_ALL_IN);
    /* within the timeout it stays aligned */
    cpd_item c = bar(4, CPD_BAR_TIMEOUT);
    c.trigger_us = 2000;
    c.timeout_us = 500;
    CPT_EQ_INT(cpd_align_barrier(&a, 1, &c, 2100, &al), CPD_ALIGN_STARTED);
    CPT_EQ_INT(cpd_align_barrier(&a, 0, &c, 2200, &al), DONE);
    CPT_EQ_INT(cpd_align_timeout(&a, 9000), 0);
    /* an upstream switched: its barrier arrives unaligned while this aligns */
    cpd_item d = bar(5, CPD_BAR_TIMEOUT);
    d.trigger_us = 3000;
    d.timeout_us = 60000000;
    CPT_EQ_INT(cpd_align_barrier(&a, 0, &d, 3100, &al), CPD_ALIGN_STARTED);
    d.overtook = 1;
    CPT_EQ_INT(cpd_align_barrier(&a, 1, &d, 3200, &al),
               CPD_ALIGN_SNAPSHOT | CPD_ALIGN_UNALIGNED | CPD_ALIGN_SWITCHED | CPD_ALIGN_ALL_IN);
    /* and one that arrives first unaligned starts unaligned, switched */
    cpd_item e = bar(6, CPD_BAR_TIMEOUT);
    e.overtook = 1;
    CPT_EQ_INT(cpd_align_barrier(&a, 1, &e, 3300, &al),
               CPD_ALIGN_SNAPSHOT | CPD_ALIGN_UNALIGNED | CPD_ALIGN_SWITCHED);
    cpd_align_free(&a);
}
