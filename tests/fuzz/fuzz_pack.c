/*
 * fuzz_pack.c — libFuzzer target for packed frames (protocol/cpw_pack.c),
 * what a recording keeps of an agent's events and a replay unpacks.
 *
 * Two ways in, on the same bytes:
 *  1. the bytes as a packed frame: cpw_unpack() either refuses them having
 *     delivered nothing, or delivers messages whose every field is in its
 *     documented range; each event re-encodes to JSON that the frame
 *     decoder reads whole, giving the identical event (an unpacked event is
 *     never one the live decoder would have refused);
 *  2. the bytes as a JSON frame: when it decodes, its messages packed and
 *     unpacked are the messages the decoder gave (the recorder's promise).
 *
 *   make fuzz-build && build/fuzz/fuzz_pack -dict=tests/fuzz/fuzz_pack.dict \
 *        build/fuzz/corpus-fuzz_pack tests/fuzz/corpus/fuzz_pack
 */
#include "fuzz_common.h"
#include "cpw_pack.h"

#include <stdint.h>

#define KEEP 64

typedef struct got {
    cpw_msg m[KEEP];   /* envelopes and events (owned parts dropped) */
    size_t n;
} got;

static int keep(void *opaque, cpw_msg *m)
{
    got *g = opaque;
    fz_msg(m);
    if (g->n < KEEP) {
        g->m[g->n] = *m;
        g->m[g->n].hello = NULL;
        g->m[g->n].heartbeat.subtasks = NULL;
        g->m[g->n].cmd = NULL;
        g->m[g->n].reply = NULL;
    }
    g->n++;
    return 0;
}

static void reread(const cpw_msg *m)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {m->job, m->seq, m->ts_us};
    cpw_encode_event(&b, &env, &m->ev);
    FZ_CHECK(!b.failed);
    got g = {0};
    cpw_error e = {0};
    cpw_err rc = cpw_decode_frame(b.data, b.len, keep, &g, NULL, &e);
    if (rc != CPW_OK) {
        fprintf(stderr, "an unpacked event the decoder refuses: %s: %s\n%.*s\n",
                cpw_err_name(rc), e.text, (int)b.len, b.data);
        abort();
    }
    FZ_CHECK(g.n == 1 && g.m[0].whole && g.m[0].kind == CPW_K_EVENT);
    FZ_CHECK(!strcmp(g.m[0].job, m->job) && g.m[0].seq == m->seq && g.m[0].ts_us == m->ts_us);
    FZ_CHECK(!memcmp(&g.m[0].ev, &m->ev, sizeof m->ev));
    cpw_buf_free(&b);
}

static bool same(const cpw_msg *a, const cpw_msg *b)
{
    return a->kind == b->kind && a->v == b->v && !strcmp(a->job, b->job) && a->seq == b->seq &&
           a->ts_us == b->ts_us && (a->kind != CPW_K_EVENT || !memcmp(&a->ev, &b->ev, sizeof a->ev));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 1. a packed frame */
    static got g; /* large: not on the stack */
    memset(&g, 0, sizeof g);
    cpw_error e = {0};
    size_t count = 0;
    cpw_err rc = cpw_unpack(data, size, keep, &g, &count, &e);
    if (rc != CPW_OK) {
        FZ_CHECK(g.n == 0 && count == 0 && e.code == rc && e.offset <= size && e.text[0]);
    } else {
        FZ_CHECK(count == g.n && g.n > 0);
        for (size_t i = 0; i < g.n && i < KEEP; i++)
            if (g.m[i].kind == CPW_K_EVENT)
                reread(&g.m[i]);
    }

    /* 2. a JSON frame, packed and unpacked */
    static got dec, back;
    memset(&dec, 0, sizeof dec);
    memset(&back, 0, sizeof back);
    if (cpw_decode_frame((const char *)data, size, keep, &dec, NULL, &e) != CPW_OK ||
        dec.n > KEEP || !dec.n)
        return 0;
    cpw_pack p;
    cpw_pack_init(&p);
    for (size_t i = 0; i < dec.n; i++)
        cpw_pack_add(&p, &dec.m[i], (const char *)data, size);
    if (!p.failed) {
        FZ_CHECK(p.events + p.raw == dec.n);
        rc = cpw_unpack(p.out.data, p.out.len, keep, &back, NULL, &e);
        if (rc != CPW_OK) {
            fprintf(stderr, "a packed frame that does not unpack: %s\n", e.text);
            abort();
        }
        FZ_CHECK(back.n == dec.n);
        for (size_t i = 0; i < dec.n; i++)
            FZ_CHECK(same(&back.m[i], &dec.m[i]));
    }
    cpw_pack_free(&p);
    return 0;
}
