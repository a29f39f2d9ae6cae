/* cpd_storage_s3.c — the S3 backend of the checkpoint storage (libs3 2.x,
 * see cpd_storage.h, "S3"). Keys of the generic layer ("chk-7/_metadata")
 * live under s3://bucket/<prefix>/<job_id>/. A "directory" is a key prefix:
 * it exists while some key starts with it, is listed with the '/'
 * delimiter and removed by deleting every key under it (paginated).
 *
 * Every request runs in a request context of its own, driven here with a
 * deadline, so an endpoint that accepts a connection and then says nothing
 * costs one attempt's timeout, not a thread forever (libs3 2.x has no timeout
 * of its own). Retryable failures are retried a bounded number of times with
 * exponential backoff. Credentials never reach an error message. */
#include "cpd_storage.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <libs3.h>
#include <openssl/evp.h>

#define CPD_ST_S3_ATTEMPTS 4            /* per request, first try included */
#define CPD_ST_S3_BACKOFF_MS 100        /* before the 2nd attempt; doubled for each next one */
#define CPD_ST_S3_TIMEOUT_MS 10000      /* per attempt, plus one second per MiB sent */
#define CPD_ST_S3_LIST_PAGE 1000        /* S3's own maximum */
#define CPD_ST_S3_MAX_PAGES 1000000     /* a server that never stops paging is refused */
#define CPD_ST_S3_DETAIL 480            /* server-supplied text kept per request */
#define CPD_ST_S3_GET_MAX ((size_t)1 << 34) /* 16 GiB: more is not one of our objects */

/* ------------------------------------------------------------------------ */
/* the backend                                                              */

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

/* ------------------------------------------------------------------------ */
/* messages                                                                 */

/* Replaces every occurrence of word in s (in place: the text only shrinks)
 * with "***": a credential must never leave through a message, even when a
 * server echoes it back. Words shorter than 4 bytes are no real credential. */
static void cpd_st_s3_mask(char *s, const char *word)
{
    size_t wl = word ? strlen(word) : 0;
    if (!s || wl < 4)
        return;
    char *p = s;
    while ((p = strstr(p, word)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + wl, strlen(p + wl) + 1);
        p += 3;
    }
}

static void cpd_st_s3_scrub(const cpd_st_s3 *s, char *err, size_t errsz)
{
    if (!s || !err || !errsz)
        return;
    cpd_st_s3_mask(err, s->secret_key);
    cpd_st_s3_mask(err, s->access_key);
}

/* Appends text from the wire to buf, printable ASCII only, bounded. */
static void cpd_st_s3_append(char *buf, size_t size, const char *label, const char *text)
{
    if (!text || !text[0])
        return;
    size_t n = strlen(buf);
    if (n + 1 >= size)
        return;
    int w = snprintf(buf + n, size - n, "%s%s", n ? "; " : "", label);
    if (w < 0)
        return;
    n = strnlen(buf, size - 1);
    for (const char *p = text; *p && n + 1 < size; p++)
        buf[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
    buf[n] = '\0';
}

/* Extra details a server sends with SignatureDoesNotMatch: derived from the
 * credentials, so kept out of messages. */
static bool cpd_st_s3_sensitive(const char *name)
{
    static const char *const words[] = {"signature", "stringtosign", "accesskey",
                                        "canonicalrequest", "secret", "token"};
    for (size_t i = 0; name && i < sizeof words / sizeof words[0]; i++)
        if (strcasestr(name, words[i]))
            return true;
    return !name;
}

/* ------------------------------------------------------------------------ */
/* one request                                                              */

typedef struct cpd_st_s3_item {
    char *key;                          /* full key, or common prefix with its '/' */
    bool is_prefix;
    uint64_t size;
} cpd_st_s3_item;

typedef struct cpd_st_s3_req {
    bool completed, timed_out, nomem, too_big;
    bool is_get;                        /* the response body is the object */
    S3Status status;
    char detail[CPD_ST_S3_DETAIL];
    /* put */
    const char *data;
    size_t len, off;
    /* get */
    char *buf;
    size_t n, cap;
    /* list: one page */
    cpd_st_s3_item *items;
    size_t n_items, cap_items;
    bool truncated;
    char *next_marker;
} cpd_st_s3_req;

static void cpd_st_s3_req_reset(cpd_st_s3_req *r)
{
    free(r->buf);
    for (size_t i = 0; i < r->n_items; i++)
        free(r->items[i].key);
    free(r->items);
    free(r->next_marker);
    const char *data = r->data;
    size_t len = r->len;
    memset(r, 0, sizeof *r);
    r->status = S3StatusInternalError;  /* until the completion callback says otherwise */
    r->data = data;
    r->len = len;
}

static S3Status cpd_st_s3_on_props(const S3ResponseProperties *p, void *cb)
{
    cpd_st_s3_req *r = cb;
    /* a GET's announced length sizes its buffer (bounded: it is a hint from the wire) */
    if (r->is_get && p && p->contentLength > 0 && p->contentLength < (64u << 20) && !r->buf) {
        r->cap = (size_t)p->contentLength + 1;
        r->buf = malloc(r->cap);
        if (!r->buf) {
            r->cap = 0;
            r->nomem = true;
            return S3StatusAbortedByCallback;
        }
    }
    return S3StatusOK;
}

static void cpd_st_s3_on_complete(S3Status status, const S3ErrorDetails *d, void *cb)
{
    cpd_st_s3_req *r = cb;
    r->completed = true;
    r->status = status;
    r->detail[0] = '\0';
    if (!d || status == S3StatusOK)
        return;
    cpd_st_s3_append(r->detail, sizeof r->detail, "", d->message);
    cpd_st_s3_append(r->detail, sizeof r->detail, "resource ", d->resource);
    cpd_st_s3_append(r->detail, sizeof r->detail, "", d->furtherDetails);
    for (int i = 0; i < d->extraDetailsCount && i < 16; i++) {
        const S3NameValue *nv = &d->extraDetails[i];
        if (cpd_st_s3_sensitive(nv->name))
            continue;
        char label[48];
        snprintf(label, sizeof label, "%.40s: ", nv->name);
        for (char *q = label; *q; q++)
            if (*q < 0x20 || *q >= 0x7f)
                *q = '?';
        cpd_st_s3_append(r->detail, sizeof r->detail, label, nv->value);
    }
}

static int cpd_st_s3_on_put_data(int size, char *buf, void *cb)
{
    cpd_st_s3_req *r = cb;
    size_t left = r->len - r->off;
    size_t k = size > 0 && (size_t)size < left ? (size_t)size : left;
    if (k)
        memcpy(buf, r->data + r->off, k);
    r->off += k;
    return (int)k;
}

static S3Status cpd_st_s3_on_get_data(int size, const char *data, void *cb)
{
    cpd_st_s3_req *r = cb;
    if (size <= 0)
        return S3StatusOK;
    size_t k = (size_t)size;
    if (r->n + k > CPD_ST_S3_GET_MAX) {
        r->too_big = true;
        return S3StatusAbortedByCallback;
    }
    if (r->n + k + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->n + k + 1)
            cap *= 2;
        char *nb = realloc(r->buf, cap);
        if (!nb) {
            r->nomem = true;
            return S3StatusAbortedByCallback;
        }
        r->buf = nb;
        r->cap = cap;
    }
    memcpy(r->buf + r->n, data, k);
    r->n += k;
    return S3StatusOK;
}

