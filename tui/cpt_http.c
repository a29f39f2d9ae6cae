/*
 * cpt_http.c — see cpt_http.h.
 *
 * Why the multi interface inside cptop's own poll() and not a worker
 * thread: the model, the view and the keys have one owner (the loop), so
 * answers must land there anyway; a thread would add a queue and a lock for
 * nothing. Why curl_multi_fdset() and not the socket-callback API: cptop
 * holds a handful of descriptors, all far below FD_SETSIZE, and the fd_set
 * maps straight onto the pollfds the loop already builds; libcurl's own
 * deadline (curl_multi_timeout) becomes the loop's next wake-up.
 */
#include "cpt_http.h"
#include "cpw.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <unistd.h>

#define MAX_ACTIVE 32
#define MAX_IDLE 8     /* easy handles kept for the next requests */

typedef struct xfer {
    CURL *easy;
    uint64_t tag;
    char method[8];
    char path[256];
    char *req_body;           /* owned copy of the POST body */
    struct curl_slist *hdrs;  /* a POST's headers: the configured ones and its type */
    char *buf;                /* the answer so far */
    size_t len, cap, max;
    bool too_big;
    int hops;                 /* redirects followed */
    char refused[400];        /* a redirect not followed, and why */
    char errbuf[CURL_ERROR_SIZE];
} xfer;

struct cpt_http {
    CURLM *multi;
    char base[512];           /* as given, for requests */
    char shown[512];          /* without credentials */
    char host[256];           /* the base's host, lowercase: redirects stay on it */
    bool tls;                 /* the base is https: redirects stay there */
    struct curl_slist *headers;
    char *user, *cacert;
    bool insecure;
    size_t max_body;
    int timeout_ms;
    xfer *active[MAX_ACTIVE];
    int n_active;
    /* finished handles, newest last. A GET's keeps its options and names
     * its path: the next GET of that path (a poll, every second) reuses it
     * as it is, which spares resetting and setting every option and parsing
     * the URL again; others are reset before their next use. */
    struct idle {
        CURL *easy;
        char path[256];       /* "" when reset */
    } idle[MAX_IDLE];
    int n_idle;
};

/* libcurl's global init, once per process (it is not thread-safe; cptop
 * makes its first client before any thread exists). */
static bool global_ok(void)
{
    static int done;
    if (!done)
        done = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 1 : -1;
    return done > 0;
}

/* "scheme://user:pw@host" shown as "scheme://host". */
static void strip_credentials(const char *url, char *out, size_t size)
{
    const char *p = strstr(url, "://");
    const char *host = p ? p + 3 : url;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (at && (!slash || at < slash))
        snprintf(out, size, "%.*s%s", (int)(host - url), url, at + 1);
    else
        snprintf(out, size, "%s", url);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = 0;
}

/* The host of an absolute URL, lowercase (libcurl's parser, the one that
 * will connect to it); -1 when it has none. */
static int url_host(const char *url, char *out, size_t size)
{
    CURLU *u = curl_url();
    char *host = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] &&
        strlen(host) < size) {
        size_t i = 0;
        for (; host[i]; i++)
            out[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] | 0x20 : host[i]);
        out[i] = 0;
        rc = 0;
    }
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

