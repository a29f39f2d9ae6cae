/*
 * fuzz_chanstate.c — libFuzzer target for what a restore reads back from a
 * subtask's state file: cpd_snapfile_unwrap() (operator state and channel
 * state) and cpd_chanstate_parse() for every subtask shape of the job.
 *
 * Invariants (abort() when broken):
 *  - a refused file or channel state says why (a line, or the header);
 *  - the parts of an unwrapped file lie inside it and cover it;
 *  - accepted channel state survives a round trip: serialized and read
 *    back, it holds the same records on the same channels.
 *
 *   make fuzz-build && build/fuzz/fuzz_chanstate -dict=tests/fuzz/fuzz_chanstate.dict \
 *        build/fuzz/corpus-fuzz_chanstate tests/fuzz/corpus/fuzz_chanstate
 */
#include "fuzz_check.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_chanstate.h"


/* the subtasks' shapes: source, parse, aggregate, sink */
static const cpd_edge shapes[][2] = {{CPD_EDGE_NONE, CPD_EDGE_SRC},
                                     {CPD_EDGE_SRC, CPD_EDGE_PAY},
                                     {CPD_EDGE_PAY, CPD_EDGE_ROW},
                                     {CPD_EDGE_ROW, CPD_EDGE_NONE}};

static void parse_as(const char *data, size_t len, cpd_edge in, cpd_edge out)
{
    cpd_chanstate *cs = cpd_chanstate_new(in, out), *back = cpd_chanstate_new(in, out);
    FZ_CHECK(cs && back);
    char err[128] = "";
    if (!cpd_chanstate_parse(cs, data, len, err, sizeof err)) {
        FZ_CHECK(!strncmp(err, "line ", 5));
    } else {
        size_t l = 0;
        char *text = cpd_chanstate_serialize(cs, &l);
        FZ_CHECK(text);
        FZ_CHECK(cpd_chanstate_parse(back, text, l, err, sizeof err));
        FZ_CHECK(cpd_chanstate_count(back) == cpd_chanstate_count(cs));
        for (int i = 0; i < cpd_chanstate_count(cs); i++) {
            bool o1, o2;
            int c1, c2;
            const cpd_item *a = cpd_chanstate_at(cs, i, &o1, &c1);
            const cpd_item *b = cpd_chanstate_at(back, i, &o2, &c2);
            FZ_CHECK(o1 == o2 && c1 == c2 && !memcmp(&a->u, &b->u, sizeof a->u));
        }
        free(text);
    }
    cpd_chanstate_free(cs);
    cpd_chanstate_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data, *op = NULL, *ch = NULL;
    size_t ol = 0, cl = 0;
    char err[128] = "";
    if (!cpd_snapfile_unwrap(d, size, &op, &ol, &ch, &cl, err, sizeof err)) {
        FZ_CHECK(!strncmp(err, "state file: ", 12));
    } else {
        FZ_CHECK(op >= d && op + ol <= d + size);
        FZ_CHECK(!ch || (ch == op + ol && ch + cl == d + size));
        if (!ch) /* no channel state: the operator state runs to the end */
            FZ_CHECK(op + ol == d + size);
    }
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        parse_as(ch ? ch : d, ch ? cl : size, shapes[s][0], shapes[s][1]);
    return 0;
}
