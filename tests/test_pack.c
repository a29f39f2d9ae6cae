/*
 * test_pack.c — packed frames (protocol/cpw_pack.c), what recordings keep of
 * an agent's events: a frame decoded, packed and unpacked gives back the
 * very messages the decoder gave; whatever the packer cannot represent
 * (a hello, a heartbeat, a member this build does not read, a type it does
 * not know, another job) keeps its JSON bytes; hostile packed input (cut
 * anywhere, values out of range, bad strings) is refused whole.
 */
#include "cpt_test.h"
#include "cpw.h"
#include "cpw_pack.h"

#include <stdint.h>

#define JOB "job-7"
#define T0 INT64_C(1700000000000000)

static const char WEIRD[] = "q\"uote\\back\nnl\t\x01\x7f é 日本 😀 end";

static cpw_event ev_of(cpw_event_type t, int64_t id, int op, int sub)
{
    cpw_event e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.cp_id = id;
    e.op = op;
    e.subtask = sub;
    return e;
}

/* One event of every type, fields at their bounds and strings awkward; ids,
 * seqs and times jump both ways, so every delta is exercised. */
static int samples(cpw_event *out)
{
    int n = 0;
    cpw_event e = ev_of(CPW_EV_CP_TRIGGERED, 7, -1, -1);
    e.u.triggered.kind = CPW_TRIGGER_MANUAL;
    e.u.triggered.alignment = CPW_ALIGN_TIMEOUT;
    out[n++] = e;
    out[n++] = ev_of(CPW_EV_BARRIER_INJECTED, 7, 0, 0);
    e = ev_of(CPW_EV_BARRIER_RECEIVED, INT64_MAX, 2, 1);
    e.u.barrier.channel = CPW_MAX_PARALLELISM * 4;
    out[n++] = e;
    out[n++] = ev_of(CPW_EV_ALIGNMENT_START, 1, 2, 1);
    e = ev_of(CPW_EV_ALIGNMENT_END, 3, 2, 1);
    e.u.alignment.buffered_bytes = 123456789;
    e.u.alignment.duration_us = 4321;
    out[n++] = e;
    out[n++] = ev_of(CPW_EV_SNAPSHOT_START, 3, 2, 1);
    e = ev_of(CPW_EV_SNAPSHOT_SYNC_DONE, 3, 2, 1);
    e.u.sync.duration_us = 987;
    out[n++] = e;
    e = ev_of(CPW_EV_SNAPSHOT_ASYNC_DONE, 3, 2, 1);
    e.u.async.bytes = INT64_C(5555555555);
    e.u.async.duration_us = 65432;
    out[n++] = e;
    e = ev_of(CPW_EV_ACK, 3, CPW_MAX_OPERATORS - 1, CPW_MAX_PARALLELISM - 1);
    e.u.ack = (cpw_ack_info){INT64_MAX, 2222, 3333, 4444, 5555, 6666, 7777, 0, 1};
    out[n++] = e;
    e = ev_of(CPW_EV_DECLINE, 3, 1, 0);
    snprintf(e.u.decline.reason, sizeof e.u.decline.reason, "%s", WEIRD);
    out[n++] = e;
    e = ev_of(CPW_EV_CP_COMPLETED, 3, -1, -1);
    e.u.completed.duration_us = 99999;
    e.u.completed.state_size = INT64_C(1) << 40;
    e.u.completed.checkpointed_size = 0;
    out[n++] = e;
    e = ev_of(CPW_EV_CP_FAILED, 8, -1, -1);
    e.u.failed.reason = CPW_FAIL__COUNT - 1;
    memset(e.u.failed.message, 'm', CPW_TEXT_MAX - 1); /* the longest there is */
    out[n++] = e;
    out[n++] = ev_of(CPW_EV_CP_COMMITTED, 2, -1, -1);
    e = ev_of(CPW_EV_JOB_STATUS, 0, -1, -1);
    e.u.job_status.status = CPW_JOB_RESTARTING;
    out[n++] = e; /* an empty message */
    e = ev_of(CPW_EV_RESTORED, 0, -1, -1);
    e.u.restored.attempt = INT32_MAX;
    out[n++] = e;
    e = ev_of(CPW_EV_FAILURE_INJECTED, 0, -1, -1);
    snprintf(e.u.failure.kind, sizeof e.u.failure.kind, "kill");
    snprintf(e.u.failure.params, sizeof e.u.failure.params, "%s", WEIRD);
    out[n++] = e;
    e = ev_of(CPW_EV_FAILURE_INJECTED, 0, 1, -1); /* the decoder allows either alone */
    snprintf(e.u.failure.kind, sizeof e.u.failure.kind, "stall");
    out[n++] = e;
    e = ev_of(CPW_EV_TASK_FAILED, 0, 3, 2);
    snprintf(e.u.task_failed.error, sizeof e.u.task_failed.error, "%s", WEIRD);
    out[n++] = e;
    e = ev_of(CPW_EV_SWITCHED_TO_UNALIGNED, 9, 3, 1);
    e.u.switched.elapsed_us = 2500123;
    e.u.switched.timeout_us = 2000000;
    out[n++] = e;
    return n;
}

