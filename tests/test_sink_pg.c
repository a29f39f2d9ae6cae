/*
 * test_sink_pg.c — the exactly-once sink on PostgreSQL: test_sink.c's cases
 * against a real server, and what only a server has (lost connections,
 * passwords in URLs, several connections at once, a recovery waiting out a
 * staging still in flight); stage and commit rates side by side with SQLite.
 *
 * The server: $CPT_PG_URL if set (a database where this user may create
 * schemas), else a private cluster that tests/pg.sh starts at the first test
 * that needs it and that is stopped and removed when this binary exits (a
 * watchdog stops it if the binary is killed). Each test works in a schema
 * of its own.
 */
#include <libpq-fe.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpd_config.h"
#include "cpd_sink.h"
#include "cpt_test.h"

static pid_t main_pid;
static char state_file[128]; /* the cluster this binary started: DIR\nURL\n */

static void stop_cluster(void)
{
    if (getpid() != main_pid) /* forked tests exit through here too */
        return;
    FILE *f = fopen(state_file, "r");
    if (!f)
        return;
    char dir[512] = "", script[PATH_MAX + 32] = "";
    if (fgets(dir, sizeof dir, f) && fgets(script, sizeof script, f) &&
        fgets(script, sizeof script, f)) {
        dir[strcspn(dir, "\n")] = '\0';
        script[strcspn(script, "\n")] = '\0';
        char cmd[PATH_MAX + 600];
        snprintf(cmd, sizeof cmd, "'%s' stop '%s'", script, dir);
        if (system(cmd) != 0) { /* best effort: the watchdog stops it too */ }
    }
    fclose(f);
    unlink(state_file);
}

__attribute__((constructor)) static void remember_main(void)
{
    main_pid = getpid();
    snprintf(state_file, sizeof state_file, "/tmp/cpt-pg-%d.state", (int)main_pid);
    atexit(stop_cluster);
}

/* tests/pg.sh, found upwards from this binary (build/tests, build/san-…/tests) */
static void find_script(char *out, size_t outsz)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CPT_ASSERT(n > 0);
    exe[n] = '\0';
    for (char *slash; (slash = strrchr(exe, '/'));) {
        *slash = '\0';
        snprintf(out, outsz, "%s/tests/pg.sh", exe);
        if (access(out, X_OK) == 0)
            return;
    }
    CPT_ASSERTF(0, "tests/pg.sh not found above %s", exe);
}

static char base_url[512], admin_url[512];
static int port;

/* The server's URL (cluster started on first use). */
static const char *server(void)
{
    if (base_url[0])
        return base_url;
    const char *env = getenv("CPT_PG_URL");
    if (env && *env) {
        snprintf(base_url, sizeof base_url, "%s", env);
    } else {
        FILE *f = fopen(state_file, "r");
        char dir[512] = "";
        if (!f) {
            char script[PATH_MAX], cmd[PATH_MAX + 64];
            find_script(script, sizeof script);
            snprintf(cmd, sizeof cmd, "'%s' start %d", script, (int)main_pid);
            FILE *p = popen(cmd, "r");
            CPT_ASSERT(p);
            bool got = fgets(dir, sizeof dir, p) && fgets(base_url, sizeof base_url, p);
            int rc = pclose(p);
            CPT_ASSERTF(got && rc == 0, "tests/pg.sh start failed (exit %d)", rc);
            dir[strcspn(dir, "\n")] = '\0';
            base_url[strcspn(base_url, "\n")] = '\0';
            f = fopen(state_file, "w");
            CPT_ASSERT(f);
            fprintf(f, "%s\n%s\n%s\n", dir, base_url, script);
            fclose(f);
        } else {
            CPT_ASSERT(fgets(dir, sizeof dir, f) && fgets(base_url, sizeof base_url, f));
            base_url[strcspn(base_url, "\n")] = '\0';
            fclose(f);
        }
    }
    const char *colon = strrchr(base_url, ':');
    port = colon ? atoi(colon + 1) : 5432;
    snprintf(admin_url, sizeof admin_url, "%s", base_url);
    return base_url;
}

