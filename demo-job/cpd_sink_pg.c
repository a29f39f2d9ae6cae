/*
 * cpd_sink_pg.c — the exactly-once sink's PostgreSQL backend (libpq). Same
 * tables and semantics as the SQLite backend (cpd_sink.h, demo-job/README.md):
 *
 * - Staging writes durable tables (not temporary ones: a crash between stage
 *   and commit must not lose what was staged), rows with a binary COPY.
 * - Commit of N is one transaction: one statement moves everything staged up
 *   to N into the results, records N and upserts the offsets (all of it seen
 *   by one snapshot, so exactly the rows it deletes are the rows it applies);
 *   if N or a later id is already recorded, nothing happens.
 * - Commit and recovery hold an exclusive advisory lock for their
 *   transaction, staging a shared one: commits of several connections (a
 *   stale process) are serialised, and a recovery waits out any staging
 *   transaction still in flight, so nothing a dead process staged can land
 *   after the recovery that was meant to roll it back.
 * - Every value goes as a parameter or COPY data, never into SQL text.
 * - A lost connection fails the call that finds it, with the server named;
 *   the next call reconnects (PQreset) first. Committing over a connection
 *   that drops during COMMIT leaves the outcome to recovery, which is exact
 *   either way (N recorded: nothing to do; not recorded: staged, applied).
 *
 * Statics carry the cpd_pg_ prefix. Never prints: libpq's notices (e.g.
 * "relation already exists, skipping") are swallowed.
 */
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "cpd_clock.h"
#include "cpd_sink_backend.h"
#include "cpd_sink_url.h"

/* pg_advisory locks of this sink ("cpdsink" as a number), per database */
#define CPD_PG_LOCK "27989599429684843"
#define CPD_PG_SCHEMA_LOCK "27989599429684844"

#define CPD_PG_COPY_BUF (256 * 1024)
#define CPD_PG_DEAD_CHUNK 128 /* dead letters per INSERT (4 parameters each) */

typedef struct cpd_pg {
    PGconn *conn;
    char name[256];             /* postgresql://user@host:port/db: no password */
    unsigned char *copy;        /* CPD_PG_COPY_BUF bytes for COPY data */
} cpd_pg;

static const char cpd_pg_schema[] =
    "BEGIN;"
    /* concurrent CREATE TABLE IF NOT EXISTS of the same table can fail on
     * a catalog unique index: the job opens 2P+1 handles at once */
    "SELECT pg_advisory_xact_lock(" CPD_PG_SCHEMA_LOCK ");"
    /* every commit rewrites each account it touches: room on the page lets
     * the new version stay there (a HOT update, no index entry) */
    "CREATE TABLE IF NOT EXISTS accounts ("
    "  account TEXT PRIMARY KEY, count BIGINT NOT NULL, sum_cents BIGINT NOT NULL,"
    "  min_cents BIGINT NOT NULL, max_cents BIGINT NOT NULL, last_ts_ms BIGINT NOT NULL)"
    "  WITH (fillfactor = 50);"
    "CREATE TABLE IF NOT EXISTS dead_letters ("
    "  partition INTEGER NOT NULL, \"offset\" BIGINT NOT NULL, error TEXT NOT NULL, raw BYTEA,"
    "  checkpoint_id BIGINT NOT NULL, PRIMARY KEY (partition, \"offset\"));"
    /* no key, as in SQLite: the hot write of a checkpoint, only uncommitted rows */
    "CREATE TABLE IF NOT EXISTS staged_rows ("
    "  checkpoint_id BIGINT NOT NULL, subtask INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  account TEXT NOT NULL, count BIGINT NOT NULL, sum_cents BIGINT NOT NULL,"
    "  min_cents BIGINT NOT NULL, max_cents BIGINT NOT NULL, last_ts_ms BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS staged_dead ("
    "  checkpoint_id BIGINT NOT NULL, subtask INTEGER NOT NULL, partition INTEGER NOT NULL,"
    "  \"offset\" BIGINT NOT NULL, error TEXT NOT NULL, raw BYTEA,"
    "  PRIMARY KEY (checkpoint_id, partition, \"offset\"));"
    "CREATE TABLE IF NOT EXISTS commits ("
    "  checkpoint_id BIGINT PRIMARY KEY, committed_at_ms BIGINT NOT NULL, rows BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS committed_offsets ("
    "  partition INTEGER PRIMARY KEY, next_offset BIGINT NOT NULL, checkpoint_id BIGINT NOT NULL);"
    "COMMIT";

/* Everything staged up to $1 applied, $1 recorded with its offsets ($2
 * partitions, $3 next offsets, as arrays). One statement: its parts share one
 * snapshot, so the rows applied are exactly the rows deleted even if another
 * connection stages meanwhile. The latest staged value of an account wins
 * (checkpoint, then subtask, then order within the subtask), as SQLite's
 * ordered INSERT OR REPLACE; of a dead letter staged twice the first stays.
 * Accounts are updated, then the new ones inserted: no other writer of
 * accounts can interleave (the exclusive lock), and INSERT … ON CONFLICT DO
 * UPDATE cost 2.5 times as much (speculative insertion: 3 WAL records per
 * row; 100,000 accounts 510 ms against 200 ms). */
