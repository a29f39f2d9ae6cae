/* cpd_storage.c — checkpoint storage: the generic layer (layout, metadata,
 * verification, retention, fault injection) over a backend vtable, and the
 * file backend (see cpd_storage.h). */
#include "cpd_storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#define CPD_ST_FORMAT "cpdemo-checkpoint"
#define CPD_ST_METADATA "_metadata"
#define CPD_ST_MAX_INDEX 1000000        /* op and subtask indexes are below this */
#define CPD_ST_ERRLOCAL 512

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */

static const char *const rc_names[] = {
    "ok", "not found", "invalid", "i/o error", "corrupt", "injected failure", "out of memory",
    "unsupported",
};

const char *cpd_st_rc_name(cpd_st_rc rc)
{
    return (unsigned)rc < sizeof rc_names / sizeof rc_names[0] ? rc_names[rc] : "?";
}

cpd_st_rc cpd_st_fail(char *err, size_t errsz, cpd_st_rc rc, const char *fmt, ...)
{
    if (err && errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Public entry points accept err == NULL; backends always get a buffer. */
#define CPD_ST_ERRBUF(err, errsz)                                                      \
    char errlocal_[CPD_ST_ERRLOCAL];                                                   \
    if (!(err) || !(errsz)) {                                                          \
        (err) = errlocal_;                                                             \
        (errsz) = sizeof errlocal_;                                                    \
    }                                                                                  \
    (err)[0] = '\0'

/* Appends "; "-separated text to note (truncating at notesz). */
__attribute__((format(printf, 3, 4))) static void cpd_st_note(char *note, size_t notesz,
                                                             const char *fmt, ...)
{
    if (!note || !notesz)
        return;
    size_t used = strnlen(note, notesz - 1);
    if (used && used + 2 < notesz) {
        memcpy(note + used, "; ", 3);
        used += 2;
    }
    if (used + 1 >= notesz)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note + used, notesz - used, fmt, ap);
    va_end(ap);
}

static bool cpd_st_sha256_hex(const void *data, size_t len, char out[CPD_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return false;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return true;
}

static bool cpd_st_is_sha_hex(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == 64;
}

/* [A-Za-z0-9._-]+, not starting with '.', shorter than CPD_ST_NAME_MAX. */
static bool cpd_st_valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= CPD_ST_NAME_MAX || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void cpd_st_state_file(char out[CPD_ST_FILE_MAX], int op, int subtask)
{
    snprintf(out, CPD_ST_FILE_MAX, "op%d-sub%d.state", op, subtask);
}

static bool cpd_st_valid_index(int64_t v) { return v >= 0 && v < CPD_ST_MAX_INDEX; }

/* "chk-<N>" with N decimal, no sign, no leading zero (but "chk-0"). */
static bool cpd_st_parse_chk(const char *name, int64_t *id)
{
    if (strncmp(name, "chk-", 4) != 0)
        return false;
    const char *d = name + 4;
    size_t n = strlen(d);
    if (n == 0 || n > 18 || (n > 1 && d[0] == '0'))
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] < '0' || d[i] > '9')
            return false;
        v = v * 10 + (d[i] - '0');
    }
    *id = v;
    return true;
}

static int64_t cpd_st_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cpd_st_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------------------ */
/* metadata                                                                 */

cpd_metadata *cpd_metadata_new(void)
{
    cpd_metadata *md = calloc(1, sizeof *md);
    if (md)
        md->version = CPD_METADATA_VERSION;
    return md;
}

void cpd_metadata_free(cpd_metadata *md)
{
    if (!md)
        return;
    for (size_t i = 0; i < md->n_extra; i++) {
        free(md->extra[i].key);
        free(md->extra[i].s);
    }
    free(md->extra);
    free(md->states);
    free(md->job_id);
    free(md);
}

const cpd_state_handle *cpd_metadata_find_state(const cpd_metadata *md, int op, int subtask)
{
    if (!md)
        return NULL;
    for (size_t i = 0; i < md->n_states; i++)
        if (md->states[i].op == op && md->states[i].subtask == subtask)
            return &md->states[i];
    return NULL;
}

const cpd_md_extra *cpd_metadata_find_extra(const cpd_metadata *md, const char *key)
{
    if (!md || !key)
        return NULL;
    for (size_t i = 0; i < md->n_extra; i++)
        if (strcmp(md->extra[i].key, key) == 0)
            return &md->extra[i];
    return NULL;
}

cpd_st_rc cpd_metadata_add_state(cpd_metadata *md, const cpd_state_handle *h)
{
    if (!md || !h || cpd_metadata_find_state(md, h->op, h->subtask))
        return CPD_ST_INVALID;
    if (md->n_states == md->cap_states) {
        size_t cap = md->cap_states ? 2 * md->cap_states : 8;
        cpd_state_handle *s = realloc(md->states, cap * sizeof *s);
        if (!s)
            return CPD_ST_NOMEM;
        md->states = s;
        md->cap_states = cap;
    }
    md->states[md->n_states++] = *h;
    return CPD_ST_OK;
}

static cpd_st_rc cpd_st_add_extra(cpd_metadata *md, const char *key, cpd_md_kind kind,
                                  int64_t i, const char *s)
{
    if (!md || !key || !key[0] || cpd_metadata_find_extra(md, key) ||
        (kind == CPD_MD_STR && !s))
        return CPD_ST_INVALID;
    if (md->n_extra == md->cap_extra) {
        size_t cap = md->cap_extra ? 2 * md->cap_extra : 8;
        cpd_md_extra *e = realloc(md->extra, cap * sizeof *e);
        if (!e)
            return CPD_ST_NOMEM;
        md->extra = e;
        md->cap_extra = cap;
    }
    cpd_md_extra x = {.key = strdup(key), .kind = kind, .i = i};
    if (kind == CPD_MD_STR)
        x.s = strdup(s);
    if (!x.key || (kind == CPD_MD_STR && !x.s)) {
        free(x.key);
        free(x.s);
        return CPD_ST_NOMEM;
    }
    md->extra[md->n_extra++] = x;
    return CPD_ST_OK;
}

cpd_st_rc cpd_metadata_add_int(cpd_metadata *md, const char *key, int64_t value)
{
    return cpd_st_add_extra(md, key, CPD_MD_INT, value, NULL);
}

cpd_st_rc cpd_metadata_add_str(cpd_metadata *md, const char *key, const char *value)
{
    return cpd_st_add_extra(md, key, CPD_MD_STR, 0, value);
}

/* The canonical form the metadata checksum covers: compact, sorted keys,
 * ASCII only, without the checksum member itself. */
#define CPD_ST_CANON (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

