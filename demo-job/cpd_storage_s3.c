/* cpd_storage_s3.c — the checkpoint storage's S3 backend (libs3 2.x, see
 * cpd_storage.h, "S3"). Keys of the generic layer ("chk-7/_metadata") live
 * under s3://bucket/<prefix>/<job_id>/. A "directory" is a key prefix: it
 * exists while some key starts with it, is listed with the '/' delimiter
 * and removed by deleting every key under it (paginated). The requests
 * themselves, with their deadlines and retries: cpd_storage_s3_client.c. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cpd_storage_s3_client.h"

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
    rc = cpd_st_s3_get_key(s, k, data, len, err, errsz);
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
    char shown[256];
    cpd_st_show(uri, strlen(uri), shown, sizeof shown);
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
                    "storage URI '%s': no bucket name (use s3://bucket/prefix)", shown);
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
            char comp[80];
            cpd_st_fail(err, errsz, CPD_ST_INVALID,
                        "storage URI '%s': prefix component '%s' is not valid (use letters, "
                        "digits, '.', '_', '-')",
                        shown, cpd_st_show(p, cl, comp, sizeof comp));
            return false;
        }
        if (k + cl + 2 + strlen(job_id) > S3_MAX_KEY_SIZE - 64) {
            cpd_st_fail(err, errsz, CPD_ST_INVALID, "storage URI '%s': prefix too long",
                        shown);
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

/* Credentials given by the configuration: both halves or neither. */
static bool cpd_st_s3_config_pair(const cpd_storage_s3_opts *o, char *err, size_t errsz)
{
    bool id = o && o->access_key && o->access_key[0];
    bool sec = o && o->secret_key && o->secret_key[0];
    if (id == sec)
        return true;
    cpd_st_fail(err, errsz, CPD_ST_INVALID, "S3 credentials: %s is set without %s",
                id ? "s3.access-key" : "s3.secret-key", id ? "s3.secret-key" : "s3.access-key");
    return false;
}

/* The addressing style: the configuration's, else S3_URI_STYLE, else path
 * style for a chosen endpoint (MinIO, Ceph, s3rver) and the virtual host
 * for AWS itself. */
static bool cpd_st_s3_style(cpd_st_s3 *s, const cpd_storage_s3_opts *o, bool named_endpoint,
                            char *err, size_t errsz)
{
    s->bc.uriStyle = named_endpoint ? S3UriStylePath : S3UriStyleVirtualHost;
    const char *style = cpd_st_s3_env("S3_URI_STYLE");
    if (o && o->path_style)
        s->bc.uriStyle = o->path_style > 0 ? S3UriStylePath : S3UriStyleVirtualHost;
    else if (style && !strcasecmp(style, "path"))
        s->bc.uriStyle = S3UriStylePath;
    else if (style && (!strcasecmp(style, "virtual") || !strcasecmp(style, "virtual-host") ||
                       !strcasecmp(style, "vhost")))
        s->bc.uriStyle = S3UriStyleVirtualHost;
    else if (style) {
        char shown[40];
        snprintf(shown, sizeof shown, "%.32s", style);
        for (char *c = shown; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                *c = '?';
        cpd_st_fail(err, errsz, CPD_ST_INVALID, "S3_URI_STYLE='%s' must be path or virtual",
                    shown);
        return false;
    }
    return true;
}

static bool cpd_st_s3_bucket_ok(const cpd_st_s3 *s, const char *uri, char *err, size_t errsz)
{
    char shown[256];
    S3Status bs = S3_validate_bucket_name(s->bucket, s->bc.uriStyle);
    if (bs == S3StatusOK)
        return true;
    cpd_st_fail(err, errsz, CPD_ST_INVALID,
                "storage URI '%s': bucket name '%s' is not valid for %s-style addressing (%s)",
                cpd_st_show(uri, strlen(uri), shown, sizeof shown), s->bucket,
                s->bc.uriStyle == S3UriStylePath ? "path" : "virtual-host",
                S3_get_status_name(bs));
    return false;
}

/* What can be told from the URI and the configuration alone (no
 * environment, no network): the registry's check. */
static cpd_st_rc cpd_st_s3_check(const char *uri, const cpd_storage_s3_opts *o, char *err,
                                 size_t errsz)
{
    cpd_st_s3 s;
    memset(&s, 0, sizeof s);
    if (!cpd_st_s3_parse_uri(&s, uri, "", err, errsz))
        return CPD_ST_INVALID;
    bool ep = o && o->endpoint && o->endpoint[0];
    if (ep && !cpd_st_s3_endpoint(&s, o->endpoint, "s3.endpoint", err, errsz))
        return CPD_ST_INVALID;
    if (!cpd_st_s3_config_pair(o, err, errsz))
        return CPD_ST_INVALID;
    /* the style, and so the bucket's rules, when the configuration decides it */
    if (o && (o->path_style || ep)) {
        s.bc.uriStyle = o->path_style < 0 ? S3UriStyleVirtualHost : S3UriStylePath;
        if (!cpd_st_s3_bucket_ok(&s, uri, err, errsz))
            return CPD_ST_INVALID;
    }
    return CPD_ST_OK;
}

/* Every setting of s: the URI's bucket and prefix, the endpoint and
 * credentials from the configuration or the environment, the style. */
static bool cpd_st_s3_settings(cpd_st_s3 *s, const char *uri, const char *job_id,
                               const cpd_storage_s3_opts *o, char *err, size_t errsz)
{
    if (!cpd_st_s3_parse_uri(s, uri, job_id, err, errsz))
        return false;
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
        return false;
    return cpd_st_s3_style(s, o, ep != NULL, err, errsz) &&
           cpd_st_s3_bucket_ok(s, uri, err, errsz) && cpd_st_s3_credentials(s, o, err, errsz);
}

/* A probe, as the file backend does: write and remove a hidden key, so a
 * wrong endpoint, bucket or key shows now and not at the first checkpoint. */
static bool cpd_st_s3_probe(cpd_st_s3 *s, char *err, size_t errsz)
{
    char probe[64];
    snprintf(probe, sizeof probe, ".probe-%ld", (long)getpid());
    char *pk;
    if (cpd_st_s3_key(s, probe, "", &pk, err, errsz) != CPD_ST_OK)
        return false;
    char why[1024];
    cpd_st_rc rc = cpd_st_s3_put_key(s, pk, "x", 1, why, sizeof why);
    if (rc == CPD_ST_OK)
        rc = cpd_st_s3_delete_key(s, pk, why, sizeof why);
    free(pk);
    if (rc == CPD_ST_OK)
        return true;
    cpd_st_fail(err, errsz, rc, "s3://%s/%s is not writable: %s", s->bucket, s->base, why);
    cpd_st_s3_scrub(s, err, errsz);
    return false;
}

static void *cpd_st_s3_open(const char *uri, const char *job_id, const cpd_storage_s3_opts *o,
                            char *location, size_t locsz, char *err, size_t errsz)
{
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
    if (!cpd_st_s3_settings(s, uri, job_id, o, err, errsz))
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
    if (!cpd_st_s3_probe(s, err, errsz))
        goto fail;
    snprintf(location, locsz, "s3://%s/%s", s->bucket, s->base);
    return s;
fail:
    cpd_st_s3_close(s);
    return NULL;
}

const cpd_storage_backend cpd_storage_s3_backend = {
    .prefix = "s3://",
    .plain_paths = false,
    .check = cpd_st_s3_check,
    .open = cpd_st_s3_open,
    .ops = &cpd_st_s3_ops,
};