static PGconn *admin(void)
{
    server();
    PGconn *c = PQconnectdb(admin_url);
    CPT_ASSERTF(PQstatus(c) == CONNECTION_OK, "%s: %s", admin_url, PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages TO warning"));
    return c;
}

/* Runs sql on the admin connection; the first value of the first row. */
static char *sql1(PGconn *c, const char *sql, char *out, size_t outsz)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    CPT_ASSERTF(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
                PQresultErrorMessage(r));
    snprintf(out, outsz, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return out;
}

/* This test's schema, and a sink URL that works in it under its own
 * application_name (so a test can find its connections). */
static char url_buf[700], schema[32];
static const char *test_url(void)
{
    if (url_buf[0])
        return url_buf;
    server();
    snprintf(schema, sizeof schema, "t%d", (int)getpid());
    PGconn *c = admin();
    char sql[128], v[64];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema);
    sql1(c, sql, v, sizeof v);
    PQfinish(c);
    snprintf(url_buf, sizeof url_buf, "%s%soptions=-csearch_path%%3D%s&application_name=cpt-%s",
             base_url, strchr(base_url, '?') ? "&" : "?", schema, schema);
    return url_buf;
}

/* The admin connection, in this test's schema. */
static PGconn *admin_here(void)
{
    test_url();
    PGconn *c = admin();
    char sql[64], v[8];
    snprintf(sql, sizeof sql, "SET search_path TO %s", schema);
    sql1(c, sql, v, sizeof v);
    return c;
}

static int64_t count_of(const char *table)
{
    PGconn *c = admin_here();
    char sql[128], v[32];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    int64_t n = atoll(sql1(c, sql, v, sizeof v));
    PQfinish(c);
    return n;
}

static cpd_sink *open_sink(void)
{
    char err[600];
    cpd_sink *s = cpd_sink_open(test_url(), err, sizeof err);
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
    char err[600];
    CPT_ASSERTF(cpd_sink_scan(s, collect, &x, err, sizeof err) == 0, "%s", err);
    return x;
}

