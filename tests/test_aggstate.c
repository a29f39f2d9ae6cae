/* test_aggstate.c — the aggregate's keyed state: folding, the rows changed
 * since the last barrier, the snapshot round trip and hostile snapshots. */
#include "cpd_aggstate.h"
#include "cpt_test.h"

typedef struct seen {
    cpd_row rows[4096];
    int n, stop_after;
} seen;

/* Takes rows until it holds stop_after (0: no limit), then refuses. */
static bool collect(void *o, const cpd_row *row)
{
    seen *s = o;
    if (s->stop_after && s->n >= s->stop_after)
        return false;
    s->rows[s->n++] = *row;
    return true;
}

CPT_TEST(payments_fold_into_count_sum_min_max_last)
{
    cpd_aggstate *m = cpd_aggstate_new();
    CPT_ASSERT(m);
    CPT_ASSERT(!cpd_aggstate_get(m, "a"));
    CPT_ASSERT(cpd_aggstate_add(m, "a", 500, 10));
    CPT_ASSERT(cpd_aggstate_add(m, "a", -200, 30));
    CPT_ASSERT(cpd_aggstate_add(m, "a", 900, 20));
    CPT_ASSERT(cpd_aggstate_add(m, "b", 7, 1));
    const cpd_row *a = cpd_aggstate_get(m, "a");
    CPT_ASSERT(a);
    CPT_EQ_INT(a->count, 3);
    CPT_EQ_INT(a->sum_cents, 1200);
    CPT_EQ_INT(a->min_cents, -200);
    CPT_EQ_INT(a->max_cents, 900);
    CPT_EQ_INT(a->last_ts_ms, 20); /* the latest record's, not the largest */
    CPT_EQ_INT(cpd_aggstate_count(m), 2);
    cpd_aggstate_free(m);
}

CPT_TEST(each_barrier_sends_only_what_changed_since_the_last)
{
    cpd_aggstate *m = cpd_aggstate_new();
    static seen s;
    for (int i = 0; i < 3000; i++) { /* grows past its first table */
        char acct[32];
        snprintf(acct, sizeof acct, "acct-%04d", i);
        CPT_ASSERT(cpd_aggstate_add(m, acct, i, i));
    }
    s.n = 0;
    CPT_EQ_INT(cpd_aggstate_flush(m, collect, &s), 3000);
    CPT_EQ_INT(cpd_aggstate_count(m), 3000);
    s.n = 0;
    CPT_EQ_INT(cpd_aggstate_flush(m, collect, &s), 0);
    cpd_aggstate_add(m, "acct-0042", 1, 99);
    cpd_aggstate_add(m, "acct-0042", 1, 100);
    cpd_aggstate_add(m, "acct-2999", 1, 101);
    CPT_EQ_INT(cpd_aggstate_flush(m, collect, &s), 2);
    CPT_EQ_INT(s.n, 2);
    /* a flush cut short (a full channel) leaves the rest marked, the
     * refused row included, and the next one goes on from there */
    cpd_aggstate_add(m, "x", 1, 1);
    cpd_aggstate_add(m, "y", 1, 1);
    cpd_aggstate_add(m, "z", 1, 1);
    CPT_EQ_INT(cpd_aggstate_dirty(m), 3);
    static seen held;
    held.n = 0;
    CPT_ASSERT(cpd_aggstate_each_dirty(m, collect, &held)); /* what a capture sees */
    CPT_EQ_INT(held.n, 3);
    CPT_EQ_INT(cpd_aggstate_dirty(m), 3);
    s.n = 0;
    s.stop_after = 1;
    CPT_EQ_INT(cpd_aggstate_flush(m, collect, &s), 1);
    CPT_EQ_INT(cpd_aggstate_dirty(m), 2);
    held.n = 0;
    CPT_ASSERT(cpd_aggstate_each_dirty(m, collect, &held));
    CPT_EQ_INT(held.n, 2);
    s.stop_after = 0;
    CPT_EQ_INT(cpd_aggstate_flush(m, collect, &s), 2);
    CPT_EQ_INT(s.n, 3);
    for (int i = 0; i < 3; i++) /* each once, and in the order the capture saw */
        CPT_EQ_STR(s.rows[i].account, i ? held.rows[i - 1].account : s.rows[0].account);
    CPT_EQ_INT(cpd_aggstate_dirty(m), 0);
    cpd_aggstate_free(m);
}

