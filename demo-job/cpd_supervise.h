/*
 * cpd_supervise.h — `cpdemo run --supervise`: runs the job in a child
 * process and restarts it when the process dies. See cpd_supervise.c.
 */
#ifndef CPD_SUPERVISE_H
#define CPD_SUPERVISE_H

#include <stdbool.h>

/* Runs `cpdemo run` with argv (minus --supervise and --max-restarts N) as
 * a child; restarts it after delay_ms whenever it dies from a signal or
 * exits with a status other than 0 (done) or 2 (bad usage or
 * configuration), at most max_restarts times (< 0: no limit). SIGINT and
 * SIGTERM are passed on to the job, then it returns. Returns the exit
 * status for cpdemo. Blocks; prints its decisions on stderr. */
int cpd_supervise(int argc, char **argv, int max_restarts, int delay_ms);

#endif
