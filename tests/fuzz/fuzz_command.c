/*
 * fuzz_command.c — libFuzzer target for what the agent reads from its command
 * socket and what cptop reads back: commands (with the HMAC check the agent
 * runs on TCP) and replies, including a get_state result.
 *
 * Invariants (abort() when broken):
 *  - decoded fields are within their documented ranges;
 *  - cpw_verify_mac never reads outside the buffer, and a message it accepts
 *    decodes (when it decodes at all) as a command that has a mac;
 *  - a decoded command re-encodes to the same command; signed with the
 *    secret it verifies, and with any one byte of it changed it does not;
 *  - a decoded reply (and its state) re-encodes to the same reply.
 *
 *   make fuzz-build && build/fuzz/fuzz_command -dict=tests/fuzz/fuzz_command.dict \
 *        build/fuzz/corpus-fuzz_command tests/fuzz/corpus/fuzz_command
 */
#include "fuzz_common.h"

#include <stdint.h>

static const unsigned char SECRET[] = "fuzz-secret-0123456789abcdef0123";
#define SECRET_LEN (sizeof SECRET - 1)

static void roundtrip_command(const cpw_msg *m, size_t salt)
{
    cpw_command c = *m->cmd;
    cpw_envelope env = {m->job, m->seq, m->ts_us};

    /* unsigned */
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_encode_command(&b, &env, &c, NULL, 0);
    FZ_CHECK(!b.failed);
    cpw_msg m2;
    cpw_error e = {0};
    cpw_err rc = cpw_decode_one(b.data, b.len, &m2, &e);
    if (rc != CPW_OK) {
        fprintf(stderr, "command re-decode failed: %s: %s\n%s\n", cpw_err_name(rc), e.text, b.data);
        abort();
    }
    FZ_CHECK(m2.kind == CPW_K_COMMAND && fz_command_eq(m2.cmd, &c) && !m2.cmd->has_mac);
    FZ_CHECK(!cpw_verify_mac(b.data, b.len, SECRET, SECRET_LEN));
    cpw_msg_clear(&m2);

    /* signed */
    if (!c.nonce[0])
        memcpy(c.nonce, "0123456789abcdef0123456789abcdef", CPW_NONCE_HEX + 1);
    cpw_buf_reset(&b);
    cpw_encode_command(&b, &env, &c, SECRET, SECRET_LEN);
    FZ_CHECK(!b.failed);
    FZ_CHECK(cpw_verify_mac(b.data, b.len, SECRET, SECRET_LEN));
    rc = cpw_decode_one(b.data, b.len, &m2, &e);
    FZ_CHECK(rc == CPW_OK);
    FZ_CHECK(m2.kind == CPW_K_COMMAND && fz_command_eq(m2.cmd, &c) && m2.cmd->has_mac);
    FZ_CHECK(strcmp(m2.cmd->nonce, c.nonce) == 0);
    cpw_msg_clear(&m2);
    /* one changed byte before the mac: refused */
    const char *mac = strstr(b.data, ",\"mac\":\"");
    FZ_CHECK(mac != NULL);
    size_t body = (size_t)(mac - b.data);
    b.data[salt % body] ^= 0x01;
    FZ_CHECK(!cpw_verify_mac(b.data, b.len, SECRET, SECRET_LEN));
    cpw_buf_free(&b);
}

static void roundtrip_reply(const cpw_msg *m)
{
    const cpw_reply *r = m->reply;
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {m->job, m->seq, m->ts_us};
    cpw_encode_reply(&b, &env, r, r->state, -1);
    FZ_CHECK(!b.failed);
    cpw_msg m2;
    cpw_error e = {0};
    cpw_err rc = cpw_decode_one(b.data, b.len, &m2, &e);
    if (rc != CPW_OK) {
        fprintf(stderr, "reply re-decode failed: %s: %s (%s)\n%.*s\n", cpw_err_name(rc), e.text,
                e.field, (int)(b.len > 4000 ? 4000 : b.len), b.data);
        abort();
    }
    const cpw_reply *x = m2.reply;
    FZ_CHECK(m2.kind == CPW_K_REPLY && x->req == r->req && x->ok == r->ok &&
             strcmp(x->message, r->message) == 0);
    if (!r->ok)
        FZ_CHECK(strcmp(x->error, r->error) == 0);
    FZ_CHECK((x->state != NULL) == (r->state != NULL));
    if (r->state && !fz_state_eq(x->state, r->state, -1)) {
        fprintf(stderr, "state round trip differs:\n%.*s\n", (int)(b.len > 4000 ? 4000 : b.len),
                b.data);
        abort();
    }
    cpw_msg_clear(&m2);
    cpw_buf_free(&b);
}

static int on_msg(void *opaque, cpw_msg *m)
{
    (void)opaque;
    fz_msg(m);
    if (m->kind == CPW_K_REPLY && m->reply->state) { /* take the state, as cptop does */
        cpw_state_free(m->reply->state);
        m->reply->state = NULL;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    bool mac_ok = cpw_verify_mac(buf, size, SECRET, SECRET_LEN);
    (void)cpw_verify_mac(buf, size, (const unsigned char *)"", 0);

    cpw_msg m;
    cpw_error e = {0};
    cpw_err rc = cpw_decode_one(buf, size, &m, &e);
    if (rc != CPW_OK) {
        fz_check_failure(rc, &e, &m, size);
    } else {
        fz_msg(&m);
        if (m.kind == CPW_K_COMMAND) {
            if (mac_ok)
                FZ_CHECK(m.cmd->has_mac);
            roundtrip_command(&m, size);
        } else if (m.kind == CPW_K_REPLY) {
            roundtrip_reply(&m);
        }
        cpw_msg_clear(&m);
    }

    size_t count = 0;
    cpw_error fe = {0};
    cpw_err frc = cpw_decode_frame(buf, size, on_msg, NULL, &count, &fe);
    if (frc != CPW_OK)
        fz_check_failure(frc, &fe, NULL, size);
    if (rc == CPW_OK)
        FZ_CHECK(frc == CPW_OK && count == 1);
    return 0;
}
