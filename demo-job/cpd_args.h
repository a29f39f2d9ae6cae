/*
 * cpd_args.h — the option reader of cpdemo's subcommands (kafka, produce,
 * verify): "--name value" or "--name=value", one at a time.
 *
 * Command-line code: a problem is told on stderr, prefixed with the
 * command's name ("cpdemo produce: --rate: expected ..."), and the caller
 * returns exit status 2. Not thread-safe (one reader per argv).
 */
#ifndef CPD_ARGS_H
#define CPD_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cpd_args {
    const char *cmd;            /* "cpdemo kafka", for messages */
    int argc, i;
    char **argv;                /* argv[0] is the subcommand's name */
    const char *name;           /* the current option, without "=value" */
    size_t name_len;
    const char *inline_val;     /* after '=', or NULL */
} cpd_args;

void cpd_args_init(cpd_args *a, const char *cmd, int argc, char **argv);

/* Moves to the next argument; false at the end. */
bool cpd_args_next(cpd_args *a);

/* Whether the current argument is option name ("--config"). */
bool cpd_args_is(const cpd_args *a, const char *name);

/* The current option's value (after '=' or the next argument); NULL after
 * a message when there is none. */
const char *cpd_args_value(cpd_args *a);

/* For an option that takes no value: true after a message when one was
 * given ("--drain=1"). */
bool cpd_args_flag_has_value(const cpd_args *a);

/* The current argument is not an option of the command: a message; 2. */
int cpd_args_unknown(const cpd_args *a);

/* The value as an integer in [lo, hi] / an unsigned 64-bit integer / a
 * Kafka topic name (cpd_kafka_topic_valid); false after a message naming
 * the option and the value. */
bool cpd_args_int(cpd_args *a, long long lo, long long hi, long long *out);
bool cpd_args_u64(cpd_args *a, uint64_t *out);
bool cpd_args_topic(cpd_args *a, const char **out);

#endif
