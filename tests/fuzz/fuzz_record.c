/*
 * fuzz_record.c — libFuzzer target for the job's record parser, which reads
 * whatever a Kafka topic holds: cpd_parse_record() (the job's one-pass
 * parser) against cpd_verify_parse() (the rule, on jansson) on the same
 * bytes.
 *
 * Invariants (abort() when broken):
 *  - the two agree: both good with the same fields, or both malformed;
 *  - a good record's account is 1..31 bytes with no NUL;
 *  - a malformed record's reason is non-empty and printable.
 *
 *   make fuzz-build && build/fuzz/fuzz_record -dict=tests/fuzz/fuzz_record.dict \
 *        build/fuzz/corpus-fuzz_record tests/fuzz/corpus/fuzz_record
 */
#include "fuzz_check.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_parse.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cpd_vrecord a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    char wa[160], wb[160];
    bool ga = cpd_parse_record(data, size, &a, wa, sizeof wa);
    bool gb = cpd_verify_parse(data, size, &b, wb, sizeof wb);
    if (ga != gb) {
        fprintf(stderr, "the job's parser says %s, the rule says %s (%s)\n", ga ? "good" : "bad",
                gb ? "good" : "bad", gb ? "" : wb);
        abort();
    }
    if (ga) {
        size_t n = strnlen(a.account, sizeof a.account);
        FZ_CHECK(n >= 1 && n <= CPD_VERIFY_ACCOUNT_MAX);
        FZ_CHECK(!strcmp(a.account, b.account));
        FZ_CHECK(a.amount_cents == b.amount_cents && a.ts_ms == b.ts_ms && a.id == b.id);
        FZ_CHECK(wa[0] == '\0');
        return 0;
    }
    FZ_CHECK(wa[0] != '\0');
    for (const char *c = wa; *c; c++)
        FZ_CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f);
    return 0;
}