cpt_http *cpt_http_new(const cpt_http_conf *c, char *err, size_t errsz)
{
    if (!c->base || (strncmp(c->base, "http://", 7) && strncmp(c->base, "https://", 8))) {
        snprintf(err, errsz, "'%s' is not an http:// or https:// URL", c->base ? c->base : "");
        return NULL;
    }
    if (strlen(c->base) >= sizeof ((cpt_http *)0)->base) {
        snprintf(err, errsz, "the URL is too long");
        return NULL;
    }
    if (!global_ok()) {
        snprintf(err, errsz, "libcurl could not be initialised");
        return NULL;
    }
    cpt_http *h = calloc(1, sizeof *h);
    if (!h || !(h->multi = curl_multi_init())) {
        free(h);
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    /* one server: two connections at most, both kept. Each cached
     * connection is polled for liveness before every reuse, and a watcher
     * asks a request or two a second: more would cost wakeups, not time. */
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 2L);
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 2L);
    snprintf(h->base, sizeof h->base, "%s", c->base);
    size_t n = strlen(h->base);
    while (n > 0 && h->base[n - 1] == '/')
        h->base[--n] = 0;
    strip_credentials(h->base, h->shown, sizeof h->shown);
    h->tls = !strncmp(h->base, "https://", 8);
    if (url_host(h->base, h->host, sizeof h->host)) {
        snprintf(err, errsz, "'%s' names no host", h->shown);
        cpt_http_destroy(h);
        return NULL;
    }
    for (int i = 0; i < c->n_headers && i < CPT_HTTP_MAX_HEADERS; i++) {
        if (!strchr(c->headers[i], ':') || strpbrk(c->headers[i], "\r\n")) {
            snprintf(err, errsz, "header '%s' is not 'Name: value'", c->headers[i]);
            cpt_http_destroy(h);
            return NULL;
        }
        struct curl_slist *l = curl_slist_append(h->headers, c->headers[i]);
        if (l)
            h->headers = l;
    }
    /* a CA file that cannot be read would fail every request later, each
     * after a connection: said now, naming it */
    if (c->cacert && access(c->cacert, R_OK)) {
        snprintf(err, errsz, "--cacert %s: %s", c->cacert, strerror(errno));
        cpt_http_destroy(h);
        return NULL;
    }
    h->user = c->user ? strdup(c->user) : NULL;
    h->cacert = c->cacert ? strdup(c->cacert) : NULL;
    h->insecure = c->insecure;
    h->max_body = c->max_body ? c->max_body : 8u * 1024 * 1024;
    h->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 5000;
    return h;
}

static void xfer_free(cpt_http *h, xfer *x)
{
    if (x->easy) {
        curl_multi_remove_handle(h->multi, x->easy);
        if (h->n_idle == MAX_IDLE) { /* the oldest goes */
            curl_easy_cleanup(h->idle[0].easy);
            memmove(h->idle, h->idle + 1, sizeof h->idle[0] * (MAX_IDLE - 1));
            h->n_idle--;
        }
        struct idle *i = &h->idle[h->n_idle++];
        i->easy = x->easy;
        /* a POST's body and headers are freed below: its options go; a
         * redirected GET's URL is no longer its path's */
        bool keep = !strcmp(x->method, "GET") && !x->hdrs && !x->req_body && !x->hops;
        snprintf(i->path, sizeof i->path, "%s", keep ? x->path : "");
        if (!keep)
            curl_easy_reset(x->easy); /* connections stay in the multi's cache */
    }
    free(x->req_body);
    curl_slist_free_all(x->hdrs);
    free(x->buf);
    free(x);
}

void cpt_http_destroy(cpt_http *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n_active; i++)
        xfer_free(h, h->active[i]);
    for (int i = 0; i < h->n_idle; i++)
        curl_easy_cleanup(h->idle[i].easy);
    curl_multi_cleanup(h->multi);
    curl_slist_free_all(h->headers);
    free(h->user);
    free(h->cacert);
    free(h);
}

const char *cpt_http_base(const cpt_http *h) { return h->shown; }
int cpt_http_active(const cpt_http *h) { return h->n_active; }

bool cpt_http_pending(const cpt_http *h, const char *path)
{
    for (int i = 0; i < h->n_active; i++)
        if (!strcmp(h->active[i]->path, path))
            return true;
    return false;
}

int cpt_http_waiting(const cpt_http *h, char *out, size_t size)
{
    out[0] = 0;
    if (!h->n_active)
        return 0;
    const xfer *x = h->active[0];
    for (int i = 1; i < h->n_active; i++) /* the one that got furthest says most */
        if (h->active[i]->len > x->len)
            x = h->active[i];
    snprintf(out, size, "no complete answer to %s %s (%zu bytes received)%s", x->method, x->path,
             x->len, h->n_active > 1 ? ", nor to the other requests" : "");
    return h->n_active;
}

