/*
 * cpt_http.h — a small non-blocking HTTP client for cptop's one poll loop,
 * over libcurl's multi interface (TLS, proxies from the environment,
 * timeouts are libcurl's). Requests go to one base URL; each
 * answer is handed to a callback with its status and a body bounded to
 * max_body bytes.
 *
 * Redirects are followed (at most 3) only while they stay on the base
 * URL's host and on http(s), never from https to http; any other is an
 * error naming where it pointed.
 *
 * The loop asks cpt_http_pollfds() for the descriptors and the deadline
 * libcurl wants, polls, then calls cpt_http_run(). Not thread-safe: one
 * owner. Nothing here prints.
 */
#ifndef CPT_HTTP_H
#define CPT_HTTP_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cpt_http cpt_http;

#define CPT_HTTP_MAX_HEADERS 16

typedef struct cpt_http_conf {
    const char *base;                 /* http(s)://HOST:PORT[/prefix], no trailing / needed */
    const char *headers[CPT_HTTP_MAX_HEADERS]; /* "Name: value", sent with every request */
    int n_headers;
    const char *user;                 /* "USER:PASSWORD" for basic auth, or NULL */
    const char *cacert;               /* a CA bundle file, or NULL for the system's */
    bool insecure;                    /* do not verify the server's certificate */
    size_t max_body;                  /* bytes; a longer answer fails (default 8 MiB) */
    int timeout_ms;                   /* a whole request (default 5000) */
} cpt_http_conf;

/* The answer to one request. status 0: none arrived; err says why. body
 * is NUL-terminated (len bytes before it) and valid for the call. */
typedef struct cpt_http_resp {
    uint64_t tag;                     /* what cpt_http_start was given */
    const char *method, *path;
    int status;
    const char *body;
    size_t len;
    const char *err;                  /* "" when an answer arrived */
    int64_t recv_us;
} cpt_http_resp;

typedef void (*cpt_http_done_fn)(void *ud, const cpt_http_resp *r);

/* Copies what conf points to. NULL with why in err. */
cpt_http *cpt_http_new(const cpt_http_conf *conf, char *err, size_t errsz);
void cpt_http_destroy(cpt_http *h);

/* Starts a request (body: a JSON document for POST, or NULL). 0, or -1
 * with why in err. At most 32 at a time. */
int cpt_http_start(cpt_http *h, const char *method, const char *path, const char *body,
                   uint64_t tag, char *err, size_t errsz);
/* Requests started and not answered yet; whether one for path is. */
int cpt_http_active(const cpt_http *h);
bool cpt_http_pending(const cpt_http *h, const char *path);

/* What is still out, for a message when a caller stops waiting: "no
 * complete answer to GET PATH (N bytes received)…" into out; returns how
 * many requests are out (0: out is ""). */
int cpt_http_waiting(const cpt_http *h, char *out, size_t size);

/* Up to max descriptors libcurl waits on; *next_us lowered to the wall
 * clock of its next timeout. */
int cpt_http_pollfds(cpt_http *h, struct pollfd *pfd, int max, int64_t *next_us);
/* Moves the transfers on (never blocks); done() for each one finished. */
void cpt_http_run(cpt_http *h, cpt_http_done_fn done, void *ud);

/* The base URL, with any user:password@ removed (for showing). */
const char *cpt_http_base(const cpt_http *h);

#endif /* CPT_HTTP_H */
