/*
 * rec_live.h — cprecbench's live figure for recording's CPU cost: three
 * real cptop dashboards, each on a pseudo-terminal of 200x60 (drawing as
 * they do for a user), watch the same publisher of the same synthetic job;
 * one of them also records (--record FILE), the third is a control (what
 * two identical dashboards differ by: the measurement's noise). Their CPU (the scheduler's time on
 * a CPU from /proc/PID/schedstat, else utime + stime) is read over the same
 * window, so the machine's load weighs on both alike. Everything it starts is stopped by pid.
 *
 * Not thread-safe; uses fork() and signals of its own children only.
 */
#ifndef REC_LIVE_H
#define REC_LIVE_H

#include <stdbool.h>
#include <stdint.h>

/* Serves the job `job` (announced in the runtime directory rt) in real time
 * until SIGTERM; runs in a child process of its own. */
typedef void (*rec_live_pub_fn)(const char *rt, const char *job);

#define REC_LIVE_SLICES 6     /* the window is read in this many slices */

typedef struct rec_live_res {
    double plain_s, rec_s;   /* CPU seconds of each dashboard over the window */
    double control_s;        /* the second watching one's (A/A) */
    /* the recording one's extra CPU, %, over the slices: a busy neighbour
     * on a shared machine skews a slice, the median resists it */
    double extra_median, extra_min, extra_max;
    double window_s;         /* wall seconds of the window */
    double resolution_s;     /* of the CPU times (a clock tick, or 1 ns) */
    int64_t rec_bytes;       /* the recording's size at the end */
    char err[300];           /* why there are no figures ("" when there are) */
} rec_live_res;

/* Runs the publisher and both dashboards (cptop is the binary's path; dir
 * a private directory for the runtime directory and the recording),
 * waits warm_s seconds, measures window_s seconds. Returns false with
 * out->err when something did not start or died. */
bool rec_live_measure(const char *cptop, const char *dir, const char *job, int warm_s,
                      int window_s, rec_live_pub_fn pub, rec_live_res *out);

#endif /* REC_LIVE_H */
