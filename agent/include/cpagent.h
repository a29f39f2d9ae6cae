/*
 * cpagent.h — libcpagent, the checkpoint agent a streaming job embeds.
 *
 * The job reports what its checkpoints do (barriers, alignment, snapshots,
 * acks, declines, completion, failure, restore) with cpa_emit(); the agent
 * publishes those events to any number of cptop dashboards and serves their
 * commands (trigger, abort, inject a failure, change settings) by calling
 * handlers the job registers.
 *
 * Design rules the job can rely on:
 *  - cpa_emit() and cpa_subtask_metrics() never block, never allocate and are
 *    safe from any thread. When the bounded queue is full the event is
 *    dropped and counted; the job is never slowed by a slow dashboard.
 *  - The agent never writes to the host's stdout/stderr; it reports through
 *    the log callback, if one is set.
 *  - One agent thread does all I/O: it batches events, publishes them on a
 *    PUB endpoint and answers commands on a REP endpoint (the SP wire
 *    format over ipc or tcp; a peer sending malformed frames only loses its
 *    connection).
 *
 * Lifecycle: cpa_conf_new() → cpa_conf_set()… → cpa_new() (takes the conf)
 * → cpa_set_topology() → cpa_start() → cpa_emit()… → cpa_stop() →
 * cpa_destroy().
 *
 * Thread-safety summary: cpa_emit(), cpa_subtask_metrics(), cpa_get_stats(),
 * cpa_set_job_config() and cpa_set_failure_kinds() may be called from any
 * thread at any time between cpa_new() and cpa_destroy(). Lifecycle calls
 * (start/stop/destroy) and cpa_set_topology() must come from one controlling
 * thread.
 *
 * Stability (what a job may rely on across 0.x releases with the same
 * CPA_ABI_VERSION): every function declared here keeps its signature and
 * meaning; the structs and enums keep their layout and values (new enum
 * values and new configuration keys may be added at the end, and members at
 * the end of one type's struct in cpa_event's union, which never grows);
 * the limits below are this ABI's own, not the wire protocol's (the agent
 * converts and, where the wire is narrower, truncates texts on a character
 * boundary). The library exports nothing but the cpa_* names below.
 * CPA_ABI_VERSION changes when any of this has to break; the shared
 * library's soname follows it.
 */
#ifndef CPAGENT_H
#define CPAGENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; what this header declares is
 * its whole exported interface. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define CPA_VERSION_STR "0.2.0"
/* Changes only when the ABI breaks (soname libcpagent.so.CPA_ABI_VERSION). */
#define CPA_ABI_VERSION 0
/* Wire protocol major version this library speaks (see protocol/PROTOCOL.md). */
#define CPA_PROTOCOL_VERSION 1

/* ----------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------- */

/* Every fallible call returns one of these. */
typedef enum cpa_err {
    CPA_OK = 0,
    CPA_ERR_INVALID_ARG,   /* a NULL handle, bad value or out-of-range index */
    CPA_ERR_UNKNOWN_KEY,   /* cpa_conf_set(): no such configuration key */
    CPA_ERR_NOMEM,         /* an allocation failed (never on the emit path) */
    CPA_ERR_STATE,         /* call not valid now (e.g. start twice, emit after stop) */
    CPA_ERR_QUEUE_FULL,    /* cpa_emit(): queue full, the event was dropped */
    CPA_ERR_TRANSPORT,     /* socket, bind or send failed */
    CPA_ERR_IO,            /* runtime directory, discovery or secret file I/O */
    CPA_ERR_INSECURE,      /* a directory or secret file has unsafe permissions */
    CPA_ERR_AUTH,          /* command refused: missing, bad or replayed token */
    CPA_ERR_LIMIT,         /* a protocol limit would be exceeded (see PROTOCOL.md) */
    CPA_ERR_BAD_COMMAND,   /* malformed or unknown command */
    CPA_ERR_UNSUPPORTED,   /* the job registered no handler for this command */
    CPA_ERR_HANDLER,       /* the job's handler refused or failed */
    CPA_ERR__COUNT
} cpa_err;

/* A static, human-readable English description of `err`; never NULL.
 * Thread-safe; the string is owned by the library. */
const char *cpa_strerror(cpa_err err);