static bool cpd_st_s3_add_item(cpd_st_s3_req *r, const char *key, bool is_prefix, uint64_t size)
{
    if (!key)
        return true;                    /* a server that omits it: nothing to add */
    if (r->n_items == r->cap_items) {
        size_t cap = r->cap_items ? 2 * r->cap_items : 64;
        cpd_st_s3_item *v = realloc(r->items, cap * sizeof *v);
        if (!v)
            return false;
        r->items = v;
        r->cap_items = cap;
    }
    char *k = strdup(key);
    if (!k)
        return false;
    r->items[r->n_items++] = (cpd_st_s3_item){k, is_prefix, size};
    return true;
}

static S3Status cpd_st_s3_on_list(int truncated, const char *next_marker, int n_contents,
                                  const S3ListBucketContent *contents, int n_prefixes,
                                  const char **prefixes, void *cb)
{
    cpd_st_s3_req *r = cb;
    /* called once or more per page: the last call's flags stand */
    r->truncated = truncated != 0;
    if (next_marker && next_marker[0]) {
        free(r->next_marker);
        if (!(r->next_marker = strdup(next_marker))) {
            r->nomem = true;
            return S3StatusAbortedByCallback;
        }
    }
    for (int i = 0; i < n_contents; i++)
        if (!cpd_st_s3_add_item(r, contents[i].key, false, contents[i].size)) {
            r->nomem = true;
            return S3StatusAbortedByCallback;
        }
    for (int i = 0; i < n_prefixes; i++)
        if (!cpd_st_s3_add_item(r, prefixes[i], true, 0)) {
            r->nomem = true;
            return S3StatusAbortedByCallback;
        }
    return S3StatusOK;
}

static int64_t cpd_st_s3_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cpd_st_s3_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Runs the requests in ctx until they complete or timeout_ms passes; false
 * on the timeout (the caller destroys ctx, which aborts what still runs). */
static bool cpd_st_s3_drive(S3RequestContext *ctx, int64_t timeout_ms)
{
    int64_t deadline = cpd_st_s3_now_ms() + timeout_ms;
    for (;;) {
        int remaining = 0;
        if (S3_runonce_request_context(ctx, &remaining) != S3StatusOK || remaining == 0)
            return true;                /* done, or libs3 failed it: the callback says */
        int64_t left = deadline - cpd_st_s3_now_ms();
        if (left <= 0)
            return false;
        fd_set rs, ws, es;
        FD_ZERO(&rs);
        FD_ZERO(&ws);
        FD_ZERO(&es);
        int maxfd = -1;
        if (S3_get_request_context_fdsets(ctx, &rs, &ws, &es, &maxfd) != S3StatusOK)
            maxfd = -1;
        int64_t wait = S3_get_request_context_timeout(ctx);
        if (wait < 0 || wait > 100)
            wait = 100;
        if (wait > left)
            wait = left;
        if (maxfd < 0) {
            /* nothing to wait on yet (connecting, or a descriptor beyond
             * FD_SETSIZE that curl leaves out): poll a little later */
            cpd_st_s3_sleep_ms(wait < 5 ? wait : 5);
            continue;
        }
        struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000)};
        if (select(maxfd + 1, &rs, &ws, &es, &tv) < 0 && errno != EINTR)
            cpd_st_s3_sleep_ms(1);
    }
}

