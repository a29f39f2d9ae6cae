/*
 * cpw_flink.h — Apache Flink's REST API (the checkpoint part), as plain C
 * values: a writer that produces Flink's JSON (what libcpagent's REST
 * endpoint serves) and a reader that parses it back (what a dashboard that
 * watches a real Flink cluster uses). agent/REST.md says which endpoints
 * these are, what we emulate and what differs.
 *
 * Units and shapes are Flink's (≥ 1.19): times are epoch milliseconds,
 * durations milliseconds, sizes bytes; ids are 32 lowercase hex characters;
 * a percentile without samples is the string "NaN" on the wire and NaN here.
 *
 * The reader is tolerant of older Flink versions: "@class" for "className"
 * (before 1.15), a summary without percentiles (before 1.14) or without
 * checkpointed_size (before 1.15), an upper- or lowercase mode, Long.MAX as
 * the interval of a job without periodic checkpoints. It treats the input
 * as hostile: bounded size and counts, strings cut to their field on a
 * character boundary, every error named with its field (cpw_error).
 *
 * Ownership: values the writer takes are borrowed for the call. What a
 * reader fills is owned by the value and released with its _clear()
 * function (which also zeroes it; clearing a zeroed value is fine).
 * Thread-safety: reentrant; nothing here prints or keeps global state.
 */
#ifndef CPW_FLINK_H
#define CPW_FLINK_H

#include "cpw.h"

#define CPW_FLINK_ID_HEX      32
#define CPW_FLINK_MAX_BODY    (64u * 1024 * 1024) /* bytes a reader accepts */
#define CPW_FLINK_MAX_VERTICES 1024               /* tasks of one checkpoint, vertices of a job */
#define CPW_FLINK_MAX_SUBTASKS 65536              /* subtasks of one vertex */
#define CPW_FLINK_MAX_HISTORY 100000              /* history entries */
#define CPW_FLINK_MAX_JOBS    10000               /* jobs in /jobs/overview */
#define CPW_FLINK_MAX_EDGES   4096                /* plan inputs of a job */
#define CPW_FLINK_TEXT_MAX    1024                /* failure messages, paths, stack traces */

/* The version libcpagent's endpoint emulates, and how it says who it is. */
#define CPW_FLINK_EMULATED    "1.19.1"

/* ---------------------------------------------------------------------------
 * Ids
 * ------------------------------------------------------------------------ */

/* Derives a stable 32-hex id for `what` ("job", "vertex", "trigger") of job
 * `job`, index `index` (the operator; 0 for the job): the first 16 bytes of
 * SHA-256 over them. A job id that already is 32 lowercase hex is its own
 * Flink id. out holds CPW_FLINK_ID_HEX + 1 bytes. */
void cpw_flink_derive_id(char *out, const char *what, const char *job, int index);

/* Whether s is exactly 32 hex digits; when out is given, writes it there in
 * lowercase (CPW_FLINK_ID_HEX + 1 bytes). */
bool cpw_flink_parse_id(const char *s, char *out);

/* A Flink duration ("2s", "500 ms", "10 min", "1h", plain milliseconds) in
 * milliseconds; false when it is not one or overflows. */
bool cpw_flink_parse_duration_ms(const char *s, int64_t *out_ms);

/* ---------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------ */

/* One StatsSummaryDto: integer min/max/avg, double percentiles. */
typedef struct cpw_flink_stat {
    int64_t min, max, avg;
    bool has_pct;                       /* p50…p999 present (Flink ≥ 1.14) */
    double p50, p90, p95, p99, p999;    /* NaN: no samples */
} cpw_flink_stat;

/* An empty summary: zeros and NaN percentiles (what Flink sends before the
 * first sample). */
cpw_flink_stat cpw_flink_stat_empty(void);

typedef enum cpw_flink_status {
    CPW_FLINK_IN_PROGRESS = 0,
    CPW_FLINK_COMPLETED,
    CPW_FLINK_FAILED,
    CPW_FLINK_STATUS__COUNT
} cpw_flink_status;