static const char cpd_pg_apply[] =
    "WITH moved AS ("
    "  DELETE FROM staged_rows WHERE checkpoint_id <= $1::bigint"
    "  RETURNING checkpoint_id, subtask, seq, account, count, sum_cents, min_cents, max_cents,"
    "            last_ts_ms),"
    " latest AS ("
    "  SELECT DISTINCT ON (account) account, count, sum_cents, min_cents, max_cents, last_ts_ms"
    "  FROM moved ORDER BY account, checkpoint_id DESC, subtask DESC, seq DESC),"
    " updated AS ("
    "  UPDATE accounts a SET count = l.count, sum_cents = l.sum_cents,"
    "    min_cents = l.min_cents, max_cents = l.max_cents, last_ts_ms = l.last_ts_ms"
    "  FROM latest l WHERE a.account = l.account RETURNING a.account),"
    " inserted AS ("
    "  INSERT INTO accounts (account, count, sum_cents, min_cents, max_cents, last_ts_ms)"
    "  SELECT account, count, sum_cents, min_cents, max_cents, last_ts_ms FROM latest l"
    "  WHERE NOT EXISTS (SELECT 1 FROM updated u WHERE u.account = l.account)),"
    " dmoved AS ("
    "  DELETE FROM staged_dead WHERE checkpoint_id <= $1::bigint"
    "  RETURNING checkpoint_id, partition, \"offset\", error, raw),"
    " dead AS ("
    "  INSERT INTO dead_letters (partition, \"offset\", error, raw, checkpoint_id)"
    "  SELECT DISTINCT ON (partition, \"offset\") partition, \"offset\", error, raw, checkpoint_id"
    "  FROM dmoved ORDER BY partition, \"offset\", checkpoint_id"
    "  ON CONFLICT (partition, \"offset\") DO NOTHING),"
    " offs AS ("
    "  INSERT INTO committed_offsets (partition, next_offset, checkpoint_id)"
    "  SELECT DISTINCT ON (p) p, o, $1::bigint"
    "  FROM unnest($2::integer[], $3::bigint[]) WITH ORDINALITY AS t(p, o, i)"
    "  ORDER BY p, i DESC"
    "  ON CONFLICT (partition) DO UPDATE SET next_offset = EXCLUDED.next_offset,"
    "    checkpoint_id = EXCLUDED.checkpoint_id)"
    "INSERT INTO commits (checkpoint_id, committed_at_ms, rows)"
    " SELECT $1::bigint, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, count(*)"
    " FROM moved";

static void cpd_pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* libpq's multi-line messages on one line: "a\n\tb\n" → "a b". */
static void cpd_pg_flat(const char *msg, char *out, size_t outsz)
{
    size_t k = 0;
    bool space = false;
    for (const char *p = msg ? msg : ""; *p && k + 2 < outsz; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
            space = k > 0;
            continue;
        }
        if (space)
            out[k++] = ' ';
        space = false;
        out[k++] = *p;
    }
    out[k] = '\0';
}

/* libpq's explanation after "server closed the connection unexpectedly":
 * dropped, so the part that matters fits an event's message */
static const char cpd_pg_boilerplate[] =
    " This probably means the server terminated abnormally before or while processing the "
    "request.";

