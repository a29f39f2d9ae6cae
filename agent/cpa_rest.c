/* cpa_rest.c — the HTTP server of the REST endpoint (see cpa_rest.h):
 * libmicrohttpd in external epoll mode inside the agent thread's loop,
 * request bounds, authentication of the requests that act, and the hooks
 * that keep the REST history and trigger operations in step with the
 * agent's state. */
#include "cpa_rest_int.h"
#include "cpw_json.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ listen address */

typedef struct listen_addr {
    struct sockaddr_storage ss;
    bool v6, loopback;
    char host[64];
    int port;
} listen_addr;

static bool parse_listen(const char *value, listen_addr *la, char *err, size_t errsz)
{
    memset(la, 0, sizeof *la);
    const char *colon = strrchr(value, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon[1] == '\0' || *end || port < 0 || port > 65535) {
        snprintf(err, errsz, "rest.listen: \"%s\" must be HOST:PORT with PORT 0-65535", value);
        return false;
    }
    size_t hl = (size_t)(colon - value);
    if (hl == 0 || hl >= sizeof la->host) {
        snprintf(err, errsz, "rest.listen: \"%s\" needs a host (127.0.0.1 for this machine only)",
                 value);
        return false;
    }
    memcpy(la->host, value, hl);
    la->host[hl] = '\0';
    la->port = (int)port;
    if (la->host[0] == '[' && la->host[hl - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&la->ss;
        char h[64];
        snprintf(h, sizeof h, "%.*s", (int)hl - 2, la->host + 1);
        if (inet_pton(AF_INET6, h, &a6->sin6_addr) != 1)
            goto bad;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        la->v6 = true;
        la->loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
        return true;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)&la->ss;
    const char *h = !strcmp(la->host, "localhost") ? "127.0.0.1" : la->host;
    if (inet_pton(AF_INET, h, &a4->sin_addr) != 1)
        goto bad;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    la->loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    return true;
bad:
    snprintf(err, errsz, "rest.listen: host \"%s\" is not an IPv4 address, \"localhost\" or "
                         "[an IPv6 address]", la->host);
    return false;
}

bool cpa_rest_listen_ok(const char *value, char *err, size_t errsz)
{
    listen_addr la;
    return parse_listen(value, &la, err, errsz);
}

/* ------------------------------------------------------------------ one request */

typedef struct req_ctx {
    int status;                 /* 0: routed; else the error to answer */
    cpa_request req;
    char msg[CPA_REST_MSG_MAX];
    char allow[32];
    char *body;
    size_t len;
} req_ctx;

static enum MHD_Result respond(struct MHD_Connection *c, int status, cpw_buf *b,
                               const char *allow, bool auth)
{
    if (b->failed || !b->data) {
        cpw_buf_free(b);
        return MHD_NO; /* out of memory: drop the connection */
    }
    /* the buffer is handed to libmicrohttpd, which frees it */
    struct MHD_Response *resp = MHD_create_response_from_buffer(b->len, b->data,
                                                                MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        cpw_buf_free(b);
        return MHD_NO;
    }
    cpw_buf_init(b);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=UTF-8");
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    if (allow && allow[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (auth)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result respond_error(struct MHD_Connection *c, int status, const char *msg,
                                     const char *allow, bool auth)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_flink_write_error(&b, msg);
    return respond(c, status, &b, allow, auth);
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind, (void)key, (void)value;
    (*(int *)cls)++;
    return MHD_YES;
}

/* First sight of a request: its bounds and its route. */
static int admit(struct MHD_Connection *c, const char *url, const char *method, req_ctx *x)
{
    int headers = 0;
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &headers);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (strlen(url) > CPA_REST_MAX_URL) {
        snprintf(x->msg, sizeof x->msg, "URI longer than %d bytes.", CPA_REST_MAX_URL);
        return 414;
    }
    if (headers > CPA_REST_MAX_HEADERS) {
        snprintf(x->msg, sizeof x->msg, "More than %d request headers.", CPA_REST_MAX_HEADERS);
        return 431;
    }
    if (cl && strtoull(cl, NULL, 10) > CPA_REST_MAX_BODY) {
        snprintf(x->msg, sizeof x->msg, "Request body larger than %d bytes.", CPA_REST_MAX_BODY);
        return 413;
    }
    return cpa_rest_route(method, url, &x->req, x->msg, sizeof x->msg, x->allow,
                          sizeof x->allow);
}

/* Requests that act need the secret unless we listen on loopback only; a
 * token sent anyway is checked. Constant-time compare. */
static bool authorized(const cpa_rest *r, struct MHD_Connection *c, char *why, size_t wsz)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h) {
        if (r->loopback)
            return true;
        snprintf(why, wsz, "Unauthorized: this endpoint listens beyond loopback; send "
                           "\"Authorization: Bearer <the agent's secret file>\".");
        return false;
    }
    if (strncmp(h, "Bearer ", 7) || !r->secret_len) {
        snprintf(why, wsz, "Unauthorized: expected \"Authorization: Bearer <secret>\".");
        return false;
    }
    const char *tok = h + 7;
    size_t n = strlen(tok);
    if (n != r->secret_len || CRYPTO_memcmp(tok, r->secret, n) != 0) {
        snprintf(why, wsz, "Unauthorized: wrong secret.");
        return false;
    }
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    cpa_rest *r = cls;
    req_ctx *x = *con_cls;
    if (!x) {
        if (!(x = calloc(1, sizeof *x)))
            return MHD_NO;
        *con_cls = x;
        x->status = admit(c, url, method, x);
        if (x->status) /* answered before any body is read */
            return respond_error(c, x->status, x->msg, x->allow, false);
        return MHD_YES;
    }
    if (*upload_size) {
        /* a chunked body that grows past the bound loses its connection */
        if (x->len + *upload_size > CPA_REST_MAX_BODY)
            return MHD_NO;
        char *nb = realloc(x->body, x->len + *upload_size + 1);
        if (!nb)
            return MHD_NO;
        memcpy(nb + x->len, upload, *upload_size);
        x->body = nb;
        x->len += *upload_size;
        x->body[x->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    if (x->req.route == CPA_R_TRIGGER || x->req.route == CPA_R_CANCEL) {
        char why[200];
        if (!authorized(r, c, why, sizeof why)) {
            char m[16], u[120]; /* the job's log may reach a terminal */
            cpw_sanitize(method, m, sizeof m);
            cpw_sanitize(url, u, sizeof u);
            atomic_fetch_add_explicit(&r->a->refused, 1, memory_order_relaxed);
            cpa_log(r->a, CPA_LOG_WARNING, "rest: refused %s %s: %s", m, u, why);
            return respond_error(c, 401, why, NULL, true);
        }
    }
    const char *mode = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mode");
    cpw_buf b;
    cpw_buf_init(&b);
    int status = cpa_rest_answer(r, &x->req, mode, x->body ? x->body : "", x->len, &b);
    return respond(c, status, &b, NULL, false);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    req_ctx *x = *con_cls;
    if (x) {
        free(x->body);
        free(x);
        *con_cls = NULL;
    }
}

/* libmicrohttpd's complaints (malformed requests, resets) go to the job's
 * log callback, at debug level: a hostile client must not flood it. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    cpa_rest *r = cls;
    char raw[300], msg[300];
    vsnprintf(raw, sizeof raw, fmt, ap);
    cpw_sanitize(raw, msg, sizeof msg); /* it may quote what a client sent */
    cpa_log(r->a, CPA_LOG_DEBUG, "rest: %s", msg);
}

/* ------------------------------------------------------------------ lifecycle */

static cpa_err load_secret(cpa_rest *r, char *err, size_t errsz)
{
    if (r->a->secret_len) { /* loaded already for tcp commands */
        memcpy(r->secret, r->a->secret, r->a->secret_len);
        r->secret_len = r->a->secret_len;
        return CPA_OK;
    }
    return cpa_load_secret(r->a->conf.secret_file, r->secret, &r->secret_len, sizeof r->secret,
                           err, errsz);
}

static bool start_daemon(cpa_rest *r, listen_addr *la, char *err, size_t errsz)
{
    /* epoll, driven by our loop. libmicrohttpd's epoll is edge-triggered and
     * may miss a close that arrives with the last data of a partial request:
     * that connection then keeps its slot until the idle timeout. TURBO
     * (optimistic reads) makes that much rarer; the timeout bounds it. */
    unsigned flags = MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG |
                     (la->v6 ? MHD_USE_IPv6 : 0);
    r->d = MHD_start_daemon(flags, (uint16_t)la->port, NULL, NULL, on_request, r,
                            /* first, so that nothing is ever printed */
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, r,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&la->ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)CPA_REST_MAX_CONNS,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CPA_REST_MAX_PER_IP,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CPA_REST_TIMEOUT_S,
                            /* request line and headers must fit: longer ones get 414/431 */
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, r,
                            MHD_OPTION_END);
    if (!r->d) {
        snprintf(err, errsz, "rest.listen: cannot listen on %s:%d (address in use or not ours?)",
                 la->host, la->port);
        return false;
    }
    const union MHD_DaemonInfo *ep = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *pt = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT);
    r->epoll_fd = ep ? ep->epoll_fd : -1;
    r->port = pt ? pt->port : la->port;
    if (r->epoll_fd < 0 || r->port <= 0) {
        snprintf(err, errsz, "rest.listen: the HTTP server gave no descriptor to poll");
        return false;
    }
    snprintf(r->url, sizeof r->url, "http://%s:%d", la->host, r->port);
    return true;
}

