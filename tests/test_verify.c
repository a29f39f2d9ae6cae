/* test_verify.c — `cpdemo verify`'s pure parts: the good-record rule, the
 * per-account tables, and the comparison of expected with committed results. */
#include "cpd_kafka.h"
#include "cpd_verify.h"
#include "cpt_test.h"

/* ---------------------------------------------------------------- helpers */

static cpd_row row(const char *acct, int64_t count, int64_t sum, int64_t min, int64_t max,
                   int64_t last)
{
    cpd_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.account, sizeof r.account, "%s", acct);
    r.count = count;
    r.sum_cents = sum;
    r.min_cents = min;
    r.max_cents = max;
    r.last_ts_ms = last;
    return r;
}

/* A table of DB-style rows. */
static cpd_vtable *table(const cpd_row *rows, int n)
{
    cpd_vtable *t = cpd_vtable_new();
    CPT_ASSERT(t);
    for (int i = 0; i < n; i++)
        CPT_EQ_INT(cpd_vtable_put_row(t, &rows[i]), 0);
    return t;
}

static const cpd_row base[] = {
    {"acct-0001", 3, 600, 100, 300, 1030},
    {"acct-0002", 1, 50, 50, 50, 1040},
    {"acct-0003", 2, 70, 30, 40, 1050},
};
#define NBASE 3

static cpd_verify_result cmp(const cpd_row *actual, int n, int64_t dead_e, int64_t dead_a,
                             bool allow)
{
    cpd_vtable *e = table(base, NBASE), *a = table(actual, n);
    cpd_verify_result r;
    cpd_verify_compare(e, a, dead_e, dead_a, allow, &r);
    cpd_vtable_free(e);
    cpd_vtable_free(a);
    return r;
}

static const char *summary(const cpd_verify_result *r)
{
    static char buf[256];
    cpd_verify_summary(r, buf, sizeof buf);
    return buf;
}

static bool any_example(const cpd_verify_result *r, const char *needle)
{
    for (int i = 0; i < r->n_examples; i++)
        if (strstr(r->examples[i], needle))
            return true;
    return false;
}

/* ---------------------------------------------------------------- the rule */

static bool parse(const char *s, cpd_vrecord *out, char *why)
{
    return cpd_verify_parse(s, strlen(s), out, why, 160);
}

CPT_TEST(parse_good_record)
{
    cpd_vrecord r;
    char why[160];
    CPT_ASSERT(parse("{\"account\":\"acct-0042\",\"amount_cents\":1250,\"ts_ms\":1700000000170,"
                     "\"id\":17}", &r, why));
    CPT_EQ_STR(r.account, "acct-0042");
    CPT_EQ_INT(r.amount_cents, 1250);
    CPT_EQ_INT(r.ts_ms, 1700000000170LL);
    CPT_EQ_INT(r.id, 17);
    CPT_EQ_STR(why, "");
    /* member order, whitespace, extra members and negative integers are fine */
    CPT_ASSERT(parse(" { \"id\" : 1 , \"ts_ms\":2,\"x\":[1,{}],\"amount_cents\":-5,"
                     "\"account\":\"a\" } ", &r, why));
    CPT_EQ_INT(r.amount_cents, -5);
    CPT_EQ_STR(r.account, "a");
    /* 31 bytes of account is the limit */
    CPT_ASSERT(parse("{\"account\":\"abcdefghijklmnopqrstuvwxyz01234\",\"amount_cents\":1,"
                     "\"ts_ms\":2,\"id\":3}", &r, why));
    CPT_EQ_INT(strlen(r.account), 31);
}

