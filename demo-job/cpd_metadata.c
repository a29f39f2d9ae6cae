/* cpd_metadata.c — a checkpoint's _metadata: building it, its text format
 * and reading it back as hostile input (see cpd_metadata.h). */
#include "cpd_metadata.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cpd_storage_backend.h"

#define FORMAT "cpdemo-checkpoint"

bool cpd_metadata_sha256(const void *data, size_t len, char out[CPD_SHA256_HEX])
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

bool cpd_metadata_is_sha256(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == 64;
}

void cpd_metadata_state_file(char out[CPD_ST_FILE_MAX], int op, int subtask)
{
    snprintf(out, CPD_ST_FILE_MAX, "op%d-sub%d.state", op, subtask);
}

bool cpd_metadata_valid_index(int64_t v) { return v >= 0 && v < CPD_METADATA_MAX_INDEX; }

/* ------------------------------------------------------------------------ */
/* building                                                                 */

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

static cpd_st_rc add_extra(cpd_metadata *md, const char *key, cpd_md_kind kind,
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
    return add_extra(md, key, CPD_MD_INT, value, NULL);
}

cpd_st_rc cpd_metadata_add_str(cpd_metadata *md, const char *key, const char *value)
{
    return add_extra(md, key, CPD_MD_STR, 0, value);
}

/* The canonical form the metadata checksum covers: compact, sorted keys,
 * ASCII only, without the checksum member itself. */
#define CANON (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

static bool canon_sha(json_t *obj, char out[CPD_SHA256_HEX])
{
    char *canon = json_dumps(obj, CANON);
    if (!canon)
        return false;
    bool ok = cpd_metadata_sha256(canon, strlen(canon), out);
    free(canon);
    return ok;
}

