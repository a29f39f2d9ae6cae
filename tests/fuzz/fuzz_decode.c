/*
 * fuzz_decode.c — libFuzzer target for what a dashboard reads from the event
 * socket: cpw_decode_frame() (one message, a JSON array or NDJSON) with a
 * callback that touches every decoded field and folds the messages into a
 * cpw_state, as cptop does; then cpw_decode_one() on the same bytes.
 *
 * Invariants (abort() when broken):
 *  - every decoded field is within its documented range and NUL-terminated;
 *  - a failed decode leaves the message cleared and the error filled;
 *  - cpw_decode_one and cpw_decode_frame agree on a single message;
 *  - a decoded event, hello or heartbeat re-encodes to bytes that decode to
 *    the identical message;
 *  - the state folded from the frame survives a get_state reply round trip.
 *
 *   make fuzz-build && build/fuzz/fuzz_decode -dict=tests/fuzz/fuzz_decode.dict \
 *        build/fuzz/corpus-fuzz_decode tests/fuzz/corpus/fuzz_decode
 */
#include "fuzz_common.h"

#include <stdint.h>

typedef struct fz_ctx {
    cpw_state *state;
    size_t n;
} fz_ctx;

static int on_msg(void *opaque, cpw_msg *m)
{
    fz_ctx *c = opaque;
    fz_msg(m);
    if (c->n++ == 0)
        snprintf(c->state->job, sizeof c->state->job, "%s", m->job);
    switch (m->kind) {
    case CPW_K_HELLO:
        cpw_state_set_hello(c->state, m->hello);
        c->state->seq = m->seq;
        if (c->n & 1) { /* a callback may take what the message owns */
            free(m->hello);
            m->hello = NULL;
        }
        break;
    case CPW_K_EVENT:
        cpw_state_apply(c->state, &m->ev, m->seq);
        break;
    case CPW_K_HEARTBEAT:
        c->state->seq = m->seq;
        c->state->agent_emitted = m->heartbeat.emitted;
        c->state->agent_sent = m->heartbeat.sent;
        c->state->agent_dropped = m->heartbeat.dropped;
        break;
    default:
        break;
    }
    return 0;
}

static void roundtrip_event(const cpw_msg *m)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {m->job, m->seq, m->ts_us};
    cpw_encode_event(&b, &env, &m->ev);
    FZ_CHECK(!b.failed);
    cpw_msg m2;
    cpw_error e = {0};
    cpw_err rc = cpw_decode_one(b.data, b.len, &m2, &e);
    if (rc != CPW_OK) {
        fprintf(stderr, "event re-decode failed: %s: %s\n%s\n", cpw_err_name(rc), e.text, b.data);
        abort();
    }
    FZ_CHECK(m2.kind == CPW_K_EVENT);
    FZ_CHECK(strcmp(m2.job, m->job) == 0 && m2.seq == m->seq && m2.ts_us == m->ts_us);
    if (memcmp(&m2.ev, &m->ev, sizeof m->ev) != 0) {
        fprintf(stderr, "event round trip differs: %s\n", b.data);
        abort();
    }
    cpw_msg_clear(&m2);
    cpw_buf_free(&b);
}

static void roundtrip_hello(const cpw_msg *m)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {m->job, m->seq, m->ts_us};
    cpw_encode_hello(&b, &env, m->hello);
    FZ_CHECK(!b.failed);
    cpw_msg m2;
    cpw_error e = {0};
    cpw_err rc = cpw_decode_one(b.data, b.len, &m2, &e);
    if (rc != CPW_OK) {
        fprintf(stderr, "hello re-decode failed: %s: %s\n%s\n", cpw_err_name(rc), e.text, b.data);
        abort();
    }
    FZ_CHECK(m2.kind == CPW_K_HELLO && fz_hello_eq(m2.hello, m->hello));
    cpw_msg_clear(&m2);
    cpw_buf_free(&b);
}

static void roundtrip_heartbeat(const cpw_msg *m)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {m->job, m->seq, m->ts_us};
    cpw_encode_heartbeat(&b, &env, &m->heartbeat);
    FZ_CHECK(!b.failed);
    cpw_msg m2;
    cpw_error e = {0};
    cpw_err rc = cpw_decode_one(b.data, b.len, &m2, &e);
    if (rc != CPW_OK) {
        fprintf(stderr, "heartbeat re-decode failed: %s: %s\n", cpw_err_name(rc), e.text);
        abort();
    }
    const cpw_heartbeat *x = &m2.heartbeat, *y = &m->heartbeat;
    FZ_CHECK(m2.kind == CPW_K_HEARTBEAT && x->n == y->n && x->emitted == y->emitted &&
             x->sent == y->sent && x->dropped == y->dropped);
    for (int i = 0; i < x->n; i++)
        FZ_CHECK(memcmp(&x->subtasks[i], &y->subtasks[i], sizeof x->subtasks[i]) == 0);
    cpw_msg_clear(&m2);
    cpw_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;

    /* 1. the frame, folded into a state */
    fz_ctx c = {.state = cpw_state_new(8, 4)};
    if (!c.state)
        return 0;
    size_t count = 0;
    cpw_error fe = {0};
    cpw_err frc = cpw_decode_frame(buf, size, on_msg, &c, &count, &fe);
    FZ_CHECK(count == c.n);
    if (frc != CPW_OK)
        fz_check_failure(frc, &fe, NULL, size);
    fz_state(c.state);
    /* seq is a 64-bit unsigned on the envelope but the state's "seq" is
     * read as a signed 64-bit integer (jansson): beyond 2^63-1 it cannot
     * round-trip, which no agent reaches (it counts from 1). */
    if (c.n && c.state->seq <= (uint64_t)INT64_MAX) {
        fz_state_roundtrip(c.state, -1);
        fz_state_roundtrip(c.state, 1);
    }
    cpw_state_free(c.state);

    /* the same without a callback: same result, same count */
    size_t count2 = 0;
    FZ_CHECK(cpw_decode_frame(buf, size, NULL, NULL, &count2, NULL) == frc && count2 == count);

    /* 2. one message */
    cpw_msg m;
    cpw_error e = {0};
    cpw_err rc = cpw_decode_one(buf, size, &m, &e);
    if (rc != CPW_OK) {
        fz_check_failure(rc, &e, &m, size);
        size_t p = 0;
        while (p < size && (buf[p] == ' ' || buf[p] == '\t' || buf[p] == '\r' || buf[p] == '\n'))
            p++;
        bool array = p < size && buf[p] == '[';
        /* a lone message that fails fails the same way as a frame, but for
         * an unknown type, which a frame delivers with its envelope only */
        if (rc == CPW_ERR_UNKNOWN_TYPE && !array)
            FZ_CHECK(frc == CPW_OK && count == 1);
        else if (rc != CPW_ERR_TRAILING && !(rc == CPW_ERR_NOT_OBJECT && array) &&
                 rc != CPW_ERR_UNKNOWN_TYPE)
            FZ_CHECK(frc == rc && count == 0);
        return 0;
    }
    FZ_CHECK(frc == CPW_OK && count == 1);
    fz_msg(&m);
    switch (m.kind) {
    case CPW_K_EVENT:
        roundtrip_event(&m);
        break;
    case CPW_K_HELLO:
        roundtrip_hello(&m);
        break;
    case CPW_K_HEARTBEAT:
        roundtrip_heartbeat(&m);
        break;
    default:
        break;
    }
    cpw_msg_clear(&m);
    return 0;
}