CPT_TEST(parse_malformed_records)
{
    static const char *bad[] = {
        "",                                                                     /* empty */
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3",           /* truncated */
        "{\"account\":\"a\",\"ts_ms\":2,\"id\":3}",                             /* no amount */
        "{\"account\":\"a\",\"amount_cents\":\"1\",\"ts_ms\":2,\"id\":3}",      /* string */
        "{\"account\":\"a\",\"amount_cents\":1.0,\"ts_ms\":2,\"id\":3}",        /* real */
        "{\"account\":\"a\",\"amount_cents\":1e2,\"ts_ms\":2,\"id\":3}",        /* exponent */
        "{\"account\":\"a\",\"amount_cents\":true,\"ts_ms\":2,\"id\":3}",       /* boolean */
        "{\"account\":\"a\",\"amount_cents\":null,\"ts_ms\":2,\"id\":3}",       /* null */
        "{\"account\":\"a\",\"amount_cents\":99999999999999999999,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\",\"amount_cents\":1,\"id\":3}",                      /* no ts_ms */
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2}",                   /* no id */
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":\"3\"}",
        "{\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",                            /* no account */
        "{\"account\":7,\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",           /* empty */
        "{\"account\":\"abcdefghijklmnopqrstuvwxyz012345\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\\u0000b\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",  /* NUL */
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3,\"bad\":false}",
        "{\"bad\":\"x\",\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\",\"account\":\"b\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3} x",         /* trailing */
        "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}{}",
        "[{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}]",        /* not object */
        "\"acct\"",
        "{\"account\":\"a\xff\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}",      /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cpd_vrecord r;
        char why[160] = "";
        CPT_ASSERTF(!parse(bad[i], &r, why), "accepted #%zu: %s", i, bad[i]);
        CPT_ASSERTF(why[0], "no reason for #%zu", i);
    }
    /* a NULL value (a tombstone) and an embedded NUL byte */
    cpd_vrecord r;
    CPT_ASSERT(!cpd_verify_parse(NULL, 0, &r, NULL, 0));
    static const char nul[] = "{\"account\":\"a\",\"amount_cents\":1,\"ts_ms\":2,\"id\":3}\0";
    CPT_ASSERT(!cpd_verify_parse(nul, sizeof nul, &r, NULL, 0));
}

CPT_TEST(parse_agrees_with_the_generator)
{
    /* every generated record: good iff the generator did not make it bad,
     * with the generator's fields; every kind of bad one is refused */
    int kinds[CPD_BAD_KINDS] = {0};
    for (uint64_t id = 0; id < 4000; id++) {
        char key[CPD_GEN_KEY_MAX], val[CPD_GEN_VAL_MAX], why[160];
        bool is_bad;
        int n = cpd_gen_record(11, id, 500, 7, key, sizeof key, val, sizeof val, &is_bad);
        CPT_ASSERT(n > 0);
        cpd_vrecord r;
        bool good = cpd_verify_parse(val, (size_t)n, &r, why, sizeof why);
        CPT_ASSERTF(good == !is_bad, "id %" PRIu64 ": %s (%s)", id, val, why);
        if (is_bad) {
            kinds[cpd_gen_bad_kind(id, 7)]++;
            continue;
        }
        cpd_gen_fields f;
        cpd_gen_fields_of(11, id, 500, &f);
        CPT_EQ_STR(r.account, key);
        CPT_EQ_INT(r.amount_cents, f.amount_cents);
        CPT_EQ_INT(r.ts_ms, f.ts_ms);
        CPT_EQ_INT(r.id, (int64_t)id);
    }
    for (int k = 0; k < CPD_BAD_KINDS; k++)
        CPT_ASSERTF(kinds[k] > 100, "kind %s: %d", cpd_bad_kind_name((cpd_bad_kind)k), kinds[k]);
}

/* ---------------------------------------------------------------- tables */

static cpd_vrecord rec(const char *acct, int64_t amount, int64_t ts)
{
    cpd_vrecord r;
    memset(&r, 0, sizeof r);
    snprintf(r.account, sizeof r.account, "%s", acct);
    r.amount_cents = amount;
    r.ts_ms = ts;
    return r;
}

