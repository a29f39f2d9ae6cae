/*
 * cpw_state.h — a job's checkpoint state, folded from its event stream.
 *
 * The agent keeps one to answer get_state; a dashboard keeps one as its
 * model. Applying the same events in the same order gives the same state, so
 * a subscriber that connects late gets, from get_state, exactly what it
 * would have built from the events it missed. Tolerant of missing events
 * (a dropped cp_triggered, an ack for an unknown checkpoint): it never
 * trusts indices from the wire and never grows beyond its bounds.
 *
 * Not thread-safe: one owner at a time.
 */
#ifndef CPW_STATE_H
#define CPW_STATE_H

#include "cpw.h"

/* What a subtask is doing for one checkpoint. */
typedef enum cpw_phase {
    CPW_PH_PENDING = 0,  /* waiting for the barrier */
    CPW_PH_ALIGNING,     /* some barriers in, waiting for the rest */
    CPW_PH_SYNC,         /* synchronous snapshot part */
    CPW_PH_ASYNC,        /* asynchronous part (upload) */
    CPW_PH_ACKED,
    CPW_PH_DECLINED,
    CPW_PH__COUNT
} cpw_phase;

const char *cpw_phase_name(cpw_phase p);
int cpw_phase_from_name(const char *s, size_t n);

/* One subtask's part in one checkpoint. Timestamps are wall-clock µs (0: not yet). */
typedef struct cpw_sub {
    uint8_t phase;
    uint8_t unaligned;          /* it went unaligned (switched_to_unaligned, or its ack says so) */
    uint16_t barriers;          /* barrier_received events seen */
    int64_t barrier_ts;         /* first barrier (or injection, at sources) */
    int64_t align_start_ts, align_end_ts;
    int64_t snap_start_ts, sync_done_ts, async_done_ts, ack_ts;
    int64_t switch_ts;          /* switched_to_unaligned */
    int64_t buffered_bytes;
    int64_t state_size, checkpointed_size, processed_data, persisted_data;
    int64_t start_delay_us, alignment_us, sync_us, async_us;
    char reason[CPW_TEXT_MAX];  /* decline reason */
} cpw_sub;

typedef enum cpw_cp_status {
    CPW_CP_IN_PROGRESS = 0,
    CPW_CP_COMPLETED,
    CPW_CP_FAILED,
} cpw_cp_status;

const char *cpw_cp_status_name(cpw_cp_status s);

/* What a checkpoint turned out to be: aligned throughout, unaligned from its
 * trigger, or aligned at its trigger with at least one subtask gone
 * unaligned (the aligned-checkpoint-timeout). */
typedef enum cpw_cp_type {
    CPW_CPT_ALIGNED = 0,
    CPW_CPT_UNALIGNED,
    CPW_CPT_SWITCHED,
    CPW_CPT__COUNT
} cpw_cp_type;

const char *cpw_cp_type_name(cpw_cp_type t);
int cpw_cp_type_from_name(const char *s, size_t n);

/* One checkpoint. */
typedef struct cpw_cp {
    int64_t id;
    uint8_t status;             /* cpw_cp_status */
    uint8_t kind;               /* cpw_trigger_kind */
    uint8_t committed;          /* sink committed it */
    int8_t reason;              /* cpw_failure_reason when failed, else -1 */
    uint8_t alignment;          /* cpw_alignment at its trigger */
    uint8_t type;               /* cpw_cp_type */
    int64_t trigger_ts, end_ts; /* end: completed or failed */
    int64_t latest_ack_ts;
    int64_t duration_us;        /* end_to_end_duration */
    int64_t state_size, checkpointed_size;
    int64_t alignment_us;       /* longest alignment of any acknowledged subtask */
    int64_t persisted_data;     /* in-flight bytes persisted: the sum of the acks */
    int32_t acks, declines, total;
    char message[CPW_TEXT_MAX];
    cpw_sub *subs;              /* total entries, or NULL (no detail kept) */
} cpw_cp;

typedef struct cpw_counts {
    int64_t total, in_progress, completed, failed, restored;
} cpw_counts;

typedef struct cpw_state {
    char job[CPW_MAX_JOB_ID];
    cpw_hello hello;            /* topology and config; n_ops 0 until known */
    int op_base[CPW_MAX_OPERATORS + 1]; /* first global subtask index per operator */
    int n_subtasks;
    uint64_t seq;               /* seq of the last message applied */
    int status;                 /* cpw_job_status */
    char status_message[CPW_TEXT_MAX];
    int64_t restored_from;      /* checkpoint id, 0 none, -1 never restored */
    int32_t restore_attempt;
    int64_t last_restore_ts;
    cpw_counts counts;
    int32_t consecutive_failures;
    int64_t latest_completed_id, latest_completed_ts;
    int64_t last_trigger_ts;
    int n_inflight;
    cpw_cp inflight[CPW_MAX_INFLIGHT];  /* oldest first */
    int history_cap;            /* finished checkpoints kept */
    int detail_cap;             /* newest finished ones that keep per-subtask detail */
    int n_history;
    int history_head;           /* ring: index of the newest entry */
    cpw_cp *history;            /* history_cap entries */
    int64_t history_max_id;     /* highest id ever put in the history (a bound, not exact) */
    int64_t ignored;            /* events that named nothing we know */
    uint64_t agent_emitted, agent_sent, agent_dropped;
} cpw_state;

/* Allocates a state keeping history_cap finished checkpoints, the newest
 * detail_cap of them with per-subtask detail. NULL when out of memory. */
cpw_state *cpw_state_new(int history_cap, int detail_cap);
void cpw_state_free(cpw_state *s);

/* Installs (copies) a topology; resets per-subtask detail of checkpoints in
 * flight when the shape changes. */
void cpw_state_set_hello(cpw_state *s, const cpw_hello *h);

/* Recomputes op_base and n_subtasks from s->hello (for code that fills the
 * hello in place, such as the decoder). */
void cpw_state_reindex(cpw_state *s);

/* Folds one event. Events for unknown operators/subtasks are counted in
 * `ignored`. */
void cpw_state_apply(cpw_state *s, const cpw_event *ev, uint64_t seq);

/* History access: i = 0 is the newest finished checkpoint. */
const cpw_cp *cpw_state_history(const cpw_state *s, int i);
/* The in-flight checkpoint with this id, or NULL. */
const cpw_cp *cpw_state_find_inflight(const cpw_state *s, int64_t id);
/* Global subtask index of op/subtask, or -1. */
int cpw_state_sub_index(const cpw_state *s, int op, int subtask);

/* A new state holding fresh's content (a get_state result) with the given
 * caps, whose history also keeps the entries of old (may be NULL) that
 * started and ended before anything fresh knows: a dashboard's longer memory
 * survives a resync or a restart of the job. fresh's in-flight detail is
 * moved; free fresh afterwards. NULL when out of memory. */
cpw_state *cpw_state_rebase(cpw_state *fresh, const cpw_state *old, int history_cap,
                            int detail_cap);

/* Appends the state as a JSON object (the get_state "result"), with at most
 * `history` history entries (newest first; -1: all kept). */
void cpw_state_encode(cpw_buf *b, const cpw_state *s, int history);

/* Decodes a state object from jansson's json_t (opaque here to keep jansson
 * out of this header). Returns NULL and fills err on error. */
cpw_state *cpw_state_decode_json(const void *json_obj, cpw_error *err);

#endif /* CPW_STATE_H */
