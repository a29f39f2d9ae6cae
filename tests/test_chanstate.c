/* test_chanstate.c — the channel state format and the state file that holds
 * it with the operator state: round trips for every edge, hostile input
 * refused with the line at fault, and plain (aligned) state files read as
 * they always were. */
#include "cpd_chanstate.h"
#include "cpt_test.h"

static cpd_item src(int32_t p, int64_t off, const char *raw, size_t len)
{
    cpd_item it;
    memset(&it, 0, sizeof it);
    it.kind = CPD_IT_RECORD;
    it.u.src.partition = p;
    it.u.src.offset = off;
    it.u.src.len = (uint16_t)len;
    memcpy(it.u.src.raw, raw, len);
    return it;
}

static cpd_item pay(const char *acct, int64_t amount, int64_t ts)
{
    cpd_item it;
    memset(&it, 0, sizeof it);
    it.kind = CPD_IT_RECORD;
    snprintf(it.u.pay.account, sizeof it.u.pay.account, "%s", acct);
    it.u.pay.amount = amount;
    it.u.pay.ts = ts;
    return it;
}

static cpd_item row(const char *acct, int64_t count)
{
    cpd_item it;
    memset(&it, 0, sizeof it);
    it.kind = CPD_IT_RECORD;
    snprintf(it.u.row.account, sizeof it.u.row.account, "%s", acct);
    it.u.row = (cpd_row){.count = count, .sum_cents = -count, .min_cents = INT64_MIN,
                         .max_cents = INT64_MAX, .last_ts_ms = 7};
    snprintf(it.u.row.account, sizeof it.u.row.account, "%s", acct);
    return it;
}

static cpd_chanstate *roundtrip(const cpd_chanstate *cs, cpd_edge in, cpd_edge out)
{
    size_t len = 0;
    char *text = cpd_chanstate_serialize(cs, &len);
    CPT_ASSERT(text);
    cpd_chanstate *back = cpd_chanstate_new(in, out);
    char err[128];
    CPT_ASSERTF(cpd_chanstate_parse(back, text, len, err, sizeof err), "%s: %.*s", err,
                (int)len, text);
    free(text);
    CPT_EQ_INT(cpd_chanstate_count(back), cpd_chanstate_count(cs));
    for (int i = 0; i < cpd_chanstate_count(cs); i++) {
        bool o1, o2;
        int c1, c2;
        const cpd_item *a = cpd_chanstate_at(cs, i, &o1, &c1), *b = cpd_chanstate_at(back, i, &o2,
                                                                                       &c2);
        CPT_EQ_INT(o1, o2);
        CPT_EQ_INT(c1, c2);
        CPT_ASSERTF(!memcmp(&a->u, &b->u, sizeof a->u), "record %d differs", i);
    }
    return back;
}

CPT_TEST(every_edge_round_trips_in_capture_order)
{
    /* parse's: raw records in, payments out */
    cpd_chanstate *cs = cpd_chanstate_new(CPD_EDGE_SRC, CPD_EDGE_PAY);
    const char weird[] = "{\"a\":\"% \\n\x01\xff\"}\0tail";
    cpd_item r1 = src(3, 12345678901LL, weird, sizeof weird), r2 = src(0, 0, "", 0);
    char big[CPD_RAW_MAX];
    memset(big, '%', sizeof big);
    cpd_item r3 = src(1, 5, big, sizeof big);
    r3.u.src.too_long = 1;
    cpd_item p1 = pay("acct 1%\x7f", -5, INT64_MAX), p2 = pay("é", INT64_MIN, 0);
    CPT_ASSERT(cpd_chanstate_add(cs, false, 0, &r1));
    CPT_ASSERT(cpd_chanstate_add(cs, true, 63, &p1));
    CPT_ASSERT(cpd_chanstate_add(cs, false, 0, &r2));
    CPT_ASSERT(cpd_chanstate_add(cs, false, 0, &r3));
    CPT_ASSERT(cpd_chanstate_add(cs, true, 2, &p2));
    CPT_ASSERT(!cpd_chanstate_add(cs, true, 64, &p2)); /* no such channel */
    cpd_item b = p2;
    b.kind = CPD_IT_BARRIER;
    CPT_ASSERT(!cpd_chanstate_add(cs, true, 1, &b)); /* records only */
    cpd_chanstate *back = roundtrip(cs, CPD_EDGE_SRC, CPD_EDGE_PAY);
    bool o;
    int ch;
    CPT_EQ_INT(cpd_chanstate_at(back, 3, &o, &ch)->u.src.too_long, 1);
    CPT_EQ_INT(cpd_chanstate_at(back, 0, &o, &ch)->u.src.len, sizeof weird);
    cpd_chanstate_free(back);
    cpd_chanstate_free(cs);
    /* the aggregate's: payments in, rows out; the sink's: rows in only */
    cs = cpd_chanstate_new(CPD_EDGE_PAY, CPD_EDGE_ROW);
    cpd_item w1 = row("a", 1), w2 = row("bb\tcc", INT64_MAX);
    CPT_ASSERT(cpd_chanstate_add(cs, true, 0, &w1));
    CPT_ASSERT(cpd_chanstate_add(cs, false, 1, &p1));
    CPT_ASSERT(cpd_chanstate_add(cs, true, 0, &w2));
    cpd_chanstate_free(roundtrip(cs, CPD_EDGE_PAY, CPD_EDGE_ROW));
    cpd_chanstate_free(cs);
    cs = cpd_chanstate_new(CPD_EDGE_ROW, CPD_EDGE_NONE);
    CPT_ASSERT(!cpd_chanstate_add(cs, true, 0, &w1)); /* a sink has no outputs */
    CPT_ASSERT(cpd_chanstate_add(cs, false, 0, &w1));
    cpd_chanstate_free(roundtrip(cs, CPD_EDGE_ROW, CPD_EDGE_NONE));
    cpd_chanstate_free(cs);
}

