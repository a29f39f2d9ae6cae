/* test_chan.c — the job's channels: order, backpressure, stop, alignment. */
#include <pthread.h>
#include <time.h>

#include "cpd_chan.h"
#include "cpt_test.h"

static cpd_item rec(int64_t n)
{
    cpd_item it;
    memset(&it, 0, sizeof it);
    it.kind = CPD_IT_RECORD;
    it.u.src.offset = n;
    return it;
}

static cpd_item barrier(int64_t cp)
{
    cpd_item it;
    memset(&it, 0, sizeof it);
    it.kind = CPD_IT_BARRIER;
    it.cp = cp;
    it.trigger_us = 1000 * cp;
    return it;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

CPT_TEST(bad_shapes_are_refused)
{
    cpd_inbox b;
    CPT_ASSERT(!cpd_inbox_init(&b, 0, 4));
    CPT_ASSERT(!cpd_inbox_init(&b, CPD_INBOX_MAX + 1, 4));
    CPT_ASSERT(!cpd_inbox_init(&b, 1, 0));
    cpd_inbox_free(&b); /* harmless after a refused init */
}

CPT_TEST(one_channel_is_fifo_and_carries_barriers_in_band)
{
    cpd_inbox b;
    CPT_ASSERT(cpd_inbox_init(&b, 1, 8));
    for (int i = 0; i < 3; i++) {
        cpd_item it = rec(i);
        CPT_ASSERT(cpd_chan_push(&b.ch[0], &it, NULL, NULL, NULL));
    }
    cpd_item bar = barrier(7);
    CPT_ASSERT(cpd_chan_push(&b.ch[0], &bar, NULL, NULL, NULL));
    CPT_EQ_INT(cpd_inbox_fill_permille(&b), 500);
    cpd_item out;
    int ch = -1;
    for (int i = 0; i < 3; i++) {
        CPT_EQ_INT(cpd_inbox_pop(&b, NULL, NULL, 10, &out, &ch), 1);
        CPT_EQ_INT(out.kind, CPD_IT_RECORD);
        CPT_EQ_INT(out.u.src.offset, i);
        CPT_EQ_INT(ch, 0);
    }
    CPT_EQ_INT(cpd_inbox_pop(&b, NULL, NULL, 10, &out, &ch), 1);
    CPT_EQ_INT(out.kind, CPD_IT_BARRIER);
    CPT_EQ_INT(out.cp, 7);
    CPT_EQ_INT(out.trigger_us, 7000);
    CPT_EQ_INT(cpd_inbox_pop(&b, NULL, NULL, 10, &out, &ch), 0); /* empty: times out */
    atomic_int stop = 1;
    CPT_EQ_INT(cpd_inbox_pop(&b, NULL, &stop, 10, &out, &ch), -1);
    CPT_EQ_INT(cpd_inbox_fill_permille(&b), 0);
    cpd_inbox_free(&b);
}

CPT_TEST(channels_are_taken_round_robin)
{
    cpd_inbox b;
    CPT_ASSERT(cpd_inbox_init(&b, 3, 8));
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 2; i++) {
            cpd_item it = rec(c * 10 + i);
            CPT_ASSERT(cpd_chan_push(&b.ch[c], &it, NULL, NULL, NULL));
        }
    int64_t want[] = {0, 10, 20, 1, 11, 21};
    for (int k = 0; k < 6; k++) {
        cpd_item out;
        int ch;
        CPT_EQ_INT(cpd_inbox_pop(&b, NULL, NULL, 10, &out, &ch), 1);
        CPT_EQ_INT(out.u.src.offset, want[k]);
        CPT_EQ_INT(ch, want[k] / 10);
    }
    cpd_inbox_free(&b);
}

typedef struct writer {
    cpd_chan *c;
    int n;
    atomic_int stop, blocked, pushed;
    bool last_ok;
} writer;

static void *write_n(void *arg)
{
    writer *w = arg;
    for (int i = 0; i < w->n; i++) {
        cpd_item it = rec(i);
        w->last_ok = cpd_chan_push(w->c, &it, &w->stop, NULL, &w->blocked);
        if (!w->last_ok)
            break;
        atomic_fetch_add(&w->pushed, 1);
    }
    return NULL;
}

