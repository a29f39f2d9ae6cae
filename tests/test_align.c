/* test_align.c — barrier alignment: every arrival order, both modes. */
#include "cpd_align.h"
#include "cpt_test.h"

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
static long simulate(int n, const int *order, const int *pre, const int *post, cpd_mode mode,
                     int *blocked_reads)
{
    cpd_align a;
    CPT_ASSERT(cpd_align_init(&a, n, mode));
    chan ch[MAXCH];
    for (int i = 0; i < n; i++)
        ch[i] = (chan){pre[i], post[i], 0};
    long state = 0, snapshot = -1;
    int64_t now = 0;
    *blocked_reads = 0;
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
            cpd_align_step s = cpd_align_barrier(&a, c, 1, now, &al);
            if (s == CPD_ALIGN_DONE) {
                CPT_ASSERT(snapshot < 0);
                CPT_ASSERT(al >= 0);
                snapshot = state;
            }
        } else {
            state += item < ch[c].pre ? 1 : 1000;
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
    CPT_EQ_INT(cpd_align_barrier(&a, 0, 1, 100, &al), CPD_ALIGN_DONE);
    CPT_EQ_INT(al, 0);
    CPT_ASSERT(!cpd_align_blocked(&a, 0));
    cpd_align_free(&a);
}

CPT_TEST(alignment_time_and_repeated_or_stale_barriers)
{
    cpd_align a;
    CPT_ASSERT(cpd_align_init(&a, 3, CPD_EXACTLY_ONCE));
    int64_t al = -1;
    CPT_EQ_INT(cpd_align_barrier(&a, 1, 5, 1000, &al), CPD_ALIGN_STARTED);
    CPT_ASSERT(cpd_align_blocked(&a, 1));
    CPT_ASSERT(!cpd_align_blocked(&a, 0));
    CPT_EQ_INT(cpd_align_barrier(&a, 1, 5, 1100, &al), CPD_ALIGN_IGNORED); /* repeated */
    CPT_EQ_INT(cpd_align_barrier(&a, 0, 4, 1150, &al), CPD_ALIGN_IGNORED); /* older */
    CPT_EQ_INT(cpd_align_barrier(&a, 0, 5, 1200, &al), CPD_ALIGN_WAITING);
    CPT_EQ_INT(cpd_align_barrier(&a, 2, 5, 1700, &al), CPD_ALIGN_DONE);
    CPT_EQ_INT(al, 700);
    CPT_ASSERT(!cpd_align_blocked(&a, 0) && !cpd_align_blocked(&a, 1));
    CPT_EQ_INT(cpd_align_barrier(&a, 2, 5, 1800, &al), CPD_ALIGN_IGNORED); /* after done */
    CPT_EQ_INT(cpd_align_barrier(&a, 9, 6, 1800, &al), CPD_ALIGN_IGNORED); /* no channel 9 */
    cpd_align_free(&a);
}

CPT_TEST(newer_barrier_cancels_and_abort_releases)
{
    cpd_align a;
    CPT_ASSERT(cpd_align_init(&a, 2, CPD_EXACTLY_ONCE));
    int64_t al;
    CPT_EQ_INT(cpd_align_barrier(&a, 0, 7, 0, &al), CPD_ALIGN_STARTED);
    /* barrier 8 overtook 7 on channel 1 (7 was dropped upstream): 7 cannot
     * complete here any more; align 8 */
    CPT_EQ_INT(cpd_align_barrier(&a, 1, 8, 10, &al), CPD_ALIGN_STARTED);
    CPT_ASSERT(!cpd_align_blocked(&a, 0));
    CPT_ASSERT(cpd_align_blocked(&a, 1));
    CPT_EQ_INT(cpd_align_barrier(&a, 1, 7, 20, &al), CPD_ALIGN_IGNORED);
    /* 8 aborted by the coordinator: everything flows again, and its
     * barriers still on their way are ignored */
    cpd_align_abort(&a, 8);
    CPT_ASSERT(!cpd_align_blocked(&a, 1));
    CPT_EQ_INT(cpd_align_barrier(&a, 0, 8, 30, &al), CPD_ALIGN_IGNORED);
    /* an abort of a checkpoint not yet seen here: its barriers are ignored too */
    cpd_align_abort(&a, 9);
    CPT_EQ_INT(cpd_align_barrier(&a, 0, 9, 40, &al), CPD_ALIGN_IGNORED);
    CPT_EQ_INT(cpd_align_barrier(&a, 0, 10, 50, &al), CPD_ALIGN_STARTED);
    CPT_EQ_INT(cpd_align_barrier(&a, 1, 10, 60, &al), CPD_ALIGN_DONE);
    cpd_align_free(&a);
    CPT_ASSERT(!cpd_align_init(&a, 0, CPD_EXACTLY_ONCE));
}
