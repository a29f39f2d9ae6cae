/* test_failure.c — a job's failure table: its place in hello and get_state,
 * the one check of inject_failure commands (agent and cptop run it), and
 * hostile tables. */
#include "cpt_test.h"
#include "cpw.h"
#include "cpw_failure.h"
#include "cpw_state.h"

static void add_param(cpw_failure_kind *k, const char *name, const char *unit, int64_t min,
                      int64_t max, int64_t def)
{
    cpw_param *p = &k->params[k->n_params++];
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->unit, sizeof p->unit, "%s", unit);
    p->min = min;
    p->max = max;
    p->def = def;
    snprintf(p->help, sizeof p->help, "help for %s", name);
}

/* source ×2, sink ×1; kinds: stall (subtask, ms), crash (job), burst (job, two params) */
static void table_hello(cpw_hello *h)
{
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "job");
    h->n_ops = 2;
    snprintf(h->ops[0].name, sizeof h->ops[0].name, "source");
    h->ops[0].parallelism = 2;
    snprintf(h->ops[1].name, sizeof h->ops[1].name, "sink");
    h->ops[1].parallelism = 1;
    h->has_failures = true;
    h->n_failures = 3;
    cpw_failure_kind *k = &h->failures[0];
    snprintf(k->kind, sizeof k->kind, "stall");
    snprintf(k->label, sizeof k->label, "stall the next barrier \"here\" é");
    k->subtask = true;
    add_param(k, "ms", "ms", 1, 3600000, 12000);
    k = &h->failures[1];
    snprintf(k->kind, sizeof k->kind, "crash");
    snprintf(k->label, sizeof k->label, "crash the process");
    k = &h->failures[2];
    snprintf(k->kind, sizeof k->kind, "burst");
    snprintf(k->label, sizeof k->label, "a burst of records");
    add_param(k, "count", "count", 0, 1000000, 100);
    add_param(k, "delta_c", "", -5, 5, -1);
}

static cpw_cmd cmd_of(const char *kind, int op, int sub)
{
    cpw_cmd c;
    memset(&c, 0, sizeof c);
    c.type = CPW_CMD_INJECT_FAILURE;
    snprintf(c.kind, sizeof c.kind, "%s", kind);
    c.op = op;
    c.subtask = sub;
    return c;
}

static void param(cpw_cmd *c, const char *k, const char *v)
{
    snprintf(c->keys[c->n_params], sizeof c->keys[0], "%s", k);
    snprintf(c->values[c->n_params], sizeof c->values[0], "%s", v);
    c->n_params++;
}

/* Refused, with a message containing `want`, and the command untouched. */
static void refused(const cpw_hello *h, cpw_cmd c, const char *want)
{
    cpw_cmd before = c;
    char msg[CPW_TEXT_MAX] = "";
    CPT_ASSERTF(!cpw_failure_check(h, &c, msg, sizeof msg), "accepted, expected \"%s\"", want);
    CPT_ASSERTF(strstr(msg, want), "message \"%s\" lacks \"%s\"", msg, want);
    CPT_ASSERT(memcmp(&before, &c, sizeof c) == 0);
}

CPT_TEST(check_fills_defaults_in_declared_order)
{
    static cpw_hello h;
    table_hello(&h);
    char msg[CPW_TEXT_MAX];
    cpw_cmd c = cmd_of("burst", -1, -1);
    param(&c, "delta_c", "+3");
    CPT_ASSERTF(cpw_failure_check(&h, &c, msg, sizeof msg), "%s", msg);
    CPT_EQ_INT(c.n_params, 2);
    CPT_EQ_STR(c.keys[0], "count");
    CPT_EQ_STR(c.values[0], "100");
    CPT_EQ_STR(c.keys[1], "delta_c");
    CPT_EQ_STR(c.values[1], "3");
    c = cmd_of("stall", 0, 1);
    param(&c, "ms", "0007");
    CPT_ASSERTF(cpw_failure_check(&h, &c, msg, sizeof msg), "%s", msg);
    CPT_EQ_STR(c.values[0], "7");
    /* the unit may follow the number */
    const char *with_unit[] = {"500ms", "500 ms", "3600000ms"};
    for (int i = 0; i < 3; i++) {
        c = cmd_of("stall", 1, 0);
        param(&c, "ms", with_unit[i]);
        CPT_ASSERTF(cpw_failure_check(&h, &c, msg, sizeof msg), "%s: %s", with_unit[i], msg);
    }
    c = cmd_of("crash", -1, -1);
    CPT_ASSERTF(cpw_failure_check(&h, &c, msg, sizeof msg), "%s", msg);
    CPT_EQ_INT(c.n_params, 0);
    c = cmd_of("burst", -1, -1);
    param(&c, "delta_c", "-5");
    CPT_ASSERTF(cpw_failure_check(&h, &c, msg, sizeof msg), "%s", msg);
    CPT_EQ_STR(c.values[1], "-5");
}