/* err = "NAME: what: detail", detail from res or the connection. -1. */
static int cpd_pg_fail(cpd_pg *pg, const PGresult *res, char *err, size_t errsz,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int cpd_pg_fail(cpd_pg *pg, const PGresult *res, char *err, size_t errsz,
                       const char *fmt, ...)
{
    char what[200], detail[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *m = res ? PQresultErrorMessage(res) : NULL;
    if (!m || !*m)
        m = pg->conn ? PQerrorMessage(pg->conn) : "out of memory";
    cpd_pg_flat(m, detail, sizeof detail);
    char *bp = strstr(detail, cpd_pg_boilerplate);
    if (bp)
        memmove(bp, bp + strlen(cpd_pg_boilerplate), strlen(bp + strlen(cpd_pg_boilerplate)) + 1);
    /* a server that ends the session (pg_terminate_backend, a shutdown:
     * SQLSTATE 57P01 to 57P04) or a connection exception (class 08) says
     * so before libpq has seen the socket close: lost either way */
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    bool lost = (pg->conn && PQstatus(pg->conn) == CONNECTION_BAD) ||
                (state && (!strncmp(state, "08", 2) || !strncmp(state, "57P0", 4)));
    snprintf(err, errsz, "%s: %s: %s%s", pg->name, what, lost ? "connection lost: " : "",
             detail[0] ? detail : "unknown error");
    return -1;
}

/* Per session: durability of every commit, whatever the server's default
 * (an acknowledged staging or commit must survive a server crash); and an
 * end to a transaction of ours left open by a client the network cut off
 * (a dead process the server notices at once), which would hold the
 * sink's lock for as long as the server's TCP keepalive takes: ours send
 * their statements back to back, never idle for long. */
static int cpd_pg_session(cpd_pg *pg, char *err, size_t errsz)
{
    PGresult *r = PQexec(pg->conn, "SET synchronous_commit TO on;"
                                   " SET idle_in_transaction_session_timeout TO '30s'");
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = cpd_pg_fail(pg, r, err, errsz, "setting up the session");
    PQclear(r);
    return rc;
}

/* Before each operation: a connection that was lost is re-established (an
 * operation that fails leaves no transaction open, but be sure). */
static int cpd_pg_ready(cpd_pg *pg, const char *what, char *err, size_t errsz)
{
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        PQreset(pg->conn);
        if (PQstatus(pg->conn) != CONNECTION_OK)
            return cpd_pg_fail(pg, NULL, err, errsz, "%s: reconnecting", what);
        if (cpd_pg_session(pg, err, errsz))
            return -1;
    }
    if (PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
        PQclear(PQexec(pg->conn, "ROLLBACK"));
    return 0;
}

static void cpd_pg_rollback(cpd_pg *pg)
{
    if (PQstatus(pg->conn) == CONNECTION_OK && PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
        PQclear(PQexec(pg->conn, "ROLLBACK"));
}

/* BEGIN and the sink's advisory lock, in one round trip (constant SQL). */
static int cpd_pg_begin(cpd_pg *pg, bool exclusive, const char *what, char *err, size_t errsz)
{
    if (cpd_pg_ready(pg, what, err, errsz))
        return -1;
    /* a commit sorts what it applies: in memory (4 MB, the default, spills
     * a 100,000-row checkpoint to disk) */
    PGresult *r = PQexec(pg->conn, exclusive ? "BEGIN; SET LOCAL work_mem = '64MB';"
                                               " SELECT pg_advisory_xact_lock(" CPD_PG_LOCK ")"
                                             : "BEGIN;"
                                               " SELECT pg_advisory_xact_lock_shared(" CPD_PG_LOCK
                                               ")");
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = cpd_pg_fail(pg, r, err, errsz, "%s", what);
        cpd_pg_rollback(pg);
    }
    PQclear(r);
    return rc;
}

/* COMMIT, checked to have committed: an aborted transaction "commits" as a
 * ROLLBACK with success status. */
static int cpd_pg_end(cpd_pg *pg, const char *what, char *err, size_t errsz)
{
    PGresult *r = PQexec(pg->conn, "COMMIT");
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = cpd_pg_fail(pg, r, err, errsz, "%s: COMMIT%s", what,
                         PQstatus(pg->conn) == CONNECTION_BAD
                             ? " (it may have happened or not: recovery finds out)"
                             : "");
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = cpd_pg_fail(pg, r, err, errsz, "%s: rolled back", what);
    PQclear(r);
    if (rc)
        cpd_pg_rollback(pg);
    return rc;
}

/* One statement with text parameters; the result when its status is want,
 * else NULL after an error (the transaction is then rolled back). */
static PGresult *cpd_pg_run(cpd_pg *pg, const char *sql, int n, const char *const *vals,
                            ExecStatusType want, const char *what, char *err, size_t errsz)
{
    PGresult *r = PQexecParams(pg->conn, sql, n, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) == want)
        return r;
    cpd_pg_fail(pg, r, err, errsz, "%s", what);
    PQclear(r);
    cpd_pg_rollback(pg);
    return NULL;
}

static void cpd_pg_close(void *be)
{
    cpd_pg *pg = be;
    if (!pg)
        return;
    PQfinish(pg->conn);
    free(pg->copy);
    free(pg);
}

/* ---- URLs: checked and shown by libpq's own reading of them */

#define CPD_PG_MAX_SECRETS 8

static char cpd_pg_secrets[CPD_PG_MAX_SECRETS][32];
static pthread_once_t cpd_pg_secrets_once = PTHREAD_ONCE_INIT;

/* libpq marks the options it hides in dialogs (password, sslpassword, any
 * later one) with dispchar '*': those are the secrets, whatever their
 * number in this libpq. */
static void cpd_pg_find_secrets(void)
{
    char *perr = NULL;
    PQconninfoOption *all = PQconninfoParse("", &perr);
    int n = 0;
    for (PQconninfoOption *o = all; o && o->keyword; o++)
        if (o->dispchar && o->dispchar[0] == '*' && n < CPD_PG_MAX_SECRETS)
            snprintf(cpd_pg_secrets[n++], sizeof cpd_pg_secrets[0], "%s", o->keyword);
    if (!all) /* cannot ask libpq: the two it has had for years */
        snprintf(cpd_pg_secrets[0], sizeof cpd_pg_secrets[0], "password"),
            snprintf(cpd_pg_secrets[1], sizeof cpd_pg_secrets[1], "sslpassword");
    PQconninfoFree(all);
    PQfreemem(perr);
}

static bool cpd_pg_is_secret(const char *name)
{
    pthread_once(&cpd_pg_secrets_once, cpd_pg_find_secrets);
    for (int i = 0; i < CPD_PG_MAX_SECRETS && cpd_pg_secrets[i][0]; i++)
        if (!strcmp(name, cpd_pg_secrets[i]))
            return true;
    return false;
}

/* Whether libpq, reading text, finds a secret other than the mask. */
static bool cpd_pg_reads_a_secret(const char *text)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(text, &perr);
    PQfreemem(perr);
    if (!opts)
        return true; /* cannot tell */
    bool found = false;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val && cpd_pg_is_secret(o->keyword) && strcmp(o->val, "***") != 0)
            found = true;
    PQconninfoFree(opts);
    return found;
}

