/*
 * cpd_job.h — private to `cpdemo run`: the job's state and what its parts
 * share. The parts:
 *   cpd_run.c       the command line, the agent and its commands, attempts
 *   cpd_job.c       events, failing the job, the task helpers every operator
 *                   uses, the snapshot I/O thread, the checkpoint hooks
 *                   (cpd_ckpt.h) that act on storage, the sink and the agent
 *   cpd_op_*.c      the four operators, one thread per subtask, over
 *                   cpd_chan (channels), cpd_align, cpd_aggstate and
 *                   cpd_stager (phase-1 staging on a thread per subtask)
 *   cpd_ckpt.c      the coordinator thread and the completion worker
 *   cpd_failures.c  the failure catalogue (cpd_failures.h)
 *
 * Who owns what: the checkpoint state (cpd_coord, metadata being gathered)
 * is cpd_ckpt's coordinator thread's alone; tasks reach it by posting. A
 * task's fields are its thread's, except the atomics below, which any
 * thread may touch. The job's fields outside "per attempt" are set before
 * the first attempt and read-only after it, unless atomic or marked.
 */
#ifndef CPD_JOB_H
#define CPD_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpagent.h"
#include "cpd_chan.h"
#include "cpd_ckpt.h"
#include "cpd_config.h"
#include "cpd_sink.h"
#include "cpd_stager.h"
#include "cpd_storage.h"

enum { CPD_OP_SOURCE, CPD_OP_PARSE, CPD_OP_AGG, CPD_OP_SINK, CPD_N_OPS };
extern const char *const cpd_op_names[CPD_N_OPS];

#define CPD_MAXP CPD_MAX_PARALLELISM
#define CPD_MAX_PARTS 256

typedef struct cpd_job cpd_job;

typedef struct cpd_task {
    cpd_job *j;
    int op, sub;
    pthread_t thread;
    bool started;
    cpd_inbox in;                       /* parse, aggregate, sink */
    cpd_chan *out[CPD_MAXP];            /* where this task writes */
    int n_out;
    _Atomic int64_t rec_in, rec_out;
    atomic_int blocked_out;             /* waiting on a full output channel */
    /* failure injection (set by the agent thread, taken by the task) */
    atomic_int kill, decline_next, stall_ms;
} cpd_task;

/* A state the snapshot I/O thread writes, then acknowledges. */
typedef struct cpd_snap {
    struct cpd_snap *next;
    int64_t cp;
    int op, sub;
    void *data;                         /* malloc'd, the request's */
    size_t len;
    int64_t sync_us, start_delay_us, alignment_us;
    int n_offsets;                      /* source: its offsets go into _metadata */
    cpd_offset offsets[CPD_MAX_PARTS];
} cpd_snap;

struct cpd_job {
    cpd_config cfg;
    char bootstrap[512];
    char job_id[64];
    int P, n_parts;
    cpa_agent *agent;                   /* NULL with agent.listen "off" */
    cpd_storage *st;
    cpd_ckpt *ckpt;
    int64_t process_start_ms;
    atomic_bool first_row_seen;
    _Atomic int64_t next_id;            /* above every id triggered so far */
    /* --drain: read up to the end offsets seen at start, checkpoint, exit */
    bool drain;
    int64_t end_offsets[CPD_MAX_PARTS];
    atomic_int sources_done;
    _Atomic int64_t final_cp;           /* first checkpoint triggered after all sources ended */
    _Atomic int64_t last_cp_ms, last_cp_bytes;
    atomic_int fail_commits;            /* injected: the worker fails this many sink commits */
    cpd_ckpt_settings settings;         /* as last applied; the agent thread's after start */
    atomic_int running;                 /* an attempt's tasks are up (commands may act) */
    /* per attempt */
    int attempt;
    cpd_sink *commit_sink;              /* the completion worker's */
    atomic_int stopping;
    atomic_int failed;
    pthread_mutex_t fail_mu;
    char fail_reason[CPA_TEXT_MAX];     /* under fail_mu */
    cpd_task tasks[CPD_N_OPS][CPD_MAXP];
    _Atomic int64_t pending_barrier[CPD_MAXP]; /* sources: inject this id */
    _Atomic int64_t aborted;            /* newest checkpoint that failed */
    int64_t start_offsets[CPD_MAX_PARTS]; /* restored */
    cpd_metadata *restored_md;
    /* the snapshot I/O thread */
    pthread_mutex_t iomu;
    pthread_cond_t iocond;
    cpd_snap *io_head, *io_tail;
    pthread_t io_thread;
    bool io_started;
};

/* ---- cpd_job.c ---------------------------------------------------------- */

/* "cpdemo run: ..." on stderr. */
void cpd_job_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An event of type t about checkpoint cp at op/sub (-1: job-wide). */
cpa_event cpd_job_ev(cpa_event_type t, int64_t cp, int op, int sub);
void cpd_job_emit(cpd_job *j, cpa_event ev);
/* The attempt fails (the first reason is kept): every task stops, the job
 * restores from the latest completed checkpoint. Any thread. */
void cpd_job_fail(cpd_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Offsets recorded in md ("offset.P" extras) into out; returns the count. */
int cpd_job_md_offsets(const cpd_metadata *md, cpd_offset *out, int max);
/* The checkpoint hooks for cpd_ckpt (their opaque is the job). */
cpd_ckpt_hooks cpd_job_ckpt_hooks(cpd_job *j);

/* Task helpers, on the task's thread. */
/* Index of a subtask among those that acknowledge. */
int cpd_task_index(const cpd_task *t);
/* Running counters to the agent, at most every 200 ms. */
void cpd_task_metrics(cpd_task *t, int64_t *last_ms);
/* An injected kill: reports the task failure, fails the job; true then. */
bool cpd_task_killed(cpd_task *t);
/* When barrier cp reaches the task: an injected stall, then an injected
 * decline (false: it declined; the barrier still goes on). */
bool cpd_task_barrier_checks(cpd_task *t, int64_t cp);
/* Pushes it to out channel o (blocks on backpressure; false when stopping). */
bool cpd_task_push(cpd_task *t, int o, const cpd_item *it);
/* The task acknowledges cp (events, then the coordinator). */
void cpd_task_ack(cpd_task *t, int64_t cp, const cpd_state_handle *h, const cpd_offset *offsets,
                  int n_offsets, cpa_ack_info info);
/* A snapshot write of cp failed: cp fails with IO_EXCEPTION. */
void cpd_task_write_failed(cpd_task *t, int64_t cp, const char *why);
/* Hooks for a stager of this task (acks and failures from its thread). */
cpd_stager_hooks cpd_task_stager_hooks(cpd_task *t);
/* Hands a state to the snapshot I/O thread (the asynchronous part). */
void cpd_job_snapshot(cpd_job *j, cpd_snap *s);
/* The snapshot I/O thread; started and joined by the attempt. */
void *cpd_job_io_main(void *arg);

/* ---- the operators, thread mains taking their cpd_task ------------------ */

void *cpd_op_source_main(void *arg);
void *cpd_op_parse_main(void *arg);
void *cpd_op_agg_main(void *arg);
void *cpd_op_sink_main(void *arg);
/* The topic's partition count (and with --drain its end offsets), -1 with
 * err when Kafka cannot tell. Blocks (network). */
int cpd_op_source_partitions(cpd_job *j, char *err, size_t errsz);

#endif
