/* test_storage.c — checkpoint storage (file backend): layout, commit point,
 * verification and fallback on restore, retention, fault injection. */
#include "cpd_storage.h"
#include "cpd_storage_backend.h"
#include "cpt_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define JOB "job-1"

static char err[1024];
static char note[2048];

static const char *store_path(void)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/store", cpt_tmpdir());
    return p;
}

/* "<tmp>/store/job-1/<rel>" */
static const char *jpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *jpath(const char *fmt, ...)
{
    static char p[1024];
    char rel[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(p, sizeof p, "%s/%s/%s", store_path(), JOB, rel);
    return p;
}

static cpd_storage *open_store(void)
{
    cpd_storage *st = cpd_storage_open(store_path(), JOB, err, sizeof err);
    CPT_ASSERTF(st, "open: %s", err);
    return st;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* deterministic bytes for (cp, op, sub) */
static unsigned char *make_state(int64_t cp, int op, int sub, size_t len)
{
    unsigned char *b = malloc(len ? len : 1);
    CPT_ASSERT(b);
    uint32_t x = (uint32_t)(cp * 7919 + op * 131 + sub * 17 + 1);
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (unsigned char)(x >> 16);
    }
    return b;
}

/* Writes n_ops × n_subs states of size len and commits with one extra. */
static void write_cp(cpd_storage *st, int64_t cp, int n_ops, int n_subs, size_t len)
{
    cpd_metadata *md = cpd_metadata_new();
    CPT_ASSERT(md);
    for (int op = 0; op < n_ops; op++)
        for (int s = 0; s < n_subs; s++) {
            unsigned char *d = make_state(cp, op, s, len);
            cpd_state_handle h;
            cpd_st_rc rc = cpd_storage_write_state(st, cp, op, s, d, len, &h, err, sizeof err);
            free(d);
            CPT_ASSERTF(rc == CPD_ST_OK, "write chk-%lld op%d sub%d: %s", (long long)cp, op, s,
                        err);
            CPT_EQ_INT(cpd_metadata_add_state(md, &h), CPD_ST_OK);
        }
    CPT_EQ_INT(cpd_metadata_add_int(md, "payments/0", cp * 100), CPD_ST_OK);
    cpd_st_rc rc = cpd_storage_commit(st, cp, md, err, sizeof err);
    CPT_ASSERTF(rc == CPD_ST_OK, "commit chk-%lld: %s", (long long)cp, err);
    cpd_metadata_free(md);
}

static int64_t latest_id(cpd_storage *st, int64_t max_id)
{
    cpd_metadata *md = NULL;
    cpd_st_rc rc = cpd_storage_latest(st, max_id, &md, note, sizeof note, err, sizeof err);
    if (rc == CPD_ST_NOT_FOUND) {
        CPT_ASSERT(md == NULL);
        return -1;
    }
    CPT_ASSERTF(rc == CPD_ST_OK, "latest: %s (%s)", err, note);
    int64_t id = md->checkpoint_id;
    const cpd_md_extra *x = cpd_metadata_find_extra(md, "payments/0");
    CPT_ASSERT(x && x->kind == CPD_MD_INT && x->i == id * 100);
    cpd_metadata_free(md);
    return id;
}

#define CPT_CONTAINS(hay, needle)                                                        \
    CPT_ASSERTF(strstr((hay), (needle)) != NULL, "\"%s\" does not contain \"%s\"", (hay), \
                (needle))

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CPT_ASSERTF(f, "fopen %s: %s", path, strerror(errno));
    CPT_EQ_INT(fwrite(data, 1, len, f), len);
    CPT_EQ_INT(fclose(f), 0);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CPT_ASSERTF(f, "fopen %s: %s", path, strerror(errno));
    char *buf = malloc(1 << 20);
    CPT_ASSERT(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* number of entries in dir (all, dot-files included, but not . and ..) */
static int count_entries(const char *dir, const char *skip_prefix)
{
    DIR *d = opendir(dir);
    CPT_ASSERTF(d, "opendir %s: %s", dir, strerror(errno));
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (skip_prefix && !strncmp(de->d_name, skip_prefix, strlen(skip_prefix)))
            continue;
        n++;
    }
    closedir(d);
    return n;
}

/* ------------------------------------------------------------------------ */

CPT_TEST(write_commit_latest_read)
{
    char uri[600];
    snprintf(uri, sizeof uri, "file://%s/", store_path());  /* trailing slash too */
    cpd_storage *st = cpd_storage_open(uri, JOB, err, sizeof err);
    CPT_ASSERTF(st, "open %s: %s", uri, err);
    char loc[600];
    snprintf(loc, sizeof loc, "%s/%s", store_path(), JOB);
    CPT_EQ_STR(cpd_storage_location(st), loc);

    size_t sizes[3] = {0, 1000, 1 << 20};   /* empty, small, 1 MiB */
    unsigned char *data[3];
    cpd_metadata *md = cpd_metadata_new();
    for (int i = 0; i < 3; i++) {
        data[i] = make_state(3, 1, i, sizes[i]);
        cpd_state_handle h;
        CPT_EQ_INT(cpd_storage_write_state(st, 3, 1, i, data[i], sizes[i], &h, err, sizeof err),
                   CPD_ST_OK);
        CPT_EQ_INT(h.op, 1);
        CPT_EQ_INT(h.subtask, i);
        CPT_EQ_INT(h.size, sizes[i]);
        CPT_EQ_INT(strlen(h.sha256), 64);
        char want[32];
        snprintf(want, sizeof want, "op1-sub%d.state", i);
        CPT_EQ_STR(h.file, want);
        CPT_EQ_INT(file_size(jpath("chk-3/%s", want)), sizes[i]);
        CPT_EQ_INT(cpd_metadata_add_state(md, &h), CPD_ST_OK);
        CPT_EQ_INT(cpd_metadata_add_state(md, &h), CPD_ST_INVALID);  /* twice: refused */
    }
    CPT_ASSERT(!exists(jpath("chk-3/_metadata")));  /* not before the commit */
    CPT_EQ_INT(cpd_metadata_add_int(md, "kafka.payments.0", 123456789012LL), CPD_ST_OK);
    CPT_EQ_INT(cpd_metadata_add_str(md, "kafka.topic", "payments \"q\" \xc3\xa9"), CPD_ST_OK);
    CPT_EQ_INT(cpd_metadata_add_int(md, "kafka.topic", 1), CPD_ST_INVALID);
    CPT_EQ_INT(cpd_metadata_add_str(md, "", "x"), CPD_ST_INVALID);
    md->timestamp_ms = 1700000000123LL;
    CPT_EQ_INT(cpd_storage_commit(st, 3, md, err, sizeof err), CPD_ST_OK);
    cpd_metadata_free(md);
    CPT_ASSERT(exists(jpath("chk-3/_metadata")));

    /* _metadata is JSON with the documented members */
    size_t len;
    char *text = read_file(jpath("chk-3/_metadata"), &len);
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    CPT_ASSERTF(o, "_metadata JSON: %s", je.text);
    CPT_EQ_INT(json_integer_value(json_object_get(o, "format_version")), 1);
    CPT_EQ_STR(json_string_value(json_object_get(o, "job_id")), JOB);
    CPT_EQ_INT(json_integer_value(json_object_get(o, "checkpoint_id")), 3);
    CPT_EQ_INT(json_integer_value(json_object_get(o, "timestamp_ms")), 1700000000123LL);
    CPT_EQ_INT(json_array_size(json_object_get(o, "states")), 3);
    json_t *s1 = json_array_get(json_object_get(o, "states"), 1);
    CPT_EQ_STR(json_string_value(json_object_get(s1, "file")), "op1-sub1.state");
    CPT_EQ_INT(json_integer_value(json_object_get(s1, "size")), 1000);
    CPT_EQ_INT(strlen(json_string_value(json_object_get(s1, "sha256"))), 64);
    CPT_EQ_INT(json_array_size(json_object_get(o, "extra")), 2);
    json_decref(o);
    free(text);

    cpd_metadata *got = NULL;
    CPT_EQ_INT(cpd_storage_latest(st, -1, &got, note, sizeof note, err, sizeof err), CPD_ST_OK);
    CPT_EQ_STR(note, "restored from chk-3");
    CPT_EQ_INT(got->checkpoint_id, 3);
    CPT_EQ_STR(got->job_id, JOB);
    CPT_EQ_INT(got->timestamp_ms, 1700000000123LL);
    CPT_EQ_INT(got->n_states, 3);
    const cpd_md_extra *x = cpd_metadata_find_extra(got, "kafka.payments.0");
    CPT_ASSERT(x && x->kind == CPD_MD_INT && x->i == 123456789012LL);
    x = cpd_metadata_find_extra(got, "kafka.topic");
    CPT_ASSERT(x && x->kind == CPD_MD_STR);
    CPT_EQ_STR(x->s, "payments \"q\" \xc3\xa9");
    for (int i = 0; i < 3; i++) {
        void *buf = NULL;
        size_t n = 99;
        CPT_EQ_INT(cpd_storage_read_state(st, got, 1, i, &buf, &n, err, sizeof err), CPD_ST_OK);
        CPT_EQ_INT(n, sizes[i]);
        CPT_ASSERT(sizes[i] == 0 || memcmp(buf, data[i], n) == 0);
        free(buf);
        free(data[i]);
    }
    void *buf = (void *)1;
    size_t n;
    CPT_EQ_INT(cpd_storage_read_state(st, got, 2, 0, &buf, &n, err, sizeof err),
               CPD_ST_NOT_FOUND);
    CPT_ASSERT(buf == NULL);
    CPT_CONTAINS(err, "no state for op 2 subtask 0");

    /* load by id; a missing id is not found */
    cpd_metadata *m2 = NULL;
    CPT_EQ_INT(cpd_storage_load(st, 3, &m2, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(m2->n_extra, 2);
    cpd_metadata_free(m2);
    CPT_EQ_INT(cpd_storage_load(st, 4, &m2, err, sizeof err), CPD_ST_NOT_FOUND);
    CPT_ASSERT(m2 == NULL);
    cpd_metadata_free(got);

    /* no stray temporary files */
    CPT_EQ_INT(count_entries(jpath("chk-3"), NULL), 4);
    CPT_EQ_INT(count_entries(jpath("%s", ""), NULL), 1);
    cpd_storage_close(st);
}

CPT_TEST(missing_metadata_falls_back)
{
    cpd_storage *st = open_store();
    CPT_EQ_INT(latest_id(st, -1), -1);     /* empty: not found */
    CPT_CONTAINS(note, "no valid checkpoint");
    CPT_CONTAINS(err, "no valid checkpoint in");

    write_cp(st, 5, 2, 2, 100);
    write_cp(st, 6, 2, 2, 100);
    /* chk-7: states written, crash before the commit */
    unsigned char *d = make_state(7, 0, 0, 100);
    CPT_EQ_INT(cpd_storage_write_state(st, 7, 0, 0, d, 100, NULL, err, sizeof err), CPD_ST_OK);
    free(d);
    CPT_EQ_INT(latest_id(st, -1), 6);
    CPT_EQ_STR(note, "chk-7 skipped: no _metadata (never committed); restored from chk-6");
    /* max_id bounds the search and ignores newer ones silently */
    CPT_EQ_INT(latest_id(st, 5), 5);
    CPT_EQ_STR(note, "restored from chk-5");
    CPT_EQ_INT(latest_id(st, 4), -1);
    /* chk-10 sorts after chk-7 numerically, not as text */
    write_cp(st, 10, 1, 1, 10);
    CPT_EQ_INT(latest_id(st, -1), 10);
    /* foreign entries are ignored */
    CPT_EQ_INT(mkdir(jpath("chk-x"), 0755), 0);
    CPT_EQ_INT(mkdir(jpath("chk-011"), 0755), 0);
    write_file(jpath("chk-99"), "x", 1);
    CPT_EQ_INT(latest_id(st, -1), 10);
    CPT_EQ_STR(note, "restored from chk-10");
    cpd_storage_close(st);
}

/* rewrite chk-<id>/_metadata through jansson with one change */
static void set_md_member(int64_t id, const char *key, json_t *value)
{
    size_t len;
    char *text = read_file(jpath("chk-%lld/_metadata", (long long)id), &len);
    json_t *o = json_loads(text, 0, NULL);
    CPT_ASSERT(o);
    json_object_set_new(o, key, value);
    char *out = json_dumps(o, JSON_INDENT(2));
    write_file(jpath("chk-%lld/_metadata", (long long)id), out, strlen(out));
    free(out);
    json_decref(o);
    free(text);
}

CPT_TEST(corrupt_metadata_skipped)
{
    cpd_storage *st = open_store();
    for (int id = 1; id <= 6; id++)
        write_cp(st, id, 1, 2, 64);
    size_t len;
    /* chk-6: truncated */
    char *text = read_file(jpath("chk-6/_metadata"), &len);
    CPT_ASSERT(truncate(jpath("chk-6/_metadata"), (off_t)(len / 2)) == 0);
    /* chk-5: garbage */
    write_file(jpath("chk-5/_metadata"), "\x01\x02garbage{{", 11);
    /* chk-4: a future format version */
    set_md_member(4, "format_version", json_integer(2));
    /* chk-3: one byte flipped inside an extra value (the Kafka offset 300 -> 700) */
    free(text);
    text = read_file(jpath("chk-3/_metadata"), &len);
    char *p = strstr(text, "300");
    CPT_ASSERT(p);
    *p = '7';
    write_file(jpath("chk-3/_metadata"), text, len);
    free(text);
    /* chk-2: valid JSON of another checkpoint id, checksum recomputed
     * nowhere: caught by the checksum too; make it a copy of chk-1's */
    text = read_file(jpath("chk-1/_metadata"), &len);
    write_file(jpath("chk-2/_metadata"), text, len);
    free(text);

    CPT_EQ_INT(latest_id(st, -1), 1);
    CPT_CONTAINS(note, "chk-6 skipped: _metadata is not valid JSON");
    CPT_CONTAINS(note, "chk-5 skipped: _metadata is not valid JSON");
    CPT_CONTAINS(note, "chk-4 skipped: _metadata has unsupported format version 2");
    CPT_CONTAINS(note, "chk-3 skipped: _metadata checksum mismatch");
    CPT_CONTAINS(note, "chk-2 skipped: _metadata names checkpoint 1, not 2");
    CPT_ASSERTF(strstr(note, "; restored from chk-1") && !strstr(note, "chk-1 skipped"), "%s",
                note);
    /* the order is newest first */
    CPT_ASSERT(strstr(note, "chk-6") < strstr(note, "chk-5"));

    /* load() names the path and the reason */
    cpd_metadata *md = (cpd_metadata *)1;
    CPT_EQ_INT(cpd_storage_load(st, 4, &md, err, sizeof err), CPD_ST_CORRUPT);
    CPT_ASSERT(md == NULL);
    CPT_CONTAINS(err, jpath("chk-4"));
    CPT_CONTAINS(err, "unsupported format version 2");
    cpd_storage_close(st);
}

CPT_TEST(corrupt_state_skipped)
{
    cpd_storage *st = open_store();
    for (int id = 1; id <= 4; id++)
        write_cp(st, id, 2, 2, 4096);
    /* chk-4: one byte flipped, same size */
    size_t len;
    char *b = read_file(jpath("chk-4/op1-sub0.state"), &len);
    CPT_EQ_INT(len, 4096);
    b[1234] ^= 0x01;
    write_file(jpath("chk-4/op1-sub0.state"), b, len);
    free(b);
    /* chk-3: truncated */
    CPT_ASSERT(truncate(jpath("chk-3/op0-sub1.state"), 4000) == 0);
    /* chk-2: missing */
    CPT_EQ_INT(unlink(jpath("chk-2/op1-sub1.state")), 0);

    CPT_EQ_INT(latest_id(st, -1), 1);
    CPT_EQ_STR(note, "chk-4 skipped: state op1-sub0.state checksum mismatch; "
                     "chk-3 skipped: state op0-sub1.state has 4000 bytes, _metadata says 4096; "
                     "chk-2 skipped: state op1-sub1.state is missing; restored from chk-1");
    /* a note buffer too small is truncated, not overrun */
    char small[24];
    memset(small, 'Z', sizeof small);
    cpd_metadata *md = NULL;
    CPT_EQ_INT(cpd_storage_latest(st, -1, &md, small, 20, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(strlen(small), 19);
    CPT_EQ_INT(small[20], 'Z');

    /* read_state re-verifies: corruption after loading is caught */
    b = read_file(jpath("chk-1/op0-sub0.state"), &len);
    b[0] ^= 0x80;
    write_file(jpath("chk-1/op0-sub0.state"), b, len);
    free(b);
    void *data = NULL;
    size_t n;
    CPT_EQ_INT(cpd_storage_read_state(st, md, 0, 0, &data, &n, err, sizeof err),
               CPD_ST_CORRUPT);
    CPT_ASSERT(data == NULL);
    CPT_CONTAINS(err, "chk-1/op0-sub0.state checksum mismatch");
    CPT_EQ_INT(cpd_storage_read_state(st, md, 0, 1, &data, &n, err, sizeof err), CPD_ST_OK);
    free(data);
    CPT_EQ_INT(unlink(jpath("chk-1/op0-sub1.state")), 0);
    CPT_EQ_INT(cpd_storage_read_state(st, md, 0, 1, &data, &n, err, sizeof err),
               CPD_ST_CORRUPT);
    CPT_CONTAINS(err, "is missing");
    cpd_metadata_free(md);

    /* nothing valid left: not found, and the note says why for each */
    CPT_EQ_INT(latest_id(st, -1), -1);
    CPT_CONTAINS(note, "chk-1 skipped: state op0-sub0.state checksum mismatch");
    CPT_CONTAINS(note, "no valid checkpoint");
    cpd_storage_close(st);
}

CPT_TEST(retention_and_discard)
{
    cpd_storage *st = open_store();
    for (int id = 1; id <= 5; id++)
        write_cp(st, id, 1, 2, 32);
    CPT_EQ_INT(cpd_storage_retain(st, 0, err, sizeof err), CPD_ST_INVALID);
    CPT_EQ_INT(cpd_storage_retain(st, 2, err, sizeof err), CPD_ST_OK);
    for (int id = 1; id <= 3; id++)
        CPT_ASSERTF(!exists(jpath("chk-%d", id)), "chk-%d still there", id);
    CPT_ASSERT(exists(jpath("chk-4/_metadata")) && exists(jpath("chk-5/_metadata")));
    CPT_EQ_INT(latest_id(st, -1), 5);
    CPT_EQ_INT(latest_id(st, 4), 4);

    /* chk-6 failed (no _metadata), chk-7 completed, chk-8 in flight */
    unsigned char *d = make_state(6, 0, 0, 10);
    CPT_EQ_INT(cpd_storage_write_state(st, 6, 0, 0, d, 10, NULL, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(cpd_storage_write_state(st, 8, 0, 0, d, 10, NULL, err, sizeof err), CPD_ST_OK);
    free(d);
    write_cp(st, 7, 1, 2, 32);
    CPT_EQ_INT(cpd_storage_retain(st, 2, err, sizeof err), CPD_ST_OK);
    CPT_ASSERT(exists(jpath("chk-8")));       /* newer than the newest valid: kept */
    CPT_ASSERT(exists(jpath("chk-7")));
    CPT_ASSERT(!exists(jpath("chk-6")));      /* stale failed one: removed */
    CPT_ASSERT(exists(jpath("chk-5")));
    CPT_ASSERT(!exists(jpath("chk-4")));

    /* the newest is corrupt: the newest *valid* one is never removed */
    CPT_EQ_INT(unlink(jpath("chk-7/op0-sub0.state")), 0);
    CPT_EQ_INT(cpd_storage_retain(st, 1, err, sizeof err), CPD_ST_OK);
    CPT_ASSERT(exists(jpath("chk-5/_metadata")));
    CPT_ASSERT(exists(jpath("chk-7")));       /* newer than the newest valid: not touched */
    CPT_EQ_INT(latest_id(st, -1), 5);

    /* discard removes a directory; absent is fine */
    CPT_EQ_INT(cpd_storage_discard(st, 8, err, sizeof err), CPD_ST_OK);
    CPT_ASSERT(!exists(jpath("chk-8")));
    CPT_EQ_INT(cpd_storage_discard(st, 8, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(cpd_storage_discard(st, 5, err, sizeof err), CPD_ST_OK);
    CPT_ASSERT(!exists(jpath("chk-5")));
    CPT_EQ_INT(latest_id(st, -1), -1);
    /* no valid checkpoint at all: retain removes nothing */
    CPT_EQ_INT(cpd_storage_retain(st, 1, err, sizeof err), CPD_ST_OK);
    CPT_ASSERT(exists(jpath("chk-7")));
    cpd_storage_close(st);
}

CPT_TEST(retention_keeps_five_of_seven)
{
    cpd_storage *st = open_store();
    for (int id = 1; id <= 7; id++) {
        write_cp(st, id, 1, 1, 8);
        CPT_EQ_INT(cpd_storage_retain(st, 5, err, sizeof err), CPD_ST_OK);
    }
    CPT_EQ_INT(count_entries(jpath("%s", ""), NULL), 5);
    CPT_ASSERT(!exists(jpath("chk-2")) && exists(jpath("chk-3")) && exists(jpath("chk-7")));
    cpd_storage_close(st);
}

CPT_TEST(fail_next_exactly_k)
{
    cpd_storage *st = open_store();
    unsigned char *d = make_state(1, 0, 0, 5000);
    cpd_storage_fail_next(st, 2);
    CPT_EQ_INT(cpd_storage_failures_pending(st), 2);
    for (int i = 0; i < 2; i++) {
        cpd_state_handle h = {.op = -1};
        CPT_EQ_INT(cpd_storage_write_state(st, 1, 0, i, d, 5000, &h, err, sizeof err),
                   CPD_ST_INJECTED);
        CPT_CONTAINS(err, "injected failure");
        CPT_CONTAINS(err, jpath("chk-1/op0-sub%d.state", i));
        CPT_EQ_INT(h.op, -1);                   /* untouched */
    }
    CPT_EQ_INT(cpd_storage_failures_pending(st), 0);
    cpd_state_handle h;
    CPT_EQ_INT(cpd_storage_write_state(st, 1, 0, 2, d, 5000, &h, err, sizeof err), CPD_ST_OK);
    /* only the third landed; no temporary or partial file anywhere */
    CPT_EQ_INT(count_entries(jpath("chk-1"), NULL), 1);
    CPT_ASSERT(exists(jpath("chk-1/op0-sub2.state")));
    CPT_EQ_INT(count_entries(jpath("%s", ""), NULL), 1);

    /* a commit is a write too: it fails once, nothing is committed, the retry works */
    cpd_metadata *md = cpd_metadata_new();
    CPT_EQ_INT(cpd_metadata_add_state(md, &h), CPD_ST_OK);
    CPT_EQ_INT(cpd_metadata_add_int(md, "payments/0", 100), CPD_ST_OK);
    cpd_storage_fail_next(st, 1);
    CPT_EQ_INT(cpd_storage_commit(st, 1, md, err, sizeof err), CPD_ST_INJECTED);
    CPT_ASSERT(!exists(jpath("chk-1/_metadata")));
    CPT_EQ_INT(count_entries(jpath("chk-1"), NULL), 1);
    CPT_EQ_INT(latest_id(st, -1), -1);
    CPT_EQ_INT(cpd_storage_commit(st, 1, md, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(latest_id(st, -1), 1);
    /* cancel */
    cpd_storage_fail_next(st, 3);
    cpd_storage_fail_next(st, 0);
    CPT_EQ_INT(cpd_storage_write_state(st, 2, 0, 0, d, 10, NULL, err, sizeof err), CPD_ST_OK);
    cpd_metadata_free(md);
    free(d);
    cpd_storage_close(st);
}

CPT_TEST(commit_checks_states_present)
{
    cpd_storage *st = open_store();
    cpd_state_handle h;
    CPT_EQ_INT(cpd_storage_write_state(st, 4, 0, 0, "abc", 3, &h, err, sizeof err), CPD_ST_OK);
    cpd_metadata *md = cpd_metadata_new();
    CPT_EQ_INT(cpd_metadata_add_state(md, &h), CPD_ST_OK);
    /* discarded meanwhile (aborted): the commit must not resurrect it */
    CPT_EQ_INT(cpd_storage_discard(st, 4, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(cpd_storage_commit(st, 4, md, err, sizeof err), CPD_ST_CORRUPT);
    CPT_CONTAINS(err, "chk-4");
    CPT_ASSERT(!exists(jpath("chk-4")));
    /* size differs from the handle */
    CPT_EQ_INT(cpd_storage_write_state(st, 5, 0, 0, "abcd", 4, NULL, err, sizeof err),
               CPD_ST_OK);
    CPT_EQ_INT(cpd_storage_commit(st, 5, md, err, sizeof err), CPD_ST_CORRUPT);
    CPT_CONTAINS(err, "has 4 bytes, expected 3");
    /* a tampered file name is refused, never written */
    strcpy(md->states[0].file, "../../etc.state");
    CPT_EQ_INT(cpd_storage_commit(st, 5, md, err, sizeof err), CPD_ST_INVALID);
    CPT_ASSERT(!exists(jpath("chk-5/_metadata")));
    /* a checkpoint without state commits fine */
    cpd_metadata *empty = cpd_metadata_new();
    CPT_EQ_INT(cpd_metadata_add_int(empty, "payments/0", 900), CPD_ST_OK);
    CPT_EQ_INT(cpd_storage_commit(st, 9, empty, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(latest_id(st, -1), 9);
    cpd_metadata_free(empty);
    cpd_metadata_free(md);
    /* bad arguments */
    CPT_EQ_INT(cpd_storage_write_state(st, -1, 0, 0, "a", 1, NULL, err, sizeof err),
               CPD_ST_INVALID);
    CPT_EQ_INT(cpd_storage_write_state(st, 1, -2, 0, "a", 1, NULL, err, sizeof err),
               CPD_ST_INVALID);
    CPT_EQ_INT(cpd_storage_write_state(st, 1, 0, 0, NULL, 1, NULL, NULL, 0), CPD_ST_INVALID);
    cpd_storage_close(st);
}

CPT_TEST(unwritable_directory_named)
{
    char afile[600], uri[700];
    snprintf(afile, sizeof afile, "%s/afile", cpt_tmpdir());
    write_file(afile, "x", 1);
    snprintf(uri, sizeof uri, "%s/sub", afile);
    err[0] = '\0';
    cpd_storage *st = cpd_storage_open(uri, JOB, err, sizeof err);
    CPT_ASSERT(st == NULL);
    CPT_CONTAINS(err, "storage directory");
    CPT_CONTAINS(err, uri);
    char want[700];
    snprintf(want, sizeof want, "%s is in the way: not a directory", afile);
    CPT_CONTAINS(err, want);

    /* the job directory itself is a file */
    char store[600];
    snprintf(store, sizeof store, "%s/store2", cpt_tmpdir());
    CPT_EQ_INT(mkdir(store, 0755), 0);
    snprintf(afile, sizeof afile, "%s/%s", store, JOB);
    write_file(afile, "x", 1);
    st = cpd_storage_open(store, JOB, err, sizeof err);
    CPT_ASSERT(st == NULL);
    snprintf(want, sizeof want, "%s is in the way", afile);
    CPT_CONTAINS(err, want);

    /* a NULL err buffer is allowed */
    CPT_ASSERT(cpd_storage_open(uri, JOB, NULL, 0) == NULL);
}

CPT_TEST(uris_and_names)
{
    /* s3:// goes to the S3 backend (tests/test_storage_s3.c); a bad bucket
     * name is refused there before any network use */
    cpd_storage *st = cpd_storage_open("s3://Not_A!Bucket/my-job", "my-job", err, sizeof err);
    CPT_ASSERT(st == NULL);
    CPT_CONTAINS(err, "bucket name 'Not_A!Bucket' is not valid");
    CPT_ASSERT(cpd_storage_open("hdfs://nn/x", JOB, err, sizeof err) == NULL);
    CPT_CONTAINS(err, "unsupported storage scheme 'hdfs'");
    CPT_ASSERT(cpd_storage_open("", JOB, err, sizeof err) == NULL);
    CPT_CONTAINS(err, "empty storage URI");
    CPT_ASSERT(cpd_storage_open(NULL, JOB, err, sizeof err) == NULL);
    CPT_ASSERT(cpd_storage_open("file://host/x", JOB, err, sizeof err) == NULL);
    CPT_CONTAINS(err, "file:///absolute/path");

    const char *bad[] = {"", ".", "..", "../x", "a/b", ".hidden", "a b", "a\\b", "x\n", NULL};
    for (int i = 0; bad[i]; i++) {
        CPT_ASSERTF(cpd_storage_open(store_path(), bad[i], err, sizeof err) == NULL,
                    "job id '%s' accepted", bad[i]);
        CPT_CONTAINS(err, "is not valid");
    }
    CPT_ASSERT(cpd_storage_open(store_path(), NULL, err, sizeof err) == NULL);
    char longid[200];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    CPT_ASSERT(cpd_storage_open(store_path(), longid, err, sizeof err) == NULL);
    CPT_ASSERT(!exists(store_path()));           /* nothing created for refused names */

    /* good names, a relative path, file://localhost and percent-encoding */
    CPT_EQ_INT(chdir(cpt_tmpdir()), 0);
    st = cpd_storage_open("rel/store", "Job_2.v-1", err, sizeof err);
    CPT_ASSERTF(st, "%s", err);
    CPT_EQ_STR(cpd_storage_location(st), "rel/store/Job_2.v-1");
    cpd_storage_close(st);
    char uri[700], dir[700];
    snprintf(uri, sizeof uri, "file://localhost%s/with%%20space", cpt_tmpdir());
    st = cpd_storage_open(uri, JOB, err, sizeof err);
    CPT_ASSERTF(st, "%s", err);
    snprintf(dir, sizeof dir, "%s/with space/%s", cpt_tmpdir(), JOB);
    CPT_EQ_STR(cpd_storage_location(st), dir);
    CPT_ASSERT(exists(dir));
    CPT_EQ_INT(count_entries(dir, NULL), 0);     /* the probe is gone */
    cpd_storage_close(st);
    cpd_storage_close(NULL);
}

typedef struct worker {
    cpd_storage *st;
    int first, count;
    cpd_state_handle h[64];
    int failures;
    char err[512];
} worker;

static void *write_many(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->count; i++) {
        int sub = w->first + i;
        size_t len = 1000 + (size_t)sub * 37;
        unsigned char *d = make_state(11, 2, sub, len);
        if (cpd_storage_write_state(w->st, 11, 2, sub, d, len, &w->h[i], w->err,
                                    sizeof w->err) != CPD_ST_OK)
            w->failures++;
        free(d);
    }
    return NULL;
}

CPT_TEST(concurrent_writers)
{
    cpd_storage *st = open_store();
    worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.st = st, .first = i * 16, .count = 16};
        CPT_EQ_INT(pthread_create(&t[i], NULL, write_many, &w[i]), 0);
    }
    cpd_metadata *md = cpd_metadata_new();
    for (int i = 0; i < 4; i++) {
        CPT_EQ_INT(pthread_join(t[i], NULL), 0);
        CPT_ASSERTF(w[i].failures == 0, "worker %d: %s", i, w[i].err);
        for (int j = 0; j < w[i].count; j++)
            CPT_EQ_INT(cpd_metadata_add_state(md, &w[i].h[j]), CPD_ST_OK);
    }
    CPT_EQ_INT(cpd_metadata_add_int(md, "payments/0", 1100), CPD_ST_OK);
    CPT_EQ_INT(cpd_storage_commit(st, 11, md, err, sizeof err), CPD_ST_OK);
    cpd_metadata_free(md);
    CPT_EQ_INT(count_entries(jpath("chk-11"), NULL), 65);
    md = NULL;
    CPT_EQ_INT(cpd_storage_latest(st, -1, &md, note, sizeof note, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(md->n_states, 64);
    for (int sub = 0; sub < 64; sub++) {
        void *data;
        size_t n, len = 1000 + (size_t)sub * 37;
        CPT_EQ_INT(cpd_storage_read_state(st, md, 2, sub, &data, &n, err, sizeof err),
                   CPD_ST_OK);
        unsigned char *want = make_state(11, 2, sub, len);
        CPT_ASSERT(n == len && memcmp(data, want, len) == 0);
        free(want);
        free(data);
    }
    cpd_metadata_free(md);
    cpd_storage_close(st);
}

CPT_TEST(delay_per_write)
{
    cpd_storage *st = open_store();
    cpd_storage_set_delay_ms(st, 60);
    int64_t t0 = cpt_now_ms();
    CPT_EQ_INT(cpd_storage_write_state(st, 1, 0, 0, "a", 1, NULL, err, sizeof err), CPD_ST_OK);
    CPT_EQ_INT(cpd_storage_write_state(st, 1, 0, 1, "b", 1, NULL, err, sizeof err), CPD_ST_OK);
    int64_t took = cpt_now_ms() - t0;
    CPT_ASSERTF(took >= 120, "two writes took %lld ms", (long long)took);
    cpd_storage_set_delay_ms(st, 0);
    t0 = cpt_now_ms();
    CPT_EQ_INT(cpd_storage_write_state(st, 1, 0, 2, "c", 1, NULL, err, sizeof err), CPD_ST_OK);
    CPT_ASSERT(cpt_now_ms() - t0 < 60);
    cpd_storage_close(st);
}

/* The interface is pluggable: a fake backend that fails every get is
 * reported as an I/O error by latest (not silently skipped). */
static cpd_st_rc fake_put(void *be, const char *key, const void *data, size_t len, bool inj,
                          char *e, size_t es)
{
    return CPD_ST_OK;
}
static cpd_st_rc fake_get(void *be, const char *key, void **data, size_t *len, char *e,
                          size_t es)
{
    snprintf(e, es, "fake: cannot read %s: Input/output error", key);
    return CPD_ST_IO;
}
static cpd_st_rc fake_list(void *be, const char *dir, cpd_st_entry **ents, size_t *n, char *e,
                           size_t es)
{
    *ents = calloc(1, sizeof **ents);
    snprintf((*ents)[0].name, sizeof (*ents)[0].name, "chk-3");
    (*ents)[0].is_dir = true;
    *n = 1;
    return CPD_ST_OK;
}
static cpd_st_rc fake_remove(void *be, const char *key, char *e, size_t es)
{
    (*(int *)be)++;
    return CPD_ST_OK;
}
static void fake_close(void *be) { *(int *)be = -100; }

CPT_TEST(backend_io_error_is_not_skipped)
{
    static const cpd_storage_ops ops = {"fake", fake_put, fake_get, fake_list, fake_remove,
                                        fake_close};
    int removed = 0;
    cpd_storage *st = cpd_storage_new(&ops, &removed, JOB, "fake://", err, sizeof err);
    CPT_ASSERT(st);
    cpd_metadata *md = NULL;
    CPT_EQ_INT(cpd_storage_latest(st, -1, &md, note, sizeof note, err, sizeof err), CPD_ST_IO);
    CPT_CONTAINS(err, "fake: cannot read chk-3/_metadata");
    CPT_EQ_INT(cpd_storage_retain(st, 1, err, sizeof err), CPD_ST_IO);
    CPT_EQ_INT(removed, 0);
    cpd_storage_close(st);
    CPT_EQ_INT(removed, -100);
    /* a bad job id closes the backend it was given */
    removed = 0;
    CPT_ASSERT(cpd_storage_new(&ops, &removed, "../x", "fake://", err, sizeof err) == NULL);
    CPT_EQ_INT(removed, -100);
}

/* Retention checks checkpoints this process committed by their listing
 * (present, right sizes) instead of reading their state back: on S3 that
 * read would download the whole retained state after every checkpoint.
 * Another process (a new handle) verifies contents in full. */
CPT_TEST(retention_trusts_its_own_commits_by_size)
{
    cpd_storage *a = open_store();
    for (int id = 1; id <= 3; id++)
        write_cp(a, id, 1, 2, 32);
    /* flip one byte of chk-3's state, keeping its size */
    const char *path = jpath("chk-3/op0-sub0.state");
    int fd = open(path, O_RDWR);
    CPT_ASSERT(fd >= 0);
    char c;
    CPT_EQ_INT(pread(fd, &c, 1, 5), 1);
    c ^= 0x55;
    CPT_EQ_INT(pwrite(fd, &c, 1, 5), 1);
    close(fd);
    /* a new handle reads contents: chk-3 is corrupt, chk-2 is the newest valid */
    cpd_storage *b = open_store();
    CPT_EQ_INT(cpd_storage_retain(b, 1, err, sizeof err), CPD_ST_OK);
    CPT_ASSERT(!exists(jpath("chk-1")));
    CPT_ASSERT(exists(jpath("chk-2/_metadata")) && exists(jpath("chk-3/_metadata")));
    cpd_storage_close(b);
    /* the writer trusts what it wrote, by size: chk-3 counts as valid */
    CPT_EQ_INT(cpd_storage_retain(a, 1, err, sizeof err), CPD_ST_OK);
    CPT_ASSERT(!exists(jpath("chk-2")));
    /* ... but a state cut short is caught all the same */
    write_cp(a, 4, 1, 2, 32);
    CPT_EQ_INT(truncate(jpath("chk-4/op0-sub1.state"), 10), 0);
    CPT_EQ_INT(cpd_storage_retain(a, 1, err, sizeof err), CPD_ST_OK);
    CPT_ASSERT(exists(jpath("chk-3/_metadata"))); /* the newest valid one stays */
    /* and a discarded id is no longer trusted */
    CPT_EQ_INT(cpd_storage_discard(a, 4, err, sizeof err), CPD_ST_OK);
    CPT_ASSERT(!exists(jpath("chk-4")));
    cpd_storage_close(a);
}