typedef enum { CPD_ST_S3_PUT, CPD_ST_S3_GET, CPD_ST_S3_LIST, CPD_ST_S3_DELETE } cpd_st_s3_op;

static const char *const cpd_st_s3_verbs[] = {"PUT", "GET", "LIST", "DELETE"};

typedef struct cpd_st_s3_call {
    cpd_st_s3_op op;
    const char *key;                    /* full key (PUT, GET, DELETE); LIST: the prefix */
    const char *marker, *delimiter;     /* LIST */
    const char *md5;                    /* PUT: base64 Content-MD5 */
} cpd_st_s3_call;

/* One attempt of call into r (reset first). */
static void cpd_st_s3_attempt(const cpd_st_s3 *s, const cpd_st_s3_call *c, cpd_st_s3_req *r)
{
    cpd_st_s3_req_reset(r);
    r->is_get = c->op == CPD_ST_S3_GET;
    S3RequestContext *ctx = NULL;
    S3Status st = S3_create_request_context(&ctx);
    if (st != S3StatusOK) {
        r->completed = true;
        r->status = st;
        return;
    }
    S3ResponseHandler rh = {cpd_st_s3_on_props, cpd_st_s3_on_complete};
    int64_t timeout = s->timeout_ms;
    switch (c->op) {
    case CPD_ST_S3_PUT: {
        S3PutProperties pp = {.contentType = "application/octet-stream", .md5 = c->md5,
                              .expires = -1};
        S3PutObjectHandler h = {rh, cpd_st_s3_on_put_data};
        timeout += (int64_t)(r->len >> 20) * 1000;   /* a big upload may take its time */
        S3_put_object(&s->bc, c->key, r->len, &pp, ctx, &h, r);
        break;
    }
    case CPD_ST_S3_GET: {
        S3GetObjectHandler h = {rh, cpd_st_s3_on_get_data};
        S3_get_object(&s->bc, c->key, NULL, 0, 0, ctx, &h, r);
        break;
    }
    case CPD_ST_S3_LIST: {
        S3ListBucketHandler h = {rh, cpd_st_s3_on_list};
        S3_list_bucket(&s->bc, c->key, c->marker, c->delimiter, s->list_page, ctx, &h, r);
        break;
    }
    case CPD_ST_S3_DELETE:
        S3_delete_object(&s->bc, c->key, ctx, &rh, r);
        break;
    }
    if (!cpd_st_s3_drive(ctx, timeout))
        r->timed_out = true;
    S3_destroy_request_context(ctx);    /* aborts a request still running */
    if (r->timed_out || !r->completed) {
        r->completed = true;
        r->status = S3StatusErrorRequestTimeout;
        snprintf(r->detail, sizeof r->detail, "no answer within %" PRId64 " ms", timeout);
    }
    if (r->nomem)
        r->status = S3StatusOutOfMemory;
}

static bool cpd_st_s3_not_found(S3Status st)
{
    return st == S3StatusErrorNoSuchKey || st == S3StatusHttpErrorNotFound;
}

static bool cpd_st_s3_retryable(S3Status st)
{
    /* libs3's list (connect, name lookup, connection lost, 500 InternalError,
     * OperationAborted, RequestTimeout), plus:
     * - 503 SlowDown: S3 asks for exactly this;
     * - InternalError: libs3 2.x reports curl's send/receive errors and an
     *   empty reply (a server dying mid-request) as its own internal error;
     * - HttpErrorUnknown: an HTTP error without an S3 body, mostly a 502/504
     *   from a proxy or gateway (libs3 2.x does not give the code).
     * A permanent one among them costs the bounded retries, no more. */
    return S3_status_is_retryable(st) || st == S3StatusErrorSlowDown ||
           st == S3StatusInternalError || st == S3StatusHttpErrorUnknown;
}

/* Runs call with retries. CPD_ST_OK, CPD_ST_NOT_FOUND (GET of an absent
 * key; DELETE of one is OK), or an error in err naming the request. */