static bool cpd_st_canon_sha(json_t *obj, char out[CPD_SHA256_HEX])
{
    char *canon = json_dumps(obj, CPD_ST_CANON);
    if (!canon)
        return false;
    bool ok = cpd_st_sha256_hex(canon, strlen(canon), out);
    free(canon);
    return ok;
}

/* _metadata text for md as checkpoint id of job; malloc'd, NULL on OOM. */
static char *cpd_st_md_dump(const cpd_metadata *md, const char *job, int64_t id, int64_t ts)
{
    json_t *o = json_object(), *states = json_array(), *extra = json_array();
    char *text = NULL;
    if (!o || !states || !extra) {
        json_decref(states);
        json_decref(extra);
        goto out;
    }
    int bad = 0;
    bad |= json_object_set_new(o, "format", json_string(CPD_ST_FORMAT));
    bad |= json_object_set_new(o, "format_version", json_integer(CPD_METADATA_VERSION));
    bad |= json_object_set_new(o, "job_id", json_string(job));
    bad |= json_object_set_new(o, "checkpoint_id", json_integer(id));
    bad |= json_object_set_new(o, "timestamp_ms", json_integer(ts));
    bad |= json_object_set_new(o, "states", states);
    bad |= json_object_set_new(o, "extra", extra);
    for (size_t i = 0; i < md->n_states && !bad; i++) {
        const cpd_state_handle *h = &md->states[i];
        bad |= json_array_append_new(
            states, json_pack("{s:i, s:i, s:s, s:I, s:s}", "op", h->op, "subtask", h->subtask,
                              "file", h->file, "size", (json_int_t)h->size, "sha256",
                              h->sha256));
    }
    for (size_t i = 0; i < md->n_extra && !bad; i++) {
        const cpd_md_extra *x = &md->extra[i];
        json_t *v = x->kind == CPD_MD_INT ? json_integer(x->i) : json_string(x->s);
        bad |= json_array_append_new(extra, json_pack("{s:s, s:o}", "key", x->key, "value", v));
    }
    char sha[CPD_SHA256_HEX];
    if (bad || !cpd_st_canon_sha(o, sha) ||
        json_object_set_new(o, "metadata_sha256", json_string(sha)) != 0)
        goto out;
    char *body = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (body) {
        size_t n = strlen(body);
        text = realloc(body, n + 2);
        if (text) {
            text[n] = '\n';
            text[n + 1] = '\0';
        } else {
            free(body);
        }
    }
out:
    json_decref(o);
    return text;
}

static bool cpd_st_get_int(json_t *o, const char *key, int64_t *v)
{
    json_t *j = json_object_get(o, key);
    if (!json_is_integer(j))
        return false;
    *v = (int64_t)json_integer_value(j);
    return true;
}

/* Parses and checks _metadata text of checkpoint `id` of `job`. On
 * CPD_ST_OK *out is the caller's; otherwise why holds the reason. */