CPT_TEST(a_full_channel_blocks_its_writer_until_the_reader_takes)
{
    cpd_inbox b;
    CPT_ASSERT(cpd_inbox_init(&b, 1, 4));
    writer w = {.c = &b.ch[0], .n = 100};
    pthread_t th;
    CPT_ASSERT(pthread_create(&th, NULL, write_n, &w) == 0);
    for (int i = 0; i < 200 && !atomic_load(&w.blocked); i++)
        sleep_ms(5);
    CPT_ASSERT(atomic_load(&w.blocked)); /* backpressure, reported */
    CPT_EQ_INT(atomic_load(&w.pushed), 4);
    CPT_EQ_INT(cpd_inbox_fill_permille(&b), 1000);
    for (int i = 0; i < 100; i++) { /* every item arrives, in order */
        cpd_item out;
        int ch;
        int r;
        while ((r = cpd_inbox_pop(&b, NULL, NULL, 100, &out, &ch)) == 0) {
        }
        CPT_EQ_INT(r, 1);
        CPT_EQ_INT(out.u.src.offset, i);
    }
    pthread_join(th, NULL);
    CPT_ASSERT(w.last_ok);
    CPT_EQ_INT(atomic_load(&w.blocked), 0);
    cpd_inbox_free(&b);
}

CPT_TEST(stop_releases_a_blocked_writer)
{
    cpd_inbox b;
    CPT_ASSERT(cpd_inbox_init(&b, 1, 2));
    writer w = {.c = &b.ch[0], .n = 10};
    pthread_t th;
    CPT_ASSERT(pthread_create(&th, NULL, write_n, &w) == 0);
    for (int i = 0; i < 200 && !atomic_load(&w.blocked); i++)
        sleep_ms(5);
    CPT_ASSERT(atomic_load(&w.blocked));
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL); /* within the 100 ms it looks at the flag */
    CPT_ASSERT(!w.last_ok);
    CPT_EQ_INT(atomic_load(&w.pushed), 2);
    /* a cancelled writer still pushes while there is room; barriers may use
     * the event slots beyond the records' room */
    cpd_inbox c;
    CPT_ASSERT(cpd_inbox_init(&c, 1, 2));
    atomic_int cancel = 1;
    cpd_item r = rec(1), it = barrier(3);
    CPT_ASSERT(cpd_chan_push(&c.ch[0], &r, NULL, &cancel, NULL));
    CPT_ASSERT(cpd_chan_push(&c.ch[0], &r, NULL, &cancel, NULL));
    CPT_ASSERT(!cpd_chan_push(&c.ch[0], &r, NULL, &cancel, NULL)); /* full: no wait */
    for (int i = 0; i < CPD_CHAN_EVENT_SLOTS; i++)
        CPT_ASSERT(cpd_chan_push(&c.ch[0], &it, NULL, &cancel, NULL));
    CPT_ASSERT(!cpd_chan_push(&c.ch[0], &it, NULL, &cancel, NULL));
    cpd_inbox_free(&c);
    cpd_inbox_free(&b);
}

/* EXACTLY_ONCE alignment over two inputs: after barrier 1 on channel 0,
 * channel 0's later records wait while channel 1's flow, until barrier 1
 * arrives on channel 1 too. */
CPT_TEST(alignment_holds_a_channel_whose_barrier_is_in)
{
    cpd_inbox b;
    CPT_ASSERT(cpd_inbox_init(&b, 2, 8));
    cpd_align al;
    CPT_ASSERT(cpd_align_init(&al, 2, CPD_EXACTLY_ONCE));
    cpd_item items0[] = {rec(1), barrier(1), rec(2), rec(3)};
    cpd_item items1[] = {rec(101), rec(102), barrier(1), rec(103)};
    for (int i = 0; i < 4; i++) {
        CPT_ASSERT(cpd_chan_push(&b.ch[0], &items0[i], NULL, NULL, NULL));
        CPT_ASSERT(cpd_chan_push(&b.ch[1], &items1[i], NULL, NULL, NULL));
    }
    int64_t seen[8];
    int n = 0, done_at = -1;
    cpd_item out;
    int ch;
    while (n < 8 && cpd_inbox_pop(&b, &al, NULL, 10, &out, &ch) == 1) {
        if (out.kind == CPD_IT_BARRIER) {
            unsigned st = cpd_align_barrier(&al, ch, &out, n, NULL);
            seen[n++] = -out.cp;
            if (st & CPD_ALIGN_SNAPSHOT)
                done_at = n - 1;
        } else {
            seen[n++] = out.u.src.offset;
        }
    }
    CPT_EQ_INT(n, 8);
    /* before the alignment is done, nothing after channel 0's barrier */
    for (int i = 0; i < done_at; i++)
        CPT_ASSERTF(seen[i] != 2 && seen[i] != 3 && seen[i] != 103, "item %lld before the "
                    "barrier completed", (long long)seen[i]);
    CPT_ASSERT(done_at >= 0);
    int after = 0;
    for (int i = done_at + 1; i < n; i++)
        after += seen[i] == 2 || seen[i] == 3 || seen[i] == 103;
    CPT_EQ_INT(after, 3);
    cpd_align_free(&al);
    cpd_inbox_free(&b);
}