/* url with every value libpq would read as a secret masked, keeping its
 * form. The masking follows libpq's syntax; libpq then reads the result
 * to be sure: should it still find a secret (or not parse the URL at
 * all), every parameter value is masked instead. */
static void cpd_pg_redact(const char *url, char *out, size_t outsz)
{
    cpd_sink_mask(url, cpd_pg_is_secret, out, outsz);
    /* a truncated result cannot be read back: mask it all */
    if (strlen(out) + 1 >= outsz || cpd_pg_reads_a_secret(out))
        cpd_sink_mask(url, NULL, out, outsz);
}

/* url's syntax as libpq reads it, and its ports (libpq takes any port and
 * fails only when connecting, which would look like a server that is
 * down: a typo is told at once). Connects to nothing. */
static bool cpd_pg_check(const char *url, char *err, size_t errsz)
{
    char shown[512];
    cpd_pg_redact(url, shown, sizeof shown);
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (!opts) {
        char detail[300];
        cpd_pg_flat(perr, detail, sizeof detail);
        /* libpq may quote the part it could not parse, password and all */
        bool secret = strcmp(shown, url) != 0;
        snprintf(err, errsz, "%s: not a valid PostgreSQL URL: %s", shown,
                 secret ? "(details withheld: the URL may hold a password)" : detail);
        PQfreemem(perr);
        return false;
    }
    bool ok = true;
    for (PQconninfoOption *o = opts; ok && o->keyword; o++) {
        if (strcmp(o->keyword, "port") != 0 || !o->val)
            continue;
        for (const char *p = o->val; *p;) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || v < 1 || v > 65535 || (*end && *end != ',')) {
                snprintf(err, errsz, "%s: port \"%.40s\" is not a port number", shown, o->val);
                ok = false;
                break;
            }
            p = *end ? end + 1 : end;
        }
    }
    PQconninfoFree(opts);
    return ok;
}

static void *cpd_pg_open(const char *url, char *name, size_t namesz, char *err, size_t errsz)
{
    if (!cpd_pg_check(url, err, errsz))
        return NULL;
    cpd_pg *pg = calloc(1, sizeof *pg);
    if (!pg || !(pg->copy = malloc(CPD_PG_COPY_BUF))) {
        snprintf(err, errsz, "out of memory");
        if (pg)
            free(pg);
        return NULL;
    }
    snprintf(pg->name, sizeof pg->name, "%s", name); /* redacted by the front end */
    /* defaults first: whatever the URL says overrides them (expand_dbname) */
    const char *const keys[] = {"connect_timeout", "application_name", "keepalives_idle",
                                "keepalives_interval", "keepalives_count", "dbname", NULL};
    const char *const vals[] = {"5", "cpdemo-sink", "10", "5", "3", url, NULL};
    /* A restarting server says "shutting down", then nothing answers for a
     * moment, then "starting up" (PQPING_REJECT, NO_RESPONSE, REJECT); the
     * first and last phases last as long as the shutdown checkpoint and the
     * recovery take, which a busy machine stretches to seconds. So: wait
     * while it says it is on its way, but not long for silence (a wrong
     * host or port); a refused login or a missing database will not fix
     * itself (PQPING_OK) and fails at once. */
    int64_t t0 = cpd_mono_ms(), silent_since = -1;
    for (int delay = 50;; delay = delay < 400 ? delay * 2 : 500) {
        pg->conn = PQconnectdbParams(keys, vals, 1);
        if (!pg->conn) {
            snprintf(err, errsz, "%s: out of memory", pg->name);
            cpd_pg_close(pg);
            return NULL;
        }
        if (PQstatus(pg->conn) == CONNECTION_OK)
            break;
        PGPing ping = PQpingParams(keys, vals, 1);
        int64_t now = cpd_mono_ms(), waited = now - t0;
        if (ping != PQPING_NO_RESPONSE)
            silent_since = -1;
        else if (silent_since < 0)
            silent_since = now;
        if ((ping == PQPING_REJECT ||
             (ping == PQPING_NO_RESPONSE && now + delay - silent_since < CPD_SINK_PG_DOWN_WAIT_MS)) &&
            waited + delay < CPD_SINK_PG_OPEN_WAIT_MS) {
            PQfinish(pg->conn);
            pg->conn = NULL;
            cpd_sleep_ms(delay);
            continue;
        }
        char detail[600];
        cpd_pg_flat(PQerrorMessage(pg->conn), detail, sizeof detail);
        if (waited >= 1000)
            snprintf(err, errsz, "%s: cannot connect (tried for %lld s): %s", pg->name,
                     (long long)((waited + 500) / 1000), detail);
        else
            snprintf(err, errsz, "%s: cannot connect: %s", pg->name, detail);
        cpd_pg_close(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg->conn, cpd_pg_quiet, NULL);
    /* name the server as connected: defaults (port, user) resolved */
    const char *host = PQhost(pg->conn);
    snprintf(pg->name, sizeof pg->name, "postgresql://%s@%s:%s/%s", PQuser(pg->conn),
             host && *host ? host : "localhost", PQport(pg->conn), PQdb(pg->conn));
    snprintf(name, namesz, "%s", pg->name);
    if (cpd_pg_session(pg, err, errsz)) {
        cpd_pg_close(pg);
        return NULL;
    }
    PGresult *r = PQexec(pg->conn, cpd_pg_schema);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        cpd_pg_fail(pg, r, err, errsz, "cannot create tables");
        PQclear(r);
        cpd_pg_close(pg);
        return NULL;
    }
    PQclear(r);
    return pg;
}

