/* cpd_sink.c — exactly-once sink, SQLite backend (see cpd_sink.h). */
#include "cpd_sink.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cpd_sink {
    sqlite3 *db;
    char url[512];
    atomic_int fail_commits;
};

static const char schema[] =
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

static int fail(cpd_sink *s, char *err, size_t errsz, const char *what)
{
    snprintf(err, errsz, "%s: %s: %s", s ? s->url : "sink", what,
             s && s->db ? sqlite3_errmsg(s->db) : "no database");
    return -1;
}

cpd_sink *cpd_sink_open(const char *url, char *err, size_t errsz)
{
    if (!url || strncmp(url, "sqlite:", 7) || !url[7]) {
        if (url && (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)))
            snprintf(err, errsz, "%s: the PostgreSQL sink is not built yet; use sqlite:PATH", url);
        else
            snprintf(err, errsz, "sink.url \"%s\" must be sqlite:PATH or postgresql://…",
                     url ? url : "");
        return NULL;
    }
    cpd_sink *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    snprintf(s->url, sizeof s->url, "%s", url);
    if (sqlite3_open_v2(url + 7, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        fail(s, err, errsz, "cannot open");
        cpd_sink_close(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        fail(s, err, errsz, "cannot create tables");
        cpd_sink_close(s);
        return NULL;
    }
    return s;
}

void cpd_sink_close(cpd_sink *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    free(s);
}

static int exec(cpd_sink *s, const char *sql, char *err, size_t errsz)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, err, errsz, sql);
    return 0;
}

int cpd_sink_stage(cpd_sink *s, int64_t cp_id, int subtask, const cpd_row *rows, int n,
                   char *err, size_t errsz)
{
    if (exec(s, "BEGIN IMMEDIATE", err, errsz))
        return -1;
    sqlite3_stmt *st = NULL;
    /* staging again for the same checkpoint (a retried snapshot) replaces it */
    if (sqlite3_prepare_v2(s->db, "DELETE FROM staged_rows WHERE checkpoint_id=? AND subtask=?",
                           -1, &st, NULL) != SQLITE_OK)
        goto bad;
    sqlite3_bind_int64(st, 1, cp_id);
    sqlite3_bind_int(st, 2, subtask);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto bad;
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(s->db,
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
    return exec(s, "COMMIT", err, errsz);
bad:
    fail(s, err, errsz, "staging rows");
    sqlite3_finalize(st);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int cpd_sink_stage_dead(cpd_sink *s, int64_t cp_id, int subtask, const cpd_dead *d, int n,
                        char *err, size_t errsz)
{
    if (exec(s, "BEGIN IMMEDIATE", err, errsz))
        return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO staged_dead VALUES (?,?,?,?,?,?)", -1,
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
    return exec(s, "COMMIT", err, errsz);
bad:
    fail(s, err, errsz, "staging dead letters");
    sqlite3_finalize(st);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int run1(cpd_sink *s, const char *sql, int64_t a, int64_t b, int64_t c)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
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

static int64_t scalar(cpd_sink *s, const char *sql, int64_t a)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
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
static int apply_upto(cpd_sink *s, int64_t cp_id, const cpd_offset *offsets, int n)
{
    int64_t rows = scalar(s, "SELECT count(*) FROM staged_rows WHERE checkpoint_id<=?", cp_id);
    if (rows < 0 ||
        run1(s,
             "INSERT OR REPLACE INTO accounts "
             "SELECT account,count,sum_cents,min_cents,max_cents,last_ts_ms FROM staged_rows "
             "WHERE checkpoint_id<=? ORDER BY checkpoint_id, subtask, seq",
             cp_id, 0, 0) ||
        run1(s,
             "INSERT OR IGNORE INTO dead_letters "
             "SELECT partition,offset,error,raw,checkpoint_id FROM staged_dead "
             "WHERE checkpoint_id<=?",
             cp_id, 0, 0) ||
        run1(s, "DELETE FROM staged_rows WHERE checkpoint_id<=?", cp_id, 0, 0) ||
        run1(s, "DELETE FROM staged_dead WHERE checkpoint_id<=?", cp_id, 0, 0) ||
        run1(s,
             "INSERT INTO commits VALUES (?, CAST((julianday('now')-2440587.5)*86400000 AS "
             "INTEGER), ?)",
             cp_id, rows, 0))
        return -1;
    for (int i = 0; i < n; i++)
        if (run1(s, "INSERT OR REPLACE INTO committed_offsets VALUES (?,?,?)",
                 offsets[i].partition, offsets[i].next, cp_id))
            return -1;
    return 0;
}

int cpd_sink_commit(cpd_sink *s, int64_t cp_id, const cpd_offset *offsets, int n, char *err,
                    size_t errsz)
{
    int k = atomic_load(&s->fail_commits);
    while (k > 0 && !atomic_compare_exchange_weak(&s->fail_commits, &k, k - 1)) {
    }
    if (k > 0) {
        snprintf(err, errsz, "%s: commit of checkpoint %lld failed (injected failure)", s->url,
                 (long long)cp_id);
        return -1;
    }
    if (cp_id <= 0)
        return 0; /* nothing can be staged under it */
    if (exec(s, "BEGIN IMMEDIATE", err, errsz))
        return -1;
    if (scalar(s, "SELECT count(*) FROM commits WHERE checkpoint_id>=?", cp_id) > 0)
        return exec(s, "COMMIT", err, errsz); /* already committed: a replay */
    if (apply_upto(s, cp_id, offsets, n)) {
        fail(s, err, errsz, "commit");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return exec(s, "COMMIT", err, errsz);
}

int cpd_sink_recover(cpd_sink *s, int64_t restored_id, const cpd_offset *offsets, int n,
                     char *err, size_t errsz)
{
    if (exec(s, "BEGIN IMMEDIATE", err, errsz))
        return -1;
    bool done = scalar(s, "SELECT count(*) FROM commits WHERE checkpoint_id>=?", restored_id) > 0;
    if ((restored_id > 0 && !done && apply_upto(s, restored_id, offsets, n)) ||
        run1(s, "DELETE FROM staged_rows WHERE checkpoint_id>?", restored_id, 0, 0) ||
        run1(s, "DELETE FROM staged_dead WHERE checkpoint_id>?", restored_id, 0, 0)) {
        fail(s, err, errsz, "recovery");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return exec(s, "COMMIT", err, errsz);
}

int64_t cpd_sink_last_committed(cpd_sink *s, cpd_offset *offsets, int max, int *n)
{
    int64_t id = scalar(s, "SELECT coalesce(max(checkpoint_id),0) FROM commits", 0);
    if (n)
        *n = 0;
    if (offsets && n) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db,
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

int cpd_sink_scan(cpd_sink *s, int (*cb)(void *, const cpd_row *), void *opaque, char *err,
                  size_t errsz)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT account,count,sum_cents,min_cents,max_cents,last_ts_ms "
                           "FROM accounts ORDER BY account", -1, &st, NULL) != SQLITE_OK)
        return fail(s, err, errsz, "reading accounts");
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
        return fail(s, err, errsz, "reading accounts");
    return 0;
}

int64_t cpd_sink_dead_count(cpd_sink *s)
{
    return scalar(s, "SELECT count(*) FROM dead_letters", 0);
}

void cpd_sink_fail_next_commits(cpd_sink *s, int k)
{
    atomic_store(&s->fail_commits, k < 0 ? 0 : k);
}