/* AT_LEAST_ONCE holds nothing back. */
CPT_TEST(at_least_once_does_not_hold_channels)
{
    cpd_inbox b;
    CPT_ASSERT(cpd_inbox_init(&b, 2, 8));
    cpd_align al;
    CPT_ASSERT(cpd_align_init(&al, 2, CPD_AT_LEAST_ONCE));
    cpd_item bar = barrier(1), r = rec(5);
    CPT_ASSERT(cpd_chan_push(&b.ch[0], &bar, NULL, NULL, NULL));
    CPT_ASSERT(cpd_chan_push(&b.ch[0], &r, NULL, NULL, NULL));
    cpd_item out;
    int ch;
    CPT_EQ_INT(cpd_inbox_pop(&b, &al, NULL, 10, &out, &ch), 1);
    CPT_EQ_INT(cpd_align_barrier(&al, ch, &out, 0, NULL), CPD_ALIGN_STARTED);
    CPT_EQ_INT(cpd_inbox_pop(&b, &al, NULL, 10, &out, &ch), 1);
    CPT_EQ_INT(out.u.src.offset, 5);
    cpd_align_free(&al);
    cpd_inbox_free(&b);
}

static cpd_item timeout_barrier(int64_t cp, int64_t trigger_us, int64_t timeout_us)
{
    cpd_item b = barrier(cp);
    b.mode = CPD_BAR_TIMEOUT;
    b.trigger_us = trigger_us;
    b.timeout_us = timeout_us;
    return b;
}

/* The producer side: a barrier put in the priority slot is taken before
 * everything queued, marked as having overtaken; the records it overtook
 * are copied out (they stay queued, behind it). A newer one replaces an
 * older one still waiting. */
CPT_TEST(a_barrier_overtakes_what_is_queued)
{
    cpd_inbox b;
    CPT_ASSERT(cpd_inbox_init(&b, 2, 4));
    for (int i = 1; i <= 4; i++) {
        cpd_item r = rec(i);
        CPT_ASSERT(cpd_chan_offer(&b.ch[1], &r, 0));
    }
    cpd_item r = rec(5);
    CPT_EQ_INT(cpd_chan_offer(&b.ch[1], &r, 0), 0); /* full */
    cpd_item out[CPD_CHAN_CAP + CPD_CHAN_EVENT_SLOTS], older = barrier(6), bar = barrier(7);
    CPT_EQ_INT(cpd_chan_overtake(&b.ch[1], &older, NULL), 0); /* nothing copied */
    CPT_EQ_INT(cpd_chan_overtake(&b.ch[1], &bar, out), 4);
    for (int i = 0; i < 4; i++)
        CPT_EQ_INT(out[i].u.src.offset, i + 1); /* oldest first */
    cpd_item got;
    int ch = -1;
    CPT_EQ_INT(cpd_inbox_take_priority(&b, &got, &ch), 1);
    CPT_EQ_INT(got.kind, CPD_IT_BARRIER);
    CPT_EQ_INT(got.cp, 7); /* 6 was replaced */
    CPT_EQ_INT(got.overtook, 1);
    CPT_EQ_INT(ch, 1);
    CPT_EQ_INT(cpd_inbox_take_priority(&b, &got, &ch), 0);
    /* through pop too, before the queued records */
    CPT_EQ_INT(cpd_chan_overtake(&b.ch[1], &bar, NULL), 0);
    CPT_EQ_INT(cpd_inbox_pop(&b, NULL, NULL, 0, &got, &ch), 1);
    CPT_EQ_INT(got.kind, CPD_IT_BARRIER);
    for (int i = 1; i <= 4; i++) {
        CPT_EQ_INT(cpd_inbox_pop(&b, NULL, NULL, 0, &got, &ch), 1);
        CPT_EQ_INT(got.u.src.offset, i);
    }
    cpd_inbox_free(&b);
}