/* ---- binary COPY encoding (network byte order) */

static unsigned char *cpd_pg_be16(unsigned char *p, int v)
{
    p[0] = (unsigned char)((unsigned)v >> 8);
    p[1] = (unsigned char)v;
    return p + 2;
}

static unsigned char *cpd_pg_be32(unsigned char *p, int32_t v)
{
    uint32_t u = (uint32_t)v;
    for (int i = 3; i >= 0; i--, u >>= 8)
        p[i] = (unsigned char)u;
    return p + 4;
}

static unsigned char *cpd_pg_be64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8)
        p[i] = (unsigned char)u;
    return p + 8;
}

static unsigned char *cpd_pg_int8(unsigned char *p, int64_t v)
{
    return cpd_pg_be64(cpd_pg_be32(p, 8), v);
}

static unsigned char *cpd_pg_int4(unsigned char *p, int32_t v)
{
    return cpd_pg_be32(cpd_pg_be32(p, 4), v);
}

/* Rows as COPY … (FORMAT binary) data: header, one tuple per row, trailer. */
static int cpd_pg_copy_rows(cpd_pg *pg, int64_t cp_id, int subtask, const cpd_row *rows, int n)
{
    static const unsigned char header[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r',
                                             '\n', 0}; /* + flags, extension length: 0 */
    unsigned char *buf = pg->copy, *p = buf;
    memcpy(p, header, sizeof header);
    p += sizeof header;
    /* a tuple: 9 fields, 8 fixed-size and the account */
    const size_t max_tuple = 2 + 9 * 4 + 6 * 8 + 2 * 4 + sizeof rows[0].account;
    for (int i = 0; i < n; i++) {
        if ((size_t)(p - buf) + max_tuple > CPD_PG_COPY_BUF) {
            if (PQputCopyData(pg->conn, (const char *)buf, (int)(p - buf)) != 1)
                return -1;
            p = buf;
        }
        const cpd_row *r = &rows[i];
        size_t alen = strnlen(r->account, sizeof r->account);
        p = cpd_pg_be16(p, 9);
        p = cpd_pg_int8(p, cp_id);
        p = cpd_pg_int4(p, subtask);
        p = cpd_pg_int4(p, i);
        p = cpd_pg_be32(p, (int32_t)alen);
        memcpy(p, r->account, alen);
        p += alen;
        p = cpd_pg_int8(p, r->count);
        p = cpd_pg_int8(p, r->sum_cents);
        p = cpd_pg_int8(p, r->min_cents);
        p = cpd_pg_int8(p, r->max_cents);
        p = cpd_pg_int8(p, r->last_ts_ms);
    }
    p = cpd_pg_be16(p, -1);
    return PQputCopyData(pg->conn, (const char *)buf, (int)(p - buf)) == 1 ? 0 : -1;
}

static int cpd_pg_stage(void *be, int64_t cp_id, int subtask, const cpd_row *rows, int n,
                        char *err, size_t errsz)
{
    cpd_pg *pg = be;
    char what[96];
    snprintf(what, sizeof what, "staging %d rows of checkpoint %lld", n, (long long)cp_id);
    if (cpd_pg_begin(pg, false, what, err, errsz))
        return -1;
    char a[24], b[24];
    snprintf(a, sizeof a, "%lld", (long long)cp_id);
    snprintf(b, sizeof b, "%d", subtask);
    const char *const v[] = {a, b};
    /* staging again for the same checkpoint (a retried snapshot) replaces it */
    PGresult *r = cpd_pg_run(pg, "DELETE FROM staged_rows WHERE checkpoint_id = $1 AND subtask = $2",
                             2, v, PGRES_COMMAND_OK, what, err, errsz);
    if (!r)
        return -1;
    PQclear(r);
    if (n > 0) {
        r = PQexec(pg->conn, "COPY staged_rows (checkpoint_id, subtask, seq, account, count, "
                             "sum_cents, min_cents, max_cents, last_ts_ms) FROM STDIN "
                             "(FORMAT binary)");
        if (PQresultStatus(r) != PGRES_COPY_IN) {
            cpd_pg_fail(pg, r, err, errsz, "%s", what);
            PQclear(r);
            cpd_pg_rollback(pg);
            return -1;
        }
        PQclear(r);
        bool sent = cpd_pg_copy_rows(pg, cp_id, subtask, rows, n) == 0;
        if (PQputCopyEnd(pg->conn, sent ? NULL : "sending rows failed") != 1)
            sent = false;
        int rc = sent ? 0 : -1;
        if (!sent)
            cpd_pg_fail(pg, NULL, err, errsz, "%s", what);
        while ((r = PQgetResult(pg->conn))) {
            if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
                rc = cpd_pg_fail(pg, r, err, errsz, "%s", what);
            PQclear(r);
        }
        if (rc) {
            cpd_pg_rollback(pg);
            return -1;
        }
    }
    return cpd_pg_end(pg, what, err, errsz);
}

