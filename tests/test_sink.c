/* test_sink.c — the exactly-once sink's two-phase commit on SQLite. */
#include "cpd_sink.h"
#include "cpt_test.h"

#include <libpq-fe.h>

static cpd_sink *open_sink(void)
{
    char url[400], err[300];
    snprintf(url, sizeof url, "sqlite:%s/sink.db", cpt_tmpdir());
    cpd_sink *s = cpd_sink_open(url, err, sizeof err);
    CPT_ASSERTF(s, "%s", err);
    return s;
}

static cpd_row row(const char *acct, int64_t count, int64_t sum)
{
    cpd_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.account, sizeof r.account, "%s", acct);
    r.count = count;
    r.sum_cents = sum;
    r.min_cents = 1;
    r.max_cents = sum;
    r.last_ts_ms = 1000 + count;
    return r;
}

typedef struct seen { int n; cpd_row rows[16]; } seen;
static int collect(void *o, const cpd_row *r)
{
    seen *s = o;
    if (s->n < 16)
        s->rows[s->n++] = *r;
    return 0;
}

static seen scan(cpd_sink *s)
{
    seen x = {0};
    char err[300];
    CPT_EQ_INT(cpd_sink_scan(s, collect, &x, err, sizeof err), 0);
    return x;
}

CPT_TEST(staged_rows_appear_only_when_committed)
{
    cpd_sink *s = open_sink();
    char err[300];
    cpd_row a[] = {row("acct-0001", 1, 100), row("acct-0002", 1, 200)};
    CPT_EQ_INT(cpd_sink_stage(s, 1, 0, a, 2, err, sizeof err), 0);
    CPT_EQ_INT(scan(s).n, 0);
    CPT_EQ_INT(cpd_sink_last_committed(s, NULL, 0, NULL), 0);
    cpd_offset off[] = {{0, 10}, {1, 7}};
    CPT_EQ_INT(cpd_sink_commit(s, 1, off, 2, err, sizeof err), 0);
    seen x = scan(s);
    CPT_EQ_INT(x.n, 2);
    CPT_EQ_STR(x.rows[1].account, "acct-0002");
    CPT_EQ_INT(x.rows[1].sum_cents, 200);
    cpd_offset got[4];
    int n = 0;
    CPT_EQ_INT(cpd_sink_last_committed(s, got, 4, &n), 1);
    CPT_EQ_INT(n, 2);
    CPT_EQ_INT(got[1].partition, 1);
    CPT_EQ_INT(got[1].next, 7);
    /* committing again is a no-op, and so is an older id */
    CPT_EQ_INT(cpd_sink_commit(s, 1, off, 2, err, sizeof err), 0);
    CPT_EQ_INT(cpd_sink_commit(s, 0, NULL, 0, err, sizeof err), 0);
    CPT_EQ_INT(scan(s).n, 2);
    cpd_sink_close(s);
}

CPT_TEST(later_checkpoints_win_and_commit_covers_earlier_ones)
{
    cpd_sink *s = open_sink();
    char err[300];
    cpd_row c2[] = {row("acct-0001", 2, 300)};
    cpd_row c3[] = {row("acct-0001", 3, 450), row("acct-0003", 1, 5)};
    CPT_EQ_INT(cpd_sink_stage(s, 2, 1, c2, 1, err, sizeof err), 0);
    CPT_EQ_INT(cpd_sink_stage(s, 3, 1, c3, 2, err, sizeof err), 0);
    CPT_EQ_INT(cpd_sink_commit(s, 3, NULL, 0, err, sizeof err), 0); /* 2's commit was lost */
    seen x = scan(s);
    CPT_EQ_INT(x.n, 2);
    CPT_EQ_INT(x.rows[0].count, 3);
    CPT_EQ_INT(x.rows[0].sum_cents, 450);
    /* a retried snapshot replaces what the subtask staged for that checkpoint */
    cpd_row c4a[] = {row("acct-0009", 1, 1)}, c4b[] = {row("acct-0009", 1, 2)};
    CPT_EQ_INT(cpd_sink_stage(s, 4, 0, c4a, 1, err, sizeof err), 0);
    CPT_EQ_INT(cpd_sink_stage(s, 4, 0, c4b, 1, err, sizeof err), 0);
    CPT_EQ_INT(cpd_sink_commit(s, 4, NULL, 0, err, sizeof err), 0);
    x = scan(s);
    CPT_EQ_INT(x.n, 3);
    CPT_EQ_INT(x.rows[2].sum_cents, 2);
    cpd_sink_close(s);
}