cpa_rest *cpa_rest_new(cpa_agent *a, cpa_err *code, char *err, size_t errsz)
{
    listen_addr la;
    *code = CPA_ERR_INVALID_ARG;
    if (!parse_listen(a->conf.rest_listen, &la, err, errsz))
        return NULL;
    *code = CPA_ERR_NOMEM;
    cpa_rest *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    r->a = a;
    r->epoll_fd = -1;
    r->loopback = la.loopback;
    r->history = a->conf.rest_history;
    cpw_flink_derive_id(r->jid, "job", a->conf.job_id, 0);
    r->hist = cpa_rest_hist_new(r->history);
    r->ops = cpa_rest_ops_new();
    r->order = calloc((size_t)r->history + CPW_MAX_INFLIGHT, sizeof *r->order);
    if (!r->hist || !r->ops || !r->order) {
        snprintf(err, errsz, "out of memory");
        cpa_rest_destroy(r);
        return NULL;
    }
    if (!la.loopback && (*code = load_secret(r, err, errsz)) != CPA_OK) {
        cpa_rest_destroy(r);
        return NULL;
    }
    *code = CPA_ERR_TRANSPORT;
    if (!start_daemon(r, &la, err, errsz)) {
        cpa_rest_destroy(r);
        return NULL;
    }
    *code = CPA_OK;
    /* what the agent folded before the endpoint existed counts too */
    cpa_rest_hist_sync(r->hist, a->state, NULL, NULL);
    return r;
}