static const uint64_t SEQS[] = {5, 6, 7, 100, 99, UINT64_MAX, 0, 1, 2, 3,
                                4, 1000000, 1000001, 17, 18, 19, 20, 21, 22, 23};
static const int64_t TS[] = {T0, T0 + 1, T0 - 5, 0, INT64_MAX, T0, T0, T0 + 9, 1, 2,
                             3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* What a callback saw: copies of the messages (events and envelopes). */
typedef struct seen {
    cpw_msg m[64];
    int n;
    int stop_at; /* >0: ask to stop after that many */
} seen;

static int collect(void *ud, cpw_msg *m)
{
    seen *s = ud;
    if (s->n < 64) {
        s->m[s->n] = *m;
        s->m[s->n].hello = NULL; /* owned by the decoder, cleared after us */
        s->m[s->n].heartbeat.subtasks = NULL;
        s->m[s->n].cmd = NULL;
        s->m[s->n].reply = NULL;
    }
    s->n++;
    return s->stop_at && s->n >= s->stop_at;
}

/* An NDJSON frame of the samples. */
static void frame_of(cpw_buf *b, const cpw_event *ev, int n)
{
    CPT_ASSERT(n <= (int)(sizeof SEQS / sizeof SEQS[0]));
    for (int i = 0; i < n; i++) {
        cpw_envelope env = {JOB, SEQS[i], TS[i]};
        cpw_encode_event(b, &env, &ev[i]);
        cpw_buf_reserve(b, 1);
        b->data[b->len++] = '\n';
    }
    CPT_ASSERT(!b->failed);
}

/* Decodes frame, packs every message as a recorder does; the pack. */
static void pack_frame(const cpw_buf *frame, cpw_pack *p, seen *dec)
{
    memset(dec, 0, sizeof *dec);
    cpw_error err;
    CPT_ASSERTF(cpw_decode_frame(frame->data, frame->len, collect, dec, NULL, &err) == CPW_OK,
                "decode: %s", err.text);
    cpw_pack_reset(p);
    for (int i = 0; i < dec->n; i++)
        cpw_pack_add(p, &dec->m[i], frame->data, frame->len);
    CPT_ASSERT(!p->failed);
}

/* Every sample, one NDJSON frame, decoded and packed; how many. */
static int packed_samples(cpw_buf *frame, cpw_pack *p, seen *dec)
{
    cpw_event ev[32];
    int n = samples(ev);
    cpw_buf_init(frame);
    frame_of(frame, ev, n);
    cpw_pack_init(p);
    pack_frame(frame, p, dec);
    return n;
}

static void same_msg(const cpw_msg *got, const cpw_msg *want, int i)
{
    CPT_ASSERTF(got->kind == want->kind, "message %d: kind %d, expected %d", i, got->kind,
                want->kind);
    CPT_EQ_INT(got->v, want->v);
    CPT_EQ_STR(got->job, want->job);
    CPT_ASSERTF(got->seq == want->seq, "message %d: seq %llu, expected %llu", i,
                (unsigned long long)got->seq, (unsigned long long)want->seq);
    CPT_EQ_INT(got->ts_us, want->ts_us);
    CPT_ASSERTF(!memcmp(&got->ev, &want->ev, sizeof got->ev), "message %d (%s): event differs",
                i, cpw_event_type_name(want->ev.type));
}

/* ------------------------------------------------------------------ tests */

CPT_TEST(every_event_type_comes_back_as_the_decoder_gave_it)
{
    cpw_buf frame;
    cpw_pack p;
    seen dec, got = {0};
    int n = packed_samples(&frame, &p, &dec);
    CPT_EQ_INT(dec.n, n);
    for (int i = 0; i < n; i++)
        CPT_ASSERTF(dec.m[i].whole, "%s: not read whole", cpw_event_type_name(dec.m[i].ev.type));
    CPT_EQ_INT(p.events, n);
    CPT_EQ_INT(p.raw, 0);
    size_t count = 0;
    cpw_error err;
    CPT_ASSERTF(cpw_unpack(p.out.data, p.out.len, collect, &got, &count, &err) == CPW_OK,
                "unpack: %s", err.text);
    CPT_EQ_INT(count, n);
    CPT_EQ_INT(got.n, n);
    for (int i = 0; i < n; i++)
        same_msg(&got.m[i], &dec.m[i], i);
    /* and it is what a recording is for: far smaller than the JSON */
    CPT_ASSERTF(p.out.len * 2 < frame.len, "%zu packed bytes for %zu of JSON", p.out.len,
                frame.len);
    cpw_pack_free(&p);
    cpw_buf_free(&frame);
}

CPT_TEST(a_member_this_build_does_not_read_keeps_the_message_whole_as_bytes)
{
    cpw_event ev[32];
    int n = samples(ev);
    for (int i = 0; i < n; i++) {
        /* the event with one member more, between two packable ones */
        cpw_buf frame;
        cpw_buf_init(&frame);
        frame_of(&frame, ev, 1);
        size_t at = frame.len;
        frame_of(&frame, &ev[i], 1);
        CPT_ASSERT(frame.data[frame.len - 2] == '}');
        const char extra[] = ",\"since_v2\":[1,{\"x\":2}]}\n";
        frame.len -= 2;
        cpw_buf_reserve(&frame, sizeof extra);
        memcpy(frame.data + frame.len, extra, sizeof extra - 1);
        frame.len += sizeof extra - 1;
        frame_of(&frame, ev, 1);
        cpw_pack p;
        cpw_pack_init(&p);
        seen dec, got = {0};
        pack_frame(&frame, &p, &dec);
        CPT_EQ_INT(dec.n, 3);
        CPT_ASSERTF(!dec.m[1].whole, "%s: an extra member went unnoticed",
                    cpw_event_type_name(ev[i].type));
        CPT_EQ_INT(dec.m[1].at, at);
        CPT_EQ_INT(p.events, 2);
        CPT_EQ_INT(p.raw, 1);
        /* the kept bytes are the object itself, extra member and all */
        CPT_ASSERT(memmem(p.out.data, p.out.len, "since_v2", 8) != NULL);
        cpw_error err;
        CPT_ASSERTF(cpw_unpack(p.out.data, p.out.len, collect, &got, NULL, &err) == CPW_OK,
                    "unpack: %s", err.text);
        CPT_EQ_INT(got.n, 3);
        for (int k = 0; k < 3; k++)
            same_msg(&got.m[k], &dec.m[k], k);
        cpw_pack_free(&p);
        cpw_buf_free(&frame);
    }
}

CPT_TEST(hellos_heartbeats_unknown_types_and_other_jobs_keep_their_bytes)
{
    const char frame[] =
        "[{\"v\":1,\"type\":\"hello\",\"job\":\"" JOB "\",\"seq\":1,\"ts_us\":5,\"name\":\"n\","
        "\"pid\":3,\"operators\":[{\"name\":\"src\",\"parallelism\":2}],\"edges\":[],"
        "\"config\":{}},\n"
        " {\"v\":1,\"type\":\"cp_committed\",\"job\":\"" JOB "\",\"seq\":2,\"ts_us\":6,\"id\":4},"
        " {\"v\":1,\"type\":\"heartbeat\",\"job\":\"" JOB "\",\"seq\":3,\"ts_us\":7,"
        "\"agent\":{\"emitted\":1,\"sent\":1,\"dropped\":0},\"subtasks\":[[0,1,5,6,100,1]]},"
        " {\"v\":1,\"type\":\"from_the_future\",\"job\":\"" JOB "\",\"seq\":4,\"ts_us\":8},"
        " {\"v\":1,\"type\":\"cp_committed\",\"job\":\"other\",\"seq\":5,\"ts_us\":9,\"id\":4}]";
    cpw_buf b = {(char *)frame, sizeof frame - 1, sizeof frame, false};
    cpw_pack p;
    cpw_pack_init(&p);
    seen dec, got = {0};
    pack_frame(&b, &p, &dec);
    CPT_EQ_INT(dec.n, 5);
    CPT_EQ_INT(p.events, 1);
    CPT_EQ_INT(p.raw, 4);
    cpw_error err;
    CPT_ASSERTF(cpw_unpack(p.out.data, p.out.len, collect, &got, NULL, &err) == CPW_OK,
                "unpack: %s", err.text);
    CPT_EQ_INT(got.n, 5);
    CPT_EQ_INT(got.m[0].kind, CPW_K_HELLO);
    CPT_EQ_INT(got.m[2].kind, CPW_K_HEARTBEAT);
    CPT_EQ_INT(got.m[3].kind, CPW_K_UNKNOWN);
    for (int k = 0; k < 5; k++) {
        CPT_EQ_INT(got.m[k].seq, k + 1);
        CPT_EQ_INT(got.m[k].ts_us, k + 5);
    }
    CPT_EQ_STR(got.m[4].job, "other");
    same_msg(&got.m[1], &dec.m[1], 1);
    same_msg(&got.m[4], &dec.m[4], 4);
    cpw_pack_free(&p);
}

CPT_TEST(a_stop_from_the_callback_stops_delivery)
{
    cpw_buf frame;
    cpw_pack p;
    seen dec, got = {.stop_at = 3};
    packed_samples(&frame, &p, &dec);
    cpw_error err;
    size_t count = 0;
    CPT_EQ_INT(cpw_unpack(p.out.data, p.out.len, collect, &got, &count, &err), CPW_OK);
    CPT_EQ_INT(got.n, 3);
    CPT_EQ_INT(count, 3);
    cpw_pack_free(&p);
    cpw_buf_free(&frame);
}

/* A packed frame cut short anywhere, or with any one byte changed, is
 * refused or unpacks into messages the JSON decoder would accept: and a
 * refused one delivers nothing. */
CPT_TEST(hostile_packed_frames_are_refused_whole)
{
    cpw_buf frame;
    cpw_pack p;
    seen dec;
    int n = packed_samples(&frame, &p, &dec);
    cpw_error err;
    size_t cuts = 0;
    for (size_t cut = 0; cut < p.out.len; cut++) {
        seen got = {0};
        cpw_err e = cpw_unpack(p.out.data, cut, collect, &got, NULL, &err);
        if (e) {
            CPT_ASSERTF(got.n == 0, "cut at %zu: %d delivered before the error", cut, got.n);
            cuts++;
        }
    }
    /* a cut between whole entries is a shorter valid frame; any other fails */
    CPT_ASSERTF(cuts + n >= p.out.len, "only %zu of %zu cuts refused", cuts, p.out.len);
    unsigned char *buf = malloc(p.out.len);
    for (size_t i = 0; i < p.out.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, p.out.data, p.out.len);
            buf[i] ^= (unsigned char)(1u << bit);
            seen got = {0};
            if (cpw_unpack(buf, p.out.len, collect, &got, NULL, &err) != CPW_OK) {
                CPT_EQ_INT(got.n, 0);
                continue;
            }
            for (int k = 0; k < got.n && k < 64; k++) {
                if (got.m[k].kind != CPW_K_EVENT)
                    continue;
                /* what came out re-encodes to JSON the decoder takes whole */
                cpw_buf j;
                cpw_buf_init(&j);
                cpw_envelope env = {got.m[k].job, got.m[k].seq, got.m[k].ts_us};
                cpw_encode_event(&j, &env, &got.m[k].ev);
                cpw_msg back;
                CPT_ASSERTF(cpw_decode_one(j.data, j.len, &back, &err) == CPW_OK,
                            "byte %zu bit %d: unpacked %.*s, which the decoder refuses: %s", i,
                            bit, (int)j.len, j.data, err.text);
                CPT_ASSERT(!memcmp(&back.ev, &got.m[k].ev, sizeof back.ev));
                cpw_msg_clear(&back);
                cpw_buf_free(&j);
            }
        }
    free(buf);
    cpw_pack_free(&p);
    cpw_buf_free(&frame);
}

