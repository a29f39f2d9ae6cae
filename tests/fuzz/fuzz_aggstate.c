/*
 * fuzz_aggstate.c — libFuzzer target for the aggregate's snapshot reader,
 * which reads back whatever a checkpoint's state file holds:
 * cpd_aggstate_restore().
 *
 * Invariants (abort() when broken):
 *  - a refused snapshot says why, naming a line;
 *  - an accepted one survives a round trip: serialized and read back, it
 *    holds as many accounts and serializes to as many bytes.
 *
 *   make fuzz-build && build/fuzz/fuzz_aggstate -dict=tests/fuzz/fuzz_aggstate.dict \
 *        build/fuzz/corpus-fuzz_aggstate tests/fuzz/corpus/fuzz_aggstate
 */
#include "fuzz_check.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_aggstate.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cpd_aggstate *m = cpd_aggstate_new(), *r = cpd_aggstate_new();
    FZ_CHECK(m && r);
    char err[128] = "";
    if (!cpd_aggstate_restore(m, (const char *)data, size, err, sizeof err)) {
        FZ_CHECK(!strncmp(err, "line ", 5) || !strcmp(err, "out of memory"));
    } else {
        size_t len = 0, len2 = 0;
        char *snap = cpd_aggstate_serialize(m, &len);
        FZ_CHECK(snap);
        FZ_CHECK(cpd_aggstate_restore(r, snap, len, err, sizeof err));
        FZ_CHECK(cpd_aggstate_count(r) == cpd_aggstate_count(m));
        char *snap2 = cpd_aggstate_serialize(r, &len2);
        FZ_CHECK(snap2 && len2 == len);
        free(snap);
        free(snap2);
    }
    cpd_aggstate_free(m);
    cpd_aggstate_free(r);
    return 0;
}
