/*
 * test_proto_unaligned.c — what unaligned checkpoints add to the protocol:
 * cp_triggered's "alignment" (optional: older agents send none), the
 * switched_to_unaligned event, the fold's checkpoint type (aligned,
 * unaligned, switched) and persisted bytes, and their place in the
 * get_state result (additive: a state without them still decodes).
 */
#include "cpt_test.h"
#include "cpw.h"
#include "cpw_state.h"

#define JOB "uc-job"
#define T0 INT64_C(1700000000000000)

static cpw_event mkev(cpw_event_type t, int64_t id, int op, int sub, int64_t ts)
{
    cpw_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = t;
    ev.cp_id = id;
    ev.op = op;
    ev.subtask = sub;
    ev.ts_us = ts;
    return ev;
}

static cpw_err decode(const char *text, cpw_msg *m, cpw_error *e)
{
    memset(e, 0, sizeof *e);
    return cpw_decode_one(text, strlen(text), m, e);
}

CPT_TEST(triggered_alignment_is_optional_and_checked)
{
    cpw_msg m;
    cpw_error e;
    const char *old = "{\"v\":1,\"type\":\"cp_triggered\",\"job\":\"j\",\"seq\":1,\"ts_us\":5,"
                      "\"id\":3,\"kind\":\"periodic\"}";
    CPT_EQ_INT(decode(old, &m, &e), CPW_OK);
    CPT_EQ_INT(m.ev.u.triggered.alignment, CPW_ALIGN_ALIGNED);
    cpw_msg_clear(&m);
    const char *un = "{\"v\":1,\"type\":\"cp_triggered\",\"job\":\"j\",\"seq\":1,\"ts_us\":5,"
                     "\"id\":3,\"kind\":\"manual\",\"alignment\":\"unaligned\"}";
    CPT_EQ_INT(decode(un, &m, &e), CPW_OK);
    CPT_EQ_INT(m.ev.u.triggered.alignment, CPW_ALIGN_UNALIGNED);
    cpw_msg_clear(&m);
    const char *bad = "{\"v\":1,\"type\":\"cp_triggered\",\"job\":\"j\",\"seq\":1,\"ts_us\":5,"
                      "\"id\":3,\"kind\":\"manual\",\"alignment\":\"sideways\"}";
    CPT_EQ_INT(decode(bad, &m, &e), CPW_ERR_BAD_VALUE);
    CPT_EQ_STR(e.field, "alignment");
    cpw_msg_clear(&m);
    const char *num = "{\"v\":1,\"type\":\"cp_triggered\",\"job\":\"j\",\"seq\":1,\"ts_us\":5,"
                      "\"id\":3,\"kind\":\"manual\",\"alignment\":2}";
    CPT_EQ_INT(decode(num, &m, &e), CPW_ERR_WRONG_TYPE);
    cpw_msg_clear(&m);
    const char *neg = "{\"v\":1,\"type\":\"switched_to_unaligned\",\"job\":\"j\",\"seq\":1,"
                      "\"ts_us\":5,\"id\":3,\"op\":1,\"subtask\":0,\"elapsed_us\":-1,"
                      "\"timeout_us\":0}";
    CPT_EQ_INT(decode(neg, &m, &e), CPW_ERR_BAD_VALUE);
    CPT_EQ_STR(e.field, "elapsed_us");
    cpw_msg_clear(&m);
}

CPT_TEST(alignment_names)
{
    for (int a = 0; a < CPW_ALIGN__COUNT; a++) {
        const char *n = cpw_alignment_name((cpw_alignment)a);
        CPT_ASSERT(n != NULL);
        CPT_EQ_INT(cpw_alignment_from_name(n, strlen(n)), a);
    }
    CPT_ASSERT(cpw_alignment_name(CPW_ALIGN__COUNT) == NULL);
    for (int t = 0; t < CPW_CPT__COUNT; t++) {
        const char *n = cpw_cp_type_name((cpw_cp_type)t);
        CPT_EQ_INT(cpw_cp_type_from_name(n, strlen(n)), t);
    }
    CPT_EQ_STR(cpw_cp_type_name(CPW_CPT_SWITCHED), "switched");
    CPT_EQ_STR(cpw_event_type_name(CPW_EV_SWITCHED_TO_UNALIGNED), "switched_to_unaligned");
}

/* source(1) -> sink(2): three subtasks */
static cpw_state *two_ops(void)
{
    cpw_state *s = cpw_state_new(8, 8);
    CPT_ASSERT(s != NULL);
    snprintf(s->job, sizeof s->job, JOB);
    cpw_hello h;
    memset(&h, 0, sizeof h);
    snprintf(h.name, sizeof h.name, "uc");
    h.n_ops = 2;
    snprintf(h.ops[0].name, sizeof h.ops[0].name, "source");
    h.ops[0].parallelism = 1;
    snprintf(h.ops[1].name, sizeof h.ops[1].name, "sink");
    h.ops[1].parallelism = 2;
    cpw_state_set_hello(s, &h);
    return s;
}

