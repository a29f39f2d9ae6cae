/*
 * cpw_failure.h — a job's failure table: the kinds of failure it can inject,
 * their targets and parameters (announced in hello, PROTOCOL.md §5), and the
 * one check of an inject_failure command against it.
 *
 * The agent runs the check before it calls the job's handler, and cptop runs
 * the same check before it sends (the `f` menu, `ctl fail`), so both refuse
 * a bad command with the same words. All functions are pure and reentrant.
 */
#ifndef CPW_FAILURE_H
#define CPW_FAILURE_H

#include "cpw.h"

/* The kind named `kind` in h's table, or NULL. */
const cpw_failure_kind *cpw_failure_find(const cpw_hello *h, const char *kind);

/* The index of parameter `name` of k, or -1. */
int cpw_failure_param_index(const cpw_failure_kind *k, const char *name);

/*
 * Reads one parameter value: a whole decimal number, optionally followed by
 * the parameter's unit ("5000", "5000ms", "5000 ms"), within [min, max].
 * false with a one-line message in msg (naming the parameter, the value and
 * the range) for anything else: fractions, exponents, overflow, another unit.
 */
bool cpw_param_parse(const cpw_param *p, const char *text, int64_t *out, char *msg,
                     size_t size);

/*
 * Checks an inject_failure command against h's failure table and topology
 * and makes it canonical: the kind exists; a subtask kind names an operator
 * and subtask of the topology, a job-wide kind names none (-1/-1); every
 * parameter is declared, given at most once and valid (cpw_param_parse).
 * On success cmd's parameters become exactly the kind's, in declared order,
 * absent ones at their default, each value in plain decimal. On failure cmd
 * is left as it was and msg says what is wrong and what is accepted.
 * A hello without a table (has_failures false) accepts anything unchanged.
 */
bool cpw_failure_check(const cpw_hello *h, cpw_cmd *cmd, char *msg, size_t size);

/* Checks a table a job declares (names, lengths, ranges, duplicates);
 * false with a message naming the entry. */
bool cpw_failure_table_valid(const cpw_failure_kind *kinds, int n, char *msg, size_t size);

/* Appends ,"failures":[…] (nothing when h has no table). */
void cpw_failure_encode(cpw_buf *b, const cpw_hello *h);

/* Reads "failures" of a hello-shaped jansson object (void * keeps jansson
 * out of this header) into h; absent: no table. */
cpw_err cpw_failure_decode(const void *json_obj, cpw_hello *h, cpw_error *err);

#endif
