/* cpa_rest_int.h — internal to the REST endpoint's files: routing
 * (cpa_rest_route.c), the history and all-time summary (cpa_rest_hist.c),
 * trigger operations (cpa_rest_ops.c), the answers (cpa_rest_answer.c) and
 * the server around them (cpa_rest.c). Agent thread only. */
#ifndef CPA_REST_INT_H
#define CPA_REST_INT_H

#include "cpa_rest.h"
#include "cpw_flink.h"
#include "cpw_state.h"

/* Request bounds (agent/REST.md). */
#define CPA_REST_MAX_BODY    (64 * 1024)
#define CPA_REST_MAX_URL     2048
#define CPA_REST_MAX_HEADERS 64
#define CPA_REST_MAX_CONNS   64
#define CPA_REST_MAX_PER_IP  16
#define CPA_REST_TIMEOUT_S   10
#define CPA_REST_MSG_MAX     320     /* one error or failure message */

/* ---------------------------------------------------------------- routes */

typedef enum cpa_route {
    CPA_R_NONE = 0,
    CPA_R_CONFIG,          /* GET /config */
    CPA_R_JOBS,            /* GET /jobs */
    CPA_R_OVERVIEW,        /* GET /jobs/overview */
    CPA_R_JOB,             /* GET /jobs/:jid */
    CPA_R_CANCEL,          /* PATCH /jobs/:jid?mode=cancel */
    CPA_R_STATS,           /* GET /jobs/:jid/checkpoints */
    CPA_R_TRIGGER,         /* POST /jobs/:jid/checkpoints */
    CPA_R_CP_CONFIG,       /* GET /jobs/:jid/checkpoints/config */
    CPA_R_DETAILS,         /* GET /jobs/:jid/checkpoints/details/:cpid */
    CPA_R_SUBTASKS,        /* GET …/details/:cpid/subtasks/:vid */
    CPA_R_TRIGGER_STATUS,  /* GET /jobs/:jid/checkpoints/:triggerid */
    CPA_R__COUNT
} cpa_route;

typedef struct cpa_request {
    cpa_route route;
    char jid[CPW_FLINK_ID_HEX + 1];
    char vid[CPW_FLINK_ID_HEX + 1];
    char trigger[CPW_FLINK_ID_HEX + 1];
    int64_t cpid;
} cpa_request;

/* Matches a method and a decoded path (no query; an optional "/v1" prefix).
 * Returns 0 with *req filled, or the HTTP status to answer (400 for a
 * malformed parameter, 404 for no such path, 405 for a path that takes
 * other methods, listed in allow) with Flink's message in msg. HEAD is
 * treated as GET. Pure: no state, no allocation. */
int cpa_rest_route(const char *method, const char *path, cpa_request *req, char *msg,
                   size_t msgsz, char *allow, size_t allowsz);

/* The body of POST /jobs/:jid/checkpoints: empty, or an object with an
 * optional "triggerId" (32 hex or null) and "checkpointType" (CONFIGURED,
 * FULL, INCREMENTAL or null). */
typedef struct cpa_trigger_body {
    char trigger_id[CPW_FLINK_ID_HEX + 1];   /* "" when absent */
    char type[16];                            /* "CONFIGURED" when absent */
} cpa_trigger_body;

/* 0, or 400 with the reason in msg. At most CPA_REST_MAX_BODY bytes. */
int cpa_rest_parse_trigger_body(const char *body, size_t len, cpa_trigger_body *out, char *msg,
                                size_t msgsz);

/* ---------------------------------------------------------------- history */

/* One operator's share of one checkpoint. */
typedef struct cpa_task_agg {
    int64_t latest_ack_us;      /* 0: no ack yet */
    int64_t state_size, checkpointed_size, processed, persisted;
    int32_t acked, total;
} cpa_task_agg;

/* A finished checkpoint as the REST history keeps it. */
typedef struct cpa_hist_entry {
    cpw_cp cp;                  /* cp.subs is always NULL here */
    int64_t processed, persisted;
    bool unaligned;
    int n_tasks;                /* 0 when its detail was gone before we saw it */
    cpa_task_agg *tasks;
    char failure[CPA_REST_MSG_MAX]; /* Flink's failure_message */
    char *json;                 /* its history entry as written once, or NULL; owned */
    size_t json_len;
} cpa_hist_entry;

typedef struct cpa_rest_hist cpa_rest_hist;

/* Keeps the newest cap finished checkpoints and a summary over all of them. */
cpa_rest_hist *cpa_rest_hist_new(int cap);
void cpa_rest_hist_free(cpa_rest_hist *h);

/* Takes in what the state finished since the last call (oldest first) and
 * calls done(opaque, entry) for each (which may set its json). */
void cpa_rest_hist_sync(cpa_rest_hist *h, const cpw_state *s,
                        void (*done)(void *opaque, cpa_hist_entry *e), void *opaque);
int cpa_rest_hist_count(const cpa_rest_hist *h);
/* i = 0: the newest. NULL when out of range. */
const cpa_hist_entry *cpa_rest_hist_at(const cpa_rest_hist *h, int i);
/* The newest entry with this id, or NULL. */
const cpa_hist_entry *cpa_rest_hist_find(const cpa_rest_hist *h, int64_t id);
/* The latest completed / failed checkpoint, or NULL. */
const cpa_hist_entry *cpa_rest_hist_latest(const cpa_rest_hist *h, cpw_cp_status status);
/* The all-time summary into s's six summaries (Flink's StatsSummaryDto). */
void cpa_rest_hist_summary(cpa_rest_hist *h, cpw_flink_stats *s);