static uint64_t seq;
static void ap(cpw_state *s, cpw_event e) { cpw_state_apply(s, &e, ++seq); }

static void trigger(cpw_state *s, int64_t id, cpw_alignment a, int64_t ts)
{
    cpw_event e = mkev(CPW_EV_CP_TRIGGERED, id, -1, -1, ts);
    e.u.triggered.alignment = a;
    ap(s, e);
}

static void ack(cpw_state *s, int64_t id, int op, int sub, int64_t ts, int64_t persisted,
                bool unaligned)
{
    cpw_event e = mkev(CPW_EV_ACK, id, op, sub, ts);
    e.u.ack.persisted_data = persisted;
    e.u.ack.unaligned = unaligned;
    ap(s, e);
}

static void complete(cpw_state *s, int64_t id, int64_t ts)
{
    cpw_event e = mkev(CPW_EV_CP_COMPLETED, id, -1, -1, ts);
    e.u.completed.duration_us = ts - T0;
    ap(s, e);
}

CPT_TEST(fold_checkpoint_type_and_persisted_bytes)
{
    cpw_state *s = two_ops();
    /* 1: aligned throughout */
    trigger(s, 1, CPW_ALIGN_ALIGNED, T0);
    for (int i = 0; i < 3; i++)
        ack(s, 1, i ? 1 : 0, i ? i - 1 : 0, T0 + 10, 0, false);
    CPT_EQ_INT(s->inflight[0].type, CPW_CPT_ALIGNED);
    complete(s, 1, T0 + 20);
    /* 2: unaligned from its trigger; persisted bytes add up */
    trigger(s, 2, CPW_ALIGN_UNALIGNED, T0 + 100);
    CPT_EQ_INT(s->inflight[0].type, CPW_CPT_UNALIGNED);
    ack(s, 2, 0, 0, T0 + 110, 1000, true);
    ack(s, 2, 1, 0, T0 + 111, 234, true);
    ack(s, 2, 1, 1, T0 + 112, 0, true);
    CPT_EQ_INT(s->inflight[0].persisted_data, 1234);
    complete(s, 2, T0 + 120);
    /* 3: aligned with a timeout; sink 1 switches */
    trigger(s, 3, CPW_ALIGN_TIMEOUT, T0 + 200);
    ack(s, 3, 0, 0, T0 + 210, 0, false);
    CPT_EQ_INT(s->inflight[0].type, CPW_CPT_ALIGNED);
    cpw_event sw = mkev(CPW_EV_SWITCHED_TO_UNALIGNED, 3, 1, 1, T0 + 2200);
    sw.u.switched.elapsed_us = 2000;
    sw.u.switched.timeout_us = 2000;
    ap(s, sw);
    CPT_EQ_INT(s->inflight[0].type, CPW_CPT_SWITCHED);
    CPT_EQ_INT(s->inflight[0].subs[2].unaligned, 1);
    CPT_EQ_INT(s->inflight[0].subs[2].switch_ts, T0 + 2200);
    CPT_EQ_INT(s->inflight[0].subs[1].unaligned, 0);
    ack(s, 3, 1, 0, T0 + 2210, 0, false);
    ack(s, 3, 1, 1, T0 + 2220, 4096, true);
    complete(s, 3, T0 + 2230);
    /* 4: aligned with a timeout, trigger missed: an unaligned ack makes it
     * unaligned (nothing says it switched) */
    ack(s, 4, 1, 0, T0 + 3000, 10, true);
    CPT_EQ_INT(s->inflight[0].type, CPW_CPT_UNALIGNED);
    const cpw_cp *h = cpw_state_history(s, 0);
    CPT_EQ_INT(h->id, 3);
    CPT_EQ_INT(h->type, CPW_CPT_SWITCHED);
    CPT_EQ_INT(h->persisted_data, 4096);
    CPT_EQ_INT(cpw_state_history(s, 1)->type, CPW_CPT_UNALIGNED);
    CPT_EQ_INT(cpw_state_history(s, 2)->type, CPW_CPT_ALIGNED);
    /* a switch after the subtask's ack folds nothing */
    int64_t ignored = s->ignored;
    ap(s, sw);
    CPT_EQ_INT(s->ignored, ignored + 1);
    cpw_state_free(s);
}