/* ----------------------------------------------------------------------------
 * Limits (also the protocol's; see protocol/PROTOCOL.md)
 * ------------------------------------------------------------------------- */
#define CPA_TEXT_MAX        160   /* reason, message, error text: bytes incl. NUL */
#define CPA_NAME_MAX        64    /* operator names, job name, config keys */
#define CPA_KIND_MAX        32    /* failure kinds */
#define CPA_MAX_OPERATORS   64
#define CPA_MAX_PARALLELISM 1024  /* subtasks of one operator */
#define CPA_MAX_SUBTASKS    8192  /* subtasks of all operators together */
#define CPA_MAX_EDGES       256
#define CPA_MAX_CONFIG      64    /* job configuration entries */
#define CPA_VALUE_MAX       256   /* config value bytes incl. NUL */

/* ----------------------------------------------------------------------------
 * Events
 * ------------------------------------------------------------------------- */

typedef enum cpa_event_type {
    CPA_EV_NONE = 0,
    CPA_EV_CP_TRIGGERED,        /* coordinator started checkpoint cp_id */
    CPA_EV_BARRIER_INJECTED,    /* a source subtask put barrier cp_id in its output */
    CPA_EV_BARRIER_RECEIVED,    /* barrier cp_id reached op/subtask on an input channel */
    CPA_EV_ALIGNMENT_START,     /* first barrier in, channel blocked (EXACTLY_ONCE) */
    CPA_EV_ALIGNMENT_END,       /* last barrier in, channels released */
    CPA_EV_SNAPSHOT_START,      /* subtask begins its snapshot */
    CPA_EV_SNAPSHOT_SYNC_DONE,  /* synchronous part (state copy) finished */
    CPA_EV_SNAPSHOT_ASYNC_DONE, /* asynchronous part (upload) finished */
    CPA_EV_ACK,                 /* subtask acknowledged cp_id */
    CPA_EV_DECLINE,             /* subtask declined cp_id */
    CPA_EV_CP_COMPLETED,        /* all subtasks acked, _metadata written */
    CPA_EV_CP_FAILED,           /* expired, declined, aborted, storage, task failure */
    CPA_EV_CP_COMMITTED,        /* the sink committed cp_id's transaction */
    CPA_EV_JOB_STATUS,          /* job running / failing / restarting / failed */
    CPA_EV_RESTORED,            /* job (re)started from checkpoint cp_id (0: none) */
    CPA_EV_FAILURE_INJECTED,    /* a failure was injected at op/subtask */
    CPA_EV_TASK_FAILED,         /* a subtask failed */
    CPA_EV_SWITCHED_TO_UNALIGNED, /* cp_id, aligned with a timeout, went unaligned at op/subtask */
    CPA_EV__COUNT
} cpa_event_type;

typedef enum cpa_trigger_kind {
    CPA_TRIGGER_PERIODIC = 0,
    CPA_TRIGGER_MANUAL = 1,
} cpa_trigger_kind;

/* How a checkpoint's barriers travel, as chosen at its trigger (Flink's
 * alignment types; execution.checkpointing.unaligned.enabled and
 * .aligned-checkpoint-timeout). 0, what a zeroed event holds, is aligned. */
typedef enum cpa_alignment {
    CPA_ALIGN_ALIGNED = 0,      /* barriers wait behind records; subtasks align */
    CPA_ALIGN_UNALIGNED = 1,    /* barriers overtake records (persisted as channel state) */
    CPA_ALIGN_TIMEOUT = 2,      /* aligned; a subtask goes unaligned after the timeout */
    CPA_ALIGN__COUNT
} cpa_alignment;

/* Why a checkpoint failed; names follow Flink's CheckpointFailureReason. */
typedef enum cpa_failure_reason {
    CPA_FAIL_EXPIRED = 0,          /* CHECKPOINT_EXPIRED */
    CPA_FAIL_DECLINED,             /* CHECKPOINT_DECLINED */
    CPA_FAIL_ABORTED,              /* aborted by the user (cptop / command) */
    CPA_FAIL_ASYNC_EXCEPTION,      /* CHECKPOINT_ASYNC_EXCEPTION */
    CPA_FAIL_IO,                   /* IO_EXCEPTION: storage write or metadata failed */
    CPA_FAIL_TASK_FAILURE,         /* a task failed while it was in flight */
    CPA_FAIL_NOT_ALL_RUNNING,      /* NOT_ALL_REQUIRED_TASKS_RUNNING */
    CPA_FAIL_TOO_MANY_REQUESTS,    /* TOO_MANY_CHECKPOINT_REQUESTS */
    CPA_FAIL_SUBSUMED,             /* CHECKPOINT_SUBSUMED */
    CPA_FAIL__COUNT
} cpa_failure_reason;