static cpd_st_rc cpd_st_md_parse(const char *text, size_t len, const char *job, int64_t id,
                                 cpd_metadata **out, char *why, size_t whysz)
{
    *out = NULL;
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return cpd_st_fail(why, whysz, CPD_ST_CORRUPT,
                           "_metadata is not valid JSON (line %d: %s)", jerr.line, jerr.text);
    cpd_st_rc rc = CPD_ST_CORRUPT;
    cpd_metadata *md = NULL;
    int64_t v = 0;
    json_t *fmt = json_object_get(o, "format");
    if (!json_is_object(o) || !json_is_string(fmt) ||
        strcmp(json_string_value(fmt), CPD_ST_FORMAT) != 0) {
        cpd_st_fail(why, whysz, rc, "_metadata is not a %s object", CPD_ST_FORMAT);
        goto out;
    }
    if (!cpd_st_get_int(o, "format_version", &v)) {
        cpd_st_fail(why, whysz, rc, "_metadata has no format_version");
        goto out;
    }
    if (v != CPD_METADATA_VERSION) {
        cpd_st_fail(why, whysz, rc,
                    "_metadata has unsupported format version %" PRId64 " (this build reads %d)",
                    v, CPD_METADATA_VERSION);
        goto out;
    }
    json_t *sumj = json_object_get(o, "metadata_sha256");
    if (!json_is_string(sumj)) {
        cpd_st_fail(why, whysz, rc, "_metadata has no metadata_sha256");
        goto out;
    }
    char want[CPD_SHA256_HEX], got[CPD_SHA256_HEX];
    snprintf(want, sizeof want, "%s", json_string_value(sumj));
    json_object_del(o, "metadata_sha256");
    if (!cpd_st_canon_sha(o, got)) {
        rc = cpd_st_fail(why, whysz, CPD_ST_NOMEM, "_metadata: out of memory");
        goto out;
    }
    if (strcmp(want, got) != 0) {
        cpd_st_fail(why, whysz, rc, "_metadata checksum mismatch");
        goto out;
    }
    json_t *jobj = json_object_get(o, "job_id");
    if (!json_is_string(jobj) || strcmp(json_string_value(jobj), job) != 0) {
        cpd_st_fail(why, whysz, rc, "_metadata belongs to job '%s', not '%s'",
                    json_is_string(jobj) ? json_string_value(jobj) : "?", job);
        goto out;
    }
    v = -1;
    if (!cpd_st_get_int(o, "checkpoint_id", &v) || v != id) {
        cpd_st_fail(why, whysz, rc, "_metadata names checkpoint %" PRId64 ", not %" PRId64, v,
                    id);
        goto out;
    }
    md = cpd_metadata_new();
    if (!md || !(md->job_id = strdup(job))) {
        rc = cpd_st_fail(why, whysz, CPD_ST_NOMEM, "_metadata: out of memory");
        goto out;
    }
    md->checkpoint_id = id;
    if (!cpd_st_get_int(o, "timestamp_ms", &md->timestamp_ms) || md->timestamp_ms < 0) {
        cpd_st_fail(why, whysz, rc, "_metadata has no valid timestamp_ms");
        goto out;
    }
    json_t *states = json_object_get(o, "states"), *extra = json_object_get(o, "extra");
    if (!json_is_array(states) || !json_is_array(extra)) {
        cpd_st_fail(why, whysz, rc, "_metadata lacks the states or extra list");
        goto out;
    }
    size_t i;
    json_t *e;
    json_array_foreach(states, i, e)
    {
        int64_t op = -1, sub = -1, size = -1;
        json_t *file = json_object_get(e, "file"), *sha = json_object_get(e, "sha256");
        cpd_state_handle h = {0};
        if (!json_is_object(e) || !cpd_st_get_int(e, "op", &op) || !cpd_st_valid_index(op) ||
            !cpd_st_get_int(e, "subtask", &sub) || !cpd_st_valid_index(sub) ||
            !cpd_st_get_int(e, "size", &size) || size < 0 || !json_is_string(file) ||
            !json_is_string(sha) || !cpd_st_is_sha_hex(json_string_value(sha))) {
            cpd_st_fail(why, whysz, rc, "_metadata state entry %zu is malformed", i);
            goto out;
        }
        h.op = (int)op;
        h.subtask = (int)sub;
        h.size = (uint64_t)size;
        cpd_st_state_file(h.file, h.op, h.subtask);
        if (strcmp(h.file, json_string_value(file)) != 0) {
            cpd_st_fail(why, whysz, rc, "_metadata state entry %zu names file '%s', not '%s'",
                        i, json_string_value(file), h.file);
            goto out;
        }
        memcpy(h.sha256, json_string_value(sha), CPD_SHA256_HEX);
        cpd_st_rc r = cpd_metadata_add_state(md, &h);
        if (r != CPD_ST_OK) {
            rc = cpd_st_fail(why, whysz, r == CPD_ST_NOMEM ? r : rc,
                             "_metadata: state %s listed twice or out of memory", h.file);
            goto out;
        }
    }
    json_array_foreach(extra, i, e)
    {
        json_t *k = json_object_get(e, "key"), *val = json_object_get(e, "value");
        cpd_st_rc r = CPD_ST_INVALID;
        if (json_is_object(e) && json_is_string(k) && json_is_integer(val))
            r = cpd_metadata_add_int(md, json_string_value(k), json_integer_value(val));
        else if (json_is_object(e) && json_is_string(k) && json_is_string(val))
            r = cpd_metadata_add_str(md, json_string_value(k), json_string_value(val));
        if (r != CPD_ST_OK) {
            rc = cpd_st_fail(why, whysz, r == CPD_ST_NOMEM ? r : rc,
                             "_metadata extra entry %zu is malformed or repeated", i);
            goto out;
        }
    }
    rc = CPD_ST_OK;
    *out = md;
    md = NULL;
out:
    cpd_metadata_free(md);
    json_decref(o);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* the storage                                                              */

/* Checkpoints this process committed itself: retention trusts them without
 * reading their state back (on S3 that read is a download of the whole
 * retained state after every checkpoint). A small ring: retention only
 * ever looks at the newest few. */
#define CPD_ST_OWN 64

struct cpd_storage {
    const cpd_storage_ops *ops;
    void *be;
    char job_id[CPD_ST_NAME_MAX];
    char *location;
    atomic_int fail_next;
    atomic_int delay_ms;
    pthread_mutex_t own_mu;
    int64_t own[CPD_ST_OWN];            /* 0: empty slot */
    int own_next;
};

static void cpd_st_own_set(cpd_storage *st, int64_t id, bool committed)
{
    pthread_mutex_lock(&st->own_mu);
    for (int i = 0; i < CPD_ST_OWN; i++)
        if (st->own[i] == id)
            st->own[i] = 0;
    if (committed) {
        st->own[st->own_next] = id;
        st->own_next = (st->own_next + 1) % CPD_ST_OWN;
    }
    pthread_mutex_unlock(&st->own_mu);
}

static bool cpd_st_own_has(cpd_storage *st, int64_t id)
{
    bool has = false;
    pthread_mutex_lock(&st->own_mu);
    for (int i = 0; i < CPD_ST_OWN && !has; i++)
        has = st->own[i] == id;
    pthread_mutex_unlock(&st->own_mu);
    return has;
}

cpd_storage *cpd_storage_new(const cpd_storage_ops *ops, void *be, const char *job_id,
                             const char *location, char *err, size_t errsz)
{
    if (!ops || !ops->put || !ops->get || !ops->list || !ops->remove) {
        if (ops && ops->close)
            ops->close(be);
        cpd_st_fail(err, errsz, CPD_ST_INVALID, "storage backend lacks an operation");
        return NULL;
    }
    if (!cpd_st_valid_name(job_id)) {
        if (ops->close)
            ops->close(be);
        cpd_st_fail(err, errsz, CPD_ST_INVALID,
                    "job id '%s' is not valid (use letters, digits, '.', '_', '-'; not "
                    "starting with '.'; at most %d characters)",
                    job_id ? job_id : "(null)", CPD_ST_NAME_MAX - 1);
        return NULL;
    }
    cpd_storage *st = calloc(1, sizeof *st);
    char *loc = strdup(location ? location : "?");
    if (!st || !loc) {
        free(st);
        free(loc);
        if (ops->close)
            ops->close(be);
        cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory opening storage");
        return NULL;
    }
    st->ops = ops;
    pthread_mutex_init(&st->own_mu, NULL);
    st->be = be;
    snprintf(st->job_id, sizeof st->job_id, "%s", job_id);
    st->location = loc;
    atomic_init(&st->fail_next, 0);
    atomic_init(&st->delay_ms, 0);
    return st;
}

void cpd_storage_close(cpd_storage *st)
{
    if (!st)
        return;
    if (st->ops->close)
        st->ops->close(st->be);
    pthread_mutex_destroy(&st->own_mu);
    free(st->location);
    free(st);
}

const char *cpd_storage_location(const cpd_storage *st) { return st ? st->location : "?"; }

void cpd_storage_fail_next(cpd_storage *st, int k)
{
    if (st)
        atomic_store(&st->fail_next, k > 0 ? k : 0);
}

void cpd_storage_set_delay_ms(cpd_storage *st, int ms)
{
    if (st)
        atomic_store(&st->delay_ms, ms > 0 ? ms : 0);
}

int cpd_storage_failures_pending(const cpd_storage *st)
{
    return st ? atomic_load(&((cpd_storage *)st)->fail_next) : 0;
}

/* One write through the backend, with the injected delay and failures. */
static cpd_st_rc cpd_st_put(cpd_storage *st, const char *key, const void *data, size_t len,
                            char *err, size_t errsz)
{
    int delay = atomic_load(&st->delay_ms);
    if (delay > 0)
        cpd_st_sleep_ms(delay);
    int k = atomic_load(&st->fail_next);
    while (k > 0 && !atomic_compare_exchange_weak(&st->fail_next, &k, k - 1)) {
    }
    return st->ops->put(st->be, key, data, len, k > 0, err, errsz);
}

cpd_st_rc cpd_storage_write_state(cpd_storage *st, int64_t cp_id, int op, int subtask,
                                  const void *data, size_t len, cpd_state_handle *out,
                                  char *err, size_t errsz)
{
    CPD_ST_ERRBUF(err, errsz);
    if (!st || cp_id < 0 || !cpd_st_valid_index(op) || !cpd_st_valid_index(subtask) ||
        (len && !data))
        return cpd_st_fail(err, errsz, CPD_ST_INVALID,
                           "write_state: bad arguments (checkpoint %" PRId64
                           ", op %d, subtask %d)",
                           cp_id, op, subtask);
    cpd_state_handle h = {.op = op, .subtask = subtask, .size = len};
    cpd_st_state_file(h.file, op, subtask);
    if (!cpd_st_sha256_hex(data, len, h.sha256))
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "SHA-256 of %s failed (OpenSSL)", h.file);
    char key[64 + CPD_ST_FILE_MAX];
    snprintf(key, sizeof key, "chk-%" PRId64 "/%s", cp_id, h.file);
    cpd_st_rc rc = cpd_st_put(st, key, data, len, err, errsz);
    if (rc == CPD_ST_OK && out)
        *out = h;
    return rc;
}

