/*
 * sqlbench.c — the write ceiling for `make bench`: plain batched SQLite
 * upserts (INSERT OR REPLACE, 1,000 per transaction, WAL, synchronous=FULL
 * as the sink uses), of rows shaped like the job's results.
 *
 *   cpsqlbench DB ROWS [ACCOUNTS]   prints "upserts N in T s (R rows/s)"
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: cpsqlbench DB ROWS [ACCOUNTS]\n");
        return 2;
    }
    long rows = atol(argv[2]), accounts = argc > 3 ? atol(argv[3]) : 1000;
    if (rows <= 0 || accounts <= 0) {
        fprintf(stderr, "cpsqlbench: ROWS and ACCOUNTS must be positive\n");
        return 2;
    }
    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS accounts (account TEXT PRIMARY KEY, count INTEGER,"
                     " sum_cents INTEGER, min_cents INTEGER, max_cents INTEGER, last_ts_ms INTEGER);",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "cpsqlbench: %s: %s\n", argv[1], sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO accounts VALUES (?,?,?,?,?,?)", -1, &st, NULL);
    double t0 = now_s();
    for (long i = 0; i < rows; i++) {
        if (i % 1000 == 0)
            sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        char acct[32];
        snprintf(acct, sizeof acct, "acct-%04ld", i % accounts);
        sqlite3_bind_text(st, 1, acct, -1, SQLITE_TRANSIENT);
        for (int k = 2; k <= 6; k++)
            sqlite3_bind_int64(st, k, i + k);
        if (sqlite3_step(st) != SQLITE_DONE) {
            fprintf(stderr, "cpsqlbench: %s\n", sqlite3_errmsg(db));
            return 1;
        }
        sqlite3_reset(st);
        if (i % 1000 == 999 || i == rows - 1)
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    double t = now_s() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    printf("upserts %ld in %.3f s (%.0f rows/s)\n", rows, t, (double)rows / t);
    return 0;
}
