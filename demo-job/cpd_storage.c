/* cpd_storage.c — checkpoint storage, the generic layer: layout,
 * verification, restore, retention and injected failures over a backend
 * found by URI in the registry (see cpd_storage.h, cpd_storage_backend.h).
 * It names no backend: the file and S3 backends are cpd_storage_file.c and
 * cpd_storage_s3.c, the _metadata format cpd_metadata.c. */
#include "cpd_storage.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpd_clock.h"
#include "cpd_metadata.h"
#include "cpd_storage_backend.h"

#define CPD_ST_ERRLOCAL 512

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */

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

static void cpd_st_bad_job_id(const char *job_id, char *err, size_t errsz)
{
    char shown[CPD_ST_NAME_MAX + 4];
    snprintf(shown, sizeof shown, "%s", job_id ? job_id : "(null)");
    for (char *c = shown; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            *c = '?';
    cpd_st_fail(err, errsz, CPD_ST_INVALID,
                "job id '%s' is not valid (use letters, digits, '.', '_', '-'; not "
                "starting with '.'; at most %d characters)",
                shown, CPD_ST_NAME_MAX - 1);
}

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
        cpd_st_bad_job_id(job_id, err, errsz);
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
        cpd_sleep_ms(delay);
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
    if (!st || cp_id < 0 || !cpd_metadata_valid_index(op) || !cpd_metadata_valid_index(subtask) ||
        (len && !data))
        return cpd_st_fail(err, errsz, CPD_ST_INVALID,
                           "write_state: bad arguments (checkpoint %" PRId64
                           ", op %d, subtask %d)",
                           cp_id, op, subtask);
    cpd_state_handle h = {.op = op, .subtask = subtask, .size = len};
    cpd_metadata_state_file(h.file, op, subtask);
    if (!cpd_metadata_sha256(data, len, h.sha256))
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "SHA-256 of %s failed (OpenSSL)", h.file);
    char key[64 + CPD_ST_FILE_MAX];
    snprintf(key, sizeof key, "chk-%" PRId64 "/%s", cp_id, h.file);
    cpd_st_rc rc = cpd_st_put(st, key, data, len, err, errsz);
    if (rc == CPD_ST_OK && out)
        *out = h;
    return rc;
}

/* The first state md lists that the listing ents lacks or has with another
 * size; NULL when all are there. *found: its entry, or NULL when missing. */
static const cpd_state_handle *cpd_st_mismatch(const cpd_metadata *md, const cpd_st_entry *ents,
                                               size_t n, const cpd_st_entry **found)
{
    for (size_t i = 0; i < md->n_states; i++) {
        const cpd_state_handle *h = &md->states[i];
        size_t j = 0;
        while (j < n && strcmp(ents[j].name, h->file) != 0)
            j++;
        *found = j < n && !ents[j].is_dir ? &ents[j] : NULL;
        if (!*found || (*found)->size != h->size)
            return h;
    }
    *found = NULL;
    return NULL;
}