CPT_TEST(bad_packed_frames_name_what_is_wrong)
{
    static const struct {
        const char *bytes;
        size_t len;
        cpw_err code;
    } cases[] = {
        {"", 0, CPW_ERR_EMPTY},
        {"\x02\x02\x01x", 4, CPW_ERR_VERSION},                 /* format 2 */
        {"\x01\x04\x01x", 4, CPW_ERR_BAD_VALUE},               /* v 2 */
        {"\x01\x02\x01x", 4, CPW_ERR_EMPTY},                   /* no messages */
        {"\x01\x02\x01x\x63", 5, CPW_ERR_UNKNOWN_TYPE},        /* tag 99 */
        {"\x01\x02\x01x\x02\x00\x00\x02\x41\x01", 10, CPW_ERR_BAD_VALUE},  /* op 64 */
        {"\x01\x02\x01x\x02\x00\x00\x02\x00\x01", 10, CPW_ERR_BAD_VALUE},  /* op -1 */
        {"\x01\x02\x01x\x02\x00\x00\x00\x01\x01", 10, CPW_ERR_BAD_VALUE},  /* id 0 */
        {"\x01\x02\x01x\x02\x00\x01", 7, CPW_ERR_BAD_VALUE},   /* ts -1 */
        {"\x01\x02\x02x\x00", 5, CPW_ERR_NUL_BYTE},            /* job "x\0" */
        {"\x01\x02\x01\xff", 4, CPW_ERR_BAD_UTF8},             /* job "\xff" */
        {"\x01\x02\x41", 3, CPW_ERR_STRING_TOO_LONG},          /* job of 65 */
        {"\x01\x02\x01x\x00\x02[]", 8, CPW_ERR_NOT_OBJECT},    /* kept bytes not an object */
        {"\x01\x02\x01x\x00\x05{\"v\":", 11, CPW_ERR_TRUNCATED},
        {"\x01\x02\x01x\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 15, CPW_ERR_BAD_VALUE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        seen got = {0};
        cpw_error err = {0};
        cpw_err e = cpw_unpack(cases[i].bytes, cases[i].len, collect, &got, NULL, &err);
        CPT_ASSERTF(e == cases[i].code, "case %zu: %s (%s), expected %s", i, cpw_err_name(e),
                    err.text, cpw_err_name(cases[i].code));
        CPT_EQ_INT(got.n, 0);
        CPT_ASSERT(strstr(err.text, "packed frame") != NULL);
    }
}

CPT_TEST(the_member_counts_follow_the_encoder)
{
    cpw_event ev[32];
    int n = samples(ev);
    for (int i = 0; i < n; i++) {
        cpw_buf b;
        cpw_buf_init(&b);
        frame_of(&b, &ev[i], 1);
        int members = 0;
        for (size_t k = 0; k < b.len; k++)
            members += b.data[k] == ':' && b.data[k - 1] == '"';
        /* strings above hold no '":' of their own */
        CPT_ASSERTF(members == cpw_pack_members(ev[i].type), "%s: %d members on the wire, %d",
                    cpw_event_type_name(ev[i].type), members, cpw_pack_members(ev[i].type));
        cpw_buf_free(&b);
    }
    CPT_EQ_INT(cpw_pack_members(CPW_EV_NONE), 0);
    CPT_EQ_INT(cpw_pack_members(CPW_EV__COUNT), 0);
}