/* Error text as valid UTF-8 ('?' for any invalid byte): a text column in a
 * UTF-8 database refuses anything else, and a dead letter must never make
 * staging fail for good. */
static void cpd_pg_utf8(const char *in, size_t len, char *out, size_t outsz)
{
    size_t k = 0;
    const unsigned char *s = (const unsigned char *)in;
    for (size_t i = 0; i < len && s[i] && k + 1 < outsz;) {
        unsigned c = s[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = n > 0 && i + n <= len && k + n < outsz;
        for (size_t j = 1; ok && j < n; j++)
            ok = (s[i + j] & 0xc0) == 0x80;
        if (ok && n > 1) { /* no overlong forms, surrogates or > U+10FFFF */
            unsigned cp = n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
            for (size_t j = 1; j < n; j++)
                cp = (cp << 6) | (s[i + j] & 0x3f);
            ok = cp >= (n == 2 ? 0x80u : n == 3 ? 0x800u : 0x10000u) && cp <= 0x10ffff &&
                 (cp < 0xd800 || cp > 0xdfff);
        }
        if (!ok) {
            out[k++] = '?';
            i++;
            continue;
        }
        memcpy(out + k, s + i, n);
        k += n;
        i += n;
    }
    out[k] = '\0';
}

/* One multi-row INSERT … ON CONFLICT DO UPDATE (SQLite's INSERT OR REPLACE)
 * of d[0..n), whose keys are distinct. */
static int cpd_pg_dead_chunk(cpd_pg *pg, const char *cp, const char *sub, const cpd_dead *d,
                             int n, const char *what, char *err, size_t errsz)
{
    enum { PER = 4 };
    int np = 2 + PER * n;
    const char **vals = calloc((size_t)np, sizeof *vals);
    int *lens = calloc((size_t)np, sizeof *lens), *fmts = calloc((size_t)np, sizeof *fmts);
    char (*nums)[24] = calloc((size_t)n * 2, sizeof *nums);
    char (*errs)[sizeof d[0].error] = calloc((size_t)n, sizeof *errs);
    size_t sqlsz = 256 + (size_t)n * 48;
    char *sql = malloc(sqlsz);
    int rc = -1;
    if (!vals || !lens || !fmts || !nums || !errs || !sql) {
        snprintf(err, errsz, "%s: %s: out of memory", pg->name, what);
        cpd_pg_rollback(pg);
        goto out;
    }
    /* placeholders only: the values travel as parameters */
    size_t k = (size_t)snprintf(sql, sqlsz, "INSERT INTO staged_dead (checkpoint_id, subtask, "
                                            "partition, \"offset\", error, raw) VALUES ");
    vals[0] = cp;
    vals[1] = sub;
    for (int i = 0; i < n; i++) {
        int b = 2 + PER * i;
        k += (size_t)snprintf(sql + k, sqlsz - k, "%s($1, $2, $%d, $%d, $%d, $%d)", i ? ", " : "",
                              b + 1, b + 2, b + 3, b + 4);
        snprintf(nums[2 * i], sizeof nums[0], "%d", d[i].partition);
        snprintf(nums[2 * i + 1], sizeof nums[0], "%lld", (long long)d[i].offset);
        cpd_pg_utf8(d[i].error, strnlen(d[i].error, sizeof d[i].error), errs[i], sizeof errs[i]);
        vals[b] = nums[2 * i];
        vals[b + 1] = nums[2 * i + 1];
        vals[b + 2] = errs[i];
        /* raw bytes as they came, binary: no encoding, no escaping (no
         * bytes: NULL, as SQLite binds a NULL blob) */
        vals[b + 3] = d[i].raw;
        lens[b + 3] = (int)d[i].raw_len;
        fmts[b + 3] = 1;
    }
    snprintf(sql + k, sqlsz - k, " ON CONFLICT (checkpoint_id, partition, \"offset\") DO UPDATE "
                                 "SET subtask = EXCLUDED.subtask, error = EXCLUDED.error, "
                                 "raw = EXCLUDED.raw");
    PGresult *r = PQexecParams(pg->conn, sql, np, NULL, vals, lens, fmts, 0);
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        rc = 0;
    } else {
        cpd_pg_fail(pg, r, err, errsz, "%s", what);
        cpd_pg_rollback(pg);
    }
    PQclear(r);
out:
    free(vals);
    free(lens);
    free(fmts);
    free(nums);
    free(errs);
    free(sql);
    return rc;
}