cpd_st_rc cpd_storage_commit(cpd_storage *st, int64_t cp_id, const cpd_metadata *md,
                             char *err, size_t errsz)
{
    CPD_ST_ERRBUF(err, errsz);
    if (!st || !md || cp_id < 0)
        return cpd_st_fail(err, errsz, CPD_ST_INVALID, "commit: bad arguments");
    /* the metadata must describe exactly what restore will accept */
    cpd_st_rc rc = cpd_metadata_check(md, cp_id, err, errsz);
    if (rc != CPD_ST_OK)
        return rc;
    /* every listed state must be there with its size */
    char dir[32];
    snprintf(dir, sizeof dir, "chk-%" PRId64, cp_id);
    cpd_st_entry *ents = NULL;
    size_t n = 0;
    rc = st->ops->list(st->be, dir, &ents, &n, err, errsz);
    if (rc == CPD_ST_NOT_FOUND && md->n_states == 0)
        rc = CPD_ST_OK;
    else if (rc == CPD_ST_NOT_FOUND)
        return cpd_st_fail(err, errsz, CPD_ST_CORRUPT,
                           "cannot commit %s: %s/%s does not exist (discarded?)", dir,
                           st->location, dir);
    if (rc != CPD_ST_OK)
        return rc;
    const cpd_st_entry *e;
    const cpd_state_handle *h = cpd_st_mismatch(md, ents, n, &e);
    if (h && !e)
        rc = cpd_st_fail(err, errsz, CPD_ST_CORRUPT, "cannot commit %s: state %s/%s/%s is missing",
                         dir, st->location, dir, h->file);
    else if (h)
        rc = cpd_st_fail(err, errsz, CPD_ST_CORRUPT,
                         "cannot commit %s: state %s/%s/%s has %" PRIu64
                         " bytes, expected %" PRIu64,
                         dir, st->location, dir, h->file, e->size, h->size);
    free(ents);
    if (rc != CPD_ST_OK)
        return rc;
    char *text = cpd_metadata_dump(md, st->job_id, cp_id,
                                   md->timestamp_ms > 0 ? md->timestamp_ms : cpd_wall_ms());
    if (!text)
        return cpd_st_fail(err, errsz, CPD_ST_NOMEM, "commit %s: out of memory", dir);
    char key[48];
    snprintf(key, sizeof key, "%s/%s", dir, CPD_METADATA_FILE);
    rc = cpd_st_put(st, key, text, strlen(text), err, errsz);
    free(text);
    if (rc == CPD_ST_OK)
        cpd_st_own_set(st, cp_id, true);
    return rc;
}

/* Reads chk-<id>/_metadata and parses it. CPD_ST_NOT_FOUND / CPD_ST_CORRUPT
 * with the reason in why (without the "chk-N" prefix); CPD_ST_IO and
 * CPD_ST_NOMEM with the backend's message. */
static cpd_st_rc cpd_st_read_md(cpd_storage *st, int64_t id, cpd_metadata **md, char *why,
                                size_t whysz)
{
    char key[64];
    snprintf(key, sizeof key, "chk-%" PRId64 "/%s", id, CPD_METADATA_FILE);
    void *text = NULL;
    size_t len = 0;
    cpd_st_rc rc = st->ops->get(st->be, key, &text, &len, why, whysz);
    if (rc == CPD_ST_NOT_FOUND)
        return cpd_st_fail(why, whysz, rc, "no _metadata (never committed)");
    if (rc != CPD_ST_OK)
        return rc;
    rc = cpd_metadata_parse(text, len, st->job_id, id, md, why, whysz);
    free(text);
    return rc;
}

/* Checks checkpoint id without reading its state back: _metadata parses and
 * every state it lists is present with its size (one listing). Used by
 * retention for checkpoints this process committed: their contents were
 * hashed when written, and re-reading them would download the whole
 * retained state after every checkpoint on S3; a file deleted or cut short
 * since is still caught. */
static cpd_st_rc cpd_st_check_sizes(cpd_storage *st, int64_t id, char *why, size_t whysz)
{
    cpd_metadata *md = NULL;
    cpd_st_rc rc = cpd_st_read_md(st, id, &md, why, whysz);
    cpd_st_entry *ents = NULL;
    size_t n = 0;
    if (rc == CPD_ST_OK && md->n_states) {
        char dir[32];
        snprintf(dir, sizeof dir, "chk-%" PRId64, id);
        rc = st->ops->list(st->be, dir, &ents, &n, why, whysz);
        if (rc == CPD_ST_NOT_FOUND)
            rc = cpd_st_fail(why, whysz, CPD_ST_CORRUPT, "its directory is gone");
    }
    const cpd_st_entry *e;
    const cpd_state_handle *h = rc == CPD_ST_OK ? cpd_st_mismatch(md, ents, n, &e) : NULL;
    if (h && !e)
        rc = cpd_st_fail(why, whysz, CPD_ST_CORRUPT, "state %s is missing", h->file);
    else if (h)
        rc = cpd_st_fail(why, whysz, CPD_ST_CORRUPT,
                         "state %s has %" PRIu64 " bytes, _metadata says %" PRIu64, h->file,
                         e->size, h->size);
    free(ents);
    cpd_metadata_free(md);
    return rc;
}

/* Loads and verifies checkpoint id: its _metadata and every state's size
 * and SHA-256. Errors as cpd_st_read_md. */
