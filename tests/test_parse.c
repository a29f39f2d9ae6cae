/* test_parse.c — the job's fast record parser agrees with the reference
 * rule (cpd_verify_parse, on jansson) on generated, crafted and mutated
 * records: verify and the job can never disagree about a record. */
#include "cpd_kafka.h"
#include "cpd_parse.h"
#include "cpt_test.h"

static int disagreements;

static void same(const char *v, size_t len, const char *what)
{
    cpd_vrecord a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    char wa[160], wb[160];
    bool ga = cpd_parse_record(v, len, &a, wa, sizeof wa);
    bool gb = cpd_verify_parse(v, len, &b, wb, sizeof wb);
    bool ok = ga == gb && (!ga || (!strcmp(a.account, b.account) &&
                                   a.amount_cents == b.amount_cents && a.ts_ms == b.ts_ms &&
                                   a.id == b.id));
    if (!ok && disagreements++ < 10)
        fprintf(stderr, "    %s: fast says %s, reference says %s (%s) for %.*s\n", what,
                ga ? "good" : "bad", gb ? "good" : "bad", gb ? "" : wb, (int)(len > 120 ? 120 : len),
                v);
}

CPT_TEST(agrees_on_generated_records)
{
    disagreements = 0;
    char key[64], val[512];
    int bad = 0;
    for (uint64_t id = 0; id < 20000; id++) {
        bool is_bad;
        int n = cpd_gen_record(7, id, 1000, 25, key, sizeof key, val, sizeof val, &is_bad);
        CPT_ASSERT(n > 0);
        same(val, (size_t)n, "generated");
        cpd_vrecord r;
        CPT_EQ_INT(cpd_parse_record(val, (size_t)n, &r, NULL, 0), !is_bad);
        bad += is_bad;
    }
    CPT_EQ_INT(bad, 800);
    CPT_EQ_INT(disagreements, 0);
}

CPT_TEST(agrees_on_crafted_edge_cases)
{
    disagreements = 0;
    static const char *const cases[] = {
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",
        " \n{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}\n ",
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3} x",
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3,\"x\":{\"k\":1,\"k\":2}}",
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3,\"x\":[1,[2,{}]]}",
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3,\"x\":\"\\u0000\"}",
        "{\"account\":\"a\\u0041\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",
        "{\"acc\\u006funt\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3,\"x\":1e999}",
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3,\"x\":99999999999999999999}",
        "{\"account\":\"a\",\"amount_cents\":1.0,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\",\"amount_cents\":1e2,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\",\"amount_cents\":-0,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\",\"amount_cents\":-9223372036854775808,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\",\"amount_cents\":9223372036854775808,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\",\"amount_cents\":\"1\",\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\",\"amount_cents\":true,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"0123456789012345678901234567890\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"01234567890123456789012345678901\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3,\"bad\":null}",
        "{\"account\":\"a\",\"account\":\"b\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2}",
        "{\"account\":\"\xc3\xa9t\xc3\xa9\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"\xff\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\",\"amount_cents\":01,\"ts_ms\":2,\"id\":3}",
        "[{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}]",
        "{}", "null", "", "   ", "{", "{\"account\":\"a\",",
        NULL,
    };
    for (int i = 0; cases[i]; i++)
        same(cases[i], strlen(cases[i]), "crafted");
    static const char nul[] = "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}\0";
    same(nul, sizeof nul - 1, "raw NUL after");
    CPT_EQ_INT(disagreements, 0);
}

CPT_TEST(agrees_on_mutated_records)
{
    disagreements = 0;
    uint64_t x = 88172645463325252ull;
    char key[64], val[600];
    for (uint64_t id = 0; id < 20000; id++) {
        bool is_bad;
        int n = cpd_gen_record(3, id, 1000, 0, key, sizeof key, val, sizeof val - 80, &is_bad);
        int edits = 1 + (int)(id % 3);
        for (int e = 0; e < edits && n > 1; e++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int pos = (int)(x % (uint64_t)n), kind = (int)((x >> 20) % 4);
            static const char alphabet[] = "{}[]\",:\\0123456789-+.eE tfnu\x80\xff\x00";
            char c = alphabet[(x >> 32) % (sizeof alphabet - 1)];
            if (kind == 0) {
                val[pos] = c;                                        /* replace */
            } else if (kind == 1) {
                memmove(val + pos, val + pos + 1, (size_t)(n - pos - 1)); /* delete */
                n--;
            } else if (kind == 2) {
                memmove(val + pos + 1, val + pos, (size_t)(n - pos)); /* insert */
                val[pos] = c;
                n++;
            } else {
                n = pos + 1;                                         /* truncate */
            }
        }
        same(val, (size_t)n, "mutated");
    }
    CPT_EQ_INT(disagreements, 0);
}