static cpd_st_rc cpd_st_s3_call_run(const cpd_st_s3 *s, const cpd_st_s3_call *c,
                                    cpd_st_s3_req *r, char *err, size_t errsz)
{
    int attempt = 0;
    int64_t backoff = s->backoff_ms;
    for (;;) {
        attempt++;
        cpd_st_s3_attempt(s, c, r);
        if (r->status == S3StatusOK)
            return CPD_ST_OK;
        if (cpd_st_s3_not_found(r->status) && c->op == CPD_ST_S3_DELETE)
            return CPD_ST_OK;
        if (cpd_st_s3_not_found(r->status) && c->op == CPD_ST_S3_GET)
            return cpd_st_fail(err, errsz, CPD_ST_NOT_FOUND, "s3://%s/%s does not exist",
                                  s->bucket, c->key);
        if (r->status == S3StatusOutOfMemory)
            return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "S3 %s s3://%s/%s: out of memory",
                                  cpd_st_s3_verbs[c->op], s->bucket, c->key);
        if (r->too_big)
            return cpd_st_fail(err, errsz, CPD_ST_CORRUPT,
                                  "S3 GET s3://%s/%s: object larger than %zu bytes", s->bucket,
                                  c->key, CPD_ST_S3_GET_MAX);
        if (!cpd_st_s3_retryable(r->status) || attempt >= s->attempts)
            break;
        cpd_st_s3_sleep_ms(backoff);
        backoff *= 2;
    }
    const char *what = c->op == CPD_ST_S3_LIST ? "prefix " : "";
    if (attempt > 1)
        cpd_st_fail(err, errsz, CPD_ST_IO, "S3 %s %ss3://%s/%s failed after %d attempts: %s%s%s%s (endpoint %s)",
                       cpd_st_s3_verbs[c->op], what, s->bucket, c->key, attempt,
                       S3_get_status_name(r->status), r->detail[0] ? " (" : "", r->detail,
                       r->detail[0] ? ")" : "", s->endpoint);
    else
        cpd_st_fail(err, errsz, CPD_ST_IO, "S3 %s %ss3://%s/%s failed: %s%s%s%s (endpoint %s)",
                       cpd_st_s3_verbs[c->op], what, s->bucket, c->key,
                       S3_get_status_name(r->status), r->detail[0] ? " (" : "", r->detail,
                       r->detail[0] ? ")" : "", s->endpoint);
    cpd_st_s3_scrub(s, err, errsz);
    return CPD_ST_IO;
}

/* *out = "<base>/<rel><suffix>" (rel may be ""), malloc'd; CPD_ST_NOMEM, or
 * CPD_ST_INVALID when longer than S3 allows, with err saying which. */
static cpd_st_rc cpd_st_s3_key(const cpd_st_s3 *s, const char *rel, const char *suffix,
                               char **out, char *err, size_t errsz)
{
    char *k = NULL;
    *out = NULL;
    if (asprintf(&k, "%s%s%s%s", s->base, rel[0] ? "/" : "", rel, suffix) < 0)
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory (key %s)", rel);
    if (strlen(k) > S3_MAX_KEY_SIZE) {
        free(k);
        return cpd_st_fail(err, errsz, CPD_ST_INVALID,
                              "key s3://%s/%s/%s is longer than %d bytes", s->bucket, s->base,
                              rel, S3_MAX_KEY_SIZE);
    }
    *out = k;
    return CPD_ST_OK;
}

/* Content-MD5 of data (base64), so the server rejects a body damaged on its way. */
static bool cpd_st_s3_md5(const void *data, size_t len, char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data ? data : "", len, md, &n, EVP_md5(), NULL) || n != 16)
        return false;
    return EVP_EncodeBlock((unsigned char *)out, md, 16) == 24;
}

static cpd_st_rc cpd_st_s3_put_key(const cpd_st_s3 *s, const char *key, const void *data,
                                   size_t len, char *err, size_t errsz)
{
    char md5[32];
    if (!cpd_st_s3_md5(data, len, md5))
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "MD5 of s3://%s/%s failed (OpenSSL)",
                              s->bucket, key);
    cpd_st_s3_call c = {.op = CPD_ST_S3_PUT, .key = key, .md5 = md5};
    cpd_st_s3_req r = {.data = data, .len = len};
    cpd_st_rc rc = cpd_st_s3_call_run(s, &c, &r, err, errsz);
    r.data = NULL;
    cpd_st_s3_req_reset(&r);
    return rc;
}

static cpd_st_rc cpd_st_s3_delete_key(const cpd_st_s3 *s, const char *key, char *err,
                                      size_t errsz)
{
    cpd_st_s3_call c = {.op = CPD_ST_S3_DELETE, .key = key};
    cpd_st_s3_req r = {0};
    cpd_st_rc rc = cpd_st_s3_call_run(s, &c, &r, err, errsz);
    cpd_st_s3_req_reset(&r);
    return rc;
}

/* Lists every key (delimiter NULL) or every entry of one level (delimiter
 * "/") under prefix, page by page; each(arg, item) sees every item of a page
 * after that page arrived whole, so it may delete what it is given. */
