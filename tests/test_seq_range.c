/* test_seq_range.c — seq and request ids over their whole documented range
 * (PROTOCOL.md §5, §9: 0 … 2^64−1) in every kind of message, and nothing
 * beyond it: a message that carries 2^64 or a negative number is refused,
 * naming the field. */
#include "cpt_test.h"
#include "cpw.h"
#include "cpw_state.h"

static const uint64_t edges[] = {0, 1, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1,
                                 UINT64_MAX - 1, UINT64_MAX};
#define N_EDGES (sizeof edges / sizeof edges[0])

/* Decodes b into *m, failing the test with the decoder's words. */
static void decode(const cpw_buf *b, cpw_msg *m)
{
    cpw_error err = {0};
    cpw_err e = cpw_decode_one(b->data, b->len, m, &err);
    CPT_ASSERTF(e == CPW_OK, "%.*s: %s", (int)b->len, b->data, err.text);
}

CPT_TEST(hello_and_heartbeat_carry_any_seq)
{
    for (size_t i = 0; i < N_EDGES; i++) {
        cpw_envelope env = {.job = "j", .seq = edges[i], .ts_us = 1};
        cpw_hello h;
        memset(&h, 0, sizeof h);
        snprintf(h.name, sizeof h.name, "n");
        h.pid = 1;
        cpw_heartbeat hb = {.emitted = (uint64_t)INT64_MAX, .sent = 7};
        cpw_buf b;
        cpw_buf_init(&b);
        cpw_msg m;
        cpw_encode_hello(&b, &env, &h);
        decode(&b, &m);
        CPT_EQ_INT(m.kind, CPW_K_HELLO);
        CPT_ASSERTF(m.seq == edges[i], "hello seq %" PRIu64, edges[i]);
        cpw_msg_clear(&m);
        cpw_buf_reset(&b);
        cpw_encode_heartbeat(&b, &env, &hb);
        decode(&b, &m);
        CPT_EQ_INT(m.kind, CPW_K_HEARTBEAT);
        CPT_ASSERT(m.seq == edges[i]);
        CPT_ASSERT(m.heartbeat.emitted == (uint64_t)INT64_MAX && m.heartbeat.sent == 7);
        cpw_msg_clear(&m);
        cpw_buf_free(&b);
    }
}

CPT_TEST(commands_and_replies_carry_any_seq_and_request_id)
{
    static const unsigned char key[] = "0123456789abcdef0123";
    for (size_t i = 0; i < N_EDGES; i++) {
        cpw_envelope env = {.job = "j", .seq = edges[i], .ts_us = cpw_now_us()};
        cpw_command cmd = {.req = edges[N_EDGES - 1 - i], .history = -1};
        cmd.c.type = CPW_CMD_TRIGGER;
        cpw_buf b;
        cpw_buf_init(&b);
        cpw_msg m;
        /* signed: the mac covers the numbers as written */
        cpw_encode_command(&b, &env, &cmd, key, sizeof key - 1);
        CPT_ASSERT(cpw_verify_mac(b.data, b.len, key, sizeof key - 1));
        decode(&b, &m);
        CPT_EQ_INT(m.kind, CPW_K_COMMAND);
        CPT_ASSERT(m.seq == edges[i] && m.cmd->req == cmd.req);
        cpw_msg_clear(&m);
        cpw_buf_reset(&b);
        cpw_reply r = {.req = edges[i], .ok = true};
        cpw_encode_reply(&b, &env, &r, NULL, 0);
        decode(&b, &m);
        CPT_EQ_INT(m.kind, CPW_K_REPLY);
        CPT_ASSERT(m.seq == edges[i] && m.reply->req == edges[i]);
        cpw_msg_clear(&m);
        cpw_buf_free(&b);
    }
}

/* One past the range, or below it, in each kind: refused, naming the field. */
CPT_TEST(numbers_beyond_the_range_are_refused_by_name)
{
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"v\":1,\"type\":\"heartbeat\",\"job\":\"j\",\"seq\":18446744073709551616,\"ts_us\":1,"
         "\"emitted\":0,\"sent\":0,\"dropped\":0}", "seq"},
        {"{\"v\":1,\"type\":\"heartbeat\",\"job\":\"j\",\"seq\":-1,\"ts_us\":1,"
         "\"emitted\":0,\"sent\":0,\"dropped\":0}", "seq"},
        {"{\"v\":1,\"type\":\"hello\",\"job\":\"j\",\"seq\":99999999999999999999,\"ts_us\":1,"
         "\"name\":\"n\",\"pid\":1,\"operators\":[]}", "seq"},
        {"{\"v\":1,\"type\":\"cmd\",\"job\":\"j\",\"seq\":0,\"ts_us\":1,"
         "\"req\":18446744073709551616,\"cmd\":\"trigger\",\"args\":{}}", "req"},
        {"{\"v\":1,\"type\":\"cmd\",\"job\":\"j\",\"seq\":18446744073709551616,\"ts_us\":1,"
         "\"req\":1,\"cmd\":\"trigger\",\"args\":{}}", "seq"},
        {"{\"v\":1,\"type\":\"reply\",\"job\":\"j\",\"seq\":1,\"ts_us\":1,"
         "\"req\":-5,\"ok\":true}", "req"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cpw_msg m;
        cpw_error err = {0};
        cpw_err e = cpw_decode_one(bad[i].json, strlen(bad[i].json), &m, &err);
        CPT_ASSERTF(e != CPW_OK, "accepted: %s", bad[i].json);
        CPT_ASSERTF(!strcmp(err.field, bad[i].field), "%s: field \"%s\" (%s)", bad[i].json,
                    err.field, err.text);
    }
}

/* get_state's result names the job's seq too: any of the range. */
CPT_TEST(a_state_carries_any_seq)
{
    for (size_t i = 0; i < N_EDGES; i++) {
        cpw_state *st = cpw_state_new(16, 4);
        CPT_ASSERT(st);
        snprintf(st->job, sizeof st->job, "j");
        st->seq = edges[i];
        cpw_envelope env = {.job = "j", .seq = edges[i], .ts_us = 1};
        cpw_reply r = {.req = edges[i], .ok = true};
        cpw_buf b;
        cpw_buf_init(&b);
        cpw_encode_reply(&b, &env, &r, st, -1);
        cpw_msg m;
        decode(&b, &m);
        CPT_ASSERT(m.reply->state);
        CPT_ASSERTF(m.reply->state->seq == edges[i], "state seq %" PRIu64 " read as %" PRIu64,
                    edges[i], m.reply->state->seq);
        CPT_ASSERT(m.seq == edges[i] && m.reply->req == edges[i]);
        cpw_msg_clear(&m);
        cpw_buf_free(&b);
        cpw_state_free(st);
    }
}
