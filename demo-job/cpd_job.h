/*
 * cpd_job.h — private to `cpdemo run`: the job's state and what its parts
 * share (the map and the threads: ARCHITECTURE.md, "The demo job"). The parts:
 *   cpd_run.c       the command line, the agent and its commands, attempts
 *   cpd_job.c       events, failing the job, the task helpers every operator
 *                   uses, the snapshot I/O thread, the checkpoint hooks
 *                   (cpd_ckpt.h) that act on storage, the sink and the agent
 *   cpd_task.c      a subtask's part in checkpoints, the same for every
 *                   operator: barriers (cpd_align), forwarding them in band
 *                   or ahead of the output (cpd_chan), the snapshot taken and
 *                   handed on once its channel state (cpd_chanstate) is
 *                   complete, restoring that channel state, the output queue,
 *                   the injected throttle
 *   cpd_op_*.c      the four operators, one thread per subtask: what they do
 *                   with a record and what their snapshot holds, over
 *                   cpd_aggstate and cpd_stager (phase-1 staging on a thread
 *                   per subtask)
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
#include "cpd_chanstate.h"
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
typedef struct cpd_task cpd_task;

/* A state the snapshot I/O thread writes (source, aggregate), or that goes
 * with a stager's batch (parse, sink: then data is the channel state alone,
 * NULL without any), then acknowledges. */
typedef struct cpd_snap {
    struct cpd_snap *next;
    int64_t cp;
    int op, sub;
    void *data;                         /* malloc'd, the request's */
    size_t len;
    int64_t sync_us, start_delay_us, alignment_us;
    int64_t persisted;                  /* bytes of channel state in data */
    bool unaligned;
    int n_offsets;                      /* source: its offsets go into _metadata */
    cpd_offset offsets[CPD_MAX_PARTS];
} cpd_snap;

/* What an operator does, for the machinery every subtask shares
 * (cpd_task.c). Called on the subtask's thread. */
typedef struct cpd_op_hooks {
    cpd_edge in, out;                   /* what its channels carry */
    /* A record from input channel ch (restored channel state too). false:
     * it failed the job (out of memory). */
    bool (*record)(cpd_task *t, const cpd_item *it, int ch);
    /* Its part of the snapshot, now: operator state into s->data/len (and
     * source offsets). false: out of memory. NULL: none (parse, sink). */
    bool (*snapshot)(cpd_task *t, cpd_snap *s);
    /* Output it holds back for channel 0 until after the snapshot (the
     * aggregate's rows changed since the last one): whether any is left,
     * emitting as much as fits (1: all out, 0: the channel is full), and
     * copying it all as output channel state. NULL elsewhere. */
    bool (*held)(cpd_task *t);
    int (*held_emit)(cpd_task *t);
    bool (*held_capture)(cpd_task *t, cpd_chanstate *cs);
} cpd_op_hooks;

/* The output a subtask produced that its channels did not take yet. */
typedef struct cpd_outq {
    struct cpd_outent *e;
    int head, n, cap;
} cpd_outq;

typedef struct cpd_pending cpd_pending;

struct cpd_task {
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
    atomic_int throttle_us;             /* added per record; kept across attempts */
    /* the task's thread's own (cpd_task.c) */
    const cpd_op_hooks *hooks;
    void *op_state;                     /* the operator's */
    cpd_stager *stager;                 /* parse, sink: where its snapshots go */
    cpd_stage_batch *batch;             /* parse, sink: gathered since the last snapshot */
    cpd_align al;                       /* parse, aggregate, sink */
    cpd_outq outq;
    cpd_pending *pend;                  /* the snapshot taken, not handed on yet */
    cpd_chanstate *restored;            /* channel state to replay after a restore */
    cpd_item bar;                       /* the barrier of the checkpoint in progress */
    cpd_item *scratch;                  /* room for one channel's queue (outputs) */
    cpd_item *in_scratch;               /* the same for inputs */
    int64_t injected;                   /* source: newest barrier put in the stream */
    int64_t throttle_debt_us;
    unsigned ann_scanned;               /* inbox announcements already looked at */
};

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
    atomic_bool unaligned;              /* execution.checkpointing.unaligned.enabled, as applied */
    _Atomic int64_t aligned_timeout_ms; /* ...aligned-checkpoint-timeout, as applied */
    atomic_int running;                 /* an attempt's tasks are up (commands may act) */
    /* per attempt */
    int attempt;
    cpd_sink *commit_sink;              /* the completion worker's */
    atomic_int stopping;
    atomic_int failed;
    pthread_mutex_t fail_mu;
    char fail_reason[CPA_TEXT_MAX];     /* under fail_mu */
    cpd_task tasks[CPD_N_OPS][CPD_MAXP];
    _Atomic int64_t pending_barrier[CPD_MAXP]; /* sources: cpd_barrier_request */
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