static int cpd_pg_stage_dead(void *be, int64_t cp_id, int subtask, const cpd_dead *d, int n,
                             char *err, size_t errsz)
{
    cpd_pg *pg = be;
    char what[96];
    snprintf(what, sizeof what, "staging %d dead letters of checkpoint %lld", n,
             (long long)cp_id);
    if (cpd_pg_begin(pg, false, what, err, errsz))
        return -1;
    char a[24], b[24];
    snprintf(a, sizeof a, "%lld", (long long)cp_id);
    snprintf(b, sizeof b, "%d", subtask);
    /* a key twice in one INSERT … ON CONFLICT DO UPDATE is an error: a
     * repeated key starts a new statement, so the later one wins as in SQLite */
    for (int start = 0; start < n;) {
        int end = start + 1;
        for (bool dup = false; end < n && end - start < CPD_PG_DEAD_CHUNK && !dup;) {
            for (int i = start; i < end && !dup; i++)
                dup = d[i].partition == d[end].partition && d[i].offset == d[end].offset;
            if (!dup)
                end++;
        }
        if (cpd_pg_dead_chunk(pg, a, b, d + start, end - start, what, err, errsz))
            return -1;
        start = end;
    }
    return cpd_pg_end(pg, what, err, errsz);
}

/* Inside the commit's transaction: whether cp_id or a later one is recorded
 * (1), not (0), or an error (-1, rolled back). */
static int cpd_pg_committed(cpd_pg *pg, int64_t cp_id, const char *what, char *err, size_t errsz)
{
    char a[24];
    snprintf(a, sizeof a, "%lld", (long long)cp_id);
    const char *const v[] = {a};
    PGresult *r = cpd_pg_run(pg, "SELECT 1 FROM commits WHERE checkpoint_id >= $1 LIMIT 1", 1, v,
                             PGRES_TUPLES_OK, what, err, errsz);
    if (!r)
        return -1;
    int done = PQntuples(r) > 0;
    PQclear(r);
    return done;
}

/* Offsets as two array literals, "{0,1}" and "{10,7}": integers formatted
 * here, passed as parameters. */
static char *cpd_pg_array(const cpd_offset *o, int n, bool next)
{
    size_t sz = 3 + (size_t)n * 22;
    char *s = malloc(sz);
    if (!s)
        return NULL;
    size_t k = 0;
    s[k++] = '{';
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(s + k, sz - k, "%s%lld", i ? "," : "",
                              next ? (long long)o[i].next : (long long)o[i].partition);
    snprintf(s + k, sz - k, "}");
    return s;
}

