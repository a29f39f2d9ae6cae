/* cpd_args.c — the demo job's subcommands' option reader (see cpd_args.h). */
#include "cpd_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpd_kafka.h"

void cpd_args_init(cpd_args *a, const char *cmd, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->argc = argc;
    a->argv = argv;
}

bool cpd_args_next(cpd_args *a)
{
    if (++a->i >= a->argc)
        return false;
    const char *s = a->argv[a->i];
    const char *eq = strncmp(s, "--", 2) == 0 ? strchr(s, '=') : NULL;
    a->name = s;
    a->name_len = eq ? (size_t)(eq - s) : strlen(s);
    a->inline_val = eq ? eq + 1 : NULL;
    return true;
}

bool cpd_args_is(const cpd_args *a, const char *name)
{
    return strlen(name) == a->name_len && strncmp(a->name, name, a->name_len) == 0;
}

const char *cpd_args_value(cpd_args *a)
{
    if (a->inline_val)
        return a->inline_val;
    if (a->i + 1 >= a->argc) {
        fprintf(stderr, "%s: %.*s needs a value (see --help)\n", a->cmd, (int)a->name_len,
                a->name);
        return NULL;
    }
    return a->argv[++a->i];
}

int cpd_args_unknown(const cpd_args *a)
{
    if (a->name[0] == '-')
        fprintf(stderr, "%s: unknown option '%.*s' (see --help)\n", a->cmd, (int)a->name_len,
                a->name);
    else
        fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", a->cmd, a->name);
    return 2;
}

bool cpd_args_flag_has_value(const cpd_args *a)
{
    if (!a->inline_val)
        return false;
    fprintf(stderr, "%s: %.*s takes no value\n", a->cmd, (int)a->name_len, a->name);
    return true;
}

bool cpd_args_int(cpd_args *a, long long lo, long long hi, long long *out)
{
    const char *v = cpd_args_value(a);
    if (!v)
        return false;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "%s: %.*s: expected an integer in %lld..%lld, got '%s'\n", a->cmd,
                (int)a->name_len, a->name, lo, hi, v);
        return false;
    }
    *out = x;
    return true;
}

bool cpd_args_u64(cpd_args *a, uint64_t *out)
{
    const char *v = cpd_args_value(a);
    if (!v)
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (end == v || *end || errno || v[0] == '-') {
        fprintf(stderr, "%s: %.*s: expected an unsigned 64-bit integer, got '%s'\n", a->cmd,
                (int)a->name_len, a->name, v);
        return false;
    }
    *out = x;
    return true;
}

bool cpd_args_topic(cpd_args *a, const char **out)
{
    const char *v = cpd_args_value(a);
    if (!v)
        return false;
    if (!cpd_kafka_topic_valid(v)) {
        fprintf(stderr, "%s: %.*s: '%s' is not a valid topic name (1..249 of [A-Za-z0-9._-])\n",
                a->cmd, (int)a->name_len, a->name, v);
        return false;
    }
    *out = v;
    return true;
}