#define OK(call)                                                                                   \
    do {                                                                                           \
        err[0] = '\0';                                                                             \
        CPT_ASSERTF((call) == 0, "%s: %s", #call, err);                                            \
    } while (0)

/* ------------------------------------------------------------------ test_sink.c's cases */

CPT_TEST(staged_rows_appear_only_when_committed)
{
    cpd_sink *s = open_sink();
    char err[600];
    CPT_ASSERTF(strstr(cpd_sink_name(s), "@127.0.0.1:") && strstr(cpd_sink_name(s), "/cpdemo"),
                "%s", cpd_sink_name(s));
    cpd_row a[] = {row("acct-0001", 1, 100), row("acct-0002", 1, 200)};
    OK(cpd_sink_stage(s, 1, 0, a, 2, err, sizeof err));
    CPT_EQ_INT(scan(s).n, 0);
    CPT_EQ_INT(count_of("staged_rows"), 2);
    CPT_EQ_INT(cpd_sink_last_committed(s, NULL, 0, NULL), 0);
    cpd_offset off[] = {{0, 10}, {1, 7}};
    OK(cpd_sink_commit(s, 1, off, 2, err, sizeof err));
    seen x = scan(s);
    CPT_EQ_INT(x.n, 2);
    CPT_EQ_STR(x.rows[1].account, "acct-0002");
    CPT_EQ_INT(x.rows[1].sum_cents, 200);
    CPT_EQ_INT(x.rows[1].last_ts_ms, 1001);
    CPT_EQ_INT(count_of("staged_rows"), 0);
    cpd_offset got[4];
    int n = 0;
    CPT_EQ_INT(cpd_sink_last_committed(s, got, 4, &n), 1);
    CPT_EQ_INT(n, 2);
    CPT_EQ_INT(got[1].partition, 1);
    CPT_EQ_INT(got[1].next, 7);
    /* committing again is a no-op, and so is an older id */
    OK(cpd_sink_commit(s, 1, off, 2, err, sizeof err));
    OK(cpd_sink_commit(s, 0, NULL, 0, err, sizeof err));
    CPT_EQ_INT(scan(s).n, 2);
    CPT_EQ_INT(count_of("commits"), 1);
    /* offsets move on with the next commit; partitions it does not name stay */
    cpd_offset off2[] = {{1, 9}, {2, 3}};
    OK(cpd_sink_commit(s, 2, off2, 2, err, sizeof err));
    CPT_EQ_INT(cpd_sink_last_committed(s, got, 4, &n), 2);
    CPT_EQ_INT(n, 3);
    CPT_EQ_INT(got[0].next, 10);
    CPT_EQ_INT(got[1].next, 9);
    CPT_EQ_INT(got[2].next, 3);
    cpd_sink_close(s);
}

CPT_TEST(later_checkpoints_win_and_commit_covers_earlier_ones)
{
    cpd_sink *s = open_sink();
    char err[600];
    cpd_row c2[] = {row("acct-0001", 2, 300)};
    cpd_row c3[] = {row("acct-0001", 3, 450), row("acct-0003", 1, 5)};
    OK(cpd_sink_stage(s, 2, 1, c2, 1, err, sizeof err));
    OK(cpd_sink_stage(s, 3, 1, c3, 2, err, sizeof err));
    OK(cpd_sink_commit(s, 3, NULL, 0, err, sizeof err)); /* 2's commit was lost */
    seen x = scan(s);
    CPT_EQ_INT(x.n, 2);
    CPT_EQ_INT(x.rows[0].count, 3);
    CPT_EQ_INT(x.rows[0].sum_cents, 450);
    /* a retried snapshot replaces what the subtask staged for that checkpoint */
    cpd_row c4a[] = {row("acct-0009", 1, 1)}, c4b[] = {row("acct-0009", 1, 2)};
    OK(cpd_sink_stage(s, 4, 0, c4a, 1, err, sizeof err));
    OK(cpd_sink_stage(s, 4, 0, c4b, 1, err, sizeof err));
    OK(cpd_sink_commit(s, 4, NULL, 0, err, sizeof err));
    x = scan(s);
    CPT_EQ_INT(x.n, 3);
    CPT_EQ_INT(x.rows[2].sum_cents, 2);
    /* within one checkpoint the later row of an account wins, as in SQLite */
    cpd_row c5[] = {row("acct-0009", 2, 7), row("acct-0009", 3, 8)};
    OK(cpd_sink_stage(s, 5, 0, c5, 2, err, sizeof err));
    OK(cpd_sink_commit(s, 5, NULL, 0, err, sizeof err));
    CPT_EQ_INT(scan(s).rows[2].count, 3);
    cpd_sink_close(s);
}

CPT_TEST(recovery_commits_completed_and_rolls_back_the_rest)
{
    cpd_sink *s = open_sink();
    char err[600];
    cpd_row c5[] = {row("acct-0005", 5, 5)}, c6[] = {row("acct-0006", 6, 6)};
    OK(cpd_sink_stage(s, 5, 0, c5, 1, err, sizeof err));
    OK(cpd_sink_stage(s, 6, 0, c6, 1, err, sizeof err));
    cpd_sink_close(s); /* the job dies here: 5 completed, its commit never ran; 6 never completed */
    s = open_sink();
    cpd_offset off[] = {{0, 55}};
    OK(cpd_sink_recover(s, 5, off, 1, err, sizeof err));
    seen x = scan(s);
    CPT_EQ_INT(x.n, 1);
    CPT_EQ_STR(x.rows[0].account, "acct-0005");
    int n;
    cpd_offset got[2];
    CPT_EQ_INT(cpd_sink_last_committed(s, got, 2, &n), 5);
    CPT_EQ_INT(got[0].next, 55);
    /* 6 is gone: committing up to 7 later does not resurrect it */
    OK(cpd_sink_commit(s, 7, NULL, 0, err, sizeof err));
    CPT_EQ_INT(scan(s).n, 1);
    /* recovering again from a committed checkpoint only rolls back */
    cpd_row c8[] = {row("acct-0008", 8, 8)};
    OK(cpd_sink_stage(s, 8, 0, c8, 1, err, sizeof err));
    OK(cpd_sink_recover(s, 7, NULL, 0, err, sizeof err));
    OK(cpd_sink_commit(s, 9, NULL, 0, err, sizeof err));
    CPT_EQ_INT(scan(s).n, 1);
    /* from scratch: everything staged goes */
    OK(cpd_sink_stage(s, 10, 0, c8, 1, err, sizeof err));
    OK(cpd_sink_recover(s, 0, NULL, 0, err, sizeof err));
    CPT_EQ_INT(count_of("staged_rows"), 0);
    CPT_EQ_INT(cpd_sink_last_committed(s, NULL, 0, NULL), 9);
    cpd_sink_close(s);
}

CPT_TEST(dead_letters_are_exactly_once_too)
{
    cpd_sink *s = open_sink();
    char err[600];
    /* raw bytes of any kind (NUL, invalid UTF-8), error text that is not UTF-8 */
    cpd_dead d[] = {{2, 17, "missing field \"amount_cents\"", "{\"account\":1}", 13},
                    {3, 4, "not JSON: \xff\xfe", "\xff\xfe\0x'", 5}};
    OK(cpd_sink_stage_dead(s, 1, 0, d, 2, err, sizeof err));
    CPT_EQ_INT(cpd_sink_dead_count(s), 0);
    OK(cpd_sink_commit(s, 1, NULL, 0, err, sizeof err));
    CPT_EQ_INT(cpd_sink_dead_count(s), 2);
    /* replayed after a restore: the same records are not counted twice */
    OK(cpd_sink_stage_dead(s, 2, 0, d, 2, err, sizeof err));
    OK(cpd_sink_commit(s, 2, NULL, 0, err, sizeof err));
    CPT_EQ_INT(cpd_sink_dead_count(s), 2);
    /* staged twice under one checkpoint: replaced, not an error */
    cpd_dead again[] = {d[0], d[0], d[1]};
    OK(cpd_sink_stage_dead(s, 3, 1, again, 3, err, sizeof err));
    OK(cpd_sink_stage_dead(s, 3, 1, again, 3, err, sizeof err));
    CPT_EQ_INT(count_of("staged_dead"), 2);
    OK(cpd_sink_commit(s, 3, NULL, 0, err, sizeof err));
    CPT_EQ_INT(cpd_sink_dead_count(s), 2);
    PGconn *c = admin_here();
    char v[128];
    CPT_EQ_STR(sql1(c, "SELECT encode(raw, 'hex') FROM dead_letters WHERE \"offset\" = 4", v,
                    sizeof v), "fffe007827");
    CPT_EQ_STR(sql1(c, "SELECT error FROM dead_letters WHERE \"offset\" = 4", v, sizeof v),
               "not JSON: ??");
    CPT_EQ_STR(sql1(c, "SELECT checkpoint_id FROM dead_letters WHERE \"offset\" = 17", v,
                    sizeof v), "1");
    PQfinish(c);
    /* many at once (several INSERT statements) */
    enum { N = 1000 };
    cpd_dead *many = calloc(N, sizeof *many);
    for (int i = 0; i < N; i++)
        many[i] = (cpd_dead){.partition = 9, .offset = i, .raw = "x", .raw_len = 1};
    OK(cpd_sink_stage_dead(s, 4, 0, many, N, err, sizeof err));
    OK(cpd_sink_commit(s, 4, NULL, 0, err, sizeof err));
    CPT_EQ_INT(cpd_sink_dead_count(s), 2 + N);
    free(many);
    cpd_sink_close(s);
}

CPT_TEST(injected_commit_failure_leaves_everything_staged)
{
    cpd_sink *s = open_sink();
    char err[600];
    cpd_row r[] = {row("acct-0001", 1, 1)};
    OK(cpd_sink_stage(s, 1, 0, r, 1, err, sizeof err));
    cpd_sink_fail_next_commits(s, 2);
    CPT_EQ_INT(cpd_sink_commit(s, 1, NULL, 0, err, sizeof err), -1);
    CPT_ASSERTF(strstr(err, "injected") && strstr(err, "checkpoint 1") &&
                strstr(err, "127.0.0.1"), "%s", err);
    CPT_EQ_INT(cpd_sink_commit(s, 1, NULL, 0, err, sizeof err), -1);
    CPT_EQ_INT(scan(s).n, 0);
    CPT_EQ_INT(count_of("staged_rows"), 1);
    OK(cpd_sink_commit(s, 1, NULL, 0, err, sizeof err));
    CPT_EQ_INT(scan(s).n, 1);
    cpd_sink_close(s);
}

/* ------------------------------------------------------------------ PostgreSQL only */

CPT_TEST(values_travel_as_data)
{
    cpd_sink *s = open_sink();
    char err[600];
    cpd_row r[] = {row("o'brien\"; DROP TABLE x;--", 1, 1), row("\xc3\xbc\\N\t\n|,", 2, 2),
                   row("acct-big", 1, 1)};
    r[2].count = INT64_MAX;
    r[2].sum_cents = INT64_MIN;
    OK(cpd_sink_stage(s, 1, 0, r, 3, err, sizeof err));
    OK(cpd_sink_commit(s, 1, NULL, 0, err, sizeof err));
    seen x = scan(s);
    CPT_EQ_INT(x.n, 3);
    CPT_EQ_STR(x.rows[0].account, "acct-big"); /* byte order, as SQLite sorts */
    CPT_EQ_INT(x.rows[0].count, INT64_MAX);
    CPT_EQ_INT(x.rows[0].sum_cents, INT64_MIN);
    CPT_EQ_STR(x.rows[1].account, "o'brien\"; DROP TABLE x;--");
    CPT_EQ_STR(x.rows[2].account, "\xc3\xbc\\N\t\n|,");
    cpd_sink_close(s);
}

/* Terminates this test's sink connections from outside; how many. */
static int terminate_sinks(void)
{
    PGconn *c = admin();
    char sql[256], v[16];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = 'cpt-%s'", schema);
    int n = atoi(sql1(c, sql, v, sizeof v));
    PQfinish(c);
    return n;
}

CPT_TEST(a_lost_connection_fails_the_call_names_the_server_and_reconnects)
{
    cpd_sink *s = open_sink();
    char err[600], where[64];
    snprintf(where, sizeof where, "@127.0.0.1:%d/cpdemo", port);
    cpd_row r1[] = {row("acct-0001", 1, 1)}, r2[] = {row("acct-0002", 2, 2)};
    OK(cpd_sink_stage(s, 1, 0, r1, 1, err, sizeof err));
    CPT_EQ_INT(terminate_sinks(), 1);
    /* the commit finds the connection gone: it fails, naming the server */
    CPT_EQ_INT(cpd_sink_commit(s, 1, NULL, 0, err, sizeof err), -1);
    CPT_ASSERTF(strstr(err, where) && strstr(err, "commit of checkpoint 1") &&
                strstr(err, "connection lost"), "%s", err);
    CPT_EQ_INT(count_of("commits"), 0);
    CPT_EQ_INT(count_of("staged_rows"), 1);
    /* the next call reconnects: the commit happens, once */
    OK(cpd_sink_commit(s, 1, NULL, 0, err, sizeof err));
    CPT_EQ_INT(scan(s).n, 1);
    /* staging too */
    CPT_EQ_INT(terminate_sinks(), 1);
    CPT_EQ_INT(cpd_sink_stage(s, 2, 0, r2, 1, err, sizeof err), -1);
    CPT_ASSERTF(strstr(err, where) && strstr(err, "staging 1 rows of checkpoint 2"), "%s", err);
    OK(cpd_sink_stage(s, 2, 0, r2, 1, err, sizeof err));
    CPT_EQ_INT(terminate_sinks(), 1);
    cpd_dead d[] = {{0, 1, "bad", "x", 1}};
    CPT_EQ_INT(cpd_sink_stage_dead(s, 2, 0, d, 1, err, sizeof err), -1);
    OK(cpd_sink_stage_dead(s, 2, 0, d, 1, err, sizeof err));
    /* a job that restarts opens anew, recovers, goes on */
    CPT_EQ_INT(terminate_sinks(), 1);
    cpd_sink *s2 = open_sink();
    OK(cpd_sink_recover(s2, 2, NULL, 0, err, sizeof err));
    CPT_EQ_INT(scan(s2).n, 2);
    CPT_EQ_INT(cpd_sink_dead_count(s2), 1);
    /* reading after a loss reconnects as well (s's connection is still the
     * one killed above: only s2's is left to kill) */
    CPT_EQ_INT(terminate_sinks(), 1);
    CPT_EQ_INT(cpd_sink_last_committed(s, NULL, 0, NULL), 2);
    CPT_EQ_INT(cpd_sink_dead_count(s2), 1);
    cpd_sink_close(s2);
    cpd_sink_close(s);
}

CPT_TEST_T(unreachable_servers_and_passwords_in_errors, 30)
{
    server();
    char url[600], err[600];
    /* a server that answers, a database it does not have: at once, no password shown */
    snprintf(url, sizeof url, "postgresql://postgres:sekret@127.0.0.1:%d/no_such_db", port);
    int64_t t0 = cpt_now_ms();
    CPT_ASSERT(!cpd_sink_open(url, err, sizeof err));
    CPT_ASSERTF(cpt_now_ms() - t0 < 2000, "took %lld ms", (long long)(cpt_now_ms() - t0));
    CPT_ASSERTF(strstr(err, "no_such_db") && !strstr(err, "sekret") && strstr(err, "***"), "%s",
                err);
    /* nobody listening: retried for a while (a restarting server), then named */
    int closed = cpt_free_port_pair();
    snprintf(url, sizeof url, "postgres://u@127.0.0.1:%d/db?password=sekret", closed);
    t0 = cpt_now_ms();
    CPT_ASSERT(!cpd_sink_open(url, err, sizeof err));
    int64_t took = cpt_now_ms() - t0;
    char where[32];
    snprintf(where, sizeof where, "%d", closed);
    CPT_ASSERTF(strstr(err, "127.0.0.1") && strstr(err, where) && !strstr(err, "sekret") &&
                strstr(err, "tried for"), "%s", err);
    CPT_ASSERTF(took >= CPD_SINK_PG_DOWN_WAIT_MS - 1000 && took < CPD_SINK_PG_DOWN_WAIT_MS + 3000,
                "took %lld ms", (long long)took);
}

/* A fake server: to every connection it says what a PostgreSQL that is
 * starting up says (FATAL 57P03, which PQping reads as "rejecting"), until
 * switch_ms; then that the database does not exist. */
typedef struct fake_pg {
    int fd;
    int64_t t0, switch_ms;
    _Atomic int64_t stop_ms;
    int conns;
} fake_pg;

static bool read_n(int fd, void *buf, size_t n)
{
    for (size_t k = 0; k < n;) {
        ssize_t r = read(fd, (char *)buf + k, n - k);
        if (r <= 0)
            return false;
        k += (size_t)r;
    }
    return true;
}

static void *fake_pg_main(void *arg)
{
    fake_pg *f = arg;
    while (cpt_now_ms() - f->t0 < f->stop_ms) {
        struct pollfd p = {f->fd, POLLIN, 0};
        if (poll(&p, 1, 50) != 1)
            continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        f->conns++;
        unsigned char hdr[8];
        /* SSLRequest / GSSENCRequest: "no", then the startup packet */
        while (read_n(c, hdr, 8)) {
            uint32_t len = ntohl(*(uint32_t *)hdr), code = ntohl(*(uint32_t *)(hdr + 4));
            if (code == 80877103u || code == 80877104u) {
                if (write(c, "N", 1) != 1)
                    break;
                continue;
            }
            char rest[1024];
            if (len < 8 || len - 8 > sizeof rest || !read_n(c, rest, len - 8))
                break;
            bool up = cpt_now_ms() - f->t0 >= f->switch_ms;
            const char *code5 = up ? "3D000" : "57P03";
            const char *msg = up ? "database \"cpt\" does not exist"
                                 : "the database system is starting up";
            char body[256];
            int n = snprintf(body, sizeof body, "SFATAL%cVFATAL%cC%s%cM%s%c%c", 0, 0, code5, 0,
                             msg, 0, 0);
            unsigned char e[5] = {'E'};
            uint32_t l = htonl((uint32_t)(n + 4));
            memcpy(e + 1, &l, 4);
            if (write(c, e, 5) != 5 || write(c, body, (size_t)n) != n) { /* closed anyway */ }
            break;
        }
        close(c);
    }
    return NULL;
}

CPT_TEST_T(open_waits_for_a_server_that_is_starting_up, 30)
{
    fake_pg f = {.switch_ms = CPD_SINK_PG_DOWN_WAIT_MS + 500, .stop_ms = 20000};
    f.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    CPT_ASSERT(f.fd >= 0 && bind(f.fd, (struct sockaddr *)&a, sizeof a) == 0 &&
               listen(f.fd, 16) == 0 && getsockname(f.fd, (struct sockaddr *)&a, &al) == 0);
    f.t0 = cpt_now_ms();
    pthread_t th;
    pthread_create(&th, NULL, fake_pg_main, &f);
    char url[128], err[600];
    snprintf(url, sizeof url, "postgresql://u@127.0.0.1:%d/cpt?sslmode=disable",
             ntohs(a.sin_port));
    /* longer than silence would be waited for, then failed at once */
    CPT_ASSERT(!cpd_sink_open(url, err, sizeof err));
    int64_t took = cpt_now_ms() - f.t0;
    f.stop_ms = 0;
    pthread_join(th, NULL);
    close(f.fd);
    CPT_ASSERTF(strstr(err, "does not exist") && strstr(err, "tried for"), "%s", err);
    CPT_ASSERTF(took >= f.switch_ms && took < f.switch_ms + 2000, "took %lld ms", (long long)took);
    CPT_ASSERTF(f.conns >= 4, "%d connections", f.conns); /* it kept trying */
}

/* A job's sink subtasks: one handle each, staging concurrently, while the
 * coordinator's handle commits each checkpoint once all have staged it. */
enum { STAGERS = 3, CHECKPOINTS = 20, ROWS = 400 };
typedef struct stager {
    int sub;
    pthread_barrier_t *staged, *committed;
    char err[600];
    int rc;
} stager;

static void *stage_main(void *arg)
{
    stager *t = arg;
    char err[600];
    cpd_sink *s = cpd_sink_open(test_url(), err, sizeof err);
    if (!s) {
        snprintf(t->err, sizeof t->err, "%s", err);
        t->rc = -1;
    }
    cpd_row *rows = calloc(ROWS, sizeof *rows);
    for (int cp = 1; cp <= CHECKPOINTS; cp++) {
        for (int i = 0; i < ROWS; i++) {
            char a[32];
            snprintf(a, sizeof a, "acct-%d-%04d", t->sub, i);
            rows[i] = row(a, cp, (int64_t)cp * 100 + i);
        }
        if (s && t->rc == 0 && cpd_sink_stage(s, cp, t->sub, rows, ROWS, t->err, sizeof t->err))
            t->rc = -1;
        pthread_barrier_wait(t->staged);
        pthread_barrier_wait(t->committed);
    }
    free(rows);
    cpd_sink_close(s);
    return NULL;
}

CPT_TEST(several_connections_at_once)
{
    test_url();
    pthread_barrier_t staged, committed;
    pthread_barrier_init(&staged, NULL, STAGERS + 1);
    pthread_barrier_init(&committed, NULL, STAGERS + 1);
    stager t[STAGERS];
    pthread_t th[STAGERS];
    for (int i = 0; i < STAGERS; i++) {
        t[i] = (stager){.sub = i, .staged = &staged, .committed = &committed};
        pthread_create(&th[i], NULL, stage_main, &t[i]);
    }
    char err[600];
    cpd_sink *s = open_sink();
    int commit_rc = 0;
    for (int cp = 1; cp <= CHECKPOINTS; cp++) {
        pthread_barrier_wait(&staged);
        cpd_offset off[] = {{0, cp * 10}};
        if (!commit_rc)
            commit_rc = cpd_sink_commit(s, cp, off, 1, err, sizeof err);
        pthread_barrier_wait(&committed);
    }
    for (int i = 0; i < STAGERS; i++) {
        pthread_join(th[i], NULL);
        CPT_ASSERTF(t[i].rc == 0, "stager %d: %s", i, t[i].err);
    }
    CPT_ASSERTF(commit_rc == 0, "%s", err);
    pthread_barrier_destroy(&staged);
    pthread_barrier_destroy(&committed);
    CPT_EQ_INT(count_of("accounts"), STAGERS * ROWS);
    CPT_EQ_INT(count_of("staged_rows"), 0);
    PGconn *c = admin_here();
    char v[32];
    CPT_EQ_INT(atoll(sql1(c, "SELECT sum(rows) FROM commits", v, sizeof v)),
               STAGERS * ROWS * CHECKPOINTS);
    CPT_EQ_INT(atoll(sql1(c, "SELECT count(*) FROM accounts WHERE count <> 20", v, sizeof v)), 0);
    PQfinish(c);
    CPT_EQ_INT(cpd_sink_last_committed(s, NULL, 0, NULL), CHECKPOINTS);
    cpd_sink_close(s);
}

typedef struct recoverer {
    cpd_sink *s;
    int rc;
    char err[600];
    _Atomic int done;
} recoverer;

static void *recover_main(void *arg)
{
    recoverer *r = arg;
    r->rc = cpd_sink_recover(r->s, 1, NULL, 0, r->err, sizeof r->err);
    r->done = 1;
    return NULL;
}

CPT_TEST(recovery_waits_for_a_staging_still_in_flight)
{
    cpd_sink *s = open_sink();
    char err[600], v[32];
    cpd_row r1[] = {row("acct-0001", 1, 1)};
    OK(cpd_sink_stage(s, 1, 0, r1, 1, err, sizeof err));
    OK(cpd_sink_commit(s, 1, NULL, 0, err, sizeof err));
    /* a dead job's staging transaction, not finished yet: it holds the
     * shared lock as the sink's staging does */
    PGconn *c = admin_here();
    sql1(c, "BEGIN; SELECT pg_advisory_xact_lock_shared(27989599429684843)", v, sizeof v);
    sql1(c, "INSERT INTO staged_rows VALUES (2, 0, 0, 'acct-late', 9, 9, 9, 9, 9)", v, sizeof v);
    recoverer rec = {.s = s};
    pthread_t th;
    pthread_create(&th, NULL, recover_main, &rec);
    usleep(300 * 1000);
    CPT_ASSERT(!rec.done); /* waiting */
    sql1(c, "COMMIT", v, sizeof v);
    pthread_join(th, NULL);
    CPT_ASSERTF(rec.rc == 0, "%s", rec.err);
    /* the late row of checkpoint 2 (> 1) was rolled back, not left to a later commit */
    CPT_EQ_INT(count_of("staged_rows"), 0);
    OK(cpd_sink_commit(s, 2, NULL, 0, err, sizeof err));
    CPT_EQ_INT(scan(s).n, 1);
    PQfinish(c);
    cpd_sink_close(s);
}

/* ------------------------------------------------------------------ rates */

/* Stages rows (one subtask, `per` rows per checkpoint) and commits each
 * checkpoint; prints the rates. */
static void rate(const char *label, const char *url, int first, int checkpoints, int per)
{
    char err[600];
    cpd_sink *s = cpd_sink_open(url, err, sizeof err);
    CPT_ASSERTF(s, "%s", err);
    cpd_row *rows = calloc((size_t)per, sizeof *rows);
    int64_t stage_ms = 0, commit_ms = 0;
    for (int cp = first; cp < first + checkpoints; cp++) {
        for (int i = 0; i < per; i++) {
            char a[32];
            snprintf(a, sizeof a, "acct-%06d", i);
            rows[i] = row(a, cp, (int64_t)cp * i);
        }
        int64_t t0 = cpt_now_ms();
        OK(cpd_sink_stage(s, cp, 0, rows, per, err, sizeof err));
        int64_t t1 = cpt_now_ms();
        OK(cpd_sink_commit(s, cp, NULL, 0, err, sizeof err));
        stage_ms += t1 - t0;
        commit_ms += cpt_now_ms() - t1;
    }
    double total = (double)checkpoints * per;
    printf("    %-10s %d checkpoints x %6d rows: stage %7.0f rows/s (%5.1f ms each), "
           "commit %7.0f rows/s (%5.1f ms each)\n",
           label, checkpoints, per, stage_ms ? total * 1000.0 / (double)stage_ms : 0.0,
           (double)stage_ms / checkpoints, commit_ms ? total * 1000.0 / (double)commit_ms : 0.0,
           (double)commit_ms / checkpoints);
    free(rows);
    cpd_sink_close(s);
}

CPT_TEST_T(stage_and_commit_rates_beside_sqlite, 120)
{
    char lite[400];
    const char *pg = test_url();
    int big = getenv("CPT_PG_RATE_ROWS") ? atoi(getenv("CPT_PG_RATE_ROWS")) : 100000;
    snprintf(lite, sizeof lite, "sqlite:%s/small.db", cpt_tmpdir());
    rate("sqlite", lite, 1, 20, 1000);
    rate("postgresql", pg, 1, 20, 1000);
    rate("sqlite", lite, 101, 3, big);
    rate("postgresql", pg, 101, 3, big);
}

/* ------------------------------------------------------------------ the example */

CPT_TEST(example_config_loads_and_selects_postgresql)
{
    char script[PATH_MAX], path[PATH_MAX + 64];
    find_script(script, sizeof script);
    *strrchr(script, '/') = '\0'; /* tests/ */
    *strrchr(script, '/') = '\0'; /* the top */
    snprintf(path, sizeof path, "%s/demo-job/configs/postgres.json", script);
    cpd_config c;
    char errs[2048], warns[2048];
    cpd_config_defaults(&c);
    CPT_ASSERTF(cpd_config_load(path, &c, errs, sizeof errs, warns, sizeof warns, 0) == 0, "%s: %s",
                path, errs);
    CPT_ASSERTF(!warns[0], "%s: %s", path, warns);
    CPT_ASSERTF(cpd_sink_is_postgres(c.sink), "%s", c.sink);
}
