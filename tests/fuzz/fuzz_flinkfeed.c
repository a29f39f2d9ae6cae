/*
 * fuzz_flinkfeed.c — libFuzzer target for cptop's Flink feed
 * (tui/cpt_flink_feed*.c): successive REST answers, as a hostile or broken
 * JobManager (or a recording) would give them, turned into messages.
 *
 * The input is a sequence of responses separated by a 0x1e byte; the first
 * byte of each picks its path (and an HTTP status), the rest is the body.
 * Invariants (abort() when broken): messages come with consecutive seqs;
 * the state stays within its bounds; a copy of it always decodes.
 *
 *   make fuzz-build && build/fuzz/fuzz_flinkfeed build/fuzz/corpus-fuzz_flinkfeed \
 *        tests/fuzz/corpus/fuzz_flinkfeed
 */
#include "cpt_flink_feed.h"
#include "fuzz_common.h"

#define JID "0123456789abcdef0123456789abcdef"
#define VID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const char *const paths[] = {
    "/config",
    "/jobs/overview",
    "/jobs/" JID,
    "/jobs/" JID "/checkpoints",
    "/jobs/" JID "/checkpoints/config",
    "/jobs/" JID "/checkpoints/details/1",
    "/jobs/" JID "/checkpoints/details/2",
    "/jobs/" JID "/checkpoints/details/1/subtasks/" VID,
    "/jobs/" JID "/checkpoints/details/2/subtasks/" VID,
};

typedef struct seen {
    uint64_t last;
} seen;

static int on_msg(void *ud, const cpw_msg *m)
{
    seen *s = ud;
    FZ_CHECK(m->seq == s->last + 1);
    s->last = m->seq;
    if (m->kind == CPW_K_HELLO) {
        FZ_CHECK(m->hello->n_ops >= 0 && m->hello->n_ops <= CPW_MAX_OPERATORS);
        fz_str(m->hello->name, sizeof m->hello->name);
    } else if (m->kind == CPW_K_EVENT && m->ev.type == CPW_EV_CP_FAILED) {
        fz_str(m->ev.u.failed.message, sizeof m->ev.u.failed.message);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    seen s = {0};
    cpt_flink_feed *f = cpt_flink_feed_new(JID, 16, 8, on_msg, &s);
    if (!f)
        return 0;
    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        const uint8_t *q = memchr(p, 0x1e, (size_t)(end - p));
        if (!q)
            q = end;
        if (q > p) {
            const char *path = paths[p[0] % (sizeof paths / sizeof paths[0])];
            int status = p[0] & 0x80 ? 404 : 200;
            char err[300];
            cpt_flink_feed_body(f, path, status, (const char *)p + 1, (size_t)(q - p - 1),
                                (int64_t)(q - data) * 1000, err, sizeof err);
            fz_str(err, sizeof err);
            /* the detail screen on checkpoint 1 or 2 (figures asked for late) */
            char want[16][160], note[200];
            cpt_flink_feed_want_detail(f, 1 + (p[0] & 1));
            cpt_flink_feed_detail_note(f, 1 + (p[0] & 1), note, sizeof note);
            fz_str(note, sizeof note);
            int n = cpt_flink_feed_wanted(f, want, 16);
            FZ_CHECK(n >= 0 && n <= 16);
        }
        p = q + 1;
    }
    const cpw_state *st = cpt_flink_feed_state(f);
    FZ_CHECK(st->n_inflight >= 0 && st->n_inflight <= CPW_MAX_INFLIGHT);
    FZ_CHECK(st->n_history >= 0 && st->n_history <= 16);
    cpw_state *c = cpt_flink_feed_copy(f, -1);
    FZ_CHECK(c != NULL);
    FZ_CHECK(c->n_history == st->n_history);
    cpw_state_free(c);
    cpt_flink_feed_destroy(f);
    return 0;
}