CPT_TEST(recovery_commits_completed_and_rolls_back_the_rest)
{
    cpd_sink *s = open_sink();
    char err[300];
    cpd_row c5[] = {row("acct-0005", 5, 5)}, c6[] = {row("acct-0006", 6, 6)};
    CPT_EQ_INT(cpd_sink_stage(s, 5, 0, c5, 1, err, sizeof err), 0);
    CPT_EQ_INT(cpd_sink_stage(s, 6, 0, c6, 1, err, sizeof err), 0);
    cpd_sink_close(s); /* the job dies here: 5 completed, its commit never ran; 6 never completed */
    s = open_sink();
    cpd_offset off[] = {{0, 55}};
    CPT_EQ_INT(cpd_sink_recover(s, 5, off, 1, err, sizeof err), 0);
    seen x = scan(s);
    CPT_EQ_INT(x.n, 1);
    CPT_EQ_STR(x.rows[0].account, "acct-0005");
    int n;
    cpd_offset got[2];
    CPT_EQ_INT(cpd_sink_last_committed(s, got, 2, &n), 5);
    CPT_EQ_INT(got[0].next, 55);
    /* 6 is gone: committing up to 7 later does not resurrect it */
    CPT_EQ_INT(cpd_sink_commit(s, 7, NULL, 0, err, sizeof err), 0);
    CPT_EQ_INT(scan(s).n, 1);
    /* recovering from scratch rolls back everything staged */
    cpd_row c8[] = {row("acct-0008", 8, 8)};
    CPT_EQ_INT(cpd_sink_stage(s, 8, 0, c8, 1, err, sizeof err), 0);
    CPT_EQ_INT(cpd_sink_recover(s, 7, NULL, 0, err, sizeof err), 0);
    CPT_EQ_INT(cpd_sink_commit(s, 9, NULL, 0, err, sizeof err), 0);
    CPT_EQ_INT(scan(s).n, 1);
    cpd_sink_close(s);
}

CPT_TEST(dead_letters_are_exactly_once_too)
{
    cpd_sink *s = open_sink();
    char err[300];
    cpd_dead d[] = {{2, 17, "missing field \"amount_cents\"", "{\"account\":1}", 13},
                    {3, 4, "not JSON", "\xff\xfe", 2}};
    CPT_EQ_INT(cpd_sink_stage_dead(s, 1, 0, d, 2, err, sizeof err), 0);
    CPT_EQ_INT(cpd_sink_dead_count(s), 0);
    CPT_EQ_INT(cpd_sink_commit(s, 1, NULL, 0, err, sizeof err), 0);
    CPT_EQ_INT(cpd_sink_dead_count(s), 2);
    /* replayed after a restore: the same records are not counted twice */
    CPT_EQ_INT(cpd_sink_stage_dead(s, 2, 0, d, 2, err, sizeof err), 0);
    CPT_EQ_INT(cpd_sink_commit(s, 2, NULL, 0, err, sizeof err), 0);
    CPT_EQ_INT(cpd_sink_dead_count(s), 2);
    cpd_sink_close(s);
}

CPT_TEST(injected_commit_failure_leaves_everything_staged)
{
    cpd_sink *s = open_sink();
    char err[300];
    cpd_row r[] = {row("acct-0001", 1, 1)};
    CPT_EQ_INT(cpd_sink_stage(s, 1, 0, r, 1, err, sizeof err), 0);
    cpd_sink_fail_next_commits(s, 1);
    CPT_EQ_INT(cpd_sink_commit(s, 1, NULL, 0, err, sizeof err), -1);
    CPT_ASSERTF(strstr(err, "injected") && strstr(err, "checkpoint 1"), "%s", err);
    CPT_EQ_INT(scan(s).n, 0);
    CPT_EQ_INT(cpd_sink_commit(s, 1, NULL, 0, err, sizeof err), 0);
    CPT_EQ_INT(scan(s).n, 1);
    cpd_sink_close(s);
}

