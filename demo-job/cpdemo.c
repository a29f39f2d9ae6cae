/* cpdemo.c — the demo job's command line: `cpdemo SUBCOMMAND [ARGS...]`.
 * Each subcommand is a function int(argc, argv) with argv[0] its name;
 * add one by adding a row to `subcommands`. */
#include <stdio.h>
#include <string.h>

#include "cpd_failures.h"
#include "cpd_kafka.h"
#include "cpd_run.h"
#include "cpd_verify.h"

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    { "kafka", cpd_cmd_kafka, "run the embedded Kafka (librdkafka mock cluster) until signalled" },
    { "produce", cpd_cmd_produce, "produce deterministic JSON payment records" },
    { "run", cpd_cmd_run, "run the job: Kafka -> parse -> aggregate -> database, checkpointed" },
    { "failures", cpd_cmd_failures, "list the failures cptop can inject into the job (--markdown: the README table)" },
    { "verify", cpd_cmd_verify, "check the committed results against the topic: lost, duplicated, mismatched" },
};
#define N_SUBCOMMANDS (sizeof subcommands / sizeof subcommands[0])

static void usage(FILE *f)
{
    fputs("usage: cpdemo SUBCOMMAND [ARGS...]\n"
          "       cpdemo SUBCOMMAND --help\n"
          "\n"
          "The demo job of cptop: a Kafka-to-database pipeline with Flink-style checkpoints.\n"
          "\n"
          "Subcommands:\n", f);
    for (size_t i = 0; i < N_SUBCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
    fputs("\nExit status: 0 ok, 1 failure, 2 bad usage.\n", f);
}

static const subcommand *find(const char *name)
{
    for (size_t i = 0; i < N_SUBCOMMANDS; i++)
        if (strcmp(subcommands[i].name, name) == 0)
            return &subcommands[i];
    return NULL;
}

static void list_names(FILE *f)
{
    for (size_t i = 0; i < N_SUBCOMMANDS; i++)
        fprintf(f, "%s%s", i ? ", " : "", subcommands[i].name);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        if (argc > 2) {     /* cpdemo help SUBCOMMAND */
            const subcommand *s = find(argv[2]);
            if (s) {
                char *hargv[] = { argv[2], (char *)"--help", NULL };
                return s->run(2, hargv);
            }
            fprintf(stderr, "cpdemo: unknown subcommand '%s' (subcommands: ", argv[2]);
            list_names(stderr);
            fputs(")\n", stderr);
            return 2;
        }
        usage(stdout);
        return 0;
    }
    const subcommand *s = find(cmd);
    if (s)
        return s->run(argc - 1, argv + 1);
    if (cmd[0] == '-')
        fprintf(stderr, "cpdemo: unknown option '%s' (subcommands: ", cmd);
    else
        fprintf(stderr, "cpdemo: unknown subcommand '%s' (subcommands: ", cmd);
    list_names(stderr);
    fputs("; see cpdemo --help)\n", stderr);
    return 2;
}
