/*
 * cpd_storage_s3_client.h — internal to the S3 backend (cpd_storage_s3*.c):
 * the connection settings of one opened bucket and prefix, and the requests
 * the backend makes with them (libs3 2.x).
 *
 * Every request runs in a request context of its own, driven with a
 * deadline (timeout_ms per attempt, plus one second per MiB sent; libs3 2.x
 * has no timeout of its own), and is retried on retryable statuses up to
 * attempts times with exponential backoff from backoff_ms. Errors name the
 * request, bucket, key, endpoint, libs3's status and the server's details,
 * never a credential (signature-derived details dropped, echoes of a key
 * masked). Functions may be called from several threads at once on one
 * cpd_st_s3 (read-only after opening, but for seq).
 */
#ifndef CPD_STORAGE_S3_CLIENT_H
#define CPD_STORAGE_S3_CLIENT_H

#include <stdatomic.h>

#include <libs3.h>

#include "cpd_storage_backend.h"

#define CPD_ST_S3_ATTEMPTS 4            /* per request, first try included */
#define CPD_ST_S3_BACKOFF_MS 100        /* before the 2nd attempt; doubled for each next one */
#define CPD_ST_S3_TIMEOUT_MS 10000      /* per attempt, plus one second per MiB sent */
#define CPD_ST_S3_LIST_PAGE 1000        /* S3's own maximum */
#define CPD_ST_S3_DETAIL 480            /* server-supplied text kept per request */

typedef struct cpd_st_s3 {
    char bucket[S3_MAX_BUCKET_NAME_SIZE + 1];
    char base[S3_MAX_KEY_SIZE + 1];     /* "<prefix>/<job_id>" or "<job_id>": no '/' at ends */
    char host[S3_MAX_HOSTNAME_SIZE + 1]; /* "host[:port]" */
    char endpoint[S3_MAX_HOSTNAME_SIZE + 16]; /* "http://host:port", for messages */
    char *access_key, *secret_key;
    S3BucketContext bc;                 /* points into the fields above; read-only after open */
    int attempts, backoff_ms, timeout_ms, list_page;
    atomic_uint seq;                    /* temporary key names */
} cpd_st_s3;

/* One key of a listing: a key, or a common prefix (with its '/'). */
typedef struct cpd_st_s3_item {
    char *key;                          /* full key, or common prefix with its '/' */
    bool is_prefix;
    uint64_t size;
} cpd_st_s3_item;

/* Masks both keys of s wherever they appear in err (a server may echo one). */
void cpd_st_s3_scrub(const cpd_st_s3 *s, char *err, size_t errsz);

/* *out = "<base>/<rel><suffix>" (rel may be ""), malloc'd; CPD_ST_NOMEM, or
 * CPD_ST_INVALID when longer than S3 allows, with err saying which. */
cpd_st_rc cpd_st_s3_key(const cpd_st_s3 *s, const char *rel, const char *suffix, char **out,
                        char *err, size_t errsz);

/* PUT of a whole object (full key), with Content-MD5. */
cpd_st_rc cpd_st_s3_put_key(const cpd_st_s3 *s, const char *key, const void *data, size_t len,
                            char *err, size_t errsz);

/* GET of a whole object: *data malloc'd (the caller frees; non-NULL even
 * when empty). CPD_ST_NOT_FOUND when absent. */
cpd_st_rc cpd_st_s3_get_key(const cpd_st_s3 *s, const char *key, void **data, size_t *len,
                            char *err, size_t errsz);

/* DELETE of an object; an absent one is CPD_ST_OK. */
cpd_st_rc cpd_st_s3_delete_key(const cpd_st_s3 *s, const char *key, char *err, size_t errsz);

/* Lists every key (delimiter NULL) or every entry of one level (delimiter
 * "/") under prefix, page by page; each(arg, item) sees every item of a page
 * after that page arrived whole, so it may delete what it is given. Keys a
 * server returns outside prefix are skipped. */
cpd_st_rc cpd_st_s3_list_all(const cpd_st_s3 *s, const char *prefix, const char *delimiter,
                             cpd_st_rc (*each)(void *arg, const cpd_st_s3_item *it), void *arg,
                             char *err, size_t errsz);

#endif