CPT_TEST(bad_urls_are_named)
{
    char err[300];
    CPT_ASSERT(!cpd_sink_open("mysql://x", err, sizeof err));
    CPT_ASSERT(strstr(err, "mysql://x"));
    /* a PostgreSQL URL selects that backend (its own tests: test_sink_pg.c);
     * one libpq cannot parse fails at once, its password never shown */
    CPT_ASSERT(cpd_sink_is_postgres("postgresql://h/db") && cpd_sink_is_postgres("postgres://h/d"));
    CPT_ASSERT(!cpd_sink_is_postgres("sqlite:x.db") && !cpd_sink_is_postgres("postgresql:/x"));
    int64_t t0 = cpt_now_ms();
    CPT_ASSERT(!cpd_sink_open("postgresql://u:sekret@127.0.0.1:notaport/db", err, sizeof err));
    CPT_ASSERTF(strstr(err, "postgresql://u:***@127.0.0.1:notaport/db") && !strstr(err, "sekret") &&
                strstr(err, "port"), "%s", err);
    CPT_ASSERT(!cpd_sink_open("postgresql://u:sekret@h/db?no_such_option=1", err, sizeof err));
    CPT_ASSERTF(strstr(err, "not a valid PostgreSQL URL") && !strstr(err, "sekret"), "%s", err);
    CPT_ASSERT(cpt_now_ms() - t0 < 1000); /* told at once, not retried as a server that is down */
    CPT_ASSERT(!cpd_sink_open("mysql://u:sekret@h/db", err, sizeof err));
    CPT_ASSERTF(strstr(err, "mysql://u:***@h/db") && !strstr(err, "sekret"), "%s", err);
    char url[400];
    snprintf(url, sizeof url, "sqlite:%s/no/such/dir/x.db", cpt_tmpdir());
    CPT_ASSERT(!cpd_sink_open(url, err, sizeof err));
    CPT_ASSERTF(strstr(err, url), "%s", err);
}

CPT_TEST(passwords_are_redacted)
{
    char out[256];
    CPT_EQ_STR(cpd_sink_redact("postgresql://u:pw@h:5432/db", out, sizeof out),
               "postgresql://u:***@h:5432/db");
    CPT_EQ_STR(cpd_sink_redact("postgresql://u@h/db?password=pw&sslmode=off", out, sizeof out),
               "postgresql://u@h/db?password=***&sslmode=off");
    CPT_EQ_STR(cpd_sink_redact("postgres://u:p@ss:w@h/db", out, sizeof out),
               "postgres://u:***@h/db");
    CPT_EQ_STR(cpd_sink_redact("host=h password='a b\\' c' dbname=x", out, sizeof out),
               "host=h password=*** dbname=x");
    CPT_EQ_STR(cpd_sink_redact("postgresql://h/db", out, sizeof out), "postgresql://h/db");
    CPT_EQ_STR(cpd_sink_redact("sqlite:var/password.db", out, sizeof out), "sqlite:var/password.db");
    CPT_EQ_STR(cpd_sink_redact(NULL, out, sizeof out), "");
}

/* Whether libpq, reading text, finds a password (any secret option) with
 * a value other than the mask. */
static bool libpq_reads_secret(const char *text)
{
    char *perr = NULL;
    PQconninfoOption *o = PQconninfoParse(text, &perr);
    PQfreemem(perr);
    bool found = false;
    for (PQconninfoOption *p = o; p && p->keyword; p++)
        if (p->val && p->dispchar[0] == '*' && strcmp(p->val, "***") != 0)
            found = true;
    PQconninfoFree(o);
    return found;
}