cpd_st_rc cpd_storage_commit(cpd_storage *st, int64_t cp_id, const cpd_metadata *md,
                             char *err, size_t errsz)
{
    CPD_ST_ERRBUF(err, errsz);
    if (!st || !md || cp_id < 0)
        return cpd_st_fail(err, errsz, CPD_ST_INVALID, "commit: bad arguments");
    /* the metadata must describe exactly what restore will accept */
    for (size_t i = 0; i < md->n_states; i++) {
        const cpd_state_handle *h = &md->states[i];
        char file[CPD_ST_FILE_MAX];
        if (!cpd_st_valid_index(h->op) || !cpd_st_valid_index(h->subtask))
            return cpd_st_fail(err, errsz, CPD_ST_INVALID,
                               "commit chk-%" PRId64 ": state entry %zu has a bad index",
                               cp_id, i);
        cpd_st_state_file(file, h->op, h->subtask);
        if (strcmp(file, h->file) != 0 || !cpd_st_is_sha_hex(h->sha256) ||
            h->size > (uint64_t)INT64_MAX)
            return cpd_st_fail(err, errsz, CPD_ST_INVALID,
                               "commit chk-%" PRId64 ": state entry %zu (%s) is malformed",
                               cp_id, i, file);
        for (size_t j = 0; j < i; j++)
            if (md->states[j].op == h->op && md->states[j].subtask == h->subtask)
                return cpd_st_fail(err, errsz, CPD_ST_INVALID,
                                   "commit chk-%" PRId64 ": state %s listed twice", cp_id,
                                   file);
    }
    for (size_t i = 0; i < md->n_extra; i++) {
        const cpd_md_extra *x = &md->extra[i];
        bool ok = x->key && x->key[0] && (x->kind == CPD_MD_INT || x->s);
        for (size_t j = 0; ok && j < i; j++)
            ok = strcmp(md->extra[j].key, x->key) != 0;
        if (!ok)
            return cpd_st_fail(err, errsz, CPD_ST_INVALID,
                               "commit chk-%" PRId64 ": extra entry %zu is empty or repeated",
                               cp_id, i);
    }
    /* every listed state must be there with its size */
    char dir[32];
    snprintf(dir, sizeof dir, "chk-%" PRId64, cp_id);
    cpd_st_entry *ents = NULL;
    size_t n = 0;
    cpd_st_rc rc = st->ops->list(st->be, dir, &ents, &n, err, errsz);
    if (rc == CPD_ST_NOT_FOUND && md->n_states == 0)
        rc = CPD_ST_OK;
    else if (rc == CPD_ST_NOT_FOUND)
        return cpd_st_fail(err, errsz, CPD_ST_CORRUPT,
                           "cannot commit %s: %s/%s does not exist (discarded?)", dir,
                           st->location, dir);
    if (rc != CPD_ST_OK)
        return rc;
    for (size_t i = 0; i < md->n_states && rc == CPD_ST_OK; i++) {
        const cpd_state_handle *h = &md->states[i];
        size_t j = 0;
        while (j < n && strcmp(ents[j].name, h->file) != 0)
            j++;
        if (j == n || ents[j].is_dir)
            rc = cpd_st_fail(err, errsz, CPD_ST_CORRUPT,
                             "cannot commit %s: state %s/%s/%s is missing", dir, st->location,
                             dir, h->file);
        else if (ents[j].size != h->size)
            rc = cpd_st_fail(err, errsz, CPD_ST_CORRUPT,
                             "cannot commit %s: state %s/%s/%s has %" PRIu64
                             " bytes, expected %" PRIu64,
                             dir, st->location, dir, h->file, ents[j].size, h->size);
    }
    free(ents);
    if (rc != CPD_ST_OK)
        return rc;
    char *text = cpd_st_md_dump(md, st->job_id, cp_id,
                                md->timestamp_ms > 0 ? md->timestamp_ms : cpd_st_wall_ms());
    if (!text)
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "commit %s: out of memory", dir);
    char key[48];
    snprintf(key, sizeof key, "%s/%s", dir, CPD_ST_METADATA);
    rc = cpd_st_put(st, key, text, strlen(text), err, errsz);
    free(text);
    if (rc == CPD_ST_OK)
        cpd_st_own_set(st, cp_id, true);
    return rc;
}

/* Loads and verifies checkpoint id. CPD_ST_NOT_FOUND / CPD_ST_CORRUPT with
 * the reason in why (without the "chk-N" prefix); CPD_ST_IO and
 * CPD_ST_NOMEM with the backend's message. */
/* Checks checkpoint id without reading its state back: _metadata parses and
 * every state it lists is present with its size (one listing). Used by
 * retention for checkpoints this process committed: their contents were
 * hashed when written, and re-reading them would download the whole
 * retained state after every checkpoint on S3; a file deleted or cut short
 * since is still caught. */