/* Keeps the answer, up to max_body bytes: past that, the transfer fails. */
static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (n > x->max - x->len) {
        x->too_big = true;
        return 0; /* CURLE_WRITE_ERROR: the transfer ends here */
    }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < x->len + n + 1)
            cap *= 2;
        char *b = realloc(x->buf, cap);
        if (!b)
            return 0;
        x->buf = b;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, p, n);
    x->len += n;
    x->buf[x->len] = 0;
    return n;
}

static void set_common(cpt_http *h, xfer *x)
{
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(h->timeout_ms < 3000 ? h->timeout_ms : 3000));
    /* redirects are followed here (follow()), not by libcurl: it has no
     * rule "the same host only" */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* whatever libcurl can decode */
    curl_easy_setopt(e, CURLOPT_USERAGENT, "cptop");
    if (h->headers)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
    if (h->user) {
        curl_easy_setopt(e, CURLOPT_USERPWD, h->user);
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    }
    if (h->cacert)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->cacert);
    if (h->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

/* An idle handle for the request: one that did this GET already (true:
 * ready as it is), else the oldest, reset (false); *easy NULL when none. */
static bool take_idle(cpt_http *h, const char *method, const char *path, CURL **easy)
{
    *easy = NULL;
    if (!h->n_idle)
        return false;
    int k = 0;
    bool same = false;
    for (int i = h->n_idle - 1; i >= 0 && !strcmp(method, "GET"); i--)
        if (!strcmp(h->idle[i].path, path)) {
            k = i, same = true;
            break;
        }
    *easy = h->idle[k].easy;
    if (!same && h->idle[k].path[0])
        curl_easy_reset(*easy);
    memmove(h->idle + k, h->idle + k + 1, sizeof h->idle[0] * (size_t)(h->n_idle - k - 1));
    h->n_idle--;
    return same;
}

int cpt_http_start(cpt_http *h, const char *method, const char *path, const char *body,
                   uint64_t tag, char *err, size_t errsz)
{
    if (h->n_active >= MAX_ACTIVE) {
        snprintf(err, errsz, "too many requests at once");
        return -1;
    }
    xfer *x = calloc(1, sizeof *x);
    bool ready = x && take_idle(h, method, path, &x->easy);
    if (!x || (!x->easy && !(x->easy = curl_easy_init()))) {
        free(x);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    x->tag = tag;
    x->max = h->max_body;
    snprintf(x->method, sizeof x->method, "%s", method);
    snprintf(x->path, sizeof x->path, "%s", path);
    if (ready) {
        /* configured for this very request: only where its answer goes */
        curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    } else {
        char url[1024];
        snprintf(url, sizeof url, "%s%s", h->base, path);
        set_common(h, x);
        curl_easy_setopt(x->easy, CURLOPT_URL, url);
    }
    if (!strcmp(method, "POST")) {
        x->req_body = strdup(body ? body : "{}");
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->req_body);
        for (struct curl_slist *l = h->headers; l; l = l->next)
            x->hdrs = curl_slist_append(x->hdrs, l->data);
        x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/json");
        if (!x->req_body || !x->hdrs) {
            xfer_free(h, x);
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
    }
    if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
        xfer_free(h, x);
        snprintf(err, errsz, "libcurl refused the request");
        return -1;
    }
    h->active[h->n_active++] = x;
    return 0;
}

int cpt_http_pollfds(cpt_http *h, struct pollfd *pfd, int max, int64_t *next_us)
{
    if (!h->n_active)
        return 0;
    fd_set r, w, x;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_ZERO(&x);
    int maxfd = -1, n = 0;
    curl_multi_fdset(h->multi, &r, &w, &x, &maxfd);
    for (int fd = 0; fd <= maxfd && n < max; fd++) {
        short ev = (short)((FD_ISSET(fd, &r) ? POLLIN : 0) | (FD_ISSET(fd, &w) ? POLLOUT : 0) |
                           (FD_ISSET(fd, &x) ? POLLPRI : 0));
        if (ev)
            pfd[n++] = (struct pollfd){.fd = fd, .events = ev};
    }
    long ms = -1;
    curl_multi_timeout(h->multi, &ms);
    /* no deadline from libcurl (resolving a name, say): look again soon */
    if (ms < 0 || maxfd < 0)
        ms = ms < 0 || ms > 50 ? 50 : ms;
    int64_t at = cpw_now_us() + (int64_t)ms * 1000;
    if (next_us && at < *next_us)
        *next_us = at;
    return n;
}

/* A redirect x received, followed when it stays on the base's host and
 * scheme family (http(s); https not left for http), at most MAX_HOPS:
 * true when the request went out again. Otherwise x->refused says why.
 * A proxy in front of Flink may redirect (to https, to another prefix);
 * one that sends cptop elsewhere (a login page on another host, ftp://)
 * is named, and no header or password of ours follows it. */
#define MAX_HOPS 3
static bool follow(cpt_http *h, xfer *x)
{
    long status = 0;
    char *loc = NULL;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308)
        return false;
    if (curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || !loc || !loc[0])
        return false; /* no Location: the 3xx itself is the answer */
    char to[300], host[256];
    strip_credentials(loc, to, sizeof to);
    bool https = !strncasecmp(loc, "https://", 8);
    if (!https && strncasecmp(loc, "http://", 7))
        snprintf(x->refused, sizeof x->refused, "redirected (HTTP %ld) to %s, which is not http(s)",
                 status, to);
    else if (h->tls && !https)
        snprintf(x->refused, sizeof x->refused,
                 "redirected (HTTP %ld) from https to plain http (%s): not followed", status, to);
    else if (url_host(loc, host, sizeof host) || strcmp(host, h->host))
        snprintf(x->refused, sizeof x->refused,
                 "redirected (HTTP %ld) to another host (%s): cptop follows redirects only on %s",
                 status, to, h->host);
    else if (x->hops >= MAX_HOPS)
        snprintf(x->refused, sizeof x->refused, "more than %d redirects (the last to %s)",
                 MAX_HOPS, to);
    if (x->refused[0])
        return false;
    char url[1024];
    snprintf(url, sizeof url, "%s", loc); /* loc is the handle's, valid until the next setopt */
    curl_multi_remove_handle(h->multi, x->easy);
    curl_easy_setopt(x->easy, CURLOPT_URL, url);
    x->hops++;
    x->len = 0;
    x->too_big = false;
    x->errbuf[0] = 0;
    if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
        snprintf(x->refused, sizeof x->refused, "libcurl refused the redirect to %s", to);
        return false;
    }
    return true;
}