static cpd_st_rc cpd_st_s3_list_all(const cpd_st_s3 *s, const char *prefix,
                                    const char *delimiter,
                                    cpd_st_rc (*each)(void *arg, const cpd_st_s3_item *it),
                                    void *arg, char *err, size_t errsz)
{
    cpd_st_s3_req r = {0};
    char *marker = NULL;
    cpd_st_rc rc = CPD_ST_OK;
    for (int page = 0; rc == CPD_ST_OK; page++) {
        if (page >= CPD_ST_S3_MAX_PAGES) {
            rc = cpd_st_fail(err, errsz, CPD_ST_IO,
                                "S3 LIST prefix s3://%s/%s: more than %d pages, giving up",
                                s->bucket, prefix, CPD_ST_S3_MAX_PAGES);
            break;
        }
        cpd_st_s3_call c = {.op = CPD_ST_S3_LIST, .key = prefix, .marker = marker,
                            .delimiter = delimiter};
        rc = cpd_st_s3_call_run(s, &c, &r, err, errsz);
        if (rc != CPD_ST_OK)
            break;
        const char *last = NULL;        /* the greatest name of the page */
        for (size_t i = 0; i < r.n_items && rc == CPD_ST_OK; i++) {
            const cpd_st_s3_item *it = &r.items[i];
            /* a hostile or broken server's keys outside the prefix are not ours */
            if (strncmp(it->key, prefix, strlen(prefix)) != 0)
                continue;
            if (!last || strcmp(it->key, last) > 0)
                last = it->key;
            rc = each(arg, it);
        }
        if (rc != CPD_ST_OK || !r.truncated)
            break;
        /* S3 sends NextMarker only with a delimiter; otherwise the last key
         * is the marker. A marker that does not advance would loop forever. */
        const char *next = r.next_marker ? r.next_marker : last;
        if (!next || (marker && strcmp(next, marker) <= 0)) {
            rc = cpd_st_fail(err, errsz, CPD_ST_IO,
                                "S3 LIST prefix s3://%s/%s: the server says there is more but "
                                "gives no way on",
                                s->bucket, prefix);
            break;
        }
        char *nm = strdup(next);
        if (!nm) {
            rc = cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory listing s3://%s/%s",
                                s->bucket, prefix);
            break;
        }
        free(marker);
        marker = nm;
    }
    free(marker);
    cpd_st_s3_req_reset(&r);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* the operations                                                           */

static cpd_st_rc cpd_st_s3_put(void *be, const char *key, const void *data, size_t len,
                               bool inject_failure, char *err, size_t errsz)
{
    cpd_st_s3 *s = be;
    if (!inject_failure) {
        char *k;
        cpd_st_rc rc = cpd_st_s3_key(s, key, "", &k, err, errsz);
        if (rc != CPD_ST_OK)
            return rc;
        rc = cpd_st_s3_put_key(s, k, data, len, err, errsz);
        free(k);
        return rc;
    }
    /* An S3 PUT is all or nothing, with no step before it becomes visible.
     * To fail the way a real upload does (the time, the traffic), the data
     * goes to a hidden temporary key next to the final one, which is then
     * deleted. */
    const char *slash = strrchr(key, '/');
    char tmp[CPD_ST_NAME_MAX * 2 + 64];
    unsigned seq = atomic_fetch_add(&((cpd_st_s3 *)s)->seq, 1);
    snprintf(tmp, sizeof tmp, "%.*s%s.%s.tmp-%ld-%u", slash ? (int)(slash - key) : 0, key,
             slash ? "/" : "", slash ? slash + 1 : key, (long)getpid(), seq);
    char *k;
    cpd_st_rc rc = cpd_st_s3_key(s, tmp, "", &k, err, errsz);
    if (rc != CPD_ST_OK)
        return rc;
    rc = cpd_st_s3_put_key(s, k, data, len, err, errsz);
    if (rc == CPD_ST_OK) {
        char e2[256];
        cpd_st_s3_delete_key(s, k, e2, sizeof e2); /* left over: removed with its chk-N/ */
        rc = cpd_st_fail(err, errsz, CPD_ST_INJECTED,
                            "injected failure: write of s3://%s/%s/%s failed (fail-next-writes)",
                            s->bucket, s->base, key);
    }
    free(k);
    return rc;
}

static cpd_st_rc cpd_st_s3_get(void *be, const char *key, void **data, size_t *len, char *err,
                               size_t errsz)
{
    cpd_st_s3 *s = be;
    *data = NULL;
    *len = 0;
    char *k;
    cpd_st_rc rc = cpd_st_s3_key(s, key, "", &k, err, errsz);
    if (rc != CPD_ST_OK)
        return rc;
    cpd_st_s3_call c = {.op = CPD_ST_S3_GET, .key = k};
    cpd_st_s3_req r = {0};
    rc = cpd_st_s3_call_run(s, &c, &r, err, errsz);
    if (rc == CPD_ST_OK) {
        if (!r.buf)                     /* an empty object: still a buffer to free */
            r.buf = malloc(1);
        if (!r.buf) {
            rc = cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory reading %s", key);
        } else {
            *data = r.buf;
            *len = r.n;
            r.buf = NULL;
        }
    }
    cpd_st_s3_req_reset(&r);
    free(k);
    return rc;
}

typedef struct cpd_st_s3_listing {
    size_t prefix_len;
    size_t seen;                        /* every item, hidden ones too */
    cpd_st_entry *v;
    size_t n, cap;
} cpd_st_s3_listing;

static cpd_st_rc cpd_st_s3_list_one(void *arg, const cpd_st_s3_item *it)
{
    cpd_st_s3_listing *l = arg;
    const char *name = it->key + l->prefix_len;
    size_t n = strlen(name);
    if (it->is_prefix && n && name[n - 1] == '/')
        n--;                            /* "chk-7/" is the directory chk-7 */
    if (n == 0)
        return CPD_ST_OK;               /* the prefix itself, as a "folder" object */
    l->seen++;
    /* hidden and temporary names, nested ones (no delimiter honoured) and
     * names too long to be ours are left out, as the file backend does */
    if (name[0] == '.' || n >= CPD_ST_NAME_MAX || memchr(name, '/', n))
        return CPD_ST_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        cpd_st_entry *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return CPD_ST_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    cpd_st_entry *e = &l->v[l->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->name, name, n);
    e->is_dir = it->is_prefix;
    e->size = it->is_prefix ? 0 : it->size;
    return CPD_ST_OK;
}