CPT_TEST(aggregate_count_sum_min_max_and_last_ts_by_offset)
{
    cpd_vtable *t = cpd_vtable_new();
    cpd_vrecord a1 = rec("a", 500, 3000), a2 = rec("a", 100, 1000), a3 = rec("a", 300, 2000);
    cpd_vrecord b1 = rec("b", 7, 5);
    CPT_EQ_INT(cpd_vtable_add_record(t, &a1, 1, 10), 0);
    CPT_EQ_INT(cpd_vtable_add_record(t, &b1, 0, 4), 0);
    CPT_EQ_INT(cpd_vtable_add_record(t, &a2, 1, 11), 0);
    CPT_EQ_INT(cpd_vtable_add_record(t, &a3, 1, 15), 0);
    CPT_EQ_INT(cpd_vtable_size(t), 2);
    const cpd_vacct *a = cpd_vtable_find(t, "a");
    CPT_ASSERT(a);
    CPT_EQ_INT(a->row.count, 3);
    CPT_EQ_INT(a->row.sum_cents, 900);
    CPT_EQ_INT(a->row.min_cents, 100);
    CPT_EQ_INT(a->row.max_cents, 500);
    /* last = the record with the highest offset (15), not the largest ts (3000) */
    CPT_EQ_INT(a->row.last_ts_ms, 2000);
    CPT_EQ_INT(a->last_offset, 15);
    CPT_EQ_INT(a->partition, 1);
    CPT_ASSERT(!a->multi_partition);
    CPT_EQ_STR(cpd_vtable_at(t, 0)->row.account, "a");
    CPT_EQ_STR(cpd_vtable_at(t, 1)->row.account, "b");
    CPT_ASSERT(!cpd_vtable_at(t, 2));
    CPT_ASSERT(!cpd_vtable_find(t, "c"));
    /* the same account on another partition: flagged */
    CPT_EQ_INT(cpd_vtable_add_record(t, &a1, 2, 1), 0);
    CPT_ASSERT(cpd_vtable_find(t, "a")->multi_partition);
    CPT_EQ_INT(cpd_vtable_find(t, "a")->row.last_ts_ms, 2000);
    cpd_vtable_free(t);
}

CPT_TEST(tables_grow_and_refuse_a_duplicate_row)
{
    cpd_vtable *t = cpd_vtable_new();
    char name[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof name, "acct-%06d", i);
        cpd_row r = row(name, 1, i, i, i, i);
        CPT_EQ_INT(cpd_vtable_put_row(t, &r), 0);
    }
    CPT_EQ_INT(cpd_vtable_size(t), 100000);
    for (int i = 0; i < 100000; i += 997) {
        snprintf(name, sizeof name, "acct-%06d", i);
        const cpd_vacct *a = cpd_vtable_find(t, name);
        CPT_ASSERTF(a, "%s", name);
        CPT_EQ_INT(a->row.sum_cents, i);
        CPT_EQ_INT(a->partition, -1);
    }
    cpd_row dup = row("acct-000005", 9, 9, 9, 9, 9);
    CPT_EQ_INT(cpd_vtable_put_row(t, &dup), -1);
    CPT_EQ_INT(cpd_vtable_find(t, "acct-000005")->row.count, 1);
    cpd_vtable_free(t);
}

/* ---------------------------------------------------------------- comparison */

CPT_TEST(equal_tables_pass_with_all_zero)
{
    cpd_verify_result r = cmp(base, NBASE, 4, 4, false);
    CPT_ASSERT(r.ok);
    CPT_ASSERT(r.dead_ok);
    CPT_EQ_INT(r.records, 6);
    CPT_EQ_INT(r.lost, 0);
    CPT_EQ_INT(r.duplicated, 0);
    CPT_EQ_INT(r.mismatched, 0);
    CPT_EQ_INT(r.differences, 0);
    CPT_EQ_INT(r.n_examples, 0);
    CPT_EQ_INT(r.accounts_expected, 3);
    CPT_EQ_INT(r.accounts_actual, 3);
    CPT_EQ_STR(summary(&r), "records 6, lost 0, duplicated 0, mismatched accounts 0");
}

CPT_TEST(nothing_expected_nothing_there_passes)
{
    cpd_vtable *e = cpd_vtable_new(), *a = cpd_vtable_new();
    cpd_verify_result r;
    cpd_verify_compare(e, a, 0, 0, false, &r);
    CPT_ASSERT(r.ok);
    CPT_EQ_STR(summary(&r), "records 0, lost 0, duplicated 0, mismatched accounts 0");
    cpd_vtable_free(e);
    cpd_vtable_free(a);
}