static cpd_st_rc cpd_st_check_sizes(cpd_storage *st, int64_t id, char *why, size_t whysz)
{
    char key[64 + CPD_ST_FILE_MAX];
    snprintf(key, sizeof key, "chk-%" PRId64 "/%s", id, CPD_ST_METADATA);
    void *text = NULL;
    size_t len = 0;
    cpd_st_rc rc = st->ops->get(st->be, key, &text, &len, why, whysz);
    if (rc == CPD_ST_NOT_FOUND)
        return cpd_st_fail(why, whysz, rc, "no _metadata (never committed)");
    if (rc != CPD_ST_OK)
        return rc;
    cpd_metadata *md = NULL;
    rc = cpd_st_md_parse(text, len, st->job_id, id, &md, why, whysz);
    free(text);
    cpd_st_entry *ents = NULL;
    size_t n = 0;
    if (rc == CPD_ST_OK && md->n_states) {
        char dir[32];
        snprintf(dir, sizeof dir, "chk-%" PRId64, id);
        rc = st->ops->list(st->be, dir, &ents, &n, why, whysz);
        if (rc == CPD_ST_NOT_FOUND)
            rc = cpd_st_fail(why, whysz, CPD_ST_CORRUPT, "its directory is gone");
    }
    for (size_t i = 0; rc == CPD_ST_OK && i < md->n_states; i++) {
        const cpd_state_handle *h = &md->states[i];
        size_t j = 0;
        while (j < n && strcmp(ents[j].name, h->file) != 0)
            j++;
        if (j == n || ents[j].is_dir)
            rc = cpd_st_fail(why, whysz, CPD_ST_CORRUPT, "state %s is missing", h->file);
        else if (ents[j].size != h->size)
            rc = cpd_st_fail(why, whysz, CPD_ST_CORRUPT,
                             "state %s has %" PRIu64 " bytes, _metadata says %" PRIu64, h->file,
                             ents[j].size, h->size);
    }
    free(ents);
    cpd_metadata_free(md);
    return rc;
}

static cpd_st_rc cpd_st_load(cpd_storage *st, int64_t id, cpd_metadata **out, char *why,
                             size_t whysz)
{
    *out = NULL;
    char key[64 + CPD_ST_FILE_MAX];
    snprintf(key, sizeof key, "chk-%" PRId64 "/%s", id, CPD_ST_METADATA);
    void *text = NULL;
    size_t len = 0;
    cpd_st_rc rc = st->ops->get(st->be, key, &text, &len, why, whysz);
    if (rc == CPD_ST_NOT_FOUND)
        return cpd_st_fail(why, whysz, rc, "no _metadata (never committed)");
    if (rc != CPD_ST_OK)
        return rc;
    cpd_metadata *md = NULL;
    rc = cpd_st_md_parse(text, len, st->job_id, id, &md, why, whysz);
    free(text);
    for (size_t i = 0; i < (md ? md->n_states : 0) && rc == CPD_ST_OK; i++) {
        const cpd_state_handle *h = &md->states[i];
        snprintf(key, sizeof key, "chk-%" PRId64 "/%s", id, h->file);
        void *data = NULL;
        char sha[CPD_SHA256_HEX];
        rc = st->ops->get(st->be, key, &data, &len, why, whysz);
        if (rc == CPD_ST_NOT_FOUND)
            rc = cpd_st_fail(why, whysz, CPD_ST_CORRUPT, "state %s is missing", h->file);
        else if (rc == CPD_ST_OK && len != h->size)
            rc = cpd_st_fail(why, whysz, CPD_ST_CORRUPT,
                             "state %s has %zu bytes, _metadata says %" PRIu64, h->file, len,
                             h->size);
        else if (rc == CPD_ST_OK && !cpd_st_sha256_hex(data, len, sha))
            rc = cpd_st_fail(why, whysz, CPD_ST_NOMEM, "SHA-256 of %s failed", h->file);
        else if (rc == CPD_ST_OK && strcmp(sha, h->sha256) != 0)
            rc = cpd_st_fail(why, whysz, CPD_ST_CORRUPT, "state %s checksum mismatch",
                             h->file);
        free(data);
    }
    if (rc == CPD_ST_OK)
        *out = md;
    else
        cpd_metadata_free(md);
    return rc;
}

cpd_st_rc cpd_storage_load(cpd_storage *st, int64_t cp_id, cpd_metadata **out, char *err,
                           size_t errsz)
{
    CPD_ST_ERRBUF(err, errsz);
    if (out)
        *out = NULL;
    if (!st || !out || cp_id < 0)
        return cpd_st_fail(err, errsz, CPD_ST_INVALID, "load: bad arguments");
    char why[CPD_ST_ERRLOCAL];
    cpd_st_rc rc = cpd_st_load(st, cp_id, out, why, sizeof why);
    if (rc == CPD_ST_NOT_FOUND || rc == CPD_ST_CORRUPT)
        return cpd_st_fail(err, errsz, rc, "%s/chk-%" PRId64 ": %s", st->location, cp_id, why);
    if (rc != CPD_ST_OK)
        return cpd_st_fail(err, errsz, rc, "%s", why);
    return rc;
}

static int cpd_st_cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Checkpoint ids present at the top level, newest first; *ids malloc'd. */
static cpd_st_rc cpd_st_ids(cpd_storage *st, int64_t **ids, size_t *n, char *err,
                            size_t errsz)
{
    *ids = NULL;
    *n = 0;
    cpd_st_entry *ents = NULL;
    size_t ne = 0;
    cpd_st_rc rc = st->ops->list(st->be, "", &ents, &ne, err, errsz);
    if (rc == CPD_ST_NOT_FOUND)
        return CPD_ST_OK;
    if (rc != CPD_ST_OK)
        return rc;
    int64_t *v = ne ? malloc(ne * sizeof *v) : NULL;
    if (ne && !v) {
        free(ents);
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "listing %s: out of memory",
                           st->location);
    }
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (ents[i].is_dir && cpd_st_parse_chk(ents[i].name, &v[k]))
            k++;
    free(ents);
    if (k)
        qsort(v, k, sizeof *v, cpd_st_cmp_desc);
    *ids = v;
    *n = k;
    return CPD_ST_OK;
}

cpd_st_rc cpd_storage_latest(cpd_storage *st, int64_t max_id, cpd_metadata **out, char *note,
                             size_t notesz, char *err, size_t errsz)
{
    CPD_ST_ERRBUF(err, errsz);
    if (note && notesz)
        note[0] = '\0';
    if (out)
        *out = NULL;
    if (!st || !out)
        return cpd_st_fail(err, errsz, CPD_ST_INVALID, "latest: bad arguments");
    int64_t *ids = NULL;
    size_t n = 0;
    cpd_st_rc rc = cpd_st_ids(st, &ids, &n, err, errsz);
    if (rc != CPD_ST_OK)
        return rc;
    rc = CPD_ST_NOT_FOUND;
    for (size_t i = 0; i < n && rc == CPD_ST_NOT_FOUND; i++) {
        if (max_id >= 0 && ids[i] > max_id)
            continue;
        char why[CPD_ST_ERRLOCAL];
        cpd_st_rc r = cpd_st_load(st, ids[i], out, why, sizeof why);
        if (r == CPD_ST_OK) {
            cpd_st_note(note, notesz, "restored from chk-%" PRId64, ids[i]);
            rc = CPD_ST_OK;
        } else if (r == CPD_ST_NOT_FOUND || r == CPD_ST_CORRUPT) {
            cpd_st_note(note, notesz, "chk-%" PRId64 " skipped: %s", ids[i], why);
        } else {
            rc = cpd_st_fail(err, errsz, r, "%s", why);
        }
    }
    free(ids);
    if (rc == CPD_ST_NOT_FOUND) {
        cpd_st_note(note, notesz, "no valid checkpoint");
        cpd_st_fail(err, errsz, rc, "no valid checkpoint in %s", st->location);
    }
    return rc;
}