void cpa_rest_destroy(cpa_rest *r)
{
    if (!r)
        return;
    if (r->d)
        MHD_stop_daemon(r->d);
    cpa_rest_hist_free(r->hist);
    cpa_rest_ops_free(r->ops);
    free(r->order);
    OPENSSL_cleanse(r->secret, sizeof r->secret);
    free(r);
}

int cpa_rest_bound_port(const cpa_rest *r) { return r ? r->port : 0; }
const char *cpa_rest_url(const cpa_rest *r) { return r ? r->url : ""; }
int cpa_rest_fd(const cpa_rest *r) { return r ? r->epoll_fd : -1; }

int64_t cpa_rest_wait_us(cpa_rest *r, int64_t wait_us)
{
    MHD_UNSIGNED_LONG_LONG t;
    r->run_at_us = 0;
    if (MHD_get_timeout(r->d, &t) != MHD_YES)
        return wait_us;
    int64_t us = t > (MHD_UNSIGNED_LONG_LONG)(INT64_MAX / 1000) ? INT64_MAX : (int64_t)t * 1000;
    r->run_at_us = cpw_mono_us() + us;
    return us < wait_us ? us : wait_us;
}

void cpa_rest_run(cpa_rest *r, bool readable)
{
    if (readable || (r->run_at_us && cpw_mono_us() >= r->run_at_us))
        MHD_run(r->d);
}

/* ------------------------------------------------------------------ state hooks */

static void ended(void *opaque, cpa_hist_entry *e)
{
    cpa_rest *r = opaque;
    cpa_rest_render_entry(r, e);
    cpa_rest_ops_ended(r->ops, e, cpw_mono_us());
}

void cpa_rest_observe(cpa_rest *r, const cpw_event *ev)
{
    const cpw_state *s = r->a->state;
    if (ev->type == CPW_EV_CP_TRIGGERED && ev->u.triggered.kind == CPW_TRIGGER_MANUAL) {
        const cpw_cp *cp = cpw_state_find_inflight(s, ev->cp_id);
        if (cp && cp->kind == CPW_TRIGGER_MANUAL)
            cpa_rest_ops_started(r->ops, ev->cp_id);
    }
    /* finished checkpoints first: a restart closes the ones in flight */
    cpa_rest_hist_sync(r->hist, s, ended, r);
    if (ev->type == CPW_EV_RESTORED)
        cpa_rest_ops_expire(r->ops, -1, "The job restarted before the requested checkpoint "
                                        "started.", cpw_mono_us());
}

void cpa_rest_trigger_accepted(cpa_rest *r, const char *op_id)
{
    cpa_rest_ops_accepted(r->ops, op_id);
}
