/* cpd_storage_s3_client.c — S3 requests for the checkpoint storage's S3
 * backend (libs3 2.x; see cpd_storage_s3_client.h): each in a request
 * context of its own driven here with a deadline, retried with backoff,
 * its failure told without any credential. */
#include "cpd_storage_s3_client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>

#include <openssl/evp.h>

#include "cpd_clock.h"

#define CPD_ST_S3_MAX_PAGES 1000000     /* a server that never stops paging is refused */
#define CPD_ST_S3_GET_MAX ((size_t)1 << 34) /* 16 GiB: more is not one of our objects */

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

void cpd_st_s3_scrub(const cpd_st_s3 *s, char *err, size_t errsz)
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

/* Runs the requests in ctx until they complete or timeout_ms passes; false
 * on the timeout (the caller destroys ctx, which aborts what still runs). */
static bool cpd_st_s3_drive(S3RequestContext *ctx, int64_t timeout_ms)
{
    int64_t deadline = cpd_mono_ms() + timeout_ms;
    for (;;) {
        int remaining = 0;
        if (S3_runonce_request_context(ctx, &remaining) != S3StatusOK || remaining == 0)
            return true;                /* done, or libs3 failed it: the callback says */
        int64_t left = deadline - cpd_mono_ms();
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
            cpd_sleep_ms(wait < 5 ? wait : 5);
            continue;
        }
        struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000)};
        if (select(maxfd + 1, &rs, &ws, &es, &tv) < 0 && errno != EINTR)
            cpd_sleep_ms(1);
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
        cpd_sleep_ms(backoff);
        backoff *= 2;
    }
    const char *what = c->op == CPD_ST_S3_LIST ? "prefix " : "";
    char tries[32] = "";
    if (attempt > 1)
        snprintf(tries, sizeof tries, " after %d attempts", attempt);
    cpd_st_fail(err, errsz, CPD_ST_IO, "S3 %s %ss3://%s/%s failed%s: %s%s%s%s (endpoint %s)",
                cpd_st_s3_verbs[c->op], what, s->bucket, c->key, tries,
                S3_get_status_name(r->status), r->detail[0] ? " (" : "", r->detail,
                r->detail[0] ? ")" : "", s->endpoint);
    cpd_st_s3_scrub(s, err, errsz);
    return CPD_ST_IO;
}

/* *out = "<base>/<rel><suffix>" (rel may be ""), malloc'd; CPD_ST_NOMEM, or
 * CPD_ST_INVALID when longer than S3 allows, with err saying which. */
cpd_st_rc cpd_st_s3_key(const cpd_st_s3 *s, const char *rel, const char *suffix,
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

cpd_st_rc cpd_st_s3_put_key(const cpd_st_s3 *s, const char *key, const void *data,
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

cpd_st_rc cpd_st_s3_delete_key(const cpd_st_s3 *s, const char *key, char *err,
                                      size_t errsz)
{
    cpd_st_s3_call c = {.op = CPD_ST_S3_DELETE, .key = key};
    cpd_st_s3_req r = {0};
    cpd_st_rc rc = cpd_st_s3_call_run(s, &c, &r, err, errsz);
    cpd_st_s3_req_reset(&r);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* whole objects                                                            */

cpd_st_rc cpd_st_s3_get_key(const cpd_st_s3 *s, const char *key, void **data, size_t *len,
                            char *err, size_t errsz)
{
    *data = NULL;
    *len = 0;
    cpd_st_s3_call c = {.op = CPD_ST_S3_GET, .key = key};
    cpd_st_s3_req r = {0};
    cpd_st_rc rc = cpd_st_s3_call_run(s, &c, &r, err, errsz);
    if (rc == CPD_ST_OK) {
        if (!r.buf)                     /* an empty object: still a buffer to free */
            r.buf = malloc(1);
        if (!r.buf) {
            rc = cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory reading s3://%s/%s",
                             s->bucket, key);
        } else {
            *data = r.buf;
            *len = r.n;
            r.buf = NULL;
        }
    }
    cpd_st_s3_req_reset(&r);
    return rc;
}

/* Lists every key (delimiter NULL) or every entry of one level (delimiter
 * "/") under prefix, page by page; each(arg, item) sees every item of a page
 * after that page arrived whole, so it may delete what it is given. */
cpd_st_rc cpd_st_s3_list_all(const cpd_st_s3 *s, const char *prefix,
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