cpd_st_rc cpd_storage_read_state(cpd_storage *st, const cpd_metadata *md, int op, int subtask,
                                 void **data, size_t *len, char *err, size_t errsz)
{
    CPD_ST_ERRBUF(err, errsz);
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!st || !md || !data || !len)
        return cpd_st_fail(err, errsz, CPD_ST_INVALID, "read_state: bad arguments");
    const cpd_state_handle *h = cpd_metadata_find_state(md, op, subtask);
    if (!h)
        return cpd_st_fail(err, errsz, CPD_ST_NOT_FOUND,
                           "chk-%" PRId64 " has no state for op %d subtask %d",
                           md->checkpoint_id, op, subtask);
    char key[64 + CPD_ST_FILE_MAX];
    snprintf(key, sizeof key, "chk-%" PRId64 "/%s", md->checkpoint_id, h->file);
    void *buf = NULL;
    size_t n = 0;
    cpd_st_rc rc = st->ops->get(st->be, key, &buf, &n, err, errsz);
    if (rc == CPD_ST_NOT_FOUND)
        return cpd_st_fail(err, errsz, CPD_ST_CORRUPT, "state %s/%s is missing", st->location,
                           key);
    if (rc != CPD_ST_OK)
        return rc;
    char sha[CPD_SHA256_HEX];
    if (n != h->size)
        rc = cpd_st_fail(err, errsz, CPD_ST_CORRUPT,
                         "state %s/%s has %zu bytes, _metadata says %" PRIu64, st->location,
                         key, n, h->size);
    else if (!cpd_st_sha256_hex(buf, n, sha))
        rc = cpd_st_fail(err, errsz, CPD_ST_NOMEM, "SHA-256 of %s failed", key);
    else if (strcmp(sha, h->sha256) != 0)
        rc = cpd_st_fail(err, errsz, CPD_ST_CORRUPT, "state %s/%s checksum mismatch",
                         st->location, key);
    if (rc != CPD_ST_OK) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = n;
    return CPD_ST_OK;
}

/* Removes chk-<id>: _metadata first, so it stops existing at once. */
static cpd_st_rc cpd_st_remove_cp(cpd_storage *st, int64_t id, char *err, size_t errsz)
{
    char key[64];
    snprintf(key, sizeof key, "chk-%" PRId64 "/%s", id, CPD_ST_METADATA);
    cpd_st_rc rc = st->ops->remove(st->be, key, err, errsz);
    if (rc != CPD_ST_OK)
        return rc;
    snprintf(key, sizeof key, "chk-%" PRId64, id);
    return st->ops->remove(st->be, key, err, errsz);
}

cpd_st_rc cpd_storage_discard(cpd_storage *st, int64_t cp_id, char *err, size_t errsz)
{
    CPD_ST_ERRBUF(err, errsz);
    if (!st || cp_id < 0)
        return cpd_st_fail(err, errsz, CPD_ST_INVALID, "discard: bad arguments");
    cpd_st_own_set(st, cp_id, false);
    return cpd_st_remove_cp(st, cp_id, err, errsz);
}

cpd_st_rc cpd_storage_retain(cpd_storage *st, int num_retained, char *err, size_t errsz)
{
    CPD_ST_ERRBUF(err, errsz);
    if (!st || num_retained < 1)
        return cpd_st_fail(err, errsz, CPD_ST_INVALID,
                           "retain: num-retained must be at least 1 (got %d)", num_retained);
    int64_t *ids = NULL;
    size_t n = 0;
    cpd_st_rc rc = cpd_st_ids(st, &ids, &n, err, errsz);
    if (rc != CPD_ST_OK)
        return rc;
    int kept = 0;                       /* valid ones kept so far */
    cpd_st_rc first_rm = CPD_ST_OK;
    for (size_t i = 0; i < n && rc == CPD_ST_OK; i++) {
        bool valid = false;
        if (kept < num_retained) {
            cpd_metadata *md = NULL;
            char why[CPD_ST_ERRLOCAL];
            cpd_st_rc r = cpd_st_own_has(st, ids[i])
                              ? cpd_st_check_sizes(st, ids[i], why, sizeof why)
                              : cpd_st_load(st, ids[i], &md, why, sizeof why);
            cpd_metadata_free(md);
            if (r == CPD_ST_OK)
                valid = true;
            else if (r != CPD_ST_NOT_FOUND && r != CPD_ST_CORRUPT)
                rc = cpd_st_fail(err, errsz, r, "%s", why);  /* cannot tell: stop */
        }
        if (rc != CPD_ST_OK)
            break;
        if (valid)
            kept++;
        else if (kept > 0) {
            /* older than the newest valid one: retired or failed */
            char e2[CPD_ST_ERRLOCAL];
            cpd_st_own_set(st, ids[i], false);
            cpd_st_rc r = cpd_st_remove_cp(st, ids[i], e2, sizeof e2);
            if (r != CPD_ST_OK && first_rm == CPD_ST_OK) {
                first_rm = r;
                snprintf(err, errsz, "%s", e2);
            }
        }
        /* not valid and nothing valid yet: newer than any valid one, kept */
    }
    free(ids);
    return rc != CPD_ST_OK ? rc : first_rm;
}

/* ------------------------------------------------------------------------ */
/* file backend                                                             */

typedef struct cpd_st_file {
    char *dir;                          /* the job directory */
    atomic_uint seq;                    /* temporary names */
} cpd_st_file;

static char *cpd_st_path(const cpd_st_file *f, const char *key)
{
    char *p = NULL;
    if (asprintf(&p, "%s%s%s", f->dir, key[0] ? "/" : "", key) < 0)
        return NULL;
    return p;
}

static cpd_st_rc cpd_st_errno(char *err, size_t errsz, int e, const char *what,
                              const char *path)
{
    char buf[128];
    return cpd_st_fail(err, errsz, e == ENOMEM ? CPD_ST_NOMEM : CPD_ST_IO, "%s %s: %s", what,
                       path, strerror_r(e, buf, sizeof buf));
}

