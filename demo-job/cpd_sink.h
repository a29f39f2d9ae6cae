/*
 * cpd_sink.h — cpdemo's exactly-once sink: a two-phase commit tied to
 * checkpoints, as Flink's TwoPhaseCommitSinkFunction.
 *
 * Phase 1 (pre-commit, in the sink subtask's snapshot for checkpoint N): the
 * rows it produced since barrier N-1 are staged durably under N. Phase 2
 * (once N is complete, i.e. its _metadata is written): everything staged up
 * to N is applied to the result tables in one transaction together with the
 * record "N committed" and the source offsets N covers. Replays are
 * harmless: committing N twice is a no-op, and rows are the aggregate's
 * absolute values per account, applied in order.
 *
 * Recovery from checkpoint R: staged data of checkpoints <= R that never got
 * committed (the job died between completion and commit) is committed now;
 * staged data of checkpoints > R is rolled back (those never completed).
 *
 * Backends behind one interface (cpd_sink_backend.h): SQLite (`sqlite:PATH`,
 * WAL, synchronous=FULL) and PostgreSQL (`postgresql://…` or `postgres://…`,
 * libpq; cpd_sink_pg.c), with the same tables, documented in
 * demo-job/README.md, and the same guarantees. Not thread-safe: one sink
 * handle per thread (with PostgreSQL, one connection per handle).
 *
 * Errors name the database (the URL without its password; for PostgreSQL
 * user@host:port/db). With PostgreSQL a lost connection fails the call that
 * finds it; the next call on the handle reconnects first. Opening waits for
 * a server that is restarting (a database restart need not stop the job):
 * up to CPD_SINK_PG_OPEN_WAIT_MS while it says it is starting up or shutting
 * down, up to CPD_SINK_PG_DOWN_WAIT_MS while nothing answers at all.
 */
#ifndef CPD_SINK_H
#define CPD_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One account's aggregate, as the keyed aggregate emits it (absolute values). */
typedef struct cpd_row {
    char account[32];
    int64_t count, sum_cents, min_cents, max_cents, last_ts_ms;
} cpd_row;

/* A record that could not be parsed, with where it came from. */
typedef struct cpd_dead {
    int32_t partition;
    int64_t offset;
    char error[128];
    const char *raw;            /* borrowed; raw_len bytes */
    size_t raw_len;
} cpd_dead;

/* Next offset to read per partition once N is committed. */
typedef struct cpd_offset {
    int32_t partition;
    int64_t next;
} cpd_offset;

typedef struct cpd_sink cpd_sink;

#define CPD_SINK_PG_OPEN_WAIT_MS 30000
#define CPD_SINK_PG_DOWN_WAIT_MS 5000

/* Whether url selects the PostgreSQL backend (postgresql:// or postgres://). */
bool cpd_sink_is_postgres(const char *url);

/* url with every secret replaced by "***", for messages, logs and events;
 * out is always terminated (truncated to outsz). For PostgreSQL, whatever
 * libpq reads as a password (PQconninfoParse; URI userinfo, a query
 * parameter however percent-encoded, keyword/value form) is masked, the
 * rest kept as written; a URL libpq cannot parse has every parameter value
 * masked. Other URLs not of a backend: the userinfo password and every
 * query value. Reentrant. Returns out. */
const char *cpd_sink_redact(const char *url, char *out, size_t outsz);

/* Checks url's syntax as its backend reads it (scheme, libpq's URL syntax,
 * port numbers), connecting to and creating nothing: a configuration can be
 * refused before the job starts. false with a message naming the url
 * (redacted) in err. Reentrant. */
bool cpd_sink_check_url(const char *url, char *err, size_t errsz);

/* Opens (and creates the tables of) the sink at url. NULL with a message
 * naming the url on error. Blocking: yes (database I/O). */
cpd_sink *cpd_sink_open(const char *url, char *err, size_t errsz);
void cpd_sink_close(cpd_sink *s);

/* How the sink's errors name it (no password). */
const char *cpd_sink_name(const cpd_sink *s);

/* Phase 1: stage rows / dead letters of subtask under checkpoint cp_id,
 * durably. 0 on success. */
int cpd_sink_stage(cpd_sink *s, int64_t cp_id, int subtask, const cpd_row *rows, int n,
                   char *err, size_t errsz);
int cpd_sink_stage_dead(cpd_sink *s, int64_t cp_id, int subtask, const cpd_dead *d, int n,
                        char *err, size_t errsz);

/* Phase 2: applies everything staged up to cp_id and records cp_id as
 * committed with these offsets, atomically. Idempotent. 0 on success. */
int cpd_sink_commit(cpd_sink *s, int64_t cp_id, const cpd_offset *offsets, int n,
                    char *err, size_t errsz);

/* After restoring from checkpoint restored_id (0: from scratch): commit
 * what is staged up to it, roll back what is staged after it. */
int cpd_sink_recover(cpd_sink *s, int64_t restored_id, const cpd_offset *offsets, int n,
                     char *err, size_t errsz);

/* The newest committed checkpoint (0: none), and its offsets (up to max). */
int64_t cpd_sink_last_committed(cpd_sink *s, cpd_offset *offsets, int max, int *n);

/* Reads every committed account row; cb returns non-zero to stop. */
int cpd_sink_scan(cpd_sink *s, int (*cb)(void *opaque, const cpd_row *row), void *opaque,
                  char *err, size_t errsz);
/* Committed dead letters. */
int64_t cpd_sink_dead_count(cpd_sink *s);

/* Fault injection: the next k commits fail (before touching anything). */
void cpd_sink_fail_next_commits(cpd_sink *s, int k);

#endif