typedef enum cpa_job_status {
    CPA_JOB_CREATED = 0,
    CPA_JOB_RUNNING,
    CPA_JOB_FAILING,
    CPA_JOB_RESTARTING,
    CPA_JOB_FAILED,
    CPA_JOB_FINISHED,
    CPA_JOB__COUNT
} cpa_job_status;

/* The wire names of the enums above ("cp_triggered", "CHECKPOINT_EXPIRED",
 * "running", …). Static strings; NULL for an out-of-range value. */
const char *cpa_event_type_name(cpa_event_type t);
const char *cpa_failure_reason_name(cpa_failure_reason r);
const char *cpa_job_status_name(cpa_job_status s);

/* Whether a checkpoint failing for reason r counts against
 * execution.checkpointing.tolerable-failed-checkpoints, as Flink's failure
 * manager counts it: not a subsumed checkpoint or a refused request, not a
 * user's abort, not a task failure (the job restarts for that anyway). The
 * agent and every dashboard count consecutive failures by this rule, so a job
 * that enforces its tolerance with it agrees with what they show. 1 or 0. */
int cpa_failure_reason_counts(cpa_failure_reason r);

/* Per-subtask acknowledgement figures; names and units as Flink's REST API. */
typedef struct cpa_ack_info {
    int64_t state_size;         /* bytes of full state */
    int64_t checkpointed_size;  /* bytes written for this checkpoint */
    int64_t processed_data;     /* bytes processed during alignment */
    int64_t persisted_data;     /* in-flight bytes persisted (unaligned) */
    int64_t start_delay_us;     /* trigger → first barrier at this subtask */
    int64_t alignment_us;       /* first → last barrier */
    int64_t sync_us;            /* checkpoint.sync */
    int64_t async_us;           /* checkpoint.async */
    int32_t unaligned;          /* 1 if taken as an unaligned checkpoint */
} cpa_ack_info;

/*
 * One event. Fixed size, no pointers: cpa_emit() copies it into the queue.
 * Fields outside the union apply to every type where they make sense;
 * op/subtask are -1 for job-wide events. ts_us is wall-clock microseconds
 * since the epoch; leave it 0 (or negative) and cpa_emit() stamps it.
 */
typedef struct cpa_event {
    cpa_event_type type;
    int32_t op;        /* operator index into the topology, or -1 */
    int32_t subtask;   /* subtask index within the operator, or -1 */
    int64_t cp_id;     /* checkpoint id (from 1); 0 when none */
    int64_t ts_us;
    union {
        struct { cpa_trigger_kind kind;
                 cpa_alignment alignment; } triggered;               /* CP_TRIGGERED */
        struct { int32_t channel; } barrier;                         /* BARRIER_RECEIVED */
        struct { int64_t buffered_bytes; int64_t duration_us; } alignment; /* ALIGNMENT_END */
        struct { int64_t duration_us; } sync;                        /* SNAPSHOT_SYNC_DONE */
        struct { int64_t bytes; int64_t duration_us; } async;        /* SNAPSHOT_ASYNC_DONE */
        cpa_ack_info ack;                                            /* ACK */
        struct { char reason[CPA_TEXT_MAX]; } decline;               /* DECLINE */
        struct { int64_t duration_us; int64_t state_size;
                 int64_t checkpointed_size; } completed;             /* CP_COMPLETED */
        struct { cpa_failure_reason reason;
                 char message[CPA_TEXT_MAX]; } failed;               /* CP_FAILED */
        struct { cpa_job_status status;
                 char message[CPA_TEXT_MAX]; } job_status;           /* JOB_STATUS */
        struct { int32_t attempt; } restored;                        /* RESTORED */
        struct { char kind[CPA_KIND_MAX];
                 char params[CPA_TEXT_MAX]; } failure;               /* FAILURE_INJECTED */
        struct { char error[CPA_TEXT_MAX]; } task_failed;            /* TASK_FAILED */
        /* SWITCHED_TO_UNALIGNED: trigger -> switch, and the aligned timeout */
        struct { int64_t elapsed_us; int64_t timeout_us; } switched;
    } u;
} cpa_event;