static cpd_st_rc cpd_st_load(cpd_storage *st, int64_t id, cpd_metadata **out, char *why,
                             size_t whysz)
{
    *out = NULL;
    cpd_metadata *md = NULL;
    cpd_st_rc rc = cpd_st_read_md(st, id, &md, why, whysz);
    for (size_t i = 0; i < (md ? md->n_states : 0) && rc == CPD_ST_OK; i++) {
        const cpd_state_handle *h = &md->states[i];
        char key[64 + CPD_ST_FILE_MAX];
        snprintf(key, sizeof key, "chk-%" PRId64 "/%s", id, h->file);
        void *data = NULL;
        size_t len = 0;
        char sha[CPD_SHA256_HEX];
        rc = st->ops->get(st->be, key, &data, &len, why, whysz);
        if (rc == CPD_ST_NOT_FOUND)
            rc = cpd_st_fail(why, whysz, CPD_ST_CORRUPT, "state %s is missing", h->file);
        else if (rc == CPD_ST_OK && len != h->size)
            rc = cpd_st_fail(why, whysz, CPD_ST_CORRUPT,
                             "state %s has %zu bytes, _metadata says %" PRIu64, h->file, len,
                             h->size);
        else if (rc == CPD_ST_OK && !cpd_metadata_sha256(data, len, sha))
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
    else if (!cpd_metadata_sha256(buf, n, sha))
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
    snprintf(key, sizeof key, "chk-%" PRId64 "/%s", id, CPD_METADATA_FILE);
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
/* opening: the backend a URI names                                         */

/* The backend for uri: the one whose prefix it starts with, else for a URI
 * without "scheme://" the one taking plain paths. NULL: unsupported. */
static const cpd_storage_backend *cpd_st_backend(const char *uri)
{
    for (size_t i = 0; cpd_storage_backends[i]; i++) {
        const char *p = cpd_storage_backends[i]->prefix;
        if (!strncasecmp(uri, p, strlen(p)))
            return cpd_storage_backends[i];
    }
    for (size_t i = 0; !strstr(uri, "://") && cpd_storage_backends[i]; i++)
        if (cpd_storage_backends[i]->plain_paths)
            return cpd_storage_backends[i];
    return NULL;
}

static cpd_st_rc cpd_st_unsupported(const char *uri, char *err, size_t errsz)
{
    const char *colon = strstr(uri, "://");
    char scheme[24], shown[256];
    cpd_st_show(uri, colon && colon - uri < 16 ? (size_t)(colon - uri) : 16, scheme,
                sizeof scheme);
    return cpd_st_fail(err, errsz, CPD_ST_UNSUPPORTED,
                       "unsupported storage scheme '%s' in '%s' (use file:///path, a "
                       "directory, or s3://bucket/prefix)",
                       scheme, cpd_st_show(uri, strlen(uri), shown, sizeof shown));
}

cpd_st_rc cpd_storage_check(const char *uri, const cpd_storage_s3_opts *s3, char *err,
                            size_t errsz)
{
    CPD_ST_ERRBUF(err, errsz);
    if (!uri || !uri[0])
        return cpd_st_fail(err, errsz, CPD_ST_INVALID, "empty storage URI");
    const cpd_storage_backend *b = cpd_st_backend(uri);
    return b ? b->check(uri, s3, err, errsz) : cpd_st_unsupported(uri, err, errsz);
}

cpd_storage *cpd_storage_open(const char *uri, const char *job_id, char *err, size_t errsz)
{
    return cpd_storage_open_ex(uri, job_id, NULL, err, errsz);
}

cpd_storage *cpd_storage_open_ex(const char *uri, const char *job_id,
                                 const cpd_storage_s3_opts *s3, char *err, size_t errsz)
{
    CPD_ST_ERRBUF(err, errsz);
    if (!cpd_st_valid_name(job_id)) {
        cpd_st_bad_job_id(job_id, err, errsz);
        return NULL;
    }
    if (cpd_storage_check(uri, s3, err, errsz) != CPD_ST_OK)
        return NULL;
    const cpd_storage_backend *b = cpd_st_backend(uri);
    char loc[1024];
    void *be = b->open(uri, job_id, s3, loc, sizeof loc, err, errsz);
    return be ? cpd_storage_new(b->ops, be, job_id, loc, err, errsz) : NULL;
}