static cpd_st_rc cpd_st_fsync_dir(const char *path, char *err, size_t errsz)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cpd_st_errno(err, errsz, errno, "cannot open directory", path);
    int r = fsync(fd);
    int e = errno;
    close(fd);
    if (r != 0 && e != EINVAL && e != EROFS)    /* some file systems cannot sync dirs */
        return cpd_st_errno(err, errsz, e, "cannot fsync directory", path);
    return CPD_ST_OK;
}

static cpd_st_rc cpd_st_write_all(int fd, const void *data, size_t len, const char *path,
                                  char *err, size_t errsz)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return cpd_st_errno(err, errsz, w < 0 ? errno : EIO, "cannot write", path);
        p += w;
        len -= (size_t)w;
    }
    return CPD_ST_OK;
}

static cpd_st_rc cpd_st_file_put(void *be, const char *key, const void *data, size_t len,
                                 bool inject_failure, char *err, size_t errsz)
{
    cpd_st_file *f = be;
    char *path = cpd_st_path(f, key), *parent = path ? strdup(path) : NULL, *tmp = NULL;
    cpd_st_rc rc = CPD_ST_OK;
    int fd = -1;
    if (!path || !parent) {
        rc = cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory writing %s", key);
        goto out;
    }
    char *slash = strrchr(parent, '/');
    *slash = '\0';
    const char *base = slash + 1;
    if (strcmp(parent, f->dir) != 0) {
        /* chk-<N>/ of the key: create it; its creator makes the entry durable
         * (others seeing EEXIST finish before the commit, which follows) */
        if (mkdir(parent, 0755) == 0)
            rc = cpd_st_fsync_dir(f->dir, err, errsz);
        else if (errno != EEXIST)
            rc = cpd_st_errno(err, errsz, errno, "cannot create directory", parent);
        if (rc != CPD_ST_OK)
            goto out;
    }
    unsigned seq = atomic_fetch_add(&f->seq, 1);
    if (asprintf(&tmp, "%s/.%s.tmp-%ld-%u", parent, base, (long)getpid(), seq) < 0) {
        tmp = NULL;
        rc = cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory writing %s", path);
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = cpd_st_errno(err, errsz, errno, "cannot create", tmp);
        free(tmp);
        tmp = NULL;                     /* nothing to clean up */
        goto out;
    }
    rc = cpd_st_write_all(fd, data, len, tmp, err, errsz);
    if (rc == CPD_ST_OK && fsync(fd) != 0)
        rc = cpd_st_errno(err, errsz, errno, "cannot fsync", tmp);
    int cr = close(fd);
    fd = -1;
    if (rc == CPD_ST_OK && cr != 0)
        rc = cpd_st_errno(err, errsz, errno, "cannot close", tmp);
    if (rc == CPD_ST_OK && inject_failure)
        rc = cpd_st_fail(err, errsz, CPD_ST_INJECTED,
                         "injected failure: write of %s failed (fail-next-writes)", path);
    if (rc == CPD_ST_OK && rename(tmp, path) != 0)
        rc = cpd_st_errno(err, errsz, errno, "cannot rename into place", path);
    if (rc != CPD_ST_OK)
        goto out;
    free(tmp);
    tmp = NULL;
    rc = cpd_st_fsync_dir(parent, err, errsz);
out:
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(parent);
    free(path);
    return rc;
}

static cpd_st_rc cpd_st_file_get(void *be, const char *key, void **data, size_t *len,
                                 char *err, size_t errsz)
{
    cpd_st_file *f = be;
    *data = NULL;
    *len = 0;
    char *path = cpd_st_path(f, key);
    if (!path)
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory reading %s", key);
    cpd_st_rc rc = CPD_ST_OK;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0) {
        int e = errno;
        rc = e == ENOENT || e == ENOTDIR
                 ? cpd_st_fail(err, errsz, CPD_ST_NOT_FOUND, "%s does not exist", path)
                 : cpd_st_errno(err, errsz, e, "cannot open", path);
        goto out;
    }
    if (fstat(fd, &sb) != 0) {
        rc = cpd_st_errno(err, errsz, errno, "cannot stat", path);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = cpd_st_fail(err, errsz, CPD_ST_CORRUPT, "%s is not a regular file", path);
        goto out;
    }
    size_t cap = (size_t)sb.st_size + 1, n = 0;
    buf = malloc(cap);
    for (;;) {
        if (!buf) {
            rc = cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory reading %s", path);
            goto out;
        }
        if (n == cap) {                 /* grew while we read */
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                continue;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = cpd_st_errno(err, errsz, errno, "cannot read", path);
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *data = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

static cpd_st_rc cpd_st_file_list(void *be, const char *dir, cpd_st_entry **entries,
                                  size_t *n, char *err, size_t errsz)
{
    cpd_st_file *f = be;
    *entries = NULL;
    *n = 0;
    char *path = cpd_st_path(f, dir);
    if (!path)
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory listing %s", dir);
    cpd_st_rc rc = CPD_ST_OK;
    cpd_st_entry *v = NULL;
    size_t k = 0, cap = 0;
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        rc = e == ENOENT || e == ENOTDIR
                 ? cpd_st_fail(err, errsz, CPD_ST_NOT_FOUND, "%s does not exist", path)
                 : cpd_st_errno(err, errsz, e, "cannot list", path);
        goto out;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                rc = cpd_st_errno(err, errsz, errno, "cannot list", path);
            break;
        }
        if (de->d_name[0] == '.' || strlen(de->d_name) >= CPD_ST_NAME_MAX)
            continue;                   /* hidden, temporary, or not ours */
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue;                   /* vanished meanwhile */
        if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
            continue;
        if (k == cap) {
            cap = cap ? 2 * cap : 16;
            cpd_st_entry *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory listing %s", path);
                break;
            }
            v = nv;
        }
        cpd_st_entry *e = &v[k++];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", de->d_name);
        e->is_dir = S_ISDIR(sb.st_mode);
        e->size = e->is_dir ? 0 : (uint64_t)sb.st_size;
    }
    closedir(d);
out:
    if (rc == CPD_ST_OK) {
        *entries = v;
        *n = k;
    } else {
        free(v);
    }
    free(path);
    return rc;
}

/* rm -r path (no symlinks followed); absent is fine. */
static cpd_st_rc cpd_st_rm_tree(const char *path, char *err, size_t errsz)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? CPD_ST_OK : cpd_st_errno(err, errsz, errno, "cannot stat", path);
    if (!S_ISDIR(sb.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return cpd_st_errno(err, errsz, errno, "cannot remove", path);
        return CPD_ST_OK;
    }
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? CPD_ST_OK : cpd_st_errno(err, errsz, errno, "cannot open", path);
    cpd_st_rc rc = CPD_ST_OK;
    struct dirent *de;
    while (rc == CPD_ST_OK && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *sub = NULL;
        if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
            return closedir(d),
                   cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory removing %s", path);
        rc = cpd_st_rm_tree(sub, err, errsz);
        free(sub);
    }
    closedir(d);
    if (rc == CPD_ST_OK && rmdir(path) != 0 && errno != ENOENT)
        rc = cpd_st_errno(err, errsz, errno, "cannot remove", path);
    return rc;
}

