/*
 * fuzz_metadata.c — libFuzzer target for a checkpoint's _metadata as restore
 * reads it from a disk or a bucket: cpd_metadata_parse() on the bytes as
 * they are, then on the same JSON with its checksum recomputed (so the
 * fuzzer gets past the checksum to every field's checks), for the job and
 * checkpoint it names.
 *
 * Invariants (abort() when broken):
 *  - a refused text leaves *out NULL and a printable, non-empty reason;
 *  - an accepted one describes exactly what commit would write: indexes in
 *    range, file names "op<O>-sub<S>.state", SHA-256 hex, no state or extra
 *    key twice (cpd_metadata_check), the asked job and checkpoint;
 *  - written back (cpd_metadata_dump) it parses to the identical metadata.
 *
 *   make fuzz-build && build/fuzz/fuzz_metadata -dict=tests/fuzz/fuzz_metadata.dict \
 *        build/fuzz/corpus-fuzz_metadata tests/fuzz/corpus/fuzz_metadata
 */
#include "fuzz_check.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cpd_metadata.h"


static void printable(const char *s)
{
    FZ_CHECK(s[0]);
    for (; *s; s++)
        FZ_CHECK((unsigned char)*s >= 0x20 && (unsigned char)*s != 0x7f);
}

static void same(const cpd_metadata *a, const cpd_metadata *b)
{
    FZ_CHECK(!strcmp(a->job_id, b->job_id) && a->checkpoint_id == b->checkpoint_id);
    FZ_CHECK(a->timestamp_ms == b->timestamp_ms);
    FZ_CHECK(a->n_states == b->n_states && a->n_extra == b->n_extra);
    for (size_t i = 0; i < a->n_states; i++)
        FZ_CHECK(!memcmp(&a->states[i], &b->states[i], sizeof a->states[i]));
    for (size_t i = 0; i < a->n_extra; i++) {
        const cpd_md_extra *x = &a->extra[i], *y = &b->extra[i];
        FZ_CHECK(!strcmp(x->key, y->key) && x->kind == y->kind);
        FZ_CHECK(x->kind == CPD_MD_INT ? x->i == y->i : !strcmp(x->s, y->s));
    }
}

/* Parses text as checkpoint id of job and checks what comes out. */
static void parse(const char *text, size_t len, const char *job, int64_t id)
{
    cpd_metadata *md = (cpd_metadata *)1;
    char why[512];
    cpd_st_rc rc = cpd_metadata_parse(text, len, job, id, &md, why, sizeof why);
    if (rc != CPD_ST_OK) {
        FZ_CHECK(md == NULL);
        FZ_CHECK(rc == CPD_ST_CORRUPT || rc == CPD_ST_NOMEM);
        printable(why);
        return;
    }
    FZ_CHECK(md && !strcmp(md->job_id, job) && md->checkpoint_id == id);
    FZ_CHECK(md->timestamp_ms >= 0);
    FZ_CHECK(cpd_metadata_check(md, id, why, sizeof why) == CPD_ST_OK);
    char *again = cpd_metadata_dump(md, job, id, md->timestamp_ms);
    FZ_CHECK(again);
    cpd_metadata *md2 = NULL;
    rc = cpd_metadata_parse(again, strlen(again), job, id, &md2, why, sizeof why);
    if (rc != CPD_ST_OK) {
        fprintf(stderr, "re-parse failed: %s\n%s\n", why, again);
        abort();
    }
    same(md, md2);
    cpd_metadata_free(md2);
    free(again);
    cpd_metadata_free(md);
}

/* The same object with a right checksum, so the fields behind it are
 * reached; job and id from what it names (when it names them usably). */
static void with_checksum(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    json_object_del(o, "metadata_sha256");
    char *canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    char sha[CPD_SHA256_HEX];
    if (canon && cpd_metadata_sha256(canon, strlen(canon), sha) &&
        json_object_set_new(o, "metadata_sha256", json_string(sha)) == 0) {
        json_t *j = json_object_get(o, "job_id"), *c = json_object_get(o, "checkpoint_id");
        const char *job = json_is_string(j) && strlen(json_string_value(j)) ==
                                                   json_string_length(j)
                              ? json_string_value(j) : "job-1";
        int64_t id = json_is_integer(c) ? (int64_t)json_integer_value(c) : 7;
        char *text = json_dumps(o, JSON_COMPACT);
        if (text)
            parse(text, strlen(text), job, id);
        free(text);
    }
    free(canon);
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse((const char *)data, size, "job-1", 7);
    with_checksum(data, size);
    return 0;
}