static cpd_st_rc cpd_st_s3_list(void *be, const char *dir, cpd_st_entry **entries, size_t *n,
                                char *err, size_t errsz)
{
    cpd_st_s3 *s = be;
    *entries = NULL;
    *n = 0;
    char *prefix;
    cpd_st_rc rc = cpd_st_s3_key(s, dir, "/", &prefix, err, errsz);
    if (rc != CPD_ST_OK)
        return rc;
    cpd_st_s3_listing l = {.prefix_len = strlen(prefix)};
    rc = cpd_st_s3_list_all(s, prefix, "/", cpd_st_s3_list_one, &l, err, errsz);
    if (rc == CPD_ST_NOMEM && !err[0])
        cpd_st_fail(err, errsz, rc, "out of memory listing s3://%s/%s", s->bucket, prefix);
    /* a prefix exists while a key starts with it; the job's own top level
     * always "exists" (as its directory does on a file system) */
    if (rc == CPD_ST_OK && l.seen == 0 && dir[0])
        rc = cpd_st_fail(err, errsz, CPD_ST_NOT_FOUND, "s3://%s/%s does not exist",
                            s->bucket, prefix);
    if (rc == CPD_ST_OK) {
        *entries = l.v;
        *n = l.n;
    } else {
        free(l.v);
    }
    free(prefix);
    return rc;
}

typedef struct cpd_st_s3_remover {
    const cpd_st_s3 *s;
    char *err;
    size_t errsz;
} cpd_st_s3_remover;

static cpd_st_rc cpd_st_s3_remove_one(void *arg, const cpd_st_s3_item *it)
{
    cpd_st_s3_remover *rm = arg;
    if (it->is_prefix)
        return CPD_ST_OK;               /* no delimiter: none expected */
    return cpd_st_s3_delete_key(rm->s, it->key, rm->err, rm->errsz);
}

static cpd_st_rc cpd_st_s3_remove(void *be, const char *key, char *err, size_t errsz)
{
    cpd_st_s3 *s = be;
    /* key may name an object, a "directory", or nothing: both go */
    char *k, *prefix;
    cpd_st_rc rc = cpd_st_s3_key(s, key, "", &k, err, errsz);
    if (rc != CPD_ST_OK)
        return rc;
    rc = cpd_st_s3_delete_key(s, k, err, errsz);
    free(k);
    if (rc != CPD_ST_OK)
        return rc;
    rc = cpd_st_s3_key(s, key, "/", &prefix, err, errsz);
    if (rc != CPD_ST_OK)
        return rc;
    cpd_st_s3_remover rm = {s, err, errsz};
    rc = cpd_st_s3_list_all(s, prefix, NULL, cpd_st_s3_remove_one, &rm, err, errsz);
    free(prefix);
    return rc;
}

static void cpd_st_s3_close(void *be)
{
    cpd_st_s3 *s = be;
    if (!s)
        return;
    /* the secret is wiped, not just freed */
    if (s->secret_key)
        explicit_bzero(s->secret_key, strlen(s->secret_key));
    free(s->secret_key);
    free(s->access_key);
    free(s);
}

static const cpd_storage_ops cpd_st_s3_ops = {
    "s3", cpd_st_s3_put, cpd_st_s3_get, cpd_st_s3_list, cpd_st_s3_remove, cpd_st_s3_close,
};

/* ------------------------------------------------------------------------ */
/* opening: URI, endpoint, credentials                                      */

static pthread_once_t cpd_st_s3_once = PTHREAD_ONCE_INIT;
static S3Status cpd_st_s3_init_status = S3StatusInternalError;

/* libs3 (and curl under it) is initialised once per process, before any
 * thread uses it, and never torn down: other storages may still be open. */
static void cpd_st_s3_init(void)
{
    cpd_st_s3_init_status = S3_initialize("cpdemo", S3_INIT_ALL, NULL);
}

static const char *cpd_st_s3_env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* Parses an endpoint: "http://host[:port]", "https://host[:port]" (a
 * trailing '/' allowed) or a bare "host[:port]" (HTTPS). */