static void refused(cpd_edge in, cpd_edge out, const char *text, const char *want)
{
    cpd_chanstate *cs = cpd_chanstate_new(in, out);
    char err[128] = "";
    CPT_ASSERTF(!cpd_chanstate_parse(cs, text, strlen(text), err, sizeof err), "accepted: %s",
                text);
    CPT_ASSERTF(strstr(err, want), "\"%s\" for %s, want \"%s\"", err, text, want);
    cpd_chanstate_free(cs);
}

#define H_SP "cpdemo-channel-state 1 src pay\n"
#define H_PR "cpdemo-channel-state 1 pay row\n"

CPT_TEST(hostile_channel_state_is_refused_naming_the_line)
{
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, "", "line 1");
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, H_PR, "line 1"); /* another subtask's */
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, H_SP "i 0 1 2 0 :abc", "line 2: not terminated");
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, H_SP "i 0 1 2 0 :a b\n", "line 2");   /* a space */
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, H_SP "i 0 1 2 0 :%4\n", "line 2");    /* a cut escape */
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, H_SP "i 0 1 2 0 :%GG\n", "line 2");
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, H_SP "i 0 1 2 2 :x\n", "line 2");     /* too_long 2 */
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, H_SP "i 0 -1 2 0 :x\n", "line 2");    /* partition */
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, H_SP "i 64 1 2 0 :x\n", "line 2");    /* channel */
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, H_SP "x 0 1 2 0 :x\n", "line 2");
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, H_SP "o 0 a 1 99999999999999999999\n", "line 2");
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, H_SP "o 0 a 1 2 3\n", "line 2");      /* a field more */
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, H_SP "o 0 a%00b 1 2\n", "line 2");    /* NUL in a key */
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, H_SP "o 0 0123456789012345678901234567890123 1 2\n",
            "line 2"); /* longer than an account */
    refused(CPD_EDGE_PAY, CPD_EDGE_ROW, H_PR "o 0 a 0 1 1 1 1\n", "line 2"); /* count 0 */
    refused(CPD_EDGE_PAY, CPD_EDGE_ROW, H_PR "o 0 a 1 1 5 4 1\n", "line 2"); /* min > max */
    refused(CPD_EDGE_PAY, CPD_EDGE_ROW, H_PR "o 0 a 1 1 1 1 1\no 0 a 1 1 1 1\n", "line 3");
    char raw[CPD_RAW_MAX + 2];
    memset(raw, 'x', sizeof raw - 1);
    raw[sizeof raw - 1] = '\0';
    char line[1024];
    snprintf(line, sizeof line, H_SP "i 0 1 2 0 :%s\n", raw); /* one byte over */
    refused(CPD_EDGE_SRC, CPD_EDGE_PAY, line, "line 2");
}

CPT_TEST(state_file_holds_both_parts_and_plain_ones_read_as_before)
{
    size_t len = 0, ol, cl;
    const char *o, *c;
    char err[128];
    char *f = cpd_snapfile_wrap("0 17\n", 5, "chan\n", 5, &len);
    CPT_ASSERT(f);
    CPT_ASSERT(cpd_snapfile_unwrap(f, len, &o, &ol, &c, &cl, err, sizeof err));
    CPT_EQ_INT(ol, 5);
    CPT_ASSERT(!memcmp(o, "0 17\n", 5));
    CPT_EQ_INT(cl, 5);
    CPT_ASSERT(!memcmp(c, "chan\n", 5));
    /* channel state alone (parse, sink) */
    free(f);
    f = cpd_snapfile_wrap(NULL, 0, "x", 1, &len);
    CPT_ASSERT(cpd_snapfile_unwrap(f, len, &o, &ol, &c, &cl, err, sizeof err));
    CPT_EQ_INT(ol, 0);
    CPT_EQ_INT(cl, 1);
    /* cut short, or a length that lies */
    CPT_ASSERT(!cpd_snapfile_unwrap(f, len - 1, &o, &ol, &c, &cl, err, sizeof err));
    CPT_ASSERT(strstr(err, "header says"));
    free(f);
    const char *bad[] = {"cpdemo-snapshot 1 5\n12345", "cpdemo-snapshot 1 -1 3\nabc",
                         "cpdemo-snapshot 1 1 1", "cpdemo-snapshot 1 99999999999999999999 0\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CPT_ASSERTF(!cpd_snapfile_unwrap(bad[i], strlen(bad[i]), &o, &ol, &c, &cl, err,
                                         sizeof err), "%s", bad[i]);
    /* an aligned checkpoint's state file is operator state only, as before */
    const char *plain = "acct-1 1 5 5 5 1\n";
    CPT_ASSERT(cpd_snapfile_unwrap(plain, strlen(plain), &o, &ol, &c, &cl, err, sizeof err));
    CPT_ASSERT(o == plain && ol == strlen(plain) && !c && !cl);
}
