/*
 * cpd_storage.h — checkpoint storage of cpdemo.
 *
 * Layout:
 *
 *     <root>/<job_id>/chk-<N>/op<O>-sub<S>.state   one file per subtask state
 *     <root>/<job_id>/chk-<N>/_metadata            written last: the commit point
 *
 * A checkpoint without a valid _metadata does not exist. _metadata is a JSON
 * object (format version, job id, checkpoint id, timestamp, one entry per
 * state file with its size and SHA-256, the job's opaque "extra" key/values
 * such as Kafka offsets, and a SHA-256 over its own canonical form, so a
 * flipped byte is caught). Restore verifies every state file's size and
 * SHA-256; a checkpoint that fails any check is skipped, never used.
 *
 * Backends sit behind a small vtable (put/get/list/remove), found by the
 * URI in a table (cpd_storage_backend.h): the file backend (file:///abs/path
 * or a plain path, cpd_storage_file.c) and the S3 backend
 * (s3://bucket/prefix, libs3, cpd_storage_s3.c), which keeps the same
 * layout under s3://bucket/prefix/<job_id>/ (see "S3" below). The _metadata
 * format is cpd_metadata.h.
 *
 * Errors: every call that can fail returns a cpd_st_rc and, when err is not
 * NULL, writes a one-line message into err (errsz bytes, always terminated)
 * naming the path involved and the system's reason. Nothing is printed.
 *
 * Threads: after cpd_storage_open returns, every function below may be
 * called from any thread, concurrently, except cpd_storage_close (no other
 * call may be running or follow). Writes of different (checkpoint, op,
 * subtask) never interfere. Removing a checkpoint (discard, retain) while it
 * is being written makes those writes or its commit fail; the coordinator
 * only removes checkpoints that are failed, subsumed or retired.
 */
#ifndef CPD_STORAGE_H
#define CPD_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Result of every fallible call. */
typedef enum cpd_st_rc {
    CPD_ST_OK = 0,
    CPD_ST_NOT_FOUND,           /* no such checkpoint / no valid checkpoint / no such state */
    CPD_ST_INVALID,             /* a bad argument: id, name, URI, metadata contents */
    CPD_ST_IO,                  /* the storage failed (errno reason in err) */
    CPD_ST_CORRUPT,             /* data present but fails verification (size, checksum, format) */
    CPD_ST_INJECTED,            /* failure injected by cpd_storage_fail_next */
    CPD_ST_NOMEM,               /* out of memory */
    CPD_ST_UNSUPPORTED,         /* a storage scheme that is not built (hdfs://, ...) */
} cpd_st_rc;

/* A short constant name for rc ("ok", "not found", ...); never NULL. */
const char *cpd_st_rc_name(cpd_st_rc rc);

/* Version written into, and the only one accepted from, _metadata. */
#define CPD_METADATA_VERSION 1
#define CPD_SHA256_HEX 65       /* 64 hex digits + NUL */
#define CPD_ST_FILE_MAX 48      /* "op<O>-sub<S>.state" + NUL */
#define CPD_ST_NAME_MAX 128     /* longest job id / backend entry name, + NUL */

/* Where one subtask's state of one checkpoint lives, as returned by
 * cpd_storage_write_state and listed in cpd_metadata. Plain value. */
typedef struct cpd_state_handle {
    int op, subtask;
    uint64_t size;                      /* bytes */
    char sha256[CPD_SHA256_HEX];        /* lowercase hex of the contents */
    char file[CPD_ST_FILE_MAX];         /* "op<O>-sub<S>.state", inside chk-<N>/ */
} cpd_state_handle;

typedef enum cpd_md_kind { CPD_MD_INT, CPD_MD_STR } cpd_md_kind;

/* One opaque key/value the job keeps with a checkpoint (e.g. the Kafka
 * offset of a partition). Strings owned by the cpd_metadata holding it. */