cpd_st_rc cpd_metadata_check(const cpd_metadata *md, int64_t cp_id, char *err, size_t errsz)
{
    for (size_t i = 0; i < md->n_states; i++) {
        const cpd_state_handle *h = &md->states[i];
        char file[CPD_ST_FILE_MAX];
        if (!cpd_metadata_valid_index(h->op) || !cpd_metadata_valid_index(h->subtask))
            return cpd_st_fail(err, errsz, CPD_ST_INVALID,
                               "commit chk-%" PRId64 ": state entry %zu has a bad index",
                               cp_id, i);
        cpd_metadata_state_file(file, h->op, h->subtask);
        if (strcmp(file, h->file) != 0 || !cpd_metadata_is_sha256(h->sha256) ||
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
    return CPD_ST_OK;
}

/* ------------------------------------------------------------------------ */
/* the text                                                                 */

/* _metadata text for md as checkpoint id of job; malloc'd, NULL on OOM. */
char *cpd_metadata_dump(const cpd_metadata *md, const char *job, int64_t id, int64_t ts)
{
    json_t *o = json_object(), *states = json_array(), *extra = json_array();
    char *text = NULL;
    if (!o || !states || !extra) {
        json_decref(states);
        json_decref(extra);
        goto out;
    }
    int bad = 0;
    bad |= json_object_set_new(o, "format", json_string(FORMAT));
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
    if (bad || !canon_sha(o, sha) ||
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

static bool get_int(json_t *o, const char *key, int64_t *v)
{
    json_t *j = json_object_get(o, key);
    if (!json_is_integer(j))
        return false;
    *v = (int64_t)json_integer_value(j);
    return true;
}

/* The envelope: format, version, the checksum over the rest, whose
 * checkpoint of which job. Removes metadata_sha256 from o. */
static cpd_st_rc parse_header(json_t *o, const char *job, int64_t id, char *why, size_t whysz)
{
    cpd_st_rc rc = CPD_ST_CORRUPT;
    int64_t v = 0;
    json_t *fmt = json_object_get(o, "format");
    if (!json_is_object(o) || !json_is_string(fmt) || strcmp(json_string_value(fmt), FORMAT) != 0)
        return cpd_st_fail(why, whysz, rc, "_metadata is not a %s object", FORMAT);
    if (!get_int(o, "format_version", &v))
        return cpd_st_fail(why, whysz, rc, "_metadata has no format_version");
    if (v != CPD_METADATA_VERSION)
        return cpd_st_fail(why, whysz, rc,
                           "_metadata has unsupported format version %" PRId64
                           " (this build reads %d)",
                           v, CPD_METADATA_VERSION);
    json_t *sumj = json_object_get(o, "metadata_sha256");
    if (!json_is_string(sumj))
        return cpd_st_fail(why, whysz, rc, "_metadata has no metadata_sha256");
    char want[CPD_SHA256_HEX], got[CPD_SHA256_HEX];
    snprintf(want, sizeof want, "%s", json_string_value(sumj));
    json_object_del(o, "metadata_sha256");
    if (!canon_sha(o, got))
        return cpd_st_fail(why, whysz, CPD_ST_NOMEM, "_metadata: out of memory");
    if (strcmp(want, got) != 0)
        return cpd_st_fail(why, whysz, rc, "_metadata checksum mismatch");
    json_t *jobj = json_object_get(o, "job_id");
    if (!json_is_string(jobj) || strcmp(json_string_value(jobj), job) != 0) {
        char shown[CPD_ST_NAME_MAX];
        snprintf(shown, sizeof shown, "%s", json_is_string(jobj) ? json_string_value(jobj) : "?");
        for (char *c = shown; *c; c++) /* from the storage: may be anything */
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                *c = '?';
        return cpd_st_fail(why, whysz, rc, "_metadata belongs to job '%s', not '%s'", shown, job);
    }
    v = -1;
    if (!get_int(o, "checkpoint_id", &v) || v != id)
        return cpd_st_fail(why, whysz, rc, "_metadata names checkpoint %" PRId64 ", not %" PRId64,
                           v, id);
    return CPD_ST_OK;
}

static cpd_st_rc parse_states(json_t *states, cpd_metadata *md, char *why, size_t whysz)
{
    size_t i;
    json_t *e;
    json_array_foreach(states, i, e)
    {
        int64_t op = -1, sub = -1, size = -1;
        json_t *file = json_object_get(e, "file"), *sha = json_object_get(e, "sha256");
        cpd_state_handle h = {0};
        if (!json_is_object(e) || !get_int(e, "op", &op) || !cpd_metadata_valid_index(op) ||
            !get_int(e, "subtask", &sub) || !cpd_metadata_valid_index(sub) ||
            !get_int(e, "size", &size) || size < 0 || !json_is_string(file) ||
            !json_is_string(sha) || !cpd_metadata_is_sha256(json_string_value(sha)))
            return cpd_st_fail(why, whysz, CPD_ST_CORRUPT,
                               "_metadata state entry %zu is malformed", i);
        h.op = (int)op;
        h.subtask = (int)sub;
        h.size = (uint64_t)size;
        cpd_metadata_state_file(h.file, h.op, h.subtask);
        if (strcmp(h.file, json_string_value(file)) != 0)
            return cpd_st_fail(why, whysz, CPD_ST_CORRUPT,
                               "_metadata state entry %zu names another file than %s", i,
                               h.file);
        memcpy(h.sha256, json_string_value(sha), CPD_SHA256_HEX);
        cpd_st_rc r = cpd_metadata_add_state(md, &h);
        if (r != CPD_ST_OK)
            return cpd_st_fail(why, whysz, r == CPD_ST_NOMEM ? r : CPD_ST_CORRUPT,
                               "_metadata: state %s listed twice or out of memory", h.file);
    }
    return CPD_ST_OK;
}

static cpd_st_rc parse_extra(json_t *extra, cpd_metadata *md, char *why, size_t whysz)
{
    size_t i;
    json_t *e;
    json_array_foreach(extra, i, e)
    {
        json_t *k = json_object_get(e, "key"), *val = json_object_get(e, "value");
        cpd_st_rc r = CPD_ST_INVALID;
        /* a key with a NUL in it would not come back the same */
        bool key_ok = json_is_string(k) && strlen(json_string_value(k)) == json_string_length(k);
        if (json_is_object(e) && key_ok && json_is_integer(val))
            r = cpd_metadata_add_int(md, json_string_value(k), json_integer_value(val));
        else if (json_is_object(e) && key_ok && json_is_string(val) &&
                 strlen(json_string_value(val)) == json_string_length(val))
            r = cpd_metadata_add_str(md, json_string_value(k), json_string_value(val));
        if (r != CPD_ST_OK)
            return cpd_st_fail(why, whysz, r == CPD_ST_NOMEM ? r : CPD_ST_CORRUPT,
                               "_metadata extra entry %zu is malformed or repeated", i);
    }
    return CPD_ST_OK;
}

cpd_st_rc cpd_metadata_parse(const char *text, size_t len, const char *job, int64_t id,
                             cpd_metadata **out, char *why, size_t whysz)
{
    *out = NULL;
    if (len > CPD_METADATA_MAX_BYTES)
        return cpd_st_fail(why, whysz, CPD_ST_CORRUPT,
                           "_metadata is %zu bytes, more than any checkpoint's (%d)", len,
                           CPD_METADATA_MAX_BYTES);
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        /* jansson may quote the bytes it choked on */
        for (char *c = jerr.text; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                *c = '?';
        return cpd_st_fail(why, whysz, CPD_ST_CORRUPT,
                           "_metadata is not valid JSON (line %d: %s)", jerr.line, jerr.text);
    }
    cpd_metadata *md = NULL;
    cpd_st_rc rc = parse_header(o, job, id, why, whysz);
    if (rc != CPD_ST_OK)
        goto out;
    md = cpd_metadata_new();
    if (!md || !(md->job_id = strdup(job))) {
        rc = cpd_st_fail(why, whysz, CPD_ST_NOMEM, "_metadata: out of memory");
        goto out;
    }
    md->checkpoint_id = id;
    json_t *states = json_object_get(o, "states"), *extra = json_object_get(o, "extra");
    if (!get_int(o, "timestamp_ms", &md->timestamp_ms) || md->timestamp_ms < 0)
        rc = cpd_st_fail(why, whysz, CPD_ST_CORRUPT, "_metadata has no valid timestamp_ms");
    else if (!json_is_array(states) || !json_is_array(extra))
        rc = cpd_st_fail(why, whysz, CPD_ST_CORRUPT, "_metadata lacks the states or extra list");
    else if ((rc = parse_states(states, md, why, whysz)) == CPD_ST_OK)
        rc = parse_extra(extra, md, why, whysz);
    if (rc == CPD_ST_OK) {
        *out = md;
        md = NULL;
    }
out:
    cpd_metadata_free(md);
    json_decref(o);
    return rc;
}
