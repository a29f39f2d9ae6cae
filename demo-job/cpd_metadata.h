/*
 * cpd_metadata.h — internal to the checkpoint storage (cpd_storage*.c) and
 * its tests: the _metadata file's format. The cpd_metadata value and the
 * functions that build it are public, in cpd_storage.h.
 *
 * _metadata is a JSON object:
 *   { "format": "cpdemo-checkpoint", "format_version": 1,
 *     "job_id": "...", "checkpoint_id": N, "timestamp_ms": T,
 *     "states": [ {"op": O, "subtask": S, "file": "op<O>-sub<S>.state",
 *                  "size": B, "sha256": "<64 hex>"}, ... ],
 *     "extra":  [ {"key": "...", "value": <integer or string>}, ... ],
 *     "metadata_sha256": "<64 hex>" }
 * metadata_sha256 covers the canonical form of everything else (compact,
 * sorted keys, ASCII only), so a flipped byte anywhere is caught.
 *
 * Reading treats the text as hostile (it comes from a disk or a bucket):
 * bounded size, every field checked, duplicates refused, a reason naming
 * what is wrong, never a crash (fuzzed: tests/fuzz/fuzz_metadata.c).
 * Pure functions; reentrant.
 */
#ifndef CPD_METADATA_H
#define CPD_METADATA_H

#include "cpd_storage.h"

#define CPD_METADATA_FILE "_metadata"
#define CPD_METADATA_MAX_INDEX 1000000      /* op and subtask indexes are below this */
#define CPD_METADATA_MAX_BYTES (16 << 20)   /* larger is not one of ours */

/* Lowercase hex SHA-256 of data[0..len) (data may be NULL when len is 0).
 * false only when OpenSSL fails. */
bool cpd_metadata_sha256(const void *data, size_t len, char out[CPD_SHA256_HEX]);

/* Whether s is 64 lowercase hex digits. */
bool cpd_metadata_is_sha256(const char *s);

/* "op<O>-sub<S>.state": where a state lives inside chk-<N>/. */
void cpd_metadata_state_file(char out[CPD_ST_FILE_MAX], int op, int subtask);

/* Whether v can be an op or subtask index. */
bool cpd_metadata_valid_index(int64_t v);

/* Whether md describes exactly what a restore will accept (indexes, file
 * names, checksums, no repeated state or extra key), before it is written
 * as checkpoint cp_id. CPD_ST_INVALID with err otherwise. */
cpd_st_rc cpd_metadata_check(const cpd_metadata *md, int64_t cp_id, char *err, size_t errsz);

/* The text of md as checkpoint id of job, taken at ts (ms since the epoch);
 * md's own job id and checkpoint id are ignored. malloc'd (the caller
 * frees), NULL when out of memory. */
char *cpd_metadata_dump(const cpd_metadata *md, const char *job, int64_t id, int64_t ts);

/* Parses and checks the text[0..len) of checkpoint id of job. On CPD_ST_OK
 * *out is the caller's (cpd_metadata_free); otherwise *out is NULL and why
 * (whysz bytes) says what is wrong: CPD_ST_CORRUPT, or CPD_ST_NOMEM. */
cpd_st_rc cpd_metadata_parse(const char *text, size_t len, const char *job, int64_t id,
                             cpd_metadata **out, char *why, size_t whysz);

#endif