typedef struct cpd_md_extra {
    char *key;
    cpd_md_kind kind;
    int64_t i;                          /* CPD_MD_INT */
    char *s;                            /* CPD_MD_STR */
} cpd_md_extra;

/* The contents of a _metadata file. Everything it points to is owned by it
 * and released by cpd_metadata_free. Build one with cpd_metadata_new and
 * the add functions; not thread-safe (one owner at a time). */
typedef struct cpd_metadata {
    int version;                        /* CPD_METADATA_VERSION */
    char *job_id;                       /* set by commit / filled on read */
    int64_t checkpoint_id;              /* set by commit / filled on read */
    int64_t timestamp_ms;               /* wall clock, ms since epoch; commit uses now if 0 */
    cpd_state_handle *states;
    size_t n_states, cap_states;
    cpd_md_extra *extra;
    size_t n_extra, cap_extra;
} cpd_metadata;

/* An empty metadata (version set, no states, no extra). NULL when out of
 * memory. The caller owns it: cpd_metadata_free. */
cpd_metadata *cpd_metadata_new(void);

/* Releases md and everything it owns. NULL is fine. */
void cpd_metadata_free(cpd_metadata *md);

/* Appends a copy of *h (normally from cpd_storage_write_state). Refuses a
 * second entry for the same (op, subtask) with CPD_ST_INVALID. */
cpd_st_rc cpd_metadata_add_state(cpd_metadata *md, const cpd_state_handle *h);

/* Appends an extra entry; key and value are copied. Keys are non-empty and
 * unique within md (CPD_ST_INVALID otherwise). */
cpd_st_rc cpd_metadata_add_int(cpd_metadata *md, const char *key, int64_t value);
cpd_st_rc cpd_metadata_add_str(cpd_metadata *md, const char *key, const char *value);

/* Lookups; the result points into md (valid while md lives), NULL if absent. */
const cpd_state_handle *cpd_metadata_find_state(const cpd_metadata *md, int op, int subtask);
const cpd_md_extra *cpd_metadata_find_extra(const cpd_metadata *md, const char *key);

typedef struct cpd_storage cpd_storage;

/* Opens the storage of job job_id at uri and makes sure it can be written:
 *   "file:///abs/path", or a plain absolute or relative path: the file
 *   backend; "<path>/<job_id>/" is created (like mkdir -p) and a probe file
 *   is written and removed in it;
 *   "s3://bucket/prefix": the S3 backend with its settings from the
 *   environment (cpd_storage_open_ex below for the job's own).
 * job_id must match [A-Za-z0-9._-]+ and not start with '.'. Blocks on the
 * file system (or the network). Returns NULL with a message in err (naming
 * the directory and the reason) on any failure. The caller owns the result:
 * cpd_storage_close. */
cpd_storage *cpd_storage_open(const char *uri, const char *job_id, char *err, size_t errsz);

/* ---- S3 ---------------------------------------------------------------------
 *
 * s3://bucket[/prefix...]: objects s3://bucket/<prefix>/<job_id>/chk-<N>/...,
 * written with libs3 2.x (AWS signature version 2). Prefix components match
 * [A-Za-z0-9._-]; credentials in the URI are refused.
 *
 * Each setting comes from the job's configuration when given there (Flink's
 * key names), else from the environment:
 *   endpoint     s3.endpoint | AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, S3_HOSTNAME
 *                "http://host:port", "https://host:port" or a bare host[:port]
 *                (HTTPS); default https://s3.amazonaws.com
 *   addressing   s3.path.style.access | S3_URI_STYLE=path|virtual; default path
 *                style when an endpoint was named, virtual-host style otherwise
 *   credentials  s3.access-key + s3.secret-key | AWS_ACCESS_KEY_ID +
 *                AWS_SECRET_ACCESS_KEY | S3_ACCESS_KEY_ID + S3_SECRET_ACCESS_KEY
 *                (a pair from one place; none at all is an error)
 * Neither key appears in any message: errors name the bucket, key, endpoint,
 * libs3's status (S3_get_status_name) and the server's error details, with
 * credential-derived details dropped and any echo of a key masked.
 *
 * Every request has a deadline (timeout_ms per attempt, plus one second per
 * MiB uploaded) and is retried on retryable statuses (connection refused,
 * reset or dropped mid-request, name lookup, 500 InternalError, 503
 * SlowDown, an HTTP error without an S3 body, timeouts) up to
 * max_attempts times with exponential backoff, so an outage fails the write
 * (and so the checkpoint) after a bounded time: by default about 0.7 s of
 * backoff for a refused connection. open() writes and deletes a probe key.
 * libs3 is initialised once per process (the first open) and never torn down.
 */
