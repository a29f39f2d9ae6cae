/*
 * cpd_chanstate.h — a subtask's channel state: the in-flight records an
 * unaligned checkpoint persists (Flink's ChannelStateWriter), and the state
 * file that holds them with the operator's own state.
 *
 * Two kinds of record, in the order they were captured:
 *  - input: records that were before the barrier on an input channel but
 *    reach the operator after its snapshot (they were queued ahead of a
 *    barrier the subtask took out of line, or arrived on a channel whose
 *    barrier had not come yet); on restore they go through the operator
 *    again before any new input;
 *  - output: records the subtask had produced before its snapshot that its
 *    barrier overtook (queued in the channel, or not yet in it); on restore
 *    they go to that output channel before anything new.
 *
 * Text, one record a line, after a header naming the edges:
 *   cpdemo-channel-state 1 IN OUT        IN, OUT: src, pay, row or -
 *   i CH PARTITION OFFSET TOO_LONG :RAW  (src: the raw Kafka record)
 *   i CH ACCOUNT AMOUNT TS               (pay)
 *   o CH ACCOUNT COUNT SUM MIN MAX LAST  (row)
 * Bytes outside '!'..'~' and '%' in RAW and ACCOUNT are written %XX.
 *
 * The state file (cpd_snapfile_*): a subtask's operator state alone, as
 * before unaligned checkpoints, or, when it has channel state, both:
 *   cpdemo-snapshot 1 OPLEN CHLEN\n<OPLEN bytes><CHLEN bytes>
 * Everything read back is hostile input: bounded, every field checked, a
 * reason naming the line (fuzzed: tests/fuzz/fuzz_chanstate.c).
 * Not thread-safe: one owner at a time.
 */
#ifndef CPD_CHANSTATE_H
#define CPD_CHANSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpd_item.h"

#define CPD_CHANSTATE_MAX_CHANNEL 63 /* channel indexes are below CPD_INBOX_MAX */

typedef struct cpd_chanstate cpd_chanstate;

/* Empty, for a subtask whose inputs carry `in` and outputs `out`
 * (CPD_EDGE_NONE: it has none). NULL when out of memory. */
cpd_chanstate *cpd_chanstate_new(cpd_edge in, cpd_edge out);
void cpd_chanstate_free(cpd_chanstate *cs);

/* Appends a copy of record it, an output (else input) of channel. false
 * when out of memory, or the subtask has no such edge. */
bool cpd_chanstate_add(cpd_chanstate *cs, bool output, int channel, const cpd_item *it);

/* Records held. */
int cpd_chanstate_count(const cpd_chanstate *cs);

/* The i-th record (capture order), *output and *channel; NULL beyond. */
const cpd_item *cpd_chanstate_at(const cpd_chanstate *cs, int i, bool *output, int *channel);

/* The text above (malloc'd, the caller frees; *len bytes). NULL when out of
 * memory. */
char *cpd_chanstate_serialize(const cpd_chanstate *cs, size_t *len);

/* Reads text back into an empty cs made for the same edges. false (and why
 * in err, naming the line) on anything malformed. */
bool cpd_chanstate_parse(cpd_chanstate *cs, const char *data, size_t len, char *err,
                         size_t errsz);

/* The state file of operator state op and channel state chan (malloc'd;
 * *len bytes). NULL when out of memory. */
char *cpd_snapfile_wrap(const void *op, size_t op_len, const void *chan, size_t chan_len,
                        size_t *len);

/* Splits a state file: a plain one is operator state only (*chan NULL, 0).
 * The parts point into data. false with err when it says it is wrapped but
 * is not well formed. */
bool cpd_snapfile_unwrap(const char *data, size_t len, const char **op, size_t *op_len,
                         const char **chan, size_t *chan_len, char *err, size_t errsz);

#endif
