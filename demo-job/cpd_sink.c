/* cpd_sink.c — exactly-once sink (see cpd_sink.h): the front end that picks a
 * backend by URL and does what every backend shares, and the SQLite backend.
 * The PostgreSQL backend is cpd_sink_pg.c; both implement cpd_sink_backend.h. */
#include "cpd_sink.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_sink_backend.h"
#include "cpd_sink_url.h"

/* ------------------------------------------------------------------ front end */

struct cpd_sink {
    const cpd_sink_ops *ops;
    void *be;
    char name[512];             /* the URL without its password */
    atomic_int fail_commits;
};

/* The backends, by the start of their URL. */
static const struct {
    const char *prefix;
    const cpd_sink_ops *ops;
} backends[] = {
    {"sqlite:", &cpd_sink_sqlite_ops},
    {"postgresql://", &cpd_sink_pg_ops},
    {"postgres://", &cpd_sink_pg_ops},
};

static const cpd_sink_ops *backend_of(const char *url)
{
    for (size_t i = 0; url && i < sizeof backends / sizeof backends[0]; i++)
        if (!strncmp(url, backends[i].prefix, strlen(backends[i].prefix)))
            return backends[i].ops;
    return NULL;
}

bool cpd_sink_is_postgres(const char *url)
{
    return url && backend_of(url) == &cpd_sink_pg_ops;
}

const char *cpd_sink_redact(const char *url, char *out, size_t outsz)
{
    if (!out || !outsz)
        return "";
    const cpd_sink_ops *ops = backend_of(url);
    if (!ops && url && strchr(url, '=') && !strstr(url, "://"))
        ops = &cpd_sink_pg_ops; /* libpq's keyword/value form, as psql takes it */
    if (ops)
        ops->redact(url, out, outsz);
    else /* no backend knows where its secrets are: hide every value */
        cpd_sink_mask(url, NULL, out, outsz);
    return out;
}

bool cpd_sink_check_url(const char *url, char *err, size_t errsz)
{
    const cpd_sink_ops *ops = backend_of(url);
    if (!ops) {
        char shown[512];
        snprintf(err, errsz, "\"%s\" must be sqlite:PATH or postgresql://…",
                 cpd_sink_redact(url, shown, sizeof shown));
        return false;
    }
    return ops->check(url, err, errsz);
}

cpd_sink *cpd_sink_open(const char *url, char *err, size_t errsz)
{
    const cpd_sink_ops *ops = backend_of(url);
    if (!ops) {
        char shown[512];
        snprintf(err, errsz, "sink.url \"%s\" must be sqlite:PATH or postgresql://…",
                 cpd_sink_redact(url, shown, sizeof shown));
        return NULL;
    }
    cpd_sink *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    s->ops = ops;
    cpd_sink_redact(url, s->name, sizeof s->name);
    s->be = ops->open(url, s->name, sizeof s->name, err, errsz);
    if (!s->be) {
        free(s);
        return NULL;
    }
    return s;
}

void cpd_sink_close(cpd_sink *s)
{
    if (!s)
        return;
    s->ops->close(s->be);
    free(s);
}

const char *cpd_sink_name(const cpd_sink *s)
{
    return s ? s->name : "sink";
}

int cpd_sink_stage(cpd_sink *s, int64_t cp_id, int subtask, const cpd_row *rows, int n,
                   char *err, size_t errsz)
{
    return s->ops->stage(s->be, cp_id, subtask, rows, n, err, errsz);
}

int cpd_sink_stage_dead(cpd_sink *s, int64_t cp_id, int subtask, const cpd_dead *d, int n,
                        char *err, size_t errsz)
{
    return s->ops->stage_dead(s->be, cp_id, subtask, d, n, err, errsz);
}

int cpd_sink_commit(cpd_sink *s, int64_t cp_id, const cpd_offset *offsets, int n, char *err,
                    size_t errsz)
{
    int k = atomic_load(&s->fail_commits);
    while (k > 0 && !atomic_compare_exchange_weak(&s->fail_commits, &k, k - 1)) {
    }
    if (k > 0) {
        snprintf(err, errsz, "%s: commit of checkpoint %lld failed (injected failure)", s->name,
                 (long long)cp_id);
        return -1;
    }
    if (cp_id <= 0)
        return 0; /* nothing can be staged under it */
    return s->ops->commit(s->be, cp_id, offsets, n, err, errsz);
}