/* "IN_PROGRESS", "COMPLETED", "FAILED" and the className of each
 * ("in_progress", "completed", "failed"); NULL when out of range. */
const char *cpw_flink_status_name(cpw_flink_status s);
const char *cpw_flink_class_name(cpw_flink_status s);

/* TaskCheckpointStatistics: one vertex's part of one checkpoint. */
typedef struct cpw_flink_task {
    char vertex[CPW_FLINK_ID_HEX + 1];  /* the key in "tasks" */
    int64_t id;                         /* the checkpoint */
    cpw_flink_status status;
    int64_t latest_ack_ts;              /* -1: none yet */
    bool has_checkpointed_size;         /* Flink ≥ 1.15 */
    int64_t checkpointed_size, state_size;
    int64_t e2e;                        /* end_to_end_duration; -1: no ack yet */
    int64_t alignment_buffered, processed, persisted;
    int32_t num_subtasks, num_acked;
} cpw_flink_task;

/* CheckpointStatistics: one checkpoint (history entry, latest, details). */
typedef struct cpw_flink_cp {
    cpw_flink_status cls;               /* className (or @class) */
    int64_t id;
    cpw_flink_status status;
    bool is_savepoint;
    char savepoint_format[16];          /* "" for null */
    int64_t trigger_ts, latest_ack_ts;  /* latest_ack_ts -1: none yet */
    bool has_checkpointed_size;
    int64_t checkpointed_size, state_size;
    int64_t e2e;                        /* end_to_end_duration */
    int64_t alignment_buffered, processed, persisted;
    int32_t num_subtasks, num_acked;
    char checkpoint_type[24];           /* CHECKPOINT, UNALIGNED_CHECKPOINT, … */
    int n_tasks;
    cpw_flink_task *tasks;              /* "tasks"; empty outside details */
    /* completed only */
    char *external_path;                /* NULL: null */
    bool discarded;
    /* failed only */
    int64_t failure_ts;
    char *failure_message;              /* NULL: null */
} cpw_flink_cp;

typedef struct cpw_flink_counts {
    int64_t restored, total, in_progress, completed, failed;
} cpw_flink_counts;

typedef struct cpw_flink_restored {
    int64_t id, restore_ts;
    bool is_savepoint;
    char *external_path;                /* NULL: null */
} cpw_flink_restored;

/* CheckpointingStatistics: GET /jobs/:jid/checkpoints. */
typedef struct cpw_flink_stats {
    cpw_flink_counts counts;
    bool has_checkpointed_size;         /* summary.checkpointed_size present */
    cpw_flink_stat checkpointed_size, state_size, e2e, alignment_buffered, processed,
        persisted;
    cpw_flink_cp *latest_completed, *latest_savepoint, *latest_failed; /* NULL: null */
    cpw_flink_restored *latest_restored;                                 /* NULL: null */
    int n_history;
    cpw_flink_cp *history;              /* newest first */
    /* Writer only: when set, entry i is produced on demand into *tmp and
     * `history` is unused, so a long history is written without a copy. */
    void (*history_at)(void *opaque, int i, cpw_flink_cp *tmp);
    /* Writer only, optional with history_at: entry i already written as
     * JSON (copied as is; *len its length), or NULL to have history_at
     * produce it. A checkpoint that ended never changes: written once. */
    const char *(*history_json)(void *opaque, int i, size_t *len);
    void *history_opaque;
} cpw_flink_stats;

/* One subtask of a vertex in one checkpoint (SubtaskCheckpointStatistics). */
typedef struct cpw_flink_subtask {
    int32_t index;
    bool completed;                     /* false: "pending_or_failed", nothing else */
    int64_t ack_ts, e2e;
    bool has_checkpointed_size;
    int64_t checkpointed_size, state_size;
    int64_t sync, async;                /* checkpoint.sync / .async */
    int64_t align_buffered, align_processed, align_persisted, align_duration;
    int64_t start_delay;
    bool unaligned, aborted;
} cpw_flink_subtask;