static bool cpd_st_s3_endpoint(cpd_st_s3 *s, const char *ep, const char *source, char *err,
                               size_t errsz)
{
    const char *h = ep;
    s->bc.protocol = S3ProtocolHTTPS;
    if (strncasecmp(ep, "http://", 7) == 0) {
        s->bc.protocol = S3ProtocolHTTP;
        h = ep + 7;
    } else if (strncasecmp(ep, "https://", 8) == 0) {
        h = ep + 8;
    } else if (strstr(ep, "://")) {
        cpd_st_fail(err, errsz, CPD_ST_INVALID,
                       "%s: the S3 endpoint must be http://host[:port] or https://host[:port]",
                       source);
        return false;
    }
    size_t n = strlen(h);
    if (n && h[n - 1] == '/')
        n--;
    bool ok = n > 0 && n <= S3_MAX_HOSTNAME_SIZE;
    for (size_t i = 0; ok && i < n; i++) {
        char c = h[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
    }
    if (!ok) {
        /* not echoed: an endpoint with user:password@ in it would leak them */
        cpd_st_fail(err, errsz, CPD_ST_INVALID,
                       "%s: the S3 endpoint must be [http[s]://]host[:port] with nothing after "
                       "the port (no user, path or query)",
                       source);
        return false;
    }
    memcpy(s->host, h, n);
    s->host[n] = '\0';
    snprintf(s->endpoint, sizeof s->endpoint, "%s://%s",
             s->bc.protocol == S3ProtocolHTTP ? "http" : "https", s->host);
    return true;
}

/* bucket and base from "s3://bucket[/prefix...]". */
static bool cpd_st_s3_parse_uri(cpd_st_s3 *s, const char *uri, const char *job_id, char *err,
                                size_t errsz)
{
    const char *b = uri + 5;            /* after "s3://" (any case) */
    size_t bl = strcspn(b, "/");
    if (memchr(b, '@', bl)) {
        /* not echoed: it would carry the credentials into the log */
        cpd_st_fail(err, errsz, CPD_ST_INVALID,
                       "storage URI: credentials in an s3:// URI are not accepted; use "
                       "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or s3.access-key/s3.secret-key");
        return false;
    }
    if (bl == 0 || bl > S3_MAX_BUCKET_NAME_SIZE) {
        cpd_st_fail(err, errsz, CPD_ST_INVALID,
                       "storage URI '%s': no bucket name (use s3://bucket/prefix)", uri);
        return false;
    }
    memcpy(s->bucket, b, bl);
    s->bucket[bl] = '\0';
    /* the prefix: components of [A-Za-z0-9._-], no "." or "..", empty ones
     * (doubled or trailing '/') dropped */
    const char *p = b + bl;
    size_t k = 0;
    while (*p) {
        while (*p == '/')
            p++;
        size_t cl = strcspn(p, "/");
        if (!cl)
            break;
        bool ok = !(cl == 1 && p[0] == '.') && !(cl == 2 && p[0] == '.' && p[1] == '.');
        for (size_t i = 0; ok && i < cl; i++) {
            char c = p[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        }
        if (!ok) {
            cpd_st_fail(err, errsz, CPD_ST_INVALID,
                           "storage URI '%s': prefix component '%.*s' is not valid (use "
                           "letters, digits, '.', '_', '-')",
                           uri, (int)cl, p);
            return false;
        }
        if (k + cl + 2 + strlen(job_id) > S3_MAX_KEY_SIZE - 64) {
            cpd_st_fail(err, errsz, CPD_ST_INVALID, "storage URI '%s': prefix too long",
                           uri);
            return false;
        }
        memcpy(s->base + k, p, cl);
        k += cl;
        s->base[k++] = '/';
        p += cl;
    }
    snprintf(s->base + k, sizeof s->base - k, "%s", job_id);
    return true;
}

/* Picks a pair of credentials: the configuration's, else AWS_*, else
 * S3_* (the names libs3's own s3 tool reads). Both halves from one place. */
static bool cpd_st_s3_credentials(cpd_st_s3 *s, const cpd_storage_s3_opts *o, char *err,
                                  size_t errsz)
{
    struct {
        const char *id, *secret, *id_name, *secret_name;
    } src[] = {
        {o ? o->access_key : NULL, o ? o->secret_key : NULL, "s3.access-key", "s3.secret-key"},
        {cpd_st_s3_env("AWS_ACCESS_KEY_ID"), cpd_st_s3_env("AWS_SECRET_ACCESS_KEY"),
         "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
        {cpd_st_s3_env("S3_ACCESS_KEY_ID"), cpd_st_s3_env("S3_SECRET_ACCESS_KEY"),
         "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"},
    };
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++) {
        const char *id = src[i].id && src[i].id[0] ? src[i].id : NULL;
        const char *sec = src[i].secret && src[i].secret[0] ? src[i].secret : NULL;
        if (!id && !sec)
            continue;
        if (!id || !sec) {
            cpd_st_fail(err, errsz, CPD_ST_INVALID, "S3 credentials: %s is set without %s",
                           id ? src[i].id_name : src[i].secret_name,
                           id ? src[i].secret_name : src[i].id_name);
            return false;
        }
        s->access_key = strdup(id);
        s->secret_key = strdup(sec);
        if (!s->access_key || !s->secret_key) {
            cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory opening storage");
            return false;
        }
        return true;
    }
    cpd_st_fail(err, errsz, CPD_ST_INVALID,
                   "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                   "s3.access-key and s3.secret-key in the job's configuration");
    return false;
}

cpd_storage *cpd_storage_s3_open(const char *uri, const char *job_id,
                                 const cpd_storage_s3_opts *o, char *err, size_t errsz)
{
    char errlocal[512];
    if (!err || !errsz) {
        err = errlocal;
        errsz = sizeof errlocal;
    }
    err[0] = '\0';
    if (!uri || strncasecmp(uri, "s3://", 5) != 0 || !job_id || !job_id[0]) {
        cpd_st_fail(err, errsz, CPD_ST_INVALID, "s3 storage: bad arguments");
        return NULL;
    }
    cpd_st_s3 *s = calloc(1, sizeof *s);
    if (!s) {
        cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory opening storage");
        return NULL;
    }
    atomic_init(&s->seq, 0);
    s->attempts = o && o->max_attempts > 0 ? o->max_attempts : CPD_ST_S3_ATTEMPTS;
    s->backoff_ms = o && o->backoff_ms > 0 ? o->backoff_ms : CPD_ST_S3_BACKOFF_MS;
    s->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : CPD_ST_S3_TIMEOUT_MS;
    s->list_page = o && o->list_page > 0 && o->list_page <= CPD_ST_S3_LIST_PAGE
                       ? o->list_page
                       : CPD_ST_S3_LIST_PAGE;
    if (!cpd_st_s3_parse_uri(s, uri, job_id, err, errsz))
        goto fail;

    /* endpoint: the configuration's, else the environment's */
    const char *ep = NULL, *ep_src = NULL;
    if (o && o->endpoint && o->endpoint[0])
        ep = o->endpoint, ep_src = "s3.endpoint";
    else if ((ep = cpd_st_s3_env("AWS_ENDPOINT_URL_S3")))
        ep_src = "AWS_ENDPOINT_URL_S3";
    else if ((ep = cpd_st_s3_env("AWS_ENDPOINT_URL")))
        ep_src = "AWS_ENDPOINT_URL";
    else if ((ep = cpd_st_s3_env("S3_HOSTNAME")))
        ep_src = "S3_HOSTNAME";
    if (!cpd_st_s3_endpoint(s, ep ? ep : "https://" S3_DEFAULT_HOSTNAME,
                            ep_src ? ep_src : "default endpoint", err, errsz))
        goto fail;

    /* addressing: a chosen endpoint (MinIO, Ceph, s3rver) usually wants
     * path style; AWS itself the virtual host */
    s->bc.uriStyle = ep ? S3UriStylePath : S3UriStyleVirtualHost;
    const char *style = cpd_st_s3_env("S3_URI_STYLE");
    if (o && o->path_style)
        s->bc.uriStyle = o->path_style > 0 ? S3UriStylePath : S3UriStyleVirtualHost;
    else if (style && !strcasecmp(style, "path"))
        s->bc.uriStyle = S3UriStylePath;
    else if (style && (!strcasecmp(style, "virtual") || !strcasecmp(style, "virtual-host") ||
                       !strcasecmp(style, "vhost")))
        s->bc.uriStyle = S3UriStyleVirtualHost;
    else if (style) {
        cpd_st_fail(err, errsz, CPD_ST_INVALID,
                       "S3_URI_STYLE='%.32s' must be path or virtual", style);
        goto fail;
    }
    S3Status bs = S3_validate_bucket_name(s->bucket, s->bc.uriStyle);
    if (bs != S3StatusOK) {
        cpd_st_fail(err, errsz, CPD_ST_INVALID,
                       "storage URI '%s': bucket name '%s' is not valid for %s-style "
                       "addressing (%s)",
                       uri, s->bucket, s->bc.uriStyle == S3UriStylePath ? "path" : "virtual-host",
                       S3_get_status_name(bs));
        goto fail;
    }
    if (!cpd_st_s3_credentials(s, o, err, errsz))
        goto fail;

    pthread_once(&cpd_st_s3_once, cpd_st_s3_init);
    if (cpd_st_s3_init_status != S3StatusOK) {
        cpd_st_fail(err, errsz, CPD_ST_IO, "libs3 cannot be initialised: %s",
                       S3_get_status_name(cpd_st_s3_init_status));
        goto fail;
    }
    s->bc.hostName = s->host;
    s->bc.bucketName = s->bucket;
    s->bc.accessKeyId = s->access_key;
    s->bc.secretAccessKey = s->secret_key;

    /* a probe, as the file backend does: write and remove a hidden key, so
     * a wrong endpoint, bucket or key shows now and not at the first checkpoint */
    char probe[64];
    snprintf(probe, sizeof probe, ".probe-%ld", (long)getpid());
    char *pk;
    if (cpd_st_s3_key(s, probe, "", &pk, err, errsz) != CPD_ST_OK)
        goto fail;
    char why[1024];
    cpd_st_rc rc = cpd_st_s3_put_key(s, pk, "x", 1, why, sizeof why);
    if (rc == CPD_ST_OK)
        rc = cpd_st_s3_delete_key(s, pk, why, sizeof why);
    free(pk);
    if (rc != CPD_ST_OK) {
        cpd_st_fail(err, errsz, rc, "s3://%s/%s is not writable: %s", s->bucket, s->base,
                       why);
        cpd_st_s3_scrub(s, err, errsz);
        goto fail;
    }
    char loc[S3_MAX_BUCKET_NAME_SIZE + S3_MAX_KEY_SIZE + 8];
    snprintf(loc, sizeof loc, "s3://%s/%s", s->bucket, s->base);
    return cpd_storage_new(&cpd_st_s3_ops, s, job_id, loc, err, errsz);
fail:
    cpd_st_s3_close(s);
    return NULL;
}