CPT_TEST(check_refuses_with_the_reason)
{
    static cpw_hello h;
    table_hello(&h);
    refused(&h, cmd_of("nope", -1, -1), "unknown failure \"nope\" (this job offers: stall, crash, burst)");
    refused(&h, cmd_of("stall", -1, -1), "stall needs an operator 0..1");
    refused(&h, cmd_of("stall", 2, 0), "operator 2 is not one");
    refused(&h, cmd_of("stall", 1, 1), "operator 1 (sink) has subtasks 0..0, not 1");
    refused(&h, cmd_of("stall", 0, -1), "has subtasks 0..1");
    refused(&h, cmd_of("crash", 0, 0), "crash acts on the whole job");
    cpw_cmd c = cmd_of("crash", -1, -1);
    param(&c, "ms", "1");
    refused(&h, c, "crash takes no parameters");
    c = cmd_of("stall", 0, 0);
    param(&c, "secs", "1");
    refused(&h, c, "stall has no parameter \"secs\" (it takes ms)");
    c = cmd_of("burst", -1, -1);
    param(&c, "count", "1");
    param(&c, "count", "2");
    refused(&h, c, "parameter count given twice");
    /* values: whole numbers in range, the declared unit only */
    const char *bad[][2] = {
        {"1e18", "not a whole number of ms"},   {"", "not a whole number"},
        {"-", "not a whole number"},            {"12.5", "not a whole number of ms"},
        {"5 s", "not a whole number of ms"},    {"5s", "not a whole number of ms"},
        {"0", "out of range 1..3600000 ms"},    {"3600001", "out of range 1..3600000 ms"},
        {"-1", "out of range"},                 {"99999999999999999999", "out of range"},
        {"9223372036854775808", "out of range"}, {"ms", "not a whole number"},
        {"1\n", "not a whole number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = cmd_of("stall", 0, 0);
        param(&c, "ms", bad[i][0]);
        refused(&h, c, bad[i][1]);
    }
    c = cmd_of("burst", -1, -1);
    param(&c, "delta_c", "6");
    refused(&h, c, "delta_c=6: out of range -5..5");
    /* a job that declares an empty table offers nothing */
    h.n_failures = 0;
    refused(&h, cmd_of("crash", -1, -1), "offers no failures");
}

CPT_TEST(without_a_table_anything_passes_unchanged)
{
    static cpw_hello h;
    table_hello(&h);
    h.has_failures = false;
    h.n_failures = 0;
    cpw_cmd c = cmd_of("anything", 7, 9), before;
    param(&c, "x", "1e18");
    before = c;
    char msg[CPW_TEXT_MAX];
    CPT_ASSERT(cpw_failure_check(&h, &c, msg, sizeof msg));
    CPT_ASSERT(memcmp(&before, &c, sizeof c) == 0);
}

static cpw_hello *decode_hello(const char *json, cpw_error *err)
{
    static cpw_msg m;
    cpw_msg_clear(&m);
    if (cpw_decode_one(json, strlen(json), &m, err) != CPW_OK)
        return NULL;
    return m.hello;
}

CPT_TEST(table_roundtrips_in_hello_and_state)
{
    static cpw_hello h;
    table_hello(&h);
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_envelope env = {.job = "j", .seq = 1, .ts_us = 1};
    cpw_encode_hello(&b, &env, &h);
    cpw_error err;
    cpw_hello *got = decode_hello(b.data, &err);
    CPT_ASSERTF(got, "%s", err.text);
    CPT_ASSERT(got->has_failures);
    CPT_EQ_INT(got->n_failures, 3);
    for (int i = 0; i < 3; i++) {
        CPT_EQ_STR(got->failures[i].kind, h.failures[i].kind);
        CPT_EQ_STR(got->failures[i].label, h.failures[i].label);
        CPT_EQ_INT(got->failures[i].subtask, h.failures[i].subtask);
        CPT_EQ_INT(got->failures[i].n_params, h.failures[i].n_params);
        for (int p = 0; p < h.failures[i].n_params; p++) {
            const cpw_param *x = &got->failures[i].params[p], *y = &h.failures[i].params[p];
            CPT_EQ_STR(x->name, y->name);
            CPT_EQ_STR(x->unit, y->unit);
            CPT_EQ_STR(x->help, y->help);
            CPT_EQ_INT(x->min, y->min);
            CPT_EQ_INT(x->max, y->max);
            CPT_EQ_INT(x->def, y->def);
        }
    }
    /* the get_state result carries it too */
    cpw_state *s = cpw_state_new(4, 1);
    cpw_state_set_hello(s, &h);
    cpw_reply r = {.req = 1, .ok = true};
    cpw_buf_reset(&b);
    cpw_encode_reply(&b, &env, &r, s, -1);
    cpw_msg m;
    CPT_EQ_INT(cpw_decode_one(b.data, b.len, &m, &err), CPW_OK);
    CPT_ASSERT(m.reply && m.reply->state);
    CPT_EQ_INT(m.reply->state->hello.n_failures, 3);
    CPT_EQ_STR(m.reply->state->hello.failures[2].params[1].name, "delta_c");
    cpw_msg_clear(&m);
    cpw_state_free(s);
    /* no table: no member, and none decoded */
    h.has_failures = false;
    cpw_buf_reset(&b);
    cpw_encode_hello(&b, &env, &h);
    CPT_ASSERT(!strstr(b.data, "failures"));
    got = decode_hello(b.data, &err);
    CPT_ASSERT(got && !got->has_failures);
    /* an empty table is a table */
    h.has_failures = true;
    h.n_failures = 0;
    cpw_buf_reset(&b);
    cpw_encode_hello(&b, &env, &h);
    CPT_ASSERT(strstr(b.data, "\"failures\":[]"));
    got = decode_hello(b.data, &err);
    CPT_ASSERT(got && got->has_failures && got->n_failures == 0);
    cpw_buf_free(&b);
}

CPT_TEST(hostile_tables_are_refused_by_name)
{
    static const char *const pre =
        "{\"v\":1,\"type\":\"hello\",\"job\":\"j\",\"seq\":1,\"ts_us\":1,\"name\":\"n\","
        "\"pid\":1,\"operators\":[{\"name\":\"a\",\"parallelism\":1}],";
    struct { const char *failures, *want; } cases[] = {
        {"\"failures\":{}", "must be an array"},
        {"\"failures\":[1]", "must be an object"},
        {"\"failures\":[{\"label\":\"x\",\"target\":\"job\"}]", "\"kind\""},
        {"\"failures\":[{\"kind\":\"a\",\"label\":\"x\",\"target\":\"op\"}]", "target must be"},
        {"\"failures\":[{\"kind\":\"A B\",\"label\":\"x\",\"target\":\"job\"}]", "[a-z0-9-]"},
        {"\"failures\":[{\"kind\":\"a\",\"label\":\"\",\"target\":\"job\"}]", "needs a label"},
        {"\"failures\":[{\"kind\":\"a\",\"label\":\"x\",\"target\":\"job\"},"
         "{\"kind\":\"a\",\"label\":\"y\",\"target\":\"job\"}]", "declared twice"},
        {"\"failures\":[{\"kind\":\"a\",\"label\":\"x\",\"target\":\"job\",\"params\":"
         "[{\"name\":\"p\",\"min\":5,\"max\":1,\"default\":3}]}]", "min <= default <= max"},
        {"\"failures\":[{\"kind\":\"a\",\"label\":\"x\",\"target\":\"job\",\"params\":"
         "[{\"name\":\"p\",\"min\":\"0\",\"max\":1,\"default\":0}]}]", "integer"},
        {"\"failures\":[{\"kind\":\"a\",\"label\":\"x\",\"target\":\"job\",\"params\":"
         "[{\"name\":\"p\",\"min\":0,\"max\":1,\"default\":0,\"unit\":\"m s\"}]}]", "unit"},
        {"\"failures\":[{\"kind\":\"a\",\"label\":\"x\",\"target\":\"job\",\"params\":"
         "[1,2,3,4,5]}]", "more than 4 parameters"},
    };
    char buf[2048];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf, "%s%s}", pre, cases[i].failures);
        cpw_error err = {0};
        CPT_ASSERTF(!decode_hello(buf, &err), "accepted %s", cases[i].failures);
        CPT_ASSERTF(strstr(err.text, cases[i].want), "%s: \"%s\" lacks \"%s\"",
                    cases[i].failures, err.text, cases[i].want);
    }
    /* more kinds than the protocol allows */
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s\"failures\":[", pre);
    for (int i = 0; i <= CPW_MAX_FAILURE_KINDS; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s{\"kind\":\"k%d\",\"label\":\"l\","
                              "\"target\":\"job\"}", i ? "," : "", i);
    snprintf(buf + n, sizeof buf - n, "]}");
    cpw_error err = {0};
    CPT_ASSERT(!decode_hello(buf, &err));
    CPT_ASSERTF(strstr(err.text, "more than 32 failure kinds"), "%s", err.text);
}
