/* cpa_internal.h — internal to libcpagent: the agent's state, the queue,
 * configuration, the conversion to the wire and the security helpers shared
 * by the agent's files. Not installed. */
#ifndef CPA_INTERNAL_H
#define CPA_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "cpagent.h"
#include "cpw.h"
#include "cpw_sock.h"
#include "cpw_state.h"

/* ---------------------------------------------------------------- queue
 * Bounded multi-producer queue of cpa_event (Vyukov's array queue): a
 * producer claims a slot with one CAS and publishes it with a release store
 * of the slot's sequence; the single consumer (the agent thread) reads in
 * order. Never blocks, never allocates after creation. */
typedef struct cpa_cell {
    _Atomic size_t seq;
    cpa_event ev;
} cpa_cell;

typedef struct cpa_queue {
    cpa_cell *cells;
    size_t mask;
    _Alignas(64) _Atomic size_t enq;
    _Alignas(64) _Atomic size_t deq;   /* written by the consumer only */
} cpa_queue;

bool cpa_queue_init(cpa_queue *q, size_t size_pow2);
void cpa_queue_free(cpa_queue *q);
/* Copies *ev into the next slot, with its ts_us replaced by ts_us when that
 * is non-zero (one copy on the hot path). false when full. */
bool cpa_queue_push(cpa_queue *q, const cpa_event *ev, int64_t ts_us);
/* Consumer only: copies the next event out; false when empty (or the next
 * slot is still being written). */
bool cpa_queue_pop(cpa_queue *q, cpa_event *out);
size_t cpa_queue_depth(const cpa_queue *q);

/* ---------------------------------------------------------------- conf */
struct cpa_conf {
    char job_name[CPA_NAME_MAX];
    char job_id[CPW_MAX_JOB_ID];
    char listen[128];           /* "ipc" or "tcp://host:port" */
    char runtime_dir[200];
    char secret_file[256];
    size_t queue_size;
    int batch_max;
    int flush_us;
    int heartbeat_ms;
    int idle_ms;
    int history_size;
    int detail_size;
    char rest_listen[128];      /* "" or "off": no REST endpoint */
    int rest_history;           /* web.checkpoints.history */
    cpa_log_cb log_cb;
    void *log_opaque;
    cpa_command_cb handlers[CPA_CMD__COUNT];
    void *handler_opaque[CPA_CMD__COUNT];
};

/* ---------------------------------------------------------------- security */

/* Loads the shared secret, creating a 0600 file with 32 random bytes (hex)
 * when absent. Refuses a file open to group/others or not ours. */
cpa_err cpa_load_secret(const char *path, unsigned char *out, size_t *out_len,
                        size_t max, char *errbuf, size_t errbuf_size);

/* Remembers command nonces inside the replay window. */
#define CPA_REPLAY_WINDOW_US (30 * 1000000LL)
#define CPA_NONCE_SLOTS 4096
typedef struct cpa_replay {
    char nonce[CPA_NONCE_SLOTS][CPW_NONCE_HEX + 1];
    int64_t ts[CPA_NONCE_SLOTS];
    int head, n;
} cpa_replay;

/* Checks ts against the window around now and the nonce against those seen;
 * records it when accepted. Returns NULL when accepted, else why not. */
const char *cpa_replay_check(cpa_replay *r, const char *nonce, int64_t ts_us, int64_t now_us);

/* ---------------------------------------------------------------- agent */
#define CPA_SECRET_MAX 1024

/* One subtask's counters, written by the job (relaxed atomics), read by
 * the agent thread for heartbeats. */
typedef struct cpa_metric {
    _Atomic int64_t in, out;
    _Atomic int32_t fill, bp;
    _Atomic int32_t set;
} cpa_metric;

struct cpa_agent {
    cpa_conf conf;
    cpa_queue q;
    _Atomic int running;        /* agent thread alive */
    _Atomic int stopping;
    _Atomic int stopped;        /* emits refused */
    _Atomic uint64_t dropped;   /* refused at emit (queue full or stopped) */
    _Atomic uint64_t lost;      /* queued, then lost (send error, stop) */
    _Atomic uint64_t sent;
    _Atomic uint64_t send_errors, batches, served, refused;
    pthread_t thread;
    bool started;

    cpw_sock *pub, *rep;        /* events, commands; NULL when closed */
    struct cpa_rest *rest;      /* the Flink REST endpoint, or NULL (cpa_rest.h) */
    bool tcp;
    char events_url[300], commands_url[300];
    char discovery_path[300];
    char instance[CPW_INSTANCE_HEX + 1];   /* random at cpa_start() */
    unsigned char secret[CPA_SECRET_MAX];
    size_t secret_len;
    cpa_replay *replay;

    /* topology + config: written by the job under lock, read by the thread */
    pthread_mutex_t lock;
    cpw_hello *pending_hello;   /* guarded by lock */
    _Atomic int hello_dirty;
    cpa_metric *metrics;        /* CPA_MAX_SUBTASKS entries */
    /* where each operator's subtasks start in `metrics`; atomics because
     * cpa_subtask_metrics() may run while cpa_set_topology() changes them
     * (a metric may then land in a stale slot once; nothing worse) */
    _Atomic int op_base[CPA_MAX_OPERATORS + 1];
    _Atomic int n_ops;

    /* agent thread only */
    cpw_state *state;
    uint64_t seq;
    cpw_buf batch;
    int batch_n;
    int64_t batch_first_us;
    cpw_buf out;
};


/* The wire token of an error, for replies (cpa_err.c). */
const char *cpa_err_token(cpa_err err);
/* Reports through the job's log callback (nothing when none is set). */
void cpa_log(const cpa_agent *a, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Formats into an optional error buffer. */
void cpa_seterr(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------- wire edge
 * (cpa_wire.c) The job's ABI types to and from the protocol's. */
void cpa_event_to_wire(const cpa_event *in, cpw_event *out);
/* Makes an event safe to fold and send: negative sizes and durations 0,
 * out-of-range enums a defined value. */
void cpa_normalize(cpw_event *e);
void cpa_command_from_wire(const cpw_cmd *in, cpa_command *out);

/* ---------------------------------------------------------------- commands
 * (cpa_agent.c) Runs one command that acts (not get_state) through the
 * job's handler: unsupported without one, inject_failure checked against
 * the failure table first. msg gets the outcome. An accepted trigger is
 * recorded for the REST endpoint (rest_op: the REST operation it serves,
 * NULL for a dashboard's). Agent thread only. */
cpa_err cpa_dispatch(cpa_agent *a, cpw_cmd *c, const char *rest_op, char *msg, size_t size);

/* ---------------------------------------------------------------- failures
 * (cpa_failures.c) Checks an inject_failure command against the table the
 * job declared (in the agent thread's hello); false with msg when refused. */
bool cpa_failure_check(cpa_agent *a, cpw_cmd *cmd, char *msg, size_t size);

#endif