/* ----------------------------------------------------------------------------
 * Configuration
 * ------------------------------------------------------------------------- */

typedef struct cpa_conf cpa_conf;

/* A configuration with defaults. Owned by the caller until passed to
 * cpa_new(). Returns NULL only when out of memory. */
cpa_conf *cpa_conf_new(void);

/* Frees a configuration not passed to cpa_new(). NULL is fine. */
void cpa_conf_destroy(cpa_conf *conf);

/*
 * Sets one key. Both strings are copied. Returns CPA_ERR_UNKNOWN_KEY or
 * CPA_ERR_INVALID_ARG (with a message in errbuf naming the key) on error.
 *
 *   job.name         display name                       default "job"
 *   job.id           unique id [A-Za-z0-9._-]{1,63}     default random hex
 *   listen           "ipc" | "tcp://HOST:PORT"          default "ipc"
 *                    tcp: events on PORT, commands on PORT+1; HOST defaults
 *                    to 127.0.0.1 and must be given explicitly otherwise.
 *   runtime.dir      ipc sockets + discovery files      default
 *                    $XDG_RUNTIME_DIR/cptop, else /tmp/cptop-$UID (0700)
 *   secret.file      HMAC secret for tcp commands       default <runtime.dir>/secret
 *                    (created 0600 with 32 random bytes when absent)
 *   queue.size       event queue slots (power of two)   default 65536
 *   batch.max        events per published message       default 256
 *   flush.us         max wait before a partial batch    default 1000
 *   idle.ms          after 100 ms without events, the agent thread checks
 *                    the queue this often (the first event after a quiet
 *                    spell waits at most this long)  default 20
 *   heartbeat.ms     heartbeat period                   default 1000
 *   history.size     finished checkpoints kept for get_state  default 64
 *   rest.listen      "HOST:PORT": answer the checkpoint part of Apache
 *                    Flink's REST API over HTTP (agent/REST.md)  default off
 *                    HOST: an IPv4 address, "localhost" or [IPv6]; PORT 0
 *                    picks a free port (cpa_rest_port(), discovery file).
 *                    Served by the agent thread (libmicrohttpd, no thread of
 *                    its own): cpa_emit() never waits for an HTTP client.
 *                    Beyond loopback, POST and PATCH need "Authorization:
 *                    Bearer <contents of secret.file>"; GETs never do.
 *   web.checkpoints.history  checkpoints in the REST history   default 10
 *
 * Not thread-safe on one conf.
 */
cpa_err cpa_conf_set(cpa_conf *conf, const char *key, const char *value,
                     char *errbuf, size_t errbuf_size);

/* Log levels, syslog-like. */
enum { CPA_LOG_ERROR = 3, CPA_LOG_WARNING = 4, CPA_LOG_INFO = 6, CPA_LOG_DEBUG = 7 };

/* Called from the agent thread (or the caller of cpa_new/cpa_start) with a
 * NUL-terminated message it must not keep. The agent never prints. */
typedef void (*cpa_log_cb)(void *opaque, int level, const char *msg);
void cpa_conf_set_log_cb(cpa_conf *conf, cpa_log_cb cb, void *opaque);

/* Commands a dashboard may send. get_state is answered by the agent. */
typedef enum cpa_command_type {
    CPA_CMD_GET_STATE = 0,
    CPA_CMD_TRIGGER,
    CPA_CMD_ABORT,
    CPA_CMD_INJECT_FAILURE,
    CPA_CMD_SET_CONFIG,
    CPA_CMD_CANCEL,      /* stop the job for good (REST PATCH /jobs/:jid?mode=cancel) */
    CPA_CMD__COUNT
} cpa_command_type;

#define CPA_CMD_MAX_PARAMS 16

/* A decoded command as handed to a handler. Valid only during the call. */
typedef struct cpa_command {
    cpa_command_type type;
    int64_t cp_id;                           /* ABORT: the checkpoint */
    char kind[CPA_KIND_MAX];                 /* INJECT_FAILURE: e.g. "kill" */
    int32_t op, subtask;                     /* INJECT_FAILURE target, -1 if none */
    int n_params;                            /* INJECT_FAILURE params / SET_CONFIG pairs */
    char keys[CPA_CMD_MAX_PARAMS][CPA_NAME_MAX];
    char values[CPA_CMD_MAX_PARAMS][CPA_VALUE_MAX];
} cpa_command;