typedef struct cpd_storage_s3_opts {
    const char *endpoint;       /* s3.endpoint; NULL or "": from the environment */
    const char *access_key;     /* s3.access-key; NULL or "": from the environment */
    const char *secret_key;     /* s3.secret-key; NULL or "": from the environment */
    int path_style;             /* s3.path.style.access: 0 unset, > 0 path, < 0 virtual host */
    /* tuning, 0 for the defaults (tests make them small) */
    int max_attempts;           /* per request, the first one included (4) */
    int backoff_ms;             /* before the second attempt, doubled after (100) */
    int timeout_ms;             /* per attempt (10000, plus 1000 per MiB sent) */
    int list_page;              /* keys asked for per list request (1000, the most S3 gives) */
} cpd_storage_s3_opts;

/* cpd_storage_open with the job's S3 settings (s3 may be NULL: all from the
 * environment; it is ignored for other schemes). Nothing in s3 is kept by
 * reference. */
cpd_storage *cpd_storage_open_ex(const char *uri, const char *job_id,
                                 const cpd_storage_s3_opts *s3, char *err, size_t errsz);

/* Checks uri's syntax and the job's S3 settings in s3 (may be NULL; the
 * environment is not read), touching nothing: no directory is created, no
 * connection made. What cpd_storage_open_ex would refuse for its form
 * (unsupported scheme, a relative file:// URI, a bad bucket or prefix,
 * credentials in the URI, a malformed endpoint, half a pair of keys) is
 * refused here with the same message. CPD_ST_OK, or CPD_ST_INVALID /
 * CPD_ST_UNSUPPORTED with err. Reentrant. */
cpd_st_rc cpd_storage_check(const char *uri, const cpd_storage_s3_opts *s3, char *err,
                            size_t errsz);

/* Releases st (and its backend). Not concurrent with any other call on st.
 * NULL is fine. Files stay where they are. */
void cpd_storage_close(cpd_storage *st);

/* A human description of where this job's checkpoints go (the job
 * directory for file://). Owned by st. */
const char *cpd_storage_location(const cpd_storage *st);

/* Writes one subtask's state of checkpoint cp_id atomically and durably (a
 * temporary name in chk-<cp_id>/, fsync, rename, fsync of the directory),
 * creating chk-<cp_id>/ if needed, and fills *out (may be NULL) with its
 * handle for the metadata. data may be NULL when len is 0. Blocks for the
 * I/O (plus any delay set by cpd_storage_set_delay_ms). Thread-safe; calls
 * for different (cp_id, op, subtask) run in parallel. On failure nothing is
 * left under the final name nor as a temporary file (a crash mid-write can
 * leave a hidden ".<name>.tmp-*" file, removed with its chk-<N>/). */
cpd_st_rc cpd_storage_write_state(cpd_storage *st, int64_t cp_id, int op, int subtask,
                                  const void *data, size_t len, cpd_state_handle *out,
                                  char *err, size_t errsz);

/* The commit point: writes chk-<cp_id>/_metadata from md (whose job id and
 * checkpoint id are ignored and written as st's and cp_id), atomically and
 * durably, after checking that every state md lists is present in
 * chk-<cp_id>/ with its size. md is not modified. Blocks; thread-safe.
 * Counts as a write for cpd_storage_fail_next and the delay. */