/* Per-operator aggregates of a checkpoint with detail (tasks: s->hello.n_ops
 * entries, may be NULL), and its totals. false when cp has no detail. */
bool cpa_rest_aggregate(const cpw_state *s, const cpw_cp *cp, cpa_task_agg *tasks,
                        int64_t *processed, int64_t *persisted, bool *unaligned);

/* Flink's percentile of n sorted values (commons-math's default
 * estimation); NaN when n is 0. */
double cpa_rest_percentile(const int64_t *sorted, int n, double p);

/* Flink's failure_message for a failed checkpoint. */
void cpa_rest_failure_message(const cpw_cp *cp, char *out, size_t size);

/* ---------------------------------------------------------------- trigger operations */

typedef struct cpa_rest_ops cpa_rest_ops;

typedef enum cpa_op_state {
    CPA_OP_WAITING = 0,   /* accepted, its checkpoint not started yet */
    CPA_OP_RUNNING,       /* bound to checkpoint cp_id */
    CPA_OP_DONE,
} cpa_op_state;

typedef struct cpa_op {
    char id[CPW_FLINK_ID_HEX + 1];
    cpa_op_state state;
    int64_t cp_id;
    bool failed;
    char cause[CPA_REST_MSG_MAX];
    int64_t created_us, done_us;       /* monotonic */
} cpa_op;

cpa_rest_ops *cpa_rest_ops_new(void);
void cpa_rest_ops_free(cpa_rest_ops *o);
/* The operation with this id, or NULL (done ones are forgotten after
 * CPA_OPS_KEEP_US). now_us is monotonic. */
#define CPA_OPS_KEEP_US (300 * 1000000LL)
#define CPA_OPS_MAX 256
cpa_op *cpa_rest_ops_find(cpa_rest_ops *o, const char *id, int64_t now_us);
/* A new operation (id must be new); NULL when CPA_OPS_MAX are still running. */
cpa_op *cpa_rest_ops_add(cpa_rest_ops *o, const char *id, int64_t now_us);
void cpa_rest_ops_finish(cpa_op *op, bool failed, const char *cause, int64_t now_us);
/* A trigger was accepted (op NULL: not a REST one); queued for binding. */
void cpa_rest_ops_accepted(cpa_rest_ops *o, const char *op_id);
/* A manual checkpoint started: the oldest acceptance is bound to it. */
void cpa_rest_ops_started(cpa_rest_ops *o, int64_t cp_id);
/* Checkpoint cp_id ended: operations bound to it are done. */
void cpa_rest_ops_ended(cpa_rest_ops *o, const cpa_hist_entry *e, int64_t now_us);
/* The job restarted (or a waiting operation aged past wait_us): waiting
 * operations fail with why. wait_us < 0: all of them. */
void cpa_rest_ops_expire(cpa_rest_ops *o, int64_t wait_us, const char *why, int64_t now_us);

/* ---------------------------------------------------------------- the endpoint */

struct cpa_rest {
    cpa_agent *a;
    struct MHD_Daemon *d;
    int epoll_fd;
    int port;
    bool loopback;              /* POST/PATCH without a token */
    char url[96];
    unsigned char secret[CPA_SECRET_MAX];
    size_t secret_len;
    cpa_rest_hist *hist;
    cpa_rest_ops *ops;
    char jid[CPW_FLINK_ID_HEX + 1]; /* the job's Flink id */
    int history;                /* web.checkpoints.history */
    /* one answer's scratch: the merged history's order (in flight or ring,
     * and which), per-operator figures, a completed checkpoint's path */
    struct cpa_rest_slot { bool inflight; int idx; } *order;
    int order_n;
    cpa_task_agg agg[CPW_MAX_OPERATORS];
    cpw_flink_task tasks[CPW_MAX_OPERATORS];
    char path[600];
    int64_t run_at_us;          /* monotonic: the server must run by then; 0: no need */
};

/* The job's configuration value for key (hello's config), or NULL. */
const char *cpa_rest_conf(const cpa_rest *r, const char *key);
/* The derived 32-hex id of operator op; false when op is not one. */
bool cpa_rest_vertex_id(const cpa_rest *r, int op, char *out);
/* The operator whose vertex id this is, or -1. */
int cpa_rest_vertex_of(const cpa_rest *r, const char *vid);
/* Flink's 404 for a job id that is not ours; 0 when it is ours. */
int cpa_rest_check_job(const cpa_rest *r, const cpa_request *req, cpw_buf *out);
/* How long an accepted trigger may wait for its checkpoint to start. */
int64_t cpa_rest_trigger_wait_us(const cpa_rest *r);

/* Answers of the checkpoint endpoints (cpa_rest_answer.c) and the job ones
 * (cpa_rest_job.c): each returns the HTTP status and writes the body. */
int cpa_rest_stats(cpa_rest *r, const cpa_request *req, cpw_buf *out);
int cpa_rest_details(cpa_rest *r, const cpa_request *req, cpw_buf *out);
int cpa_rest_subtasks(cpa_rest *r, const cpa_request *req, cpw_buf *out);
int cpa_rest_cp_config(cpa_rest *r, const cpa_request *req, cpw_buf *out);
/* Writes a finished checkpoint's history entry once, into e->json. */
void cpa_rest_render_entry(cpa_rest *r, cpa_hist_entry *e);

/* Answers one routed request (auth already checked): the HTTP status, and
 * the JSON body in out. body/len: the request body (POST). */
int cpa_rest_answer(cpa_rest *r, const cpa_request *req, const char *query_mode,
                    const char *body, size_t len, cpw_buf *out);

#endif