CPT_TEST(missing_account_is_lost)
{
    cpd_verify_result r = cmp(base, 2, 0, 0, false); /* acct-0003 (count 2) absent */
    CPT_ASSERT(!r.ok);
    CPT_EQ_INT(r.lost, 2);
    CPT_EQ_INT(r.duplicated, 0);
    CPT_EQ_INT(r.mismatched, 0);
    CPT_EQ_INT(r.accounts_missing, 1);
    CPT_EQ_STR(summary(&r), "records 6, lost 2, duplicated 0, mismatched accounts 0");
    CPT_ASSERT(any_example(&r, "acct-0003: missing from the database"));
    /* allowing duplicates does not excuse losses */
    CPT_ASSERT(!cmp(base, 2, 0, 0, true).ok);
}

CPT_TEST(count_too_low_is_lost_not_mismatched)
{
    cpd_row a[NBASE];
    memcpy(a, base, sizeof a);
    a[0] = row("acct-0001", 2, 400, 100, 300, 1030);
    cpd_verify_result r = cmp(a, NBASE, 0, 0, false);
    CPT_ASSERT(!r.ok);
    CPT_EQ_INT(r.lost, 1);
    CPT_EQ_INT(r.mismatched, 0);
    CPT_ASSERT(any_example(&r, "acct-0001: 1 lost"));
    CPT_ASSERT(!cmp(a, NBASE, 0, 0, true).ok);
}

CPT_TEST(count_too_high_is_duplicated)
{
    cpd_row a[NBASE];
    memcpy(a, base, sizeof a);
    a[1] = row("acct-0002", 3, 150, 50, 50, 1040);  /* the one record counted 3 times */
    cpd_verify_result r = cmp(a, NBASE, 0, 0, false);
    CPT_ASSERT(!r.ok);
    CPT_EQ_INT(r.duplicated, 2);
    CPT_EQ_INT(r.lost, 0);
    CPT_EQ_INT(r.mismatched, 0);
    CPT_EQ_STR(summary(&r), "records 6, lost 0, duplicated 2, mismatched accounts 0");
    CPT_ASSERT(any_example(&r, "acct-0002: 2 duplicated"));
}

CPT_TEST(allow_duplicates_counts_them_but_passes)
{
    cpd_row a[NBASE];
    memcpy(a, base, sizeof a);
    /* at-least-once: counts and sums are higher, min/max/last may differ */
    a[0] = row("acct-0001", 5, 999, 100, 300, 1010);
    a[2] = row("acct-0003", 3, 100, 20, 40, 1050);
    cpd_verify_result r = cmp(a, NBASE, 0, 0, true);
    CPT_ASSERTF(r.ok, "%s", r.n_examples ? r.examples[0] : "");
    CPT_EQ_INT(r.duplicated, 3);
    CPT_EQ_INT(r.mismatched, 0);      /* duplicated, not mismatched */
    CPT_EQ_STR(summary(&r), "records 6, lost 0, duplicated 3, mismatched accounts 0");
    /* the same without the flag fails */
    r = cmp(a, NBASE, 0, 0, false);
    CPT_ASSERT(!r.ok);
    CPT_EQ_INT(r.duplicated, 3);
    CPT_EQ_INT(r.mismatched, 0);
    /* an account that has no record before the committed end, in the DB:
     * its whole count is duplicated (at-least-once commits records past the
     * committed offsets) */
    cpd_row b[NBASE + 1];
    memcpy(b, base, sizeof base);
    b[NBASE] = row("acct-0099", 2, 10, 5, 5, 7);
    r = cmp(b, NBASE + 1, 0, 0, true);
    CPT_ASSERT(r.ok);
    CPT_EQ_INT(r.duplicated, 2);
    CPT_EQ_INT(r.accounts_unexpected, 1);
    CPT_ASSERT(any_example(&r, "acct-0099: in the database"));
    CPT_ASSERT(!cmp(b, NBASE + 1, 0, 0, false).ok);
}