static cpd_st_rc cpd_st_file_remove(void *be, const char *key, char *err, size_t errsz)
{
    char *path = cpd_st_path(be, key);
    if (!path)
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory removing %s", key);
    cpd_st_rc rc = cpd_st_rm_tree(path, err, errsz);
    free(path);
    return rc;
}

static void cpd_st_file_close(void *be)
{
    cpd_st_file *f = be;
    if (f)
        free(f->dir);
    free(f);
}

static const cpd_storage_ops cpd_st_file_ops = {
    "file", cpd_st_file_put, cpd_st_file_get, cpd_st_file_list, cpd_st_file_remove,
    cpd_st_file_close,
};

/* mkdir -p path, naming the component in the way when it fails. */
static cpd_st_rc cpd_st_mkdir_p(const char *path, char *err, size_t errsz)
{
    char *p = strdup(path);
    if (!p)
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory");
    cpd_st_rc rc = CPD_ST_OK;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (s[-1] != '/' && mkdir(p, 0755) != 0) {
            int e = errno;
            struct stat sb;
            if (stat(p, &sb) != 0)
                rc = cpd_st_errno(err, errsz, e, "cannot create", p);
            else if (!S_ISDIR(sb.st_mode))
                rc = cpd_st_fail(err, errsz, CPD_ST_IO, "%s is in the way: not a directory", p);
        }
        *s = c;
        if (c == '\0' || rc != CPD_ST_OK)
            break;
    }
    free(p);
    return rc;
}

static int cpd_st_hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The directory a URI names (malloc'd), or NULL with err. */
static char *cpd_st_uri_path(const char *uri, char *err, size_t errsz)
{
    if (!uri || !uri[0]) {
        cpd_st_fail(err, errsz, CPD_ST_INVALID, "empty storage URI");
        return NULL;
    }
    const char *p = uri;
    bool encoded = false;
    if (strncasecmp(uri, "file:", 5) == 0) {
        p = uri + 5;
        if (strncmp(p, "//", 2) == 0) {
            p += 2;
            if (strncasecmp(p, "localhost/", 10) == 0)
                p += 9;
        }
        if (p[0] != '/') {
            cpd_st_fail(err, errsz, CPD_ST_INVALID,
                        "storage URI '%s' must be file:///absolute/path", uri);
            return NULL;
        }
        encoded = true;
    } else {
        const char *colon = strstr(uri, "://");
        if (colon) {
            cpd_st_fail(err, errsz, CPD_ST_UNSUPPORTED,
                        "unsupported storage scheme '%.*s' in '%s' (use file:///path, a "
                        "directory, or s3://bucket/prefix)",
                        (int)(colon - uri), uri, uri);
            return NULL;
        }
    }
    char *out = malloc(strlen(p) + 1);
    if (!out) {
        cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory");
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; p[i]; i++) {
        int hi, lo;
        if (encoded && p[i] == '%' && (hi = cpd_st_hexval(p[i + 1])) >= 0 &&
            (lo = cpd_st_hexval(p[i + 2])) >= 0 && (hi || lo)) {
            out[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[k++] = p[i];
        }
    }
    while (k > 1 && out[k - 1] == '/')
        k--;
    out[k] = '\0';
    return out;
}

cpd_storage *cpd_storage_open(const char *uri, const char *job_id, char *err, size_t errsz)
{
    return cpd_storage_open_ex(uri, job_id, NULL, err, errsz);
}

cpd_storage *cpd_storage_open_ex(const char *uri, const char *job_id,
                                 const cpd_storage_s3_opts *s3, char *err, size_t errsz)
{
    char errlocal[CPD_ST_ERRLOCAL];
    if (!err || !errsz) {
        err = errlocal;
        errsz = sizeof errlocal;
    }
    err[0] = '\0';
    if (!cpd_st_valid_name(job_id)) {
        cpd_st_fail(err, errsz, CPD_ST_INVALID,
                    "job id '%s' is not valid (use letters, digits, '.', '_', '-'; not "
                    "starting with '.'; at most %d characters)",
                    job_id ? job_id : "(null)", CPD_ST_NAME_MAX - 1);
        return NULL;
    }
    if (uri && strncasecmp(uri, "s3://", 5) == 0)
        return cpd_storage_s3_open(uri, job_id, s3, err, errsz);
    char *root = cpd_st_uri_path(uri, err, errsz);
    if (!root)
        return NULL;
    cpd_st_file *f = calloc(1, sizeof *f);
    if (!f || asprintf(&f->dir, "%s%s%s", root, strcmp(root, "/") ? "/" : "", job_id) < 0) {
        if (f)
            f->dir = NULL;
        cpd_st_file_close(f);
        free(root);
        cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory opening storage");
        return NULL;
    }
    free(root);
    atomic_init(&f->seq, 0);
    char why[CPD_ST_ERRLOCAL];
    if (cpd_st_mkdir_p(f->dir, why, sizeof why) != CPD_ST_OK) {
        cpd_st_fail(err, errsz, CPD_ST_IO, "storage directory %s cannot be created: %s",
                    f->dir, why);
        cpd_st_file_close(f);
        return NULL;
    }
    /* a probe: create, write, remove */
    char *probe = NULL;
    if (asprintf(&probe, "%s/.probe-%ld", f->dir, (long)getpid()) < 0) {
        cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory opening storage");
        cpd_st_file_close(f);
        return NULL;
    }
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0) {
        if (write(fd, "x", 1) != 1)
            e = errno ? errno : EIO;
        if (close(fd) != 0 && !e)
            e = errno;
        unlink(probe);
    }
    free(probe);
    if (e) {
        char buf[128];
        cpd_st_fail(err, errsz, CPD_ST_IO, "storage directory %s is not writable: %s", f->dir,
                    strerror_r(e, buf, sizeof buf));
        cpd_st_file_close(f);
        return NULL;
    }
    char *loc = strdup(f->dir);
    if (!loc) {
        cpd_st_file_close(f);
        cpd_st_fail(err, errsz, CPD_ST_NOMEM, "out of memory opening storage");
        return NULL;
    }
    cpd_storage *st = cpd_storage_new(&cpd_st_file_ops, f, job_id, loc, err, errsz);
    free(loc);
    return st;
}