/* TaskCheckpointStatisticsWithSubtaskDetails:
 * GET /jobs/:jid/checkpoints/details/:cpid/subtasks/:vid. */
typedef struct cpw_flink_task_detail {
    cpw_flink_task task;                /* task.vertex is not on the wire */
    cpw_flink_stat checkpointed_size, state_size, e2e, sync, async, align_buffered,
        align_processed, align_persisted, align_duration, start_delay;
    bool has_checkpointed_size;         /* summary.checkpointed_size present */
    int n_subtasks;
    cpw_flink_subtask *subtasks;
} cpw_flink_task_detail;

/* CheckpointConfigInfo: GET /jobs/:jid/checkpoints/config. */
typedef struct cpw_flink_cp_config {
    char mode[24];                      /* "exactly_once" / "at_least_once" (lowercase) */
    int64_t interval;                   /* INT64_MAX: no periodic checkpoints */
    int64_t timeout, min_pause, max_concurrent;
    bool ext_enabled, ext_delete_on_cancellation;
    char state_backend[64], checkpoint_storage[64];
    bool unaligned;
    int64_t tolerable_failed, aligned_timeout;
    bool after_tasks_finish, changelog_enabled;
} cpw_flink_cp_config;

/* DashboardConfiguration: GET /config. */
typedef struct cpw_flink_dashboard {
    int64_t refresh_interval;
    char timezone_name[64];
    int64_t timezone_offset;            /* ms east of UTC */
    char flink_version[64], flink_revision[96];
    bool web_submit, web_cancel, web_history;
    int version_major, version_minor;   /* reader: parsed from flink_version, 0 if not */
} cpw_flink_dashboard;

/* Execution (task) states, in the order of the arrays below. */
#define CPW_FLINK_TASK_STATES 10
extern const char *const cpw_flink_task_state_names[CPW_FLINK_TASK_STATES];
/* Job states (JobStatus). */
#define CPW_FLINK_JOB_STATES 11
extern const char *const cpw_flink_job_state_names[CPW_FLINK_JOB_STATES];

/* A job as /jobs and /jobs/overview list it (JobDetails). */
typedef struct cpw_flink_job {
    char jid[CPW_FLINK_ID_HEX + 1];
    char name[256];
    char state[16];                     /* a cpw_flink_job_state_names entry */
    int64_t start_time, end_time, duration, last_modification; /* end_time -1: running */
    int32_t tasks_total;
    int32_t tasks[CPW_FLINK_TASK_STATES];
} cpw_flink_job;

typedef struct cpw_flink_jobs {
    int n;
    cpw_flink_job *jobs;
} cpw_flink_jobs;

/* One vertex of GET /jobs/:jid. */
typedef struct cpw_flink_vertex {
    char id[CPW_FLINK_ID_HEX + 1];
    char name[256];
    int32_t parallelism, max_parallelism;
    char status[16];
    int64_t start_time, end_time, duration;
    int32_t tasks[CPW_FLINK_TASK_STATES];
    int64_t read_bytes, write_bytes, read_records, write_records;
    int64_t backpressured_ms, idle_ms;
    double busy_ms;
} cpw_flink_vertex;

/* A plan input: vertex `to` reads from vertex `from` (indices). */
typedef struct cpw_flink_edge {
    int from, to;
    char ship_strategy[32];
} cpw_flink_edge;

/* JobDetailsInfo: GET /jobs/:jid (vertices, and the plan's edges). */
typedef struct cpw_flink_job_details {
    cpw_flink_job job;                  /* jid, name, state, times; tasks unused */
    bool is_stoppable;
    int64_t max_parallelism, now;
    int64_t timestamps[CPW_FLINK_JOB_STATES];
    int n_vertices;
    cpw_flink_vertex *vertices;
    int n_edges;
    cpw_flink_edge *edges;
} cpw_flink_job_details;

/* AsynchronousOperationResult of a triggered checkpoint:
 * GET /jobs/:jid/checkpoints/:triggerid. */