CPT_TEST(duplicates_whose_min_or_max_prove_a_lost_record_are_mismatched)
{
    cpd_row a[NBASE];
    memcpy(a, base, sizeof a);
    /* 4 records, but min 150 > expected min 100: the 100 one never arrived */
    a[0] = row("acct-0001", 4, 900, 150, 300, 1030);
    cpd_verify_result r = cmp(a, NBASE, 0, 0, true);
    CPT_ASSERT(!r.ok);
    CPT_EQ_INT(r.duplicated, 1);
    CPT_EQ_INT(r.mismatched, 1);
    CPT_ASSERT(any_example(&r, "mismatched"));
    /* max too low likewise */
    a[0] = row("acct-0001", 4, 900, 100, 299, 1030);
    r = cmp(a, NBASE, 0, 0, true);
    CPT_ASSERT(!r.ok);
    CPT_EQ_INT(r.mismatched, 1);
}

CPT_TEST(same_count_wrong_values_is_mismatched)
{
    static const struct { cpd_row r; const char *field; } cases[] = {
        {{"acct-0001", 3, 601, 100, 300, 1030}, "sum_cents expected 600, database 601"},
        {{"acct-0001", 3, 600, 99, 300, 1030}, "min_cents expected 100, database 99"},
        {{"acct-0001", 3, 600, 100, 301, 1030}, "max_cents expected 300, database 301"},
        {{"acct-0001", 3, 600, 100, 300, 1020}, "last_ts_ms expected 1030, database 1020"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cpd_row a[NBASE];
        memcpy(a, base, sizeof a);
        a[0] = cases[i].r;
        for (int allow = 0; allow <= 1; allow++) {
            cpd_verify_result r = cmp(a, NBASE, 0, 0, allow);
            CPT_ASSERT(!r.ok);
            CPT_EQ_INT(r.mismatched, 1);
            CPT_EQ_INT(r.lost, 0);
            CPT_EQ_INT(r.duplicated, 0);
            CPT_ASSERTF(any_example(&r, cases[i].field), "%s", r.examples[0]);
            CPT_ASSERT(any_example(&r, "acct-0001: mismatched"));
        }
    }
    /* a DB row with count 0 and no records expected is mismatched */
    cpd_row b[NBASE + 1];
    memcpy(b, base, sizeof base);
    b[NBASE] = row("acct-0100", 0, 0, 0, 0, 0);
    cpd_verify_result r = cmp(b, NBASE + 1, 0, 0, true);
    CPT_ASSERT(!r.ok);
    CPT_EQ_INT(r.mismatched, 1);
}

CPT_TEST(last_ts_not_compared_for_a_multi_partition_account)
{
    cpd_vtable *e = cpd_vtable_new();
    cpd_vrecord x = rec("a", 10, 100), y = rec("a", 20, 200);
    cpd_vtable_add_record(e, &x, 0, 5);
    cpd_vtable_add_record(e, &y, 1, 3);
    cpd_row d = row("a", 2, 30, 10, 20, 200);   /* the job saw y last: fine */
    cpd_vtable *a = table(&d, 1);
    cpd_verify_result r;
    cpd_verify_compare(e, a, 0, 0, false, &r);
    CPT_ASSERT(r.ok);
    CPT_EQ_INT(r.accounts_multi_partition, 1);
    cpd_vtable_free(e);
    cpd_vtable_free(a);
}

CPT_TEST(dead_letter_count_mismatch_fails)
{
    cpd_verify_result r = cmp(base, NBASE, 20, 19, false);
    CPT_ASSERT(!r.ok);
    CPT_ASSERT(!r.dead_ok);
    CPT_EQ_INT(r.dead_expected, 20);
    CPT_EQ_INT(r.dead_actual, 19);
    /* the summary line is about accounts; the dead letters fail the exit alone */
    CPT_EQ_STR(summary(&r), "records 6, lost 0, duplicated 0, mismatched accounts 0");
    CPT_ASSERT(!cmp(base, NBASE, 20, 21, false).ok);
    /* at-least-once may commit dead letters past the offsets: more is allowed */
    CPT_ASSERT(cmp(base, NBASE, 20, 21, true).ok);
    CPT_ASSERT(!cmp(base, NBASE, 20, 19, true).ok);
    CPT_ASSERT(cmp(base, NBASE, 20, 20, false).ok);
}

CPT_TEST(examples_are_capped_and_differences_counted)
{
    cpd_vtable *e = cpd_vtable_new(), *a = cpd_vtable_new();
    char name[32];
    for (int i = 0; i < 25; i++) {
        snprintf(name, sizeof name, "acct-%04d", 24 - i);   /* inserted out of order */
        cpd_vrecord x = rec(name, 5, 1);
        cpd_vtable_add_record(e, &x, 0, i);
    }
    cpd_verify_result r;
    cpd_verify_compare(e, a, 0, 0, false, &r);
    CPT_EQ_INT(r.lost, 25);
    CPT_EQ_INT(r.accounts_missing, 25);
    CPT_EQ_INT(r.differences, 25);
    CPT_EQ_INT(r.n_examples, CPD_VERIFY_EXAMPLES);
    /* in account order */
    CPT_ASSERTF(strncmp(r.examples[0], "acct-0000:", 10) == 0, "%s", r.examples[0]);
    CPT_ASSERTF(strncmp(r.examples[9], "acct-0009:", 10) == 0, "%s", r.examples[9]);
    CPT_EQ_STR(summary(&r), "records 25, lost 25, duplicated 0, mismatched accounts 0");
    cpd_vtable_free(e);
    cpd_vtable_free(a);
}

/* The one partition-count lookup the job, produce and verify share. */
static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf;
}