static void finish(cpt_http *h, xfer *x, CURLcode rc, cpt_http_done_fn done, void *ud)
{
    long status = 0;
    char why[512] = "";
    if (x->refused[0]) {
        snprintf(why, sizeof why, "%s", x->refused);
    } else if (rc == CURLE_OK) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    } else if (x->too_big) {
        snprintf(why, sizeof why, "the answer is larger than %zu bytes", x->max);
    } else {
        snprintf(why, sizeof why, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    }
    cpt_http_resp r = {.tag = x->tag, .method = x->method, .path = x->path, .status = (int)status,
                       .body = x->buf ? x->buf : "", .len = status ? x->len : 0, .err = why,
                       .recv_us = cpw_now_us()};
    if (done)
        done(ud, &r);
    (void)h;
}

void cpt_http_run(cpt_http *h, cpt_http_done_fn done, void *ud)
{
    if (!h->n_active)
        return;
    int running;
    curl_multi_perform(h->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        for (int i = 0; i < h->n_active; i++) {
            xfer *x = h->active[i];
            if (x->easy != m->easy_handle)
                continue;
            CURLcode rc = m->data.result;
            if (rc == CURLE_OK && follow(h, x))
                break; /* out again, to where it was sent */
            /* out of the list first: done() may start the next request */
            h->active[i] = h->active[--h->n_active];
            finish(h, x, rc, done, ud);
            xfer_free(h, x);
            break;
        }
    }
}
