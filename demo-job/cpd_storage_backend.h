/*
 * cpd_storage_backend.h — internal to the checkpoint storage (cpd_storage*.c,
 * cpd_metadata.c) and to tests' fake backends: what a backend implements and
 * how it is found.
 *
 * The layers, each depending only on those below it:
 *   cpd_storage.c            generic: layout, verification, retention,
 *                            injected failures; picks a backend from
 *                            cpd_storage_backends[] by the URI
 *   cpd_storage_registry.c   the table of backends (the only file naming them)
 *   cpd_storage_file.c       file:// and plain paths
 *   cpd_storage_s3.c         s3:// (over cpd_storage_s3_client.c)
 *   cpd_metadata.c           the _metadata format
 *   cpd_storage_rc.c         results and failure messages (cpd_st_fail)
 */
#ifndef CPD_STORAGE_BACKEND_H
#define CPD_STORAGE_BACKEND_H

#include "cpd_storage.h"

/* Writes a message into err (when err and errsz allow) and returns rc: how
 * the storage layer and its backends report failures. */
cpd_st_rc cpd_st_fail(char *err, size_t errsz, cpd_st_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* text[0..len) as a message may show it: control bytes as '?', the
 * userinfo of a "scheme://user:secret@host" URI as "***" (a URI from the
 * configuration may carry credentials), truncated to size. Returns out. */
const char *cpd_st_show(const char *text, size_t len, char *out, size_t size);

/*
 * Keys are relative to the job's directory/prefix, '/'-separated, built by
 * cpd_storage.c only ("chk-7", "chk-7/op1-sub0.state", "chk-7/_metadata"):
 * components match [A-Za-z0-9_-][A-Za-z0-9._-]*, so backends need not check
 * them. Every op is called concurrently from several threads and must be
 * safe for that. err/errsz as in cpd_storage.h (err never NULL here).
 */
typedef struct cpd_st_entry {
    char name[CPD_ST_NAME_MAX];         /* one component */
    bool is_dir;
    uint64_t size;                      /* bytes, files only */
} cpd_st_entry;

typedef struct cpd_storage_ops {
    const char *scheme;                 /* "file", "s3": for messages */
    /* Store data under key, atomically (all or nothing visible under key)
     * and durably when it returns CPD_ST_OK; creates parent directories.
     * inject_failure: do the work up to just before making it visible, then
     * undo it and fail with CPD_ST_INJECTED. */
    cpd_st_rc (*put)(void *be, const char *key, const void *data, size_t len,
                     bool inject_failure, char *err, size_t errsz);
    /* Whole object: *data malloc'd (the caller frees), CPD_ST_NOT_FOUND when
     * absent. */
    cpd_st_rc (*get)(void *be, const char *key, void **data, size_t *len, char *err,
                     size_t errsz);
    /* Entries directly under dir ("" for the job's top level), hidden and
     * temporary entries excluded; *entries malloc'd (the caller frees),
     * possibly NULL with *n 0. CPD_ST_NOT_FOUND when dir does not exist. */
    cpd_st_rc (*list)(void *be, const char *dir, cpd_st_entry **entries, size_t *n,
                      char *err, size_t errsz);
    /* Removes the object key, or the directory key with everything under it;
     * absent is CPD_ST_OK. */
    cpd_st_rc (*remove)(void *be, const char *key, char *err, size_t errsz);
    /* Releases the backend. */
    void (*close)(void *be);
} cpd_storage_ops;

/* A backend as the registry lists it. */
typedef struct cpd_storage_backend {
    const char *prefix;                 /* the URIs it takes, by their start (any case) */
    bool plain_paths;                   /* also URIs without "scheme://": paths */
    /* Checks uri's syntax and the job's settings for it (s may be NULL),
     * touching nothing: no file, no connection, no environment. */
    cpd_st_rc (*check)(const char *uri, const cpd_storage_s3_opts *s, char *err, size_t errsz);
    /* Opens job_id's storage at uri (job_id already checked), creating what
     * it needs and proving it can write there. Returns what ops work on
     * (released with ops->close) and, in location, how messages name the
     * job's storage; NULL with err on failure. Blocks. */
    void *(*open)(const char *uri, const char *job_id, const cpd_storage_s3_opts *s,
                  char *location, size_t locsz, char *err, size_t errsz);
    const cpd_storage_ops *ops;
} cpd_storage_backend;

/* The backends (NULL-terminated): cpd_storage_registry.c. */
extern const cpd_storage_backend *const cpd_storage_backends[];
extern const cpd_storage_backend cpd_storage_file_backend;   /* cpd_storage_file.c */
extern const cpd_storage_backend cpd_storage_s3_backend;     /* cpd_storage_s3.c */

/* A storage over an already opened backend (ops must outlive it; be is
 * owned by the result and released with ops->close, also on failure).
 * location describes it for messages (copied). NULL with err on a bad
 * job_id or out of memory. For fakes in tests; cpd_storage_open finds real
 * backends by URI. */
cpd_storage *cpd_storage_new(const cpd_storage_ops *ops, void *be, const char *job_id,
                             const char *location, char *err, size_t errsz);

#endif