/* The consumer side: a timeout barrier queued in band announces itself;
 * taken out of line, the records ahead of it are copied (and stay queued,
 * in order), the records behind it stay behind. A channel without it says
 * so. */
CPT_TEST(a_queued_barrier_is_announced_and_taken_out_of_line)
{
    cpd_inbox b;
    CPT_ASSERT(cpd_inbox_init(&b, 2, 8));
    int64_t deadline = 0;
    CPT_EQ_INT(cpd_inbox_announced(&b, &deadline), 0);
    unsigned seq = atomic_load(&b.announced_seq);
    cpd_item items[] = {rec(1), rec(2), timeout_barrier(4, 1000, 500), rec(3)};
    for (int i = 0; i < 4; i++)
        CPT_ASSERT(cpd_chan_offer(&b.ch[0], &items[i], 0));
    CPT_EQ_INT(cpd_inbox_announced(&b, &deadline), 4);
    CPT_EQ_INT(deadline, 1500);
    CPT_ASSERT(atomic_load(&b.announced_seq) != seq);
    cpd_item out[CPD_CHAN_CAP + CPD_CHAN_EVENT_SLOTS], bar;
    CPT_EQ_INT(cpd_inbox_extract(&b, 1, 4, &bar, out), -1); /* not on channel 1 */
    CPT_EQ_INT(cpd_inbox_extract(&b, 0, 5, &bar, out), -1); /* no such checkpoint */
    CPT_EQ_INT(cpd_inbox_extract(&b, 0, 4, &bar, out), 2);
    CPT_EQ_INT(bar.cp, 4);
    CPT_EQ_INT(out[0].u.src.offset, 1);
    CPT_EQ_INT(out[1].u.src.offset, 2);
    CPT_EQ_INT(cpd_inbox_extract(&b, 0, 4, &bar, out), -1); /* once */
    cpd_item got;
    int ch;
    for (int want = 1; want <= 3; want++) { /* the rest, in order, no barrier */
        CPT_EQ_INT(cpd_inbox_pop(&b, NULL, NULL, 0, &got, &ch), 1);
        CPT_EQ_INT(got.kind, CPD_IT_RECORD);
        CPT_EQ_INT(got.u.src.offset, want);
    }
    CPT_EQ_INT(cpd_inbox_pop(&b, NULL, NULL, 0, &got, &ch), 0);
    /* an aligned barrier in band is not a timeout one: not announced */
    cpd_item al = barrier(9);
    CPT_ASSERT(cpd_chan_offer(&b.ch[1], &al, 0));
    CPT_EQ_INT(cpd_inbox_announced(&b, NULL), 4);
    cpd_inbox_free(&b);
}

/* A full channel still takes barriers (CPD_CHAN_EVENT_SLOTS of them); a
 * writer waiting for room gives up after its wait. */
CPT_TEST(barriers_fit_a_full_channel_and_offers_wait_at_most_as_asked)
{
    cpd_inbox b;
    CPT_ASSERT(cpd_inbox_init(&b, 1, 2));
    cpd_item r = rec(1), bar = barrier(2);
    CPT_ASSERT(cpd_chan_offer(&b.ch[0], &r, 0) && cpd_chan_offer(&b.ch[0], &r, 0));
    int64_t t0 = cpt_now_ms();
    CPT_EQ_INT(cpd_chan_offer(&b.ch[0], &r, 50), 0);
    CPT_ASSERT(cpt_now_ms() - t0 >= 40);
    CPT_ASSERT(!cpd_chan_wait_room(&b.ch[0], 10));
    for (int i = 0; i < CPD_CHAN_EVENT_SLOTS; i++)
        CPT_EQ_INT(cpd_chan_offer(&b.ch[0], &bar, 0), 1);
    CPT_EQ_INT(cpd_chan_offer(&b.ch[0], &bar, 0), 0);
    CPT_EQ_INT(cpd_inbox_fill_permille(&b), 1000); /* capped: barriers are not fill */
    cpd_item got;
    int ch;
    CPT_EQ_INT(cpd_inbox_pop(&b, NULL, NULL, 0, &got, &ch), 1);
    CPT_ASSERT(cpd_chan_wait_room(&b.ch[0], 0) == false); /* still 2 + 8 - 1 items */
    cpd_inbox_free(&b);
}