static cpw_state *roundtrip(const cpw_state *s, char **text)
{
    cpw_reply r;
    memset(&r, 0, sizeof r);
    r.req = 5;
    r.ok = true;
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {JOB, s->seq, T0};
    cpw_encode_reply(&b, &env, &r, s, -1);
    CPT_ASSERT(!b.failed);
    cpw_msg m;
    cpw_error e;
    cpw_err rc = cpw_decode_one(b.data, b.len, &m, &e);
    CPT_ASSERTF(rc == CPW_OK, "decode: %s", e.text);
    *text = strdup(b.data);
    cpw_buf_free(&b);
    cpw_state *got = m.reply->state;
    m.reply->state = NULL;
    cpw_msg_clear(&m);
    return got;
}

CPT_TEST(state_codec_carries_type_persisted_and_switch)
{
    cpw_state *s = two_ops();
    trigger(s, 7, CPW_ALIGN_TIMEOUT, T0);
    cpw_event sw = mkev(CPW_EV_SWITCHED_TO_UNALIGNED, 7, 1, 0, T0 + 500);
    ap(s, sw);
    ack(s, 7, 1, 0, T0 + 600, 321, true);
    char *text = NULL;
    cpw_state *got = roundtrip(s, &text);
    CPT_ASSERT(strstr(text, "\"type\":\"switched\"") && strstr(text, "\"persisted_data\":321"));
    CPT_ASSERT(strstr(text, "\"alignment\":\"aligned_timeout\""));
    CPT_EQ_INT(got->inflight[0].type, CPW_CPT_SWITCHED);
    CPT_EQ_INT(got->inflight[0].alignment, CPW_ALIGN_TIMEOUT);
    CPT_EQ_INT(got->inflight[0].persisted_data, 321);
    CPT_EQ_INT(got->inflight[0].subs[1].switch_ts, T0 + 500);
    CPT_EQ_INT(got->inflight[0].subs[1].unaligned, 1);
    CPT_EQ_INT(got->inflight[0].subs[2].switch_ts, 0);
    cpw_state_free(got);
    free(text);
    cpw_state_free(s);
}

/* A state from before unaligned checkpoints: no alignment, type or
 * persisted_data, rows of 20 values. */
CPT_TEST(state_without_unaligned_members_decodes)
{
    const char *old =
        "{\"v\":1,\"type\":\"reply\",\"job\":\"j\",\"seq\":1,\"ts_us\":1,\"req\":1,\"ok\":true,"
        "\"message\":\"\",\"result\":{\"job\":\"j\",\"seq\":1,\"name\":\"n\","
        "\"operators\":[{\"name\":\"a\",\"parallelism\":1}],\"status\":\"running\","
        "\"restored_from\":-1,\"restore_attempt\":0,\"counts\":{\"total\":1,\"in_progress\":1,"
        "\"completed\":0,\"failed\":0,\"restored\":0},\"consecutive_failures\":0,"
        "\"latest_completed_id\":0,\"latest_completed_ts_us\":0,\"last_trigger_ts_us\":5,"
        "\"inflight\":[{\"id\":1,\"status\":\"in_progress\",\"kind\":\"periodic\","
        "\"trigger_ts_us\":5,\"end_ts_us\":0,\"latest_ack_ts_us\":0,\"duration_us\":0,"
        "\"state_size\":0,\"checkpointed_size\":0,\"acks\":0,\"declines\":0,\"total\":1,"
        "\"subtasks\":[[\"pending\",0,-1,-1,-1,-1,-1,-1,-1,0,0,0,0,0,0,0,0,0,0,\"\"]]}],"
        "\"history\":[]}}";
    cpw_msg m;
    cpw_error e;
    CPT_EQ_INT(decode(old, &m, &e), CPW_OK);
    const cpw_cp *cp = &m.reply->state->inflight[0];
    CPT_EQ_INT(cp->type, CPW_CPT_ALIGNED);
    CPT_EQ_INT(cp->persisted_data, 0);
    CPT_EQ_INT(cp->subs[0].switch_ts, 0);
    cpw_msg_clear(&m);
    /* a 22nd value, or a bad switch time, is refused */
    char *bad = strdup(old);
    char *at = strstr(bad, "0,\"\"]]");
    CPT_ASSERT(at);
    char buf[4096];
    snprintf(buf, sizeof buf, "%.*s0,\"\",-7]]%s", (int)(at - bad), bad, at + 6);
    CPT_EQ_INT(decode(buf, &m, &e), CPW_ERR_BAD_VALUE);
    cpw_msg_clear(&m);
    snprintf(buf, sizeof buf, "%.*s0,\"\",1,2]]%s", (int)(at - bad), bad, at + 6);
    CPT_EQ_INT(decode(buf, &m, &e), CPW_ERR_WRONG_TYPE);
    cpw_msg_clear(&m);
    free(bad);
}