/* Whatever libpq reads as a password is masked, however it is spelt. */
CPT_TEST(passwords_are_redacted_as_libpq_reads_them)
{
    static const struct { const char *url, *shown; } cases[] = {
        /* a query parameter's name percent-encoded: libpq decodes it */
        {"postgresql://h/db?pass%77ord=s3cr3t", "postgresql://h/db?pass%77ord=***"},
        {"postgresql://h/db?%70%61%73%73%77%6f%72%64=s3cr3t", "postgresql://h/db?%70%61%73%73%77%6f%72%64=***"},
        {"postgresql://h/db?sslmode=disable&password=s3cr3t&application_name=a",
         "postgresql://h/db?sslmode=disable&password=***&application_name=a"},
        /* the client key's password is one too */
        {"postgresql://h/db?sslpassword=s3cr3t", "postgresql://h/db?sslpassword=***"},
        {"postgresql://h/db?sslpass%77ord=s3cr3t", "postgresql://h/db?sslpass%77ord=***"},
        /* userinfo, with the query's password after it (libpq takes the last) */
        {"postgresql://u:s3cr3t@h/db?password=s3cr3t2", "postgresql://u:***@h/db?password=***"},
        {"postgresql://u:s3%40cr3t@h:5432/db", "postgresql://u:***@h:5432/db"},
        /* libpq ends the userinfo at its first '@', even past a '?' */
        {"postgresql://u?:s3cr3t@h", "postgresql://u?:***@h"},
        {"postgres://u:s3cr3t@[::1]:5432,h2:5433/db", "postgres://u:***@[::1]:5432,h2:5433/db"},
        /* keyword/value form: quoted, spaced, escaped */
        {"host=h password = 's3 cr\\'3t' dbname=x", "host=h password = *** dbname=x"},
        {"password=s3cr3t", "password=***"},
        {"sslpassword='s3cr3t' host=h", "sslpassword=*** host=h"},
        /* what libpq cannot parse: every value hidden, since its password is
         * wherever the writer meant it */
        {"postgresql://u:s3cr3t@h/db?PASSWORD=s3cr3t&x", "postgresql://u:***@h/db?PASSWORD=***&***"},
        {"postgresql://h/db?password=%zzs3cr3t", "postgresql://h/db?password=***"},
        {"postgresql://h/db?pass%77ord=s3cr3t&no_such=1", "postgresql://h/db?pass%77ord=***&no_such=***"},
        {"host=h pass word=s3cr3t", "host=*** pass word=***"},
        /* nothing secret: unchanged */
        {"postgresql://h/db?application_name=password", "postgresql://h/db?application_name=password"},
        {"postgresql://u@h/password", "postgresql://u@h/password"},
    };
    char out[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cpd_sink_redact(cases[i].url, out, sizeof out);
        CPT_ASSERTF(!strcmp(out, cases[i].shown), "%s gave %s, want %s", cases[i].url, out,
                    cases[i].shown);
        CPT_ASSERTF(!strstr(out, "s3") || !strstr(cases[i].url, "s3cr3t"), "%s leaks: %s",
                    cases[i].url, out);
        CPT_ASSERTF(!libpq_reads_secret(out), "libpq reads a password in %s", out);
    }
    /* truncated output still hides it, and is terminated */
    char small[24];
    cpd_sink_redact("postgresql://averyveryverylonghost/db?password=s3cr3t", small, sizeof small);
    CPT_ASSERT(strlen(small) < sizeof small && !strstr(small, "s3"));
    /* the sink's name in errors, for a URL that fails at once */
    char err[400];
    CPT_ASSERT(!cpd_sink_open("postgresql://h:99999/db?pass%77ord=s3cr3t", err, sizeof err));
    CPT_ASSERTF(strstr(err, "pass%77ord=***") && !strstr(err, "s3cr3t") && strstr(err, "port"),
                "%s", err);
    /* syntax checks connect to nothing and name the URL, redacted */
    CPT_ASSERT(cpd_sink_check_url("postgresql://u@h:5432/db", err, sizeof err));
    CPT_ASSERT(cpd_sink_check_url("sqlite:x.db", err, sizeof err));
    CPT_ASSERT(!cpd_sink_check_url("sqlite:", err, sizeof err));
    CPT_ASSERT(!cpd_sink_check_url("postgresql://u:s3cr3t@h/db?nope=1", err, sizeof err));
    CPT_ASSERTF(strstr(err, "not a valid PostgreSQL URL") && !strstr(err, "s3cr3t"), "%s", err);
    CPT_ASSERT(!cpd_sink_check_url("mysql://u:s3cr3t@h/db", err, sizeof err));
    CPT_ASSERTF(strstr(err, "mysql://u:***@h/db") && !strstr(err, "s3cr3t"), "%s", err);
    CPT_ASSERT(!cpd_sink_check_url(NULL, err, sizeof err));
}

CPT_TEST(sqlite_sink_is_named_by_its_url)
{
    char url[400], err[300];
    snprintf(url, sizeof url, "sqlite:%s/sink.db", cpt_tmpdir());
    cpd_sink *s = cpd_sink_open(url, err, sizeof err);
    CPT_ASSERTF(s, "%s", err);
    CPT_EQ_STR(cpd_sink_name(s), url);
    cpd_sink_close(s);
}