/* What sources find in pending_barrier: a checkpoint id and how its
 * barriers travel. */
static inline int64_t cpd_barrier_request(int64_t id, cpd_barrier_mode m)
{
    return id * 4 + (int64_t)m;
}

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
/* The task acknowledges cp (events, then the coordinator). */
void cpd_task_ack(cpd_task *t, int64_t cp, const cpd_state_handle *h, const cpd_offset *offsets,
                  int n_offsets, cpa_ack_info info);
/* A snapshot write of cp failed: cp fails with IO_EXCEPTION. */
void cpd_task_write_failed(cpd_task *t, int64_t cp, const char *why);
/* Hooks for a stager of this task (acks and failures from its thread;
 * attachments are cpd_snap). */
cpd_stager_hooks cpd_task_stager_hooks(cpd_task *t);
/* Hands a state to the snapshot I/O thread (the asynchronous part). */
void cpd_job_snapshot(cpd_job *j, cpd_snap *s);
/* Frees a cpd_snap and its data. NULL is fine. */
void cpd_snap_free(cpd_snap *s);
/* The snapshot I/O thread; started and joined by the attempt. */
void *cpd_job_io_main(void *arg);

/* ---- cpd_task.c: a subtask's part in checkpoints, on its thread --------- */

/* Ready for work as an operator with hooks h and its state op (the
 * aggregate's keyed state, the source's reader...). false: out of memory
 * (the job failed). */
bool cpd_task_setup(cpd_task *t, const cpd_op_hooks *h, void *op);
/* Releases what setup and the work since took (a snapshot not handed on is
 * dropped: the attempt is over). */
void cpd_task_teardown(cpd_task *t);
/* After a restore: this subtask's operator state of the restored checkpoint
 * (*op malloc'd, the caller frees; NULL when it has none) and, kept for
 * cpd_task_replay, its channel state. false: the job failed (unreadable). */
bool cpd_task_restore(cpd_task *t, char **op, size_t *op_len);
/* The restored channel state, before any new input: output records queue
 * up for their channels, input records go through the operator. false:
 * the job failed. */
bool cpd_task_replay(cpd_task *t);
/* Output record or barrier it for channel o: straight into the channel when
 * nothing waits before it and there is room, else queued (cpd_task_flush).
 * false: out of memory (the job failed). */
bool cpd_task_emit(cpd_task *t, int o, const cpd_item *it);
/* Whether output waits for room (then no new input is taken). */
bool cpd_task_output_pending(cpd_task *t);
/* Moves waiting output into the channels, waiting for room at most
 * wait_ms; returns true once all is out, false when time is up or a
 * barrier, a timeout or stopping needs the loop first. */
bool cpd_task_flush(cpd_task *t, int wait_ms);
/* Whether a barrier or a timeout needs doing now (cpd_task_priority). */
bool cpd_task_priority_due(cpd_task *t);
/* Does it: a barrier from a priority slot, an aligned checkpoint past its
 * timeout, a source's barrier to inject, a checkpoint that failed. */
void cpd_task_priority(cpd_task *t);
/* Barrier b came in on input channel ch. */
void cpd_task_barrier(cpd_task *t, const cpd_item *b, int ch);
/* A record came in on input channel ch: recorded when it is channel state,
 * throttled when asked, then through the operator. */
void cpd_task_record(cpd_task *t, const cpd_item *it, int ch);
/* The snapshot taken and not yet handed on: its checkpoint (0: none),
 * whether it is unaligned, how many of its barriers still wait in the
 * output queue (either pointer may be NULL). */
int64_t cpd_task_pending(const cpd_task *t, bool *unaligned, int *out_left);
/* An injected throttle (throttle_us per record): sleeps off what it owes. */
void cpd_task_throttle(cpd_task *t);
/* The loop of a subtask with inputs (parse, aggregate, sink) until it
 * stops, is killed or the job fails. */
void cpd_task_run(cpd_task *t);

/* ---- the operators, thread mains taking their cpd_task ------------------ */

void *cpd_op_source_main(void *arg);
void *cpd_op_parse_main(void *arg);
void *cpd_op_agg_main(void *arg);
void *cpd_op_sink_main(void *arg);
/* The topic's partition count (and with --drain its end offsets), -1 with
 * err when Kafka cannot tell. Blocks (network). */
int cpd_op_source_partitions(cpd_job *j, char *err, size_t errsz);

#endif