cpd_st_rc cpd_storage_commit(cpd_storage *st, int64_t cp_id, const cpd_metadata *md,
                             char *err, size_t errsz);

/* Loads and fully verifies checkpoint cp_id (its _metadata and every state
 * file's size and SHA-256). On CPD_ST_OK *out is the caller's
 * (cpd_metadata_free); otherwise *out is NULL and err says why:
 * CPD_ST_NOT_FOUND (no such directory or no _metadata), CPD_ST_CORRUPT.
 * Blocks (reads every state file); thread-safe. */
cpd_st_rc cpd_storage_load(cpd_storage *st, int64_t cp_id, cpd_metadata **out, char *err,
                           size_t errsz);

/* Finds the newest checkpoint with id <= max_id (any id when max_id < 0)
 * that is fully valid (as cpd_storage_load) and returns its metadata in
 * *out (the caller's: cpd_metadata_free). note (may be NULL) receives what
 * was skipped and why, then the outcome, e.g. "chk-7 skipped: state
 * op1-sub0.state checksum mismatch; restored from chk-6"; it is truncated to
 * notesz. CPD_ST_NOT_FOUND (with *out NULL) when no checkpoint is valid.
 * Only absence and corruption are skipped: any other error (CPD_ST_IO, e.g.
 * EIO or EACCES) stops the search and is returned, so a transient fault
 * never silently restores an older checkpoint. Blocks (reads candidates'
 * state files); thread-safe. */
cpd_st_rc cpd_storage_latest(cpd_storage *st, int64_t max_id, cpd_metadata **out, char *note,
                             size_t notesz, char *err, size_t errsz);

/* Reads the state of (op, subtask) of the checkpoint md describes, checking
 * its size and SHA-256 against md. On CPD_ST_OK *data (malloc'd, the
 * caller's: free) holds *len bytes (*data may be non-NULL for 0 bytes).
 * CPD_ST_NOT_FOUND when md lists no such state; CPD_ST_CORRUPT when the file
 * is missing or differs. Blocks; thread-safe. */
cpd_st_rc cpd_storage_read_state(cpd_storage *st, const cpd_metadata *md, int op, int subtask,
                                 void **data, size_t *len, char *err, size_t errsz);

/* Removes checkpoint cp_id entirely (its _metadata first, so it stops
 * existing before its files go). For aborted, failed and subsumed
 * checkpoints. Removing one that does not exist is CPD_ST_OK. Blocks;
 * thread-safe. */
cpd_st_rc cpd_storage_discard(cpd_storage *st, int64_t cp_id, char *err, size_t errsz);

/* Retention after a completed checkpoint: keeps the newest num_retained
 * (>= 1) fully valid checkpoints and anything newer than the newest valid
 * one (possibly in flight); removes every other checkpoint directory older
 * than the newest valid one: retired completed checkpoints and stale
 * directories of failed ones. With no valid checkpoint nothing is removed.
 * An I/O error while verifying stops it (nothing more removed); a failed
 * removal is reported after trying the rest. Verifying a checkpoint this
 * handle committed checks its _metadata and its states' presence and sizes
 * (one listing); any other is read in full and its SHA-256 checked. Blocks;
 * thread-safe. */
cpd_st_rc cpd_storage_retain(cpd_storage *st, int num_retained, char *err, size_t errsz);

/* Failure injection ("fail the next K storage writes", "slow storage").
 * Thread-safe (atomics), non-blocking.
 * fail_next: the next k writes (state writes and commits) fail with
 * CPD_ST_INJECTED after their temporary file was written, which is then
 * removed; k <= 0 cancels. set_delay_ms: every write first sleeps ms
 * (0: none). */
void cpd_storage_fail_next(cpd_storage *st, int k);
void cpd_storage_set_delay_ms(cpd_storage *st, int ms);
/* Writes still to fail (for status reports). */
int cpd_storage_failures_pending(const cpd_storage *st);

#endif