int cpd_sink_recover(cpd_sink *s, int64_t restored_id, const cpd_offset *offsets, int n,
                     char *err, size_t errsz)
{
    return s->ops->recover(s->be, restored_id, offsets, n, err, errsz);
}

int64_t cpd_sink_last_committed(cpd_sink *s, cpd_offset *offsets, int max, int *n)
{
    if (n)
        *n = 0;
    return s->ops->last_committed(s->be, offsets, max, n);
}

int cpd_sink_scan(cpd_sink *s, int (*cb)(void *, const cpd_row *), void *opaque, char *err,
                  size_t errsz)
{
    return s->ops->scan(s->be, cb, opaque, err, errsz);
}

int64_t cpd_sink_dead_count(cpd_sink *s)
{
    return s->ops->dead_count(s->be);
}

void cpd_sink_fail_next_commits(cpd_sink *s, int k)
{
    atomic_store(&s->fail_commits, k < 0 ? 0 : k);
}

/* ------------------------------------------------------------------ SQLite */

typedef struct lite {
    sqlite3 *db;
    char name[512];
} lite;

static const char lite_schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS accounts ("
    "  account TEXT PRIMARY KEY, count INTEGER NOT NULL, sum_cents INTEGER NOT NULL,"
    "  min_cents INTEGER NOT NULL, max_cents INTEGER NOT NULL, last_ts_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS dead_letters ("
    "  partition INTEGER NOT NULL, offset INTEGER NOT NULL, error TEXT NOT NULL, raw BLOB,"
    "  checkpoint_id INTEGER NOT NULL, PRIMARY KEY (partition, offset));"
    /* no key: staging is the hot write of a checkpoint and holds only
     * uncommitted rows, so an index costs more than the scans it saves */
    "CREATE TABLE IF NOT EXISTS staged_rows ("
    "  checkpoint_id INTEGER NOT NULL, subtask INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  account TEXT NOT NULL, count INTEGER NOT NULL, sum_cents INTEGER NOT NULL,"
    "  min_cents INTEGER NOT NULL, max_cents INTEGER NOT NULL, last_ts_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS staged_dead ("
    "  checkpoint_id INTEGER NOT NULL, subtask INTEGER NOT NULL, partition INTEGER NOT NULL,"
    "  offset INTEGER NOT NULL, error TEXT NOT NULL, raw BLOB,"
    "  PRIMARY KEY (checkpoint_id, partition, offset));"
    "CREATE TABLE IF NOT EXISTS commits ("
    "  checkpoint_id INTEGER PRIMARY KEY, committed_at_ms INTEGER NOT NULL,"
    "  rows INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS committed_offsets ("
    "  partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL,"
    "  checkpoint_id INTEGER NOT NULL);";

static int lite_fail(lite *l, char *err, size_t errsz, const char *what)
{
    snprintf(err, errsz, "%s: %s: %s", l->name, what,
             l->db ? sqlite3_errmsg(l->db) : "no database");
    return -1;
}

static void lite_close(void *be)
{
    lite *l = be;
    if (!l)
        return;
    sqlite3_close(l->db);
    free(l);
}

/* sqlite:PATH: any non-empty path (SQLite says more when it opens it). */
static bool lite_check(const char *url, char *err, size_t errsz)
{
    if (!url[7]) {
        snprintf(err, errsz, "\"%s\": sqlite: needs a file name (sqlite:PATH)", url);
        return false;
    }
    return true;
}

/* A file name holds no secret. */
static void lite_redact(const char *url, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s", url);
}

static void *lite_open(const char *url, char *name, size_t namesz, char *err, size_t errsz)
{
    if (!lite_check(url, err, errsz))
        return NULL;
    lite *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    snprintf(l->name, sizeof l->name, "%s", name);
    (void)namesz;
    if (sqlite3_open_v2(url + 7, &l->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        lite_fail(l, err, errsz, "cannot open");
        lite_close(l);
        return NULL;
    }
    sqlite3_busy_timeout(l->db, 5000);
    if (sqlite3_exec(l->db, lite_schema, NULL, NULL, NULL) != SQLITE_OK) {
        lite_fail(l, err, errsz, "cannot create tables");
        lite_close(l);
        return NULL;
    }
    return l;
}

static int lite_exec(lite *l, const char *sql, char *err, size_t errsz)
{
    if (sqlite3_exec(l->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return lite_fail(l, err, errsz, sql);
    return 0;
}

static int lite_stage(void *be, int64_t cp_id, int subtask, const cpd_row *rows, int n,
                      char *err, size_t errsz)
{
    lite *l = be;
    if (lite_exec(l, "BEGIN IMMEDIATE", err, errsz))
        return -1;
    sqlite3_stmt *st = NULL;
    /* staging again for the same checkpoint (a retried snapshot) replaces it */
    if (sqlite3_prepare_v2(l->db, "DELETE FROM staged_rows WHERE checkpoint_id=? AND subtask=?",
                           -1, &st, NULL) != SQLITE_OK)
        goto bad;
    sqlite3_bind_int64(st, 1, cp_id);
    sqlite3_bind_int(st, 2, subtask);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto bad;
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(l->db,
                           "INSERT INTO staged_rows VALUES (?,?,?,?,?,?,?,?,?)", -1, &st,
                           NULL) != SQLITE_OK)
        goto bad;
    for (int i = 0; i < n; i++) {
        const cpd_row *r = &rows[i];
        sqlite3_bind_int64(st, 1, cp_id);
        sqlite3_bind_int(st, 2, subtask);
        sqlite3_bind_int(st, 3, i);
        sqlite3_bind_text(st, 4, r->account, (int)strnlen(r->account, sizeof r->account),
                          SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, r->count);
        sqlite3_bind_int64(st, 6, r->sum_cents);
        sqlite3_bind_int64(st, 7, r->min_cents);
        sqlite3_bind_int64(st, 8, r->max_cents);
        sqlite3_bind_int64(st, 9, r->last_ts_ms);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto bad;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return lite_exec(l, "COMMIT", err, errsz);
bad:
    lite_fail(l, err, errsz, "staging rows");
    sqlite3_finalize(st);
    sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int lite_stage_dead(void *be, int64_t cp_id, int subtask, const cpd_dead *d, int n,
                           char *err, size_t errsz)
{
    lite *l = be;
    if (lite_exec(l, "BEGIN IMMEDIATE", err, errsz))
        return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(l->db, "INSERT OR REPLACE INTO staged_dead VALUES (?,?,?,?,?,?)", -1,
                           &st, NULL) != SQLITE_OK)
        goto bad;
    for (int i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, cp_id);
        sqlite3_bind_int(st, 2, subtask);
        sqlite3_bind_int(st, 3, d[i].partition);
        sqlite3_bind_int64(st, 4, d[i].offset);
        sqlite3_bind_text(st, 5, d[i].error, (int)strnlen(d[i].error, sizeof d[i].error),
                          SQLITE_STATIC);
        sqlite3_bind_blob(st, 6, d[i].raw, (int)d[i].raw_len, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto bad;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return lite_exec(l, "COMMIT", err, errsz);
bad:
    lite_fail(l, err, errsz, "staging dead letters");
    sqlite3_finalize(st);
    sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int lite_run1(lite *l, const char *sql, int64_t a, int64_t b, int64_t c)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int np = sqlite3_bind_parameter_count(st);
    if (np >= 1)
        sqlite3_bind_int64(st, 1, a);
    if (np >= 2)
        sqlite3_bind_int64(st, 2, b);
    if (np >= 3)
        sqlite3_bind_int64(st, 3, c);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static int64_t lite_scalar(lite *l, const char *sql, int64_t a)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_bind_parameter_count(st) >= 1)
            sqlite3_bind_int64(st, 1, a);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/* Inside a transaction: apply everything staged up to cp_id, in checkpoint
 * order (a later checkpoint's value for an account wins), record cp_id. */
static int lite_apply_upto(lite *l, int64_t cp_id, const cpd_offset *offsets, int n)
{
    int64_t rows = lite_scalar(l, "SELECT count(*) FROM staged_rows WHERE checkpoint_id<=?",
                               cp_id);
    if (rows < 0 ||
        lite_run1(l,
                  "INSERT OR REPLACE INTO accounts "
                  "SELECT account,count,sum_cents,min_cents,max_cents,last_ts_ms FROM staged_rows "
                  "WHERE checkpoint_id<=? ORDER BY checkpoint_id, subtask, seq",
                  cp_id, 0, 0) ||
        lite_run1(l,
                  "INSERT OR IGNORE INTO dead_letters "
                  "SELECT partition,offset,error,raw,checkpoint_id FROM staged_dead "
                  "WHERE checkpoint_id<=? ORDER BY checkpoint_id",
                  cp_id, 0, 0) ||
        lite_run1(l, "DELETE FROM staged_rows WHERE checkpoint_id<=?", cp_id, 0, 0) ||
        lite_run1(l, "DELETE FROM staged_dead WHERE checkpoint_id<=?", cp_id, 0, 0) ||
        lite_run1(l,
                  "INSERT INTO commits VALUES (?, CAST((julianday('now')-2440587.5)*86400000 AS "
                  "INTEGER), ?)",
                  cp_id, rows, 0))
        return -1;
    for (int i = 0; i < n; i++)
        if (lite_run1(l, "INSERT OR REPLACE INTO committed_offsets VALUES (?,?,?)",
                      offsets[i].partition, offsets[i].next, cp_id))
            return -1;
    return 0;
}

static int lite_commit(void *be, int64_t cp_id, const cpd_offset *offsets, int n, char *err,
                       size_t errsz)
{
    lite *l = be;
    if (lite_exec(l, "BEGIN IMMEDIATE", err, errsz))
        return -1;
    if (lite_scalar(l, "SELECT count(*) FROM commits WHERE checkpoint_id>=?", cp_id) > 0)
        return lite_exec(l, "COMMIT", err, errsz); /* already committed: a replay */
    if (lite_apply_upto(l, cp_id, offsets, n)) {
        lite_fail(l, err, errsz, "commit");
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return lite_exec(l, "COMMIT", err, errsz);
}

static int lite_recover(void *be, int64_t restored_id, const cpd_offset *offsets, int n,
                        char *err, size_t errsz)
{
    lite *l = be;
    if (lite_exec(l, "BEGIN IMMEDIATE", err, errsz))
        return -1;
    bool done =
        lite_scalar(l, "SELECT count(*) FROM commits WHERE checkpoint_id>=?", restored_id) > 0;
    if ((restored_id > 0 && !done && lite_apply_upto(l, restored_id, offsets, n)) ||
        lite_run1(l, "DELETE FROM staged_rows WHERE checkpoint_id>?", restored_id, 0, 0) ||
        lite_run1(l, "DELETE FROM staged_dead WHERE checkpoint_id>?", restored_id, 0, 0)) {
        lite_fail(l, err, errsz, "recovery");
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return lite_exec(l, "COMMIT", err, errsz);
}

static int64_t lite_last_committed(void *be, cpd_offset *offsets, int max, int *n)
{
    lite *l = be;
    int64_t id = lite_scalar(l, "SELECT coalesce(max(checkpoint_id),0) FROM commits", 0);
    if (offsets && n) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(l->db,
                               "SELECT partition,next_offset FROM committed_offsets ORDER BY "
                               "partition", -1, &st, NULL) == SQLITE_OK) {
            while (*n < max && sqlite3_step(st) == SQLITE_ROW) {
                offsets[*n].partition = sqlite3_column_int(st, 0);
                offsets[*n].next = sqlite3_column_int64(st, 1);
                (*n)++;
            }
        }
        sqlite3_finalize(st);
    }
    return id < 0 ? 0 : id;
}

static int lite_scan(void *be, int (*cb)(void *, const cpd_row *), void *opaque, char *err,
                     size_t errsz)
{
    lite *l = be;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(l->db,
                           "SELECT account,count,sum_cents,min_cents,max_cents,last_ts_ms "
                           "FROM accounts ORDER BY account", -1, &st, NULL) != SQLITE_OK)
        return lite_fail(l, err, errsz, "reading accounts");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cpd_row r;
        memset(&r, 0, sizeof r);
        snprintf(r.account, sizeof r.account, "%s", (const char *)sqlite3_column_text(st, 0));
        r.count = sqlite3_column_int64(st, 1);
        r.sum_cents = sqlite3_column_int64(st, 2);
        r.min_cents = sqlite3_column_int64(st, 3);
        r.max_cents = sqlite3_column_int64(st, 4);
        r.last_ts_ms = sqlite3_column_int64(st, 5);
        if (cb(opaque, &r))
            break;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return lite_fail(l, err, errsz, "reading accounts");
    return 0;
}

static int64_t lite_dead_count(void *be)
{
    return lite_scalar(be, "SELECT count(*) FROM dead_letters", 0);
}

const cpd_sink_ops cpd_sink_sqlite_ops = {
    .check = lite_check,
    .redact = lite_redact,
    .open = lite_open,
    .close = lite_close,
    .stage = lite_stage,
    .stage_dead = lite_stage_dead,
    .commit = lite_commit,
    .recover = lite_recover,
    .last_committed = lite_last_committed,
    .scan = lite_scan,
    .dead_count = lite_dead_count,
};
