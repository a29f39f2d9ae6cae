/*
 * cpd_verify.h — `cpdemo verify`: proves (or refutes) that the sink holds
 * exactly the results of the records it claims to have committed.
 *
 * It reads the sink's committed end per partition (cpd_sink_last_committed),
 * reads the topic from offset 0 up to that end, computes per account what
 * the job must have produced, and compares that with the committed rows
 * (cpd_sink_scan) and the dead-letter count (cpd_sink_dead_count).
 *
 * The rule the job must follow (cpd_verify_parse). A record value is GOOD iff
 *   - it is valid UTF-8 JSON (RFC 8259; no duplicate member names, nothing
 *     after the value), whose top level is an object,
 *   - with a member "account": a string of 1..31 bytes (no NUL),
 *   - "amount_cents", "ts_ms" and "id": JSON integers (no fraction or
 *     exponent; -2^63..2^63-1), never booleans, strings or reals,
 *   - and no member "bad" (whatever its value).
 * Other members are allowed and ignored; the Kafka key is ignored (the
 * account comes from the value). Anything else — including an empty value —
 * is MALFORMED: it belongs in dead_letters and in no aggregate.
 *
 * Per account, over its good records with offset < the committed end of
 * their partition: count; sum, min, max of amount_cents (the sum wraps as
 * two's complement 64-bit); last_ts_ms = the ts_ms of the account's record
 * with the highest offset (NOT the largest ts_ms). An account's records are
 * all on one partition when the producer keys by account, so "highest
 * offset" is well defined; an account found on several partitions is
 * reported and its last_ts_ms not compared.
 */
#ifndef CPD_VERIFY_H
#define CPD_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpd_sink.h"

#define CPD_VERIFY_ACCOUNT_MAX 31       /* bytes: what cpd_row.account holds */
#define CPD_VERIFY_EXAMPLES 10          /* differences kept for the report */

/* A good record's fields. */
typedef struct cpd_vrecord {
    char account[CPD_VERIFY_ACCOUNT_MAX + 1];
    int64_t amount_cents, ts_ms, id;
} cpd_vrecord;

/* The rule above. true: good, *out filled. false: malformed, why says how
 * (one short line; why may be NULL). */
bool cpd_verify_parse(const void *value, size_t len, cpd_vrecord *out, char *why,
                      size_t why_size);

/* ---- per-account tables (expected, from the topic; actual, from the DB) ---- */

typedef struct cpd_vacct {
    cpd_row row;                /* account, count, sum, min, max, last ts */
    int32_t partition;          /* partition of its first record; -1 for a DB row */
    int64_t last_offset;        /* offset of its last record; -1 for a DB row */
    bool multi_partition;       /* seen on more than one partition: last ts undefined */
} cpd_vacct;

typedef struct cpd_vtable cpd_vtable;

cpd_vtable *cpd_vtable_new(void);
void cpd_vtable_free(cpd_vtable *t);
size_t cpd_vtable_size(const cpd_vtable *t);
/* The i-th account in insertion order (valid until the next insertion). */
const cpd_vacct *cpd_vtable_at(const cpd_vtable *t, size_t i);
const cpd_vacct *cpd_vtable_find(const cpd_vtable *t, const char *account);
/* Folds a good record read at (partition, offset) into its account. The
 * records of one partition must come in offset order. 0, or -1 when out of
 * memory. */
int cpd_vtable_add_record(cpd_vtable *t, const cpd_vrecord *r, int32_t partition,
                          int64_t offset);
/* Puts a row as the database holds it. 0; -1 when out of memory or the
 * account is already in the table. */
int cpd_vtable_put_row(cpd_vtable *t, const cpd_row *row);

/* ---- the comparison (pure) ---- */

typedef struct cpd_verify_result {
    int64_t records;            /* good records expected (sum of expected counts) */
    int64_t lost;               /* sum over accounts of max(0, expected - db count) */
    int64_t duplicated;         /* sum over accounts of max(0, db - expected count) */
    int64_t mismatched;         /* accounts whose values are wrong (see compare) */
    int64_t accounts_expected, accounts_actual;
    int64_t accounts_missing;   /* expected, absent from the DB */
    int64_t accounts_unexpected;/* in the DB, no record of them before the end */
    int64_t accounts_multi_partition;
    int64_t dead_expected, dead_actual;
    bool dead_ok;
    bool ok;                    /* what the exit status says */
    int64_t differences;        /* accounts with any difference */
    int n_examples;             /* min(differences, CPD_VERIFY_EXAMPLES) */
    char examples[CPD_VERIFY_EXAMPLES][256];
} cpd_verify_result;

/*
 * Compares, account by account (in account order, for stable examples):
 *  - db count < expected: lost += the difference (account absent: db count 0);
 *  - db count > expected: duplicated += the difference (an account in the DB
 *    and not expected: all its count); and, since a row that saw every
 *    expected record has min <= expected min and max >= expected max, a row
 *    that breaks that is also mismatched (it provably lacks a record);
 *  - equal counts: mismatched when sum, min, max or last ts differ (last ts
 *    not for a multi-partition account).
 * Dead letters match when equal; with allow_duplicates also when the DB has
 * more (at-least-once may commit dead letters past the committed offsets).
 * ok: lost == 0, mismatched == 0, dead letters match, and duplicated == 0
 * unless allow_duplicates.
 */
void cpd_verify_compare(const cpd_vtable *expected, const cpd_vtable *actual,
                        int64_t dead_expected, int64_t dead_actual, bool allow_duplicates,
                        cpd_verify_result *r);

/* "records N, lost N, duplicated N, mismatched accounts N" (no newline). */
void cpd_verify_summary(const cpd_verify_result *r, char *buf, size_t size);

/* `cpdemo verify --config FILE [--allow-duplicates]` (argv[0] "verify").
 * Exit status: 0 no difference, 1 a difference or a runtime failure,
 * 2 bad usage or configuration. */
int cpd_cmd_verify(int argc, char **argv);

#endif