/* A consumer, as verify's (a producer's metadata request would have the
 * mock cluster create any topic asked about). */
static rd_kafka_t *client_for(const char *bs, cpd_kafka_errors *errs)
{
    char e[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    CPT_ASSERT(rd_kafka_conf_set(conf, "bootstrap.servers", bs, e, sizeof e) == RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_opaque(conf, errs);
    rd_kafka_conf_set_error_cb(conf, cpd_kafka_error_cb);
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    CPT_ASSERTF(rk, "%s", e);
    return rk;
}

CPT_TEST_T(partition_count_of_a_topic, 40)
{
    char err[512];
    cpd_kafka_cluster *c = cpd_kafka_cluster_new(1, err, sizeof err);
    CPT_ASSERTF(c, "%s", err);
    CPT_ASSERTF(cpd_kafka_topic_create(c, "three", 3, err, sizeof err) == 0, "%s", err);
    cpd_kafka_errors errs;
    memset(&errs, 0, sizeof errs);
    rd_kafka_t *rk = client_for(cpd_kafka_bootstraps(c), &errs);
    CPT_EQ_INT(cpd_kafka_partitions(rk, "three", cpd_kafka_bootstraps(c), 10000, &errs, NULL, err,
                                    sizeof err), 3);
    /* a stop flag ends the wait at once */
    volatile sig_atomic_t stop = 1;
    CPT_EQ_INT(cpd_kafka_partitions(rk, "nope", "x", 10000, &errs, &stop, err, sizeof err), -1);
    CPT_ASSERTF(strstr(err, "interrupted"), "%s", err);
    rd_kafka_destroy(rk);
    cpd_kafka_cluster_destroy(c);
    /* nobody listening: the error callback's word ends the wait early (a
     * topic the mock cluster lacks it would create when asked about) */
    memset(&errs, 0, sizeof errs);
    rk = client_for("127.0.0.1:1", &errs);
    int64_t t0 = cpt_now_ms();
    CPT_EQ_INT(cpd_kafka_partitions(rk, "t", "127.0.0.1:1", 20000, &errs, NULL, err, sizeof err),
               -1);
    CPT_ASSERTF(strstr(err, "cannot reach Kafka at 127.0.0.1:1"), "%s", err);
    CPT_ASSERTF(cpt_now_ms() - t0 < 15000, "took %lld ms", (long long)(cpt_now_ms() - t0));
    rd_kafka_destroy(rk);
}