typedef struct cpw_flink_op {
    bool completed;                     /* status.id COMPLETED, else IN_PROGRESS */
    bool failed;                        /* completed with a failureCause */
    int64_t checkpoint_id;              /* completed && !failed, a checkpoint's */
    char *location;                     /* completed && !failed, a savepoint's: where it is
                                         * (NULL otherwise); owned by a reader's value */
    char *failure_class, *failure_stack; /* failed; owned by a reader's value */
} cpw_flink_op;

/* ---------------------------------------------------------------------------
 * Writer: each appends one JSON document (no newline) to b.
 * ------------------------------------------------------------------------ */
void cpw_flink_write_dashboard(cpw_buf *b, const cpw_flink_dashboard *d);
/* GET /jobs: {"jobs":[{"id","status"}]}. */
void cpw_flink_write_job_ids(cpw_buf *b, const cpw_flink_jobs *j);
/* GET /jobs/overview. */
void cpw_flink_write_overview(cpw_buf *b, const cpw_flink_jobs *j);
void cpw_flink_write_job_details(cpw_buf *b, const cpw_flink_job_details *d);
void cpw_flink_write_stats(cpw_buf *b, const cpw_flink_stats *s);
/* One checkpoint with its tasks (the details endpoint). */
void cpw_flink_write_cp(cpw_buf *b, const cpw_flink_cp *cp);
void cpw_flink_write_task_detail(cpw_buf *b, const cpw_flink_task_detail *d);
void cpw_flink_write_cp_config(cpw_buf *b, const cpw_flink_cp_config *c);
/* 202 body of a trigger: {"request-id":"…"}. */
void cpw_flink_write_trigger(cpw_buf *b, const char *request_id);
void cpw_flink_write_op(cpw_buf *b, const cpw_flink_op *op);
/* {"errors":["…"]}. */
void cpw_flink_write_error(cpw_buf *b, const char *message);

/* ---------------------------------------------------------------------------
 * Reader: each parses one whole response body into *out (zeroed first).
 * On error returns the code, fills err and leaves *out cleared.
 * ------------------------------------------------------------------------ */
cpw_err cpw_flink_read_dashboard(const char *buf, size_t len, cpw_flink_dashboard *out,
                                 cpw_error *err);
/* /jobs or /jobs/overview (either shape). */
cpw_err cpw_flink_read_jobs(const char *buf, size_t len, cpw_flink_jobs *out, cpw_error *err);
cpw_err cpw_flink_read_job_details(const char *buf, size_t len, cpw_flink_job_details *out,
                                   cpw_error *err);
cpw_err cpw_flink_read_stats(const char *buf, size_t len, cpw_flink_stats *out,
                             cpw_error *err);
cpw_err cpw_flink_read_cp(const char *buf, size_t len, cpw_flink_cp *out, cpw_error *err);
cpw_err cpw_flink_read_task_detail(const char *buf, size_t len, cpw_flink_task_detail *out,
                                   cpw_error *err);
cpw_err cpw_flink_read_cp_config(const char *buf, size_t len, cpw_flink_cp_config *out,
                                 cpw_error *err);
/* {"request-id":"…"}: the id, lowercase, into out (CPW_FLINK_ID_HEX + 1). */
cpw_err cpw_flink_read_trigger(const char *buf, size_t len, char *out, cpw_error *err);
cpw_err cpw_flink_read_op(const char *buf, size_t len, cpw_flink_op *out, cpw_error *err);
/* {"errors":[…]}: the first message (cut to size) into out. */
cpw_err cpw_flink_read_error(const char *buf, size_t len, char *out, size_t size,
                             cpw_error *err);

void cpw_flink_jobs_clear(cpw_flink_jobs *j);
void cpw_flink_job_details_clear(cpw_flink_job_details *d);
void cpw_flink_stats_clear(cpw_flink_stats *s);
void cpw_flink_cp_clear(cpw_flink_cp *cp);
void cpw_flink_task_detail_clear(cpw_flink_task_detail *d);
void cpw_flink_op_clear(cpw_flink_op *op);

#endif /* CPW_FLINK_H */