static int cpd_pg_apply_upto(cpd_pg *pg, int64_t cp_id, const cpd_offset *offsets, int n,
                             const char *what, char *err, size_t errsz)
{
    char a[24];
    snprintf(a, sizeof a, "%lld", (long long)cp_id);
    char *parts = cpd_pg_array(offsets, n, false), *nexts = cpd_pg_array(offsets, n, true);
    if (!parts || !nexts) {
        free(parts);
        free(nexts);
        snprintf(err, errsz, "%s: %s: out of memory", pg->name, what);
        cpd_pg_rollback(pg);
        return -1;
    }
    const char *const v[] = {a, parts, nexts};
    PGresult *r = cpd_pg_run(pg, cpd_pg_apply, 3, v, PGRES_COMMAND_OK, what, err, errsz);
    free(parts);
    free(nexts);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

static int cpd_pg_commit(void *be, int64_t cp_id, const cpd_offset *offsets, int n, char *err,
                         size_t errsz)
{
    cpd_pg *pg = be;
    char what[64];
    snprintf(what, sizeof what, "commit of checkpoint %lld", (long long)cp_id);
    if (cpd_pg_begin(pg, true, what, err, errsz))
        return -1;
    int done = cpd_pg_committed(pg, cp_id, what, err, errsz);
    if (done < 0 || (!done && cpd_pg_apply_upto(pg, cp_id, offsets, n, what, err, errsz)))
        return -1;
    return cpd_pg_end(pg, what, err, errsz); /* done: a replay, nothing changed */
}

static int cpd_pg_recover(void *be, int64_t restored_id, const cpd_offset *offsets, int n,
                          char *err, size_t errsz)
{
    cpd_pg *pg = be;
    char what[80];
    snprintf(what, sizeof what, "recovery to checkpoint %lld", (long long)restored_id);
    if (cpd_pg_begin(pg, true, what, err, errsz))
        return -1;
    int done = cpd_pg_committed(pg, restored_id, what, err, errsz);
    if (done < 0 ||
        (restored_id > 0 && !done &&
         cpd_pg_apply_upto(pg, restored_id, offsets, n, what, err, errsz)))
        return -1;
    char a[24];
    snprintf(a, sizeof a, "%lld", (long long)restored_id);
    const char *const v[] = {a};
    PGresult *r = cpd_pg_run(pg,
                             "WITH r AS (DELETE FROM staged_rows WHERE checkpoint_id > $1::bigint)"
                             " DELETE FROM staged_dead WHERE checkpoint_id > $1::bigint",
                             1, v, PGRES_COMMAND_OK, what, err, errsz);
    if (!r)
        return -1;
    PQclear(r);
    return cpd_pg_end(pg, what, err, errsz);
}

/* A read: rows, or NULL. Reads change nothing, so a connection found lost
 * by this very call (libpq learns it only when it next talks to the server)
 * is re-established and the read tried once more. */
static PGresult *cpd_pg_read(cpd_pg *pg, const char *sql)
{
    char err[16];
    for (int attempt = 0; attempt < 2; attempt++) {
        if (cpd_pg_ready(pg, "", err, sizeof err))
            return NULL;
        PGresult *r = PQexec(pg->conn, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            return r;
        PQclear(r);
        if (PQstatus(pg->conn) == CONNECTION_OK)
            break;
    }
    return NULL;
}

static int64_t cpd_pg_last_committed(void *be, cpd_offset *offsets, int max, int *n)
{
    cpd_pg *pg = be;
    int64_t id = 0;
    PGresult *r = cpd_pg_read(pg, "SELECT coalesce(max(checkpoint_id), 0) FROM commits");
    if (r && PQntuples(r) == 1)
        id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (offsets && n) {
        r = cpd_pg_read(pg, "SELECT partition, next_offset FROM committed_offsets "
                            "ORDER BY partition");
        if (r)
            for (int i = 0; i < PQntuples(r) && *n < max; i++) {
                offsets[*n].partition = (int32_t)strtol(PQgetvalue(r, i, 0), NULL, 10);
                offsets[*n].next = strtoll(PQgetvalue(r, i, 1), NULL, 10);
                (*n)++;
            }
        PQclear(r);
    }
    return id;
}

/* One pass of scan: 0, -1 after an error; *rows counts the rows given to cb. */
static int cpd_pg_scan1(cpd_pg *pg, int (*cb)(void *, const cpd_row *), void *opaque,
                        int64_t *rows, char *err, size_t errsz)
{
    const char *what = "reading accounts";
    if (cpd_pg_ready(pg, what, err, errsz))
        return -1;
    /* row by row: the results may be larger than memory should hold at once */
    if (!PQsendQueryParams(pg->conn,
                           "SELECT account, count, sum_cents, min_cents, max_cents, last_ts_ms "
                           "FROM accounts ORDER BY account COLLATE \"C\"",
                           0, NULL, NULL, NULL, NULL, 0))
        return cpd_pg_fail(pg, NULL, err, errsz, "%s", what);
    PQsetSingleRowMode(pg->conn);
    int rc = 0;
    bool stop = false;
    PGresult *r;
    while ((r = PQgetResult(pg->conn))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && !stop && rc == 0) {
            (*rows)++;
            cpd_row row;
            memset(&row, 0, sizeof row);
            snprintf(row.account, sizeof row.account, "%s", PQgetvalue(r, 0, 0));
            row.count = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
            row.sum_cents = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
            row.min_cents = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
            row.max_cents = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
            row.last_ts_ms = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
            stop = cb(opaque, &row) != 0; /* the rest is drained, unread */
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == 0) {
            rc = cpd_pg_fail(pg, r, err, errsz, "%s", what);
        }
        PQclear(r);
    }
    return rc;
}

static int cpd_pg_scan(void *be, int (*cb)(void *, const cpd_row *), void *opaque, char *err,
                       size_t errsz)
{
    cpd_pg *pg = be;
    int64_t rows = 0;
    int rc = cpd_pg_scan1(pg, cb, opaque, &rows, err, errsz);
    /* a connection found lost before any row was handed out: as cpd_pg_read */
    if (rc && rows == 0 && PQstatus(pg->conn) != CONNECTION_OK)
        rc = cpd_pg_scan1(pg, cb, opaque, &rows, err, errsz);
    return rc;
}

static int64_t cpd_pg_dead_count(void *be)
{
    cpd_pg *pg = be;
    int64_t v = -1;
    PGresult *r = cpd_pg_read(pg, "SELECT count(*) FROM dead_letters");
    if (r && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

const cpd_sink_ops cpd_sink_pg_ops = {
    .check = cpd_pg_check,
    .redact = cpd_pg_redact,
    .open = cpd_pg_open,
    .close = cpd_pg_close,
    .stage = cpd_pg_stage,
    .stage_dead = cpd_pg_stage_dead,
    .commit = cpd_pg_commit,
    .recover = cpd_pg_recover,
    .last_committed = cpd_pg_last_committed,
    .scan = cpd_pg_scan,
    .dead_count = cpd_pg_dead_count,
};