CPT_TEST(a_snapshot_restores_the_same_state_whatever_the_accounts_hold)
{
    cpd_aggstate *m = cpd_aggstate_new();
    const char *accts[] = {"acct-1", "with space", "100%", "tab\there", "new\nline",
                           "\xc3\xa9t\xc3\xa9", "0123456789012345678901234567890"};
    for (int i = 0; i < 7; i++) {
        CPT_ASSERT(cpd_aggstate_add(m, accts[i], 100 * i, i));
        CPT_ASSERT(cpd_aggstate_add(m, accts[i], INT64_MIN / 4, 1000 + i));
    }
    size_t len = 0;
    char *snap = cpd_aggstate_serialize(m, &len);
    CPT_ASSERT(snap);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += snap[i] == '\n';
    CPT_EQ_INT(lines, 7); /* the newline in an account is escaped */
    cpd_aggstate *r = cpd_aggstate_new();
    char err[128] = "";
    CPT_ASSERTF(cpd_aggstate_restore(r, snap, len, err, sizeof err), "%s", err);
    CPT_EQ_INT(cpd_aggstate_count(r), 7);
    for (int i = 0; i < 7; i++) {
        const cpd_row *a = cpd_aggstate_get(m, accts[i]), *b = cpd_aggstate_get(r, accts[i]);
        CPT_ASSERTF(b, "%s lost", accts[i]);
        CPT_ASSERT(!memcmp(a, b, sizeof *a));
    }
    static seen s;
    CPT_EQ_INT(cpd_aggstate_flush(r, collect, &s), 0); /* restored: nothing to send */
    free(snap);
    cpd_aggstate_free(r);
    cpd_aggstate_free(m);
}

CPT_TEST(a_hostile_snapshot_is_refused_naming_the_line)
{
    const char *bad[] = {
        "a 1 2 2 2 3",                   /* not terminated */
        "a 1 2 2 2\n",                   /* a field short */
        "a 1 2 2 2 3 4\n",               /* a field more */
        "a 0 0 0 0 0\n",                 /* no payment */
        "a 2 5 9 1 0\n",                 /* min > max */
        "a%zz 1 2 2 2 3\n",              /* bad escape */
        "a%00 1 2 2 2 3\n",              /* NUL */
        "%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41 1 1 1 1 1\n",
        "a x 2 2 2 3\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cpd_aggstate *m = cpd_aggstate_new();
        char err[128] = "";
        CPT_ASSERTF(!cpd_aggstate_restore(m, bad[i], strlen(bad[i]), err, sizeof err),
                    "taken: %s", bad[i]);
        CPT_ASSERTF(strstr(err, "line 1"), "%s", err);
        cpd_aggstate_free(m);
    }
    char big[600];
    memset(big, 'a', sizeof big);
    big[sizeof big - 1] = '\n';
    cpd_aggstate *m = cpd_aggstate_new();
    char err[128] = "";
    CPT_ASSERT(!cpd_aggstate_restore(m, "b 1 1 1 1 1\n\x01", 13, err, sizeof err));
    CPT_ASSERTF(strstr(err, "line 2: not terminated"), "%s", err);
    CPT_ASSERT(!cpd_aggstate_restore(m, big, sizeof big, err, sizeof err));
    CPT_ASSERTF(strstr(err, "too long"), "%s", err);
    cpd_aggstate_free(m);
}
