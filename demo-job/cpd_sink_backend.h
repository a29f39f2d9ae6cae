/*
 * cpd_sink_backend.h — internal to cpd_sink*.c: the interface every sink
 * database implements. cpd_sink.c chooses the backend by URL and does what
 * is common (fault injection, the no-op commit of id <= 0); a backend does
 * the database work with the semantics documented in cpd_sink.h, and keeps
 * its errors in the caller's buffer, naming the database (never a password).
 */
#ifndef CPD_SINK_BACKEND_H
#define CPD_SINK_BACKEND_H

#include "cpd_sink.h"

typedef struct cpd_sink_ops {
    /* Checks url's syntax, connecting to and creating nothing. false with a
     * message naming the url (redacted) on error. */
    bool (*check)(const char *url, char *err, size_t errsz);
    /* url with every secret in it masked, for messages (out always
     * terminated, truncated to outsz). */
    void (*redact)(const char *url, char *out, size_t outsz);
    /* Opens the database at url and creates the tables. name receives how
     * errors and logs may name it. NULL with a message on error. */
    void *(*open)(const char *url, char *name, size_t namesz, char *err, size_t errsz);
    void (*close)(void *be);
    int (*stage)(void *be, int64_t cp_id, int subtask, const cpd_row *rows, int n, char *err,
                 size_t errsz);
    int (*stage_dead)(void *be, int64_t cp_id, int subtask, const cpd_dead *d, int n, char *err,
                      size_t errsz);
    /* cp_id > 0 */
    int (*commit)(void *be, int64_t cp_id, const cpd_offset *offsets, int n, char *err,
                  size_t errsz);
    int (*recover)(void *be, int64_t restored_id, const cpd_offset *offsets, int n, char *err,
                   size_t errsz);
    int64_t (*last_committed)(void *be, cpd_offset *offsets, int max, int *n);
    int (*scan)(void *be, int (*cb)(void *opaque, const cpd_row *row), void *opaque, char *err,
                size_t errsz);
    int64_t (*dead_count)(void *be);
} cpd_sink_ops;

extern const cpd_sink_ops cpd_sink_sqlite_ops; /* cpd_sink.c */
extern const cpd_sink_ops cpd_sink_pg_ops;     /* cpd_sink_pg.c */

#endif