/*
 * A command handler. Runs on the agent thread: keep it short (hand the work
 * to the job and return). Write a one-line outcome ("checkpoint 12
 * triggered", or why not) into msg (msg_size bytes incl. NUL); return CPA_OK
 * to accept or any error (conventionally CPA_ERR_HANDLER) to refuse. The
 * dashboard gets the message either way.
 */
typedef cpa_err (*cpa_command_cb)(void *opaque, const cpa_command *cmd,
                                  char *msg, size_t msg_size);

/* Registers the handler for one command type (not CPA_CMD_GET_STATE).
 * A command with no handler is refused with CPA_ERR_UNSUPPORTED. */
cpa_err cpa_conf_set_command_cb(cpa_conf *conf, cpa_command_type type,
                                cpa_command_cb cb, void *opaque);

/* ----------------------------------------------------------------------------
 * Failure kinds: what the job's INJECT_FAILURE handler understands
 * ------------------------------------------------------------------------- */

typedef enum cpa_target {
    CPA_TARGET_JOB = 0,      /* the whole job: the command names no subtask */
    CPA_TARGET_SUBTASK = 1,  /* one subtask: an operator and a subtask are required */
} cpa_target;

#define CPA_FAILURE_MAX_KINDS  32
#define CPA_FAILURE_MAX_PARAMS 4

/* One integer parameter of a failure kind, given as KEY=VALUE. */
typedef struct cpa_param_desc {
    const char *name;      /* the KEY: 1..31 of [a-z0-9_-], e.g. "ms" */
    const char *unit;      /* what a bare number means: "ms", "s", "us", "count",
                              or "" / NULL; a value may repeat it ("500ms") */
    int64_t min, max, def; /* inclusive range; min <= def <= max */
    const char *help;      /* one line, may be NULL */
} cpa_param_desc;

/* One kind of failure the job can inject. */
typedef struct cpa_failure_desc {
    const char *kind;      /* 1..31 of [a-z0-9-], e.g. "stall" */
    const char *label;     /* one line for menus, e.g. "stall the next barrier at a subtask" */
    cpa_target target;
    int n_params;          /* 0..CPA_FAILURE_MAX_PARAMS */
    cpa_param_desc params[CPA_FAILURE_MAX_PARAMS];
} cpa_failure_desc;

/* ----------------------------------------------------------------------------
 * The agent
 * ------------------------------------------------------------------------- */

typedef struct cpa_agent cpa_agent;

/*
 * Creates an agent; takes ownership of conf (also on failure). Allocates the
 * queue and validates settings but opens no socket. On failure returns NULL
 * and, if errbuf is given, a message there. Blocking: no.
 */
cpa_agent *cpa_new(cpa_conf *conf, char *errbuf, size_t errbuf_size);

/* One operator of the job's dataflow, copied by cpa_set_topology(). */
typedef struct cpa_operator {
    const char *name;   /* e.g. "source", "parse"; at most CPA_NAME_MAX-1 bytes */
    int parallelism;    /* 1..CPA_MAX_PARALLELISM */
} cpa_operator;

/* A data edge between operators (indices into the operator array). */
typedef struct cpa_edge {
    int from, to;
    const char *kind;   /* "forward", "hash", "rebalance", …; copied */
} cpa_edge;

/*
 * Declares the job's dataflow. Call before cpa_start() (the hello message
 * and get_state carry it); calling again later republishes hello and resets
 * the per-subtask metrics. Not thread-safe against itself or lifecycle calls.
 */
cpa_err cpa_set_topology(cpa_agent *a, const cpa_operator *ops, int n_ops,
                         const cpa_edge *edges, int n_edges);

/*
 * Declares the job's configuration as key/value strings (shown by cptop).
 * Copies them and republishes hello. Thread-safe; takes a short lock.
 */
cpa_err cpa_set_job_config(cpa_agent *a, const char *const *keys,
                           const char *const *values, int n);

/*
 * Declares (replaces) the failure kinds the job's INJECT_FAILURE handler
 * understands. Copies everything; publishes the table in hello, so
 * dashboards build their menus from it. From then on the agent checks every
 * inject_failure command against the table before the handler sees it: an
 * unknown kind, a missing or out-of-range target, an unknown or repeated
 * parameter, or a value that is not a whole number (optionally followed by
 * the unit) within [min, max] is refused (CPA_ERR_BAD_COMMAND) with a message
 * naming the parameter and its range. The handler then gets every declared
 * parameter, absent ones at their default, in declared order, as plain
 * decimal within range. Call again to change a default (the table is
 * republished). n = 0 declares that the job offers no failures; without any
 * call, commands reach the handler unchecked (as before 0.2).
 * Errors: CPA_ERR_INVALID_ARG (a bad name, range or count; the message is
 * logged), CPA_ERR_NOMEM. Thread-safe; takes a short lock.
 */
cpa_err cpa_set_failure_kinds(cpa_agent *a, const cpa_failure_desc *kinds, int n);

/*
 * Binds the sockets (and the REST endpoint, with rest.listen), writes the
 * discovery file, starts the agent thread and publishes hello. Blocking:
 * briefly (bind). Errors: CPA_ERR_TRANSPORT, CPA_ERR_IO, CPA_ERR_INSECURE,
 * CPA_ERR_STATE.
 */
cpa_err cpa_start(cpa_agent *a);

/*
 * Queues one event. Never blocks, never allocates, thread-safe. Returns
 * CPA_OK, or CPA_ERR_QUEUE_FULL when the event was dropped (counted in
 * stats), or CPA_ERR_STATE after cpa_stop() (also counted as dropped), or
 * CPA_ERR_INVALID_ARG (not counted) for a NULL or untyped event, or one
 * whose identifiers the protocol cannot carry: cp_id < 1 (< 0 for
 * RESTORED), op outside 0..CPA_MAX_OPERATORS-1 or subtask outside
 * 0..CPA_MAX_PARALLELISM-1 where the type needs them (FAILURE_INJECTED also
 * takes -1/-1 for "the whole job"). Negative sizes and durations are sent
 * as 0, an out-of-range enum as a defined value (PROTOCOL.md).
 * Events queued before cpa_start() are sent once it runs.
 */
cpa_err cpa_emit(cpa_agent *a, const cpa_event *ev);

/*
 * Records one subtask's running counters for the next heartbeat. Never
 * blocks, never allocates, thread-safe (relaxed atomic stores).
 * queue_fill_permille: 0..1000 fill of the subtask's input queue;
 * backpressured: 1 if the subtask is waiting on its output.
 */
cpa_err cpa_subtask_metrics(cpa_agent *a, int op, int subtask,
                            int64_t records_in, int64_t records_out,
                            int queue_fill_permille, int backpressured);

/*
 * Flushes queued events, stops the agent thread, closes sockets and removes
 * the discovery file. After it, emits are dropped with CPA_ERR_STATE.
 * Blocking: up to about one flush interval plus socket linger.
 */
cpa_err cpa_stop(cpa_agent *a);

/* Stops if needed and frees everything. NULL is fine. */
void cpa_destroy(cpa_agent *a);

typedef struct cpa_stats {
    uint64_t emitted;           /* cpa_emit() calls with a valid event */
    uint64_t sent;              /* events published */
    uint64_t dropped;           /* events dropped (queue full or stopped) */
    uint64_t send_errors;       /* publish calls that failed (their events count as dropped) */
    uint64_t batches;           /* messages published */
    uint64_t commands_served;   /* commands answered ok */
    uint64_t commands_refused;  /* commands answered with an error */
} cpa_stats;

/* Current counters. Thread-safe. emitted = sent + dropped + queued. */
void cpa_get_stats(const cpa_agent *a, cpa_stats *out);

/* The job id in use (generated if not configured). Owned by the agent. */
const char *cpa_job_id(const cpa_agent *a);

/* The endpoint URLs dashboards connect to (valid after cpa_start()). */
const char *cpa_events_url(const cpa_agent *a);
const char *cpa_commands_url(const cpa_agent *a);

/* The TCP port the REST endpoint listens on (the one chosen when
 * rest.listen said port 0), or 0 when it is off or not started. Valid after
 * cpa_start(); thread-safe. */
int cpa_rest_port(const cpa_agent *a);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* CPAGENT_H */
